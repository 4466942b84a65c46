//! Endpoint discovery and health over time: file SD changes are picked up,
//! a store that goes away is marked unhealthy and no longer asked.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::helpers::*;

async fn up_count(q: &Querier) -> (usize, serde_json::Value) {
    let (code, v) = q
        .get(
            "/api/v1/query",
            &[
                ("query", "up"),
                ("time", &secs(T0 + 600_000)),
                ("dedup", "false"),
            ],
        )
        .await;
    assert_eq!(code, 200, "{v}");
    (result(&v).len(), v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sd_changes_are_picked_up() {
    let stop = CancellationToken::new();
    let a = serve(replica("a", 0.0), &stop).await;
    let b = serve(replica("b", 0.0), &stop).await;
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().join("stores.yaml");
    std::fs::write(&sd, format!("- targets: ['{a}']\n")).unwrap();
    let q = Querier::start(
        &[
            format!("--store.sd-files={}/*.yaml", dir.path().display()),
            "--store.sd-interval=200ms".into(),
        ],
        stop,
    )
    .await;
    assert_eq!(up_count(&q).await.0, 1);
    std::fs::write(&sd, format!("- targets: ['{a}', '{b}']\n")).unwrap();
    let mut n = 0;
    for _ in 0..100 {
        n = up_count(&q).await.0;
        if n == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(n, 2, "second store from file SD not used");
    // Removing it from the file drops it.
    std::fs::write(&sd, format!("- targets: ['{a}']\n")).unwrap();
    for _ in 0..100 {
        n = up_count(&q).await.0;
        if n == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(n, 1, "removed store still used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_going_down_is_marked_unhealthy() {
    let stop = CancellationToken::new();
    let a = serve(replica("a", 0.0), &stop).await;
    let b_stop = CancellationToken::new();
    let b = serve(replica("b", 0.0), &b_stop).await;
    let q = Querier::start(&[format!("--store={a}"), format!("--store={b}")], stop).await;
    assert_eq!(up_count(&q).await.0, 2);
    b_stop.cancel();
    // Within two Info rounds (5 s each) b is unhealthy and not asked any more.
    let mut healthy_b = true;
    for _ in 0..150 {
        let (_, v) = q.get("/api/v1/stores", &[]).await;
        healthy_b = v["data"]["sidecar"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == b.to_string() && s["healthy"] == true);
        if !healthy_b {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!healthy_b, "b still healthy after it went down");
    let (n, v) = up_count(&q).await;
    assert_eq!(n, 1);
    assert!(
        v.get("warnings").is_none(),
        "unhealthy store must not be asked: {v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_store_without_info_api_is_used() {
    use std::sync::Arc;

    use aeon_storeapi::StoreServer;

    // A store serving only `thanos.Store` (as Thanos before the Info API).
    let stop = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let svc = StoreServer::new(Arc::new(replica("a", 0.0))).store_service();
    let s = stop.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async move { s.cancelled().await },
            )
            .await
    });
    let q = Querier::start(&[format!("--store={addr}")], stop).await;
    assert_eq!(up_count(&q).await.0, 1);
    let (_, v) = q.get("/api/v1/stores", &[]).await;
    let s = &v["data"]["sidecar"][0];
    assert_eq!(s["healthy"], true, "{v}");
    assert_eq!(s["labelSets"][0]["replica"], "a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_stops_on_shutdown_and_rejects_bad_endpoints() {
    use clap::Parser;

    let args = aeon_querier::Args::try_parse_from([
        "query",
        "--http-address=127.0.0.1:0",
        "--grpc-address=127.0.0.1:0",
        "--http-grace-period=1s",
    ])
    .unwrap();
    let token = CancellationToken::new();
    let task = tokio::spawn(aeon_querier::run(args, token.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!task.is_finished());
    token.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    let args = aeon_querier::Args::try_parse_from([
        "query",
        "--http-address=127.0.0.1:0",
        "--grpc-address=127.0.0.1:0",
        "--store=no-port-here",
    ])
    .unwrap();
    let err = aeon_querier::run(args, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-port-here"), "{err}");
}
