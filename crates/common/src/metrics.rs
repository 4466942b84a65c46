//! Metrics every service shares, with Prometheus's and Thanos's names so
//! the Thanos mixin's alerts and dashboards work unchanged:
//! - [`process`]: `process_*` (CPU, resident and virtual memory, file
//!   descriptors, start time), as Prometheus's Go client exposes them;
//! - [`blocks_meta`]: Thanos's `thanos_blocks_meta_sync*` fetcher metrics;
//! - [`gate`]: a concurrency gate with Thanos's `gate_queries_*` metrics;
//! - [`http`]: Thanos's HTTP server instrumentation
//!   (`http_requests_total{code,handler,method}`,
//!   `http_request_duration_seconds`, `http_request_size_bytes`,
//!   `http_response_size_bytes`, `http_inflight_requests`), applied per
//!   handler name.
//!
//! Go runtime series (`go_goroutines`, `go_memstats_*`,
//! `go_gc_duration_seconds`) have no honest equivalent in a Rust process and
//! are not exported: the mixin's dashboards plot them in their "Resources"
//! rows only.

pub mod blocks_meta;
pub mod gate;
pub mod http;
pub mod process;

pub use blocks_meta::BlocksMetaMetrics;
pub use gate::Gate;
pub use http::{HttpMetrics, TenantLabel};

use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::histogram::Histogram;

/// Fixed histogram buckets, as a [`Family`] constructor.
#[derive(Debug, Clone, Copy)]
pub struct Buckets(pub &'static [f64]);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// A histogram family whose histograms all have the same [`Buckets`].
pub type HistogramFamily<L> = Family<L, Histogram, Buckets>;

/// Thanos's gRPC and store latency buckets (seconds), used by many
/// `*_duration_seconds` histograms: 1 ms … 120 s.
pub const LATENCY_BUCKETS: Buckets = Buckets(&[
    0.001, 0.01, 0.1, 0.3, 0.6, 1.0, 3.0, 6.0, 9.0, 20.0, 30.0, 60.0, 90.0, 120.0,
]);
