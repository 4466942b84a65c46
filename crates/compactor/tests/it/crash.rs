//! Crash safety: a compactor killed at a step leaves a bucket that readers
//! see consistently and that the next run repairs.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aeon_compactor::{Compactor, Metrics};
use aeon_objstore::block::{self, DeletionMark};
use aeon_objstore::{Bucket, ListMode, ObjectAttributes};
use async_trait::async_trait;
use bytes::Bytes;

use crate::util::*;

/// A bucket that refuses uploads of keys ending in `suffix` while armed —
/// the same state as a process killed right before that upload.
#[derive(Debug)]
struct Killing {
    inner: Arc<dyn Bucket>,
    suffix: &'static str,
    armed: AtomicBool,
}

impl Killing {
    fn check(&self, key: &str) -> aeon_objstore::Result<()> {
        if self.armed.load(Ordering::SeqCst) && key.ends_with(self.suffix) {
            return Err(aeon_objstore::Error::Auth {
                op: aeon_objstore::Operation::Upload,
                bucket: "killing".into(),
                key: key.into(),
                message: "process killed before this upload".into(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl Bucket for Killing {
    fn name(&self) -> &str {
        "killing"
    }
    async fn get(&self, key: &str) -> aeon_objstore::Result<Bytes> {
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, offset: u64, len: u64) -> aeon_objstore::Result<Bytes> {
        self.inner.get_range(key, offset, len).await
    }
    async fn attributes(&self, key: &str) -> aeon_objstore::Result<ObjectAttributes> {
        self.inner.attributes(key).await
    }
    async fn upload(&self, key: &str, data: Bytes) -> aeon_objstore::Result<()> {
        self.check(key)?;
        self.inner.upload(key, data).await
    }
    async fn upload_file(&self, key: &str, path: &Path) -> aeon_objstore::Result<u64> {
        self.check(key)?;
        self.inner.upload_file(key, path).await
    }
    async fn delete(&self, key: &str) -> aeon_objstore::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str, mode: ListMode) -> aeon_objstore::Result<Vec<String>> {
        self.inner.list(prefix, mode).await
    }
}

async fn setup(work: &Path) -> (Arc<dyn Bucket>, Vec<aeon_tsdb_block::BlockMeta>, String) {
    let dirs = promtool_blocks(
        &openmetrics(
            &["up{job=\"a\"}", "x_total{job=\"b\"}"],
            T0_S,
            T0_S + 12 * 3600,
            15,
            5,
        ),
        work,
        "in",
    );
    let metas = set_thanos(&dirs, &[("cluster", "eu1")]);
    let bucket = fs_bucket(&work.join("bucket"));
    upload(bucket.as_ref(), &dirs).await;
    let want = dump_local_blocks(&dirs, &work.join("want"));
    (bucket, metas, want)
}

async fn live_dump(bucket: &dyn Bucket, dir: &Path) -> String {
    let st = state(bucket).await;
    let ids: Vec<_> = st.metas.iter().map(|m| m.ulid).collect();
    dump_bucket_blocks(bucket, &ids, dir).await
}

#[tokio::test]
async fn killed_before_meta_json_leaves_an_invisible_partial_upload_that_is_cleaned_later() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let (inner, metas, want) = setup(work).await;
    let killing = Arc::new(Killing {
        inner: inner.clone(),
        suffix: "/meta.json",
        armed: AtomicBool::new(true),
    });
    let now = now_ms();
    let rep = Compactor::new(
        killing.clone(),
        config(&work.join("data")),
        Metrics::default(),
    )
    .run_once(now)
    .await
    .unwrap();
    assert_eq!(rep.compactions, 0);
    assert_eq!(rep.failures.len(), 1, "{:?}", rep.failures);
    // The output's chunks and index are in the bucket, without meta.json:
    // a partial upload no reader treats as a block.
    let st = state(inner.as_ref()).await;
    assert_eq!(st.partial.len(), 1);
    let partial = st.partial[0];
    assert!(
        !inner
            .list(&format!("{partial}/"), ListMode::Recursive)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        st.metas.len(),
        metas.len(),
        "no block appeared or disappeared"
    );
    assert!(
        st.deletion_marks.is_empty(),
        "inputs are only marked after a verified upload"
    );
    assert!(
        aeon_compactor::tools::verify(inner.as_ref())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(live_dump(inner.as_ref(), &work.join("d1")).await, want);

    // Restarted: the compaction is redone under a new ULID; the young partial
    // upload is left alone (it could be an upload in progress).
    killing.armed.store(false, Ordering::SeqCst);
    let rep = Compactor::new(
        killing.clone(),
        config(&work.join("data")),
        Metrics::default(),
    )
    .run_once(now + 1000)
    .await
    .unwrap();
    assert!(rep.failures.is_empty(), "{:?}", rep.failures);
    assert_eq!(rep.compactions, 1);
    assert_ne!(rep.outputs[0], partial);
    assert!(state(inner.as_ref()).await.partial.contains(&partial));

    // Two days later the aborted upload is marked and, with delete delay 0,
    // deleted together with the compacted sources.
    let mut cfg = config(&work.join("data"));
    cfg.delete_delay = Duration::ZERO;
    let rep = Compactor::new(inner.clone(), cfg, Metrics::default())
        .run_once(now + 49 * H)
        .await
        .unwrap();
    assert_eq!(rep.partial_marked, vec![partial]);
    assert!(rep.deleted.contains(&partial));
    let st = state(inner.as_ref()).await;
    assert!(st.partial.is_empty());
    assert!(
        inner
            .list(&format!("{partial}/"), ListMode::Recursive)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(st.metas.len(), 3, "8h output + two newer 2h blocks");
    assert!(
        aeon_compactor::tools::verify(inner.as_ref())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(live_dump(inner.as_ref(), &work.join("d2")).await, want);
}

#[tokio::test]
async fn killed_before_marking_sources_is_repaired_by_garbage_collection() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let (inner, metas, want) = setup(work).await;
    let killing = Arc::new(Killing {
        inner: inner.clone(),
        suffix: "/deletion-mark.json",
        armed: AtomicBool::new(true),
    });
    let now = now_ms();
    let rep = Compactor::new(
        killing.clone(),
        config(&work.join("data")),
        Metrics::default(),
    )
    .run_once(now)
    .await
    .unwrap();
    assert_eq!(rep.failures.len(), 1, "{:?}", rep.failures);
    // Output uploaded (visible), inputs unmarked: the data is there twice,
    // which is what a kill between upload and marking leaves.
    let st = state(inner.as_ref()).await;
    assert_eq!(st.metas.len(), metas.len() + 1);
    assert!(st.deletion_marks.is_empty());

    killing.armed.store(false, Ordering::SeqCst);
    let rep = Compactor::new(
        killing.clone(),
        config(&work.join("data")),
        Metrics::default(),
    )
    .run_once(now + 1000)
    .await
    .unwrap();
    assert!(rep.failures.is_empty(), "{:?}", rep.failures);
    let mut gc = rep.garbage_collected.clone();
    gc.sort();
    let mut want_gc: Vec<_> = metas[..4].iter().map(|m| m.ulid).collect();
    want_gc.sort();
    assert_eq!(
        gc, want_gc,
        "the inputs are recognised as contained in the output"
    );
    assert_eq!(rep.compactions, 0, "no second compaction of the same data");
    for id in &want_gc {
        assert!(
            block::read_mark::<DeletionMark>(inner.as_ref(), *id)
                .await
                .unwrap()
                .is_some()
        );
    }
    let mut cfg = config(&work.join("data"));
    cfg.delete_delay = Duration::ZERO;
    Compactor::new(inner.clone(), cfg, Metrics::default())
        .run_once(now + 2000)
        .await
        .unwrap();
    assert!(
        aeon_compactor::tools::verify(inner.as_ref())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(live_dump(inner.as_ref(), &work.join("d")).await, want);
}

#[tokio::test]
async fn killed_while_deleting_leaves_a_marked_partial_that_the_next_cleanup_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let (bucket, metas, _) = setup(work).await;
    let victim = metas[0].ulid;
    aeon_compactor::compact::mark_for_deletion(bucket.as_ref(), &[victim], "test", 1)
        .await
        .unwrap();
    // Deletion goes meta.json first, then the rest, the mark last: a kill
    // after meta.json and the index leaves chunks plus the mark.
    bucket
        .delete(&block::block_key(victim, "meta.json"))
        .await
        .unwrap();
    bucket
        .delete(&block::block_key(victim, "index"))
        .await
        .unwrap();
    let st = state(bucket.as_ref()).await;
    assert!(
        st.partial.contains(&victim),
        "no longer a block for any reader"
    );
    assert!(st.deletion_marks.contains_key(&victim));
    assert!(
        aeon_compactor::tools::verify(bucket.as_ref())
            .await
            .unwrap()
            .is_empty()
    );

    let rep =
        aeon_compactor::tools::cleanup(bucket.clone(), Duration::ZERO, Duration::ZERO, now_ms())
            .await
            .unwrap();
    assert_eq!(rep.deleted, vec![victim]);
    assert!(
        bucket
            .list(&format!("{victim}/"), ListMode::Recursive)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(state(bucket.as_ref()).await.metas.len(), metas.len() - 1);
}
