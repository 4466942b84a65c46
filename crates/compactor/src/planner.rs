//! Pure planning logic, no I/O: grouping into streams, Thanos's time-range
//! compaction planner, overlap detection, downsampling, retention, deletion
//! and garbage collection decisions. Every function takes the clock as an
//! argument so the executor and the tests decide what "now" is.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use aeon_model::Labels;
use aeon_tsdb_block::BlockMeta;
use ulid::Ulid;

/// Milliseconds in an hour.
pub const HOUR_MS: i64 = 3_600_000;
/// Compaction ranges in Thanos's code: 1h, 2h, 8h, 2d, 14d. The planner works
/// with `ranges[1..]` (2h → 8h → 2d → 14d); windows are aligned to multiples
/// of the range since the epoch.
pub const DEFAULT_RANGES: [i64; 5] = [
    HOUR_MS,
    2 * HOUR_MS,
    8 * HOUR_MS,
    48 * HOUR_MS,
    336 * HOUR_MS,
];
/// Raw resolution.
pub const RES_RAW: i64 = 0;
/// 5m resolution in ms.
pub const RES_5M: i64 = 300_000;
/// 1h resolution in ms.
pub const RES_1H: i64 = 3_600_000;
/// Raw blocks are downsampled to 5m once they span at least 40h.
pub const DOWNSAMPLE_RANGE_5M: i64 = 40 * HOUR_MS;
/// 5m blocks are downsampled to 1h once they span at least 10d.
pub const DOWNSAMPLE_RANGE_1H: i64 = 240 * HOUR_MS;
/// Minimum age of a partial upload (from its ULID time) before it is removed.
pub const PARTIAL_UPLOAD_THRESHOLD: Duration = Duration::from_secs(48 * 3600);

/// A block's downsample resolution (ms; 0 raw).
pub fn resolution(m: &BlockMeta) -> i64 {
    m.thanos.as_ref().map_or(0, |t| t.downsample.resolution)
}

