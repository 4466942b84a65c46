//! Append rules (Prometheus 3.5's), typed errors, limits and queries.

use aeon_model::{Labels, MatchType, Matcher, stale_nan};
use aeon_tsdb_block::chunkenc::{CounterResetHint, HistogramChunk};
use aeon_tsdb_head::{Error, ErrorClass, Head, HeadOptions};

use crate::util::*;

#[test]
fn prometheus_append_rules_and_error_classes() {
    let d = tempfile::tempdir().unwrap();
    let h = open(d.path());
    let mut a = h.appender();
    let r = a.series(&series("up", 0)).unwrap();
    a.append(r, 10 * HOUR, 1.0).unwrap();
    a.commit().unwrap();

    let mut a = h.appender();
    // Same timestamp, same value: accepted (federation repeats samples).
    a.append(r, 10 * HOUR, 1.0).unwrap();
    // Same timestamp, another value or type.
    let e = a.append(r, 10 * HOUR, 2.0).unwrap_err();
    assert!(matches!(e, Error::DuplicateSample { .. }), "{e}");
    assert_eq!(e.class(), ErrorClass::Conflict);
    assert!(matches!(
        a.append_histogram(r, 10 * HOUR, &hist(1)).unwrap_err(),
        Error::DuplicateSample { .. }
    ));
    // Older than the series' last sample, but within the head's range.
    let e = a.append(r, 10 * HOUR - 1000, 1.0).unwrap_err();
    assert!(matches!(e, Error::OutOfOrder { .. }), "{e}");
    assert!(!e.is_retryable());
    // Older than max time minus half the block range: out of bounds, for
    // new series too.
    let r2 = a.series(&series("up", 1)).unwrap();
    let e = a.append(r2, 9 * HOUR - 1, 1.0).unwrap_err();
    assert!(matches!(e, Error::OutOfBounds { .. }), "{e}");
    a.append(r2, 9 * HOUR, 1.0).unwrap();
    // Out of order within one batch is caught at append time too.
    a.append(r, 10 * HOUR + 2000, 1.0).unwrap();
    assert!(matches!(
        a.append(r, 10 * HOUR + 1000, 1.0).unwrap_err(),
        Error::OutOfOrder { .. }
    ));
    let st = a.commit().unwrap();
    assert_eq!((st.appended, st.dropped), (2, 0));
    let got = dump(&h, i64::MIN, i64::MAX);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1.len(), 2);

    // An empty label set is bad input.
    let mut a = h.appender();
    let e = a.series(&Labels::empty()).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Invalid);
}

#[test]
fn out_of_order_window_accepts_recent_samples_and_merges_them() {
    let d = tempfile::tempdir().unwrap();
    let opts = HeadOptions {
        ooo_window: 30 * 60_000,
        ..Default::default()
    };
    let h = Head::open(d.path(), opts.clone()).unwrap();
    let mut a = h.appender();
    let r = a.series(&series("m", 0)).unwrap();
    for i in 0..10 {
        a.append(r, HOUR + i * 60_000, i as f64).unwrap();
    }
    a.commit().unwrap();
    let mut a = h.appender();
    a.append(r, HOUR + 30_000, 0.5).unwrap();
    a.append(r, HOUR - 10 * 60_000, -1.0).unwrap();
    a.append(r, HOUR + 90_000, 1.5).unwrap();
    let e = a.append(r, HOUR - 40 * 60_000, 1.0).unwrap_err();
    assert!(matches!(e, Error::TooOld { .. }), "{e}");
    let st = a.commit().unwrap();
    assert_eq!(st.out_of_order, 3);
    let mut a = h.appender();
    assert!(a.append(r, HOUR + 30_000, 0.5).is_ok());
    assert!(matches!(
        a.append(r, HOUR + 30_000, 0.6).unwrap_err(),
        Error::DuplicateSample { .. }
    ));
    drop(a);
    let got = dump(&h, i64::MIN, i64::MAX);
    let ts: Vec<i64> = got[0].1.iter().map(|(t, _)| *t - HOUR).collect();
    assert_eq!(ts[..5], [-600_000, 0, 30_000, 60_000, 90_000]);
    assert_eq!(ts.len(), 13);
    // Replay keeps them.
    drop(h);
    let h = Head::open(d.path(), opts).unwrap();
    assert_eq!(dump(&h, i64::MIN, i64::MAX), got);
}

#[test]
fn series_limit_refuses_new_series_with_a_retryable_error() {
    let d = tempfile::tempdir().unwrap();
    let h = Head::open(
        d.path(),
        HeadOptions {
            max_series: 3,
            ..Default::default()
        },
    )
    .unwrap();
    let mut a = h.appender();
    for i in 0..3 {
        let r = a.series(&series("x", i)).unwrap();
        a.append(r, 1000, 1.0).unwrap();
    }
    let e = a.series(&series("x", 3)).unwrap_err();
    assert!(matches!(e, Error::TooManySeries { limit: 3 }), "{e}");
    assert_eq!(e.class(), ErrorClass::LimitExceeded);
    assert!(e.is_retryable());
    // Existing series still take samples.
    let r = a.series(&series("x", 0)).unwrap();
    a.append(r, 2000, 1.0).unwrap();
    a.commit().unwrap();
    assert_eq!(h.stats().num_series, 3);
}

