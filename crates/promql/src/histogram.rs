//! Classic-bucket `histogram_quantile`.

use std::collections::HashMap;

use aeon_model::{Labels, METRIC_NAME};

use crate::ast::Pos;
use crate::engine::Evaluator;
use crate::error::Result;
use crate::value::{Sample, Value, Vector};

const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    let norm = (a.abs() + b.abs()).min(f64::MAX);
    if a == 0.0 || b == 0.0 || norm < f64::MIN_POSITIVE {
        return diff < eps * f64::MIN_POSITIVE;
    }
    diff / norm < eps
}

/// Returns (quantile, forced monotonicity).
pub(crate) fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return (f64::NAN, false);
    }
    // Coalesce buckets with the same upper bound.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(ub, c) in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.0 == ub => last.1 += c,
            _ => merged.push((ub, c)),
        }
    }
    let mut forced = false;
    let mut prev = merged[0].1;
    for b in merged.iter_mut().skip(1) {
        let cur = b.1;
        if cur == prev {
            continue;
        }
        if almost_equal(prev, cur, SMALL_DELTA_TOLERANCE) {
            b.1 = prev;
            continue;
        }
        if cur < prev {
            b.1 = prev;
            forced = true;
            continue;
        }
        prev = cur;
    }
    if merged.len() < 2 {
        return (f64::NAN, forced);
    }
    let n = merged.len();
    let observations = merged[n - 1].1;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let b = merged[..n - 1].partition_point(|x| x.1 < rank);
    if b == n - 1 {
        return (merged[n - 2].0, forced);
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return (merged[0].0, forced);
    }
    let end = merged[b].0;
    let mut count = merged[b].1;
    let mut start = 0.0;
    if b > 0 {
        start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    (start + (end - start) * (rank / count), forced)
}

/// Classic buckets `(upper bound, count)` and the metric name, per group.
type GroupMap = HashMap<Labels, (Vec<(f64, f64)>, String)>;
type BucketGroups = (Vec<Labels>, GroupMap);

fn group_buckets(ev: &mut Evaluator<'_>, v: Vector, pos: HistPos) -> BucketGroups {
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: HashMap<Labels, (Vec<(f64, f64)>, String)> = HashMap::new();
    for s in v {
        if s.h.is_some() {
            continue;
        }
        let le = s.metric.get_or_empty("le");
        let ub = match parse_go_float(le) {
            Some(u) => u,
            None => {
                ev.warn(format!(
                    "bucket label \"le\" is missing or has a malformed value of {:?} for metric name {:?}",
                    le,
                    s.metric.get_or_empty(METRIC_NAME)
                ), pos.vector);
                continue;
            }
        };
        let key = s.metric.without(&["le"]);
        let name = s.metric.get_or_empty(METRIC_NAME).to_string();
        groups
            .entry(key.clone())
            .or_insert_with(|| {
                order.push(key);
                (Vec::new(), name)
            })
            .0
            .push((ub, s.f));
    }
    (order, groups)
}

/// Where the arguments of `histogram_quantile`/`histogram_fraction` start:
/// the first (scalar) one and the vector of buckets (annotations name them,
/// as Prometheus's do).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HistPos {
    pub scalar: Pos,
    pub vector: Pos,
}

