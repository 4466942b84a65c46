//! WAL record payloads, byte-compatible with Prometheus 3.5's
//! `tsdb/record` (version-1 record types): series (1), float samples (2),
//! integer histograms (7, custom buckets 9) and float histograms (8, custom
//! buckets 10). Other record types (tombstones, exemplars, metadata, m-map
//! markers) are recognised and skipped on replay.

use aeon_model::{Label, Labels};
use aeon_tsdb_block::chunkenc::{
    CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Histogram, Span,
};
use aeon_tsdb_block::varint::{Cursor, put_uvarint, put_varint};

pub(crate) const SERIES: u8 = 1;
pub(crate) const SAMPLES: u8 = 2;
pub(crate) const HISTOGRAMS: u8 = 7;
pub(crate) const FLOAT_HISTOGRAMS: u8 = 8;
pub(crate) const CUSTOM_HISTOGRAMS: u8 = 9;
pub(crate) const CUSTOM_FLOAT_HISTOGRAMS: u8 = 10;

/// One decoded record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    Series(Vec<(u64, Labels)>),
    Samples(Vec<(u64, i64, f64)>),
    Histograms(Vec<(u64, i64, Histogram)>),
    FloatHistograms(Vec<(u64, i64, FloatHistogram)>),
    /// A record type we do not replay (tombstones, exemplars, metadata, …).
    Skipped(u8),
}

/// Appends a series record for `series` to `buf`.
pub(crate) fn encode_series<'a>(
    buf: &mut Vec<u8>,
    series: impl IntoIterator<Item = (u64, &'a Labels)>,
) {
    buf.push(SERIES);
    for (r, ls) in series {
        buf.extend_from_slice(&r.to_be_bytes());
        put_uvarint(buf, ls.len() as u64);
        for l in ls.iter() {
            put_str(buf, &l.name);
            put_str(buf, &l.value);
        }
    }
}

/// Appends a float sample record (refs and times as deltas to the first).
pub(crate) fn encode_samples(buf: &mut Vec<u8>, samples: &[(u64, i64, f64)]) {
    buf.push(SAMPLES);
    let Some(&(r0, t0, _)) = samples.first() else {
        return;
    };
    buf.extend_from_slice(&r0.to_be_bytes());
    buf.extend_from_slice(&t0.to_be_bytes());
    for &(r, t, v) in samples {
        put_varint(buf, (r as i64).wrapping_sub(r0 as i64));
        put_varint(buf, t.wrapping_sub(t0));
        buf.extend_from_slice(&v.to_bits().to_be_bytes());
    }
}

/// Appends one record per kind (exponential, custom buckets) that occurs,
/// as Prometheus splits them; each record is pushed to `out`.
pub(crate) fn encode_histograms(out: &mut Vec<Vec<u8>>, hs: &[(u64, i64, &Histogram)]) {
    for custom in [false, true] {
        let part: Vec<_> = hs
            .iter()
            .filter(|(_, _, h)| (h.schema == CUSTOM_BUCKETS_SCHEMA) == custom)
            .collect();
        let Some(&&(r0, t0, _)) = part.first() else {
            continue;
        };
        let mut buf = Vec::with_capacity(64 * part.len());
        buf.push(if custom {
            CUSTOM_HISTOGRAMS
        } else {
            HISTOGRAMS
        });
        buf.extend_from_slice(&r0.to_be_bytes());
        buf.extend_from_slice(&t0.to_be_bytes());
        for &&(r, t, h) in &part {
            put_varint(&mut buf, (r as i64).wrapping_sub(r0 as i64));
            put_varint(&mut buf, t.wrapping_sub(t0));
            buf.push(hint_byte(h.counter_reset_hint));
            put_varint(&mut buf, i64::from(h.schema));
            buf.extend_from_slice(&h.zero_threshold.to_bits().to_be_bytes());
            put_uvarint(&mut buf, h.zero_count);
            put_uvarint(&mut buf, h.count);
            buf.extend_from_slice(&h.sum.to_bits().to_be_bytes());
            put_spans(&mut buf, &h.positive_spans);
            put_spans(&mut buf, &h.negative_spans);
            for bs in [&h.positive_buckets, &h.negative_buckets] {
                put_uvarint(&mut buf, bs.len() as u64);
                for &b in bs {
                    put_varint(&mut buf, b);
                }
            }
            if custom {
                put_floats(&mut buf, &h.custom_values);
            }
        }
        out.push(buf);
    }
}

