//! Block sync: fetch the bucket's state and apply Thanos's store-gateway
//! filter chain (time partition, relabel, consistency delay, deletion delay,
//! duplicates) with `aeon-block-sync`, then hand the resulting set to the
//! [`BucketStore`]. Index-headers of new blocks are then built in the
//! background; queries never wait for blocks they do not touch.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aeon_block_sync::{
    ConsistencyDelay, Deduplicate, DeletionDelay, Fetcher, LabelSelector, SkipReason,
    TimePartition, apply,
};
use aeon_common::flags::TimeOrDuration;
use aeon_common::relabel::Relabeler;
use aeon_objstore::Bucket;
use futures::StreamExt;
use ulid::Ulid;

use crate::Result;
use crate::metrics::Metrics;
use crate::store::BucketStore;

/// Filters and concurrency of a sync.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub min_time: TimeOrDuration,
    pub max_time: TimeOrDuration,
    pub relabel: Relabeler,
    pub consistency_delay: Duration,
    pub ignore_deletion_marks_delay: Duration,
    pub meta_concurrency: usize,
    pub load_concurrency: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            min_time: TimeOrDuration::MIN,
            max_time: TimeOrDuration::MAX,
            relabel: Relabeler::default(),
            consistency_delay: Duration::ZERO,
            ignore_deletion_marks_delay: Duration::from_secs(24 * 3600),
            meta_concurrency: 32,
            load_concurrency: 20,
        }
    }
}

/// What a sync found.
#[derive(Debug, Default, Clone)]
pub struct SyncReport {
    /// Blocks served after the sync.
    pub selected: Vec<Ulid>,
    /// Block directories without meta.json.
    pub partial: Vec<Ulid>,
    /// Blocks whose meta.json does not parse, with the reason.
    pub corrupt: Vec<(Ulid, String)>,
    /// Blocks skipped by a filter, by reason.
    pub skipped: BTreeMap<SkipReason, Vec<Ulid>>,
    /// Blocks that could not be read (kept out this time, retried next
    /// sync), with the error. While there are any, no served block is
    /// dropped (Thanos: a partial view only adds blocks).
    pub errors: Vec<(Ulid, String)>,
    pub added: usize,
    pub removed: usize,
}

impl SyncReport {
    /// Blocks skipped for `reason`.
    pub fn skipped(&self, reason: SkipReason) -> &[Ulid] {
        self.skipped.get(&reason).map_or(&[], Vec::as_slice)
    }
}

/// Keeps the store's block set in sync with the bucket.
#[derive(Debug)]
pub struct Syncer {
    bucket: Arc<dyn Bucket>,
    cfg: SyncConfig,
    store: Arc<BucketStore>,
    fetcher: Fetcher,
    metrics: Option<Metrics>,
}

impl Syncer {
    pub fn new(
        bucket: Arc<dyn Bucket>,
        cfg: SyncConfig,
        store: Arc<BucketStore>,
        metrics: Option<Metrics>,
    ) -> Self {
        Self {
            fetcher: Fetcher::new(cfg.meta_concurrency),
            bucket,
            cfg,
            store,
            metrics,
        }
    }

    /// One sync; updates the store. Errors only when the bucket cannot be
    /// listed (individual bad blocks are reported, not fatal).
    pub async fn sync(&self) -> Result<SyncReport> {
        let start = Instant::now();
        let res = self.sync_inner().await;
        if let Some(m) = &self.metrics {
            m.syncs.inc();
            m.sync_duration.observe(start.elapsed().as_secs_f64());
            if res.as_ref().map_or(true, |r| !r.errors.is_empty()) {
                m.sync_failures.inc();
            }
        }
        res
    }

    async fn sync_inner(&self) -> Result<SyncReport> {
        let st = self.fetcher.fetch(self.bucket.as_ref()).await?;
        let now = chrono::Utc::now().timestamp_millis();
        let time = TimePartition {
            min_time: self.cfg.min_time,
            max_time: self.cfg.max_time,
        };
        let labels = LabelSelector::new(self.cfg.relabel.clone());
        let fresh = ConsistencyDelay::new(self.cfg.consistency_delay);
        let deleted = DeletionDelay::new(self.cfg.ignore_deletion_marks_delay);
        let dedup = Deduplicate::default();
        let f = apply(&[&time, &labels, &fresh, &deleted, &dedup], &st, now);
        let mut report = SyncReport {
            selected: f.metas.iter().map(|m| m.ulid).collect(),
            partial: st.partial.clone(),
            corrupt: st.corrupt.clone(),
            skipped: f.all_skipped().map(|(r, v)| (r, v.to_vec())).collect(),
            errors: st.failed.clone(),
            ..SyncReport::default()
        };
        let (added, removed) = self.store.set_blocks(f.metas.clone(), st.is_complete());
        report.added = added;
        report.removed = removed.len();
        for id in removed {
            let dir = self.store.data_dir().join(id.to_string());
            if let Err(e) = tokio::fs::remove_dir_all(&dir).await
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(block = %id, error = %e, "cannot remove local block cache");
            }
        }
        if let Some(m) = &self.metrics {
            m.synced_blocks.clear();
            for (state, n) in f.synced_states(&st) {
                m.synced_blocks
                    .get_or_create(&vec![("state".into(), state.into())])
                    .set(n as i64);
            }
        }
        Ok(report)
    }

    /// Builds (or loads from disk) the index-headers of all blocks not yet
    /// loaded, `load_concurrency` at a time. Returns the failures.
    pub async fn load_headers(&self) -> Vec<(Ulid, String)> {
        let blocks: Vec<_> = self
            .store
            .blocks()
            .into_iter()
            .filter(|b| !b.is_loaded())
            .collect();
        let metrics = self.metrics.clone();
        futures::stream::iter(blocks)
            .map(|b| {
                let metrics = metrics.clone();
                async move {
                    let r = b.prepare().await;
                    if let Some(m) = &metrics {
                        match &r {
                            Ok(_) => m.block_loads.inc(),
                            Err(_) => m.block_load_failures.inc(),
                        };
                    }
                    r.err().map(|e| (b.id, e.chain()))
                }
            })
            .buffer_unordered(self.cfg.load_concurrency.max(1))
            .collect::<Vec<Option<(Ulid, String)>>>()
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}
