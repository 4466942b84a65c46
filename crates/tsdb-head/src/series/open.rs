//! The open (head) chunk of a series and the rules that cut it.

use aeon_tsdb_block::EncodedChunk;
use aeon_tsdb_block::chunkenc::{
    CounterResetHint, Encoding, FloatHistogram, FloatHistogramEncoder, Histogram, HistogramEncoder,
    XorEncoder,
};
use aeon_tsdb_block::writer::{
    MAX_BYTES_PER_XOR_CHUNK, MIN_SAMPLES_PER_HISTOGRAM_CHUNK, SAMPLES_PER_CHUNK,
    TARGET_BYTES_PER_HISTOGRAM_CHUNK, compute_chunk_end_time, range_for_timestamp,
};

use super::{Chunk, Last, Value};
use crate::{Error, Result};

/// Hard cap on samples in a histogram chunk (the count is 16 bits).
const MAX_HISTOGRAM_SAMPLES: usize = 4096;

#[derive(Debug)]
enum Enc {
    Xor { e: XorEncoder, last: u64 },
    Histogram(Box<HistState<HistogramEncoder, Histogram>>),
    FloatHistogram(Box<HistState<FloatHistogramEncoder, FloatHistogram>>),
}

#[derive(Debug)]
struct HistState<E, H> {
    e: E,
    last: H,
    gauge: bool,
}

/// The chunk a series appends to.
#[derive(Debug)]
pub(crate) struct OpenChunk {
    pub(crate) min_time: i64,
    pub(crate) max_time: i64,
    next_at: i64,
    enc: Enc,
}

impl OpenChunk {
    /// A chunk holding the one sample `(t, v)`.
    pub(crate) fn new(
        r: u64,
        t: i64,
        v: &Value,
        chunk_range: i64,
        header: CounterResetHint,
    ) -> Result<Self> {
        let enc_err = |source| Error::Chunk { series: r, source };
        let enc = match v {
            Value::Float(f) => {
                let mut e = XorEncoder::new();
                e.append(t, *f);
                Enc::Xor {
                    e,
                    last: f.to_bits(),
                }
            }
            Value::Histogram(h) => {
                let gauge = h.counter_reset_hint == CounterResetHint::Gauge;
                let header = if gauge {
                    CounterResetHint::Gauge
                } else {
                    header
                };
                let mut e = HistogramEncoder::new(header);
                e.append(t, h).map_err(enc_err)?;
                Enc::Histogram(Box::new(HistState {
                    e,
                    last: (**h).clone(),
                    gauge,
                }))
            }
            Value::FloatHistogram(h) => {
                let gauge = h.counter_reset_hint == CounterResetHint::Gauge;
                let header = if gauge {
                    CounterResetHint::Gauge
                } else {
                    header
                };
                let mut e = FloatHistogramEncoder::new(header);
                e.append(t, h).map_err(enc_err)?;
                Enc::FloatHistogram(Box::new(HistState {
                    e,
                    last: (**h).clone(),
                    gauge,
                }))
            }
        };
        Ok(Self {
            min_time: t,
            max_time: t,
            next_at: range_for_timestamp(t, chunk_range),
            enc,
        })
    }

    pub(crate) fn encoding(&self) -> Encoding {
        match self.enc {
            Enc::Xor { .. } => Encoding::Xor,
            Enc::Histogram(_) => Encoding::Histogram,
            Enc::FloatHistogram(_) => Encoding::FloatHistogram,
        }
    }

