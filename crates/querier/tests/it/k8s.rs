//! Kubernetes EndpointSlice discovery wired into the querier: the real
//! `start()` with `--endpoint.k8s` and a kubeconfig pointing at a scripted
//! Kubernetes API server, whose EndpointSlices list real Store API servers
//! that come and go.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

#[derive(Default)]
struct FakeApi {
    items: Mutex<Vec<Value>>,
    watch: Mutex<Option<mpsc::UnboundedSender<String>>>,
}

async fn endpointslices(
    State(st): State<Arc<FakeApi>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let has = |k: &str, v: &str| q.iter().any(|(a, b)| a == k && b == v);
    assert!(
        has("labelSelector", "kubernetes.io/service-name=stores"),
        "{q:?}"
    );
    if !has("watch", "true") {
        let items = st.items.lock().unwrap().clone();
        let list = json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSliceList",
            "metadata": {"resourceVersion": "1"}, "items": items,
        });
        return ([("content-type", "application/json")], list.to_string()).into_response();
    }
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    *st.watch.lock().unwrap() = Some(tx);
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|l| (Ok::<_, Infallible>(l), rx))
    });
    (
        [("content-type", "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

async fn fake_api(st: Arc<FakeApi>, stop: &CancellationToken) -> SocketAddr {
    let app = axum::Router::new()
        .route(
            "/apis/discovery.k8s.io/v1/namespaces/monitoring/endpointslices",
            axum::routing::get(endpointslices),
        )
        .with_state(st);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let stop = stop.clone();
    tokio::spawn(async move {
        axum::serve(l, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    });
    addr
}

fn slice(name: &str, store: SocketAddr) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": "monitoring", "resourceVersion": "2",
                     "labels": {"kubernetes.io/service-name": "stores"}},
        "addressType": "IPv4",
        "ports": [{"name": "grpc", "port": store.port()}],
        "endpoints": [{"addresses": [store.ip().to_string()], "conditions": {"ready": true}}],
    })
}

fn kubeconfig(dir: &std::path::Path, api: SocketAddr) -> String {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{api}\n\
             users:\n- name: u\n  user: {{}}\ncontexts:\n- name: c\n  context:\n    cluster: fake\n    user: u\n\
             current-context: c\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

async fn stores_used(q: &Querier) -> Vec<String> {
    let (code, v) = q.get("/api/v1/stores", &[]).await;
    assert_eq!(code, 200, "{v}");
    let mut out: Vec<String> = v["data"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .flat_map(|a| a.as_array().cloned().unwrap_or_default())
        .filter(|s| s["healthy"] == true)
        .map(|s| s["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    out.sort();
    out
}

async fn wait_stores(q: &Querier, want: &[String]) {
    let mut want = want.to_vec();
    want.sort();
    let mut got = Vec::new();
    // Polls until the condition holds (bounded), never a blind sleep.
    for _ in 0..200 {
        got = stores_used(q).await;
        if got == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("healthy stores {got:?}, want {want:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpointslice_pods_coming_and_going_are_used_and_dropped() {
    let stop = CancellationToken::new();
    let a = serve(replica("a", 0.0), &stop).await;
    let b = serve(replica("b", 0.0), &stop).await;
    let st = Arc::new(FakeApi::default());
    st.items.lock().unwrap().push(slice("stores-a", a));
    let api = fake_api(st.clone(), &stop).await;
    let dir = tempfile::tempdir().unwrap();
    let q = Querier::start(
        &[
            "--endpoint.k8s=monitoring/stores:grpc".into(),
            format!("--k8s.kubeconfig={}", kubeconfig(dir.path(), api)),
            // An hour: every change below must come from the watch itself,
            // not from the periodic resolve.
            "--store.sd-dns-interval=1h".into(),
            "--store.sd-interval=1h".into(),
        ],
        stop,
    )
    .await;
    wait_stores(&q, &[a.to_string()]).await;

    // A second pod's slice appears in the watch, then goes away.
    let send = |line: Value| {
        let g = st.watch.lock().unwrap();
        g.as_ref()
            .expect("querier is not watching")
            .send(line.to_string() + "\n")
            .unwrap();
    };
    // The watch is opened right after the list; wait for it.
    for _ in 0..200 {
        if st.watch.lock().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    send(json!({"type": "ADDED", "object": slice("stores-b", b)}));
    wait_stores(&q, &[a.to_string(), b.to_string()]).await;
    send(json!({"type": "DELETED", "object": slice("stores-a", a)}));
    wait_stores(&q, &[b.to_string()]).await;
}

#[tokio::test]
async fn bad_kubernetes_flags_fail_start_naming_the_flag() {
    use clap::Parser;
    let args = aeon_querier::Args::try_parse_from([
        "query",
        "--http-address=127.0.0.1:0",
        "--grpc-address=127.0.0.1:0",
        "--endpoint.k8s=no-namespace:grpc",
    ])
    .unwrap();
    let Err(e) = aeon_querier::start(args, CancellationToken::new()).await else {
        panic!("start must fail");
    };
    assert!(e.to_string().contains("endpoint.k8s"), "{e}");

    let args = aeon_querier::Args::try_parse_from([
        "query",
        "--http-address=127.0.0.1:0",
        "--grpc-address=127.0.0.1:0",
        "--endpoint.k8s=ns/svc:grpc",
        "--k8s.kubeconfig=/nonexistent/kubeconfig",
    ])
    .unwrap();
    let Err(e) = aeon_querier::start(args, CancellationToken::new()).await else {
        panic!("start must fail");
    };
    let msg = format!("{e}");
    assert!(msg.contains("/nonexistent/kubeconfig"), "{msg}");
}
