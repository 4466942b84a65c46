//! gRPC server adapter: serves any `Arc<dyn StoreApi>` as `thanos.Store`,
//! `thanos.info.Info` and `grpc.health.v1.Health`, plus `thanos.Metadata`,
//! `thanos.Exemplars` and `thanos.Targets` when given implementations
//! ([`scrape`]).
//!
//! Transport settings follow Thanos' server (`pkg/server/grpc`): message
//! limits raised to `i32::MAX` both ways, and HTTP/2 keepalive pings from
//! clients every 10 s are tolerated. About the latter: grpc-go servers enforce
//! a minimum client ping interval (default 5 min, GOAWAY `too_many_pings`)
//! and Thanos lowers it to 10 s. Tonic's server runs on hyper/h2, and h2 has
//! no ping enforcement policy at all: every PING frame is acknowledged, at
//! any rate (h2 0.4 `proto/ping_pong.rs`; only stream-reset floods and
//! CONTINUATION floods are policed with ENHANCE_YOUR_CALM). So no setting is
//! needed for 10 s client pings; the integration tests check a client pinging
//! every 100 ms keeps working.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

use crate::api::{SeriesFrame, StoreApi};
use crate::metrics::GrpcMetrics;
use crate::metrics::layer::MeteredLayer;
use crate::pb::thanos::{self, info, info::info_server, store_server};
use crate::scrape::{ExemplarsApi, MetadataApi, TargetsApi};
use crate::snappy::SnappyDecompress;
use crate::{Error, Result};

mod scrape;

/// Thanos' message size limit (Go `math.MaxInt32`).
pub const MAX_MESSAGE_SIZE: usize = i32::MAX as usize;

/// Server transport options.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Server-initiated HTTP/2 keepalive pings (None = off).
    pub keepalive_interval: Option<Duration>,
    /// How long to wait for a keepalive ack before closing the connection.
    pub keepalive_timeout: Duration,
    /// Close connections after this age (Thanos `--grpc-server-max-connection-age`, 60m).
    pub max_connection_age: Option<Duration>,
    /// Max concurrent HTTP/2 streams per connection (None = h2 default).
    pub max_concurrent_streams: Option<u32>,
    /// Serve TLS instead of plaintext (None = plaintext, Thanos' default):
    /// a config from `aeon_common::tls` (`--grpc-server-tls-*`, certificate
    /// reloaded when its files change; ALPN `h2`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            keepalive_interval: Some(Duration::from_secs(30)),
            keepalive_timeout: Duration::from_secs(10),
            max_connection_age: Some(Duration::from_secs(60 * 60)),
            max_concurrent_streams: None,
            tls: None,
        }
    }
}

/// Adapter implementing the generated `thanos.Store` and `thanos.info.Info`
/// services for any [`StoreApi`], and `thanos.Metadata`, `thanos.Exemplars`
/// and `thanos.Targets` for the implementations it is given (Info then
/// advertises them, as Thanos does).
#[derive(Clone)]
pub struct StoreServer {
    store: Arc<dyn StoreApi>,
    metrics: Option<GrpcMetrics>,
    metadata: Option<Arc<dyn MetadataApi>>,
    exemplars: Option<Arc<dyn ExemplarsApi>>,
    targets: Option<Arc<dyn TargetsApi>>,
}

impl std::fmt::Debug for StoreServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreServer").finish_non_exhaustive()
    }
}

impl StoreServer {
    /// Wraps a store.
    pub fn new(store: Arc<dyn StoreApi>) -> Self {
        Self {
            store,
            metrics: None,
            metadata: None,
            exemplars: None,
            targets: None,
        }
    }

    /// Also serves `thanos.Metadata` (and advertises it in Info).
    pub fn with_metadata(mut self, api: Arc<dyn MetadataApi>) -> Self {
        self.metadata = Some(api);
        self
    }

    /// Also serves `thanos.Exemplars` (and advertises it in Info).
    pub fn with_exemplars(mut self, api: Arc<dyn ExemplarsApi>) -> Self {
        self.exemplars = Some(api);
        self
    }

