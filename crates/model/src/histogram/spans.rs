//! The span layout of bucket counts (chunks, the remote-read and Store API
//! wire) and the sparse by-index form of [`super::FloatHistogram`].

use std::collections::BTreeMap;

use super::Span;
use crate::{Error, Result};

/// Bucket counts keyed by index from `spans` and the matching `counts`
/// (absolute, one per bucket the spans cover). Empty buckets are kept.
pub fn expand_spans(spans: &[Span], counts: &[f64]) -> Result<BTreeMap<i32, f64>> {
    let expected: usize = spans.iter().map(|s| s.length as usize).sum();
    if expected != counts.len() {
        return Err(Error::HistogramSpans {
            expected,
            got: counts.len(),
        });
    }
    let mut out = BTreeMap::new();
    let mut idx = 0i32;
    let mut it = counts.iter();
    for s in spans {
        idx = idx.saturating_add(s.offset);
        for c in it.by_ref().take(s.length as usize) {
            out.insert(idx, *c);
            idx = idx.saturating_add(1);
        }
    }
    Ok(out)
}

/// Spans covering `indices` (sorted ascending) and one count per index
/// from `counts` (0 where absent): the layout one chunk shares for
/// histograms with different buckets.
pub fn spans_for(
    indices: impl IntoIterator<Item = i32>,
    counts: &BTreeMap<i32, f64>,
) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut buckets = Vec::new();
    let mut next: Option<i32> = None;
    for i in indices {
        match next {
            Some(n) if n == i => {
                if let Some(last) = spans.last_mut() {
                    last.length += 1;
                }
            }
            Some(n) => spans.push(Span {
                offset: i - n,
                length: 1,
            }),
            None => spans.push(Span {
                offset: i,
                length: 1,
            }),
        }
        next = Some(i + 1);
        buckets.push(counts.get(&i).copied().unwrap_or(0.0));
    }
    (spans, buckets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(offset: i32, length: u32) -> Span {
        Span { offset, length }
    }

    #[test]
    fn spans_round_trip() {
        let spans = [sp(-2, 1), sp(2, 2)];
        let m = expand_spans(&spans, &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(m, BTreeMap::from([(-2, 1.0), (1, 2.0), (2, 3.0)]));
        assert_eq!(
            spans_for(m.keys().copied(), &m),
            (spans.to_vec(), vec![1.0, 2.0, 3.0])
        );
        // A wider layout fills the missing buckets with 0.
        let (s, b) = spans_for([-2, -1, 1, 2, 5], &m);
        assert_eq!(s, [sp(-2, 2), sp(1, 2), sp(2, 1)]);
        assert_eq!(b, [1.0, 0.0, 2.0, 3.0, 0.0]);
        assert!(expand_spans(&spans, &[1.0, 2.0]).is_err());
        assert!(expand_spans(&spans, &[1.0, 2.0, 3.0, 4.0]).is_err());
    }
}
