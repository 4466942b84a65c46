//! Block sync: list the bucket, fetch meta.json files (concurrency-limited,
//! cached in memory: blocks are immutable), apply Thanos's meta filters,
//! and hand the resulting set to the [`BucketStore`]. Index-headers of new
//! blocks are then built in the background; queries never wait for blocks
//! they do not touch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aeon_common::flags::TimeOrDuration;
use aeon_model::{Label, Labels};
use aeon_objstore::Bucket;
use aeon_objstore::block::{DeletionMark, list_blocks, read_mark, read_meta};
use aeon_tsdb_block::BlockMeta;
use futures::StreamExt;
use ulid::Ulid;

use crate::metrics::Metrics;
use crate::store::BucketStore;
use crate::{Error, Result};
use aeon_common::relabel::Relabeler;

/// The label holding the block ULID during relabelling.
pub const BLOCK_ID_LABEL: &str = "__block_id";

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
    /// Blocks skipped, by reason (`partial`, `corrupted-meta`, `time`,
    /// `relabel`, `consistency-delay`, `marked-for-deletion`, `duplicate`).
    pub filtered: BTreeMap<&'static str, Vec<Ulid>>,
    /// Blocks whose meta.json or deletion mark could not be read (kept out
    /// this time, retried next sync), with the error.
    pub errors: Vec<(Ulid, String)>,
    pub added: usize,
    pub removed: usize,
}

impl SyncReport {
    fn skip(&mut self, reason: &'static str, id: Ulid) {
        self.filtered.entry(reason).or_default().push(id);
    }

    /// Blocks filtered for `reason`.
    pub fn filtered(&self, reason: &str) -> &[Ulid] {
        self.filtered.get(reason).map_or(&[], Vec::as_slice)
    }
}

/// Keeps the store's block set in sync with the bucket.
#[derive(Debug)]
pub struct Syncer {
    bucket: Arc<dyn Bucket>,
    cfg: SyncConfig,
    store: Arc<BucketStore>,
    metas: Mutex<HashMap<Ulid, Arc<BlockMeta>>>,
    metrics: Option<Metrics>,
}

fn ulid_ms(id: Ulid) -> i64 {
    i64::try_from(id.timestamp_ms()).unwrap_or(i64::MAX)
}

impl Syncer {
    pub fn new(
        bucket: Arc<dyn Bucket>,
        cfg: SyncConfig,
        store: Arc<BucketStore>,
        metrics: Option<Metrics>,
    ) -> Self {
        Self {
            bucket,
            cfg,
            store,
            metas: Mutex::default(),
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
            if res.is_err() {
                m.sync_failures.inc();
            }
        }
        res
    }