    /// Also serves `thanos.Targets` (and advertises it in Info).
    pub fn with_targets(mut self, api: Arc<dyn TargetsApi>) -> Self {
        self.targets = Some(api);
        self
    }

    /// The store's Info with the extra APIs this server serves advertised
    /// (Thanos advertises them with empty messages; exemplars without a
    /// time range).
    async fn info(&self) -> Result<info::InfoResponse> {
        let mut i = self.store.info().await?;
        if self.metadata.is_some() {
            i.metric_metadata.get_or_insert_with(Default::default);
        }
        if self.exemplars.is_some() {
            i.exemplars.get_or_insert_with(Default::default);
        }
        if self.targets.is_some() {
            i.targets.get_or_insert_with(Default::default);
        }
        Ok(i)
    }

    /// Records Thanos's `grpc_server_*` metrics of every call [`serve`](Self::serve)
    /// answers, and the series and chunks sent (see [`GrpcMetrics::register`]).
    pub fn with_metrics(mut self, metrics: GrpcMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The `thanos.Store` service with raised message limits, accepting
    /// snappy-compressed requests.
    pub fn store_service(&self) -> SnappyDecompress<store_server::StoreServer<StoreServer>> {
        SnappyDecompress::new(
            store_server::StoreServer::new(self.clone())
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        )
    }

    /// The `thanos.info.Info` service with raised message limits, accepting
    /// snappy-compressed requests.
    pub fn info_service(&self) -> SnappyDecompress<info_server::InfoServer<StoreServer>> {
        SnappyDecompress::new(
            info_server::InfoServer::new(self.clone())
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        )
    }

    /// A tonic server builder with [`ServerOptions`]' transport settings
    /// applied (TLS is the listener's: [`StoreServer::serve`]), to which the
    /// caller can add more services.
    pub fn builder(opts: &ServerOptions) -> Result<tonic::transport::Server> {
        let mut b = tonic::transport::Server::builder()
            .http2_keepalive_interval(opts.keepalive_interval)
            .http2_keepalive_timeout(Some(opts.keepalive_timeout))
            .max_concurrent_streams(opts.max_concurrent_streams)
            // BDP-based flow-control windows: large Series streams are not
            // throttled by the 64 KiB default window on high-latency links.
            .http2_adaptive_window(Some(true))
            .tcp_nodelay(true);
        if let Some(age) = opts.max_connection_age {
            b = b.max_connection_age(age);
        }
        Ok(b)
    }

    /// Serves Store, Info and gRPC health on an already bound listener until
    /// `shutdown` completes (then drains in-flight calls).
    pub async fn serve(
        self,
        listener: TcpListener,
        opts: ServerOptions,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        let address = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_serving::<store_server::StoreServer<StoreServer>>()
            .await;
        health
            .set_serving::<info_server::InfoServer<StoreServer>>()
            .await;
        health
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        let (metadata, exemplars, targets) = self.scrape_services(&health).await;
        let metered = MeteredLayer::server(self.metrics.as_ref().map(|m| m.families.clone()));
        let router = Self::builder(&opts)?
            .layer(metered)
            .add_service(health_service)
            .add_service(self.store_service())
            .add_service(self.info_service())
            .add_optional_service(metadata)
            .add_optional_service(exemplars)
            .add_optional_service(targets);
        let served = match opts.tls {
            Some(cfg) => {
                let tls = aeon_common::tls::TlsListener::new(listener, cfg).map_err(|e| {
                    Error::Serve {
                        address: address.clone(),
                        source: Box::new(e),
                    }
                })?;
                router
                    .serve_with_incoming_shutdown(tls.into_stream(), shutdown)
                    .await
            }
            None => {
                router
                    .serve_with_incoming_shutdown(nodelay(listener), shutdown)
                    .await
            }
        };
        served.map_err(|e| Error::Serve {
            address,
            source: Box::new(e),
        })
    }
}

/// The accepted connections of `listener` with TCP_NODELAY set. tonic applies
/// its `tcp_nodelay` only to listeners it binds itself; with Nagle's
/// algorithm on, every streamed Series response waits ~40 ms for a delayed
/// ACK.
fn nodelay(
    listener: TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use futures::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|c| {
        c.inspect(|c| {
            let _ = c.set_nodelay(true);
        })
    })
}

