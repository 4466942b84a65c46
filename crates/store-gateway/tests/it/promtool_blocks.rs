//! Blocks written by the real promtool 3.5, uploaded to a filesystem bucket
//! and to a real S3 server: Series through the gateway decode to exactly
//! what `promtool tsdb dump` prints for the same blocks, in-process and
//! over gRPC.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use aeon_model::MatchType::{Equal, NotEqual, RegexMatch};
use aeon_objstore::{Bucket, FilesystemBucket};
use aeon_storeapi::merge::check_sorted;
use aeon_storeapi::{ClientOptions, ServerOptions, StoreApi, StoreClient, spawn_server};

use crate::util::*;

const EXT: [(&str, &str); 2] = [("cluster", "eu-1"), ("replica", "a")];

async fn compare_with_promtool(store: &dyn StoreApi, blocks_dir: &Path) {
    // Everything.
    let (s, w) = series(
        store,
        req(&[m(RegexMatch, "__name__", ".+")], i64::MIN, i64::MAX),
    )
    .await;
    assert!(w.is_empty(), "warnings: {w:?}");
    check_sorted(&s).unwrap();
    assert!(s.iter().all(|x| {
        x.labels
            .iter()
            .any(|l| l.name == "cluster" && l.value == "eu-1")
    }));
    let ours = dump_lines(&s, &["cluster", "replica"], i64::MIN, i64::MAX);
    let want = promtool_dump(blocks_dir, &[]);
    assert!(want.lines().count() > 10_000, "test data too small");
    assert!(
        ours == want,
        "full dump differs: {}",
        first_diff(&ours, &want)
    );

    // A dashboard-like selector over a range crossing block boundaries.
    let (mint, maxt) = (T0 + 3 * 3_600_000 + 123, T0 + 9 * 3_600_000 - 77);
    let ms = [
        m(Equal, "__name__", "http_requests_total"),
        m(RegexMatch, "code", "5.."),
        m(NotEqual, "method", "POST"),
    ];
    let (s, w) = series(store, req(&ms, mint, maxt)).await;
    assert!(w.is_empty(), "warnings: {w:?}");
    assert!(!s.is_empty());
    let ours = dump_lines(&s, &["cluster", "replica"], mint, maxt);
    let want = promtool_dump(
        blocks_dir,
        &[
            "--match=http_requests_total{code=~\"5..\",method!=\"POST\"}",
            &format!("--min-time={mint}"),
            &format!("--max-time={maxt}"),
        ],
    );
    assert!(
        ours == want,
        "selector dump differs: {}",
        first_diff(&ours, &want)
    );

    // External-label matchers: matching keeps everything, contradicting empties.
    let ms = [
        m(Equal, "__name__", "node_load1"),
        m(Equal, "cluster", "eu-1"),
    ];
    let (s, _) = series(store, req(&ms, i64::MIN, i64::MAX)).await;
    let want = promtool_dump(blocks_dir, &["--match=node_load1"]);
    assert_eq!(
        dump_lines(&s, &["cluster", "replica"], i64::MIN, i64::MAX),
        want
    );
    let ms = [
        m(Equal, "__name__", "node_load1"),
        m(Equal, "cluster", "us"),
    ];
    assert!(
        series(store, req(&ms, i64::MIN, i64::MAX))
            .await
            .0
            .is_empty()
    );
}

