//! Decoded samples of a series: decoding its chunks, merging in the
//! out-of-order buffer, and encoding the result into fresh chunks (used
//! when a series has out-of-order samples, and for checkpoints).

use aeon_tsdb_block::EncodedChunk;
use aeon_tsdb_block::chunkenc::{self, SampleValue};
use aeon_tsdb_block::writer::{cut_float_histogram_chunks, cut_histogram_chunks, cut_xor_chunks};

use crate::series::{MemSeries, Value};
use crate::{Error, Result};

pub(crate) fn to_sample_value(v: &Value) -> SampleValue {
    match v {
        Value::Float(f) => SampleValue::Float(*f),
        Value::Histogram(h) => SampleValue::Histogram((**h).clone()),
        Value::FloatHistogram(h) => SampleValue::FloatHistogram((**h).clone()),
    }
}

/// Every sample of `chunks`, in order.
pub(crate) fn decode(series: u64, chunks: &[EncodedChunk]) -> Result<Vec<(i64, SampleValue)>> {
    let mut out = Vec::new();
    for c in chunks {
        out.extend(
            chunkenc::decode(c.encoding, &c.data)
                .map_err(|source| Error::Chunk { series, source })?,
        );
    }
    Ok(out)
}

/// Merges sorted in-order samples with sorted out-of-order ones; on equal
/// timestamps the in-order sample wins.
pub(crate) fn merge(
    a: Vec<(i64, SampleValue)>,
    b: Vec<(i64, SampleValue)>,
) -> Vec<(i64, SampleValue)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => {
                if x.0 < y.0 {
                    out.extend(a.next());
                } else if x.0 > y.0 {
                    out.extend(b.next());
                } else {
                    out.extend(a.next());
                    b.next();
                }
            }
            (Some(_), None) => out.extend(a.next()),
            (None, Some(_)) => out.extend(b.next()),
            (None, None) => return out,
        }
    }
}

/// Encodes sorted samples into chunks, one run per sample kind, cut like
/// the block writer cuts them.
pub(crate) fn encode(
    series: u64,
    samples: &[(i64, SampleValue)],
    chunk_range: i64,
) -> Result<Vec<EncodedChunk>> {
    let err = |source| Error::Chunk { series, source };
    let mut out = Vec::new();
    let mut i = 0;
    while i < samples.len() {
        let kind = std::mem::discriminant(&samples[i].1);
        let mut j = i;
        while j < samples.len() && std::mem::discriminant(&samples[j].1) == kind {
            j += 1;
        }
        let run = &samples[i..j];
        match &run[0].1 {
            SampleValue::Float(_) => {
                let f: Vec<(i64, f64)> = run
                    .iter()
                    .filter_map(|(t, v)| match v {
                        SampleValue::Float(f) => Some((*t, *f)),
                        _ => None,
                    })
                    .collect();
                out.extend(cut_xor_chunks(&f, chunk_range).map_err(err)?);
            }
            SampleValue::Histogram(_) => {
                let h: Vec<_> = run
                    .iter()
                    .filter_map(|(t, v)| match v {
                        SampleValue::Histogram(h) => Some((*t, h.clone())),
                        _ => None,
                    })
                    .collect();
                out.extend(cut_histogram_chunks(&h).map_err(err)?);
            }
            SampleValue::FloatHistogram(_) => {
                let h: Vec<_> = run
                    .iter()
                    .filter_map(|(t, v)| match v {
                        SampleValue::FloatHistogram(h) => Some((*t, h.clone())),
                        _ => None,
                    })
                    .collect();
                out.extend(cut_float_histogram_chunks(&h).map_err(err)?);
            }
        }
        i = j;
    }
    Ok(out)
}

/// The chunks of series `s` overlapping `[mint, maxt]`: its own chunks
/// when it has no out-of-order samples there, otherwise those chunks'
/// samples merged with the out-of-order ones and encoded afresh.
pub(crate) fn series_chunks(
    r: u64,
    s: &MemSeries,
    mint: i64,
    maxt: i64,
    chunk_range: i64,
) -> Result<Vec<EncodedChunk>> {
    let mut chunks = Vec::new();
    s.chunks_in(mint, maxt, &mut chunks);
    let ooo = s.ooo_in(mint, maxt);
    if ooo.is_empty() {
        return Ok(chunks);
    }
    let ooo = ooo
        .into_iter()
        .map(|(t, v)| (t, to_sample_value(&v)))
        .collect();
    let merged = merge(decode(r, &chunks)?, ooo);
    encode(r, &merged, chunk_range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_prefers_in_order_samples() {
        let f = |t: i64, v: f64| (t, SampleValue::Float(v));
        let got = merge(
            vec![f(1, 1.0), f(3, 3.0)],
            vec![f(0, 0.0), f(3, 9.0), f(4, 4.0)],
        );
        assert_eq!(got, vec![f(0, 0.0), f(1, 1.0), f(3, 3.0), f(4, 4.0)]);
        let chunks = encode(1, &got, 7_200_000).unwrap();
        assert_eq!(decode(1, &chunks).unwrap(), got);
    }
}
