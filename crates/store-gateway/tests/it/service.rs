//! The whole service (`run_with_listeners`): readiness after the initial
//! sync, Store API over gRPC with limits, downsampled block selection.

use std::sync::Arc;
use std::time::Duration;

use aeon_model::Labels;
use aeon_model::MatchType::{Equal, RegexMatch};
use aeon_objstore::{Bucket, FilesystemBucket};
use aeon_storeapi::pb::thanos;
use aeon_storeapi::{ClientOptions, StoreApi, StoreClient};
use aeon_tsdb_block::chunkenc::{Encoding, XorEncoder, encode_aggr};
use aeon_tsdb_block::meta::ThanosMeta;
use aeon_tsdb_block::{BlockWriter, BlockWriterOptions, EncodedChunk};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::*;

const H: i64 = 3_600_000;

fn block(
    dir: &std::path::Path,
    resolution: i64,
    chunks: Vec<(Labels, Vec<EncodedChunk>)>,
) -> std::path::PathBuf {
    let mut w = BlockWriter::new(
        dir,
        BlockWriterOptions {
            // Downsampled blocks keep the time range of their raw source.
            min_time: Some(T0),
            max_time: Some(T0 + 2 * H),
            thanos: Some(ThanosMeta {
                version: 1,
                labels: [("dc".to_string(), "z".to_string())].into(),
                source: "test".into(),
                downsample: aeon_tsdb_block::meta::ThanosDownsample { resolution },
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .unwrap();
    for (l, c) in chunks {
        w.add_series_chunks(l, &c).unwrap();
    }
    w.finish().unwrap().1
}

fn xor(samples: &[(i64, f64)]) -> Vec<u8> {
    let mut e = XorEncoder::new();
    for &(t, v) in samples {
        e.append(t, v);
    }
    e.finish()
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_serves_grpc_and_http_with_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let data: Vec<(Labels, Vec<EncodedChunk>)> = (0..5)
        .map(|i| {
            let samples: Vec<(i64, f64)> = (0..100)
                .map(|k| (T0 + k * 60_000, (i * k) as f64))
                .collect();
            (
                Labels::from_pairs(&[("__name__", "svc_metric"), ("i", &i.to_string())]),
                vec![EncodedChunk {
                    min_time: T0,
                    max_time: T0 + 99 * 60_000,
                    encoding: Encoding::Xor,
                    data: xor(&samples),
                }],
            )
        })
        .collect();
    let b = block(&src, 0, data);
    let bucket_dir = tmp.path().join("bucket");
    let bucket: Arc<dyn Bucket> = Arc::new(FilesystemBucket::new(&bucket_dir).unwrap());
    upload(bucket.as_ref(), &[b]).await;

    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (http_addr, grpc_addr) = (http.local_addr().unwrap(), grpc.local_addr().unwrap());
    let a = args(
        &tmp.path().join("data"),
        &[
            &format!(
                "--objstore.config=type: FILESYSTEM\nconfig:\n  directory: {}\n",
                bucket_dir.display()
            ),
            "--store.limits.request-series=3",
            "--store.limits.request-samples=10000",
        ],
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(aeon_store_gateway::run_with_listeners(
        a,
        http,
        grpc,
        stop.clone(),
    ));
    let mut ready = false;
    for _ in 0..100 {
        if http_get(http_addr, "/-/ready")
            .await
            .starts_with("HTTP/1.1 200")
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ready,
        "not ready: {}",
        http_get(http_addr, "/-/ready").await
    );
    let metrics = http_get(http_addr, "/metrics").await;
    assert!(
        metrics.contains("aeon_store_gateway_blocks_loaded 1"),
        "{metrics}"
    );

    let c = StoreClient::connect(&grpc_addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let info = c.info().await.unwrap();
    assert_eq!(info.component_type, "store");
    assert_eq!(
        info.label_sets[0].labels,
        vec![thanos::Label::new("dc", "z")]
    );
    // Within limits: 3 series, 3 chunks × 120 ≤ 10000.
    let (s, _) = series(&c, req(&[m(RegexMatch, "i", "[0-2]")], T0, T0 + H)).await;
    assert_eq!(s.len(), 3);
    // Hints: block matchers on __block_id select blocks.
    let id = c.info().await.unwrap().store.unwrap().tsdb_infos.len();
    assert_eq!(id, 1);
    let mut r = req(&[m(RegexMatch, "i", "[0-2]")], T0, T0 + H);
    r.hints = Some(aeon_storeapi::pack_any(
        "hintspb.SeriesRequestHints",
        &aeon_storeapi::pb::hintspb::SeriesRequestHints {
            block_matchers: aeon_storeapi::convert::matchers_to_pb(&[m(
                Equal,
                "__block_id",
                "01ABSENT",
            )]),
            enable_query_stats: false,
        },
    ));
    assert!(
        series(&c, r).await.0.is_empty(),
        "no block matches the hint"
    );
    // Over the series limit: ResourceExhausted naming the flag.
    let err = match c
        .series(req(&[m(Equal, "__name__", "svc_metric")], T0, T0 + H))
        .await
    {
        Err(e) => e,
        Ok(st) => aeon_storeapi::merge::collect_series(st).await.unwrap_err(),
    };
    let status = tonic_status(err);
    assert_eq!(status.0, "ResourceExhausted", "{status:?}");
    assert!(status.1.contains("request-series"), "{status:?}");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn missing_objstore_config_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let e = aeon_store_gateway::run_with_listeners(
        args(tmp.path(), &[]),
        http,
        grpc,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("--objstore.config-file"), "{e}");
}

fn tonic_status(e: aeon_storeapi::Error) -> (String, String) {
    let st = tonic::Status::from(e);
    (format!("{:?}", st.code()), st.message().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_resolution_window_selects_downsampled_blocks_and_aggregates() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let l = Labels::from_pairs(&[("__name__", "ds_metric")]);
    let raw: Vec<(i64, f64)> = (0..120).map(|k| (T0 + k * 60_000, k as f64)).collect();
    let raw_block = block(
        &src,
        0,
        vec![(
            l.clone(),
            vec![EncodedChunk {
                min_time: T0,
                max_time: T0 + 119 * 60_000,
                encoding: Encoding::Xor,
                data: xor(&raw),
            }],
        )],
    );
    // 5m aggregates over the same 2h: count, sum, max present; min, counter absent.
    let win: Vec<i64> = (0..24).map(|w| T0 + w * 300_000 + 299_999).collect();
    let count = xor(&win.iter().map(|&t| (t, 5.0)).collect::<Vec<_>>());
    let sum = xor(&win
        .iter()
        .enumerate()
        .map(|(w, &t)| (t, (w * 25 + 10) as f64))
        .collect::<Vec<_>>());
    let max = xor(&win
        .iter()
        .enumerate()
        .map(|(w, &t)| (t, (w * 5 + 4) as f64))
        .collect::<Vec<_>>());
    let aggr = encode_aggr([
        Some((Encoding::Xor, &count)),
        Some((Encoding::Xor, &sum)),
        None,
        Some((Encoding::Xor, &max)),
        None,
    ]);
    let ds_block = block(
        &src,
        300_000,
        vec![(
            l.clone(),
            vec![EncodedChunk {
                min_time: win[0],
                max_time: win[23],
                encoding: Encoding::Aggr,
                data: aggr,
            }],
        )],
    );
    let bucket: Arc<dyn Bucket> =
        Arc::new(FilesystemBucket::new(tmp.path().join("bucket")).unwrap());
    upload(bucket.as_ref(), &[raw_block, ds_block]).await;
    let gw = gateway(bucket, &tmp.path().join("data"), &[]).await;
    assert_eq!(gw.store.blocks().len(), 2);

    let ms = [m(Equal, "__name__", "ds_metric")];
    // Raw only.
    let (s, _) = series(gw.store.as_ref(), req(&ms, T0, T0 + 2 * H)).await;
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].chunks.len(), 1);
    assert!(s[0].chunks[0].raw.is_some() && s[0].chunks[0].count.is_none());
    // 5m allowed: the downsampled block answers with the asked aggregates.
    let mut r = req(&ms, T0, T0 + 2 * H);
    r.max_resolution_window = 300_000;
    r.aggregates = vec![thanos::Aggr::Count as i32, thanos::Aggr::Sum as i32];
    let (s, _) = series(gw.store.as_ref(), r.clone()).await;
    assert_eq!(s[0].chunks.len(), 1, "only the coarser block is used");
    let c = &s[0].chunks[0];
    assert!(c.raw.is_none() && c.max.is_none());
    assert_eq!(&c.count.as_ref().unwrap().data[..], &count[..]);
    assert_eq!(&c.sum.as_ref().unwrap().data[..], &sum[..]);
    // An absent aggregate asked for is an error naming the block.
    r.aggregates = vec![thanos::Aggr::Min as i32];
    let st = gw.store.series(r).await.unwrap();
    let (_, w) = aeon_storeapi::merge::collect_series(st).await.unwrap();
    assert!(
        w.iter().any(|x| x.contains("min") && x.contains("missing")),
        "{w:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_pool_bounds_chunk_bytes_in_flight() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let data: Vec<(Labels, Vec<EncodedChunk>)> = (0..20)
        .map(|i| {
            let samples: Vec<(i64, f64)> = (0..120)
                .map(|k| (T0 + k * 60_000, (i * k) as f64 * 1.37))
                .collect();
            (
                Labels::from_pairs(&[("__name__", "pool_metric"), ("i", &format!("{i:02}"))]),
                vec![EncodedChunk {
                    min_time: T0,
                    max_time: T0 + 119 * 60_000,
                    encoding: Encoding::Xor,
                    data: xor(&samples),
                }],
            )
        })
        .collect();
    let b = block(&src, 0, data);
    let bucket: Arc<dyn Bucket> =
        Arc::new(FilesystemBucket::new(tmp.path().join("bucket")).unwrap());
    upload(bucket.as_ref(), &[b]).await;
    let r = req(&[m(Equal, "__name__", "pool_metric")], T0, T0 + 2 * H);

    let small = gateway(
        bucket.clone(),
        &tmp.path().join("d1"),
        &["--chunk-pool-size=1KB"],
    )
    .await;
    let e = tonic::Status::from(
        small
            .store
            .series(r.clone())
            .await
            .err()
            .expect("pool exhausted"),
    );
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("--chunk-pool-size"), "{e:?}");

    // A pool large enough for one answer at a time: sequential calls succeed
    // because each answer's bytes are released when its stream ends.
    let ok = gateway(bucket, &tmp.path().join("d2"), &["--chunk-pool-size=48KB"]).await;
    for _ in 0..5 {
        assert_eq!(series(ok.store.as_ref(), r.clone()).await.0.len(), 20);
    }
    // While one answer is held unconsumed, a second concurrent one can still fit
    // only if the pool has room: hold three and the fourth fails.
    let mut held = Vec::new();
    let mut failed = false;
    for _ in 0..16 {
        match ok.store.series(r.clone()).await {
            Ok(s) => held.push(s),
            Err(e) => {
                assert!(e.to_string().contains("--chunk-pool-size"), "{e}");
                failed = true;
                break;
            }
        }
    }
    assert!(
        failed,
        "held {} answers without exhausting a 48KiB pool",
        held.len()
    );
    drop(held);
    assert_eq!(
        series(ok.store.as_ref(), r).await.0.len(),
        20,
        "bytes released after the streams are dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_max_concurrency_gates_series_calls() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let samples: Vec<(i64, f64)> = (0..10).map(|k| (T0 + k * 60_000, k as f64)).collect();
    let data = vec![(
        Labels::from_pairs(&[("__name__", "gate_metric")]),
        vec![EncodedChunk {
            min_time: T0,
            max_time: T0 + 9 * 60_000,
            encoding: Encoding::Xor,
            data: xor(&samples),
        }],
    )];
    let b = block(&src, 0, data);
    let bucket: Arc<dyn Bucket> =
        Arc::new(FilesystemBucket::new(tmp.path().join("bucket")).unwrap());
    upload(bucket.as_ref(), &[b]).await;
    let r = req(&[m(Equal, "__name__", "gate_metric")], T0, T0 + 2 * H);

    let g = gateway(
        bucket.clone(),
        &tmp.path().join("d1"),
        &["--store.grpc.series-max-concurrency=2"],
    )
    .await;
    // Two answers held unconsumed take both slots: a third call waits…
    let first = g.store.series(r.clone()).await.unwrap();
    let second = g.store.series(r.clone()).await.unwrap();
    let third = tokio::time::timeout(Duration::from_millis(300), g.store.series(r.clone())).await;
    assert!(third.is_err(), "a third concurrent Series call was served");
    // …until one of them is dropped (or read to the end).
    drop(first);
    let third = tokio::time::timeout(Duration::from_secs(10), g.store.series(r.clone()))
        .await
        .expect("slot freed")
        .unwrap();
    drop((second, third));

    // 0 means no bound.
    let g = gateway(
        bucket,
        &tmp.path().join("d2"),
        &["--store.grpc.series-max-concurrency=0"],
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..30 {
        held.push(
            tokio::time::timeout(Duration::from_secs(10), g.store.series(r.clone()))
                .await
                .expect("unbounded")
                .unwrap(),
        );
    }
}
