//! gRPC client: a remote store (any Thanos or Aeon Store API endpoint) as a
//! [`StoreApi`], and as a [`crate::MetadataApi`], [`crate::ExemplarsApi`]
//! and [`crate::TargetsApi`] (`client/scrape.rs`).
//!
//! Transport settings follow Thanos' querier (`pkg/extgrpc`): receive limit
//! raised to `i32::MAX`, HTTP/2 keepalive pings every 10 s with a 5 s
//! timeout. Per-call deadlines are sent as `grpc-timeout` and also enforced
//! locally on the whole Series stream; dropping a Series stream resets the
//! HTTP/2 stream, which cancels the call on the server.

use std::time::Duration;

use futures::StreamExt;
use tonic::Request;
use tonic::transport::{Channel, Endpoint};

use crate::api::{SeriesFrame, SeriesStream, StoreApi};
use crate::client_tls::TlsConnector;
use crate::legacy::info_from_legacy;
use crate::metrics::GrpcClientMetrics;
use crate::metrics::layer::{Metered, MeteredLayer};
use crate::pb::thanos::{
    self, exemplars_client, info, info::info_client, metadata_client, store_client, targets_client,
};
use crate::server::{MAX_MESSAGE_SIZE, with_deadline};
use crate::{Error, Result};
pub use aeon_common::tls::ClientTls;

mod scrape;

/// Client transport options.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Timeout for establishing the TCP/HTTP2 connection.
    pub connect_timeout: Duration,
    /// HTTP/2 keepalive ping interval (Thanos: 10 s).
    pub keepalive_interval: Duration,
    /// Keepalive ack timeout (Thanos: 5 s).
    pub keepalive_timeout: Duration,
    /// Default deadline of every call (None = no deadline). For Series it
    /// covers the whole stream.
    pub timeout: Option<Duration>,
    /// Connect with TLS (None = plaintext, Thanos' default): a config from
    /// `aeon_common::tls` (`--grpc-client-tls-*` or an endpoint group's
    /// `tls_config`) and the name to verify the server as.
    pub tls: Option<ClientTls>,
    /// Record Thanos's `grpc_client_*` metrics of every call (None = off).
    pub metrics: Option<GrpcClientMetrics>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            keepalive_interval: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(5),
            timeout: None,
            tls: None,
            metrics: None,
        }
    }
}

/// A remote Store API endpoint. Cheap to clone (shares the HTTP/2 channel).
#[derive(Debug, Clone)]
pub struct StoreClient {
    endpoint: String,
    store: store_client::StoreClient<Metered<Channel>>,
    info: info_client::InfoClient<Metered<Channel>>,
    metadata: metadata_client::MetadataClient<Metered<Channel>>,
    exemplars: exemplars_client::ExemplarsClient<Metered<Channel>>,
    targets: targets_client::TargetsClient<Metered<Channel>>,
    timeout: Option<Duration>,
}

/// `host:port` (or a full URI) as the URI tonic dials. A TLS endpoint
/// stays `http://`: the handshake is [`TlsConnector`]'s, and tonic's own
/// TLS only takes PEM without skip-verify, versions or reloads.
fn endpoint_uri(endpoint: &str) -> String {
    if let Some(rest) = endpoint.strip_prefix("https://") {
        format!("http://{rest}")
    } else if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("http://{endpoint}")
    }
}

impl StoreClient {
    fn build(endpoint: &str, opts: &ClientOptions) -> Result<Endpoint> {
        let ep = Endpoint::from_shared(endpoint_uri(endpoint))
            .map_err(|e| Error::invalid(format!("store endpoint {endpoint:?}: {e}")))?;
        Ok(ep
            .connect_timeout(opts.connect_timeout)
            .http2_keep_alive_interval(opts.keepalive_interval)
            .keep_alive_timeout(opts.keepalive_timeout)
            .keep_alive_while_idle(true)
            .http2_adaptive_window(true)
            .tcp_nodelay(true))
    }

    fn from_channel(endpoint: &str, channel: Channel, opts: &ClientOptions) -> Self {
        let channel = tower_layer::Layer::layer(
            &MeteredLayer::client(opts.metrics.as_ref().map(|m| m.families.clone())),
            channel,
        );
        Self {
            endpoint: endpoint.to_owned(),
            store: store_client::StoreClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            info: info_client::InfoClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            metadata: metadata_client::MetadataClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            exemplars: exemplars_client::ExemplarsClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            targets: targets_client::TargetsClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            timeout: opts.timeout,
        }
    }

    /// Connects now to `endpoint` (`host:port` as Thanos' `--endpoint`, or a
    /// full `http://` URI); fails with `Unavailable` if it cannot.
    pub async fn connect(endpoint: &str, opts: ClientOptions) -> Result<Self> {
        let ep = Self::build(endpoint, &opts)?;
        let channel = match &opts.tls {
            Some(tls) => ep.connect_with_connector(TlsConnector::new(tls)).await,
            None => ep.connect().await,
        }
        .map_err(|e| Error::Unavailable {
            endpoint: endpoint.to_owned(),
            source: Box::new(e),
        })?;
        Ok(Self::from_channel(endpoint, channel, &opts))
    }