/// Binds `addr` (port 0 = any) and serves `store` in a background task until
/// `shutdown` completes. Returns the bound address and the task handle.
pub async fn spawn_server(
    store: Arc<dyn StoreApi>,
    addr: SocketAddr,
    opts: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, tokio::task::JoinHandle<Result<()>>)> {
    StoreServer::new(store).spawn(addr, opts, shutdown).await
}

impl StoreServer {
    /// Binds `addr` (port 0 = any) and serves in a background task until
    /// `shutdown` completes. Returns the bound address and the task handle.
    pub async fn spawn(
        self,
        addr: SocketAddr,
        opts: ServerOptions,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(SocketAddr, tokio::task::JoinHandle<Result<()>>)> {
        let listener = TcpListener::bind(addr).await.map_err(|e| Error::Serve {
            address: addr.to_string(),
            source: Box::new(e),
        })?;
        let local = listener.local_addr().map_err(|e| Error::Serve {
            address: addr.to_string(),
            source: Box::new(e),
        })?;
        let handle = tokio::spawn(self.serve(listener, opts, shutdown));
        Ok((local, handle))
    }
}

/// Parses a `grpc-timeout` header value (`<=8 digits><H|M|S|m|u|n>`).
pub(crate) fn parse_grpc_timeout(v: &str) -> Option<Duration> {
    if v.len() < 2 || v.len() > 9 {
        return None;
    }
    let (num, unit) = v.split_at(v.len() - 1);
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

fn deadline_of<T>(req: &Request<T>) -> Option<Duration> {
    req.metadata()
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout)
}

type ResponseStream =
    Pin<Box<dyn Stream<Item = Result<thanos::SeriesResponse, Status>> + Send + 'static>>;

/// Ends `stream` with `DeadlineExceeded` once `deadline` passes (dropping the
/// store's stream, which stops its work).
pub(crate) fn with_deadline<T: Send + 'static>(
    stream: Pin<Box<dyn Stream<Item = Result<T>> + Send + 'static>>,
    deadline: Duration,
) -> Pin<Box<dyn Stream<Item = Result<T>> + Send + 'static>> {
    let sleep = Box::pin(tokio::time::sleep(deadline));
    futures::stream::unfold(Some((stream, sleep)), move |state| async move {
        let (mut s, mut sleep) = state?;
        tokio::select! {
            item = s.next() => item.map(|i| (i, Some((s, sleep)))),
            () = &mut sleep => Some((Err(Error::DeadlineExceeded { deadline }), None)),
        }
    })
    .boxed()
}

/// Counts the series and chunks sent.
fn observed(stream: crate::api::SeriesStream, metrics: GrpcMetrics) -> crate::api::SeriesStream {
    stream
        .inspect(move |r| {
            if let Ok(thanos::SeriesResponse {
                result: Some(SeriesFrame::Series(series)),
            }) = r
            {
                metrics.sent(1, series.chunks.len() as u64);
            }
        })
        .boxed()
}

/// Packs runs of ready series into `SeriesBatch` frames of up to `n`.
fn batched(stream: crate::api::SeriesStream, n: usize) -> crate::api::SeriesStream {
    stream
        .ready_chunks(n)
        .flat_map(|items| {
            let mut out: Vec<Result<thanos::SeriesResponse>> = Vec::new();
            let mut batch: Vec<thanos::Series> = Vec::new();
            let flush = |batch: &mut Vec<thanos::Series>,
                         out: &mut Vec<Result<thanos::SeriesResponse>>| {
                if !batch.is_empty() {
                    let series = std::mem::take(batch);
                    out.push(Ok(thanos::SeriesResponse {
                        result: Some(SeriesFrame::Batch(thanos::SeriesBatch { series })),
                    }));
                }
            };
            for item in items {
                match item {
                    Ok(thanos::SeriesResponse {
                        result: Some(SeriesFrame::Series(s)),
                    }) => batch.push(s),
                    other => {
                        flush(&mut batch, &mut out);
                        out.push(other);
                    }
                }
            }
            flush(&mut batch, &mut out);
            futures::stream::iter(out)
        })
        .boxed()
}

