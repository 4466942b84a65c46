//! gRPC server metrics of the Store API adapter (prometheus-client, prefix
//! `aeon_`), the equivalent of Thanos' `grpc_server_handled_total` and
//! `grpc_server_handling_seconds` for the Store and Info services.

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodCode {
    grpc_method: &'static str,
    grpc_code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Method {
    grpc_method: &'static str,
}

type HistogramFamily = Family<Method, Histogram, fn() -> Histogram>;

fn handling_histogram() -> Histogram {
    // 1 ms .. ~4.4 min.
    Histogram::new(exponential_buckets(0.001, 4.0, 10))
}

/// Metrics of served Store API calls. Cheap to clone (shared counters).
#[derive(Clone, Debug)]
pub struct GrpcMetrics {
    handled: Family<MethodCode, Counter>,
    seconds: HistogramFamily,
    series_sent: Counter,
    chunks_sent: Counter,
}

impl GrpcMetrics {
    /// Registers the metrics on `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            handled: Family::default(),
            seconds: Family::new_with_constructor(handling_histogram as fn() -> Histogram),
            series_sent: Counter::default(),
            chunks_sent: Counter::default(),
        };
        registry.register(
            "aeon_grpc_server_handled",
            "Store API calls completed, by method and gRPC status code",
            m.handled.clone(),
        );
        registry.register(
            "aeon_grpc_server_handling_seconds",
            "Time to complete a Store API call (Series: until its stream ends)",
            m.seconds.clone(),
        );
        registry.register(
            "aeon_storeapi_series_sent",
            "Series sent in Series responses",
            m.series_sent.clone(),
        );
        registry.register(
            "aeon_storeapi_chunks_sent",
            "Chunks sent in Series responses",
            m.chunks_sent.clone(),
        );
        m
    }

    pub(crate) fn observe(&self, method: &'static str, code: tonic::Code, start: Instant) {
        let code = format!("{code:?}");
        self.handled
            .get_or_create(&MethodCode {
                grpc_method: method,
                grpc_code: code,
            })
            .inc();
        self.seconds
            .get_or_create(&Method {
                grpc_method: method,
            })
            .observe(start.elapsed().as_secs_f64());
    }

    pub(crate) fn sent(&self, series: u64, chunks: u64) {
        self.series_sent.inc_by(series);
        self.chunks_sent.inc_by(chunks);
    }
}

/// Records a Series call once: at its end, on error, or as `Cancelled` when
/// dropped before either.
pub(crate) struct CallGuard {
    metrics: Option<GrpcMetrics>,
    method: &'static str,
    start: Instant,
}

impl CallGuard {
    pub(crate) fn new(metrics: Option<GrpcMetrics>, method: &'static str) -> Self {
        Self {
            metrics,
            method,
            start: Instant::now(),
        }
    }

    pub(crate) fn metrics(&self) -> Option<&GrpcMetrics> {
        self.metrics.as_ref()
    }

    pub(crate) fn finish(&mut self, code: tonic::Code) {
        if let Some(m) = self.metrics.take() {
            m.observe(self.method, code, self.start);
        }
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.finish(tonic::Code::Cancelled);
    }
}
