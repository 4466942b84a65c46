//! The sidecar's metrics (prefix `aeon_`), registered on a registry passed in,
//! the ones Thanos has also under Thanos's names (`thanos_sidecar_*`,
//! `thanos_shipper_*`).

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// All sidecar metrics; cheap to clone (shared counters).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// 1 if the last poll of Prometheus succeeded.
    pub prometheus_up: Gauge,
    /// Unix time of the last successful Prometheus poll.
    pub last_heartbeat: Gauge<f64, AtomicU64>,
    /// Blocks uploaded.
    pub shipper_uploads: Counter,
    /// Block uploads that failed.
    pub shipper_upload_failures: Counter,
    /// Shipper sync rounds.
    pub shipper_dir_syncs: Counter,
    /// Shipper sync rounds that failed as a whole (precondition, listing).
    pub shipper_dir_sync_failures: Counter,
    /// Unix time of the last successful block upload.
    pub shipper_last_upload: Gauge<f64, AtomicU64>,
    /// 1 while the shipper refuses to upload (no external labels, compaction on).
    pub shipper_blocked: Gauge,
    /// Reloads triggered (successful).
    pub reloader_reloads: Counter,
    /// Reload attempts that failed.
    pub reloader_reloads_failed: Counter,
    /// Remote-read requests sent to Prometheus.
    pub remote_reads: Counter,
    /// Remote-read requests that failed.
    pub remote_read_failures: Counter,
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self::default();
        let r = registry.sub_registry_with_prefix("aeon");
        r.register(
            "sidecar_prometheus_up",
            "Whether the last poll of Prometheus succeeded (1) or not (0)",
            m.prometheus_up.clone(),
        );
        r.register(
            "sidecar_last_heartbeat_success_time_seconds",
            "Unix time of the last successful poll of Prometheus",
            m.last_heartbeat.clone(),
        );
        r.register(
            "shipper_uploads",
            "Number of blocks uploaded",
            m.shipper_uploads.clone(),
        );
        r.register(
            "shipper_upload_failures",
            "Number of block uploads that failed",
            m.shipper_upload_failures.clone(),
        );
        r.register(
            "shipper_dir_syncs",
            "Number of shipper sync rounds",
            m.shipper_dir_syncs.clone(),
        );
        r.register(
            "shipper_dir_sync_failures",
            "Number of shipper sync rounds that failed",
            m.shipper_dir_sync_failures.clone(),
        );
        r.register(
            "shipper_last_successful_upload_time_seconds",
            "Unix time of the last successful block upload",
            m.shipper_last_upload.clone(),
        );
        r.register("shipper_blocked", "1 while the shipper refuses to upload (no external labels or Prometheus compaction enabled)", m.shipper_blocked.clone());
        r.register(
            "reloader_reloads",
            "Number of successful Prometheus reloads",
            m.reloader_reloads.clone(),
        );
        r.register(
            "reloader_reloads_failed",
            "Number of failed Prometheus reload attempts",
            m.reloader_reloads_failed.clone(),
        );
        r.register(
            "sidecar_remote_reads",
            "Number of remote-read requests sent to Prometheus",
            m.remote_reads.clone(),
        );
        r.register(
            "sidecar_remote_read_failures",
            "Number of remote-read requests to Prometheus that failed",
            m.remote_read_failures.clone(),
        );
        m.register_thanos_names(registry);
        m
    }

    /// Registers the metrics Thanos's sidecar and shipper export under
    /// Thanos's names on the root registry, sharing their values with the
    /// `aeon_*` ones the chart uses, so that the Thanos mixin works.
    fn register_thanos_names(&self, registry: &mut Registry) {
        registry.register(
            "thanos_sidecar_prometheus_up",
            "Boolean indicator whether the sidecar can reach its Prometheus peer",
            self.prometheus_up.clone(),
        );
        registry.register(
            "thanos_sidecar_last_heartbeat_success_time_seconds",
            "Timestamp of the last successful heartbeat in seconds",
            self.last_heartbeat.clone(),
        );
        registry.register(
            "thanos_shipper_uploads",
            "Total number of uploaded blocks",
            self.shipper_uploads.clone(),
        );
        registry.register(
            "thanos_shipper_upload_failures",
            "Total number of block upload failures",
            self.shipper_upload_failures.clone(),
        );
        registry.register(
            "thanos_shipper_dir_syncs",
            "Total number of dir syncs",
            self.shipper_dir_syncs.clone(),
        );
        registry.register(
            "thanos_shipper_dir_sync_failures",
            "Total number of failed dir syncs",
            self.shipper_dir_sync_failures.clone(),
        );
    }
}