/// Float-histogram version of [`encode_histograms`].
pub(crate) fn encode_float_histograms(out: &mut Vec<Vec<u8>>, hs: &[(u64, i64, &FloatHistogram)]) {
    for custom in [false, true] {
        let part: Vec<_> = hs
            .iter()
            .filter(|(_, _, h)| (h.schema == CUSTOM_BUCKETS_SCHEMA) == custom)
            .collect();
        let Some(&&(r0, t0, _)) = part.first() else {
            continue;
        };
        let mut buf = Vec::with_capacity(96 * part.len());
        buf.push(if custom {
            CUSTOM_FLOAT_HISTOGRAMS
        } else {
            FLOAT_HISTOGRAMS
        });
        buf.extend_from_slice(&r0.to_be_bytes());
        buf.extend_from_slice(&t0.to_be_bytes());
        for &&(r, t, h) in &part {
            put_varint(&mut buf, (r as i64).wrapping_sub(r0 as i64));
            put_varint(&mut buf, t.wrapping_sub(t0));
            buf.push(hint_byte(h.counter_reset_hint));
            put_varint(&mut buf, i64::from(h.schema));
            for v in [h.zero_threshold, h.zero_count, h.count, h.sum] {
                buf.extend_from_slice(&v.to_bits().to_be_bytes());
            }
            put_spans(&mut buf, &h.positive_spans);
            put_spans(&mut buf, &h.negative_spans);
            put_floats(&mut buf, &h.positive_buckets);
            put_floats(&mut buf, &h.negative_buckets);
            if custom {
                put_floats(&mut buf, &h.custom_values);
            }
        }
        out.push(buf);
    }
}

/// Collects samples into records in arrival order: a record per run of
/// one sample kind, at most `max` samples each.
#[derive(Debug)]
pub(crate) struct Batcher {
    out: Vec<Vec<u8>>,
    floats: Vec<(u64, i64, f64)>,
    hists: Vec<(u64, i64, Histogram)>,
    fhists: Vec<(u64, i64, FloatHistogram)>,
    max: usize,
}

