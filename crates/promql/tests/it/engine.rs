//! Engine API tests.

use aeon_model::Labels;
use aeon_promql::{Engine, EngineOpts, Error, MemStorage, Value};

fn storage() -> MemStorage {
    let mut s = MemStorage::new();
    for i in 0..10 {
        s.append(
            Labels::from_pairs(&[("__name__", "up"), ("job", "a")]),
            i * 15_000,
            i as f64,
        );
        s.append(
            Labels::from_pairs(&[("__name__", "up"), ("job", "b")]),
            i * 15_000,
            2.0 * i as f64,
        );
    }
    s
}

#[test]
fn instant_and_range_queries() {
    let e = Engine::default();
    let s = storage();
    let r = e.instant_query(&s, "sum(up)", 135_000).unwrap();
    match r.value {
        Value::Vector(v) => {
            assert_eq!(v.len(), 1);
            assert_eq!(v[0].f, 27.0);
        }
        v => panic!("{v:?}"),
    }
    let r = e.range_query(&s, "up * 2", 0, 60_000, 15_000).unwrap();
    match r.value {
        Value::Matrix(m) => {
            assert_eq!(m.len(), 2);
            assert_eq!(m[1].floats.len(), 5);
            assert_eq!(m[1].floats[4].f, 16.0);
            assert_eq!(m[0].metric.get("__name__"), None);
        }
        v => panic!("{v:?}"),
    }
}

#[test]
fn errors() {
    let e = Engine::new(EngineOpts {
        max_samples: 3,
        ..EngineOpts::default()
    });
    let s = storage();
    assert!(matches!(
        e.instant_query(&s, "sum(", 0),
        Err(Error::Parse { .. })
    ));
    let err = e
        .instant_query(&s, "count_over_time(up[5m])", 135_000)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
}

#[test]
fn error_types_and_cancellation() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let e = Engine::default();
    let s = storage();
    let err = e.instant_query(&s, "rate(up)", 0).unwrap_err();
    assert_eq!(err.error_type(), "bad_data");
    assert!(
        err.to_string().contains("expected type range vector"),
        "{err}"
    );
    let expr = aeon_promql::parse("up").unwrap();
    let cancel = Arc::new(AtomicBool::new(true));
    let params = aeon_promql::QueryParams {
        start: 0,
        end: 60_000,
        step: 15_000,
        cancel: Some(cancel),
    };
    let err = e.exec(&s, &expr, &params).unwrap_err();
    assert_eq!(err.to_string(), "query was canceled in query execution");
    assert_eq!(err.error_type(), "canceled");
}

/// A storage generating `series` counters (`c_total`, rising by 1 per second,
/// one sample every `every` ms from 0 to `to`) lazily, chunk by chunk, and
/// counting how many samples were decoded.
struct Generated {
    series: usize,
    every: i64,
    to: i64,
    decoded: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl aeon_promql::Queryable for Generated {
    fn select(
        &self,
        matchers: &[aeon_model::Matcher],
        hints: &aeon_promql::SelectHints,
    ) -> aeon_promql::Result<Vec<aeon_promql::SelectedSeries>> {
        let mut out = Vec::new();
        for i in 0..self.series {
            let labels = Labels::from_pairs(&[("__name__", "c_total"), ("i", &i.to_string())]);
            if !matchers.iter().all(|m| m.matches_labels(&labels)) {
                continue;
            }
            let (every, decoded) = (self.every, self.decoded.clone());
            let first = hints.start.max(0).div_euclid(every) * every;
            let last = hints.end.min(self.to);
            let chunks = (0..)
                .map(move |c| first + c * 120 * every)
                .take_while(move |&t0| t0 <= last)
                .map(move |t0| {
                    let v: Vec<aeon_model::Sample> = (0..120)
                        .map(|k| t0 + k * every)
                        .take_while(|&t| t <= last)
                        .map(|t| aeon_model::Sample::new(t, t as f64 / 1000.0))
                        .collect();
                    decoded.fetch_add(v.len(), std::sync::atomic::Ordering::Relaxed);
                    Ok(aeon_promql::Chunk::Floats(v))
                });
            out.push(aeon_promql::SelectedSeries {
                labels,
                chunks: Box::new(chunks),
            });
        }
        Ok(out)
    }
}

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

#[test]
fn range_functions_and_selectors_hold_only_what_steps_need() {
    let decoded = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let s = Generated {
        series: 2,
        every: 15_000,
        to: 10 * DAY,
        decoded: decoded.clone(),
    };
    // 2 series × 57,600 raw samples, but only 217 steps: a limit of 2,000
    // samples in memory is enough, as the raw samples are streamed.
    let e = Engine::new(EngineOpts {
        max_samples: 2_000,
        ..EngineOpts::default()
    });
    for q in ["rate(c_total[5m])", "sum(rate(c_total[5m]))"] {
        let r = e.range_query(&s, q, DAY, 10 * DAY, HOUR).unwrap();
        let Value::Matrix(m) = r.value else {
            panic!("{q}: not a matrix")
        };
        for series in &m {
            assert_eq!(series.floats.len(), 217, "{q}");
            let want = if m.len() == 1 { 2.0 } else { 1.0 };
            assert!(
                series.floats.iter().all(|p| (p.f - want).abs() < 1e-9),
                "{q}"
            );
        }
    }
    assert!(decoded.load(std::sync::atomic::Ordering::Relaxed) > 200_000);
    // Instant selectors keep at most one sample per step and series.
    let r = e.range_query(&s, "c_total", DAY, 10 * DAY, HOUR).unwrap();
    let Value::Matrix(m) = r.value else { panic!() };
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].floats[1].f, (DAY + HOUR) as f64 / 1000.0);
    // Too many samples for the limit: the result itself does not fit.
    let small = Engine::new(EngineOpts {
        max_samples: 300,
        ..EngineOpts::default()
    });
    for q in ["rate(c_total[5m])", "c_total", "c_total[1h]"] {
        let err = if q.ends_with(']') {
            small.instant_query(&s, q, DAY)
        } else {
            small.range_query(&s, q, DAY, 10 * DAY, HOUR)
        }
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "query processing would load too many samples into memory in query execution",
            "{q}"
        );
        assert_eq!(err.error_type(), "execution");
    }
}

