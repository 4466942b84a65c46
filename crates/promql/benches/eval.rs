//! Range evaluation over 10k series × 1,000 steps; report time / (series × steps)
//! as ns per output point.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aeon_model::Labels;
use aeon_promql::{Engine, MemStorage};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SERIES: usize = 10_000;
const STEPS: i64 = 1_000;
const STEP_MS: i64 = 15_000;
const SCRAPE_MS: i64 = 15_000;

fn storage() -> MemStorage {
    let mut s = MemStorage::new();
    let end = STEPS * STEP_MS;
    let les = ["0.1", "0.5", "1", "5", "10", "+Inf"];
    for i in 0..SERIES {
        let job = format!("job{}", i % 10);
        let inst = format!("i{i}");
        // 10k counters, and (in the same budget) 10k histogram bucket series.
        let c = Labels::from_pairs(&[
            ("__name__", "http_requests_total"),
            ("job", &job),
            ("instance", &inst),
        ]);
        let b = Labels::from_pairs(&[
            ("__name__", "req_duration_seconds_bucket"),
            ("job", &job),
            ("instance", &format!("i{}", i / les.len())),
            ("le", les[i % les.len()]),
        ]);
        let mut t = -5 * 60_000;
        let mut v = 0.0;
        while t <= end {
            v += (i % 7) as f64 + 1.0;
            s.append(c.clone(), t, v);
            s.append(b.clone(), t, v * ((i % les.len()) as f64 + 1.0));
            t += SCRAPE_MS;
        }
    }
    s
}

fn bench(c: &mut Criterion) {
    let s = storage();
    let engine = Engine::default();
    let end = STEPS * STEP_MS - STEP_MS;
    let mut g = c.benchmark_group("range_eval_10k_series_1000_steps");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(SERIES as u64 * STEPS as u64));
    for (name, q) in [
        ("rate", "rate(http_requests_total[5m])"),
        (
            "sum_by_rate",
            "sum by (job) (rate(http_requests_total[5m]))",
        ),
        (
            "histogram_quantile",
            "histogram_quantile(0.9, sum by (le, job) (rate(req_duration_seconds_bucket[5m])))",
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| engine.range_query(&s, q, 0, end, STEP_MS).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