impl Batcher {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            out: Vec::new(),
            floats: Vec::new(),
            hists: Vec::new(),
            fhists: Vec::new(),
            max: max.max(1),
        }
    }

    pub(crate) fn float(&mut self, r: u64, t: i64, v: f64) {
        if !self.hists.is_empty() || !self.fhists.is_empty() || self.floats.len() >= self.max {
            self.flush();
        }
        self.floats.push((r, t, v));
    }

    pub(crate) fn histogram(&mut self, r: u64, t: i64, h: Histogram) {
        if !self.floats.is_empty() || !self.fhists.is_empty() || self.hists.len() >= self.max {
            self.flush();
        }
        self.hists.push((r, t, h));
    }

    pub(crate) fn float_histogram(&mut self, r: u64, t: i64, h: FloatHistogram) {
        if !self.floats.is_empty() || !self.hists.is_empty() || self.fhists.len() >= self.max {
            self.flush();
        }
        self.fhists.push((r, t, h));
    }

    /// Moves the buffered samples into records.
    pub(crate) fn flush(&mut self) {
        if !self.floats.is_empty() {
            let mut b = Vec::with_capacity(17 + 14 * self.floats.len());
            encode_samples(&mut b, &self.floats);
            self.out.push(b);
            self.floats.clear();
        }
        if !self.hists.is_empty() {
            let refs: Vec<_> = self.hists.iter().map(|(r, t, h)| (*r, *t, h)).collect();
            encode_histograms(&mut self.out, &refs);
            self.hists.clear();
        }
        if !self.fhists.is_empty() {
            let refs: Vec<_> = self.fhists.iter().map(|(r, t, h)| (*r, *t, h)).collect();
            encode_float_histograms(&mut self.out, &refs);
            self.fhists.clear();
        }
    }

    /// Every record so far, buffered samples included.
    pub(crate) fn take(&mut self) -> Vec<Vec<u8>> {
        self.flush();
        std::mem::take(&mut self.out)
    }
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_uvarint(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

fn put_spans(buf: &mut Vec<u8>, spans: &[Span]) {
    put_uvarint(buf, spans.len() as u64);
    for s in spans {
        put_varint(buf, i64::from(s.offset));
        put_uvarint(buf, u64::from(s.length));
    }
}

fn put_floats(buf: &mut Vec<u8>, vs: &[f64]) {
    put_uvarint(buf, vs.len() as u64);
    for v in vs {
        buf.extend_from_slice(&v.to_bits().to_be_bytes());
    }
}

/// Go's `histogram.CounterResetHint` values.
fn hint_byte(h: CounterResetHint) -> u8 {
    match h {
        CounterResetHint::Unknown => 0,
        CounterResetHint::CounterReset => 1,
        CounterResetHint::NotCounterReset => 2,
        CounterResetHint::Gauge => 3,
    }
}

fn hint_from_byte(b: u8) -> CounterResetHint {
    match b {
        1 => CounterResetHint::CounterReset,
        2 => CounterResetHint::NotCounterReset,
        3 => CounterResetHint::Gauge,
        _ => CounterResetHint::Unknown,
    }
}

/// Decodes one record; `file` and `base` (the record's offset) only name
/// the place in errors.
pub(crate) fn decode(rec: &[u8], file: &str, base: u64) -> aeon_tsdb_block::Result<Record> {
    let mut c = Cursor::new(rec, file, base);
    let typ = c.u8()?;
    match typ {
        SERIES => {
            let mut out = Vec::new();
            while !c.is_empty() {
                let r = c.be_u64()?;
                let n = c.uvarint()?;
                let mut ls = Vec::with_capacity(n.min(64) as usize);
                for _ in 0..n {
                    let name = c.uvarint_str()?;
                    let value = c.uvarint_str()?;
                    ls.push(Label::new(name, value));
                }
                out.push((r, Labels::new(ls)));
            }
            Ok(Record::Series(out))
        }
        SAMPLES => {
            let mut out = Vec::new();
            if c.is_empty() {
                return Ok(Record::Samples(out));
            }
            let r0 = c.be_u64()?;
            let t0 = c.be_u64()? as i64;
            while !c.is_empty() {
                let dr = c.varint()?;
                let dt = c.varint()?;
                let v = f64::from_bits(c.be_u64()?);
                out.push(((r0 as i64).wrapping_add(dr) as u64, t0.wrapping_add(dt), v));
            }
            Ok(Record::Samples(out))
        }
        HISTOGRAMS | CUSTOM_HISTOGRAMS => {
            let mut out = Vec::new();
            if c.is_empty() {
                return Ok(Record::Histograms(out));
            }
            let r0 = c.be_u64()?;
            let t0 = c.be_u64()? as i64;
            while !c.is_empty() {
                let r = (r0 as i64).wrapping_add(c.varint()?) as u64;
                let t = t0.wrapping_add(c.varint()?);
                let mut h = Histogram {
                    counter_reset_hint: hint_from_byte(c.u8()?),
                    schema: schema(&mut c)?,
                    zero_threshold: f64::from_bits(c.be_u64()?),
                    zero_count: c.uvarint()?,
                    count: c.uvarint()?,
                    sum: f64::from_bits(c.be_u64()?),
                    positive_spans: spans(&mut c)?,
                    negative_spans: spans(&mut c)?,
                    ..Default::default()
                };
                h.positive_buckets = ints(&mut c)?;
                h.negative_buckets = ints(&mut c)?;
                if h.schema == CUSTOM_BUCKETS_SCHEMA {
                    h.custom_values = floats(&mut c)?;
                }
                out.push((r, t, h));
            }
            Ok(Record::Histograms(out))
        }
        FLOAT_HISTOGRAMS | CUSTOM_FLOAT_HISTOGRAMS => {
            let mut out = Vec::new();
            if c.is_empty() {
                return Ok(Record::FloatHistograms(out));
            }
            let r0 = c.be_u64()?;
            let t0 = c.be_u64()? as i64;
            while !c.is_empty() {
                let r = (r0 as i64).wrapping_add(c.varint()?) as u64;
                let t = t0.wrapping_add(c.varint()?);
                let mut h = FloatHistogram {
                    counter_reset_hint: hint_from_byte(c.u8()?),
                    schema: schema(&mut c)?,
                    zero_threshold: f64::from_bits(c.be_u64()?),
                    zero_count: f64::from_bits(c.be_u64()?),
                    count: f64::from_bits(c.be_u64()?),
                    sum: f64::from_bits(c.be_u64()?),
                    positive_spans: spans(&mut c)?,
                    negative_spans: spans(&mut c)?,
                    ..Default::default()
                };
                h.positive_buckets = floats(&mut c)?;
                h.negative_buckets = floats(&mut c)?;
                if h.schema == CUSTOM_BUCKETS_SCHEMA {
                    h.custom_values = floats(&mut c)?;
                }
                out.push((r, t, h));
            }
            Ok(Record::FloatHistograms(out))
        }
        // Tombstones, exemplars, m-map markers, metadata and the newer
        // start-timestamp variants carry nothing the head replays.
        3..=6 | 11..=13 => Ok(Record::Skipped(typ)),
        other => Err(c.err_at(base, format!("unknown record type {other}"))),
    }
}

fn schema(c: &mut Cursor<'_>) -> aeon_tsdb_block::Result<i32> {
    let s = c.varint()?;
    i32::try_from(s).map_err(|_| c.err(format!("histogram schema {s} out of range")))
}

fn count(c: &mut Cursor<'_>) -> aeon_tsdb_block::Result<usize> {
    let n = c.uvarint()?;
    // Every element takes at least one byte, so a count beyond the rest of
    // the record is corrupt (and must not drive an allocation).
    if n > c.remaining() as u64 {
        return Err(c.err(format!("count {n} exceeds the record")));
    }
    Ok(n as usize)
}

fn spans(c: &mut Cursor<'_>) -> aeon_tsdb_block::Result<Vec<Span>> {
    let n = count(c)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let o = c.varint()?;
        let offset = i32::try_from(o).map_err(|_| c.err(format!("span offset {o} overflows")))?;
        out.push(Span {
            offset,
            length: c.uvarint32()?,
        });
    }
    Ok(out)
}

