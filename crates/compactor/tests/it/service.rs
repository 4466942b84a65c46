use aeon_compactor::{Args, run};
use clap::Parser;
use tokio_util::sync::CancellationToken;

use crate::util::*;

#[tokio::test]
async fn run_without_wait_does_one_iteration_and_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let dirs = promtool_blocks(
        &openmetrics(&["up{job=\"a\"}"], T0_S, T0_S + 12 * 3600, 60, 1),
        work,
        "in",
    );
    set_thanos(&dirs, &[("cluster", "eu1")]);
    let bucket_dir = work.join("bucket");
    let bucket = fs_bucket(&bucket_dir);
    upload(bucket.as_ref(), &dirs).await;
    let yaml = format!(
        "type: FILESYSTEM\nconfig:\n  directory: \"{}\"\n",
        bucket_dir.display()
    );
    let data = work.join("data");
    let args = Args::try_parse_from([
        "aeon-compactor".to_string(),
        format!("--data-dir={}", data.display()),
        format!("--objstore.config={yaml}"),
        "--http-address=127.0.0.1:0".to_string(),
        "--consistency-delay=0s".to_string(),
        "--delete-delay=0s".to_string(),
    ])
    .unwrap();
    tokio::time::timeout(
        std::time::Duration::from_secs(120),
        run(args, CancellationToken::new()),
    )
    .await
    .expect("one iteration finishes")
    .unwrap();
    let st = state(bucket.as_ref()).await;
    // 8h window compacted and its sources deleted in the same iteration.
    assert_eq!(st.metas.len(), 3);
    assert!(st.metas.iter().any(|m| m.compaction.level == 2));
}

async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn run_with_wait_serves_metrics_stops_on_shutdown_and_bad_config_fails_fast() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let dirs = promtool_blocks(
        &openmetrics(&["up{job=\"a\"}"], T0_S, T0_S + 12 * 3600, 60, 1),
        work,
        "in",
    );
    set_thanos(&dirs, &[("cluster", "eu1")]);
    let bucket_dir = work.join("bucket");
    let bucket = fs_bucket(&bucket_dir);
    upload(bucket.as_ref(), &dirs).await;
    let yaml = format!(
        "type: FILESYSTEM\nconfig:\n  directory: \"{}\"\n",
        bucket_dir.display()
    );
    let port = aeon_objstore::testutil::free_port().unwrap();
    let args = Args::try_parse_from([
        "aeon-compactor".to_string(),
        format!("--data-dir={}", work.join("data").display()),
        format!("--objstore.config={yaml}"),
        format!("--http-address=127.0.0.1:{port}"),
        "--consistency-delay=0s".to_string(),
        "--wait".to_string(),
    ])
    .unwrap();
    let token = CancellationToken::new();
    let h = tokio::spawn(run(args.clone(), token.clone()));
    // Wait for the first iteration to finish.
    let mut metrics = String::new();
    for _ in 0..200 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            metrics = http_get(port, "/metrics").await;
            if metrics.contains("aeon_compact_iterations_total 1") {
                break;
            }
        }
    }
    assert!(
        metrics.contains("aeon_compact_iterations_total 1"),
        "{metrics}"
    );
    for want in [
        "aeon_compact_halted 0",
        "aeon_compact_todo_compaction_blocks 0",
        "aeon_compact_todo_downsample_blocks 0",
        "aeon_compact_todo_deletion_blocks 4",
        "aeon_compact_groups_quarantined 0",
        "aeon_compact_group_compactions_total{group=",
        "aeon_objstore_bucket_operations_total",
    ] {
        assert!(metrics.contains(want), "{want} missing in:\n{metrics}");
    }
    assert!(http_get(port, "/-/ready").await.contains("200 OK"));
    assert!(!h.is_finished(), "--wait keeps running");
    token.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(10), h)
        .await
        .expect("graceful shutdown")
        .unwrap()
        .unwrap();

    let mut bad = args.clone();
    bad.objstore.objstore_config = None;
    let e = run(bad, CancellationToken::new()).await.unwrap_err();
    assert!(e.to_string().contains("objstore.config"), "{e}");
    let mut bad = args;
    bad.dedup_func = "nope".into();
    assert!(run(bad, CancellationToken::new()).await.is_err());
}
