//! One compactor iteration over a bucket: clean up, garbage-collect,
//! compact every group (quarantining instead of halting), downsample, apply
//! retention. Failures of one group or block are recorded and the rest goes on.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aeon_block_sync::{
    BucketState, ConsistencyDelay, Fetcher, LabelSelector, MetaCache, TimePartition,
};
use aeon_common::flags::TimeOrDuration;
use aeon_objstore::Bucket;
use aeon_objstore::block::{self, MARK_VERSION_1, MarkReason, NoCompactMark, NoDownsampleMark};
use aeon_tsdb_block::BlockMeta;
use futures::StreamExt;
use ulid::Ulid;

use crate::blocks::{self, Selection};
use crate::compact::{CompactSettings, compact_blocks, mark_for_deletion};
use crate::metrics::Metrics;
use crate::planner::{self, Group, GroupPlan};
use crate::progress::Progress;
use crate::{Args, DedupFunc, Error, Result};

/// No-compact reason written for overlapping blocks.
pub const REASON_OVERLAP: &str = "overlapping-blocks";
/// No-compact reason written for blocks that cannot be read or merged.
pub const REASON_CORRUPT: &str = "corrupt-block";
/// No-downsample reason written for blocks that cannot be downsampled.
pub const REASON_DOWNSAMPLE_FAILED: &str = "downsample-failed";
/// Upper bound of compactions of one group in one iteration (safety net).
const MAX_COMPACTIONS_PER_GROUP: usize = 10_000;

/// Validated settings of a compactor.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub selection: Selection,
    pub vertical: bool,
    pub dedup: DedupFunc,
    pub replica_labels: Vec<String>,
    pub retentions: [Duration; 3],
    pub delete_delay: Duration,
    pub downsampling: bool,
    pub compact_concurrency: usize,
    pub downsample_concurrency: usize,
    pub fetch_concurrency: usize,
    /// Block files moved at once per block (`--block-files-concurrency`).
    pub files_concurrency: usize,
    /// meta.json files fetched at once (`--block-meta-fetch-concurrency`).
    pub meta_fetch_concurrency: usize,
    pub ranges: Vec<i64>,
}

impl Config {
    /// Settings from flags; relative `--min-time`/`--max-time` resolve against `now_ms`.
    pub fn from_args(args: &Args, now_ms: i64) -> Result<Self> {
        let relabel = args.selector_relabel.relabeler()?;
        Ok(Self {
            data_dir: args.data_dir.clone(),
            selection: Selection {
                time: TimePartition {
                    min_time: TimeOrDuration::Time(args.min_time.resolve(now_ms)),
                    max_time: TimeOrDuration::Time(args.max_time.resolve(now_ms)),
                },
                labels: LabelSelector::new(relabel),
                consistency: ConsistencyDelay::new(args.consistency_delay.0),
            },
            vertical: args.vertical_compaction(),
            dedup: args.dedup_func()?,
            replica_labels: args.dedup_replica_labels.clone(),
            retentions: args.retentions(),
            delete_delay: args.delete_delay.0,
            downsampling: !args.downsampling_disable,
            compact_concurrency: args.compact_concurrency.max(1),
            downsample_concurrency: args.downsample_concurrency.max(1),
            fetch_concurrency: args.blocks_fetch_concurrency.max(1),
            files_concurrency: args.block_files_concurrency.max(1),
            meta_fetch_concurrency: args.block_meta_fetch_concurrency.max(1),
            ranges: planner::DEFAULT_RANGES.to_vec(),
        })
    }
}

/// What an iteration did.
#[derive(Debug, Clone, Default)]
pub struct IterationReport {
    pub compactions: usize,
    pub compacted_blocks: Vec<Ulid>,
    pub outputs: Vec<Ulid>,
    pub quarantined: Vec<Ulid>,
    pub downsampled: Vec<(Ulid, Ulid)>,
    pub garbage_collected: Vec<Ulid>,
    pub retention_marked: Vec<Ulid>,
    pub partial_marked: Vec<Ulid>,
    pub deleted: Vec<Ulid>,
    /// Errors of groups or blocks that were skipped this time.
    pub failures: Vec<String>,
}

