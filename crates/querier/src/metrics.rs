//! The querier's metrics, registered on the service's registry, with
//! Thanos's names where Thanos has the metric:
//! - HTTP: `http_requests_total`, `http_request_duration_seconds`, … per
//!   Thanos handler name (`query`, `query_range`, `series`, `label_names`,
//!   `label_values`, …) with the `tenant` label ([`handler_name`]);
//! - the query gate: `thanos_query_concurrent_gate_queries_{max,in_flight,
//!   total,duration_seconds}`;
//! - DNS discovery: `thanos_query_store_apis_dns_{lookups,failures}_total`;
//! - gRPC: `grpc_server_*` (the proxy's Store API) and `grpc_client_*` (the
//!   calls to the endpoints);
//! - Aeon's own `aeon_querier_endpoints{state}`.

use aeon_common::metrics::{Gate, HttpMetrics, TenantLabel};
use aeon_discovery::DnsMetrics;
use aeon_storeapi::{GrpcClientMetrics, GrpcMetrics};
use axum::http::Method;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type LabelPairs = Vec<(String, String)>;

/// The querier's metrics.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    /// Thanos's HTTP instrumentation of the API and UI.
    pub(crate) http: HttpMetrics,
    /// The gate of concurrent queries (`--query.max-concurrent`).
    pub(crate) gate: Gate,
    /// DNS lookups of `dns+` endpoint specs.
    pub(crate) dns: DnsMetrics,
    /// Calls to the endpoints.
    pub(crate) grpc_client: GrpcClientMetrics,
    /// Calls served by the proxy's Store API.
    pub(crate) grpc_server: GrpcMetrics,
    /// Endpoints by health (`healthy`, `unhealthy`).
    pub(crate) endpoints: Family<LabelPairs, Gauge>,
}

impl Metrics {
    /// Creates the metrics and registers them; `max_concurrent` is the
    /// query gate's size.
    pub(crate) fn new(registry: &mut Registry, max_concurrent: usize) -> Self {
        let m = Self {
            http: HttpMetrics::new(registry, Some(TenantLabel::default())),
            gate: Gate::new(
                registry,
                "thanos_query_concurrent_",
                Some(max_concurrent.max(1)),
            ),
            dns: DnsMetrics::register(registry, "thanos_query_store_apis_"),
            grpc_client: GrpcClientMetrics::register(registry),
            grpc_server: GrpcMetrics::register(registry),
            endpoints: Family::default(),
        };
        registry.sub_registry_with_prefix("aeon_querier").register(
            "endpoints",
            "Store API endpoints by health",
            m.endpoints.clone(),
        );
        m
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

/// The handler name Thanos's query gives a request (`pkg/api/query`,
/// `pkg/api`, `pkg/ui`), from its path below the route prefix; `None` for
/// paths Thanos does not instrument (static files, unknown routes).
pub(crate) fn handler_name(method: &Method, path: &str) -> Option<&'static str> {
    if let Some(api) = path.strip_prefix("/api/v1/") {
        if method == Method::OPTIONS {
            return Some("options");
        }
        return Some(match api {
            "query" | "query_explain" | "query_range_explain" => "query",
            "query_range" => "query_range",
            "series" => "series",
            "labels" => "label_names",
            "stores" => "stores",
            "alerts" => "alerts",
            "rules" => "rules",
            "targets" => "targets",
            "metadata" => "metadata",
            "query_exemplars" => "exemplars",
            "status/tsdb" => "status_tsdb",
            "status/flags" => "status_flags",
            "status/runtimeinfo" => "status_runtime",
            "status/buildinfo" => "status_build",
            // Prometheus's, not in Thanos's API.
            "format_query" => "format_query",
            "parse_query" => "parse_query",
            other if other.starts_with("label/") && other.ends_with("/values") => "label_values",
            _ => return None,
        });
    }
    match path {
        "/" | "/graph" | "/stores" => Some("react-static"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thanos_handler_names() {
        let get = Method::GET;
        assert_eq!(handler_name(&get, "/api/v1/query"), Some("query"));
        assert_eq!(
            handler_name(&Method::POST, "/api/v1/query_range"),
            Some("query_range")
        );
        assert_eq!(
            handler_name(&get, "/api/v1/label/job/values"),
            Some("label_values")
        );
        assert_eq!(handler_name(&get, "/api/v1/labels"), Some("label_names"));
        assert_eq!(
            handler_name(&get, "/api/v1/status/buildinfo"),
            Some("status_build")
        );
        assert_eq!(
            handler_name(&Method::OPTIONS, "/api/v1/query"),
            Some("options")
        );
        assert_eq!(handler_name(&get, "/graph"), Some("react-static"));
        assert_eq!(handler_name(&get, "/api/v1/nope"), None);
        assert_eq!(handler_name(&get, "/metrics"), None);
    }

    #[test]
    fn exposed_with_thanos_names() {
        let mut reg = Registry::default();
        let m = Metrics::new(&mut reg, 7);
        m.set_endpoints(2, 1);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &reg).unwrap();
        for want in [
            "aeon_querier_endpoints{state=\"unhealthy\"} 1",
            "thanos_query_concurrent_gate_queries_max 7",
            "thanos_query_store_apis_dns_lookups_total 0",
            "# TYPE grpc_server_handled counter",
        ] {
            assert!(out.contains(want), "missing {want}:\n{out}");
        }
    }
}
