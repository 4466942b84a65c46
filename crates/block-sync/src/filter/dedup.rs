//! Thanos's `DefaultDeduplicateFilter` (after its `ReplicaLabelRemover`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use aeon_tsdb_block::BlockMeta;
use ulid::Ulid;

use super::{FilterContext, Filtered, MetaFilter, SkipReason};

/// Skips blocks whose compaction sources are all held by another block of
/// the same group (resolution and external labels, without
/// `replica_labels`): a compaction output whose inputs are not deleted yet
/// makes the inputs duplicates. Within a group, blocks with more sources
/// cover first, then the smaller ULID (so of two blocks with the same
/// sources the newer one is the duplicate). A block with no sources is
/// covered by any other block of its group, as in Thanos.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deduplicate {
    /// Labels left out of the group (the compactor's
    /// `--deduplication.replica-label`, Thanos's `ReplicaLabelRemover`).
    pub replica_labels: Vec<String>,
}

type GroupKey = (i64, Vec<(String, String)>);

impl Deduplicate {
    pub fn new(replica_labels: Vec<String>) -> Self {
        Self { replica_labels }
    }

    fn group_key(&self, m: &BlockMeta) -> GroupKey {
        let Some(t) = &m.thanos else {
            return (0, Vec::new());
        };
        let labels = t
            .labels
            .iter()
            .filter(|(k, _)| !self.replica_labels.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (t.downsample.resolution, labels)
    }

    /// The duplicates among `metas`, sorted by ULID.
    pub fn duplicates(&self, metas: &[Arc<BlockMeta>]) -> Vec<Ulid> {
        let mut groups: BTreeMap<GroupKey, Vec<&BlockMeta>> = BTreeMap::new();
        for m in metas {
            groups.entry(self.group_key(m)).or_default().push(m);
        }
        let mut out = Vec::new();
        for mut group in groups.into_values() {
            group.sort_by(|a, b| {
                let (la, lb) = (a.compaction.sources.len(), b.compaction.sources.len());
                lb.cmp(&la).then(a.ulid.cmp(&b.ulid))
            });
            // The covering set, indexed by source: a parent containing every
            // source of a child contains its first one.
            let mut covering: Vec<HashSet<Ulid>> = Vec::new();
            let mut by_source: HashMap<Ulid, Vec<usize>> = HashMap::new();
            for child in group {
                let srcs = &child.compaction.sources;
                let covered = match srcs.first() {
                    None => !covering.is_empty(),
                    Some(first) => by_source.get(first).is_some_and(|parents| {
                        parents
                            .iter()
                            .any(|&p| srcs.iter().all(|s| covering[p].contains(s)))
                    }),
                };
                if covered {
                    out.push(child.ulid);
                    continue;
                }
                let idx = covering.len();
                for s in srcs {
                    by_source.entry(*s).or_default().push(idx);
                }
                covering.push(srcs.iter().copied().collect());
            }
        }
        out.sort();
        out
    }
}

impl MetaFilter for Deduplicate {
    fn filter(&self, metas: &mut Vec<Arc<BlockMeta>>, _: &FilterContext<'_>, out: &mut Filtered) {
        let dups: HashSet<Ulid> = self.duplicates(metas).into_iter().collect();
        metas.retain(|m| !dups.contains(&m.ulid));
        let mut dups: Vec<Ulid> = dups.into_iter().collect();
        dups.sort();
        for id in dups {
            out.skip(SkipReason::Duplicate, id);
        }
    }
}

#[cfg(test)]
mod tests {
    use aeon_tsdb_block::meta::ThanosDownsample;

    use super::*;
    use crate::BucketState;
    use crate::filter::apply;
    use crate::filter::testutil::{ids, meta};

    fn u(i: u128) -> Ulid {
        Ulid(i)
    }

    fn m(id: u128, sources: &[u128], labels: &[(&str, &str)]) -> Arc<BlockMeta> {
        let s: Vec<Ulid> = sources.iter().map(|&s| u(s)).collect();
        meta(u(id), (0, 1), &s, labels, "x")
    }

    fn dups(d: &Deduplicate, v: Vec<Arc<BlockMeta>>) -> Vec<Ulid> {
        d.duplicates(&v)
    }

    #[test]
    fn blocks_covered_by_a_compacted_block_are_duplicates() {
        let d = Deduplicate::default();
        let st = BucketState {
            metas: vec![
                m(1, &[1], &[]),
                m(2, &[2], &[]),
                m(3, &[3], &[]),
                m(10, &[1, 2], &[]),
                m(11, &[1, 2], &[]), // same sources as 10: the newer ULID is the duplicate
            ],
            ..Default::default()
        };
        let r = apply(&[&d], &st, 0);
        assert_eq!(ids(&r.metas), vec![u(3), u(10)]);
        assert_eq!(r.skipped(SkipReason::Duplicate), &[u(1), u(2), u(11)]);
        // A partial overlap is not a duplicate; nested compactions are.
        assert!(dups(&d, vec![m(10, &[1, 2], &[]), m(12, &[2, 3], &[])]).is_empty());
        assert_eq!(
            dups(
                &d,
                vec![
                    m(1, &[1], &[]),
                    m(10, &[1, 2], &[]),
                    m(20, &[1, 2, 3, 4], &[])
                ]
            ),
            vec![u(1), u(10)]
        );
    }

    #[test]
    fn groups_are_resolution_and_labels_without_replica_labels() {
        let d = Deduplicate::default();
        // Same sources, other labels: another group, not a duplicate.
        assert!(
            dups(
                &d,
                vec![m(1, &[1], &[("a", "1")]), m(2, &[1, 2], &[("a", "2")])]
            )
            .is_empty()
        );
        // Other resolution: not a duplicate.
        let mut ds = (*m(2, &[1, 2], &[])).clone();
        ds.thanos.as_mut().unwrap().downsample = ThanosDownsample {
            resolution: 300_000,
        };
        assert!(dups(&d, vec![m(1, &[1], &[]), Arc::new(ds)]).is_empty());
        // Offline deduplication: replicas merged into a block without the
        // replica label; with the label ignored they are duplicates.
        let v = vec![
            m(1, &[1], &[("cluster", "eu"), ("replica", "a")]),
            m(2, &[2], &[("cluster", "eu"), ("replica", "b")]),
            m(3, &[1, 2], &[("cluster", "eu")]),
        ];
        assert!(dups(&d, v.clone()).is_empty());
        let d = Deduplicate::new(vec!["replica".into()]);
        assert_eq!(dups(&d, v), vec![u(1), u(2)]);
    }

    #[test]
    fn a_block_without_sources_is_covered_by_any_block_of_its_group() {
        let d = Deduplicate::default();
        assert_eq!(dups(&d, vec![m(1, &[], &[]), m(2, &[2], &[])]), vec![u(1)]);
        assert!(dups(&d, vec![m(1, &[], &[])]).is_empty());
    }
}
