//! Thanos's downsampled aggregate chunk (encoding byte 0xFF): five
//! sub-chunks in the order count, sum, min, max, counter, each
//! `uvarint(len) [encoding byte, data]` (len 0 = aggregate absent).

use crate::varint::{put_uvarint, uvarint};
use crate::{Error, Result};

use super::Encoding;

/// The five aggregates, numbered as in Thanos (`downsample.AggrType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggrType {
    Count = 0,
    Sum = 1,
    Min = 2,
    Max = 3,
    Counter = 4,
}

impl AggrType {
    pub const ALL: [AggrType; 5] = [Self::Count, Self::Sum, Self::Min, Self::Max, Self::Counter];

    /// Position of the aggregate's sub-chunk in the chunk.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One sub-chunk: its encoding and payload.
pub type SubChunk<'a> = Option<(Encoding, &'a [u8])>;

/// A view over an aggregate chunk payload.
#[derive(Debug, Clone, Copy)]
pub struct AggrChunk<'a> {
    data: &'a [u8],
}

impl<'a> AggrChunk<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// The sub-chunk of an aggregate: `Ok(None)` if it is absent.
    pub fn get(&self, t: AggrType) -> Result<SubChunk<'a>> {
        Ok(self.all()?[t as usize])
    }

    /// All five sub-chunks.
    pub fn all(&self) -> Result<[SubChunk<'a>; 5]> {
        let mut out = [None; 5];
        let mut b = self.data;
        let mut off = 0usize;
        for slot in out.iter_mut() {
            let at = off as u64 * 8;
            let bad = |reason: String| Error::DecodeChunk {
                encoding: "aggr",
                bit: at,
                reason,
            };
            let (l, n) = uvarint(b).ok_or_else(|| bad("invalid sub-chunk size".into()))?;
            b = &b[n..];
            off += n;
            if l == 0 {
                continue;
            }
            let l = usize::try_from(l).map_err(|_| bad("sub-chunk size overflows".into()))?;
            if b.len() < l + 1 {
                return Err(bad(format!("sub-chunk of {l} bytes runs past the chunk")));
            }
            *slot = Some((Encoding::from_byte(b[0]), &b[1..l + 1]));
            b = &b[l + 1..];
            off += l + 1;
        }
        Ok(out)
    }

    /// Aggregated samples (windows) in the chunk: the samples of its count
    /// sub-chunk; 0 when that is absent or the chunk unreadable.
    pub fn num_samples(&self) -> u64 {
        match self.get(AggrType::Count) {
            Ok(Some((_, d))) => super::num_samples(d) as u64,
            _ => 0,
        }
    }

    /// Whether the chunk holds native-histogram aggregates: a sum or counter
    /// sub-chunk encoded as float histograms (Thanos ≥ 0.35).
    pub fn is_histogram(&self) -> bool {
        self.all().is_ok_and(|subs| {
            [AggrType::Sum, AggrType::Counter]
                .iter()
                .any(|a| matches!(subs[a.index()], Some((Encoding::FloatHistogram, _))))
        })
    }
}

/// Encodes five optional sub-chunks into an aggregate chunk payload.
pub fn encode_aggr(chunks: [SubChunk<'_>; 5]) -> Vec<u8> {
    let mut b = Vec::new();
    for c in chunks {
        match c {
            None => put_uvarint(&mut b, 0),
            Some((enc, data)) => {
                put_uvarint(&mut b, data.len() as u64);
                b.push(enc.byte());
                b.extend_from_slice(data);
            }
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunkenc::{XorChunk, XorEncoder};

    /// Thanos's byte layout: per aggregate `uvarint(len)`, then the
    /// encoding byte and the data; 0 for an absent one.
    #[test]
    fn layout_is_thanos() {
        let b = encode_aggr([
            None,
            Some((Encoding::Xor, &[1, 2])),
            None,
            None,
            Some((Encoding::Xor, &[9])),
        ]);
        assert_eq!(b, vec![0, 2, 1, 1, 2, 0, 0, 1, 1, 9]);
        let d = AggrChunk::new(&b).all().unwrap();
        assert!(d[0].is_none());
        assert_eq!(d[1], Some((Encoding::Xor, &[1u8, 2][..])));
        assert_eq!(d[4], Some((Encoding::Xor, &[9u8][..])));
        assert!(AggrChunk::new(&[5, 1]).all().is_err());
        assert_eq!(AggrChunk::new(&b).num_samples(), 0);
        assert!(!AggrChunk::new(&b).is_histogram());
    }

    #[test]
    fn round_trip_with_absent_aggregates() {
        let mut e = XorEncoder::new();
        e.append(1000, 3.0);
        e.append(2000, 4.0);
        let count = e.finish();
        let mut e = XorEncoder::new();
        e.append(2000, 10.5);
        let sum = e.finish();
        let data = encode_aggr([
            Some((Encoding::Xor, &count)),
            Some((Encoding::Xor, &sum)),
            None,
            None,
            Some((Encoding::Xor, &count)),
        ]);
        let a = AggrChunk::new(&data);
        let (enc, c) = a.get(AggrType::Count).unwrap().unwrap();
        assert_eq!(enc, Encoding::Xor);
        assert_eq!(XorChunk::new(c).unwrap().samples().unwrap().len(), 2);
        assert!(a.get(AggrType::Min).unwrap().is_none());
        assert_eq!(a.get(AggrType::Sum).unwrap().unwrap().1, &sum[..]);
        assert_eq!(a.get(AggrType::Counter).unwrap().unwrap().1, &count[..]);
        assert_eq!(a.num_samples(), 2);
        for cut in 0..data.len() {
            assert!(AggrChunk::new(&data[..cut]).all().is_err(), "cut {cut}");
        }
    }
}