/// A block's external labels, without the replica labels that
/// `--deduplication.replica-label` ignores.
pub fn group_labels(m: &BlockMeta, replica_labels: &[String]) -> Labels {
    let pairs: Vec<aeon_model::Label> = m
        .thanos
        .as_ref()
        .map(|t| {
            t.labels
                .iter()
                .filter(|(k, _)| !replica_labels.iter().any(|r| r == *k))
                .map(|(k, v)| aeon_model::Label {
                    name: k.clone(),
                    value: v.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    Labels::new(pairs)
}

/// Thanos's group key: `<resolution>@<labels hash>`.
pub fn group_key(resolution: i64, labels: &Labels) -> String {
    format!("{resolution}@{}", labels.stable_hash())
}

/// A stream of blocks: same external labels (minus replica labels) and resolution.
#[derive(Debug, Clone)]
pub struct Group {
    pub key: String,
    pub labels: Labels,
    pub resolution: i64,
    /// Sorted by `(min_time, ulid)`.
    pub blocks: Vec<BlockMeta>,
}

impl Group {
    /// Replaces `inputs` by `output`, keeping the order.
    pub fn replace(&mut self, inputs: &[Ulid], output: Option<BlockMeta>) {
        self.blocks.retain(|b| !inputs.contains(&b.ulid));
        if let Some(o) = output {
            self.blocks.push(o);
        }
        sort_by_min_time(&mut self.blocks);
    }
}

fn sort_by_min_time(v: &mut [BlockMeta]) {
    v.sort_by_key(|m| (m.min_time, m.ulid));
}

/// Groups blocks into streams, ordered by group key.
pub fn group_blocks<M: Borrow<BlockMeta>>(metas: &[M], replica_labels: &[String]) -> Vec<Group> {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for m in metas {
        let m = m.borrow();
        let labels = group_labels(m, replica_labels);
        let res = resolution(m);
        let key = group_key(res, &labels);
        groups
            .entry(key.clone())
            .or_insert_with(|| Group {
                key,
                labels,
                resolution: res,
                blocks: Vec::new(),
            })
            .blocks
            .push(m.clone());
    }
    let mut out: Vec<Group> = groups.into_values().collect();
    for g in &mut out {
        sort_by_min_time(&mut g.blocks);
    }
    out
}

/// What to do next with a group.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupPlan {
    /// Nothing to compact.
    Nothing,
    /// Compact these blocks (sorted by min time) into one.
    Compact(Vec<BlockMeta>),
    /// These blocks overlap and vertical compaction is off: quarantine them.
    Quarantine(Vec<BlockMeta>),
}

/// Plans the next compaction of a group (blocks sorted by min time).
/// `excluded` are blocks with a no-compact mark.
pub fn plan_group(
    blocks: &[BlockMeta],
    excluded: &HashSet<Ulid>,
    vertical: bool,
    ranges: &[i64],
) -> GroupPlan {
    let not_excluded: Vec<&BlockMeta> = blocks
        .iter()
        .filter(|b| !excluded.contains(&b.ulid))
        .collect();
    let overlapping = select_overlapping(&not_excluded);
    if !overlapping.is_empty() {
        let v = overlapping.into_iter().cloned().collect();
        return if vertical {
            GroupPlan::Compact(v)
        } else {
            GroupPlan::Quarantine(v)
        };
    }
    if blocks.is_empty() {
        return GroupPlan::Nothing;
    }
    // The most recent block (by min time) is left out so that a block just
    // uploaded is not compacted before its successor of the same size arrives.
    let all: Vec<&BlockMeta> = blocks[..blocks.len() - 1].iter().collect();
    let picked = select_metas(ranges, excluded, &all);
    if picked.len() > 1 {
        GroupPlan::Compact(picked.into_iter().cloned().collect())
    } else {
        GroupPlan::Nothing
    }
}

/// The first set of blocks that overlap in time (sorted by min time).
pub fn select_overlapping<'a>(by_min_time: &[&'a BlockMeta]) -> Vec<&'a BlockMeta> {
    let mut out: Vec<&BlockMeta> = Vec::new();
    let Some(first) = by_min_time.first() else {
        return out;
    };
    let mut global_max = first.max_time;
    for (i, m) in by_min_time.iter().enumerate().skip(1) {
        if m.min_time < global_max {
            if out.is_empty() {
                out.push(by_min_time[i - 1]);
            }
            out.push(m);
        } else if !out.is_empty() {
            break;
        }
        global_max = global_max.max(m.max_time);
    }
    out
}

/// Splits blocks into groups that each fall into one aligned window of `tr`;
/// blocks larger than the window (or straddling it) are skipped.
pub fn split_by_range<'a>(by_min_time: &[&'a BlockMeta], tr: i64) -> Vec<Vec<&'a BlockMeta>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < by_min_time.len() {
        let m = by_min_time[i];
        let t0 = if m.min_time >= 0 {
            tr * (m.min_time / tr)
        } else {
            tr * ((m.min_time - tr + 1) / tr)
        };
        if m.max_time > t0 + tr {
            i += 1;
            continue;
        }
        let mut group = Vec::new();
        while i < by_min_time.len() && by_min_time[i].max_time <= t0 + tr {
            group.push(by_min_time[i]);
            i += 1;
        }
        if !group.is_empty() {
            out.push(group);
        }
    }
    out
}