#[async_trait::async_trait]
impl store_server::Store for StoreServer {
    async fn info(
        &self,
        _req: Request<thanos::InfoRequest>,
    ) -> Result<Response<thanos::InfoResponse>, Status> {
        let r = StoreServer::info(self).await?;
        Ok(Response::new(crate::legacy::legacy_info(r)))
    }

    type SeriesStream = ResponseStream;

    async fn series(
        &self,
        req: Request<thanos::SeriesRequest>,
    ) -> Result<Response<Self::SeriesStream>, Status> {
        let deadline = deadline_of(&req);
        let req = req.into_inner();
        let batch = usize::try_from(req.response_batch_size).unwrap_or(0);
        let mut stream = self.store.series(req).await?;
        if let Some(d) = deadline {
            stream = with_deadline(stream, d);
        }
        if let Some(m) = &self.metrics {
            stream = observed(stream, m.clone());
        }
        if batch > 1 {
            stream = batched(stream, batch);
        }
        Ok(Response::new(
            stream.map(|r| r.map_err(Status::from)).boxed(),
        ))
    }

    async fn label_names(
        &self,
        req: Request<thanos::LabelNamesRequest>,
    ) -> Result<Response<thanos::LabelNamesResponse>, Status> {
        Ok(Response::new(
            self.store.label_names(req.into_inner()).await?,
        ))
    }

    async fn label_values(
        &self,
        req: Request<thanos::LabelValuesRequest>,
    ) -> Result<Response<thanos::LabelValuesResponse>, Status> {
        Ok(Response::new(
            self.store.label_values(req.into_inner()).await?,
        ))
    }
}

#[async_trait::async_trait]
impl info_server::Info for StoreServer {
    async fn info(
        &self,
        _req: Request<info::InfoRequest>,
    ) -> Result<Response<info::InfoResponse>, Status> {
        Ok(Response::new(StoreServer::info(self).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_parsing() {
        assert_eq!(parse_grpc_timeout("10S"), Some(Duration::from_secs(10)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("5x"), None);
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("123456789S"), None);
    }

    #[tokio::test]
    async fn batching_packs_ready_series_only_between_other_frames() {
        let s = |v: &str| {
            Ok(thanos::SeriesResponse::series(thanos::Series {
                labels: vec![thanos::Label::new("a", v)],
                chunks: vec![],
            }))
        };
        let items = vec![
            s("1"),
            s("2"),
            s("3"),
            Ok(thanos::SeriesResponse::warning("w")),
            s("4"),
        ];
        let out: Vec<_> = batched(futures::stream::iter(items).boxed(), 2)
            .collect()
            .await;
        let shapes: Vec<String> = out
            .iter()
            .map(|r| match &r.as_ref().unwrap().result {
                Some(SeriesFrame::Batch(b)) => format!("b{}", b.series.len()),
                Some(SeriesFrame::Warning(_)) => "w".into(),
                _ => "?".into(),
            })
            .collect();
        assert_eq!(shapes, ["b2", "b1", "w", "b1"]);
    }

    #[tokio::test]
    async fn deadline_ends_stream() {
        let pending = futures::stream::pending::<Result<u8>>().boxed();
        let out: Vec<_> = with_deadline(pending, Duration::from_millis(20))
            .collect()
            .await;
        assert_eq!(out.len(), 1);
        assert!(matches!(out[0], Err(Error::DeadlineExceeded { .. })));
    }
}
