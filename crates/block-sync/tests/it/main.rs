//! The fetcher against real buckets (filesystem and S3 through s3s-fs): one
//! bucket with every kind of block, read into a [`BucketState`], then the
//! store-gateway's filter chain over it.

// Test helpers outside `#[test]` functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aeon_block_sync::{
    BucketState, ConsistencyDelay, Deduplicate, DeletionDelay, FetchObserver, Fetcher,
    LabelSelector, SkipReason, TimePartition, apply,
};
use aeon_objstore::block::{DeletionMark, MarkReason, NoCompactMark, NoDownsampleMark, write_mark};
use aeon_objstore::testutil::S3Server;
use aeon_objstore::{Bucket, FilesystemBucket};
use aeon_tsdb_block::{BlockMeta, ThanosMeta};
use bytes::Bytes;
use ulid::Ulid;

const NOW: i64 = 1_800_000_000_000;
const HOUR: i64 = 3_600_000;

/// The blocks of the scenario, by role.
struct Ids {
    marked: Ulid,
    no_compact: Ulid,
    partial: Ulid,
    garbage_meta: Ulid,
    wrong_ulid: Ulid,
    garbage_mark: Ulid,
    mark_v2: Ulid,
    compacted: Ulid,
}

fn id(hours_ago: i64, n: u128) -> Ulid {
    Ulid::from_parts((NOW - hours_ago * HOUR) as u64, n)
}

fn meta(id: Ulid, sources: &[Ulid]) -> BlockMeta {
    let mut m = BlockMeta::new(id, 0, 2 * HOUR);
    m.compaction.sources = sources.to_vec();
    m.thanos = Some(ThanosMeta {
        labels: BTreeMap::from([("cluster".into(), "eu".into())]),
        source: "sidecar".into(),
        ..Default::default()
    });
    m
}

async fn put(b: &dyn Bucket, key: String, data: Vec<u8>) {
    b.upload(&key, Bytes::from(data)).await.unwrap();
}

async fn put_meta(b: &dyn Bucket, m: &BlockMeta) {
    put(b, format!("{}/index", m.ulid), b"i".to_vec()).await;
    put(b, format!("{}/meta.json", m.ulid), m.to_json().unwrap()).await;
}

async fn populate(b: &dyn Bucket) -> Ids {
    let ids = Ids {
        marked: id(10, 1),
        no_compact: id(9, 2),
        partial: id(8, 3),
        garbage_meta: id(7, 4),
        wrong_ulid: id(6, 5),
        garbage_mark: id(5, 6),
        mark_v2: id(4, 7),
        compacted: id(1, 8),
    };
    for m in [ids.marked, ids.no_compact, ids.garbage_mark, ids.mark_v2] {
        put_meta(b, &meta(m, &[m])).await;
    }
    // The compactor's output of `marked` and `no_compact`: an hour old, too
    // fresh for a sidecar block but exempt as the compactor's.
    let mut c = meta(ids.compacted, &[ids.marked, ids.no_compact]);
    c.thanos.as_mut().unwrap().source = "compactor".into();
    put_meta(b, &c).await;
    put(b, format!("{}/index", ids.partial), b"i".to_vec()).await;
    put(
        b,
        format!("{}/meta.json", ids.garbage_meta),
        b"{nope".to_vec(),
    )
    .await;
    put(
        b,
        format!("{}/meta.json", ids.wrong_ulid),
        meta(ids.marked, &[]).to_json().unwrap(),
    )
    .await;
    write_mark(
        b,
        &DeletionMark {
            id: ids.marked,
            version: 1,
            details: None,
            deletion_time: NOW / 1000 - 3600,
        },
    )
    .await
    .unwrap();
    write_mark(
        b,
        &NoCompactMark {
            id: ids.no_compact,
            version: 1,
            details: None,
            no_compact_time: 5,
            reason: MarkReason::Manual,
        },
    )
    .await
    .unwrap();
    write_mark(
        b,
        &NoDownsampleMark {
            id: ids.no_compact,
            version: 1,
            details: None,
            no_downsample_time: 5,
            reason: MarkReason::Manual,
        },
    )
    .await
    .unwrap();
    put(
        b,
        format!("{}/deletion-mark.json", ids.garbage_mark),
        b"{".to_vec(),
    )
    .await;
    put(
        b,
        format!("{}/deletion-mark.json", ids.mark_v2),
        format!(
            r#"{{"id":"{}","version":2,"deletion_time":1}}"#,
            ids.mark_v2
        )
        .into_bytes(),
    )
    .await;
    ids
}

