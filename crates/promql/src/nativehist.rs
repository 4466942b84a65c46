//! Native histograms (float flavour), with Prometheus's exponential and custom bucket schemas.

use std::collections::BTreeMap;
use std::fmt;

use aeon_model::gofmt::format_g as go_g;

use crate::value::format_float;

/// The schema number of native histograms with custom bucket boundaries (NHCB).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// Counter reset hint of a histogram sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CounterResetHint {
    /// Unknown whether a reset happened.
    #[default]
    Unknown,
    /// A counter reset happened.
    CounterReset,
    /// No counter reset happened.
    NotCounterReset,
    /// The histogram is a gauge.
    Gauge,
}

/// A native histogram with float counts. Buckets are kept sparse, by index.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FloatHistogram {
    /// Counter reset hint.
    pub counter_reset_hint: CounterResetHint,
    /// Resolution: bucket boundaries are powers of `2^(2^-schema)`; -53 means custom buckets.
    pub schema: i32,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: f64,
    /// Total number of observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// Positive buckets: index → count.
    pub positive: BTreeMap<i32, f64>,
    /// Negative buckets: index → count.
    pub negative: BTreeMap<i32, f64>,
    /// Upper bounds of custom buckets (schema -53).
    pub custom_values: Vec<f64>,
}

/// One bucket with its boundaries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Observations.
    pub count: f64,
}

/// Why two histograms could not be combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistogramError {
    /// One uses custom buckets, the other exponential buckets.
    MixedExponentialCustom,
    /// Both use custom buckets, with different boundaries.
    IncompatibleCustomBuckets,
}

fn upper_bound(idx: i32, schema: i32) -> f64 {
    if schema <= 0 {
        let shift = -schema;
        let e = (idx as i64) << shift;
        2f64.powi(e.clamp(-2000, 2000) as i32)
    } else {
        (idx as f64 / (1u64 << schema) as f64).exp2()
    }
}

impl FloatHistogram {
    /// Whether the histogram uses custom buckets.
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// All buckets in increasing order of boundaries (negative, zero, positive).
    pub fn all_buckets(&self) -> Vec<Bucket> {
        let mut out = Vec::with_capacity(self.positive.len() + self.negative.len() + 1);
        if self.uses_custom_buckets() {
            for (&i, &c) in &self.positive {
                let lower = if i == 0 {
                    f64::NEG_INFINITY
                } else {
                    self.custom_values
                        .get((i - 1) as usize)
                        .copied()
                        .unwrap_or(f64::INFINITY)
                };
                let upper = self
                    .custom_values
                    .get(i as usize)
                    .copied()
                    .unwrap_or(f64::INFINITY);
                out.push(Bucket {
                    lower,
                    upper,
                    count: c,
                });
            }
            return out;
        }
        for (&i, &c) in self.negative.iter().rev() {
            out.push(Bucket {
                lower: -upper_bound(i, self.schema),
                upper: -upper_bound(i - 1, self.schema),
                count: c,
            });
        }
        if self.zero_count != 0.0 || self.zero_threshold != 0.0 {
            out.push(Bucket {
                lower: -self.zero_threshold,
                upper: self.zero_threshold,
                count: self.zero_count,
            });
        }
        for (&i, &c) in &self.positive {
            out.push(Bucket {
                lower: upper_bound(i - 1, self.schema),
                upper: upper_bound(i, self.schema),
                count: c,
            });
        }
        out
    }

    /// Whether there are non-empty... any positive buckets.
    pub fn has_positive(&self) -> bool {
        !self.positive.is_empty()
    }

    /// Whether there are any negative buckets.
    pub fn has_negative(&self) -> bool {
        !self.negative.is_empty()
    }

    fn reduce_to(&mut self, target: i32) {
        if self.uses_custom_buckets() || target >= self.schema {
            return;
        }
        let d = self.schema - target;
        let remap = |m: &BTreeMap<i32, f64>| {
            let mut out = BTreeMap::new();
            for (&i, &c) in m {
                *out.entry(((i - 1) >> d) + 1).or_insert(0.0) += c;
            }
            out
        };
        self.positive = remap(&self.positive);
        self.negative = remap(&self.negative);
        self.schema = target;
    }

    /// Returns a copy converted to a lower resolution `schema`.
    pub fn copy_to_schema(&self, schema: i32) -> FloatHistogram {
        let mut h = self.clone();
        h.reduce_to(schema);
        h
    }

    fn widen_zero(&mut self, zt: f64) {
        if zt <= self.zero_threshold || self.uses_custom_buckets() {
            return;
        }
        let schema = self.schema;
        let mut moved = 0.0;
        self.positive.retain(|&i, c| {
            if upper_bound(i, schema) <= zt {
                moved += *c;
                false
            } else {
                true
            }
        });
        self.negative.retain(|&i, c| {
            if upper_bound(i, schema) <= zt {
                moved += *c;
                false
            } else {
                true
            }
        });
        self.zero_count += moved;
        self.zero_threshold = zt;
    }

