//! Querier metrics (`aeon_querier_*`), registered on a registry passed in.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type LabelPairs = Vec<(String, String)>;

/// The querier's metrics.
#[derive(Debug, Clone, Default)]
pub(crate) struct Metrics {
    /// API requests by handler and status code.
    pub(crate) requests: Family<LabelPairs, Counter>,
    /// Endpoints by health (`healthy`, `unhealthy`).
    pub(crate) endpoints: Family<LabelPairs, Gauge>,
}

impl Metrics {
    /// Creates the metrics and registers them under `aeon_querier`.
    pub(crate) fn new(registry: &mut Registry) -> Self {
        let m = Self::default();
        let r = registry.sub_registry_with_prefix("aeon_querier");
        r.register(
            "api_requests",
            "HTTP API requests by handler and code",
            m.requests.clone(),
        );
        r.register(
            "endpoints",
            "Store API endpoints by health",
            m.endpoints.clone(),
        );
        m
    }

    /// Counts one API request.
    pub(crate) fn request(&self, handler: &str, code: u16) {
        self.requests
            .get_or_create(&vec![
                ("handler".into(), handler.into()),
                ("code".into(), code.to_string()),
            ])
            .inc();
    }

    /// Records the endpoint health counts.
    pub(crate) fn set_endpoints(&self, healthy: usize, unhealthy: usize) {
        self.endpoints
            .get_or_create(&vec![("state".into(), "healthy".into())])
            .set(healthy as i64);
        self.endpoints
            .get_or_create(&vec![("state".into(), "unhealthy".into())])
            .set(unhealthy as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposed_with_prefix() {
        let mut reg = Registry::default();
        let m = Metrics::new(&mut reg);
        m.request("query", 200);
        m.set_endpoints(2, 1);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &reg).unwrap();
        assert!(
            out.contains("aeon_querier_api_requests_total{handler=\"query\",code=\"200\"} 1"),
            "{out}"
        );
        assert!(
            out.contains("aeon_querier_endpoints{state=\"unhealthy\"} 1"),
            "{out}"
        );
    }
}
