//! Memory and latency figures of the store gateway with many small blocks.
//!
//! `cargo run --release -p aeon-store-gateway --example blocks_bench -- [BLOCKS] [SERIES_PER_BLOCK]`
//!
//! Writes BLOCKS blocks (default 1000: 10 clusters × 100 two-hour ranges,
//! SERIES_PER_BLOCK series each, default 100, one 120-sample chunk per
//! series) into a filesystem bucket in a child process, then in a fresh
//! process measures: RSS per block after sync (metas only), after building
//! index-headers, with every index-header resident, after idle unloading;
//! time to ready on first start and on restart (persisted index-headers);
//! Series latency of a dashboard-like selector; bytes fetched vs returned.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aeon_model::{Labels, MatchType, Matcher};
use aeon_objstore::{Bucket, FilesystemBucket};
use aeon_store_gateway::{Args, Gateway};
use aeon_storeapi::StoreApi;
use aeon_storeapi::convert::matchers_to_pb;
use aeon_storeapi::pb::thanos;
use aeon_tsdb_block::meta::ThanosMeta;
use aeon_tsdb_block::{BlockWriter, BlockWriterOptions};
use clap::Parser;

const T0: i64 = 1_699_920_000_000;
const H2: i64 = 7_200_000;
const CLUSTERS: usize = 10;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn generate(bucket_dir: &Path, blocks: usize, series: usize) {
    std::fs::create_dir_all(bucket_dir).unwrap();
    for b in 0..blocks {
        let cluster = b % CLUSTERS;
        let t = T0 + (b / CLUSTERS) as i64 * H2;
        let mut w = BlockWriter::new(
            bucket_dir,
            BlockWriterOptions {
                thanos: Some(ThanosMeta {
                    version: 1,
                    labels: [
                        ("cluster".to_string(), format!("c{cluster}")),
                        ("replica".to_string(), "a".to_string()),
                    ]
                    .into(),
                    source: "sidecar".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .unwrap();
        let mut ls: Vec<Labels> = (0..series)
            .map(|i| {
                Labels::from_pairs(&[
                    (
                        "__name__",
                        if i % 4 == 0 {
                            "http_requests_total"
                        } else {
                            "node_metric"
                        },
                    ),
                    ("instance", &format!("i-{:03}", i / 4)),
                    ("job", if i % 2 == 0 { "api" } else { "node" }),
                    ("le", &format!("{}", i % 4)),
                ])
            })
            .collect();
        ls.sort();
        for (i, l) in ls.into_iter().enumerate() {
            let samples: Vec<(i64, f64)> = (0..120)
                .map(|k| {
                    (
                        t + k * 60_000,
                        (i as i64 * 1000 + k * (i as i64 % 7)) as f64,
                    )
                })
                .collect();
            w.add_float_series(l, &samples).unwrap();
        }
        w.finish().unwrap();
    }
}

fn args(data: &Path) -> Args {
    Args::try_parse_from([
        "store".to_string(),
        format!("--data-dir={}", data.display()),
    ])
    .unwrap()
}

async fn query(store: &dyn StoreApi, mint: i64, maxt: i64) -> (usize, u64) {
    let ms = [
        Matcher::new(MatchType::Equal, "__name__", "http_requests_total").unwrap(),
        Matcher::new(MatchType::Equal, "job", "api").unwrap(),
        Matcher::new(MatchType::RegexMatch, "instance", "i-00.*").unwrap(),
        Matcher::new(MatchType::Equal, "cluster", "c3").unwrap(),
    ];
    let req = thanos::SeriesRequest {
        min_time: mint,
        max_time: maxt,
        matchers: matchers_to_pb(&ms),
        ..Default::default()
    };
    let (s, w) = aeon_storeapi::merge::collect_series(store.series(req).await.unwrap())
        .await
        .unwrap();
    assert!(w.is_empty(), "{w:?}");
    let bytes: u64 = s
        .iter()
        .map(|x| {
            x.chunks
                .iter()
                .map(|c| c.raw.as_ref().map_or(0, |r| r.data.len() as u64))
                .sum::<u64>()
                + x.labels
                    .iter()
                    .map(|l| (l.name.len() + l.value.len()) as u64)
                    .sum::<u64>()
        })
        .sum();
    (s.len(), bytes)
}

fn fetched(gw: &Gateway) -> u64 {
    ["postings", "series", "chunks"]
        .iter()
        .map(|k| gw.metrics.fetched_bytes(k))
        .sum()
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("gen") {
        generate(
            Path::new(&argv[2]),
            argv[3].parse().unwrap(),
            argv[4].parse().unwrap(),
        );
        return;
    }
    let blocks: usize = argv.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let series: usize = argv.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let tmp = tempfile::tempdir().unwrap();
    let bucket_dir = tmp.path().join("bucket");
    let t = Instant::now();
    let st = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "gen",
            bucket_dir.to_str().unwrap(),
            &blocks.to_string(),
            &series.to_string(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    println!(
        "generated {blocks} blocks × {series} series in {:?}",
        t.elapsed()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let bucket: Arc<dyn Bucket> = Arc::new(FilesystemBucket::new(&bucket_dir).unwrap());
        let data = tmp.path().join("data");
        let rss0 = rss_kb();
        let mut reg = aeon_common::Registry::default();
        let gw = Gateway::with_bucket(bucket.clone(), &args(&data), &mut reg).unwrap();
        let t = Instant::now();
        let r = gw.syncer.sync().await.unwrap();
        let t_sync = t.elapsed();
        assert_eq!(r.selected.len(), blocks);
        let rss1 = rss_kb();
        let failed = gw.syncer.load_headers().await;
        assert!(failed.is_empty(), "{failed:?}");
        let t_ready = t.elapsed();
        let rss2 = rss_kb();
        // Touch every block so that every index-header is resident.
        let all = thanos::SeriesRequest {
            min_time: i64::MIN,
            max_time: i64::MAX,
            matchers: matchers_to_pb(&[Matcher::new(MatchType::Equal, "__name__", "none").unwrap()]),
            ..Default::default()
        };
        aeon_storeapi::merge::collect_series(gw.store.series(all).await.unwrap()).await.unwrap();
        let resident = gw.store.blocks().iter().filter(|b| b.is_resident()).count();
        let rss3 = rss_kb();
        let unloaded = gw.store.unload_idle(Duration::ZERO);
        let rss4 = rss_kb();
        let per = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / blocks as f64;
        println!("sync (list + {blocks} meta.json): {t_sync:?}; ready incl. building index-headers: {t_ready:?}");
        println!("RSS per block, metas only:              {:.1} KiB", per(rss0, rss1));
        println!("RSS per block, after index-header build: {:.1} KiB (headers persisted, not resident)", per(rss0, rss2));
        println!("RSS per block, all {resident} headers resident:   {:.1} KiB", per(rss0, rss3));
        println!("RSS per block, after unloading {unloaded} idle:   {:.1} KiB", per(rss0, rss4));

        // Dashboard panel: last 24h of one cluster (12 blocks), 3 instances.
        let maxt = T0 + (blocks / CLUSTERS) as i64 * H2;
        let mint = maxt - 12 * H2;
        let f0 = fetched(&gw);
        let t = Instant::now();
        let (n, ret) = query(gw.store.as_ref(), mint, maxt).await;
        let cold = t.elapsed();
        let cold_fetched = fetched(&gw) - f0;
        let mut lat = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            query(gw.store.as_ref(), mint, maxt).await;
            lat.push(t.elapsed());
        }
        lat.sort();
        println!(
            "Series (dashboard selector, 24h, {n} series): cold {cold:?}, warm p50 {:?} p90 {:?}",
            lat[lat.len() / 2],
            lat[lat.len() * 9 / 10]
        );
        println!("bytes fetched (cold) {cold_fetched} vs returned {ret} (ratio {:.2})", cold_fetched as f64 / ret.max(1) as f64);
        drop(gw);

        // Restart on the same data dir: index-headers are reused.
        let mut reg = aeon_common::Registry::default();
        let gw = Gateway::with_bucket(bucket, &args(&data), &mut reg).unwrap();
        let t = Instant::now();
        gw.sync_and_load().await.unwrap();
        println!(
            "restart to ready with persisted index-headers: {:?} ({} index bytes fetched)",
            t.elapsed(),
            gw.metrics.fetched_bytes("index_header")
        );
    });
}
