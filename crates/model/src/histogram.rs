//! Native histograms with float counts, buckets kept sparse by index, and
//! Prometheus's arithmetic on them (`model/histogram.FloatHistogram`):
//! adding and subtracting (schema reduction, zero-bucket widening), scaling,
//! counter-reset detection, bucket bounds bit-identical to Prometheus's, and
//! the span layout chunks and the wire use ([`expand_spans`],
//! [`spans_for`]). One implementation for the PromQL engine, the
//! compactor's downsampling and the querier's chunk decoding.

use std::collections::BTreeMap;

mod bounds;
mod spans;
mod text;

pub use spans::{expand_spans, spans_for};
pub use text::NotationError;

/// The schema number of native histograms with custom bucket boundaries (NHCB).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// Counter reset hint of a histogram sample (and of a chunk header).
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

/// A span of consecutive buckets: `offset` from the end of the previous
/// span (from index 0 for the first), `length` buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub offset: i32,
    pub length: u32,
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

/// Prometheus's `getBound`: the upper bound of bucket `idx` (the lower
/// bound of bucket `idx + 1`) at `schema`, from the same table Prometheus
/// uses, so bounds are bit-identical; `custom` holds the custom bucket
/// bounds of schema -53 (±Inf past either end).
pub fn bucket_bound(idx: i32, schema: i32, custom: &[f64]) -> f64 {
    if schema == CUSTOM_BUCKETS_SCHEMA {
        return match usize::try_from(idx) {
            Ok(i) => custom.get(i).copied().unwrap_or(f64::INFINITY),
            Err(_) => f64::NEG_INFINITY,
        };
    }
    if schema < 0 {
        let exp = i64::from(idx) << (-schema).min(62);
        if exp == 1024 {
            return f64::MAX;
        }
        return ldexp(1.0, exp.clamp(-100_000, 100_000) as i32);
    }
    // Schemas above 8 do not exist; clamp so corrupt input cannot index
    // out of the table.
    let schema = schema.min(8);
    let frac_idx = idx & ((1 << schema) - 1);
    let frac = bounds::FRACTIONS[(frac_idx << (8 - schema)) as usize];
    let exp = (idx >> schema) + 1;
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

/// Go's `math.Ldexp`.
fn ldexp(x: f64, e: i32) -> f64 {
    let mut v = x;
    let mut e = e;
    while e > 1000 {
        v *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        v *= 2f64.powi(-1000);
        e += 1000;
    }
    v * 2f64.powi(e)
}

impl FloatHistogram {
    /// Whether the histogram uses custom buckets.
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// Whether the sum is Prometheus's staleness marker.
    pub fn is_stale(&self) -> bool {
        crate::is_stale_nan(self.sum)
    }

    fn bound(&self, idx: i32) -> f64 {
        bucket_bound(idx, self.schema, &self.custom_values)
    }

    /// All buckets in increasing order of boundaries (negative, zero, positive).
    pub fn all_buckets(&self) -> Vec<Bucket> {
        let mut out = Vec::with_capacity(self.positive.len() + self.negative.len() + 1);
        if self.uses_custom_buckets() {
            for (&i, &c) in &self.positive {
                out.push(Bucket {
                    lower: self.bound(i - 1),
                    upper: self.bound(i),
                    count: c,
                });
            }
            return out;
        }
        for (&i, &c) in self.negative.iter().rev() {
            out.push(Bucket {
                lower: -self.bound(i),
                upper: -self.bound(i - 1),
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
                lower: self.bound(i - 1),
                upper: self.bound(i),
                count: c,
            });
        }
        out
    }

    /// Whether there are any positive buckets.
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

    /// Returns a copy converted to a lower resolution `schema` (a plain copy
    /// when `schema` is not lower: resolution cannot be raised).
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
            if bucket_bound(i, schema, &[]) <= zt {
                moved += *c;
                false
            } else {
                true
            }
        });
        self.negative.retain(|&i, c| {
            if bucket_bound(i, schema, &[]) <= zt {
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
        let converted;
        let o = if self.uses_custom_buckets()
            || (self.schema == other.schema && self.zero_threshold == other.zero_threshold)
        {
            other
        } else {
            let mut o = other.clone();
            let s = self.schema.min(o.schema);
            self.reduce_to(s);
            o.reduce_to(s);
            let zt = self.zero_threshold.max(o.zero_threshold);
            self.widen_zero(zt);
            o.widen_zero(zt);
            converted = o;
            &converted
        };
        self.count += sign * o.count;
        self.sum += sign * o.sum;
        self.zero_count += sign * o.zero_count;
        for (&i, &c) in &o.positive {
            *self.positive.entry(i).or_insert(0.0) += sign * c;
        }
        for (&i, &c) in &o.negative {
            *self.negative.entry(i).or_insert(0.0) += sign * c;
        }
        Ok(())
    }

    /// Adds `other` to `self` (at the lower of the two schemas and the wider
    /// zero bucket).
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

    /// Prometheus's `DetectReset`: whether `self` starts anew after `prev`.
    /// The hint decides when it says reset or not-reset; otherwise (unknown,
    /// or a gauge read as a counter) any count, zero count or bucket going
    /// down, a finer schema, a narrower zero bucket or changed custom
    /// bounds is a reset.
    pub fn detect_reset(&self, prev: &FloatHistogram) -> bool {
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
        let converted;
        let p = if prev.schema == self.schema {
            prev
        } else {
            converted = prev.copy_to_schema(self.schema);
            &converted
        };
        let down = |cur: &BTreeMap<i32, f64>, prev: &BTreeMap<i32, f64>| {
            prev.iter()
                .any(|(i, &c)| cur.get(i).copied().unwrap_or(0.0) < c)
        };
        down(&self.positive, &p.positive) || down(&self.negative, &p.negative)
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
}

#[cfg(test)]
mod tests;
