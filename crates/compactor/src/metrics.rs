//! Compactor metrics (`aeon_compact_*`), registered on a registry passed in.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type LabelPairs = Vec<(String, String)>;

/// All compactor metrics; cheap to clone (shared atomics).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Blocks planned for compaction in the current iteration.
    pub todo_compaction_blocks: Gauge,
    /// Compactions planned in the current iteration.
    pub todo_compactions: Gauge,
    /// Blocks waiting to be downsampled.
    pub todo_downsample_blocks: Gauge,
    /// Blocks marked for deletion that wait for the delete delay to pass.
    pub todo_deletion_blocks: Gauge,
    /// Always 0: Aeon quarantines problems instead of halting.
    pub halted: Gauge,
    /// Groups with at least one quarantined (no-compact) block.
    pub groups_quarantined: Gauge,
    /// Blocks carrying a no-compact mark.
    pub blocks_quarantined: Gauge,
    /// Compactions done, per group key.
    pub compactions: Family<LabelPairs, Counter>,
    /// Failed compactions, per group key.
    pub compaction_failures: Family<LabelPairs, Counter>,
    /// Downsamplings done, per target resolution.
    pub downsamples: Family<LabelPairs, Counter>,
    /// Failed downsamplings, per target resolution.
    pub downsample_failures: Family<LabelPairs, Counter>,
    /// Marks written, per marker file and reason.
    pub marks: Family<LabelPairs, Counter>,
    /// Blocks deleted from the bucket.
    pub blocks_cleaned: Counter,
    /// Aborted partial uploads marked for deletion.
    pub partial_uploads_marked: Counter,
    /// Blocks garbage-collected because another block contains them.
    pub garbage_collected: Counter,
    /// Samples written by compactions.
    pub compacted_samples: Counter,
    /// Chunks copied unchanged vs re-encoded by compactions.
    pub chunks: Family<LabelPairs, Counter>,
    /// Iterations done.
    pub iterations: Counter,
    /// Iterations that ended with an error.
    pub iteration_failures: Counter,
    /// Unix seconds of the last successful iteration.
    pub last_successful_run: Gauge,
}

impl Metrics {
    /// Creates and registers the metrics under the `aeon_compact` prefix.
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self::default();
        let r = registry.sub_registry_with_prefix("aeon_compact");
        r.register(
            "todo_compaction_blocks",
            "Blocks planned to be compacted",
            m.todo_compaction_blocks.clone(),
        );
        r.register(
            "todo_compactions",
            "Compactions planned",
            m.todo_compactions.clone(),
        );
        r.register(
            "todo_downsample_blocks",
            "Blocks waiting to be downsampled",
            m.todo_downsample_blocks.clone(),
        );
        r.register(
            "todo_deletion_blocks",
            "Blocks marked for deletion waiting for the delete delay",
            m.todo_deletion_blocks.clone(),
        );
        r.register(
            "halted",
            "Always 0: problems are quarantined, the compactor never halts",
            m.halted.clone(),
        );
        r.register(
            "groups_quarantined",
            "Groups with at least one block carrying a no-compact mark",
            m.groups_quarantined.clone(),
        );
        r.register(
            "blocks_quarantined",
            "Blocks carrying a no-compact mark",
            m.blocks_quarantined.clone(),
        );
        r.register(
            "group_compactions",
            "Group compactions done",
            m.compactions.clone(),
        );
        r.register(
            "group_compaction_failures",
            "Group compactions failed",
            m.compaction_failures.clone(),
        );
        r.register("downsamples", "Downsamplings done", m.downsamples.clone());
        r.register(
            "downsample_failures",
            "Downsamplings failed",
            m.downsample_failures.clone(),
        );
        r.register("blocks_marked", "Marker files written", m.marks.clone());
        r.register(
            "blocks_cleaned",
            "Blocks deleted from the bucket",
            m.blocks_cleaned.clone(),
        );
        r.register(
            "aborted_partial_uploads_marked",
            "Aborted partial uploads marked for deletion",
            m.partial_uploads_marked.clone(),
        );
        r.register(
            "garbage_collected_blocks",
            "Blocks marked for deletion because another block holds their data",
            m.garbage_collected.clone(),
        );
        r.register(
            "compacted_samples",
            "Samples written by compactions",
            m.compacted_samples.clone(),
        );
        r.register(
            "chunks",
            "Chunks written by compactions, copied or reencoded",
            m.chunks.clone(),
        );
        r.register(
            "iterations",
            "Compactor iterations done",
            m.iterations.clone(),
        );
        r.register(
            "iteration_failures",
            "Compactor iterations that failed",
            m.iteration_failures.clone(),
        );
        r.register(
            "last_successful_run_timestamp_seconds",
            "Unix time of the last successful iteration",
            m.last_successful_run.clone(),
        );
        m
    }

    pub(crate) fn group(key: &str) -> LabelPairs {
        vec![("group".to_string(), key.to_string())]
    }

    pub(crate) fn mark(marker: &str, reason: &str) -> LabelPairs {
        vec![
            ("marker".to_string(), marker.to_string()),
            ("reason".to_string(), reason.to_string()),
        ]
    }
}