#[derive(Default)]
struct Count(AtomicU64, AtomicU64);
impl FetchObserver for Count {
    fn listed(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }
    fn block_done(&self) {
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

fn metas(st: &BucketState) -> Vec<Ulid> {
    st.metas.iter().map(|m| m.ulid).collect()
}

async fn fetch_sorts_every_kind_of_block(b: Arc<dyn Bucket>) {
    let ids = populate(b.as_ref()).await;
    let fetcher = Fetcher::new(4);
    let count = Count::default();
    let st = fetcher.fetch_observed(b.as_ref(), &count).await.unwrap();
    assert_eq!((count.0.into_inner(), count.1.into_inner()), (8, 8));
    assert_eq!(
        metas(&st),
        vec![ids.marked, ids.no_compact, ids.garbage_mark, ids.compacted]
    );
    assert_eq!(st.partial, vec![ids.partial]);
    let corrupt: Vec<Ulid> = st.corrupt.iter().map(|c| c.0).collect();
    assert_eq!(corrupt, vec![ids.garbage_meta, ids.wrong_ulid]);
    assert!(st.corrupt[0].1.contains("meta.json"), "{:?}", st.corrupt);
    assert!(st.corrupt[1].1.contains("names block"), "{:?}", st.corrupt);
    // A mark of an unknown version leaves the view incomplete; the fetch
    // itself does not fail.
    assert_eq!(st.failed.len(), 1);
    assert_eq!(st.failed[0].0, ids.mark_v2);
    assert!(st.failed[0].1.contains("version 2"), "{:?}", st.failed);
    let e = st.ensure_complete().unwrap_err().to_string();
    assert!(
        e.contains("incomplete") && e.contains(&ids.mark_v2.to_string()),
        "{e}"
    );
    // The garbage mark is ignored: its block is there, unmarked.
    assert_eq!(
        st.deletion_marks.keys().copied().collect::<Vec<_>>(),
        vec![ids.marked]
    );
    assert!(st.no_compact_marks.contains_key(&ids.no_compact));
    assert!(st.no_downsample.contains(&ids.no_compact));

    // The store-gateway's chain: the compacted block hides its sources, the
    // hour-old deletion mark does not hide `marked` with a 24h delay but
    // does with a 30m one.
    let time = TimePartition::default();
    let labels = LabelSelector::default();
    let fresh = ConsistencyDelay::new(Duration::from_secs(1800));
    let dedup = Deduplicate::default();
    let day = DeletionDelay::new(Duration::from_secs(24 * 3600));
    let r = apply(&[&time, &labels, &fresh, &day, &dedup], &st, NOW);
    assert_eq!(
        r.metas.iter().map(|m| m.ulid).collect::<Vec<_>>(),
        vec![ids.garbage_mark, ids.compacted]
    );
    assert_eq!(
        r.skipped(SkipReason::Duplicate),
        &[ids.marked, ids.no_compact]
    );
    let half = DeletionDelay::new(Duration::from_secs(1800));
    let r = apply(&[&half, &dedup], &st, NOW);
    assert_eq!(r.skipped(SkipReason::MarkedForDeletion), &[ids.marked]);
    assert_eq!(r.skipped(SkipReason::Duplicate), &[ids.no_compact]);
    let states: BTreeMap<&str, usize> = r.synced_states(&st).into_iter().collect();
    assert_eq!(states["loaded"], 2);
    assert_eq!(states["no-meta-json"], 1);
    assert_eq!(states["corrupted-meta-json"], 2);
    assert_eq!(states["failed"], 1);
    assert_eq!(states["marked-for-deletion"], 1);
    assert_eq!(states["duplicate"], 1);

    // meta.json is read once: a later rewrite is not seen (blocks are
    // immutable), and a block that disappears leaves the cache.
    // (The block whose mark failed has its meta cached too.)
    assert_eq!(fetcher.cache().len(), 5);
    put(
        b.as_ref(),
        format!("{}/meta.json", ids.compacted),
        b"{".to_vec(),
    )
    .await;
    let st = fetcher.fetch(b.as_ref()).await.unwrap();
    assert!(metas(&st).contains(&ids.compacted));
    aeon_objstore::block::delete_block(b.as_ref(), ids.compacted)
        .await
        .unwrap();
    let st = fetcher.fetch(b.as_ref()).await.unwrap();
    assert!(!metas(&st).contains(&ids.compacted));
    assert_eq!(fetcher.cache().len(), 4);
    // A fresh fetcher reads the bucket again.
    put(
        b.as_ref(),
        format!("{}/meta.json", ids.no_compact),
        b"{".to_vec(),
    )
    .await;
    let st = Fetcher::default().fetch(b.as_ref()).await.unwrap();
    assert!(st.corrupt.iter().any(|c| c.0 == ids.no_compact));
}

#[tokio::test]
async fn filesystem_bucket() {
    let tmp = tempfile::tempdir().unwrap();
    let b: Arc<dyn Bucket> = Arc::new(FilesystemBucket::new(tmp.path()).unwrap());
    fetch_sorts_every_kind_of_block(b).await;
}

#[tokio::test]
async fn s3_bucket() {
    let s = S3Server::start().unwrap_or_else(|e| panic!("{e}"));
    let b = aeon_objstore::backend_from_config(&s.config())
        .await
        .unwrap();
    fetch_sorts_every_kind_of_block(b).await;
}

#[tokio::test]
async fn a_bucket_that_cannot_be_listed_fails_the_fetch() {
    let s = S3Server::start().unwrap_or_else(|e| panic!("{e}"));
    let b = aeon_objstore::backend_from_config(&s.config())
        .await
        .unwrap();
    drop(s);
    let e = Fetcher::default().fetch(b.as_ref()).await.unwrap_err();
    assert!(e.to_string().contains("listing the blocks"), "{e}");
}
