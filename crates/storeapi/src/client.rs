//! gRPC client: a remote store (any Thanos or Aeon Store API endpoint) as a
//! [`StoreApi`].
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
use crate::legacy::info_from_legacy;
use crate::metrics::GrpcClientMetrics;
use crate::metrics::layer::{Metered, MeteredLayer};
use crate::pb::thanos::{self, info, info::info_client, store_client};
use crate::server::{MAX_MESSAGE_SIZE, with_deadline};
use crate::{Error, Result};

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
    /// Connect with TLS (None = plaintext, Thanos' default).
    pub tls: Option<ClientTls>,
    /// Record Thanos's `grpc_client_*` metrics of every call (None = off).
    pub metrics: Option<GrpcClientMetrics>,
}

/// Client TLS settings, PEM-encoded (Thanos `--grpc-client-tls-secure`,
/// `--grpc-client-tls-ca`, `--grpc-client-tls-cert`, `--grpc-client-tls-key`,
/// `--grpc-client-server-name`).
#[derive(Clone, Default)]
pub struct ClientTls {
    /// CA to verify the server with; None = the system's native roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate and key for mTLS.
    pub cert_pem: Option<Vec<u8>>,
    pub key_pem: Option<Vec<u8>>,
    /// Server name to verify instead of the endpoint's host.
    pub server_name: Option<String>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("custom_ca", &self.ca_pem.is_some())
            .field("mtls", &self.cert_pem.is_some())
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
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
    timeout: Option<Duration>,
}

fn endpoint_uri(endpoint: &str, tls: bool) -> String {
    if endpoint.contains("://") {
        endpoint.to_owned()
    } else if tls {
        format!("https://{endpoint}")
    } else {
        format!("http://{endpoint}")
    }
}

impl StoreClient {
    fn build(endpoint: &str, opts: &ClientOptions) -> Result<Endpoint> {
        let mut ep = Endpoint::from_shared(endpoint_uri(endpoint, opts.tls.is_some()))
            .map_err(|e| Error::invalid(format!("store endpoint {endpoint:?}: {e}")))?;
        if let Some(tls) = &opts.tls {
            let mut cfg = tonic::transport::ClientTlsConfig::new();
            cfg = match &tls.ca_pem {
                Some(ca) => cfg.ca_certificate(tonic::transport::Certificate::from_pem(ca)),
                None => cfg.with_native_roots(),
            };
            if let (Some(cert), Some(key)) = (&tls.cert_pem, &tls.key_pem) {
                cfg = cfg.identity(tonic::transport::Identity::from_pem(cert, key));
            }
            if let Some(name) = &tls.server_name {
                cfg = cfg.domain_name(name.clone());
            }
            ep = ep
                .tls_config(cfg)
                .map_err(|e| Error::invalid(format!("client TLS config for {endpoint}: {e}")))?;
        }
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
            info: info_client::InfoClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            timeout: opts.timeout,
        }
    }

    /// Connects now to `endpoint` (`host:port` as Thanos' `--endpoint`, or a
    /// full `http://` URI); fails with `Unavailable` if it cannot.
    pub async fn connect(endpoint: &str, opts: ClientOptions) -> Result<Self> {
        let channel =
            Self::build(endpoint, &opts)?
                .connect()
                .await
                .map_err(|e| Error::Unavailable {
                    endpoint: endpoint.to_owned(),
                    source: Box::new(e),
                })?;
        Ok(Self::from_channel(endpoint, channel, &opts))
    }

    /// A client that connects on first use (and reconnects as needed).
    pub fn connect_lazy(endpoint: &str, opts: ClientOptions) -> Result<Self> {
        let channel = Self::build(endpoint, &opts)?.connect_lazy();
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
        assert_eq!(
            endpoint_uri("127.0.0.1:10901", false),
            "http://127.0.0.1:10901"
        );
        assert_eq!(
            endpoint_uri("127.0.0.1:10901", true),
            "https://127.0.0.1:10901"
        );
        assert_eq!(endpoint_uri("http://x:1", true), "http://x:1");
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
