//! Series through the sidecar (gRPC client → sidecar → Prometheus remote
//! read) against Prometheus' remote read called directly (STREAMED_XOR_CHUNKS,
//! frames decoded), for 1k and 10k series of 120 samples each, on a real
//! Prometheus 3.5 with promtool-backfilled data.
//!
//! `cargo bench -p aeon-sidecar --bench series` (needs
//! `$AEON_PEERS_DIR/prometheus3/bin`, default /opt/peers).

#![allow(clippy::unwrap_used)] // benchmark setup may unwrap

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use aeon_sidecar::{Limits, Metrics, PromClient, PromState, PrometheusStore};
use aeon_storeapi::pb::{prometheus as prom, thanos};
use aeon_storeapi::{ClientOptions, ServerOptions, StoreApi, StoreClient};
use criterion::{Criterion, criterion_group, criterion_main};
use futures::StreamExt;

const GROUPS: usize = 10;
const PER_GROUP: usize = 1000;
const SAMPLES: i64 = 120;
const STEP: i64 = 30_000;

struct Prom(std::process::Child);
impl Drop for Prom {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin(name: &str) -> std::path::PathBuf {
    match name {
        "promtool" => aeon_testkit::peers::promtool(),
        _ => aeon_testkit::peers::prometheus(),
    }
}

fn setup(dir: &Path) -> (Prom, String, i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let t0 = (now - 3 * 3_600_000) / 3_600_000 * 3_600_000;
    let mut om = String::from("# TYPE bench_metric gauge\n");
    for g in 0..GROUPS {
        for i in 0..PER_GROUP {
            for k in 0..SAMPLES {
                let t = t0 + k * STEP;
                let _ = writeln!(
                    om,
                    "bench_metric{{group=\"g{g}\",series=\"s{i:04}\"}} {} {}.{:03}",
                    (k * 7 + i as i64) % 1000,
                    t / 1000,
                    t % 1000
                );
            }
        }
    }
    om.push_str("# EOF\n");
    let data = dir.join("data");
    std::fs::write(dir.join("in.om"), om).unwrap();
    let out = Command::new(bin("promtool"))
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(dir.join("in.om"))
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  external_labels:\n    cluster: bench\n    replica: \"0\"\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin("prometheus"))
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.min-block-duration=2h")
        .arg("--storage.tsdb.max-block-duration=2h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Prom(child), format!("http://127.0.0.1:{port}"), t0)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (_prom, url, t0) = setup(tmp.path());
    let client = PromClient::new(&url, Duration::from_secs(60)).unwrap();
    let facts = rt.block_on(async {
        for _ in 0..600 {
            if let Ok(f) = aeon_sidecar::state::fetch_facts(&client).await {
                return f;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("prometheus at {url} did not come up");
    });
    let store: Arc<dyn StoreApi> = Arc::new(PrometheusStore::new(
        client.clone(),
        PromState::with(facts),
        aeon_common::flags::TimeOrDuration::MIN,
        Limits::default(),
        Metrics::default(),
    ));
    let token = tokio_util::sync::CancellationToken::new();
    let grpc = rt.block_on(async {
        let (addr, _) = aeon_storeapi::spawn_server(
            store.clone(),
            "127.0.0.1:0".parse().unwrap(),
            ServerOptions::default(),
            token.clone().cancelled_owned(),
        )
        .await
        .unwrap();
        StoreClient::connect(&addr.to_string(), ClientOptions::default())
            .await
            .unwrap()
    });
    let (mint, maxt) = (t0, t0 + SAMPLES * STEP);

    let mut g = c.benchmark_group("series");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for (name, matcher, want) in [
        ("1k", ("group", "g0"), PER_GROUP),
        ("10k", ("__name__", "bench_metric"), GROUPS * PER_GROUP),
    ] {
        let pm = prom::LabelMatcher {
            r#type: 0,
            name: matcher.0.into(),
            value: matcher.1.into(),
        };
        g.bench_function(format!("remote_read_direct/{name}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let q = prom::Query {
                        start_timestamp_ms: mint,
                        end_timestamp_ms: maxt,
                        matchers: vec![pm.clone()],
                        hints: None,
                    };
                    let mut s = client.remote_read(q).await.unwrap();
                    let mut n = 0;
                    while let Some(cs) = s.next().await {
                        cs.unwrap();
                        n += 1;
                    }
                    assert_eq!(n, want);
                })
            })
        });
        let req = thanos::SeriesRequest {
            min_time: mint,
            max_time: maxt,
            matchers: vec![thanos::LabelMatcher::new(
                thanos::label_matcher::Type::Eq,
                matcher.0,
                matcher.1,
            )],
            ..Default::default()
        };
        g.bench_function(format!("sidecar_grpc/{name}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let (series, _) = aeon_storeapi::merge::collect_series(
                        grpc.series(req.clone()).await.unwrap(),
                    )
                    .await
                    .unwrap();
                    assert_eq!(series.len(), want);
                })
            })
        });
    }
    g.finish();
    token.cancel();
}

criterion_group!(benches, bench);
criterion_main!(benches);
