//! The Store API over gRPC: the acceptance suite through StoreServer +
//! StoreClient, and transport behaviour (message limits, keepalive pings,
//! deadlines, cancellation, health, legacy Info, batching).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aeon_model::Labels;
use aeon_storeapi::pb::thanos::{self, info};
use aeon_storeapi::testsuite::{StoreUnderTest, run_acceptance};
use aeon_storeapi::testutil::MemStore;
use aeon_storeapi::{
    ClientOptions, Error, SeriesFrame, SeriesStream, ServerOptions, StoreApi, StoreClient,
    spawn_server,
};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::oneshot;

/// Serves `store` on 127.0.0.1:0; dropping the returned sender shuts it down.
async fn serve(store: Arc<dyn StoreApi>, opts: ServerOptions) -> (SocketAddr, oneshot::Sender<()>) {
    let (tx, rx) = oneshot::channel::<()>();
    let (addr, _task) = spawn_server(store, "127.0.0.1:0".parse().unwrap(), opts, async move {
        let _ = rx.await;
    })
    .await
    .unwrap();
    (addr, tx)
}

#[tokio::test]
async fn memstore_passes_acceptance_over_grpc() {
    run_acceptance(|f| async move {
        let (addr, stop) = serve(
            Arc::new(MemStore::from_fixture(&f)),
            ServerOptions::default(),
        )
        .await;
        let client = StoreClient::connect(&addr.to_string(), ClientOptions::default())
            .await
            .unwrap();
        StoreUnderTest::with_guard(Arc::new(client), stop)
    })
    .await;
}

/// Server-side batching (response_batch_size) is unpacked by the client, so
/// the suite still sees one series per frame semantics.
#[derive(Debug)]
struct Batching(StoreClient);

#[async_trait::async_trait]
impl StoreApi for Batching {
    async fn info(&self) -> aeon_storeapi::Result<info::InfoResponse> {
        self.0.info().await
    }
    async fn series(&self, mut req: thanos::SeriesRequest) -> aeon_storeapi::Result<SeriesStream> {
        req.response_batch_size = 3;
        self.0.series(req).await
    }
    async fn label_names(
        &self,
        req: thanos::LabelNamesRequest,
    ) -> aeon_storeapi::Result<thanos::LabelNamesResponse> {
        self.0.label_names(req).await
    }
    async fn label_values(
        &self,
        req: thanos::LabelValuesRequest,
    ) -> aeon_storeapi::Result<thanos::LabelValuesResponse> {
        self.0.label_values(req).await
    }
}

#[tokio::test]
async fn batched_responses_pass_acceptance() {
    run_acceptance(|f| async move {
        let (addr, stop) = serve(
            Arc::new(MemStore::from_fixture(&f)),
            ServerOptions::default(),
        )
        .await;
        let client = StoreClient::connect(&addr.to_string(), ClientOptions::default())
            .await
            .unwrap();
        StoreUnderTest::with_guard(Arc::new(Batching(client)), stop)
    })
    .await;
}

#[tokio::test]
async fn server_sends_batches_on_the_wire() {
    let f = aeon_storeapi::testutil::Fixture::standard();
    let (addr, _stop) = serve(
        Arc::new(MemStore::from_fixture(&f)),
        ServerOptions::default(),
    )
    .await;
    let mut raw = thanos::store_client::StoreClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let req = thanos::SeriesRequest {
        min_time: f.min_time(),
        max_time: f.max_time(),
        matchers: vec![thanos::LabelMatcher::new(
            thanos::label_matcher::Type::Re,
            "__name__",
            ".+",
        )],
        skip_chunks: true,
        response_batch_size: 100,
        ..Default::default()
    };
    let mut stream = raw.series(req).await.unwrap().into_inner();
    let mut batches = 0;
    let mut series = 0;
    while let Some(r) = stream.next().await {
        match r.unwrap().result {
            Some(SeriesFrame::Batch(b)) => {
                batches += 1;
                series += b.series.len();
            }
            other => panic!("expected only batches, got {other:?}"),
        }
    }
    assert_eq!(series, f.series.len());
    assert!(
        batches >= 1 && batches < series,
        "{batches} batches for {series} series"
    );
}

