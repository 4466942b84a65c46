//! Which blocks the compactor sees and acts on, through `aeon-block-sync`:
//! a complete view of the bucket (as Thanos's compactor, an iteration does
//! not act on a bucket it could only partly read) and Thanos's compactor
//! filters — time partition, relabel selector, consistency delay — with
//! blocks marked for deletion left out at once.

use std::sync::Arc;

use aeon_block_sync::{
    BucketState, ConsistencyDelay, Deduplicate, DeletionDelay, FetchObserver, Fetcher,
    LabelSelector, MetaFilter, TimePartition, apply,
};
use aeon_objstore::Bucket;
use aeon_tsdb_block::BlockMeta;
use ulid::Ulid;

use crate::Result;
use crate::progress::Progress;

/// Every marked block, whatever its mark's age: the compactor never plans
/// with a block it (or another compactor) already gave up.
const MARKED: DeletionDelay = DeletionDelay {
    delay: std::time::Duration::ZERO,
};

/// Reads the bucket with `fetcher`; fails on Thanos's "incomplete view".
pub async fn fetch(
    fetcher: &Fetcher,
    bucket: &dyn Bucket,
    observer: &dyn FetchObserver,
) -> Result<BucketState> {
    let st = fetcher.fetch_observed(bucket, observer).await?;
    st.ensure_complete()?;
    Ok(st)
}

/// [`fetch`] with a fresh fetcher and no progress.
pub async fn fetch_once(bucket: &dyn Bucket) -> Result<BucketState> {
    fetch(&Fetcher::default(), bucket, &Progress::hidden()).await
}

impl FetchObserver for Progress {
    fn listed(&self, blocks: u64) {
        self.set_total(blocks);
    }
    fn block_done(&self) {
        self.inc();
    }
    fn finished(&self) {
        self.finish();
    }
}

/// Which blocks this compactor acts on (`--min-time`/`--max-time`,
/// `--selector.relabel-config[-file]`, `--consistency-delay`).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub time: TimePartition,
    pub labels: LabelSelector,
    pub consistency: ConsistencyDelay,
}

fn owned(metas: Vec<Arc<BlockMeta>>) -> Vec<BlockMeta> {
    metas.into_iter().map(Arc::unwrap_or_clone).collect()
}

impl Selection {
    /// Blocks to plan with: selected, in range, consistent and not marked
    /// for deletion.
    pub fn filter(&self, st: &BucketState, now_ms: i64) -> Vec<BlockMeta> {
        let f: [&dyn MetaFilter; 4] = [&self.time, &self.labels, &self.consistency, &MARKED];
        owned(apply(&f, st, now_ms).metas)
    }

    /// Blocks retention applies to: selected, in range and not marked for
    /// deletion (a fresh block past retention is not waited for).
    pub fn for_retention(&self, st: &BucketState, now_ms: i64) -> Vec<BlockMeta> {
        owned(apply(&[&self.time, &self.labels, &MARKED], st, now_ms).metas)
    }
}

/// Blocks whose data another block of their stream (`replica_labels`
/// ignored) already holds, among all blocks not marked for deletion: Thanos's
/// deduplicate filter, whose duplicates its compactor garbage-collects.
pub fn duplicates(st: &BucketState, replica_labels: &[String], now_ms: i64) -> Vec<Ulid> {
    let live = apply(&[&MARKED], st, now_ms).metas;
    Deduplicate::new(replica_labels.to_vec()).duplicates(&live)
}
