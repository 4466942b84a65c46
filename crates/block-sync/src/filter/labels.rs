//! Thanos's `LabelShardedMetaFilter`: `--selector.relabel-config`.

use std::sync::Arc;

use aeon_common::relabel::Relabeler;
use aeon_model::{Label, Labels};
use aeon_tsdb_block::BlockMeta;

use super::{FilterContext, Filtered, MetaFilter, SkipReason, retain};

/// The label holding the block ULID during relabelling.
pub const BLOCK_ID_LABEL: &str = "__block_id";

/// Keeps blocks whose external labels plus `__block_id` survive the
/// relabel rules (no rules keep every block, even one without labels).
#[derive(Debug, Clone, Default)]
pub struct LabelSelector {
    pub relabel: Relabeler,
}

impl LabelSelector {
    pub fn new(relabel: Relabeler) -> Self {
        Self { relabel }
    }

    /// Whether the rules select `m`.
    pub fn keeps(&self, m: &BlockMeta) -> bool {
        let mut v: Vec<Label> = m
            .thanos
            .iter()
            .flat_map(|t| t.labels.iter())
            .map(|(k, v)| Label::new(k.as_str(), v.as_str()))
            .collect();
        v.push(Label::new(BLOCK_ID_LABEL, m.ulid.to_string()));
        self.relabel.process(&Labels::new(v)).is_some()
    }
}

impl MetaFilter for LabelSelector {
    fn filter(&self, metas: &mut Vec<Arc<BlockMeta>>, _: &FilterContext<'_>, out: &mut Filtered) {
        if self.relabel.is_empty() {
            return;
        }
        retain(metas, out, SkipReason::LabelExcluded, |m| self.keeps(m));
    }
}

#[cfg(test)]
mod tests {
    use ulid::Ulid;

    use super::*;
    use crate::BucketState;
    use crate::filter::apply;
    use crate::filter::testutil::{ids, meta};

    fn sel(yaml: &str) -> LabelSelector {
        LabelSelector::new(Relabeler::parse(yaml, "test").unwrap())
    }

    #[test]
    fn relabels_external_labels_and_block_id() {
        let mut bare = BlockMeta::new(Ulid(3), 0, 1);
        bare.thanos = None;
        let st = BucketState {
            metas: vec![
                meta(Ulid(1), (0, 1), &[], &[("dc", "eu1")], "x"),
                meta(Ulid(2), (0, 1), &[], &[("dc", "us1")], "x"),
                Arc::new(bare),
            ],
            ..Default::default()
        };
        let r = apply(
            &[&sel(
                "- action: keep\n  source_labels: [dc]\n  regex: eu.*\n",
            )],
            &st,
            0,
        );
        assert_eq!(ids(&r.metas), vec![Ulid(1)]);
        assert_eq!(r.skipped(SkipReason::LabelExcluded), &[Ulid(2), Ulid(3)]);
        let drop_one = sel(&format!(
            "- action: drop\n  source_labels: [__block_id]\n  regex: {}\n",
            Ulid(2)
        ));
        assert_eq!(
            ids(&apply(&[&drop_one], &st, 0).metas),
            vec![Ulid(1), Ulid(3)]
        );
        // No rules: every block, with or without external labels.
        assert_eq!(apply(&[&LabelSelector::default()], &st, 0).metas.len(), 3);
        // Hash-mod sharding on __block_id splits the blocks between shards.
        let shard = |n: u64| {
            sel(&format!(
                "- action: hashmod\n  source_labels: [__block_id]\n  target_label: shard\n  modulus: 2\n- action: keep\n  source_labels: [shard]\n  regex: \"{n}\"\n"
            ))
        };
        let (a, b) = (apply(&[&shard(0)], &st, 0), apply(&[&shard(1)], &st, 0));
        assert_eq!(a.metas.len() + b.metas.len(), 3);
    }
}