async fn over_the_wire(
    store: Arc<dyn StoreApi>,
) -> (SocketAddr, tokio_util::sync::CancellationToken) {
    let stop = tokio_util::sync::CancellationToken::new();
    let s2 = stop.clone();
    let (addr, _h) = spawn_server(
        store,
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions::default(),
        async move { s2.cancelled().await },
    )
    .await
    .unwrap();
    (addr, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filesystem_bucket_series_equal_promtool_dump_in_process_and_over_grpc() {
    let tmp = tempfile::tempdir().unwrap();
    let om = gen_openmetrics(7, 40, 24, 60);
    let blocks = promtool_blocks(&om, tmp.path());
    assert!(
        blocks.len() >= 12,
        "a day of data makes at least 12 2h blocks, got {}",
        blocks.len()
    );
    for b in &blocks {
        add_thanos(b, &EXT, 0);
    }
    let bucket: Arc<dyn Bucket> =
        Arc::new(FilesystemBucket::new(tmp.path().join("bucket")).unwrap());
    upload(bucket.as_ref(), &blocks).await;
    let data = tmp.path().join("data");
    let gw = gateway(bucket.clone(), &data, &[]).await;
    assert_eq!(gw.store.blocks().len(), blocks.len());
    assert!(gw.store.blocks().iter().all(|b| b.is_loaded()));
    // Index-headers are persisted under --data-dir.
    for b in &blocks {
        let id = b.file_name().unwrap().to_str().unwrap();
        assert!(
            data.join(id).join("index-header").is_file(),
            "no index-header for {id}"
        );
    }
    // Loaded lazily: after the sync nothing is held in memory...
    assert!(gw.store.blocks().iter().all(|b| !b.is_resident()));
    let store: Arc<dyn StoreApi> = gw.store.clone();
    compare_with_promtool(store.as_ref(), &tmp.path().join("blocks")).await;
    // ...queried blocks are, until they go idle.
    assert!(gw.store.blocks().iter().all(|b| b.is_resident()));
    assert_eq!(
        gw.store.unload_idle(std::time::Duration::ZERO),
        blocks.len()
    );
    assert!(gw.store.blocks().iter().all(|b| !b.is_resident()));

    // Same answers over gRPC.
    let (addr, stop) = over_the_wire(store.clone()).await;
    let client = StoreClient::connect(&addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let r = req(
        &[m(RegexMatch, "__name__", "node_.*")],
        T0,
        T0 + 5 * 3_600_000,
    );
    let local = series(store.as_ref(), r.clone()).await;
    let remote = series(&client, r).await;
    assert!(!local.0.is_empty());
    assert_eq!(local, remote);
    let info = client.info().await.unwrap();
    let st = info.store.unwrap();
    assert_eq!(info.label_sets.len(), 1);
    assert_eq!(st.min_time, T0);
    assert!(st.max_time >= T0 + 24 * 3_600_000 - 60_000);

    // Label APIs.
    let names = store
        .label_names(aeon_storeapi::pb::thanos::LabelNamesRequest {
            start: i64::MIN,
            end: i64::MAX,
            ..Default::default()
        })
        .await
        .unwrap()
        .names;
    for n in [
        "__name__", "cluster", "code", "instance", "job", "le", "method", "replica",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    let vals = store
        .label_values(aeon_storeapi::pb::thanos::LabelValuesRequest {
            label: "method".into(),
            start: i64::MIN,
            end: i64::MAX,
            matchers: aeon_storeapi::convert::matchers_to_pb(&[m(Equal, "code", "500")]),
            ..Default::default()
        })
        .await
        .unwrap()
        .values;
    assert_eq!(vals, vec!["GET", "POST"]);

    // A restarted gateway reuses the persisted index-headers (no index reads).
    let gw2 = gateway(bucket, &data, &[]).await;
    assert_eq!(gw2.metrics.fetched_bytes("index_header"), 0);
    assert_eq!(gw2.store.blocks().len(), blocks.len());
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_bucket_series_equal_promtool_dump() {
    let server = aeon_objstore::testutil::S3Server::start().expect("s3s-fs test server");
    let tmp = tempfile::tempdir().unwrap();
    let om = gen_openmetrics(11, 12, 24, 60);
    let blocks = promtool_blocks(&om, tmp.path());
    for b in &blocks {
        add_thanos(b, &EXT, 0);
    }
    let mut reg = aeon_common::Registry::default();
    let bucket = aeon_objstore::from_yaml(&server.yaml(), "s3s-fs", &mut reg)
        .await
        .unwrap();
    upload(bucket.as_ref(), &blocks).await;
    let gw = gateway(bucket, &tmp.path().join("data"), &[]).await;
    assert_eq!(gw.store.blocks().len(), blocks.len());
    compare_with_promtool(gw.store.as_ref(), &tmp.path().join("blocks")).await;

    // The second identical query is served from the index cache.
    let r = req(
        &[m(Equal, "__name__", "node_load1")],
        T0,
        T0 + 6 * 3_600_000,
    );
    let before = gw.metrics.cache_hit_count("ExpandedPostings");
    let postings_bytes = gw.metrics.fetched_bytes("postings");
    let a = series(gw.store.as_ref(), r.clone()).await;
    let b = series(gw.store.as_ref(), r).await;
    assert_eq!(a, b);
    assert!(gw.metrics.cache_hit_count("ExpandedPostings") > before);
    assert!(gw.metrics.fetched_bytes("postings") >= postings_bytes);
    assert!(gw.metrics.fetched_bytes("chunks") > 0);
}