/// Thanos's `selectMetas`: the first window (smallest range first) holding at
/// least two blocks that either fills the whole window or lies before the
/// most recent block; no-compact blocks split a window without creating gaps.
pub fn select_metas<'a>(
    ranges: &[i64],
    excluded: &HashSet<Ulid>,
    by_min_time: &[&'a BlockMeta],
) -> Vec<&'a BlockMeta> {
    let (Some(last), true) = (by_min_time.last(), ranges.len() > 1) else {
        return Vec::new();
    };
    let high_time = last.min_time;
    for &iv in &ranges[1..] {
        for p in split_by_range(by_min_time, iv) {
            if p.iter().any(|m| m.compaction.failed) || p.len() < 2 {
                continue;
            }
            let mint = p[0].min_time;
            let maxt = p[p.len() - 1].max_time;
            if maxt - mint != iv && maxt > high_time {
                continue;
            }
            let mut last_excluded = 0;
            for (i, m) in p.iter().enumerate() {
                if !excluded.contains(&m.ulid) {
                    continue;
                }
                if i - last_excluded > 1 {
                    return p[last_excluded..i].to_vec();
                }
                last_excluded = i + 1;
            }
            if p.len() - last_excluded > 1 {
                return p[last_excluded..].to_vec();
            }
        }
    }
    Vec::new()
}

/// One downsampling job.
#[derive(Debug, Clone, PartialEq)]
pub struct DownsampleJob {
    pub block: BlockMeta,
    pub target_resolution: i64,
}

/// Raw blocks spanning ≥ 40h without a 5m block of the same sources → 5m;
/// 5m blocks spanning ≥ 10d without a 1h block of the same sources → 1h.
pub fn plan_downsample(metas: &[BlockMeta], no_downsample: &HashSet<Ulid>) -> Vec<DownsampleJob> {
    let mut covered: HashMap<i64, HashSet<Ulid>> = HashMap::new();
    for m in metas {
        let r = resolution(m);
        if r == RES_5M || r == RES_1H {
            covered
                .entry(r)
                .or_default()
                .extend(m.compaction.sources.iter().copied());
        }
    }
    let mut out = Vec::new();
    for m in metas {
        if no_downsample.contains(&m.ulid) {
            continue;
        }
        let (target, min_range) = match resolution(m) {
            RES_RAW => (RES_5M, DOWNSAMPLE_RANGE_5M),
            RES_5M => (RES_1H, DOWNSAMPLE_RANGE_1H),
            _ => continue,
        };
        let have = covered.get(&target);
        let missing = m
            .compaction
            .sources
            .iter()
            .any(|s| !have.is_some_and(|h| h.contains(s)));
        if !missing || m.max_time - m.min_time < min_range {
            continue;
        }
        out.push(DownsampleJob {
            block: m.clone(),
            target_resolution: target,
        });
    }
    out
}

/// Blocks wholly past retention for their resolution (`retentions` = raw, 5m,
/// 1h; zero keeps forever): `now > maxTime + retention`, maxTime truncated to
/// seconds as Thanos does.
pub fn plan_retention(metas: &[BlockMeta], retentions: [Duration; 3], now_ms: i64) -> Vec<Ulid> {
    metas
        .iter()
        .filter(|m| {
            let r = match resolution(m) {
                RES_RAW => retentions[0],
                RES_5M => retentions[1],
                RES_1H => retentions[2],
                _ => Duration::ZERO,
            };
            if r.is_zero() {
                return false;
            }
            let max_ms = m.max_time.div_euclid(1000) * 1000;
            now_ms > max_ms.saturating_add(i64::try_from(r.as_millis()).unwrap_or(i64::MAX))
        })
        .map(|m| m.ulid)
        .collect()
}

/// Whether a block marked at `deletion_time` (unix seconds) is past the delete delay.
pub fn past_delete_delay(deletion_time: i64, delete_delay: Duration, now_ms: i64) -> bool {
    let delay = i64::try_from(delete_delay.as_millis()).unwrap_or(i64::MAX);
    now_ms.saturating_sub(deletion_time.saturating_mul(1000)) >= delay
}

/// Whether a partial upload (no meta.json) is old enough to be an aborted
/// upload: its ULID time is older than max(consistency delay, 48h).
pub fn is_aborted_partial(id: Ulid, consistency_delay: Duration, now_ms: i64) -> bool {
    let threshold = consistency_delay.max(PARTIAL_UPLOAD_THRESHOLD);
    let age = now_ms.saturating_sub(i64::try_from(id.timestamp_ms()).unwrap_or(i64::MAX));
    age > i64::try_from(threshold.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