fn ints(c: &mut Cursor<'_>) -> aeon_tsdb_block::Result<Vec<i64>> {
    let n = count(c)?;
    (0..n).map(|_| c.varint()).collect()
}

fn floats(c: &mut Cursor<'_>) -> aeon_tsdb_block::Result<Vec<f64>> {
    let n = count(c)?;
    (0..n).map(|_| c.be_u64().map(f64::from_bits)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(schema: i32) -> Histogram {
        Histogram {
            counter_reset_hint: CounterResetHint::Gauge,
            schema,
            zero_threshold: 0.001,
            zero_count: 3,
            count: 10,
            sum: 12.5,
            positive_spans: vec![Span {
                offset: -2,
                length: 2,
            }],
            positive_buckets: vec![3, 4],
            negative_spans: vec![Span {
                offset: 1,
                length: 1,
            }],
            negative_buckets: vec![-1],
            custom_values: if schema == CUSTOM_BUCKETS_SCHEMA {
                vec![0.5, 1.0]
            } else {
                vec![]
            },
        }
    }

    #[test]
    fn records_round_trip() {
        let ls = Labels::from_pairs(&[("__name__", "up"), ("job", "a")]);
        let mut b = Vec::new();
        encode_series(&mut b, [(7, &ls), (9, &Labels::empty())]);
        assert_eq!(
            decode(&b, "x", 0).unwrap(),
            Record::Series(vec![(7, ls), (9, Labels::empty())])
        );

        let samples = vec![(5, 1000, 1.5), (3, 999, f64::INFINITY), (900, -5, -0.0)];
        let mut b = Vec::new();
        encode_samples(&mut b, &samples);
        let Record::Samples(got) = decode(&b, "x", 0).unwrap() else {
            panic!("not samples")
        };
        assert_eq!(got.len(), 3);
        for (g, w) in got.iter().zip(&samples) {
            assert_eq!((g.0, g.1, g.2.to_bits()), (w.0, w.1, w.2.to_bits()));
        }

        let (a, c) = (h(3), h(CUSTOM_BUCKETS_SCHEMA));
        let mut out = Vec::new();
        encode_histograms(&mut out, &[(1, 10, &a), (2, 20, &c), (3, 30, &a)]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0][0], HISTOGRAMS);
        assert_eq!(out[1][0], CUSTOM_HISTOGRAMS);
        assert_eq!(
            decode(&out[0], "x", 0).unwrap(),
            Record::Histograms(vec![(1, 10, a.clone()), (3, 30, a.clone())])
        );
        assert_eq!(
            decode(&out[1], "x", 0).unwrap(),
            Record::Histograms(vec![(2, 20, c.clone())])
        );
        let (fa, fc) = (a.to_float(), c.to_float());
        let mut out = Vec::new();
        encode_float_histograms(&mut out, &[(1, 10, &fa), (2, 20, &fc)]);
        assert_eq!(
            decode(&out[0], "x", 0).unwrap(),
            Record::FloatHistograms(vec![(1, 10, fa)])
        );
        assert_eq!(
            decode(&out[1], "x", 0).unwrap(),
            Record::FloatHistograms(vec![(2, 20, fc)])
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for rec in [&[][..], &[2, 0, 0], &[1, 0, 0, 0, 0, 0, 0, 0, 1, 5], &[77]] {
            assert!(decode(rec, "x", 0).is_err(), "{rec:?}");
        }
        assert_eq!(decode(&[3, 1, 2], "x", 0).unwrap(), Record::Skipped(3));
    }
}