/// Range queries (computed series by series, aggregated for all steps at once)
/// must give exactly what instant queries at each step give (evaluated step-wise).
#[test]
fn range_queries_match_instant_queries_at_every_step() {
    let mut s = MemStorage::new();
    for i in 0..12u32 {
        let l = Labels::from_pairs(&[
            ("__name__", "req_total"),
            ("job", ["a", "b", "c"][i as usize % 3]),
            ("instance", &format!("i{i}")),
        ]);
        let mut v = 0.0;
        for k in 0..200i64 {
            // Gaps, counter resets, a stale marker and irregular spacing.
            if (k + i64::from(i)) % 17 == 0 {
                continue;
            }
            if k == 90 && i % 4 == 0 {
                s.append(l.clone(), k * 15_000, aeon_model::stale_nan());
                continue;
            }
            v = if (k + i64::from(i)) % 53 == 0 {
                1.0
            } else {
                v + f64::from(i % 5) + 0.25
            };
            s.append(l.clone(), k * 15_000 + i64::from(i) * 100, v);
        }
    }
    let e = Engine::default();
    let queries = [
        "rate(req_total[1m])",
        "increase(req_total[2m])",
        "delta(req_total[1m])",
        "irate(req_total[1m])",
        "deriv(req_total[3m])",
        "changes(req_total[2m])",
        "resets(req_total[5m])",
        "avg_over_time(req_total[1m])",
        "quantile_over_time(0.3, req_total[2m])",
        "predict_linear(req_total[2m], 60)",
        "last_over_time(req_total[1m])",
        "sum by (job) (rate(req_total[1m]))",
        "avg without (instance) (rate(req_total[1m]))",
        "count(increase(req_total[1m]))",
        "min by (job) (rate(req_total[1m]))",
        "max(rate(req_total[1m]))",
        "stddev by (job) (rate(req_total[1m]))",
        "stdvar(delta(req_total[2m]))",
        "group by (job) (rate(req_total[1m]))",
        "sum(sum by (job) (rate(req_total[1m]))) / 2",
        "rate(req_total[1m]) * on (instance) group_left sum by (instance) (rate(req_total[1m]))",
        "req_total",
    ];
    let (start, end, step) = (60_000, 2_900_000, 30_000);
    for q in queries {
        let r = e.range_query(&s, q, start, end, step).unwrap();
        let Value::Matrix(m) = r.value else {
            panic!("{q}: not a matrix")
        };
        let mut points = 0;
        let mut ts = start;
        while ts <= end {
            let Value::Vector(v) = e.instant_query(&s, q, ts).unwrap().value else {
                panic!("{q}: not a vector")
            };
            for x in &v {
                let series = m
                    .iter()
                    .find(|s| s.metric == x.metric)
                    .unwrap_or_else(|| panic!("{q} @ {ts}: {} missing in range result", x.metric));
                let p = series
                    .floats
                    .iter()
                    .find(|p| p.t == ts)
                    .unwrap_or_else(|| panic!("{q} @ {ts}: {} has no point", x.metric));
                assert!(
                    p.f.to_bits() == x.f.to_bits() || (p.f - x.f).abs() <= 1e-12 * x.f.abs(),
                    "{q} @ {ts}: {}: range {} instant {}",
                    x.metric,
                    p.f,
                    x.f
                );
                points += 1;
            }
            ts += step;
        }
        let total: usize = m.iter().map(|s| s.floats.len()).sum();
        assert_eq!(total, points, "{q}: range result has extra points");
        assert!(points > 0, "{q}: no points");
    }
}

#[test]
fn timeout_is_a_clear_error() {
    let e = Engine::new(EngineOpts {
        timeout: std::time::Duration::ZERO,
        ..EngineOpts::default()
    });
    let s = storage();
    for (q, range) in [("up", false), ("rate(up[1m])", true), ("sum(up)", true)] {
        let err = if range {
            e.range_query(&s, q, 0, 60_000, 15_000)
        } else {
            e.instant_query(&s, q, 60_000)
        }
        .unwrap_err();
        assert_eq!(err.to_string(), "query timed out in query execution", "{q}");
        assert_eq!(err.error_type(), "timeout");
    }
}