    /// A client that connects on first use (and reconnects as needed).
    pub fn connect_lazy(endpoint: &str, opts: ClientOptions) -> Result<Self> {
        let ep = Self::build(endpoint, &opts)?;
        let channel = match &opts.tls {
            Some(tls) => ep.connect_with_connector_lazy(TlsConnector::new(tls)),
            None => ep.connect_lazy(),
        };
        Ok(Self::from_channel(endpoint, channel, &opts))
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A copy with a different default per-call deadline.
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    fn request<T>(&self, msg: T, timeout: Option<Duration>) -> Request<T> {
        let mut r = Request::new(msg);
        if let Some(t) = timeout {
            r.set_timeout(t);
        }
        r
    }

    fn rpc_err(&self, method: &'static str, status: tonic::Status) -> Error {
        Error::Rpc {
            endpoint: self.endpoint.clone(),
            method,
            status,
        }
    }

    /// Series with an explicit deadline for the whole stream (overrides the default).
    pub async fn series_with_timeout(
        &self,
        req: thanos::SeriesRequest,
        timeout: Option<Duration>,
    ) -> Result<SeriesStream> {
        let started = tokio::time::Instant::now();
        let resp = self
            .store
            .clone()
            .series(self.request(req, timeout))
            .await
            .map_err(|s| self.rpc_err("Series", s))?;
        let endpoint = self.endpoint.clone();
        let stream = resp
            .into_inner()
            .flat_map(move |item| {
                let out: Vec<Result<thanos::SeriesResponse>> = match item {
                    Ok(thanos::SeriesResponse {
                        result: Some(SeriesFrame::Batch(b)),
                    }) => b
                        .series
                        .into_iter()
                        .map(|s| Ok(thanos::SeriesResponse::series(s)))
                        .collect(),
                    Ok(r) => vec![Ok(r)],
                    Err(status) => vec![Err(Error::Rpc {
                        endpoint: endpoint.clone(),
                        method: "Series",
                        status,
                    })],
                };
                futures::stream::iter(out)
            })
            .boxed();
        Ok(match timeout {
            Some(t) => with_deadline(stream, t.saturating_sub(started.elapsed())),
            None => stream,
        })
    }

    /// Calls the deprecated `thanos.Store/Info` (pre-v0.37 endpoints).
    pub async fn legacy_info(&self) -> Result<thanos::InfoResponse> {
        let r = self
            .store
            .clone()
            .info(self.request(thanos::InfoRequest {}, self.timeout))
            .await;
        r.map(|r| r.into_inner())
            .map_err(|s| self.rpc_err("Store.Info", s))
    }
}

#[async_trait::async_trait]
impl StoreApi for StoreClient {
    /// The Info API; for an endpoint without the `thanos.info.Info` service
    /// (`Unimplemented`: Thanos before v0.37), the answer of the deprecated
    /// `thanos.Store/Info` in the Info API's shape.
    async fn info(&self) -> Result<info::InfoResponse> {
        let r = self
            .info
            .clone()
            .info(self.request(info::InfoRequest {}, self.timeout))
            .await;
        match r {
            Ok(r) => Ok(r.into_inner()),
            Err(s) if s.code() == tonic::Code::Unimplemented => {
                self.legacy_info().await.map(info_from_legacy)
            }
            Err(s) => Err(self.rpc_err("Info", s)),
        }
    }

    async fn series(&self, req: thanos::SeriesRequest) -> Result<SeriesStream> {
        self.series_with_timeout(req, self.timeout).await
    }

    async fn label_names(
        &self,
        req: thanos::LabelNamesRequest,
    ) -> Result<thanos::LabelNamesResponse> {
        let r = self
            .store
            .clone()
            .label_names(self.request(req, self.timeout))
            .await;
        r.map(|r| r.into_inner())
            .map_err(|s| self.rpc_err("LabelNames", s))
    }

    async fn label_values(
        &self,
        req: thanos::LabelValuesRequest,
    ) -> Result<thanos::LabelValuesResponse> {
        let r = self
            .store
            .clone()
            .label_values(self.request(req, self.timeout))
            .await;
        r.map(|r| r.into_inner())
            .map_err(|s| self.rpc_err("LabelValues", s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_forms() {
        assert_eq!(endpoint_uri("127.0.0.1:10901"), "http://127.0.0.1:10901");
        // TLS is the connector's, so tonic always dials http://.
        assert_eq!(endpoint_uri("https://x:1"), "http://x:1");
        assert_eq!(endpoint_uri("http://x:1"), "http://x:1");
    }

    #[tokio::test]
    async fn connect_refused_is_unavailable() {
        // Bind then drop a listener to get a port nobody listens on.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let err = StoreClient::connect(&addr.to_string(), ClientOptions::default())
            .await
            .unwrap_err();
        assert_eq!(tonic::Status::from(err).code(), tonic::Code::Unavailable);
    }
}
