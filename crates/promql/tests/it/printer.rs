//! The prettier against Prometheus 3.5's own (`promtool --experimental
//! promql format`): long dashboard expressions must come out byte for byte
//! as Prometheus prints them.

fn prometheus_format(q: &str) -> String {
    aeon_testkit::peers::promtool_format(q)
}

const QUERIES: &[&str] = &[
    "up",
    "sum by (job) (rate(http_requests_total[5m]))",
    "sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{namespace=\"production\", container!=\"\"}[5m]))",
    "histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket{job=\"frontend\"}[5m])))",
    "sum(rate(http_requests_total{code=~\"5..\",job=\"api-server\"}[5m])) / sum(rate(http_requests_total{job=\"api-server\"}[5m])) > 0.05",
    "topk(10, sum without (instance, pod) (rate(node_network_receive_bytes_total{device!~\"lo|veth.*\"}[10m])))",
    "(node_filesystem_avail_bytes{fstype!=\"tmpfs\"} / node_filesystem_size_bytes{fstype!=\"tmpfs\"}) * 100 < 10 and on (instance, device) predict_linear(node_filesystem_avail_bytes[6h], 86400) < 0",
    "label_replace(kube_pod_container_resource_requests{resource=\"memory\", namespace=~\"prod|staging\"}, \"pod_name\", \"$1\", \"pod\", \"(.*)\")",
    "max_over_time(sum by (cluster) (rate(apiserver_request_total{verb=~\"LIST|GET\", code=~\"2..\"}[5m]))[1d:5m])",
    "-(sum by (job) (rate(process_cpu_seconds_total{job=~\"prometheus|alertmanager|node-exporter\"}[5m])) - 1)",
    "count by (cluster) (kube_node_status_condition{condition=\"Ready\", status=\"true\"} == bool on (node) group_left (role) kube_node_role{role=\"worker\"})",
    "avg_over_time(very_long_metric_name_for_a_recording_rule:http_requests:rate5m_sum_by_namespace_and_service[1h] offset 1d)",
];

/// `Expr::pretty` prints what Prometheus's prettier prints.
#[test]
fn pretty_matches_promtool() {
    for q in QUERIES {
        let ours = aeon_promql::parse(q).unwrap().pretty();
        assert_eq!(ours, prometheus_format(q), "query {q}");
    }
}
