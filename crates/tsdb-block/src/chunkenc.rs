//! Chunk encodings: XOR floats, native histograms, float histograms and
//! Thanos's downsampled aggregate chunk, plus Thanos's counter-reset
//! iterator over its counter sub-chunks ([`CounterResets`]). Every decoder
//! works on a plain chunk payload (`&[u8]` without segment framing), exactly
//! what the Store API carries on the wire.

mod aggr;
mod counter;
mod histogram;
mod varbit;
mod xor;

pub use aggr::{AggrChunk, AggrType, SubChunk, encode_aggr};
pub use counter::{CounterResets, apply_counter_resets};
pub use histogram::{
    CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, FloatHistogramChunk,
    FloatHistogramEncoder, FloatHistogramIter, Histogram, HistogramChunk, HistogramEncoder,
    HistogramIter, Span,
};
pub use xor::{XorChunk, XorEncoder, XorIter};

use crate::{Error, Result};

/// The encoding byte of a chunk in a segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    None,
    Xor,
    Histogram,
    FloatHistogram,
    /// Thanos downsampled aggregate chunk (0xFF).
    Aggr,
    /// Any other encoding byte (e.g. XOR2 from newer Prometheus versions).
    Other(u8),
}

impl Encoding {
    pub fn from_byte(b: u8) -> Self {
        match b {
            0 => Self::None,
            1 => Self::Xor,
            2 => Self::Histogram,
            3 => Self::FloatHistogram,
            0xff => Self::Aggr,
            o => Self::Other(o),
        }
    }

    pub fn byte(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Xor => 1,
            Self::Histogram => 2,
            Self::FloatHistogram => 3,
            Self::Aggr => 0xff,
            Self::Other(o) => o,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Xor => "XOR",
            Self::Histogram => "histogram",
            Self::FloatHistogram => "floathistogram",
            Self::Aggr => "aggr",
            Self::Other(_) => "<unknown>",
        }
    }
}

/// One decoded sample of any kind.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleValue {
    Float(f64),
    Histogram(Histogram),
    FloatHistogram(FloatHistogram),
}

/// `(t, value)` pairs deduplicate with [`aeon_model::dedup`]; counter
/// adjustments apply to floats only.
impl aeon_model::dedup::Value for SampleValue {
    fn float(&self) -> Option<f64> {
        match self {
            Self::Float(v) => Some(*v),
            _ => None,
        }
    }

    fn with_float(&self, v: f64) -> Self {
        match self {
            Self::Float(_) => Self::Float(v),
            other => other.clone(),
        }
    }
}

/// Decodes a chunk payload of the given encoding into `(t, value)` pairs.
pub fn decode(enc: Encoding, data: &[u8]) -> Result<Vec<(i64, SampleValue)>> {
    match enc {
        Encoding::Xor => Ok(XorChunk::new(data)?
            .samples()?
            .into_iter()
            .map(|s| (s.t, SampleValue::Float(s.v)))
            .collect()),
        Encoding::Histogram => Ok(HistogramChunk::new(data)?
            .samples()?
            .into_iter()
            .map(|(t, h)| (t, SampleValue::Histogram(h)))
            .collect()),
        Encoding::FloatHistogram => Ok(FloatHistogramChunk::new(data)?
            .samples()?
            .into_iter()
            .map(|(t, h)| (t, SampleValue::FloatHistogram(h)))
            .collect()),
        other => Err(Error::DecodeChunk {
            encoding: other.name(),
            bit: 0,
            reason: format!("cannot decode encoding {:#04x} as samples", other.byte()),
        }),
    }
}

/// Number of samples from the 2-byte header (all Prometheus encodings).
pub fn num_samples(data: &[u8]) -> usize {
    match data {
        [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
        _ => 0,
    }
}