    async fn sync_inner(&self) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let ids = list_blocks(self.bucket.as_ref())
            .await
            .map_err(|source| Error::Bucket {
                operation: "listing blocks".into(),
                source,
            })?;
        let known: HashSet<Ulid> = {
            let mut g = self.metas.lock().unwrap_or_else(PoisonError::into_inner);
            let listed: HashSet<Ulid> = ids.iter().copied().collect();
            g.retain(|id, _| listed.contains(id));
            g.keys().copied().collect()
        };
        let new: Vec<Ulid> = ids
            .iter()
            .copied()
            .filter(|id| !known.contains(id))
            .collect();
        let bucket = self.bucket.clone();
        let fetched: Vec<(Ulid, std::result::Result<Option<BlockMeta>, String>)> =
            futures::stream::iter(new)
                .map(move |id| {
                    let bucket = bucket.clone();
                    async move {
                        let r = match read_meta(bucket.as_ref(), id).await {
                            Ok(b) => BlockMeta::parse(&b, &format!("{id}/meta.json"))
                                .map(Some)
                                .map_err(|e| format!("corrupted-meta: {e}")),
                            Err(e) if e.is_not_found() => Ok(None),
                            Err(e) => Err(format!(
                                "reading meta.json: {}",
                                Error::Bucket {
                                    operation: format!("reading {id}/meta.json"),
                                    source: e,
                                }
                                .chain()
                            )),
                        };
                        (id, r)
                    }
                })
                .buffer_unordered(self.cfg.meta_concurrency.max(1))
                .collect()
                .await;
        {
            let mut g = self.metas.lock().unwrap_or_else(PoisonError::into_inner);
            for (id, r) in fetched {
                match r {
                    Ok(Some(m)) if m.ulid == id => {
                        g.insert(id, Arc::new(m));
                    }
                    Ok(Some(m)) => {
                        tracing::warn!(block = %id, meta_ulid = %m.ulid, "meta.json ulid does not match its directory; skipping");
                        report.skip("corrupted-meta", id);
                    }
                    Ok(None) => report.skip("partial", id),
                    Err(e) if e.starts_with("corrupted-meta") => {
                        tracing::warn!(block = %id, error = %e, "skipping block with bad meta.json");
                        report.skip("corrupted-meta", id);
                    }
                    Err(e) => {
                        tracing::warn!(block = %id, error = %e, "cannot read meta.json; retrying next sync");
                        report.errors.push((id, e));
                    }
                }
            }
        }
        let metas: Vec<Arc<BlockMeta>> = {
            let g = self.metas.lock().unwrap_or_else(PoisonError::into_inner);
            let mut v: Vec<_> = g.values().cloned().collect();
            v.sort_by_key(|m| m.ulid);
            v
        };
        let now = chrono::Utc::now().timestamp_millis();
        let pre = filter_static(&metas, &self.cfg, now, &mut report);
        // Deletion marks, for the blocks still in.
        let bucket = self.bucket.clone();
        let marks: Vec<(Ulid, std::result::Result<Option<DeletionMark>, String>)> =
            futures::stream::iter(pre.iter().map(|m| m.ulid).collect::<Vec<_>>())
                .map(move |id| {
                    let bucket = bucket.clone();
                    async move {
                        let r = read_mark::<DeletionMark>(bucket.as_ref(), id)
                            .await
                            .map_err(|e| e.to_string());
                        (id, r)
                    }
                })
                .buffer_unordered(self.cfg.meta_concurrency.max(1))
                .collect()
                .await;
        let mut marked = HashMap::new();
        for (id, r) in marks {
            match r {
                Ok(Some(m)) => {
                    marked.insert(id, m.deletion_time);
                }
                Ok(None) => {}
                Err(e) => {
                    // A garbage mark does not hide the block (Thanos logs and keeps it).
                    tracing::warn!(block = %id, error = %e, "cannot read deletion mark; ignoring it");
                }
            }
        }
        let delay_s =
            i64::try_from(self.cfg.ignore_deletion_marks_delay.as_secs()).unwrap_or(i64::MAX);
        let after_marks: Vec<Arc<BlockMeta>> = pre
            .into_iter()
            .filter(|m| match marked.get(&m.ulid) {
                Some(&t) if now / 1000 - t > delay_s => {
                    report.skip("marked-for-deletion", m.ulid);
                    false
                }
                _ => true,
            })
            .collect();
        let selected = deduplicate(after_marks, &mut report);
        report.selected = selected.iter().map(|m| m.ulid).collect();
        let (added, removed) = self.store.set_blocks(selected);
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
            m.synced_blocks
                .get_or_create(&vec![("state".into(), "loaded".into())])
                .set(report.selected.len() as i64);
            for (reason, v) in &report.filtered {
                m.synced_blocks
                    .get_or_create(&vec![("state".into(), (*reason).into())])
                    .set(v.len() as i64);
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

fn ext_labels(m: &BlockMeta) -> Labels {
    m.thanos.as_ref().map_or_else(Labels::empty, |t| {
        Labels::new(
            t.labels
                .iter()
                .map(|(k, v)| Label::new(k.as_str(), v.as_str()))
                .collect(),
        )
    })
}

/// Time partition, relabel and consistency-delay filters.
pub fn filter_static(
    metas: &[Arc<BlockMeta>],
    cfg: &SyncConfig,
    now_ms: i64,
    report: &mut SyncReport,
) -> Vec<Arc<BlockMeta>> {
    let (min_t, max_t) = (cfg.min_time.resolve(now_ms), cfg.max_time.resolve(now_ms));
    let delay = i64::try_from(cfg.consistency_delay.as_millis()).unwrap_or(i64::MAX);
    let mut out = Vec::with_capacity(metas.len());
    for m in metas {
        if m.max_time < min_t || m.min_time > max_t {
            report.skip("time", m.ulid);
            continue;
        }
        if !cfg.relabel.is_empty() {
            let mut l = ext_labels(m).to_vec();
            l.push(Label::new(BLOCK_ID_LABEL, m.ulid.to_string()));
            if cfg.relabel.process(&Labels::new(l)).is_none() {
                report.skip("relabel", m.ulid);
                continue;
            }
        }
        if delay > 0 {
            let source = m.thanos.as_ref().map_or("", |t| t.source.as_str());
            let exempt = matches!(source, "compactor" | "compactor.repair" | "bucket.repair");
            let upload = m
                .thanos
                .as_ref()
                .and_then(|t| t.extra.get("upload_time"))
                .and_then(|v| v.as_str())
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map_or(i64::MIN, |t| t.timestamp_millis());
            let born = ulid_ms(m.ulid).max(upload);
            if !exempt && now_ms - born < delay {
                report.skip("consistency-delay", m.ulid);
                continue;
            }
        }
        out.push(m.clone());
    }
    out
}

/// Thanos's deduplicate filter: a block whose compaction sources are all
/// covered by another block of the same resolution (with more sources, or
/// the same sources and a smaller ULID) is not served.
pub fn deduplicate(metas: Vec<Arc<BlockMeta>>, report: &mut SyncReport) -> Vec<Arc<BlockMeta>> {
    let sources = |m: &BlockMeta| -> Vec<Ulid> {
        if m.compaction.sources.is_empty() {
            vec![m.ulid]
        } else {
            let mut s = m.compaction.sources.clone();
            s.sort();
            s.dedup();
            s
        }
    };
    let res = |m: &BlockMeta| m.thanos.as_ref().map_or(0, |t| t.downsample.resolution);
    let mut order: Vec<(Arc<BlockMeta>, Vec<Ulid>)> = metas
        .into_iter()
        .map(|m| {
            let s = sources(&m);
            (m, s)
        })
        .collect();
    order.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.ulid.cmp(&b.0.ulid)));
    // (resolution, source) -> accepted blocks containing it.
    let mut covering: HashMap<(i64, Ulid), Vec<usize>> = HashMap::new();
    let mut accepted: Vec<(Arc<BlockMeta>, HashSet<Ulid>)> = Vec::new();
    for (m, srcs) in order {
        let r = res(&m);
        let dup = srcs.first().is_some_and(|first| {
            covering.get(&(r, *first)).is_some_and(|cands| {
                cands
                    .iter()
                    .any(|&i| srcs.iter().all(|s| accepted[i].1.contains(s)))
            })
        });
        if dup {
            report.skip("duplicate", m.ulid);
            continue;
        }
        let idx = accepted.len();
        for s in &srcs {
            covering.entry((r, *s)).or_default().push(idx);
        }
        accepted.push((m, srcs.into_iter().collect()));
    }
    let mut out: Vec<Arc<BlockMeta>> = accepted.into_iter().map(|(m, _)| m).collect();
    out.sort_by_key(|m| m.ulid);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aeon_tsdb_block::meta::ThanosMeta;

