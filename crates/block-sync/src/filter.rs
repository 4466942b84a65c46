//! Thanos's meta filters (`pkg/block/fetcher.go`), composable: each
//! [`MetaFilter`] removes the blocks it rejects and records them under a
//! [`SkipReason`]. [`apply`] runs a chain over a [`BucketState`].

mod consistency;
mod dedup;
mod deletion;
mod labels;
mod time;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use aeon_tsdb_block::BlockMeta;
use ulid::Ulid;

use crate::BucketState;

pub use consistency::ConsistencyDelay;
pub use dedup::Deduplicate;
pub use deletion::DeletionDelay;
pub use labels::{BLOCK_ID_LABEL, LabelSelector};
pub use time::TimePartition;

/// Why a filter skipped a block. [`SkipReason::as_str`] is Thanos's
/// `thanos_blocks_meta_synced{state}` label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// Outside `--min-time`/`--max-time`.
    TimeExcluded,
    /// Dropped by the selector relabelling.
    LabelExcluded,
    /// Younger than the consistency delay.
    TooFresh,
    /// Marked for deletion longer ago than the delay.
    MarkedForDeletion,
    /// Its sources are all held by another block of its group.
    Duplicate,
}

impl SkipReason {
    /// Every reason, in label order.
    pub const ALL: [SkipReason; 5] = [
        SkipReason::TimeExcluded,
        SkipReason::LabelExcluded,
        SkipReason::TooFresh,
        SkipReason::MarkedForDeletion,
        SkipReason::Duplicate,
    ];

    /// Thanos's `state` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::TimeExcluded => "time-excluded",
            SkipReason::LabelExcluded => "label-excluded",
            SkipReason::TooFresh => "too-fresh",
            SkipReason::MarkedForDeletion => "marked-for-deletion",
            SkipReason::Duplicate => "duplicate",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a filter sees besides the metas: the fetched state (marks) and the
/// clock.
#[derive(Debug, Clone, Copy)]
pub struct FilterContext<'a> {
    pub state: &'a BucketState,
    /// Wall-clock time of the sync, ms since the epoch.
    pub now_ms: i64,
}

/// One of Thanos's `MetadataFilter`s.
pub trait MetaFilter: fmt::Debug + Send + Sync {
    /// Removes from `metas` (sorted by ULID, kept sorted) the blocks this
    /// filter rejects and records each in `out`.
    fn filter(&self, metas: &mut Vec<Arc<BlockMeta>>, cx: &FilterContext<'_>, out: &mut Filtered);
}

/// Blocks kept by a filter chain and the ones skipped, by reason.
#[derive(Debug, Clone, Default)]
pub struct Filtered {
    /// Blocks that passed every filter, sorted by ULID.
    pub metas: Vec<Arc<BlockMeta>>,
    skipped: BTreeMap<SkipReason, Vec<Ulid>>,
}

impl Filtered {
    /// Records that `id` was skipped for `reason`.
    pub fn skip(&mut self, reason: SkipReason, id: Ulid) {
        self.skipped.entry(reason).or_default().push(id);
    }

    /// Blocks skipped for `reason`, in the order they were skipped.
    pub fn skipped(&self, reason: SkipReason) -> &[Ulid] {
        self.skipped.get(&reason).map_or(&[], Vec::as_slice)
    }

    /// Every reason with its blocks.
    pub fn all_skipped(&self) -> impl Iterator<Item = (SkipReason, &[Ulid])> {
        self.skipped.iter().map(|(r, v)| (*r, v.as_slice()))
    }

    /// Block counts by Thanos's `thanos_blocks_meta_synced{state}` value:
    /// `loaded` (passed), `no-meta-json`, `corrupted-meta-json`, `failed`
    /// and one per [`SkipReason`].
    pub fn synced_states(&self, st: &BucketState) -> Vec<(&'static str, usize)> {
        let mut v = vec![
            ("loaded", self.metas.len()),
            ("no-meta-json", st.partial.len()),
            ("corrupted-meta-json", st.corrupt.len()),
            ("failed", st.failed.len()),
        ];
        v.extend(
            SkipReason::ALL
                .iter()
                .map(|r| (r.as_str(), self.skipped(*r).len())),
        );
        v
    }
}

/// Keeps the blocks for which `keep` holds; records the others under `reason`.
pub(crate) fn retain(
    metas: &mut Vec<Arc<BlockMeta>>,
    out: &mut Filtered,
    reason: SkipReason,
    mut keep: impl FnMut(&BlockMeta) -> bool,
) {
    metas.retain(|m| {
        let k = keep(m);
        if !k {
            out.skip(reason, m.ulid);
        }
        k
    });
}

/// Runs `filters` in order over the state's metas.
pub fn apply(filters: &[&dyn MetaFilter], state: &BucketState, now_ms: i64) -> Filtered {
    let cx = FilterContext { state, now_ms };
    let mut out = Filtered::default();
    let mut metas = state.metas.clone();
    for f in filters {
        f.filter(&mut metas, &cx, &mut out);
    }
    out.metas = metas;
    out
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use aeon_tsdb_block::{BlockMeta, ThanosMeta};
    use ulid::Ulid;

    /// A meta with the given time range, sources, external labels and source.
    pub(crate) fn meta(
        id: Ulid,
        range: (i64, i64),
        sources: &[Ulid],
        labels: &[(&str, &str)],
        source: &str,
    ) -> Arc<BlockMeta> {
        let mut m = BlockMeta::new(id, range.0, range.1);
        m.compaction.sources = sources.to_vec();
        m.thanos = Some(ThanosMeta {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            source: source.into(),
            ..Default::default()
        });
        Arc::new(m)
    }

    pub(crate) fn ids(v: &[Arc<BlockMeta>]) -> Vec<Ulid> {
        v.iter().map(|m| m.ulid).collect()
    }
}
