//! Compactor metrics (`aeon_compact_*`), registered on a registry passed in;
//! those Thanos's compactor has also under Thanos's names on the root
//! registry (`thanos_compact_*`, `thanos_blocks_meta_*`), so that the Thanos
//! mixin works.

use aeon_common::metrics::BlocksMetaMetrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Thanos's garbage collection duration buckets (seconds).
const GC_BUCKETS: [f64; 16] = [
    0.01, 0.1, 0.3, 0.6, 1.0, 3.0, 6.0, 9.0, 20.0, 30.0, 60.0, 90.0, 120.0, 240.0, 360.0, 720.0,
];

/// Garbage collection runs (marking blocks whose data another block holds),
/// as Thanos counts them.
#[derive(Debug, Clone)]
pub struct GcMetrics {
    /// Garbage collection runs.
    pub(crate) runs: Counter,
    /// Runs that failed.
    pub(crate) failures: Counter,
    /// Duration of a run.
    pub(crate) duration: Histogram,
}

impl Default for GcMetrics {
    fn default() -> Self {
        Self {
            runs: Counter::default(),
            failures: Counter::default(),
            duration: Histogram::new(GC_BUCKETS),
        }
    }
}

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
    /// Blocks whose deletion failed (retried next time).
    pub cleanup_failures: Counter,
    /// Blocks marked for deletion (any reason).
    pub marked_for_deletion: Counter,
    /// Garbage collection runs.
    pub gc: GcMetrics,
    /// Fetches of the bucket's block metas.
    pub blocks_meta: BlocksMetaMetrics,
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
        let mut m = m;
        m.blocks_meta = BlocksMetaMetrics::new(registry);
        // Both downsampling resolutions' series exist from the start.
        for res in [crate::planner::RES_5M, crate::planner::RES_1H] {
            let l = vec![("resolution".to_string(), res.to_string())];
            let _ = m.downsamples.get_or_create(&l);
            let _ = m.downsample_failures.get_or_create(&l);
        }
        m.register_thanos_names(registry);
        m
    }

    /// Thanos's names (`pkg/compact`), sharing their values with the
    /// `aeon_compact_*` families where both exist.
    fn register_thanos_names(&self, registry: &mut Registry) {
        let m = self;
        registry.register(
            "thanos_compact_halted",
            "Set to 1 if the compactor halted due to an unexpected error",
            m.halted.clone(),
        );
        registry.register(
            "thanos_compact_iterations",
            "Total number of iterations that were executed successfully",
            m.iterations.clone(),
        );
        registry.register(
            "thanos_compact_group_compactions",
            "Total number of group compaction attempts that resulted in a new block",
            m.compactions.clone(),
        );
        registry.register(
            "thanos_compact_group_compactions_failures",
            "Total number of failed group compactions",
            m.compaction_failures.clone(),
        );
        registry.register(
            "thanos_compact_downsample",
            "Total number of downsampling attempts",
            m.downsamples.clone(),
        );
        registry.register(
            "thanos_compact_downsample_failed",
            "Total number of failed downsampling attempts",
            m.downsample_failures.clone(),
        );
        registry.register(
            "thanos_compact_blocks_cleaned",
            "Total number of blocks deleted in compactor",
            m.blocks_cleaned.clone(),
        );
        registry.register(
            "thanos_compact_block_cleanup_failures",
            "Failures encountered while deleting blocks in compactor",
            m.cleanup_failures.clone(),
        );
        registry.register(
            "thanos_compact_blocks_marked",
            "Total number of blocks marked in compactor",
            m.marks.clone(),
        );
        registry.register(
            "thanos_compact_blocks_marked_for_deletion",
            "Total number of blocks marked for deletion in compactor",
            m.marked_for_deletion.clone(),
        );
        registry.register(
            "thanos_compact_garbage_collection",
            "Total number of garbage collection operations",
            m.gc.runs.clone(),
        );
        registry.register(
            "thanos_compact_garbage_collection_failures",
            "Total number of failed garbage collection operations",
            m.gc.failures.clone(),
        );
        registry.register(
            "thanos_compact_garbage_collection_duration_seconds",
            "Time it took to perform garbage collection iteration",
            m.gc.duration.clone(),
        );
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