pub(crate) fn histogram_quantile(
    ev: &mut Evaluator<'_>,
    q: f64,
    v: Vector,
    ts: i64,
    pos: HistPos,
) -> Result<Value> {
    if q.is_nan() || !(0.0..=1.0).contains(&q) {
        ev.warn(
            format!(
                "quantile value should be between 0 and 1, got {}",
                aeon_model::gofmt::format_g(q)
            ),
            pos.scalar,
        );
    }
    let mut out = Vec::new();
    let (order, mut groups) = group_buckets(ev, v.clone(), pos);
    for s in &v {
        if let Some(h) = &s.h {
            if mixed_classic_native(ev, &s.metric, &mut groups, pos) {
                continue;
            }
            let f = crate::nativehist::histogram_quantile(q, h);
            if h.sum.is_nan() {
                let what = if f.is_nan() {
                    "result is NaN"
                } else {
                    "result is skewed higher"
                };
                ev.info(format!(
                    "input to histogram_quantile has NaN observations, {what} for metric name {:?}",
                    s.metric.get_or_empty(METRIC_NAME)
                ), pos.scalar);
            }
            out.push(Sample {
                h: None,
                metric: s.metric.clone(),
                t: ts,
                f,
                drop_name: true,
            });
        }
    }
    for key in order {
        let Some((mut buckets, name)) = groups.remove(&key) else {
            continue;
        };
        let (f, forced) = bucket_quantile(q, &mut buckets);
        if forced {
            ev.info(format!(
                "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {name:?}"
            ), pos.vector);
        }
        out.push(Sample {
            h: None,
            metric: key,
            t: ts,
            f,
            drop_name: true,
        });
    }
    Ok(Value::Vector(out))
}

/// Parses a float the way Go's `strconv.ParseFloat` does for common inputs.
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t != s {
        return None;
    }
    match t.to_ascii_lowercase().as_str() {
        "+inf" | "inf" | "+infinity" | "infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    let clean: String = t.chars().filter(|&c| c != '_').collect();
    clean.parse().ok()
}

/// A native histogram whose labels equal a classic bucket group: warn, drop both.
fn mixed_classic_native(
    ev: &mut Evaluator<'_>,
    metric: &Labels,
    groups: &mut GroupMap,
    pos: HistPos,
) -> bool {
    if groups.remove(metric).is_some() {
        ev.warn(
            format!(
                "vector contains a mix of classic and native histograms for metric name {:?}",
                metric.get_or_empty(METRIC_NAME)
            ),
            pos.vector,
        );
        return true;
    }
    false
}

/// Fraction of observations between `lower` and `upper` of classic buckets.
pub(crate) fn bucket_fraction(lower: f64, upper: f64, buckets: &mut [(f64, f64)]) -> f64 {
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(ub, c) in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.0 == ub => last.1 += c,
            _ => merged.push((ub, c)),
        }
    }
    let count = merged[merged.len() - 1].1;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    // As Prometheus 3.5: the first bucket starts at -Inf, and a value
    // interpolated in it is NaN (Inf/Inf), which makes the fraction NaN.
    for (i, &(ub, c)) in merged.iter().enumerate() {
        let lb = if i == 0 {
            f64::NEG_INFINITY
        } else {
            merged[i - 1].0
        };
        let interp = |v: f64| rank + (c - rank) * (v - lb) / (ub - lb);
        if !lower_set && lb >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lb >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lb < lower && ub > lower {
            lower_rank = interp(lower);
            lower_set = true;
        }
        if !upper_set && lb < upper && ub > upper {
            upper_rank = interp(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = c;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

pub(crate) fn histogram_fraction(
    ev: &mut Evaluator<'_>,
    lo: f64,
    hi: f64,
    v: Vector,
    ts: i64,
    pos: HistPos,
) -> Result<Value> {
    let mut out = Vec::new();
    let (order, mut groups) = group_buckets(ev, v.clone(), pos);
    for s in &v {
        if let Some(h) = &s.h {
            if mixed_classic_native(ev, &s.metric, &mut groups, pos) {
                continue;
            }
            if h.sum.is_nan() {
                ev.info(format!(
                    "input to histogram_fraction has NaN observations, which are excluded from all fractions for metric name {:?}",
                    s.metric.get_or_empty(METRIC_NAME)
                ), pos.scalar);
            }
            out.push(Sample {
                h: None,
                metric: s.metric.clone(),
                t: ts,
                f: crate::nativehist::histogram_fraction(lo, hi, h),
                drop_name: true,
            });
        }
    }
    for key in order {
        let Some((mut buckets, _)) = groups.remove(&key) else {
            continue;
        };
        let f = bucket_fraction(lo, hi, &mut buckets);
        out.push(Sample {
            h: None,
            metric: key,
            t: ts,
            f,
            drop_name: true,
        });
    }
    Ok(Value::Vector(out))
}