/// A compactor bound to a bucket.
#[derive(Debug, Clone)]
pub struct Compactor {
    bucket: Arc<dyn Bucket>,
    cfg: Config,
    metrics: Metrics,
    fetcher: Fetcher,
    delete_progress: Option<Arc<Progress>>,
}

struct GroupOutcome {
    compacted: Vec<Ulid>,
    outputs: Vec<Ulid>,
    quarantined: Vec<Ulid>,
    failures: Vec<String>,
}

impl Compactor {
    pub fn new(bucket: Arc<dyn Bucket>, cfg: Config, metrics: Metrics) -> Self {
        Self {
            bucket,
            fetcher: Fetcher::new(cfg.meta_fetch_concurrency),
            cfg,
            metrics,
            delete_progress: None,
        }
    }

    /// Counts deleted blocks on `p` (the `tools bucket cleanup` progress).
    pub fn with_delete_progress(mut self, p: Arc<Progress>) -> Self {
        self.delete_progress = Some(p);
        self
    }

    /// Shares a meta cache with earlier compactors (e.g. across iterations).
    pub fn with_meta_cache(mut self, cache: Arc<MetaCache>) -> Self {
        self.fetcher = self.fetcher.with_cache(cache);
        self
    }

    async fn fetch(&self) -> Result<BucketState> {
        self.metrics
            .blocks_meta
            .observe(blocks::fetch(
                &self.fetcher,
                self.bucket.as_ref(),
                &Progress::hidden(),
            ))
            .await
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// One full iteration at wall-clock `now_ms`.
    pub async fn run_once(&self, now_ms: i64) -> Result<IterationReport> {
        let mut rep = IterationReport::default();
        self.cleanup(now_ms, &mut rep).await?;
        self.timed_garbage_collect(now_ms, &mut rep).await?;
        self.compact_all(now_ms, &mut rep).await?;
        if self.cfg.downsampling {
            self.downsample_all(now_ms, &mut rep).await?;
        } else {
            self.metrics.todo_downsample_blocks.set(0);
        }
        self.apply_retention(now_ms, &mut rep).await?;
        self.cleanup(now_ms, &mut rep).await?;
        self.metrics.iterations.inc();
        self.metrics
            .last_successful_run
            .set(now_ms.div_euclid(1000));
        Ok(rep)
    }

    /// Marks aborted partial uploads for deletion and deletes every block
    /// whose deletion mark is older than the delete delay.
    pub async fn cleanup(&self, now_ms: i64, rep: &mut IterationReport) -> Result<()> {
        let st = self.fetch().await?;
        let now_s = now_ms.div_euclid(1000);
        let mut marks = st.deletion_marks.clone();
        for &id in &st.partial {
            if marks.contains_key(&id)
                || !planner::is_aborted_partial(id, self.cfg.selection.consistency.delay, now_ms)
            {
                continue;
            }
            tracing::info!(block = %id, "marking aborted partial upload for deletion");
            mark_for_deletion(self.bucket.as_ref(), &[id], "aborted partial upload", now_s).await?;
            self.metrics.partial_uploads_marked.inc();
            self.metrics.marked_for_deletion.inc();
            rep.partial_marked.push(id);
            marks.insert(
                id,
                block::DeletionMark {
                    id,
                    version: MARK_VERSION_1,
                    details: None,
                    deletion_time: now_s,
                },
            );
        }
        let mut waiting = 0;
        let due: Vec<(Ulid, block::DeletionMark)> = marks
            .into_iter()
            .filter(|(_, mark)| {
                let past =
                    planner::past_delete_delay(mark.deletion_time, self.cfg.delete_delay, now_ms);
                if !past {
                    waiting += 1;
                }
                past
            })
            .collect();
        if let Some(p) = &self.delete_progress {
            p.set_total(due.len() as u64);
        }
        for (id, _) in due {
            if let Some(p) = &self.delete_progress {
                p.inc();
            }
            match block::delete_block(self.bucket.as_ref(), id).await {
                Ok(()) => {
                    tracing::info!(block = %id, "deleted block marked for deletion");
                    self.metrics.blocks_cleaned.inc();
                    rep.deleted.push(id);
                }
                Err(e) => {
                    tracing::warn!(block = %id, error = %e, "deleting block failed; retrying next time");
                    self.metrics.cleanup_failures.inc();
                    rep.failures.push(format!("delete block {id}: {e}"));
                    waiting += 1;
                }
            }
        }
        if let Some(p) = &self.delete_progress {
            p.finish();
        }
        self.metrics.todo_deletion_blocks.set(waiting);
        Ok(())
    }

    /// [`Self::garbage_collect`], counted as Thanos counts garbage
    /// collection runs.
    async fn timed_garbage_collect(&self, now_ms: i64, rep: &mut IterationReport) -> Result<()> {
        let gc = &self.metrics.gc;
        gc.runs.inc();
        let start = std::time::Instant::now();
        let r = self.garbage_collect(now_ms, rep).await;
        gc.duration.observe(start.elapsed().as_secs_f64());
        if r.is_err() {
            gc.failures.inc();
        }
        r
    }

    /// Marks blocks whose data another block already holds.
    pub async fn garbage_collect(&self, now_ms: i64, rep: &mut IterationReport) -> Result<()> {
        let st = self.fetch().await?;
        let dups = blocks::duplicates(&st, &self.cfg.replica_labels, now_ms);
        if dups.is_empty() {
            return Ok(());
        }
        tracing::info!(blocks = ?dups, "marking blocks contained in other blocks for deletion");
        mark_for_deletion(
            self.bucket.as_ref(),
            &dups,
            "data held by a block with a superset of its sources",
            now_ms.div_euclid(1000),
        )
        .await?;
        self.metrics.garbage_collected.inc_by(dups.len() as u64);
        self.metrics.marked_for_deletion.inc_by(dups.len() as u64);
        rep.garbage_collected.extend(dups);
        Ok(())
    }

    async fn quarantine(
        &self,
        group: &Group,
        blocks: &[BlockMeta],
        reason: &str,
        why: &str,
        now_ms: i64,
    ) -> Result<()> {
        let names: Vec<String> = blocks
            .iter()
            .map(|b| format!("{} [{}, {})", b.ulid, b.min_time, b.max_time))
            .collect();
        let details = format!("{why}; group {}; blocks: {}", group.key, names.join(", "));
        tracing::warn!(group = %group.key, reason, blocks = %names.join(", "), "quarantining blocks with no-compact marks; other groups keep compacting");
        for b in blocks {
            let mark = NoCompactMark {
                id: b.ulid,
                version: MARK_VERSION_1,
                details: Some(details.clone()),
                no_compact_time: now_ms.div_euclid(1000),
                reason: MarkReason::from(reason),
            };
            block::write_mark(self.bucket.as_ref(), &mark)
                .await
                .map_err(|e| Error::bucket("write no-compact mark for", b.ulid, e))?;
            self.metrics
                .marks
                .get_or_create(&Metrics::mark(block::NO_COMPACT_MARK_FILENAME, reason))
                .inc();
        }
        Ok(())
    }

    async fn compact_group(
        &self,
        mut group: Group,
        mut excluded: HashSet<Ulid>,
        now_ms: i64,
    ) -> GroupOutcome {
        let mut out = GroupOutcome {
            compacted: vec![],
            outputs: vec![],
            quarantined: vec![],
            failures: vec![],
        };
        let settings = CompactSettings {
            data_dir: self.cfg.data_dir.clone(),
            replica_labels: self.cfg.replica_labels.clone(),
            dedup: self.cfg.dedup,
            fetch_concurrency: self.cfg.fetch_concurrency,
            files_concurrency: self.cfg.files_concurrency,
        };
        let gl = Metrics::group(&group.key);
        // Every group's series exist from its first plan, as in Thanos.
        let _ = self.metrics.compactions.get_or_create(&gl);
        let _ = self.metrics.compaction_failures.get_or_create(&gl);
        for _ in 0..MAX_COMPACTIONS_PER_GROUP {
            let vertical = self.cfg.vertical && group.resolution == planner::RES_RAW;
            let plan = planner::plan_group(&group.blocks, &excluded, vertical, &self.cfg.ranges);
            let blocks = match plan {
                GroupPlan::Nothing => break,
                GroupPlan::Quarantine(bs) => {
                    let (reason, why) = if self.cfg.vertical {
                        (
                            MarkReason::DownsampleVerticalCompaction
                                .as_str()
                                .to_string(),
                            "overlapping downsampled blocks cannot be merged vertically",
                        )
                    } else {
                        (
                            REASON_OVERLAP.to_string(),
                            "blocks of one stream overlap in time and vertical compaction is off",
                        )
                    };
                    if let Err(e) = self.quarantine(&group, &bs, &reason, why, now_ms).await {
                        out.failures.push(format!("group {}: {e}", group.key));
                        break;
                    }
                    for b in &bs {
                        excluded.insert(b.ulid);
                        out.quarantined.push(b.ulid);
                    }
                    continue;
                }
                GroupPlan::Compact(bs) => bs,
            };
            let ids: Vec<Ulid> = blocks.iter().map(|b| b.ulid).collect();
            tracing::info!(group = %group.key, blocks = ?ids, "compacting blocks");
            match compact_blocks(self.bucket.clone(), &group, &blocks, &settings, now_ms).await {
                Ok(c) => {
                    self.metrics.compactions.get_or_create(&gl).inc();
                    self.metrics.marked_for_deletion.inc_by(ids.len() as u64);
                    self.metrics.compacted_samples.inc_by(c.stats.samples);
                    self.metrics
                        .chunks
                        .get_or_create(&vec![("kind".into(), "copied".into())])
                        .inc_by(c.stats.chunks_copied);
                    self.metrics
                        .chunks
                        .get_or_create(&vec![("kind".into(), "reencoded".into())])
                        .inc_by(c.stats.chunks_reencoded);
                    if let Some(m) = &c.output {
                        tracing::info!(group = %group.key, output = %m.ulid, series = m.stats.num_series, samples = m.stats.num_samples, chunks_copied = c.stats.chunks_copied, chunks_reencoded = c.stats.chunks_reencoded, "compaction done");
                        out.outputs.push(m.ulid);
                    }
                    out.compacted.extend(ids.iter().copied());
                    group.replace(&ids, c.output);
                }
                Err(e) if e.is_data_error() => {
                    self.metrics.compaction_failures.get_or_create(&gl).inc();
                    let culprits: Vec<BlockMeta> = match &e {
                        Error::ReadBlock { block, .. } | Error::ParseMeta { block, .. } => blocks
                            .iter()
                            .filter(|b| b.ulid == *block)
                            .cloned()
                            .collect(),
                        _ => blocks.clone(),
                    };
                    let why = format!("compaction failed: {e}");
                    if let Err(e2) = self
                        .quarantine(&group, &culprits, REASON_CORRUPT, &why, now_ms)
                        .await
                    {
                        out.failures.push(format!("group {}: {e2}", group.key));
                        break;
                    }
                    for b in &culprits {
                        excluded.insert(b.ulid);
                        out.quarantined.push(b.ulid);
                    }
                    out.failures.push(format!("group {}: {e}", group.key));
                }
                Err(e) => {
                    self.metrics.compaction_failures.get_or_create(&gl).inc();
                    tracing::warn!(group = %group.key, error = %e, "compaction failed; retrying next iteration");
                    out.failures.push(format!("group {}: {e}", group.key));
                    break;
                }
            }
        }
        out
    }

    /// Plans and runs compactions for every group, `compact_concurrency` groups at once.
    pub async fn compact_all(&self, now_ms: i64, rep: &mut IterationReport) -> Result<()> {
        let st = self.fetch().await?;
        let metas = self.cfg.selection.filter(&st, now_ms);
        let groups = planner::group_blocks(&metas, &self.cfg.replica_labels);
        let excluded: HashSet<Ulid> = st.no_compact_marks.keys().copied().collect();
        // Progress gauges: what the planner would do right now.
        let (mut todo_blocks, mut todo_compactions) = (0i64, 0i64);
        for g in &groups {
            if let GroupPlan::Compact(bs) =
                planner::plan_group(&g.blocks, &excluded, self.cfg.vertical, &self.cfg.ranges)
            {
                todo_blocks += bs.len() as i64;
                todo_compactions += 1;
            }
        }
        self.metrics.todo_compaction_blocks.set(todo_blocks);
        self.metrics.todo_compactions.set(todo_compactions);
        let outcomes: Vec<GroupOutcome> = futures::stream::iter(groups)
            .map(|g| self.compact_group(g, excluded.clone(), now_ms))
            .buffer_unordered(self.cfg.compact_concurrency)
            .collect()
            .await;
        for o in outcomes {
            rep.compactions += o.outputs.len();
            rep.compacted_blocks.extend(o.compacted);
            rep.outputs.extend(o.outputs);
            rep.quarantined.extend(o.quarantined);
            rep.failures.extend(o.failures);
        }
        // Quarantine gauges over the whole selection.
        let st = self.fetch().await?;
        let metas = self.cfg.selection.filter(&st, now_ms);
        let groups = planner::group_blocks(&metas, &self.cfg.replica_labels);
        let q: Vec<&Group> = groups
            .iter()
            .filter(|g| {
                g.blocks
                    .iter()
                    .any(|b| st.no_compact_marks.contains_key(&b.ulid))
            })
            .collect();
        self.metrics.groups_quarantined.set(q.len() as i64);
        self.metrics.blocks_quarantined.set(
            metas
                .iter()
                .filter(|m| st.no_compact_marks.contains_key(&m.ulid))
                .count() as i64,
        );
        self.metrics.todo_compaction_blocks.set(0);
        self.metrics.todo_compactions.set(0);
        Ok(())
    }

    /// Marks blocks past retention for deletion.
    pub async fn apply_retention(&self, now_ms: i64, rep: &mut IterationReport) -> Result<()> {
        let st = self.fetch().await?;
        let metas = self.cfg.selection.for_retention(&st, now_ms);
        let expired = planner::plan_retention(&metas, self.cfg.retentions, now_ms);
        if expired.is_empty() {
            return Ok(());
        }
        tracing::info!(blocks = ?expired, "marking blocks past retention for deletion");
        mark_for_deletion(
            self.bucket.as_ref(),
            &expired,
            "block past retention",
            now_ms.div_euclid(1000),
        )
        .await?;
        self.metrics
            .marked_for_deletion
            .inc_by(expired.len() as u64);
        self.metrics
            .marks
            .get_or_create(&Metrics::mark(block::DELETION_MARK_FILENAME, "retention"))
            .inc_by(expired.len() as u64);
        rep.retention_marked.extend(expired);
        Ok(())
    }

    /// Downsamples every block the plan asks for.
    pub async fn downsample_all(&self, now_ms: i64, rep: &mut IterationReport) -> Result<()> {
        let st = self.fetch().await?;
        let metas = self.cfg.selection.filter(&st, now_ms);
        let jobs = planner::plan_downsample(&metas, &st.no_downsample);
        self.metrics.todo_downsample_blocks.set(jobs.len() as i64);
        let results: Vec<(Ulid, i64, Result<Ulid>)> = futures::stream::iter(jobs)
            .map(|job| async move {
                let id = job.block.ulid;
                let res = job.target_resolution;
                let r = crate::downsample::downsample_block(
                    self.bucket.clone(),
                    &job.block,
                    res,
                    &self.cfg.data_dir,
                    self.cfg.files_concurrency,
                )
                .await;
                (id, res, r)
            })
            .buffer_unordered(self.cfg.downsample_concurrency)
            .collect()
            .await;
        for (id, res, r) in results {
            let l = vec![("resolution".to_string(), res.to_string())];
            match r {
                Ok(out) => {
                    self.metrics.downsamples.get_or_create(&l).inc();
                    rep.downsampled.push((id, out));
                }
                Err(e) => {
                    self.metrics.downsample_failures.get_or_create(&l).inc();
                    tracing::warn!(block = %id, error = %e, "downsampling failed");
                    rep.failures.push(format!("downsample {id}: {e}"));
                    if e.is_data_error() {
                        // Do not retry a block that cannot be downsampled every iteration.
                        let mark = NoDownsampleMark {
                            id,
                            version: MARK_VERSION_1,
                            details: Some(format!("downsampling failed: {e}")),
                            no_downsample_time: now_ms.div_euclid(1000),
                            reason: MarkReason::from(REASON_DOWNSAMPLE_FAILED),
                        };
                        match block::write_mark(self.bucket.as_ref(), &mark).await {
                            Ok(()) => {
                                tracing::warn!(block = %id, "marked no-downsample; remove the mark to retry");
                                self.metrics
                                    .marks
                                    .get_or_create(&Metrics::mark(
                                        block::NO_DOWNSAMPLE_MARK_FILENAME,
                                        REASON_DOWNSAMPLE_FAILED,
                                    ))
                                    .inc();
                            }
                            Err(e) => rep.failures.push(format!("mark {id} no-downsample: {e}")),
                        }
                    }
                }
            }
        }
        self.metrics.todo_downsample_blocks.set(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aeon_model::Labels;
    use aeon_objstore::InMemoryBucket;
    use aeon_tsdb_block::meta::ThanosDownsample;
    use aeon_tsdb_block::{BlockWriter, BlockWriterOptions, ThanosMeta};

    use super::*;

    fn config(dir: &std::path::Path) -> Config {
        Config {
            data_dir: dir.to_path_buf(),
            selection: Selection::default(),
            vertical: false,
            dedup: DedupFunc::OneToOne,
            replica_labels: vec![],
            retentions: [Duration::ZERO; 3],
            delete_delay: Duration::ZERO,
            downsampling: true,
            compact_concurrency: 1,
            downsample_concurrency: 1,
            fetch_concurrency: 1,
            files_concurrency: 1,
            meta_fetch_concurrency: 1,
            ranges: planner::DEFAULT_RANGES.to_vec(),
        }
    }

    #[tokio::test]
    async fn undownsamplable_blocks_get_a_no_downsample_mark_and_are_not_retried() {
        let tmp = tempfile::tempdir().unwrap();
        let bucket: Arc<dyn Bucket> = Arc::new(InMemoryBucket::new("m"));
        // A "5m" block spanning 11 days whose chunks are plain XOR: corrupt
        // for a downsampled block.
        let mut w = BlockWriter::new(
            tmp.path(),
            BlockWriterOptions {
                thanos: Some(ThanosMeta {
                    labels: [("cluster".to_string(), "eu1".to_string())].into(),
                    downsample: ThanosDownsample {
                        resolution: planner::RES_5M,
                    },
                    source: "compactor".into(),
                    ..Default::default()
                }),
                min_time: Some(0),
                max_time: Some(11 * 24 * planner::HOUR_MS),
                ..Default::default()
            },
        )
        .unwrap();
        w.add_float_series(
            Labels::from_pairs(&[("__name__", "x")]),
            &[(1000, 1.0), (2000, 2.0)],
        )
        .unwrap();
        let (meta, dir) = w.finish().unwrap();
        block::upload_block(bucket.as_ref(), &dir).await.unwrap();
        let c = Compactor::new(bucket.clone(), config(tmp.path()), Metrics::default());
        let mut rep = IterationReport::default();
        c.downsample_all(1_800_000_000_000, &mut rep).await.unwrap();
        assert_eq!(rep.failures.len(), 1, "{:?}", rep.failures);
        assert!(
            rep.failures[0].contains("expected aggregate chunks"),
            "{:?}",
            rep.failures
        );
        let m = block::read_mark::<NoDownsampleMark>(bucket.as_ref(), meta.ulid)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.reason.as_str(), REASON_DOWNSAMPLE_FAILED);
        let mut rep = IterationReport::default();
        c.downsample_all(1_800_000_000_000, &mut rep).await.unwrap();
        assert!(rep.failures.is_empty() && rep.downsampled.is_empty());
        // The meta cache holds the block; it is dropped once the block is gone.
        assert_eq!(c.fetcher.cache().len(), 1);
        block::delete_block(bucket.as_ref(), meta.ulid)
            .await
            .unwrap();
        c.fetch().await.unwrap();
        assert!(c.fetcher.cache().is_empty());
    }
}