    pub(crate) fn last(&self) -> Last<'_> {
        match &self.enc {
            Enc::Xor { last, .. } => Last::Float(*last),
            Enc::Histogram(s) => Last::Histogram(&s.last),
            Enc::FloatHistogram(s) => Last::FloatHistogram(&s.last),
        }
    }

    fn num_samples(&self) -> usize {
        match &self.enc {
            Enc::Xor { e, .. } => e.num_samples(),
            Enc::Histogram(s) => s.e.num_samples(),
            Enc::FloatHistogram(s) => s.e.num_samples(),
        }
    }

    fn bytes(&self) -> &[u8] {
        match &self.enc {
            Enc::Xor { e, .. } => e.bytes(),
            Enc::Histogram(s) => s.e.bytes(),
            Enc::FloatHistogram(s) => s.e.bytes(),
        }
    }

    /// Appends `(t, v)` (later than every sample here) to this chunk, or
    /// returns the counter-reset header for the new chunk it must go to.
    pub(crate) fn try_append(
        &mut self,
        r: u64,
        t: i64,
        v: &Value,
    ) -> Result<Option<CounterResetHint>> {
        let num = self.num_samples();
        let size = self.bytes().len();
        if let Enc::Xor { .. } = self.enc
            && num == SAMPLES_PER_CHUNK / 4
        {
            self.next_at = compute_chunk_end_time(self.min_time, self.max_time, self.next_at, 4.0);
        }
        let enc_err = |source| Error::Chunk { series: r, source };
        let past_range = t >= self.next_at;
        let hist_full = size >= TARGET_BYTES_PER_HISTOGRAM_CHUNK
            && num >= MIN_SAMPLES_PER_HISTOGRAM_CHUNK
            || num >= MAX_HISTOGRAM_SAMPLES;
        match (&mut self.enc, v) {
            (Enc::Xor { e, last }, Value::Float(f)) => {
                if size > MAX_BYTES_PER_XOR_CHUNK || past_range || num >= 2 * SAMPLES_PER_CHUNK {
                    return Ok(Some(CounterResetHint::Unknown));
                }
                e.append(t, *f);
                *last = f.to_bits();
            }
            (Enc::Histogram(s), Value::Histogram(h)) => {
                if let Some(header) = hist_cut(
                    s.gauge,
                    s.e.can_append(h),
                    &s.last,
                    h,
                    past_range || hist_full,
                ) {
                    return Ok(Some(header));
                }
                s.e.append(t, h).map_err(enc_err)?;
                s.last.clone_from(h);
            }
            (Enc::FloatHistogram(s), Value::FloatHistogram(h)) => {
                if let Some(header) = hist_cut(
                    s.gauge,
                    s.e.can_append(h),
                    &s.last,
                    h,
                    past_range || hist_full,
                ) {
                    return Ok(Some(header));
                }
                s.e.append(t, h).map_err(enc_err)?;
                s.last.clone_from(h);
            }
            // Another sample type starts a new chunk.
            _ => return Ok(Some(CounterResetHint::Unknown)),
        }
        self.max_time = t;
        Ok(None)
    }

    /// A copy of the chunk as it is now.
    pub(crate) fn encoded(&self) -> EncodedChunk {
        EncodedChunk {
            min_time: self.min_time,
            max_time: self.max_time,
            encoding: self.encoding(),
            data: self.bytes().to_vec(),
        }
    }

    pub(crate) fn close(self) -> Chunk {
        let encoding = self.encoding();
        let data = match self.enc {
            Enc::Xor { e, .. } => e.finish(),
            Enc::Histogram(s) => s.e.finish(),
            Enc::FloatHistogram(s) => s.e.finish(),
        };
        Chunk {
            min_time: self.min_time,
            max_time: self.max_time,
            encoding,
            data: data.into_boxed_slice(),
        }
    }
}

/// What the histogram encoders and samples share for the cut decision.
pub(crate) trait HistLike {
    fn hint(&self) -> CounterResetHint;
    fn stale(&self) -> bool;
    /// Whether some count went down from `prev` (same bucket layout).
    fn decreased_from(&self, prev: &Self) -> bool;
}

impl HistLike for Histogram {
    fn hint(&self) -> CounterResetHint {
        self.counter_reset_hint
    }
    fn stale(&self) -> bool {
        aeon_model::is_stale_nan(self.sum)
    }
    fn decreased_from(&self, p: &Self) -> bool {
        if self.count < p.count || self.zero_count < p.zero_count {
            return true;
        }
        let dec = |a: &[i64], b: &[i64]| {
            let (mut x, mut y) = (0i64, 0i64);
            a.iter().zip(b).any(|(da, db)| {
                x = x.wrapping_add(*da);
                y = y.wrapping_add(*db);
                x < y
            })
        };
        dec(&self.positive_buckets, &p.positive_buckets)
            || dec(&self.negative_buckets, &p.negative_buckets)
    }
}

