//! One in-memory series: interned labels, closed chunks, the open chunk
//! being appended to (cut like the Prometheus head: ~120 samples spread
//! evenly up to the chunk-range boundary, never crossing it), and an
//! optional out-of-order buffer.

mod open;
mod verdict;

use std::sync::atomic::AtomicU32;

use aeon_tsdb_block::EncodedChunk;
use aeon_tsdb_block::chunkenc::{Encoding, FloatHistogram, Histogram};

pub(crate) use open::OpenChunk;
pub(crate) use verdict::{Bounds, Last, Verdict, classify, same_value};

use crate::Result;
use crate::symbols::LabelIds;

/// A sample value of any kind, owned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Float(f64),
    Histogram(Box<Histogram>),
    FloatHistogram(Box<FloatHistogram>),
}

impl Value {
    pub(crate) fn as_last(&self) -> Last<'_> {
        match self {
            Value::Float(v) => Last::Float(v.to_bits()),
            Value::Histogram(h) => Last::Histogram(h),
            Value::FloatHistogram(h) => Last::FloatHistogram(h),
        }
    }
}

/// A closed, immutable chunk.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    pub(crate) min_time: i64,
    pub(crate) max_time: i64,
    pub(crate) encoding: Encoding,
    pub(crate) data: Box<[u8]>,
}

impl Chunk {
    pub(crate) fn encoded(&self) -> EncodedChunk {
        EncodedChunk {
            min_time: self.min_time,
            max_time: self.max_time,
            encoding: self.encoding,
            data: self.data.to_vec(),
        }
    }
}

/// One series.
#[derive(Debug)]
pub(crate) struct MemSeries {
    /// Sorted `(name, value)` symbol ids.
    pub(crate) labels: LabelIds,
    pub(crate) chunks: Vec<Chunk>,
    pub(crate) open: Option<OpenChunk>,
    /// Out-of-order samples, sorted by time, unique timestamps. Boxed so
    /// the common case (none) costs 8 bytes per series rather than 24.
    #[allow(clippy::box_collection)]
    pub(crate) ooo: Option<Box<Vec<(i64, Value)>>>,
    /// Appenders holding uncommitted samples for (or having just looked up)
    /// this series: it is not garbage-collected while non-zero.
    pub(crate) pending: AtomicU32,
}

impl MemSeries {
    pub(crate) fn new(labels: LabelIds) -> Self {
        Self {
            labels,
            chunks: Vec::new(),
            open: None,
            ooo: None,
            pending: AtomicU32::new(0),
        }
    }

    /// The last in-order sample.
    pub(crate) fn last(&self) -> Option<(i64, Last<'_>)> {
        self.open.as_ref().map(|o| (o.max_time, o.last()))
    }

    /// Appends an in-order sample (already classified as such); returns
    /// whether a new chunk was started.
    pub(crate) fn append(&mut self, r: u64, t: i64, v: &Value, chunk_range: i64) -> Result<bool> {
        // A float staleness marker on a histogram series becomes a stale
        // histogram, as in Prometheus.
        let converted;
        let v = match (v, self.open.as_ref().map(OpenChunk::encoding)) {
            (Value::Float(f), Some(Encoding::Histogram)) if aeon_model::is_stale_nan(*f) => {
                converted = Value::Histogram(Box::new(Histogram::stale()));
                &converted
            }
            (Value::Float(f), Some(Encoding::FloatHistogram)) if aeon_model::is_stale_nan(*f) => {
                converted = Value::FloatHistogram(Box::new(FloatHistogram::stale()));
                &converted
            }
            _ => v,
        };
        let header = match self.open.as_mut() {
            Some(o) => match o.try_append(r, t, v)? {
                None => return Ok(false),
                Some(header) => header,
            },
            None => aeon_tsdb_block::chunkenc::CounterResetHint::Unknown,
        };
        let next = OpenChunk::new(r, t, v, chunk_range, header)?;
        if let Some(old) = self.open.replace(next) {
            self.chunks.push(old.close());
        }
        Ok(true)
    }

    /// Adds an out-of-order sample; `Ok(false)` when an identical sample
    /// is already there.
    pub(crate) fn insert_ooo(&mut self, t: i64, v: Value) -> Result<bool> {
        let buf = self.ooo.get_or_insert_with(Default::default);
        match buf.binary_search_by_key(&t, |(t, _)| *t) {
            Ok(i) => {
                if same_value(buf[i].1.as_last(), v.as_last()) {
                    Ok(false)
                } else {
                    Err(crate::Error::DuplicateSample { t })
                }
            }
            Err(i) => {
                buf.insert(i, (t, v));
                Ok(true)
            }
        }
    }