    fn combine(&mut self, other: &FloatHistogram, sign: f64) -> Result<(), HistogramError> {
        match (self.uses_custom_buckets(), other.uses_custom_buckets()) {
            (true, true) => {
                if self.custom_values != other.custom_values {
                    return Err(HistogramError::IncompatibleCustomBuckets);
                }
            }
            (false, false) => {}
            _ => return Err(HistogramError::MixedExponentialCustom),
        }
        let mut o = other.clone();
        if !self.uses_custom_buckets() {
            let s = self.schema.min(o.schema);
            self.reduce_to(s);
            o.reduce_to(s);
            let zt = self.zero_threshold.max(o.zero_threshold);
            self.widen_zero(zt);
            o.widen_zero(zt);
        }
        self.count += sign * o.count;
        self.sum += sign * o.sum;
        self.zero_count += sign * o.zero_count;
        for (i, c) in o.positive {
            *self.positive.entry(i).or_insert(0.0) += sign * c;
        }
        for (i, c) in o.negative {
            *self.negative.entry(i).or_insert(0.0) += sign * c;
        }
        Ok(())
    }

    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &FloatHistogram) -> Result<(), HistogramError> {
        self.combine(other, 1.0)
    }

    /// Subtracts `other` from `self`.
    pub fn sub(&mut self, other: &FloatHistogram) -> Result<(), HistogramError> {
        self.combine(other, -1.0)
    }

    /// Multiplies all counts and the sum by `f`.
    pub fn mul(&mut self, f: f64) {
        self.count *= f;
        self.sum *= f;
        self.zero_count *= f;
        for c in self.positive.values_mut() {
            *c *= f;
        }
        for c in self.negative.values_mut() {
            *c *= f;
        }
    }

    /// Divides all counts and the sum by `f`.
    pub fn div(&mut self, f: f64) {
        self.count /= f;
        self.sum /= f;
        self.zero_count /= f;
        if f == 0.0 {
            // Division by zero removes all buckets, as in Prometheus.
            self.positive.clear();
            self.negative.clear();
            return;
        }
        for c in self.positive.values_mut() {
            *c /= f;
        }
        for c in self.negative.values_mut() {
            *c /= f;
        }
    }

    /// Removes empty buckets.
    pub fn compact(&mut self) {
        self.positive.retain(|_, c| *c != 0.0);
        self.negative.retain(|_, c| *c != 0.0);
    }

    /// Whether `self` shows a counter reset relative to `prev`.
    pub fn detect_reset(&self, prev: &FloatHistogram) -> bool {
        // The same sample seen twice (e.g. by a subquery) is never a reset.
        if self == prev {
            return false;
        }
        match self.counter_reset_hint {
            CounterResetHint::CounterReset => return true,
            CounterResetHint::NotCounterReset => return false,
            _ => {}
        }
        if self.count < prev.count {
            return true;
        }
        if self.uses_custom_buckets() != prev.uses_custom_buckets() {
            return true;
        }
        if self.uses_custom_buckets() && self.custom_values != prev.custom_values {
            return true;
        }
        if self.schema > prev.schema || self.zero_threshold < prev.zero_threshold {
            return true;
        }
        if self.zero_count < prev.zero_count && self.zero_threshold == prev.zero_threshold {
            return true;
        }
        let cur = self.copy_to_schema(prev.schema.min(self.schema));
        let p = prev.copy_to_schema(prev.schema.min(self.schema));
        for (i, c) in &p.positive {
            if cur.positive.get(i).copied().unwrap_or(0.0) < *c {
                return true;
            }
        }
        for (i, c) in &p.negative {
            if cur.negative.get(i).copied().unwrap_or(0.0) < *c {
                return true;
            }
        }
        false
    }

    /// Exact equality as Prometheus's `FloatHistogram.Equals` (ignoring empty buckets).
    pub fn equals(&self, other: &FloatHistogram) -> bool {
        let mut a = self.clone();
        let mut b = other.clone();
        a.compact();
        b.compact();
        let same = |x: f64, y: f64| x == y || (x.is_nan() && y.is_nan());
        a.schema == b.schema
            && same(a.count, b.count)
            && same(a.sum, b.sum)
            && a.zero_threshold == b.zero_threshold
            && same(a.zero_count, b.zero_count)
            && a.custom_values == b.custom_values
            && a.positive.len() == b.positive.len()
            && a.negative.len() == b.negative.len()
            && a.positive
                .iter()
                .zip(&b.positive)
                .all(|(x, y)| x.0 == y.0 && same(*x.1, *y.1))
            && a.negative
                .iter()
                .zip(&b.negative)
                .all(|(x, y)| x.0 == y.0 && same(*x.1, *y.1))
    }

    /// Parses the test-language notation inside `{{ }}` (without the braces).
    pub fn parse_notation(s: &str) -> Result<FloatHistogram, String> {
        let mut h = FloatHistogram::default();
        let mut buckets: Vec<f64> = vec![];
        let mut n_buckets: Vec<f64> = vec![];
        let (mut offset, mut n_offset) = (0i32, 0i32);
        let mut rest = s.trim();
        while !rest.is_empty() {
            let (key, after) = rest
                .split_once(':')
                .ok_or_else(|| format!("bad histogram {s:?}"))?;
            let key = key.trim();
            let after = after.trim_start();
            let (val, next) = if let Some(a) = after.strip_prefix('[') {
                let end = a.find(']').ok_or_else(|| format!("bad histogram {s:?}"))?;
                (&a[..end], &a[end + 1..])
            } else {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            rest = next.trim_start();
            let num = |v: &str| -> Result<f64, String> {
                match v.to_ascii_lowercase().as_str() {
                    "inf" | "+inf" => Ok(f64::INFINITY),
                    "-inf" => Ok(f64::NEG_INFINITY),
                    "nan" => Ok(f64::NAN),
                    _ => v
                        .parse::<f64>()
                        .map_err(|e| format!("bad number {v:?}: {e}")),
                }
            };
            let list =
                |v: &str| -> Result<Vec<f64>, String> { v.split_whitespace().map(num).collect() };
            match key {
                "schema" => h.schema = num(val)? as i32,
                "sum" => h.sum = num(val)?,
                "count" => h.count = num(val)?,
                "z_bucket" => h.zero_count = num(val)?,
                "z_bucket_w" => h.zero_threshold = num(val)?,
                "buckets" => buckets = list(val)?,
                "n_buckets" => n_buckets = list(val)?,
                "offset" => offset = num(val)? as i32,
                "n_offset" => n_offset = num(val)? as i32,
                "custom_values" => h.custom_values = list(val)?,
                "counter_reset_hint" => {
                    h.counter_reset_hint = match val {
                        "unknown" => CounterResetHint::Unknown,
                        "reset" => CounterResetHint::CounterReset,
                        "not_reset" => CounterResetHint::NotCounterReset,
                        "gauge" => CounterResetHint::Gauge,
                        _ => return Err(format!("bad counter_reset_hint {val:?}")),
                    }
                }
                _ => return Err(format!("unknown histogram field {key:?}")),
            }
        }
        for (k, c) in buckets.into_iter().enumerate() {
            h.positive.insert(offset + k as i32, c);
        }
        for (k, c) in n_buckets.into_iter().enumerate() {
            h.negative.insert(n_offset + k as i32, c);
        }
        Ok(h)
    }
}