#[tokio::test]
async fn messages_above_4mib_pass_both_ways() {
    let mut store = MemStore::new(Labels::from_pairs(&[("ext", "1")]));
    let big = Bytes::from(vec![0xabu8; 6 << 20]);
    store.add_chunks(
        Labels::from_pairs(&[("__name__", "big")]),
        vec![(0, 10, big.clone())],
    );
    let (addr, _stop) = serve(Arc::new(store), ServerOptions::default()).await;
    let client = StoreClient::connect(&addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    // Request above 4 MiB: a 5 MiB matcher value.
    let req = thanos::SeriesRequest {
        min_time: 0,
        max_time: 10,
        matchers: vec![
            thanos::LabelMatcher::new(thanos::label_matcher::Type::Eq, "__name__", "big"),
            thanos::LabelMatcher::new(thanos::label_matcher::Type::Neq, "x", "y".repeat(5 << 20)),
        ],
        ..Default::default()
    };
    let (series, _) = aeon_storeapi::merge::collect_series(client.series(req).await.unwrap())
        .await
        .unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].chunks[0].raw.as_ref().unwrap().data, big);
}

#[tokio::test]
async fn frequent_client_pings_are_tolerated() {
    let opts = ServerOptions {
        keepalive_interval: Some(Duration::from_millis(100)),
        ..Default::default()
    };
    let (addr, _stop) = serve(
        Arc::new(MemStore::from_fixture(
            &aeon_storeapi::testutil::Fixture::standard(),
        )),
        opts,
    )
    .await;
    let copts = ClientOptions {
        keepalive_interval: Duration::from_millis(50),
        keepalive_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let client = StoreClient::connect(&addr.to_string(), copts)
        .await
        .unwrap();
    client.info().await.unwrap();
    // ~30 client pings (far more often than Thanos' 10 s) on an idle connection.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let info = client.info().await.unwrap();
    assert_eq!(info.label_sets.len(), 1);
}

/// A store whose Series stream yields one series, then hangs forever; it
/// records when the stream is dropped (i.e. the work was cancelled).
#[derive(Debug, Default)]
struct Hanging {
    dropped: Arc<AtomicBool>,
}

struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl StoreApi for Hanging {
    async fn info(&self) -> aeon_storeapi::Result<info::InfoResponse> {
        Ok(info::InfoResponse::default())
    }
    async fn series(&self, _req: thanos::SeriesRequest) -> aeon_storeapi::Result<SeriesStream> {
        let flag = DropFlag(self.dropped.clone());
        let first = thanos::SeriesResponse::series(thanos::Series {
            labels: vec![thanos::Label::new("a", "1")],
            chunks: vec![],
        });
        Ok(futures::stream::once(async move { Ok(first) })
            .chain(futures::stream::pending())
            .map(move |x| {
                let _keep = &flag;
                x
            })
            .boxed())
    }
    async fn label_names(
        &self,
        _req: thanos::LabelNamesRequest,
    ) -> aeon_storeapi::Result<thanos::LabelNamesResponse> {
        Err(Error::limit("label names", 10))
    }
    async fn label_values(
        &self,
        _req: thanos::LabelValuesRequest,
    ) -> aeon_storeapi::Result<thanos::LabelValuesResponse> {
        Err(Error::storage("reading index", "disk on fire"))
    }
}

async fn wait_for(flag: &AtomicBool) -> bool {
    for _ in 0..100 {
        if flag.load(Ordering::SeqCst) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn dropping_the_client_stream_cancels_server_work() {
    let store = Arc::new(Hanging::default());
    let dropped = store.dropped.clone();
    let (addr, _stop) = serve(store, ServerOptions::default()).await;
    let client = StoreClient::connect(&addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let mut stream = client
        .series(thanos::SeriesRequest::default())
        .await
        .unwrap();
    assert!(stream.next().await.unwrap().unwrap().as_series().is_some());
    assert!(
        !dropped.load(Ordering::SeqCst),
        "server stream dropped too early"
    );
    drop(stream);
    assert!(
        wait_for(&dropped).await,
        "server-side stream still alive 5 s after the client dropped it"
    );
}

#[tokio::test]
async fn deadline_ends_stream_and_server_work() {
    let store = Arc::new(Hanging::default());
    let dropped = store.dropped.clone();
    let (addr, _stop) = serve(store, ServerOptions::default()).await;
    let opts = ClientOptions {
        // Long enough for the first frame on a loaded machine; the store
        // hangs after it, so the deadline is what ends the stream.
        timeout: Some(Duration::from_secs(3)),
        ..Default::default()
    };
    let client = StoreClient::connect(&addr.to_string(), opts).await.unwrap();
    let mut stream = client
        .series(thanos::SeriesRequest::default())
        .await
        .unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    let err = stream.next().await.unwrap().unwrap_err();
    assert_eq!(
        tonic::Status::from(err).code(),
        tonic::Code::DeadlineExceeded
    );
    assert!(
        stream.next().await.is_none(),
        "stream continues after its deadline"
    );
    assert!(
        wait_for(&dropped).await,
        "server-side stream still alive after the deadline"
    );
}

#[tokio::test]
async fn error_codes_survive_the_wire() {
    let (addr, _stop) = serve(Arc::new(Hanging::default()), ServerOptions::default()).await;
    let client = StoreClient::connect(&addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let e = client.label_names(Default::default()).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Rpc {
                method: "LabelNames",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        tonic::Status::from(e).code(),
        tonic::Code::ResourceExhausted
    );
    let e = client.label_values(Default::default()).await.unwrap_err();
    let st = tonic::Status::from(e);
    assert_eq!(st.code(), tonic::Code::Aborted);
    assert!(st.message().contains("disk on fire"), "{}", st.message());
}

#[tokio::test]
async fn health_and_legacy_info() {
    let store = MemStore::from_fixture(&aeon_storeapi::testutil::Fixture::standard())
        .with_component("sidecar");
    let (addr, _stop) = serve(Arc::new(store), ServerOptions::default()).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    for service in ["", "thanos.Store", "thanos.info.Info"] {
        let r = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            r.status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service:?}"
        );
    }
    let client = StoreClient::connect(&addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let legacy = client.legacy_info().await.unwrap();
    assert_eq!(legacy.store_type, thanos::StoreType::Sidecar as i32);
    assert_eq!(
        legacy.labels,
        vec![
            thanos::Label::new("region", "eu"),
            thanos::Label::new("replica", "A")
        ]
    );
    assert_eq!(legacy.min_time, aeon_storeapi::testutil::STANDARD_T0);
}

/// An endpoint serving only `thanos.Store` (Thanos before the Info API):
/// the client's Info falls back to `Store/Info`.
#[tokio::test]
async fn info_falls_back_to_legacy_store_info() {
    let store = MemStore::from_fixture(&aeon_storeapi::testutil::Fixture::standard())
        .with_component("sidecar");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let svc = aeon_storeapi::StoreServer::new(Arc::new(store)).store_service();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async move {
                    let _ = rx.await;
                },
            )
            .await
    });
    let client = StoreClient::connect(&addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let info = client.info().await.unwrap();
    assert_eq!(info.component_type, "sidecar");
    assert_eq!(
        info.label_sets[0].labels,
        vec![
            thanos::Label::new("region", "eu"),
            thanos::Label::new("replica", "A")
        ]
    );
    let st = info.store.unwrap();
    assert_eq!(st.min_time, aeon_storeapi::testutil::STANDARD_T0);
    drop(tx);
}

/// One-frame HTTP body for hand-made gRPC requests.
struct OneFrame(Option<Bytes>);

impl hyper::body::Body for OneFrame {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.take().map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

/// A Thanos querier with `--grpc-compression=snappy` sends requests as
/// snappy-framed gRPC messages with `grpc-encoding: snappy`.
#[tokio::test]
async fn snappy_compressed_requests_are_accepted() {
    use hyper::body::Body as _;
    use prost::Message;
    use tonic::codegen::Service;

    let f = aeon_storeapi::testutil::Fixture::standard();
    let (addr, _stop) = serve(
        Arc::new(MemStore::from_fixture(&f)),
        ServerOptions::default(),
    )
    .await;
    let mut channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let req = thanos::LabelValuesRequest {
        label: "job".into(),
        start: f.min_time(),
        end: f.max_time(),
        ..Default::default()
    };
    let compressed = aeon_storeapi::snappy_compress(&req.encode_to_vec());
    let mut body = vec![1u8];
    body.extend((compressed.len() as u32).to_be_bytes());
    body.extend(compressed);
    let http_req = tonic::codegen::http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/thanos.Store/LabelValues"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-encoding", "snappy")
        .header("grpc-accept-encoding", "snappy,identity")
        .body(tonic::body::Body::new(OneFrame(Some(Bytes::from(body)))))
        .unwrap();
    std::future::poll_fn(|cx| channel.poll_ready(cx))
        .await
        .unwrap();
    let resp = channel.call(http_req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let header_status = resp
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    let mut body = resp.into_body();
    let (mut data, mut trailer_status) = (Vec::new(), None);
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame = frame.unwrap();
        if let Some(d) = frame.data_ref() {
            data.extend_from_slice(d);
        } else if let Ok(t) = frame.into_trailers() {
            trailer_status = t.get("grpc-status").map(|v| v.to_str().unwrap().to_owned());
        }
    }
    assert_eq!(trailer_status.or(header_status).as_deref(), Some("0"));
    assert_eq!(data[0], 0, "response is sent uncompressed");
    let msg = thanos::LabelValuesResponse::decode(&data[5..]).unwrap();
    assert_eq!(msg.values, ["api", "batch", "db"]);
}

async fn serve_with_metrics(
    store: Arc<dyn StoreApi>,
) -> (
    SocketAddr,
    prometheus_client::registry::Registry,
    oneshot::Sender<()>,
) {
    use aeon_storeapi::{GrpcMetrics, StoreServer};
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = GrpcMetrics::register(&mut registry);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = StoreServer::new(store).with_metrics(metrics);
    tokio::spawn(
        server.serve(listener, ServerOptions::default(), async move {
            let _ = rx.await;
        }),
    );
    (addr, registry, tx)
}

fn encode(registry: &prometheus_client::registry::Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text
}

#[tokio::test]
async fn server_metrics_count_calls_codes_and_series() {
    let f = aeon_storeapi::testutil::Fixture::standard();
    let (addr, registry, _stop) = serve_with_metrics(Arc::new(MemStore::from_fixture(&f))).await;
    let client = StoreClient::connect(&addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let req = thanos::SeriesRequest {
        min_time: f.min_time(),
        max_time: f.max_time(),
        matchers: vec![thanos::LabelMatcher::new(
            thanos::label_matcher::Type::Re,
            "__name__",
            ".+",
        )],
        ..Default::default()
    };
    let (series, _) = aeon_storeapi::merge::collect_series(client.series(req).await.unwrap())
        .await
        .unwrap();
    let bad = thanos::LabelValuesRequest {
        label: "job".into(),
        matchers: vec![thanos::LabelMatcher::new(
            thanos::label_matcher::Type::Re,
            "job",
            "(",
        )],
        ..Default::default()
    };
    client.label_values(bad).await.unwrap_err();
    let text = encode(&registry);
    let chunks: usize = series.iter().map(|s| s.chunks.len()).sum();
    assert!(
        text.contains(r#"grpc_server_handled_total{grpc_type="server_stream",grpc_service="thanos.Store",grpc_method="Series",grpc_code="OK"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"grpc_server_handled_total{grpc_type="unary",grpc_service="thanos.Store",grpc_method="LabelValues",grpc_code="InvalidArgument"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"grpc_server_handling_seconds_count{grpc_type="server_stream",grpc_service="thanos.Store",grpc_method="Series"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(&format!("aeon_storeapi_series_sent_total {}", series.len())),
        "{text}"
    );
    assert!(
        text.contains(&format!("aeon_storeapi_chunks_sent_total {chunks}")),
        "{text}"
    );
    for want in [
        r#"grpc_server_started_total{grpc_type="server_stream",grpc_service="thanos.Store",grpc_method="Series"} 1"#,
        r#"grpc_server_msg_received_total{grpc_type="server_stream",grpc_service="thanos.Store",grpc_method="Series"} 1"#,
        r#"grpc_server_started_total{grpc_type="unary",grpc_service="thanos.Store",grpc_method="LabelValues"} 1"#,
        // Pre-initialised, never called.
        r#"grpc_server_handled_total{grpc_type="unary",grpc_service="thanos.info.Info",grpc_method="Info",grpc_code="Internal"} 0"#,
    ] {
        assert!(text.contains(want), "missing {want}:\n{text}");
    }
    // One Series response message per series (no batching requested) and
    // no message for the failed unary call.
    assert!(
        text.contains(&format!(
            r#"grpc_server_msg_sent_total{{grpc_type="server_stream",grpc_service="thanos.Store",grpc_method="Series"}} {}"#,
            series.len()
        )),
        "{text}"
    );
}

#[tokio::test]
async fn client_metrics_count_calls_codes_and_messages() {
    let f = aeon_storeapi::testutil::Fixture::standard();
    let (addr, _server_registry, _stop) =
        serve_with_metrics(Arc::new(MemStore::from_fixture(&f))).await;
    let mut registry = prometheus_client::registry::Registry::default();
    let opts = ClientOptions {
        metrics: Some(aeon_storeapi::GrpcClientMetrics::register(&mut registry)),
        ..ClientOptions::default()
    };
    let client = StoreClient::connect(&addr.to_string(), opts.clone())
        .await
        .unwrap();
    client.info().await.unwrap();
    let req = thanos::SeriesRequest {
        min_time: f.min_time(),
        max_time: f.max_time(),
        matchers: vec![thanos::LabelMatcher::new(
            thanos::label_matcher::Type::Re,
            "__name__",
            ".+",
        )],
        ..Default::default()
    };
    let (series, _) = aeon_storeapi::merge::collect_series(client.series(req).await.unwrap())
        .await
        .unwrap();
    let bad = thanos::LabelValuesRequest {
        label: "job".into(),
        matchers: vec![thanos::LabelMatcher::new(
            thanos::label_matcher::Type::Re,
            "job",
            "(",
        )],
        ..Default::default()
    };
    client.label_values(bad).await.unwrap_err();
    // An endpoint nobody listens on: the call fails Unavailable.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = l.local_addr().unwrap();
    drop(l);
    let lazy = StoreClient::connect_lazy(&gone.to_string(), opts).unwrap();
    lazy.info().await.unwrap_err();

    let text = encode(&registry);
    for want in [
        r#"grpc_client_started_total{grpc_type="unary",grpc_service="thanos.info.Info",grpc_method="Info"} 2"#.to_owned(),
        r#"grpc_client_handled_total{grpc_type="unary",grpc_service="thanos.info.Info",grpc_method="Info",grpc_code="OK"} 1"#.to_owned(),
        r#"grpc_client_handled_total{grpc_type="unary",grpc_service="thanos.info.Info",grpc_method="Info",grpc_code="Unavailable"} 1"#.to_owned(),
        r#"grpc_client_handled_total{grpc_type="server_stream",grpc_service="thanos.Store",grpc_method="Series",grpc_code="OK"} 1"#.to_owned(),
        r#"grpc_client_handled_total{grpc_type="unary",grpc_service="thanos.Store",grpc_method="LabelValues",grpc_code="InvalidArgument"} 1"#.to_owned(),
        r#"grpc_client_msg_sent_total{grpc_type="server_stream",grpc_service="thanos.Store",grpc_method="Series"} 1"#.to_owned(),
        format!(
            r#"grpc_client_msg_received_total{{grpc_type="server_stream",grpc_service="thanos.Store",grpc_method="Series"}} {}"#,
            series.len()
        ),
        r#"grpc_client_handling_seconds_count{grpc_type="server_stream",grpc_service="thanos.Store",grpc_method="Series"} 1"#.to_owned(),
    ] {
        assert!(text.contains(&want), "missing {want}:\n{text}");
    }
}

#[tokio::test]
async fn server_metrics_record_cancelled_streams() {
    let (addr, registry, _stop) = serve_with_metrics(Arc::new(Hanging::default())).await;
    let client = StoreClient::connect(&addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let mut s = client
        .series(thanos::SeriesRequest::default())
        .await
        .unwrap();
    s.next().await.unwrap().unwrap();
    drop(s);
    let want = r#"grpc_server_handled_total{grpc_type="server_stream",grpc_service="thanos.Store",grpc_method="Series",grpc_code="Canceled"} 1"#;
    let mut text = encode(&registry);
    for _ in 0..100 {
        if text.contains(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        text = encode(&registry);
    }
    assert!(text.contains(want), "{text}");
    assert!(text.contains("aeon_storeapi_series_sent_total 1"), "{text}");
}
