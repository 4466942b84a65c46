//! Thanos's `IgnoreDeletionMarkFilter`.

use std::sync::Arc;
use std::time::Duration;

use aeon_tsdb_block::BlockMeta;

use super::{FilterContext, Filtered, MetaFilter, SkipReason, retain};

/// Skips blocks whose deletion mark is older than `delay`
/// (`--ignore-deletion-marks-delay`): until then a block marked for
/// deletion is still served, so its replacement can be picked up first.
/// With a zero delay every marked block is skipped, even one stamped this
/// very second or in the future (Thanos's strict `>` would keep those; the
/// compactor relies on a block it just marked being gone at once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeletionDelay {
    pub delay: Duration,
}

impl DeletionDelay {
    pub fn new(delay: Duration) -> Self {
        Self { delay }
    }

    /// Whether a block marked at `deletion_time` (unix seconds) is past the
    /// delay at `now_ms` (`time.Since(mark) > delay`; always with no delay).
    pub fn is_past(&self, deletion_time: i64, now_ms: i64) -> bool {
        if self.delay.is_zero() {
            return true;
        }
        let delay = i64::try_from(self.delay.as_millis()).unwrap_or(i64::MAX);
        now_ms.saturating_sub(deletion_time.saturating_mul(1000)) > delay
    }
}

impl MetaFilter for DeletionDelay {
    fn filter(&self, metas: &mut Vec<Arc<BlockMeta>>, cx: &FilterContext<'_>, out: &mut Filtered) {
        let marks = &cx.state.deletion_marks;
        retain(metas, out, SkipReason::MarkedForDeletion, |m| {
            marks
                .get(&m.ulid)
                .is_none_or(|d| !self.is_past(d.deletion_time, cx.now_ms))
        });
    }
}

#[cfg(test)]
mod tests {
    use aeon_objstore::block::DeletionMark;
    use ulid::Ulid;

    use super::*;
    use crate::BucketState;
    use crate::filter::apply;
    use crate::filter::testutil::{ids, meta};

    #[test]
    fn marked_blocks_are_skipped_once_the_delay_passed() {
        let now_ms = 1_800_000_000_000;
        let now_s = now_ms / 1000;
        let mut st = BucketState {
            metas: (1..=3)
                .map(|i| meta(Ulid(i), (0, 1), &[], &[], "x"))
                .collect(),
            ..Default::default()
        };
        for (i, age_s) in [(1, 25 * 3600), (2, 60)] {
            st.deletion_marks.insert(
                Ulid(i),
                DeletionMark {
                    id: Ulid(i),
                    version: 1,
                    details: None,
                    deletion_time: now_s - age_s,
                },
            );
        }
        let day = DeletionDelay::new(Duration::from_secs(24 * 3600));
        let r = apply(&[&day], &st, now_ms);
        assert_eq!(ids(&r.metas), vec![Ulid(2), Ulid(3)]);
        assert_eq!(r.skipped(SkipReason::MarkedForDeletion), &[Ulid(1)]);
        // Zero delay: every marked block.
        let r = apply(&[&DeletionDelay::default()], &st, now_ms);
        assert_eq!(ids(&r.metas), vec![Ulid(3)]);
        // Strictly older than the delay.
        assert!(!day.is_past(now_s - 24 * 3600, now_ms));
        assert!(day.is_past(now_s - 24 * 3600, now_ms + 1));
        assert!(DeletionDelay::default().is_past(now_s + 10, now_ms));
    }
}
