//! `/api/v1/format_query` against Prometheus 3.5's own prettier (`promtool
//! --experimental promql format`): long dashboard expressions come out byte
//! for byte as Prometheus prints them (the printer is aeon-promql's
//! `Expr::pretty`, compared with promtool in aeon-promql's tests too).

use tokio_util::sync::CancellationToken;

use crate::helpers::Querier;

fn prometheus_format(q: &str) -> String {
    aeon_testkit::peers::promtool_format(q)
}

/// Expressions longer than one line (aeon-promql's tests compare more with promtool).
const QUERIES: &[&str] = &[
    "sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{namespace=\"production\", container!=\"\"}[5m]))",
    "histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket{job=\"frontend\"}[5m])))",
    "sum(rate(http_requests_total{code=~\"5..\",job=\"api-server\"}[5m])) / sum(rate(http_requests_total{job=\"api-server\"}[5m])) > 0.05",
];

/// `/api/v1/format_query` returns the prettier's output.
#[tokio::test]
async fn format_query_endpoint_breaks_long_lines() {
    let q = Querier::start(&[], CancellationToken::new()).await;
    for query in QUERIES {
        let (code, body) = q.get("/api/v1/format_query", &[("query", query)]).await;
        assert_eq!(code, 200, "{body}");
        let got = body["data"].as_str().unwrap();
        assert!(got.contains('\n'), "{got}");
        assert_eq!(got, prometheus_format(query));
    }
}
