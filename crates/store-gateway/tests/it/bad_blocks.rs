//! Bad blocks never crash the gateway: they are skipped at sync (bad or
//! missing meta.json) or reported as a warning (or, with ABORT, an error)
//! naming the block, while the other blocks keep serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aeon_model::Labels;
use aeon_model::MatchType::RegexMatch;
use aeon_objstore::block::{DeletionMark, write_mark};
use aeon_objstore::{Bucket, FilesystemBucket};
use aeon_storeapi::StoreApi;
use aeon_storeapi::pb::thanos;
use aeon_tsdb_block::meta::ThanosMeta;
use aeon_tsdb_block::{BlockWriter, BlockWriterOptions};
use bytes::Bytes;
use ulid::Ulid;

use crate::util::*;

const H: i64 = 3_600_000;

/// A block of `n` series `bad_test{i=..}` over [t, t+2h) at 30 s.
fn write_block(dir: &Path, t: i64, n: usize, name: &str) -> PathBuf {
    let mut w = BlockWriter::new(
        dir,
        BlockWriterOptions {
            thanos: Some(ThanosMeta {
                version: 1,
                labels: [("site".to_string(), "x".to_string())].into(),
                source: "test".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .unwrap();
    let mut series: Vec<Labels> = (0..n)
        .map(|i| Labels::from_pairs(&[("__name__", name), ("i", &format!("{i:03}"))]))
        .collect();
    series.sort();
    for l in series {
        let samples: Vec<(i64, f64)> = (0..240).map(|k| (t + k * 30_000, k as f64)).collect();
        w.add_float_series(l, &samples).unwrap();
    }
    w.finish().unwrap().1
}

fn id_of(p: &Path) -> String {
    p.file_name().unwrap().to_str().unwrap().to_string()
}

async fn all(
    store: &dyn StoreApi,
    abort: bool,
) -> aeon_storeapi::Result<(Vec<thanos::Series>, Vec<String>)> {
    let mut r = req(&[m(RegexMatch, "__name__", ".+")], i64::MIN, i64::MAX);
    if abort {
        r.partial_response_strategy = thanos::PartialResponseStrategy::Abort as i32;
    }
    let s = store.series(r).await?;
    aeon_storeapi::merge::collect_series(s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_blocks_are_reported_by_name_and_the_rest_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let good = write_block(&src, T0, 20, "good");
    let no_index = write_block(&src, T0 + 2 * H, 5, "no_index");
    let bad_chunk = write_block(&src, T0 + 4 * H, 5, "bad_chunk");
    let garbage_meta = write_block(&src, T0 + 6 * H, 5, "garbage_meta");
    let partial = write_block(&src, T0 + 8 * H, 5, "partial");
    let bucket: Arc<dyn Bucket> =
        Arc::new(FilesystemBucket::new(tmp.path().join("bucket")).unwrap());
    upload(
        bucket.as_ref(),
        &[
            good.clone(),
            no_index.clone(),
            bad_chunk.clone(),
            garbage_meta.clone(),
            partial.clone(),
        ],
    )
    .await;
    bucket
        .delete(&format!("{}/index", id_of(&no_index)))
        .await
        .unwrap();
    let key = format!("{}/chunks/000001", id_of(&bad_chunk));
    let mut seg = bucket.get(&key).await.unwrap().to_vec();
    let mid = seg.len() / 2;
    seg[mid] ^= 0xff;
    bucket.upload(&key, Bytes::from(seg)).await.unwrap();
    bucket
        .upload(
            &format!("{}/meta.json", id_of(&garbage_meta)),
            Bytes::from_static(b"{not json"),
        )
        .await
        .unwrap();
    bucket
        .delete(&format!("{}/meta.json", id_of(&partial)))
        .await
        .unwrap();

    let mut reg = aeon_common::Registry::default();
    let gw = aeon_store_gateway::Gateway::with_bucket(
        bucket.clone(),
        &args(&tmp.path().join("data"), &[]),
        &mut reg,
    )
    .unwrap();
    let report = gw.sync_and_load().await.unwrap();
    assert_eq!(
        report.corrupt.iter().map(|c| c.0).collect::<Vec<_>>(),
        &[Ulid::from_string(&id_of(&garbage_meta)).unwrap()]
    );
    assert_eq!(
        report.partial,
        &[Ulid::from_string(&id_of(&partial)).unwrap()]
    );
    assert_eq!(report.selected.len(), 3);

    let (s, w) = all(gw.store.as_ref(), false).await.unwrap();
    let names: std::collections::BTreeSet<String> = s
        .iter()
        .filter_map(|x| {
            x.labels
                .iter()
                .find(|l| l.name == "__name__")
                .map(|l| l.value.clone())
        })
        .collect();
    assert_eq!(
        names,
        ["good".to_string()].into(),
        "only the good block serves"
    );
    assert_eq!(s.len(), 20);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w.iter()
            .any(|x| x.contains(&id_of(&no_index)) && x.contains("index")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|x| x.contains(&id_of(&bad_chunk)) && x.contains("checksum")),
        "{w:?}"
    );

    // ABORT turns the block failure into an error naming the block.
    let e = tonic::Status::from(all(gw.store.as_ref(), true).await.unwrap_err());
    assert!(
        e.message().contains(&id_of(&no_index)) || e.message().contains(&id_of(&bad_chunk)),
        "{e:?}"
    );

    // Label APIs keep working with a warning for the broken index.
    let ln = gw
        .store
        .label_names(thanos::LabelNamesRequest {
            start: i64::MIN,
            end: i64::MAX,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(ln.names.contains(&"i".to_string()) && ln.names.contains(&"site".to_string()));
    assert!(
        ln.warnings.iter().any(|w| w.contains(&id_of(&no_index))),
        "{:?}",
        ln.warnings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_deleted_while_served_gives_a_warning_then_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let a = write_block(&src, T0, 10, "a");
    let b = write_block(&src, T0 + 2 * H, 10, "b");
    let bucket: Arc<dyn Bucket> =
        Arc::new(FilesystemBucket::new(tmp.path().join("bucket")).unwrap());
    upload(bucket.as_ref(), &[a.clone(), b.clone()]).await;
    let gw = gateway(bucket.clone(), &tmp.path().join("data"), &[]).await;
    assert_eq!(all(gw.store.as_ref(), false).await.unwrap().0.len(), 20);
    // The compactor deletes block b (chunks first, as Thanos does).
    aeon_objstore::block::delete_block(bucket.as_ref(), Ulid::from_string(&id_of(&b)).unwrap())
        .await
        .unwrap();
    let (s, w) = all(gw.store.as_ref(), false).await.unwrap();
    assert_eq!(s.len(), 10);
    assert!(w.iter().any(|x| x.contains(&id_of(&b))), "{w:?}");
    let r = gw.sync_and_load().await.unwrap();
    assert_eq!(r.removed, 1);
    assert!(
        !tmp.path().join("data").join(id_of(&b)).exists(),
        "local cache of the dropped block removed"
    );
    let (s, w) = all(gw.store.as_ref(), false).await.unwrap();
    assert_eq!((s.len(), w.len()), (10, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_marks_duplicates_time_and_relabel_filters() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let old_mark = write_block(&src, T0, 3, "old_mark");
    let new_mark = write_block(&src, T0 + 2 * H, 3, "new_mark");
    let plain = write_block(&src, T0 + 4 * H, 3, "plain");
    let bucket: Arc<dyn Bucket> =
        Arc::new(FilesystemBucket::new(tmp.path().join("bucket")).unwrap());
    upload(
        bucket.as_ref(),
        &[old_mark.clone(), new_mark.clone(), plain.clone()],
    )
    .await;
    let now = chrono::Utc::now().timestamp();
    for (b, age) in [(&old_mark, 25 * 3600), (&new_mark, 60)] {
        let id = Ulid::from_string(&id_of(b)).unwrap();
        write_mark(
            bucket.as_ref(),
            &DeletionMark {
                id,
                version: 1,
                details: None,
                deletion_time: now - age,
            },
        )
        .await
        .unwrap();
    }
    let gw = gateway(bucket.clone(), &tmp.path().join("d1"), &[]).await;
    let served: Vec<String> = gw.store.blocks().iter().map(|b| b.id.to_string()).collect();
    assert_eq!(served, vec![id_of(&new_mark), id_of(&plain)]);

    // Time partitioning: only the block overlapping [T0+4h, T0+5h].
    let gw = gateway(
        bucket.clone(),
        &tmp.path().join("d2"),
        &[
            &format!("--min-time={}", rfc3339(T0 + 4 * H)),
            &format!("--max-time={}", rfc3339(T0 + 5 * H)),
        ],
    )
    .await;
    let served: Vec<String> = gw.store.blocks().iter().map(|b| b.id.to_string()).collect();
    assert_eq!(served, vec![id_of(&plain)]);
    let info = gw.store.info().await.unwrap().store.unwrap();
    assert_eq!(
        (info.min_time, info.max_time),
        (T0 + 4 * H, T0 + 5 * H),
        "advertised range clipped"
    );

    // Relabel on __block_id.
    let cfg = format!(
        "--selector.relabel-config=- action: drop\n  source_labels: [__block_id]\n  regex: {}\n",
        id_of(&plain)
    );
    let gw = gateway(bucket.clone(), &tmp.path().join("d3"), &[&cfg]).await;
    let served: Vec<String> = gw.store.blocks().iter().map(|b| b.id.to_string()).collect();
    assert_eq!(served, vec![id_of(&new_mark)]);
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339()
}
