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
