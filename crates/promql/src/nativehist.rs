//! Native histograms (float flavour) in PromQL: the type and its
//! arithmetic are [`aeon_model::histogram`]'s; here are the functions only
//! PromQL has (`histogram_quantile`, `histogram_fraction`,
//! `histogram_stdvar`) and the engine's reset rule.

pub use aeon_model::histogram::{
    Bucket, CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, HistogramError,
};

/// Whether `cur` shows a counter reset after `prev` for PromQL: Prometheus's
/// `DetectReset`, except that the same sample seen twice (e.g. by a
/// subquery) is never a reset.
pub(crate) fn is_reset(cur: &FloatHistogram, prev: &FloatHistogram) -> bool {
    cur != prev && cur.detect_reset(prev)
}

/// Native `histogram_quantile`.
pub fn histogram_quantile(q: f64, h: &FloatHistogram) -> f64 {
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if h.count == 0.0 || q.is_nan() {
        return f64::NAN;
    }
    let mut buckets = h.all_buckets();
    let forward = h.sum.is_nan() || q < 0.5;
    let mut rank = if forward {
        q * h.count
    } else {
        (1.0 - q) * h.count
    };
    if !forward {
        buckets.reverse();
    }
    let mut count = 0.0;
    let mut bucket = Bucket {
        lower: 0.0,
        upper: 0.0,
        count: 0.0,
    };
    for b in &buckets {
        bucket = *b;
        if b.count == 0.0 {
            continue;
        }
        count += b.count;
        if count >= rank {
            break;
        }
    }
    if !h.uses_custom_buckets() && bucket.lower < 0.0 && bucket.upper > 0.0 {
        if !h.has_negative() && h.has_positive() {
            bucket.lower = 0.0;
        } else if !h.has_positive() && h.has_negative() {
            bucket.upper = 0.0;
        }
    } else if h.uses_custom_buckets() {
        if bucket.lower == f64::NEG_INFINITY {
            if bucket.upper <= 0.0 {
                return bucket.upper;
            }
            bucket.lower = 0.0;
        } else if bucket.upper == f64::INFINITY {
            return bucket.lower;
        }
    }
    if count > h.count {
        count = h.count;
    }
    if count < rank {
        return if h.sum.is_nan() {
            f64::NAN
        } else {
            bucket.upper
        };
    }
    if forward {
        rank -= count - bucket.count;
    } else {
        rank = count - rank;
    }
    let fraction = rank / bucket.count;
    if h.uses_custom_buckets() || (bucket.lower <= 0.0 && bucket.upper >= 0.0) {
        return bucket.lower + (bucket.upper - bucket.lower) * fraction;
    }
    let log_lower = bucket.lower.abs().log2();
    let log_upper = bucket.upper.abs().log2();
    if bucket.lower > 0.0 {
        return (log_lower + (log_upper - log_lower) * fraction).exp2();
    }
    -(log_upper + (log_lower - log_upper) * (1.0 - fraction)).exp2()
}

/// Native `histogram_fraction`.
pub fn histogram_fraction(lower: f64, upper: f64, h: &FloatHistogram) -> f64 {
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let custom = h.uses_custom_buckets();
    for mut b in h.all_buckets() {
        let mut zero = false;
        if !custom && b.lower <= 0.0 && b.upper >= 0.0 {
            zero = true;
            if !h.has_negative() && h.has_positive() {
                b.lower = 0.0;
            } else if !h.has_positive() && h.has_negative() {
                b.upper = 0.0;
            }
        }
        if custom && b.lower == f64::NEG_INFINITY && b.upper > 0.0 {
            b.lower = 0.0;
        }
        let lin = |v: f64| {
            if b.upper.is_infinite() || b.lower.is_infinite() {
                if b.upper.is_infinite() {
                    rank
                } else {
                    rank + b.count
                }
            } else {
                rank + b.count * (v - b.lower) / (b.upper - b.lower)
            }
        };
        let exp = |v: f64| {
            let (ll, lu, lv) = (b.lower.abs().log2(), b.upper.abs().log2(), v.abs().log2());
            let fraction = if v > 0.0 {
                (lv - ll) / (lu - ll)
            } else {
                1.0 - ((lv - lu) / (ll - lu))
            };
            rank + b.count * fraction
        };
        if !lower_set && b.lower >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && b.lower >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && b.lower < lower && b.upper > lower {
            lower_rank = if custom || zero {
                lin(lower)
            } else {
                exp(lower)
            };
            lower_set = true;
        }
        if !upper_set && b.lower < upper && b.upper > upper {
            upper_rank = if custom || zero {
                lin(upper)
            } else {
                exp(upper)
            };
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank += b.count;
    }
    if !lower_set {
        lower_rank = rank;
    }
    if !upper_set {
        upper_rank = rank;
    }
    (upper_rank.min(h.count) - lower_rank.min(h.count)) / h.count
}

/// Native `histogram_stdvar`.
pub fn histogram_variance(h: &FloatHistogram) -> f64 {
    let mean = h.sum / h.count;
    let (mut var, mut c) = (0.0, 0.0);
    for b in h.all_buckets() {
        if b.count == 0.0 {
            continue;
        }
        let val = if h.uses_custom_buckets() {
            (b.upper + b.lower) / 2.0
        } else if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
        } else {
            let v = (b.upper * b.lower).sqrt();
            if b.upper < 0.0 { -v } else { v }
        };
        let d = val - mean;
        (var, c) = crate::aggregate::kahan_inc(b.count * d * d, var, c);
    }
    (var + c) / h.count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_of_simple_histogram() {
        let h = FloatHistogram::parse_notation("schema:0 sum:5 count:4 buckets:[1 2 1]").unwrap();
        assert!((histogram_quantile(0.5, &h) - std::f64::consts::SQRT_2).abs() < 1e-12);
        assert_eq!(histogram_fraction(1.0, 2.0, &h), 0.5);
        let mut a = h.clone();
        a.add(&h).unwrap();
        assert_eq!(a.count, 8.0);
        assert_eq!(a.positive.get(&1), Some(&4.0));
    }
}