impl HistLike for FloatHistogram {
    fn hint(&self) -> CounterResetHint {
        self.counter_reset_hint
    }
    fn stale(&self) -> bool {
        aeon_model::is_stale_nan(self.sum)
    }
    fn decreased_from(&self, p: &Self) -> bool {
        self.count < p.count
            || self.zero_count < p.zero_count
            || self
                .positive_buckets
                .iter()
                .zip(&p.positive_buckets)
                .any(|(a, b)| a < b)
            || self
                .negative_buckets
                .iter()
                .zip(&p.negative_buckets)
                .any(|(a, b)| a < b)
    }
}

/// Whether a histogram sample needs a new chunk, and that chunk's
/// counter-reset header: `Gauge` for gauge histograms, `CounterReset` for a
/// detected or announced reset, `NotCounterReset` when only size or the
/// range boundary cut it, `Unknown` after a layout change or staleness
/// (the reader then compares samples itself).
fn hist_cut<H: HistLike>(
    chunk_gauge: bool,
    layout_fits: bool,
    prev: &H,
    h: &H,
    full: bool,
) -> Option<CounterResetHint> {
    let gauge = h.hint() == CounterResetHint::Gauge;
    if h.stale() {
        return (!layout_fits || full).then_some(CounterResetHint::Unknown);
    }
    if gauge != chunk_gauge || !layout_fits {
        return Some(if gauge {
            CounterResetHint::Gauge
        } else {
            CounterResetHint::Unknown
        });
    }
    if gauge {
        return full.then_some(CounterResetHint::Gauge);
    }
    if h.hint() == CounterResetHint::CounterReset || (!prev.stale() && h.decreased_from(prev)) {
        return Some(CounterResetHint::CounterReset);
    }
    full.then_some(CounterResetHint::NotCounterReset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aeon_tsdb_block::chunkenc::{HistogramChunk, Span};

    fn h(count: u64, b: [i64; 2]) -> Value {
        Value::Histogram(Box::new(Histogram {
            count,
            sum: count as f64,
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: b.to_vec(),
            ..Default::default()
        }))
    }

    fn header(c: &Chunk) -> CounterResetHint {
        HistogramChunk::new(&c.data).unwrap().counter_reset_header()
    }

    #[test]
    fn histogram_counter_resets_cut_a_chunk_with_the_reset_header() {
        let r = 7_200_000;
        let mut o = OpenChunk::new(1, 0, &h(10, [4, 2]), r, CounterResetHint::Unknown).unwrap();
        assert_eq!(o.try_append(1, 1, &h(12, [5, 2])).unwrap(), None);
        // Count grows but a bucket (absolute 5+2=7 → 6+0=6) went down.
        assert_eq!(
            o.try_append(1, 2, &h(13, [6, -6])).unwrap(),
            Some(CounterResetHint::CounterReset)
        );
        assert_eq!(
            o.try_append(1, 2, &h(1, [1, 0])).unwrap(),
            Some(CounterResetHint::CounterReset)
        );
        // Crossing the range boundary without a reset.
        assert_eq!(
            o.try_append(1, r, &h(20, [6, 2])).unwrap(),
            Some(CounterResetHint::NotCounterReset)
        );
        let mut n =
            OpenChunk::new(1, r, &h(20, [6, 2]), r, CounterResetHint::NotCounterReset).unwrap();
        assert_eq!(
            n.try_append(1, r + 1, &Value::Float(1.0)).unwrap(),
            Some(CounterResetHint::Unknown)
        );
        assert_eq!(header(&o.close()), CounterResetHint::Unknown);
        assert_eq!(header(&n.close()), CounterResetHint::NotCounterReset);
    }
}