    fn meta(
        id: u128,
        min: i64,
        max: i64,
        sources: &[u128],
        labels: &[(&str, &str)],
    ) -> Arc<BlockMeta> {
        let mut m = BlockMeta::new(Ulid(id), min, max);
        m.compaction.sources = sources.iter().map(|&s| Ulid(s)).collect();
        m.thanos = Some(ThanosMeta {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        });
        Arc::new(m)
    }

    fn ids(v: &[Arc<BlockMeta>]) -> Vec<u128> {
        v.iter().map(|m| m.ulid.0).collect()
    }

    #[test]
    fn dedup_drops_blocks_covered_by_compacted_ones() {
        let v = vec![
            meta(1, 0, 10, &[1], &[]),
            meta(2, 10, 20, &[2], &[]),
            meta(3, 20, 30, &[3], &[]),
            meta(10, 0, 20, &[1, 2], &[]),
            meta(11, 0, 20, &[1, 2], &[]), // same sources as 10: the smaller ULID wins
        ];
        let mut r = SyncReport::default();
        assert_eq!(ids(&deduplicate(v, &mut r)), vec![3, 10]);
        assert_eq!(r.filtered("duplicate").len(), 3);
        // A partial overlap is not a duplicate.
        let v = vec![meta(10, 0, 20, &[1, 2], &[]), meta(12, 0, 30, &[2, 3], &[])];
        assert_eq!(
            ids(&deduplicate(v, &mut SyncReport::default())),
            vec![10, 12]
        );
    }

    #[test]
    fn time_relabel_and_consistency_filters() {
        let now = 1_000_000_000_000i64;
        let born_now = Ulid::from_parts(now as u64, 1).0;
        let old = Ulid::from_parts((now - 3_600_000) as u64, 1).0;
        let v = vec![
            meta(old, 0, 100, &[], &[("dc", "a")]),
            meta(old + 1, 200, 300, &[], &[("dc", "b")]),
            meta(born_now, 150, 160, &[], &[("dc", "a")]),
        ];
        let cfg = SyncConfig {
            min_time: TimeOrDuration::Time(150),
            max_time: TimeOrDuration::Time(1000),
            ..Default::default()
        };
        let mut r = SyncReport::default();
        assert_eq!(
            ids(&filter_static(&v, &cfg, now, &mut r)),
            vec![old + 1, born_now]
        );
        assert_eq!(r.filtered("time"), &[Ulid(old)]);
        let cfg = SyncConfig {
            relabel: Relabeler::parse("- action: keep\n  source_labels: [dc]\n  regex: a\n", "t")
                .unwrap(),
            consistency_delay: Duration::from_secs(60),
            ..Default::default()
        };
        let mut r = SyncReport::default();
        assert_eq!(ids(&filter_static(&v, &cfg, now, &mut r)), vec![old]);
        assert_eq!(r.filtered("relabel"), &[Ulid(old + 1)]);
        assert_eq!(r.filtered("consistency-delay"), &[Ulid(born_now)]);
        // __block_id is available to the relabel rules.
        let cfg = SyncConfig {
            relabel: Relabeler::parse(
                &format!(
                    "- action: drop\n  source_labels: [__block_id]\n  regex: {}\n",
                    Ulid(old)
                ),
                "t",
            )
            .unwrap(),
            ..Default::default()
        };
        assert_eq!(
            ids(&filter_static(&v, &cfg, now, &mut SyncReport::default())),
            vec![old + 1, born_now]
        );
    }
}
