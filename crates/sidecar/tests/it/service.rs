//! The whole sidecar (`start`/`run`, and the `aeon-sidecar` binary) against
//! a real Prometheus: serving, shipping, readiness, reloads, bad inputs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aeon_model::Labels;
use aeon_objstore::{Bucket, FilesystemBucket};
use aeon_sidecar::{Args, Running, start};
use aeon_storeapi::merge::collect_series;
use aeon_storeapi::pb::thanos::{self, label_matcher::Type};
use aeon_storeapi::{ClientOptions, StoreApi, StoreClient};
use clap::Parser;
use tokio_util::sync::CancellationToken;

use crate::common::*;
use crate::shipper::{assert_bucket_has, local_blocks, state_ids};

fn bucket_yaml(dir: &Path) -> String {
    format!(
        "type: FILESYSTEM\nconfig:\n  directory: \"{}\"\n",
        dir.display()
    )
}

fn args(prom_url: &str, tsdb: &Path, extra: &[String]) -> Args {
    let mut v: Vec<String> = vec![
        "sidecar".into(),
        "--http-address=127.0.0.1:0".into(),
        "--grpc-address=127.0.0.1:0".into(),
        format!("--prometheus.url={prom_url}"),
        format!("--tsdb.path={}", tsdb.display()),
        "--prometheus.get_config_interval=200ms".into(),
        "--shipper.sync-interval=200ms".into(),
        "--http-grace-period=5s".into(),
        "--grpc-grace-period=5s".into(),
    ];
    v.extend_from_slice(extra);
    Args::try_parse_from(v).unwrap()
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let r = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn series_req(min: i64, max: i64) -> thanos::SeriesRequest {
    thanos::SeriesRequest {
        min_time: min,
        max_time: max,
        matchers: vec![thanos::LabelMatcher::new(
            Type::Eq,
            "__name__",
            "http_requests_total",
        )],
        ..Default::default()
    }
}

async fn stop(token: CancellationToken, running: Running) {
    token.cancel();
    tokio::time::timeout(Duration::from_secs(20), running.wait())
        .await
        .expect("sidecar shuts down")
        .unwrap();
}

#[tokio::test]
async fn sidecar_serves_ships_and_reports_ready() {
    let prom = start_prometheus(PromOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let bdir = tmp.path().join("bucket");
    let token = CancellationToken::new();
    let running = start(
        args(
            &prom.url,
            &prom.data,
            &[format!("--objstore.config={}", bucket_yaml(&bdir))],
        ),
        token.clone(),
    )
    .await
    .unwrap();
    let http = running.http_addr;
    eventually("ready", || async move {
        http_get(http, "/-/ready").await.0 == 200
    })
    .await;

    let client = StoreClient::connect(&running.grpc_addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let info = client.info().await.unwrap();
    assert_eq!(
        aeon_storeapi::convert::labels_from_pb(&info.label_sets[0].labels),
        Labels::from_pairs(EXT)
    );
    let (series, _) = collect_series(
        client
            .series(series_req(prom.start_ms, i64::MAX))
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(series.len(), 12);

    let blocks = local_blocks(&prom.data);
    let bucket: Arc<dyn Bucket> = Arc::new(FilesystemBucket::new(&bdir).unwrap());
    let b = bucket.clone();
    let want = blocks.clone();
    eventually("all blocks shipped", || {
        let b = b.clone();
        let want = want.clone();
        async move { aeon_objstore::block::list_blocks(b.as_ref()).await.unwrap() == want }
    })
    .await;
    let data = prom.data.clone();
    let n = blocks.len();
    eventually("state file complete", || {
        let data = data.clone();
        async move { data.join("thanos.shipper.json").exists() && state_ids(&data).len() == n }
    })
    .await;
    assert_bucket_has(
        bucket.as_ref(),
        &prom.data,
        &blocks,
        &Labels::from_pairs(EXT),
    )
    .await;

    let (code, metrics) = http_get(http, "/metrics").await;
    assert_eq!(code, 200);
    assert!(
        metrics.contains(&format!("aeon_shipper_uploads_total {n}")),
        "{metrics}"
    );
    assert!(
        metrics.contains("aeon_sidecar_prometheus_up 1"),
        "{metrics}"
    );
    assert!(metrics.contains("aeon_shipper_blocked 0"), "{metrics}");
    assert!(
        metrics.contains("aeon_objstore_"),
        "bucket metrics registered"
    );
    stop(token, running).await;
}

#[tokio::test]
async fn prometheus_down_then_up_then_down_again() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let tmp = tempfile::tempdir().unwrap();
    let token = CancellationToken::new();
    let running = start(args(&url, tmp.path(), &[]), token.clone())
        .await
        .unwrap();
    let http = running.http_addr;

    tokio::time::sleep(Duration::from_millis(500)).await;
    let (code, body) = http_get(http, "/-/ready").await;
    assert_eq!(code, 503);
    assert!(body.contains(&url) && body.contains("not usable"), "{body}");
    let client = StoreClient::connect(&running.grpc_addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let st = tonic::Status::from(client.series(series_req(0, i64::MAX)).await.err().unwrap());
    assert_eq!(st.code(), tonic::Code::Unavailable);
    assert!(st.message().contains(&url), "{}", st.message());
    let st = tonic::Status::from(client.info().await.err().unwrap());
    assert_eq!(st.code(), tonic::Code::Unavailable);
    assert!(
        http_get(http, "/metrics")
            .await
            .1
            .contains("aeon_sidecar_prometheus_up 0")
    );

    // Prometheus comes up on that port: the sidecar becomes ready and serves.
    let prom = start_prometheus(PromOptions {
        port: Some(port),
        ..Default::default()
    })
    .await;
    eventually("ready", || async move {
        http_get(http, "/-/ready").await.0 == 200
    })
    .await;
    let (series, _) = collect_series(
        client
            .series(series_req(prom.start_ms, i64::MAX))
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(series.len(), 12);

    // And goes away again: not ready with the reason, Series Unavailable, no crash.
    drop(prom);
    eventually("not ready again", || async move {
        http_get(http, "/-/ready").await.0 == 503
    })
    .await;
    let st = tonic::Status::from(client.series(series_req(0, i64::MAX)).await.err().unwrap());
    assert_eq!(st.code(), tonic::Code::Unavailable, "{st:?}");
    assert_eq!(http_get(http, "/-/healthy").await.0, 200);
    stop(token, running).await;
}

/// A fake Prometheus whose status APIs work but whose remote read is refused
/// (a failure a real Prometheus cannot be made to produce on demand).
async fn refusing_prometheus() -> String {
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route("/-/ready", get(|| async { "ready" }))
        .route(
            "/api/v1/status/config",
            get(|| async { r#"{"status":"success","data":{"yaml":"global:\n  external_labels:\n    cluster: eu1\n"}}"# }),
        )
        .route(
            "/api/v1/status/flags",
            get(|| async {
                r#"{"status":"success","data":{"storage.tsdb.min-block-duration":"2h","storage.tsdb.max-block-duration":"2h"}}"#
            }),
        )
        .route("/metrics", get(|| async { "prometheus_tsdb_lowest_timestamp_seconds 1000\n" }))
        .route(
            "/api/v1/read",
            post(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "remote read concurrency limit reached\n") }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn remote_read_refused_and_wrong_url() {
    let url = refusing_prometheus().await;
    let tmp = tempfile::tempdir().unwrap();
    let token = CancellationToken::new();
    let running = start(args(&url, tmp.path(), &[]), token.clone())
        .await
        .unwrap();
    let http = running.http_addr;
    eventually("ready", || async move {
        http_get(http, "/-/ready").await.0 == 200
    })
    .await;
    let client = StoreClient::connect(&running.grpc_addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let info = client.info().await.unwrap();
    assert_eq!(info.store.unwrap().min_time, 1_000_000);
    let st = tonic::Status::from(client.series(series_req(0, i64::MAX)).await.err().unwrap());
    assert_eq!(st.code(), tonic::Code::Unavailable);
    assert!(
        st.message().contains("503") && st.message().contains("concurrency limit"),
        "{}",
        st.message()
    );
    assert!(
        http_get(http, "/metrics")
            .await
            .1
            .contains("aeon_sidecar_remote_read_failures_total 1")
    );
    stop(token, running).await;

    // A URL where something else answers (not Prometheus): readiness names the status.
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_addr = other.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(other, axum::Router::new()).await.unwrap() });
    let token = CancellationToken::new();
    let running = start(
        args(&format!("http://{other_addr}"), tmp.path(), &[]),
        token.clone(),
    )
    .await
    .unwrap();
    let http = running.http_addr;
    eventually("reason mentions 404", || async move {
        let (code, body) = http_get(http, "/-/ready").await;
        code == 503 && body.contains("HTTP 404")
    })
    .await;
    stop(token, running).await;

    // A URL that is not a URL: a clear startup error.
    let e = start(
        args("localhost:9090", tmp.path(), &[]),
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("--prometheus.url"), "{e}");
}

#[tokio::test]
async fn reloader_applies_config_changes_to_prometheus() {
    let prom = start_prometheus(PromOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let template = tmp.path().join("prometheus.yml.tmpl");
    std::fs::write(&template, config_yaml(EXT)).unwrap();
    let rules = tmp.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    let token = CancellationToken::new();
    let running = start(
        args(
            &prom.url,
            &prom.data,
            &[
                format!("--reloader.config-file={}", template.display()),
                format!("--reloader.config-envsubst-file={}", prom.config.display()),
                format!("--reloader.rule-dir={}", rules.display()),
                "--reloader.watch-interval=200ms".into(),
                "--reloader.retry-interval=50ms".into(),
            ],
        ),
        token.clone(),
    )
    .await
    .unwrap();
    let state = running.state.clone();
    let s = state.clone();
    eventually("initial config", || {
        let s = s.clone();
        async move {
            s.get()
                .is_some_and(|f| f.external_labels == Labels::from_pairs(EXT))
        }
    })
    .await;

    let home = std::env::var("HOME").unwrap_or_default();
    assert!(!home.is_empty(), "test needs HOME set");
    std::fs::write(
        &template,
        config_yaml(&[("cluster", "eu1"), ("replica", "1"), ("home", "$(HOME)")]),
    )
    .unwrap();
    let want = Labels::from_pairs(&[
        ("cluster", "eu1"),
        ("replica", "1"),
        ("home", home.as_str()),
    ]);
    let s = state.clone();
    let w = want.clone();
    eventually("prometheus reloaded with new external labels", || {
        let s = s.clone();
        let w = w.clone();
        async move { s.get().is_some_and(|f| f.external_labels == w) }
    })
    .await;
    assert!(
        std::fs::read_to_string(&prom.config)
            .unwrap()
            .contains(&home),
        "substituted config written"
    );
    let http = running.http_addr;
    let metrics = http_get(http, "/metrics").await.1;
    assert!(
        !metrics.contains("aeon_reloader_reloads_total 0"),
        "{metrics}"
    );
    stop(token, running).await;
}

#[tokio::test]
async fn sigkill_during_shipping_then_restart_loses_nothing() {
    let prom = start_prometheus(PromOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let bdir = tmp.path().join("bucket");
    let bin = env!("CARGO_BIN_EXE_aeon-sidecar");
    let spawn = || {
        std::process::Command::new(bin)
            .arg(format!("--prometheus.url={}", prom.url))
            .arg(format!("--tsdb.path={}", prom.data.display()))
            .arg(format!("--objstore.config={}", bucket_yaml(&bdir)))
            .arg("--http-address=127.0.0.1:0")
            .arg("--grpc-address=127.0.0.1:0")
            .arg("--shipper.sync-interval=50ms")
            .arg("--prometheus.get_config_interval=1s")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let blocks = local_blocks(&prom.data);
    // Files the blocks make in the bucket once all are shipped.
    let total: usize = blocks
        .iter()
        .map(|id| files_under(&prom.data.join(id.to_string())))
        .sum();
    assert!(total >= 2 * blocks.len(), "{total} files in {blocks:?}");
    // Each round kills the sidecar right after the bucket gained a file:
    // mid-shipping by construction, not by a guessed delay.
    let mut mid_shipping_kills = 0;
    for _ in 0..6 {
        let before = files_under(&bdir);
        if before >= total {
            break;
        }
        let mut child = spawn();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while files_under(&bdir) <= before && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let after = files_under(&bdir);
        assert!(after > before, "the sidecar shipped nothing in 30 s");
        if after < total {
            mid_shipping_kills += 1;
        }
    }
    assert!(
        mid_shipping_kills >= 1,
        "no kill landed while shipping was unfinished ({total} files)"
    );
    let mut child = spawn();
    let data = prom.data.clone();
    let n = blocks.len();
    eventually("restarted sidecar ships everything", || {
        let data = data.clone();
        async move { data.join("thanos.shipper.json").exists() && state_ids(&data).len() == n }
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let bucket = FilesystemBucket::new(&bdir).unwrap();
    assert_bucket_has(&bucket, &prom.data, &blocks, &Labels::from_pairs(EXT)).await;
}

/// Regular files below `dir` (0 when it does not exist).
fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => files_under(&e.path()),
            Ok(t) if t.is_file() => 1,
            _ => 0,
        })
        .sum()
}