impl fmt::Display for FloatHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{{{schema:{} count:{} sum:{}",
            self.schema,
            format_float(self.count),
            format_float(self.sum)
        )?;
        if self.zero_threshold != 0.0 {
            write!(f, " z_bucket_w:{}", format_float(self.zero_threshold))?;
        }
        if self.zero_count != 0.0 {
            write!(f, " z_bucket:{}", format_float(self.zero_count))?;
        }
        if !self.custom_values.is_empty() {
            let v: Vec<String> = self
                .custom_values
                .iter()
                .map(|x| format_float(*x))
                .collect();
            write!(f, " custom_values:[{}]", v.join(" "))?;
        }
        if !self.positive.is_empty() {
            let v: Vec<String> = self
                .positive
                .iter()
                .map(|(i, c)| format!("{i}:{}", format_float(*c)))
                .collect();
            write!(f, " buckets:[{}]", v.join(" "))?;
        }
        if !self.negative.is_empty() {
            let v: Vec<String> = self
                .negative
                .iter()
                .map(|(i, c)| format!("{i}:{}", format_float(*c)))
                .collect();
            write!(f, " n_buckets:[{}]", v.join(" "))?;
        }
        if self.counter_reset_hint != CounterResetHint::Unknown {
            write!(f, " counter_reset_hint:{:?}", self.counter_reset_hint)?;
        }
        write!(f, "}}}}")
    }
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

impl FloatHistogram {
    /// Go's `FloatHistogram.String()`, e.g. `{count:20, sum:10, [-2,-1):2, (0.5,1]:1}`.
    pub fn go_string(&self) -> String {
        let mut out = format!("{{count:{}, sum:{}", go_g(self.count), go_g(self.sum));
        for b in self.all_buckets() {
            if b.count == 0.0 {
                continue;
            }
            let zero = !self.uses_custom_buckets()
                && b.lower <= 0.0
                && b.upper >= 0.0
                && b.lower != b.upper;
            let (open, close) = if zero {
                ('[', ']')
            } else if b.upper <= 0.0 && !self.uses_custom_buckets() {
                ('[', ')')
            } else {
                ('(', ']')
            };
            out.push_str(&format!(
                ", {open}{},{}{close}:{}",
                go_g(b.lower),
                go_g(b.upper),
                go_g(b.count)
            ));
        }
        out.push('}');
        out
    }
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
