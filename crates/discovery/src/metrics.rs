//! Metrics of DNS discovery, as Thanos's `dns.Provider` exports them under
//! the prefix its caller chooses (the querier: `thanos_query_store_apis_`):
//! `<prefix>dns_lookups_total` (one per lookup of a `dns+`/`dnssrv+`/
//! `dnssrvnoa+` spec), `<prefix>dns_failures_total` (failed lookups) and
//! `<prefix>dns_provider_results{addr}` (addresses each spec resolved to at
//! the last round, the last good answer for a failed lookup).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The DNS provider's metrics; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct DnsMetrics {
    pub(crate) lookups: Counter,
    pub(crate) failures: Counter,
    pub(crate) results: Family<Vec<(&'static str, String)>, Gauge>,
}

impl DnsMetrics {
    /// Registers the metrics on `registry`, names starting with `prefix`.
    pub fn register(registry: &mut Registry, prefix: &str) -> Self {
        let m = Self::default();
        registry.register(
            format!("{prefix}dns_lookups"),
            "The number of DNS lookups resolutions attempts",
            m.lookups.clone(),
        );
        registry.register(
            format!("{prefix}dns_failures"),
            "The number of DNS lookup failures",
            m.failures.clone(),
        );
        registry.register(
            format!("{prefix}dns_provider_results"),
            "The number of resolved endpoints for each configured address",
            m.results.clone(),
        );
        m
    }
}