#[test]
fn rollback_and_drop_leave_nothing_behind() {
    let d = tempfile::tempdir().unwrap();
    let h = open(d.path());
    let mut a = h.appender();
    let r = a.series(&series("x", 0)).unwrap();
    a.append(r, 1000, 1.0).unwrap();
    a.rollback();
    {
        let mut a = h.appender();
        a.append(r, 1000, 1.0).unwrap();
    }
    assert!(h.select(&[], i64::MIN, i64::MAX).unwrap().is_empty());
    drop(h);
    let h = open(d.path());
    assert!(h.select(&[], i64::MIN, i64::MAX).unwrap().is_empty());
}

#[test]
fn select_and_labels_follow_matchers_and_time() {
    let d = tempfile::tempdir().unwrap();
    let h = open(d.path());
    let mut a = h.appender();
    for i in 0..20 {
        let name = if i % 2 == 0 { "up" } else { "down" };
        let r = a.series(&series(name, i)).unwrap();
        for k in 0..10 {
            a.append(r, (i as i64) * 1000 + k * 100_000, k as f64)
                .unwrap();
        }
    }
    a.commit().unwrap();
    let m = |k, n: &str, v: &str| Matcher::new(k, n, v).unwrap();
    let up = h
        .select(&[m(MatchType::Equal, "__name__", "up")], i64::MIN, i64::MAX)
        .unwrap();
    assert_eq!(up.len(), 10);
    assert!(up.windows(2).all(|w| w[0].labels < w[1].labels));
    assert_eq!(samples(&up[0]).len(), 10);
    let some = h
        .select(
            &[m(MatchType::RegexMatch, "instance", "host-1.*")],
            i64::MIN,
            i64::MAX,
        )
        .unwrap();
    assert_eq!(some.len(), 11); // 1, 10..19
    // Only series with samples in the range.
    let late = h.select(&[], 900_000 + 15_000, i64::MAX).unwrap();
    assert_eq!(late.len(), 5); // i = 15..19
    assert_eq!(
        h.label_names(&[], i64::MIN, i64::MAX),
        vec!["__name__", "instance", "job"]
    );
    assert_eq!(
        h.label_values("__name__", &[], i64::MIN, i64::MAX),
        vec!["down", "up"]
    );
    assert_eq!(
        h.label_values(
            "instance",
            &[m(MatchType::Equal, "__name__", "up")],
            i64::MIN,
            i64::MAX
        )
        .len(),
        10
    );
    assert!(h.label_names(&[], 10_000_000, 20_000_000).is_empty());
}

#[test]
fn native_histograms_round_trip_with_counter_resets_and_staleness() {
    let d = tempfile::tempdir().unwrap();
    let h = open(d.path());
    let mut a = h.appender();
    let r = a.series(&series("h", 0)).unwrap();
    let rf = a.series(&series("fh", 0)).unwrap();
    let mut want = Vec::new();
    for i in 0..300u64 {
        let x = if (150..160).contains(&i) {
            i - 149
        } else {
            i + 1
        };
        let t = i as i64 * 15_000;
        a.append_histogram(r, t, &hist(x)).unwrap();
        a.append_float_histogram(rf, t, &hist(x).to_float())
            .unwrap();
        want.push((t, x));
    }
    // A float staleness marker ends a histogram series.
    a.append(r, 300 * 15_000, stale_nan()).unwrap();
    a.commit().unwrap();
    let got = h.select(&[], i64::MIN, i64::MAX).unwrap();
    let hs = got
        .iter()
        .find(|s| s.labels.metric_name() == Some("h"))
        .unwrap();
    let decoded = samples(hs);
    assert_eq!(decoded.len(), 301);
    for ((t, v), (wt, x)) in decoded.iter().zip(&want) {
        assert_eq!(t, wt);
        assert_eq!(
            *v,
            crate::util::v(&aeon_tsdb_block::chunkenc::SampleValue::Histogram(hist(*x)))
        );
    }
    // The reset at sample 150 starts a chunk whose header says so.
    let headers: Vec<CounterResetHint> = hs
        .chunks
        .iter()
        .map(|c| HistogramChunk::new(&c.data).unwrap().counter_reset_header())
        .collect();
    assert!(
        headers.contains(&CounterResetHint::CounterReset),
        "{headers:?}"
    );
    let before = dump(&h, i64::MIN, i64::MAX);
    h.close().unwrap();
    assert_eq!(dump(&open(d.path()), i64::MIN, i64::MAX), before);
}

#[test]
fn concurrent_appenders_commit_everything() {
    let d = tempfile::tempdir().unwrap();
    let h = open(d.path());
    std::thread::scope(|s| {
        for w in 0..4 {
            let h = &h;
            s.spawn(move || {
                for batch in 0..50 {
                    let mut a = h.appender();
                    for i in 0..20 {
                        // Half the series are shared by all writers.
                        let id = if i % 2 == 0 { i } else { 100 * (w + 1) + i };
                        let r = a.series(&series("c", id)).unwrap();
                        let _ = a.append(r, (batch * 4 + w as i64) * 1000, 1.0);
                    }
                    a.commit().unwrap();
                }
            });
        }
    });
    let got = dump(&h, i64::MIN, i64::MAX);
    assert_eq!(got.len(), 10 + 40);
    let total: usize = got.iter().map(|(_, s)| s.len()).sum();
    // Private series get every sample; shared ones at least one.
    assert!(total >= 40 * 50 + 10, "{total}");
    drop(h);
    assert_eq!(dump(&open(d.path()), i64::MIN, i64::MAX), got);
}