    /// The out-of-order sample at `t`, if any.
    pub(crate) fn ooo_at(&self, t: i64) -> Option<&Value> {
        let buf = self.ooo.as_ref()?;
        buf.binary_search_by_key(&t, |(t, _)| *t)
            .ok()
            .map(|i| &buf[i].1)
    }

    /// Earliest and latest sample time (in-order and out-of-order).
    pub(crate) fn time_range(&self) -> Option<(i64, i64)> {
        let mut r: Option<(i64, i64)> = None;
        let mut add = |a: i64, b: i64| {
            r = Some(match r {
                Some((x, y)) => (x.min(a), y.max(b)),
                None => (a, b),
            });
        };
        if let Some(c) = self.chunks.first() {
            add(c.min_time, c.max_time);
        }
        if let Some(o) = &self.open {
            add(o.min_time, o.max_time);
        }
        if let Some(buf) = &self.ooo
            && let (Some(f), Some(l)) = (buf.first(), buf.last())
        {
            add(f.0, l.0);
        }
        r
    }

    /// Whether any sample lies in `[mint, maxt]`.
    pub(crate) fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.chunks
            .iter()
            .any(|c| c.max_time >= mint && c.min_time <= maxt)
            || self
                .open
                .as_ref()
                .is_some_and(|o| o.max_time >= mint && o.min_time <= maxt)
            || self
                .ooo
                .as_ref()
                .is_some_and(|b| b.iter().any(|(t, _)| *t >= mint && *t <= maxt))
    }

    /// The in-order chunks overlapping `[mint, maxt]` (the open one copied).
    pub(crate) fn chunks_in(&self, mint: i64, maxt: i64, out: &mut Vec<EncodedChunk>) {
        for c in &self.chunks {
            if c.max_time >= mint && c.min_time <= maxt {
                out.push(c.encoded());
            }
        }
        if let Some(o) = &self.open
            && o.max_time >= mint
            && o.min_time <= maxt
        {
            out.push(o.encoded());
        }
    }

    /// The out-of-order samples in `[mint, maxt]`.
    pub(crate) fn ooo_in(&self, mint: i64, maxt: i64) -> Vec<(i64, Value)> {
        self.ooo
            .as_ref()
            .map(|b| {
                b.iter()
                    .filter(|(t, _)| *t >= mint && *t <= maxt)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Drops everything before `mint`; returns whether the series is now
    /// empty.
    pub(crate) fn truncate_before(&mut self, mint: i64) -> bool {
        self.chunks.retain(|c| c.max_time >= mint);
        if self.open.as_ref().is_some_and(|o| o.max_time < mint) {
            self.open = None;
        }
        if let Some(b) = self.ooo.as_mut() {
            b.retain(|(t, _)| *t >= mint);
            if b.is_empty() {
                self.ooo = None;
            }
        }
        self.chunks.is_empty() && self.open.is_none() && self.ooo.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aeon_tsdb_block::writer::{DEFAULT_BLOCK_DURATION, cut_xor_chunks};

    #[test]
    fn float_chunks_are_cut_exactly_like_the_block_writer_cuts_them() {
        // The block writer's cutting is checked byte for byte against
        // Prometheus; the head must produce the same chunks.
        for (n, step) in [(1000, 15_000), (5000, 1000), (300, 60_000), (2000, 7)] {
            let samples: Vec<(i64, f64)> = (0..n)
                .map(|i| (1_000_000 + i * step, (i as f64).sin()))
                .collect();
            let want = cut_xor_chunks(&samples, DEFAULT_BLOCK_DURATION).unwrap();
            let mut s = MemSeries::new(Box::new([]));
            for &(t, v) in &samples {
                s.append(1, t, &Value::Float(v), DEFAULT_BLOCK_DURATION)
                    .unwrap();
            }
            let mut got = Vec::new();
            s.chunks_in(i64::MIN, i64::MAX, &mut got);
            assert_eq!(got, want, "n={n} step={step}");
        }
    }

    #[test]
    fn truncation_drops_whole_chunks() {
        let mut s = MemSeries::new(Box::new([]));
        let r = DEFAULT_BLOCK_DURATION;
        for i in 0..(3 * r / 60_000) {
            s.append(1, i * 60_000, &Value::Float(1.0), r).unwrap();
        }
        assert_eq!(s.time_range(), Some((0, 3 * r - 60_000)));
        assert!(!s.truncate_before(r));
        assert_eq!(s.time_range(), Some((r, 3 * r - 60_000)));
        assert!(s.truncate_before(3 * r));
    }
}
