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
