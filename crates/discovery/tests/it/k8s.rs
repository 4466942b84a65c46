//! The EndpointSlice watcher against a scripted Kubernetes API server
//! (plain HTTP on 127.0.0.1): initial list, watch events, `410 Gone` as a
//! watch ERROR event and as an HTTP status, and the API server going away.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aeon_discovery::k8s::client_from_config;
use aeon_discovery::{K8sSnapshot, K8sTarget, K8sWatcher};
use axum::body::Body;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

const PATH: &str = "/apis/discovery.k8s.io/v1/namespaces/monitoring/endpointslices";

/// What the fake API server serves and saw.
#[derive(Default)]
struct ApiState {
    /// Items and resourceVersion of the next LIST.
    list: Mutex<(Vec<Value>, u64)>,
    /// Sender of the open watch stream (one JSON event per line).
    watch: Mutex<Option<mpsc::UnboundedSender<String>>>,
    /// Answer the next WATCH with HTTP 410.
    gone_once: AtomicBool,
    /// Request URIs (path and query).
    requests: Mutex<Vec<String>>,
    /// Counts of (lists, watches opened), for the test to wait on.
    counts: Mutex<Option<watch::Sender<(u64, u64)>>>,
}

struct FakeApi {
    addr: SocketAddr,
    state: Arc<ApiState>,
    counts: watch::Receiver<(u64, u64)>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.stop();
    }
}

impl FakeApi {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ApiState::default());
        let (tx, counts) = watch::channel((0, 0));
        *state.counts.lock().unwrap() = Some(tx);
        let task = Some(tokio::spawn(serve(listener, state.clone())));
        Self {
            addr,
            state,
            counts,
            task,
        }
    }

    /// Stops accepting and closes every open connection.
    fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        self.state.watch.lock().unwrap().take();
    }

    /// Serves again on the same address.
    async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.task = Some(tokio::spawn(serve(listener, self.state.clone())));
    }

    fn set_list(&self, items: Vec<Value>, rv: u64) {
        *self.state.list.lock().unwrap() = (items, rv);
    }

    fn event(&self, kind: &str, object: Value) {
        let line = json!({"type": kind, "object": object}).to_string() + "\n";
        let guard = self.state.watch.lock().unwrap();
        guard.as_ref().expect("no open watch").send(line).unwrap();
    }

    /// Ends the open watch stream (as the API server does at its timeout).
    fn end_watch(&self) {
        self.state.watch.lock().unwrap().take();
    }

    async fn wait_counts(&self, what: &str, cond: impl Fn(u64, u64) -> bool) {
        let mut rx = self.counts.clone();
        let res =
            tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|(l, w)| cond(*l, *w))).await;
        if !matches!(res, Ok(Ok(_))) {
            panic!(
                "timed out waiting for {what}; counts {:?}",
                *self.counts.borrow()
            );
        }
    }

    fn client(&self) -> kube::Client {
        let url = format!("http://{}", self.addr).parse().unwrap();
        client_from_config(kube::Config::new(url)).unwrap()
    }
}

async fn serve(listener: tokio::net::TcpListener, state: Arc<ApiState>) {
    // Connections live in this set: aborting the task closes all of them.
    let mut conns = tokio::task::JoinSet::new();
    while let Ok((sock, _)) = listener.accept().await {
        let st = state.clone();
        conns.spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(st.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                .await;
        });
    }
}

async fn handle(
    state: Arc<ApiState>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let uri = req.uri().clone();
    state.requests.lock().unwrap().push(uri.to_string());
    let bump = |list: u64, watch: u64| {
        if let Some(tx) = state.counts.lock().unwrap().as_ref() {
            tx.send_modify(|(l, w)| {
                *l += list;
                *w += watch;
            });
        }
    };
    let json_resp = |status: StatusCode, v: Value| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(v.to_string()))
            .unwrap()
    };
    if uri.path() != PATH {
        return Ok(json_resp(
            StatusCode::NOT_FOUND,
            status_json(404, "NotFound", "no such path"),
        ));
    }
    let is_watch = uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "watch=true"));
    if !is_watch {
        let (items, rv) = state.list.lock().unwrap().clone();
        bump(1, 0);
        return Ok(json_resp(
            StatusCode::OK,
            json!({
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSliceList",
                "metadata": {"resourceVersion": rv.to_string()},
                "items": items,
            }),
        ));
    }
    if state.gone_once.swap(false, Ordering::SeqCst) {
        return Ok(json_resp(
            StatusCode::GONE,
            status_json(410, "Expired", "too old resource version"),
        ));
    }
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    *state.watch.lock().unwrap() = Some(tx);
    bump(0, 1);
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|line| (Ok::<_, Infallible>(line), rx))
    });
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Body::from_stream(body))
        .unwrap())
}

fn status_json(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    })
}

/// An EndpointSlice of Service `store` with (ip, ready) endpoints.
fn slice(name: &str, rv: u64, endpoints: &[(&str, bool)]) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name, "namespace": "monitoring", "resourceVersion": rv.to_string(),
            "labels": {"kubernetes.io/service-name": "store"},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 10902, "protocol": "TCP"},
                  {"name": "grpc", "port": 10901, "protocol": "TCP"}],
        "endpoints": endpoints.iter().map(|(ip, ready)| json!({
            "addresses": [ip], "conditions": {"ready": ready},
        })).collect::<Vec<_>>(),
    })
}

async fn wait_snapshot(
    w: &K8sWatcher,
    what: &str,
    cond: impl Fn(&K8sSnapshot) -> bool,
) -> K8sSnapshot {
    let mut rx = w.subscribe();
    let res = tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|s| cond(s))).await;
    match res {
        Ok(Ok(s)) => s.clone(),
        _ => panic!("timed out waiting for {what}; snapshot {:?}", w.snapshot()),
    }
}

