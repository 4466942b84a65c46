//! Parse time of typical dashboard queries.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const QUERIES: &[(&str, &str)] = &[
    ("selector", r#"up{job="prometheus"}"#),
    (
        "rate_sum_by",
        r#"sum by (job, instance) (rate(http_requests_total{job=~"api.*",code!="500"}[5m]))"#,
    ),
    (
        "histogram_quantile",
        r#"histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket{env="prod"}[5m])))"#,
    ),
    (
        "ratio_group_left",
        r#"sum(rate(errors_total[5m])) by (job) / on(job) group_left(team) sum(rate(requests_total[5m])) by (job, team) * 100 > 5"#,
    ),
    (
        "subquery",
        r#"max_over_time(deriv(node_memory_free_bytes[10m])[1h:1m] offset 1d)"#,
    ),
    (
        "topk_or",
        r#"topk(10, sum by (pod) (container_memory_working_set_bytes{namespace="default"})) or vector(0)"#,
    ),
];

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for (name, q) in QUERIES {
        g.bench_function(*name, |b| {
            b.iter(|| aeon_promql::parse(black_box(q)).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
