//! Thanos's `TimePartitionMetaFilter`.

use std::sync::Arc;

use aeon_common::flags::TimeOrDuration;
use aeon_tsdb_block::BlockMeta;

use super::{FilterContext, Filtered, MetaFilter, SkipReason, retain};

/// Keeps blocks overlapping `[min_time, max_time]` (`--min-time`,
/// `--max-time`; relative values resolve against the sync's clock). Both
/// ends are inclusive, as in Thanos: a block whose (exclusive) max time
/// equals `min_time` is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimePartition {
    pub min_time: TimeOrDuration,
    pub max_time: TimeOrDuration,
}

impl Default for TimePartition {
    fn default() -> Self {
        Self {
            min_time: TimeOrDuration::MIN,
            max_time: TimeOrDuration::MAX,
        }
    }
}

impl TimePartition {
    /// Whether `m` is in the partition at `now_ms`.
    pub fn keeps(&self, m: &BlockMeta, now_ms: i64) -> bool {
        m.max_time >= self.min_time.resolve(now_ms) && m.min_time <= self.max_time.resolve(now_ms)
    }
}

impl MetaFilter for TimePartition {
    fn filter(&self, metas: &mut Vec<Arc<BlockMeta>>, cx: &FilterContext<'_>, out: &mut Filtered) {
        retain(metas, out, SkipReason::TimeExcluded, |m| {
            self.keeps(m, cx.now_ms)
        });
    }
}

#[cfg(test)]
mod tests {
    use ulid::Ulid;

    use super::*;
    use crate::BucketState;
    use crate::filter::apply;
    use crate::filter::testutil::{ids, meta};

    #[test]
    fn keeps_blocks_overlapping_the_inclusive_range() {
        let st = BucketState {
            metas: vec![
                meta(Ulid(1), (0, 100), &[], &[], "x"),
                meta(Ulid(2), (100, 200), &[], &[], "x"),
                meta(Ulid(3), (200, 300), &[], &[], "x"),
                meta(Ulid(4), (301, 400), &[], &[], "x"),
                meta(Ulid(5), (0, 99), &[], &[], "x"),
            ],
            ..Default::default()
        };
        let f = TimePartition {
            min_time: TimeOrDuration::Time(100),
            max_time: TimeOrDuration::Time(300),
        };
        let r = apply(&[&f], &st, 0);
        // Ends at min-time (max_time == 100) and starts at max-time: both kept.
        assert_eq!(ids(&r.metas), vec![Ulid(1), Ulid(2), Ulid(3)]);
        assert_eq!(r.skipped(SkipReason::TimeExcluded), &[Ulid(4), Ulid(5)]);
        // Relative bounds resolve against the sync's clock.
        let f = TimePartition {
            min_time: TimeOrDuration::Relative(-150),
            max_time: TimeOrDuration::MAX,
        };
        assert_eq!(ids(&apply(&[&f], &st, 500).metas), vec![Ulid(4)]);
        assert_eq!(apply(&[&TimePartition::default()], &st, 0).metas.len(), 5);
    }
}