fn addrs(s: &K8sSnapshot) -> Vec<&str> {
    s.addresses.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn list_watch_resync_and_unreachable_api_server() {
    let mut api = FakeApi::start().await;
    api.set_list(
        vec![slice(
            "store-a",
            3,
            &[("10.0.0.1", true), ("10.0.0.2", false)],
        )],
        5,
    );
    let target = K8sTarget::service("monitoring/store:grpc")
        .unwrap()
        .remove(0);
    let w = K8sWatcher::spawn(api.client(), target);

    // Initial list: only the ready endpoint, on the grpc port.
    let s = wait_snapshot(&w, "initial list", |s| s.lists == 1).await;
    assert_eq!(addrs(&s), ["10.0.0.1:10901"]);
    assert_eq!(s.error, None);
    api.wait_counts("first watch", |_, w| w == 1).await;
    {
        let reqs = api.state.requests.lock().unwrap();
        assert!(
            reqs.iter()
                .all(|r| r.contains("labelSelector=kubernetes.io%2Fservice-name%3Dstore")),
            "{reqs:?}"
        );
        assert!(reqs[1].contains("resourceVersion=5"), "{reqs:?}");
    }

    // A pod of a second slice comes, the not-ready pod becomes ready.
    api.event("ADDED", slice("store-b", 6, &[("10.0.1.1", true)]));
    wait_snapshot(&w, "added slice", |s| s.addresses.len() == 2).await;
    api.event(
        "MODIFIED",
        slice("store-a", 7, &[("10.0.0.1", true), ("10.0.0.2", true)]),
    );
    let s = wait_snapshot(&w, "modified slice", |s| s.addresses.len() == 3).await;
    assert_eq!(
        addrs(&s),
        ["10.0.0.1:10901", "10.0.0.2:10901", "10.0.1.1:10901"]
    );
    // Pods go: one removed from a slice, a whole slice deleted.
    api.event("MODIFIED", slice("store-a", 8, &[("10.0.0.2", true)]));
    api.event("DELETED", slice("store-b", 9, &[("10.0.1.1", true)]));
    let s = wait_snapshot(&w, "removals", |s| s.addresses.len() == 1).await;
    assert_eq!(addrs(&s), ["10.0.0.2:10901"]);

    // 410 Gone as a watch ERROR event: the watcher lists again and takes
    // the listed state (changes missed meanwhile included).
    api.set_list(
        vec![slice(
            "store-c",
            20,
            &[("10.0.2.1", true), ("10.0.2.2", true)],
        )],
        21,
    );
    api.event(
        "ERROR",
        status_json(410, "Expired", "too old resource version: 9 (20)"),
    );
    let s = wait_snapshot(&w, "resync after ERROR 410", |s| s.lists == 2).await;
    assert_eq!(addrs(&s), ["10.0.2.1:10901", "10.0.2.2:10901"]);
    api.wait_counts("watch after resync", |_, w| w == 2).await;
    assert!(
        api.state
            .requests
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .contains("resourceVersion=21")
    );

    // The watch ends (server timeout) and the re-watch gets HTTP 410.
    api.set_list(vec![slice("store-c", 30, &[("10.0.2.1", true)])], 31);
    api.state.gone_once.store(true, Ordering::SeqCst);
    api.end_watch();
    let s = wait_snapshot(&w, "resync after HTTP 410", |s| s.lists == 3).await;
    assert_eq!(addrs(&s), ["10.0.2.1:10901"]);
    api.wait_counts("watch after second resync", |_, w| w == 3)
        .await;

    // The API server goes away: addresses kept, the error exposed.
    api.stop();
    let s = wait_snapshot(&w, "error while unreachable", |s| s.error.is_some()).await;
    assert_eq!(addrs(&s), ["10.0.2.1:10901"]);
    let err = s.error.unwrap();
    assert!(
        err.contains("monitoring") && err.contains("keeping 1 previous"),
        "{err}"
    );

    // It comes back: the watcher recovers and the error clears.
    api.set_list(vec![slice("store-c", 40, &[("10.0.2.9", true)])], 41);
    api.restart_with_expired_version().await;
    let s = wait_snapshot(&w, "recovery", |s| {
        s.error.is_none() && s.addresses == ["10.0.2.9:10901"]
    })
    .await;
    assert!(s.lists >= 3);
}

impl FakeApi {
    /// Restarts, answering the watcher's first re-watch (from its old
    /// resource version) with HTTP 410 so that it lists again.
    async fn restart_with_expired_version(&mut self) {
        self.state.gone_once.store(true, Ordering::SeqCst);
        self.restart().await;
    }
}

#[tokio::test]
async fn all_namespaces_and_selector_targets_use_the_cluster_wide_path() {
    let api = FakeApi::start().await;
    let target = K8sTarget::selector("*/app=store:grpc").unwrap().remove(0);
    let w = K8sWatcher::spawn(api.client(), target);
    // The fake serves only the namespaced path: the cluster-wide list gets
    // 404, which shows up as the error while nothing was ever listed.
    let s = wait_snapshot(&w, "error", |s| s.error.is_some()).await;
    assert!(s.addresses.is_empty() && s.lists == 0);
    let reqs = api.state.requests.lock().unwrap();
    assert!(
        reqs[0].starts_with("/apis/discovery.k8s.io/v1/endpointslices?")
            && reqs[0].contains("labelSelector=app%3Dstore"),
        "{reqs:?}"
    );
}
