//! Whether a sample may be appended: Prometheus 3.5's `memSeries.appendable`
//! rules (out of bounds, out of order, too old, duplicates).

use aeon_tsdb_block::chunkenc::{FloatHistogram, Histogram};

use crate::{Error, Result};

/// A borrowed sample value, for comparisons.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Last<'a> {
    Float(u64),
    Histogram(&'a Histogram),
    FloatHistogram(&'a FloatHistogram),
}

/// The head-wide limits a sample is checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// In-order samples must be at or after this: the head's max time minus
    /// half the chunk range, and never before `compacted`.
    pub(crate) min_valid: i64,
    /// End of the last block written from this head: nothing before it is
    /// accepted, in order or not.
    pub(crate) compacted: i64,
    pub(crate) head_max: i64,
    /// Out-of-order window in ms; 0 disables out-of-order ingestion.
    pub(crate) ooo_window: i64,
}

/// Where an acceptable sample goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// After the series' last sample.
    Append,
    /// Identical to the series' last sample: accepted, nothing to store.
    Duplicate,
    /// Into the out-of-order buffer.
    OutOfOrder,
}

/// Classifies `(t, v)` against the series' last in-order sample.
pub(crate) fn classify(
    t: i64,
    v: Last<'_>,
    last: Option<(i64, Last<'_>)>,
    b: &Bounds,
) -> Result<Verdict> {
    if t >= b.min_valid {
        match last {
            None => return Ok(Verdict::Append),
            Some((lt, _)) if t > lt => return Ok(Verdict::Append),
            Some((lt, lv)) if t == lt => {
                return if same_value(lv, v) {
                    Ok(Verdict::Duplicate)
                } else {
                    Err(Error::DuplicateSample { t })
                };
            }
            Some(_) => {}
        }
    }
    if b.ooo_window > 0 {
        if t >= b.head_max.saturating_sub(b.ooo_window) {
            if t < b.compacted {
                return Err(Error::OutOfBounds {
                    t,
                    min_valid: b.compacted,
                });
            }
            return Ok(Verdict::OutOfOrder);
        }
        return Err(Error::TooOld {
            t,
            head_max: b.head_max,
            window: b.ooo_window,
        });
    }
    if t < b.min_valid {
        return Err(Error::OutOfBounds {
            t,
            min_valid: b.min_valid,
        });
    }
    Err(Error::OutOfOrder {
        t,
        last: last.map_or(t, |(lt, _)| lt),
    })
}

/// Prometheus's equality for duplicate detection: floats bit for bit,
/// histograms field by field (sum bit for bit so staleness markers match,
/// the counter-reset hint ignored); different kinds never match.
pub(crate) fn same_value(a: Last<'_>, b: Last<'_>) -> bool {
    match (a, b) {
        (Last::Float(x), Last::Float(y)) => x == y,
        (Last::Histogram(x), Last::Histogram(y)) => {
            x.schema == y.schema
                && x.zero_threshold == y.zero_threshold
                && x.zero_count == y.zero_count
                && x.count == y.count
                && x.sum.to_bits() == y.sum.to_bits()
                && x.positive_spans == y.positive_spans
                && x.negative_spans == y.negative_spans
                && x.positive_buckets == y.positive_buckets
                && x.negative_buckets == y.negative_buckets
                && x.custom_values == y.custom_values
        }
        (Last::FloatHistogram(x), Last::FloatHistogram(y)) => {
            x.schema == y.schema
                && x.zero_threshold == y.zero_threshold
                && x.zero_count == y.zero_count
                && x.count == y.count
                && x.sum.to_bits() == y.sum.to_bits()
                && x.positive_spans == y.positive_spans
                && x.negative_spans == y.negative_spans
                && x.positive_buckets == y.positive_buckets
                && x.negative_buckets == y.negative_buckets
                && x.custom_values == y.custom_values
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Bounds = Bounds {
        min_valid: 1000,
        compacted: 0,
        head_max: 5000,
        ooo_window: 0,
    };

    fn f(v: f64) -> Last<'static> {
        Last::Float(v.to_bits())
    }

    #[test]
    fn prometheus_rules_without_an_ooo_window() {
        let last = Some((2000, f(1.0)));
        assert_eq!(classify(2001, f(0.0), last, &B).unwrap(), Verdict::Append);
        assert_eq!(
            classify(999, f(0.0), None, &B).unwrap_err().to_string(),
            "out of bounds: sample at 999 is older than the head's minimum valid time 1000"
        );
        assert_eq!(classify(1000, f(0.0), None, &B).unwrap(), Verdict::Append);
        assert_eq!(
            classify(2000, f(1.0), last, &B).unwrap(),
            Verdict::Duplicate
        );
        assert!(matches!(
            classify(2000, f(2.0), last, &B),
            Err(Error::DuplicateSample { t: 2000 })
        ));
        assert!(matches!(
            classify(1500, f(2.0), last, &B),
            Err(Error::OutOfOrder {
                t: 1500,
                last: 2000
            })
        ));
        assert!(matches!(
            classify(500, f(2.0), last, &B),
            Err(Error::OutOfBounds { .. })
        ));
        // A float and a histogram at the same time are never duplicates.
        let h = Histogram::default();
        assert!(classify(2000, Last::Histogram(&h), last, &B).is_err());
    }

    #[test]
    fn with_an_ooo_window() {
        let b = Bounds {
            ooo_window: 2000,
            compacted: 3500,
            ..B
        };
        let last = Some((4000, f(1.0)));
        assert_eq!(
            classify(3600, f(0.0), last, &b).unwrap(),
            Verdict::OutOfOrder
        );
        assert!(matches!(
            classify(3100, f(0.0), last, &b),
            Err(Error::OutOfBounds { .. })
        ));
        assert!(matches!(
            classify(2999, f(0.0), last, &b),
            Err(Error::TooOld { .. })
        ));
        // Stale markers are equal to themselves.
        let s = Histogram::stale();
        assert!(same_value(Last::Histogram(&s), Last::Histogram(&s.clone())));
    }
}
