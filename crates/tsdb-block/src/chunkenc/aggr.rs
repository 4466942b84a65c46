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
        for cut in 0..data.len() {
            assert!(AggrChunk::new(&data[..cut]).all().is_err(), "cut {cut}");
        }
    }
}
