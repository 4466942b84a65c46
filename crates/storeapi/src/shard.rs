//! Thanos `ShardInfo` semantics: which series belong to a shard.

use crate::pb::thanos::{Label, ShardInfo};

const SEP: u8 = 0xff;

/// Decides shard membership for a `SeriesRequest.shard_info`.
///
/// A series belongs to shard `shard_index` iff
/// `xxhash64(name 0xFF value 0xFF ...) % total_shards == shard_index`, where
/// the hashed labels are, in label order, those listed in `labels` (if `by`)
/// or those not listed (if `!by`). `total_shards < 1` (or no shard info)
/// means not sharded: everything matches.
#[derive(Debug, Clone, Default)]
pub struct ShardMatcher {
    shard: Option<ShardInfo>,
}

impl ShardMatcher {
    /// A matcher for the request's shard info (`None` = not sharded).
    pub fn new(info: Option<&ShardInfo>) -> Self {
        Self {
            shard: info.filter(|i| i.total_shards >= 1).cloned(),
        }
    }

    /// Whether the request is sharded at all.
    pub fn is_sharded(&self) -> bool {
        self.shard.is_some()
    }

    /// Whether a series with these (sorted, final) labels is in the shard.
    pub fn matches(&self, labels: &[Label]) -> bool {
        let Some(s) = &self.shard else { return true };
        let mut h = xxhash_rust::xxh64::Xxh64::new(0);
        for l in labels {
            let listed = s.labels.contains(&l.name);
            if listed == s.by {
                h.update(l.name.as_bytes());
                h.update(&[SEP]);
                h.update(l.value.as_bytes());
                h.update(&[SEP]);
            }
        }
        // total_shards >= 1 checked in new(); shard_index is compared as Go does (uint64 casts).
        h.digest() % (s.total_shards as u64) == s.shard_index as u64
    }
}

/// Shorthand for `ShardMatcher::new(info).matches(labels)`.
pub fn shard_matches(info: Option<&ShardInfo>, labels: &[Label]) -> bool {
    ShardMatcher::new(info).matches(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(pairs: &[(&str, &str)]) -> Vec<Label> {
        pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect()
    }

    fn shard(idx: i64, total: i64, by: bool, labels: &[&str]) -> ShardInfo {
        ShardInfo {
            shard_index: idx,
            total_shards: total,
            by,
            labels: labels.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn unsharded_matches_everything() {
        let l = ls(&[("a", "1")]);
        assert!(shard_matches(None, &l));
        assert!(shard_matches(Some(&shard(3, 0, false, &[])), &l));
    }

    #[test]
    fn hash_by_hand() {
        // by=[job]: hash "job\xffx\xff"
        let l = ls(&[("__name__", "up"), ("instance", "i1"), ("job", "x")]);
        let h = xxhash_rust::xxh64::xxh64(b"job\xffx\xff", 0);
        for total in 1..7i64 {
            let want = (h % total as u64) as i64;
            for idx in 0..total {
                assert_eq!(
                    shard_matches(Some(&shard(idx, total, true, &["job"])), &l),
                    idx == want
                );
            }
        }
        // without [instance]: hash "__name__\xffup\xffjob\xffx\xff"
        let h = xxhash_rust::xxh64::xxh64(b"__name__\xffup\xffjob\xffx\xff", 0);
        let want = (h % 5) as i64;
        assert!(shard_matches(
            Some(&shard(want, 5, false, &["instance"])),
            &l
        ));
        assert!(!shard_matches(
            Some(&shard((want + 1) % 5, 5, false, &["instance"])),
            &l
        ));
    }

    #[test]
    fn every_series_in_exactly_one_shard() {
        for i in 0..200 {
            let l = ls(&[("a", &i.to_string()), ("b", "x")]);
            let n = (0..4)
                .filter(|idx| shard_matches(Some(&shard(*idx, 4, false, &[])), &l))
                .count();
            assert_eq!(n, 1);
        }
    }
}
