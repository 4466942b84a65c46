use super::*;

fn h(s: &str) -> FloatHistogram {
    FloatHistogram::parse_notation(s).unwrap()
}

#[test]
fn add_and_sub_bring_both_to_the_lower_schema() {
    let mut a = h("schema:1 count:4 sum:5 buckets:[1 2 1]");
    let b = h("schema:0 count:2 sum:1 buckets:[1 1]");
    a.add(&b).unwrap();
    assert_eq!(a.schema, 0);
    assert_eq!((a.count, a.sum), (6.0, 6.0));
    // schema 1 indices 0, 1, 2 → schema 0 indices 0, 1, 1.
    assert_eq!(a.positive, BTreeMap::from([(0, 2.0), (1, 4.0)]));
    a.sub(&b).unwrap();
    assert_eq!(a.positive, BTreeMap::from([(0, 1.0), (1, 3.0)]));
    let nhcb = h("schema:-53 count:1 sum:1 custom_values:[1 2] buckets:[1]");
    assert_eq!(a.add(&nhcb), Err(HistogramError::MixedExponentialCustom));
    let other = h("schema:-53 count:1 sum:1 custom_values:[1 3] buckets:[1]");
    assert_eq!(
        nhcb.clone().add(&other),
        Err(HistogramError::IncompatibleCustomBuckets)
    );
}

#[test]
fn zero_bucket_widens_to_the_larger_threshold() {
    let mut a = h("schema:0 count:3 sum:1 z_bucket:1 z_bucket_w:0.5 buckets:[1 1]");
    let b = h("schema:0 count:1 sum:1 z_bucket:1 z_bucket_w:1");
    a.add(&b).unwrap();
    // Bucket 0 is (0.5, 1]: inside the new zero bucket.
    assert_eq!((a.zero_threshold, a.zero_count), (1.0, 3.0));
    assert_eq!(a.positive, BTreeMap::from([(1, 1.0)]));
}

#[test]
fn resets_like_prometheus() {
    let prev = h("schema:1 count:4 sum:5 buckets:[1 2 1]");
    let mut cur = h("schema:1 count:5 sum:6 buckets:[1 3 1]");
    assert!(!cur.detect_reset(&prev));
    cur.positive.insert(2, 0.5);
    assert!(cur.detect_reset(&prev), "a bucket went down");
    // A coarser schema is compared after reducing the previous histogram.
    let coarse = h("schema:0 count:4 sum:5 buckets:[1 3]");
    assert!(!coarse.detect_reset(&prev));
    assert!(prev.detect_reset(&coarse), "a finer schema is a reset");
    let mut hinted = prev.clone();
    hinted.counter_reset_hint = CounterResetHint::CounterReset;
    assert!(hinted.detect_reset(&prev));
    let mut gauge = h("schema:1 count:1 sum:1 buckets:[1]");
    gauge.counter_reset_hint = CounterResetHint::Gauge;
    assert!(gauge.detect_reset(&prev), "a gauge read as a counter");
    gauge.counter_reset_hint = CounterResetHint::NotCounterReset;
    assert!(!gauge.detect_reset(&prev));
}

#[test]
fn schema_bounds_use_prometheus_fractions() {
    // Prometheus's 2^0.5 bound is one ulp below the correctly rounded
    // 1.4142135623730951; promtool prints 1.414213562373095.
    let below_sqrt2 = f64::from_bits(std::f64::consts::SQRT_2.to_bits() - 1);
    assert_eq!(bucket_bound(1, 1, &[]), below_sqrt2);
    assert_eq!(crate::gofmt::format_g(below_sqrt2), "1.414213562373095");
    // Every schema's table is a subsequence of schema 8's, strictly
    // increasing within [1, 2) for the first 2^s buckets, and the top
    // bucket ends at MaxFloat64.
    for s in 1..=8 {
        let n = 1 << s;
        let mut prev = 1.0;
        for j in 1..n {
            let b = bucket_bound(j, s, &[]);
            assert!(b > prev && b < 2.0, "schema {s} idx {j}: {b}");
            assert_eq!(b, bucket_bound(j << (8 - s), 8, &[]));
            prev = b;
        }
        assert_eq!(bucket_bound(1024 << s, s, &[]), f64::MAX);
        assert_eq!(bucket_bound((1024 << s) + 1, s, &[]), f64::INFINITY);
        assert_eq!(bucket_bound(-(1 << s), s, &[]), 0.5);
    }
    assert_eq!(bucket_bound(3, 0, &[]), 8.0);
    assert_eq!(bucket_bound(1024, 0, &[]), f64::MAX);
    assert_eq!(bucket_bound(-1, -2, &[]), 0.0625);
    let custom = [1.0, 2.5];
    assert_eq!(
        bucket_bound(-1, CUSTOM_BUCKETS_SCHEMA, &custom),
        f64::NEG_INFINITY
    );
    assert_eq!(bucket_bound(1, CUSTOM_BUCKETS_SCHEMA, &custom), 2.5);
    assert_eq!(
        bucket_bound(2, CUSTOM_BUCKETS_SCHEMA, &custom),
        f64::INFINITY
    );
}

/// From Prometheus's histogram `String()` tests.
#[test]
fn go_strings_like_prometheus() {
    let mut f = h(
        "schema:0 count:19 sum:2.7 z_bucket:3 z_bucket_w:1e-128 offset:-2 buckets:[1 0 0 2 1] n_buckets:[2]",
    );
    assert_eq!(
        f.go_string(),
        "{count:19, sum:2.7, [-1,-0.5):2, [-1e-128,1e-128]:3, (0.125,0.25]:1, (1,2]:2, (2,4]:1}"
    );
    f.positive.clear();
    f.negative.clear();
    assert_eq!(
        f.go_string_with("19", &|c| format!("{}", c as u64)),
        "{count:19, sum:2.7, [-1e-128,1e-128]:3}"
    );
    let nhcb = h("schema:-53 count:3 sum:2 custom_values:[1 2] buckets:[1 1 1]");
    assert_eq!(
        nhcb.go_string(),
        "{count:3, sum:2, [-Inf,1]:1, (1,2]:1, (2,+Inf]:1}"
    );
    assert_eq!(
        nhcb.all_buckets().first().map(|b| (b.lower, b.upper)),
        Some((f64::NEG_INFINITY, 1.0))
    );
}

#[test]
fn notation_round_trips() {
    let a = h(
        "schema:1 count:4 sum:5 z_bucket_w:0.001 z_bucket:1 offset:-1 buckets:[1 2 0 1] n_buckets:[3]",
    );
    assert_eq!(
        a.to_string(),
        "{{schema:1 count:4 sum:5 z_bucket_w:0.001 z_bucket:1 buckets:[-1:1 0:2 1:0 2:1] n_buckets:[0:3]}}"
    );
    assert!(FloatHistogram::parse_notation("schema:x").is_err());
}
