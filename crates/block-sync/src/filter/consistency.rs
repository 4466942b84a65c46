//! Thanos's `ConsistencyDelayMetaFilter`.

use std::sync::Arc;
use std::time::Duration;

use aeon_tsdb_block::BlockMeta;

use super::{FilterContext, Filtered, MetaFilter, SkipReason, retain};

/// Sources whose blocks are never held back: the compactor writes a block
/// completely before anyone can see it.
const EXEMPT_SOURCES: [&str; 3] = ["compactor", "compactor.repair", "bucket.repair"];

/// Skips blocks younger than `delay`, giving an eventually consistent bucket
/// time to show every file of a new block. Age counts from the thanos
/// section's `upload_time` when the uploader wrote one, else from the ULID
/// time. Blocks written by the compactor or a repair are exempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsistencyDelay {
    pub delay: Duration,
}

/// `upload_time` of the thanos section (ms), unless absent, unparsable or
/// Go's zero time (Thanos's `UploadTime.IsZero()`).
fn upload_time_ms(m: &BlockMeta) -> Option<i64> {
    const GO_ZERO_TIME_MS: i64 = -62_135_596_800_000;
    let s = m.thanos.as_ref()?.extra.get("upload_time")?.as_str()?;
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .ok()?
        .timestamp_millis();
    (t != GO_ZERO_TIME_MS).then_some(t)
}

impl ConsistencyDelay {
    pub fn new(delay: Duration) -> Self {
        Self { delay }
    }

    /// Whether `m` is too fresh to act on at `now_ms`.
    pub fn is_too_fresh(&self, m: &BlockMeta, now_ms: i64) -> bool {
        let source = m.thanos.as_ref().map_or("", |t| t.source.as_str());
        if EXEMPT_SOURCES.contains(&source) {
            return false;
        }
        let delay = i64::try_from(self.delay.as_millis()).unwrap_or(i64::MAX);
        match upload_time_ms(m) {
            // `time.Since(upload) < delay`: an upload time in the future is fresh.
            Some(up) => now_ms.saturating_sub(up) < delay,
            None => {
                // `ulid.Now() - id.Time() < delay` in unsigned arithmetic: a
                // ULID from the future wraps around and is never too fresh.
                let born = i64::try_from(m.ulid.timestamp_ms()).unwrap_or(i64::MAX);
                let age = now_ms.saturating_sub(born);
                (0..delay).contains(&age)
            }
        }
    }
}

impl MetaFilter for ConsistencyDelay {
    fn filter(&self, metas: &mut Vec<Arc<BlockMeta>>, cx: &FilterContext<'_>, out: &mut Filtered) {
        retain(metas, out, SkipReason::TooFresh, |m| {
            !self.is_too_fresh(m, cx.now_ms)
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

    const NOW: i64 = 1_800_000_000_000;
    const MIN: i64 = 60_000;

    fn born(ms_ago: i64, rand: u128) -> Ulid {
        Ulid::from_parts((NOW - ms_ago) as u64, rand)
    }

    fn with_upload(m: &Arc<BlockMeta>, t: &str) -> Arc<BlockMeta> {
        let mut m = (**m).clone();
        if let Some(th) = m.thanos.as_mut() {
            th.extra.insert("upload_time".into(), t.into());
        }
        Arc::new(m)
    }

    #[test]
    fn fresh_blocks_wait_unless_the_compactor_wrote_them() {
        let d = ConsistencyDelay::new(Duration::from_secs(30 * 60));
        let fresh = meta(born(10 * MIN, 1), (0, 1), &[], &[], "sidecar");
        let old = meta(born(31 * MIN, 2), (0, 1), &[], &[], "sidecar");
        let future = meta(born(-10 * MIN, 3), (0, 1), &[], &[], "receive");
        let st = BucketState {
            metas: vec![
                fresh.clone(),
                old.clone(),
                meta(born(MIN, 4), (0, 1), &[], &[], "compactor"),
                meta(born(MIN, 5), (0, 1), &[], &[], "compactor.repair"),
                meta(born(MIN, 6), (0, 1), &[], &[], "bucket.repair"),
                future.clone(),
            ],
            ..Default::default()
        };
        let r = apply(&[&d], &st, NOW);
        assert_eq!(r.skipped(SkipReason::TooFresh), &[fresh.ulid]);
        // A ULID from the future is not too fresh (Thanos's unsigned arithmetic).
        assert!(ids(&r.metas).contains(&future.ulid));
        // Zero delay keeps everything.
        assert_eq!(
            apply(&[&ConsistencyDelay::default()], &st, NOW).metas.len(),
            6
        );

        // upload_time, when present, counts instead of the ULID time, both ways.
        let at = |ms_ago: i64| {
            chrono::DateTime::from_timestamp_millis(NOW - ms_ago)
                .unwrap()
                .to_rfc3339()
        };
        assert!(d.is_too_fresh(&with_upload(&old, &at(5 * MIN)), NOW));
        assert!(!d.is_too_fresh(&with_upload(&fresh, &at(40 * MIN)), NOW));
        assert!(d.is_too_fresh(&with_upload(&future, &at(-MIN)), NOW));
        // Go's zero time means "not set".
        assert!(d.is_too_fresh(&with_upload(&fresh, "0001-01-01T00:00:00Z"), NOW));
        assert!(!d.is_too_fresh(&with_upload(&old, "0001-01-01T00:00:00Z"), NOW));
        // Without a thanos section the block is not exempt.
        let mut bare = BlockMeta::new(born(MIN, 7), 0, 1);
        bare.thanos = None;
        assert!(d.is_too_fresh(&bare, NOW));
    }
}
