//! The Gorilla-style XOR float chunk, bit-exact with Prometheus.

use crate::bstream::{BitReader, BitWriter, Eof};
use crate::{Error, Result};
use aeon_model::Sample;

const ENC: &str = "xor";

/// Encodes float samples into an XOR chunk payload (2-byte count + bits).
#[derive(Debug, Clone)]
pub struct XorEncoder {
    w: BitWriter,
    num: u16,
    t: i64,
    v: f64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
}

impl Default for XorEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl XorEncoder {
    pub fn new() -> Self {
        Self {
            w: BitWriter::with_bytes({
                let mut v = Vec::with_capacity(128);
                v.extend_from_slice(&[0, 0]);
                v
            }),
            num: 0,
            t: 0,
            v: 0.0,
            t_delta: 0,
            leading: 0xff,
            trailing: 0,
        }
    }

    pub fn num_samples(&self) -> usize {
        usize::from(self.num)
    }

    /// Current payload size in bytes.
    pub fn size(&self) -> usize {
        self.w.bytes().len()
    }

    /// Appends a sample. Timestamps should be increasing; a chunk holds at
    /// most 65535 samples (the caller cuts chunks long before that).
    pub fn append(&mut self, t: i64, v: f64) {
        let mut t_delta = 0u64;
        match self.num {
            0 => {
                let mut buf = Vec::with_capacity(10);
                crate::varint::put_varint(&mut buf, t);
                for b in buf {
                    self.w.write_byte(b);
                }
                self.w.write_bits(v.to_bits(), 64);
            }
            1 => {
                t_delta = t.wrapping_sub(self.t) as u64;
                let mut buf = Vec::with_capacity(10);
                crate::varint::put_uvarint(&mut buf, t_delta);
                for b in buf {
                    self.w.write_byte(b);
                }
                self.write_value(v);
            }
            _ => {
                t_delta = t.wrapping_sub(self.t) as u64;
                let dod = t_delta.wrapping_sub(self.t_delta) as i64;
                if dod == 0 {
                    self.w.write_bit(false);
                } else if bit_range(dod, 14) {
                    self.w.write_bits(0b10, 2);
                    self.w.write_bits(dod as u64, 14);
                } else if bit_range(dod, 17) {
                    self.w.write_bits(0b110, 3);
                    self.w.write_bits(dod as u64, 17);
                } else if bit_range(dod, 20) {
                    self.w.write_bits(0b1110, 4);
                    self.w.write_bits(dod as u64, 20);
                } else {
                    self.w.write_bits(0b1111, 4);
                    self.w.write_bits(dod as u64, 64);
                }
                self.write_value(v);
            }
        }
        self.t = t;
        self.v = v;
        self.t_delta = t_delta;
        self.num = self.num.wrapping_add(1);
        let n = self.num.to_be_bytes();
        let b = self.w.bytes_mut();
        b[0] = n[0];
        b[1] = n[1];
    }

    fn write_value(&mut self, v: f64) {
        xor_write(
            &mut self.w,
            v.to_bits(),
            self.v.to_bits(),
            &mut self.leading,
            &mut self.trailing,
        );
    }

    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    pub fn finish(self) -> Vec<u8> {
        self.w.into_bytes()
    }
}

/// Whether `x` fits the signed `nbits` window Prometheus uses for dods.
pub(crate) fn bit_range(x: i64, nbits: u32) -> bool {
    -((1i64 << (nbits - 1)) - 1) <= x && x <= 1i64 << (nbits - 1)
}

/// Writes the XOR of two float bit patterns with the shared
/// leading/trailing-zero window (also used by histogram chunks).
pub(crate) fn xor_write(
    w: &mut BitWriter,
    new: u64,
    cur: u64,
    leading: &mut u8,
    trailing: &mut u8,
) {
    let delta = new ^ cur;
    if delta == 0 {
        w.write_bit(false);
        return;
    }
    w.write_bit(true);
    let mut new_leading = delta.leading_zeros() as u8;
    let new_trailing = delta.trailing_zeros() as u8;
    if new_leading >= 32 {
        new_leading = 31;
    }
    if *leading != 0xff && new_leading >= *leading && new_trailing >= *trailing {
        w.write_bit(false);
        w.write_bits(
            delta >> *trailing,
            64 - u32::from(*leading) - u32::from(*trailing),
        );
        return;
    }
    *leading = new_leading;
    *trailing = new_trailing;
    w.write_bit(true);
    w.write_bits(u64::from(new_leading), 5);
    let sigbits = 64 - u32::from(new_leading) - u32::from(new_trailing);
    w.write_bits(u64::from(sigbits), 6);
    w.write_bits(delta >> new_trailing, sigbits);
}

/// Reads an XOR-encoded value; `value` holds the previous bits on entry.
#[inline(always)]
pub(crate) fn xor_read(
    r: &mut BitReader<'_>,
    value: &mut u64,
    leading: &mut u8,
    trailing: &mut u8,
) -> Result<(), Eof> {
    let p = r.peek64();
    xor_read_peeked(r, p, 64, value, leading, trailing)
}

/// Like [`xor_read`] with `p` = the next bits at the reader position, of
/// which the top `avail` are valid; common cases need no further load.
#[inline(always)]
fn xor_read_peeked(
    r: &mut BitReader<'_>,
    p: u64,
    avail: u32,
    value: &mut u64,
    leading: &mut u8,
    trailing: &mut u8,
) -> Result<(), Eof> {
    if p >> 63 == 0 {
        return r.consume(1);
    }
    if (p >> 62) & 1 == 0 {
        // Reuse the previous window.
        let mbits = 64 - u32::from(*leading) - u32::from(*trailing);
        if mbits == 0 || 2 + mbits > avail {
            r.consume(2)?;
            let bits = r.read_bits(mbits)?;
            *value ^= bits << *trailing;
            return Ok(());
        }
        r.consume(2 + mbits as usize)?;
        *value ^= ((p << 2) >> (64 - mbits)) << *trailing;
        return Ok(());
    }
    if avail < 13 {
        r.consume(2)?;
        let lead = r.read_bits(5)? as u8;
        let mut mbits = r.read_bits(6)? as u8;
        if mbits == 0 {
            mbits = 64;
        }
        if u32::from(lead) + u32::from(mbits) > 64 {
            return Err(Eof);
        }
        *leading = lead;
        *trailing = 64 - lead - mbits;
        let bits = r.read_bits(u32::from(mbits))?;
        *value ^= bits << *trailing;
        return Ok(());
    }
    // New window: 5 bits leading, 6 bits significant-bit count.
    let lead = ((p >> 57) & 0x1f) as u8;
    let mut mbits = ((p >> 51) & 0x3f) as u8;
    if mbits == 0 {
        mbits = 64;
    }
    if u32::from(lead) + u32::from(mbits) > 64 {
        return Err(Eof);
    }
    *leading = lead;
    *trailing = 64 - lead - mbits;
    let mb = u32::from(mbits);
    if 13 + mb <= avail {
        r.consume(13 + mb as usize)?;
        *value ^= ((p << 13) >> (64 - mb)) << *trailing;
    } else {
        r.consume(13)?;
        let bits = r.read_bits(mb)?;
        *value ^= bits << *trailing;
    }
    Ok(())
}

/// An XOR chunk payload as stored in segment files after the encoding
/// byte, and as sent on the Store API: `u16 BE count` then the bitstream.
#[derive(Debug, Clone, Copy)]
pub struct XorChunk<'a> {
    data: &'a [u8],
}

impl<'a> XorChunk<'a> {
    pub fn new(data: &'a [u8]) -> Result<Self> {
        if data.len() < 2 {
            return Err(Error::DecodeChunk {
                encoding: ENC,
                bit: 0,
                reason: "payload shorter than 2 bytes".into(),
            });
        }
        Ok(Self { data })
    }

    pub fn num_samples(&self) -> usize {
        usize::from(u16::from_be_bytes([self.data[0], self.data[1]]))
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }

    /// Iterates `(t, v)`; check [`XorIter::err`] after the loop.
    pub fn iter(&self) -> XorIter<'a> {
        let mut br = BitReader::new(self.data);
        br.set_pos(16);
        XorIter {
            br,
            total: u16::from_be_bytes([self.data[0], self.data[1]]),
            read: 0,
            t: 0,
            v: 0,
            t_delta: 0,
            leading: 0,
            trailing: 0,
            err: None,
        }
    }

    /// All samples, or the decoding error.
    pub fn samples(&self) -> Result<Vec<Sample>> {
        let mut it = self.iter();
        let mut out = Vec::with_capacity(self.num_samples());
        for (t, v) in it.by_ref() {
            out.push(Sample { t, v });
        }
        it.into_result().map(|()| out)
    }
}

/// Iterator over an XOR chunk. Yields `(timestamp, value)`; on corrupt
/// data it stops and [`XorIter::err`] returns the error.
#[derive(Debug)]
pub struct XorIter<'a> {
    br: BitReader<'a>,
    total: u16,
    read: u16,
    t: i64,
    v: u64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
    err: Option<Error>,
}

impl XorIter<'_> {
    pub fn err(&self) -> Option<&Error> {
        self.err.as_ref()
    }

    pub fn into_result(self) -> Result<()> {
        match self.err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn fail(&mut self, reason: &str) {
        self.err = Some(Error::DecodeChunk {
            encoding: ENC,
            bit: self.br.pos() as u64,
            reason: reason.into(),
        });
    }

    #[inline(always)]
    fn step(&mut self) -> Result<(), &'static str> {
        const TRUNC: &str = "truncated bitstream";
        match self.read {
            0 => {
                self.t = self
                    .br
                    .read_varint()
                    .map_err(|_| TRUNC)?
                    .ok_or("invalid varint timestamp")?;
                self.v = self.br.read_bits(64).map_err(|_| TRUNC)?;
                return Ok(());
            }
            1 => {
                self.t_delta = self
                    .br
                    .read_uvarint()
                    .map_err(|_| TRUNC)?
                    .ok_or("invalid uvarint delta")?;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                let q = self.br.peek64();
                self.value(q, 64)?;
            }
            _ => {
                let (p, avail) = self.br.peek57();
                if p >> 62 == 0 {
                    // dod == 0 and value unchanged.
                    self.br.advance(2);
                    self.t = self.t.wrapping_add(self.t_delta as i64);
                } else {
                    let (dod, q, qa) = if p >> 62 != 0b11 {
                        // The common buckets, "0" (dod 0) and "10" + 14
                        // bits, selected without a branch or a bit scan.
                        let is14 = p >> 63 != 0;
                        let raw = (p >> 48) & 0x3fff;
                        let d = raw as i64 - (i64::from(raw > 0x2000) << 14);
                        let (dod, used) = if is14 { (d, 16) } else { (0, 1) };
                        self.br.advance(used as usize);
                        (dod, p << used, avail - used)
                    } else if p >> 60 != 0b1111 {
                        // "110" + 17 bits or "1110" + 20 bits.
                        let is17 = (p >> 61) & 1 == 0;
                        let (sz, prefix) = if is17 { (17, 3) } else { (20, 4) };
                        let raw = (p << prefix) >> (64 - sz);
                        let half = 1u64 << (sz - 1);
                        let dod = raw as i64 - (i64::from(raw > half) << sz);
                        let used = prefix + sz;
                        self.br.advance(used as usize);
                        (dod, p << used, avail - used)
                    } else {
                        self.br.advance(4);
                        let d = self.br.peek64() as i64;
                        self.br.advance(64);
                        let (q, qa) = self.br.peek57();
                        (d, q, qa)
                    };
                    self.t_delta = (self.t_delta as i64).wrapping_add(dod) as u64;
                    self.t = self.t.wrapping_add(self.t_delta as i64);
                    self.value(q, qa)?;
                }
            }
        }
        // Reads past the end saw zero bits; one check per sample.
        if self.br.overrun() {
            return Err(TRUNC);
        }
        Ok(())
    }

    /// Decodes an XOR value; `q` holds the next bits left-aligned, of which
    /// the top `avail` (at least 32) are valid.
    #[inline(always)]
    fn value(&mut self, q: u64, avail: u32) -> Result<(), &'static str> {
        if q >> 63 == 0 {
            self.br.advance(1);
            return Ok(());
        }
        // Control bit 0 reuses the previous window; 1 starts a new one
        // (5 bits leading zeros, 6 bits significant-bit count). Both
        // candidates are computed and selected without a branch: which
        // case comes next is data-dependent and unpredictable.
        let reuse = (q >> 62) & 1 == 0;
        let new_lead = ((q >> 57) & 0x1f) as u32;
        let new_mbits = match ((q >> 51) & 0x3f) as u32 {
            0 => 64,
            m => m,
        };
        let old_lead = u32::from(self.leading);
        let old_mbits = 64 - old_lead - u32::from(self.trailing);
        let (lead, mbits, hdr) = if reuse {
            (old_lead, old_mbits, 2)
        } else {
            (new_lead, new_mbits, 13)
        };
        if lead + mbits > 64 {
            return Err("invalid xor window");
        }
        let trailing = 64 - lead - mbits;
        let bits = if hdr + mbits <= avail {
            self.br.advance((hdr + mbits) as usize);
            (q << hdr) >> (64 - mbits)
        } else {
            self.br.advance(hdr as usize);
            let b = self.br.peek64() >> (64 - mbits);
            self.br.advance(mbits as usize);
            b
        };
        self.leading = lead as u8;
        self.trailing = trailing as u8;
        self.v ^= bits << trailing;
        Ok(())
    }
}

impl Iterator for XorIter<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        if self.read >= self.total {
            return None;
        }
        if let Err(reason) = self.step() {
            self.fail(reason);
            // Stop for good: no further samples after an error.
            self.total = self.read;
            return None;
        }
        self.read += 1;
        Some((self.t, f64::from_bits(self.v)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.total - self.read);
        (0, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(samples: &[(i64, f64)]) -> Vec<u8> {
        let mut e = XorEncoder::new();
        for &(t, v) in samples {
            e.append(t, v);
        }
        e.finish()
    }

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits()
    }

    #[test]
    fn known_bytes_match_prometheus() {
        // Two samples: t=1000 v=1, t=2000 v=1 -> varint(1000)=[0xd0,0x0f],
        // float64 1.0, uvarint(1000)=[0xe8,0x07], value bit 0 then padding.
        let b = encode(&[(1000, 1.0), (2000, 1.0)]);
        assert_eq!(
            b,
            [
                0, 2, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xe8, 0x07, 0x00
            ]
        );
    }

    #[test]
    fn stale_nan_and_infinities_round_trip() {
        let s = [
            (0, 1.0),
            (15_000, aeon_model::stale_nan()),
            (30_000, f64::INFINITY),
            (45_000, f64::NEG_INFINITY),
            (60_000, f64::NAN),
            (i64::MAX / 2, -0.0),
            (i64::MAX, f64::MIN_POSITIVE),
        ];
        let b = encode(&s);
        let got = XorChunk::new(&b).unwrap().samples().unwrap();
        assert_eq!(got.len(), s.len());
        for (g, w) in got.iter().zip(s.iter()) {
            assert_eq!(g.t, w.0);
            assert!(same(g.v, w.1), "{} vs {}", g.v, w.1);
        }
        assert!(aeon_model::is_stale_nan(got[1].v));
    }

    #[test]
    fn truncated_chunk_is_an_error_not_a_panic() {
        let b = encode(&[(1, 1.0), (2, 2.5), (3, 7.25), (100, -3.0)]);
        for cut in 0..b.len() {
            let r = XorChunk::new(&b[..cut]).and_then(|c| c.samples());
            if cut < b.len() - 1 {
                assert!(r.is_err(), "cut {cut} decoded");
            }
        }
        // Lying sample count.
        let mut bad = b.clone();
        bad[1] = 200;
        let e = XorChunk::new(&bad).unwrap().samples().unwrap_err();
        assert!(matches!(e, Error::DecodeChunk { .. }), "{e}");
    }

    /// A plain bit-by-bit decoder straight from the format description,
    /// every read checked: the reference for the optimised iterator.
    fn reference_decode(data: &[u8]) -> std::result::Result<Vec<(i64, u64)>, ()> {
        if data.len() < 2 {
            return Err(());
        }
        let n = u16::from_be_bytes([data[0], data[1]]);
        let mut r = BitReader::new(data);
        r.set_pos(16);
        let mut out = Vec::new();
        let (mut t, mut v, mut delta) = (0i64, 0u64, 0i64);
        let (mut lead, mut trail) = (0u32, 0u32);
        for i in 0..n {
            if i == 0 {
                t = r.read_varint().map_err(|_| ())?.ok_or(())?;
                v = r.read_bits(64).map_err(|_| ())?;
                out.push((t, v));
                continue;
            }
            if i == 1 {
                delta = r.read_uvarint().map_err(|_| ())?.ok_or(())? as i64;
            } else {
                let mut ones = 0;
                while ones < 4 && r.read_bit().map_err(|_| ())? {
                    ones += 1;
                }
                let sz = [0, 14, 17, 20, 64][ones];
                let raw = r.read_bits(sz).map_err(|_| ())?;
                let dod = if sz == 0 || sz == 64 {
                    raw as i64
                } else if raw > 1 << (sz - 1) {
                    raw as i64 - (1i64 << sz)
                } else {
                    raw as i64
                };
                delta = delta.wrapping_add(dod);
            }
            t = t.wrapping_add(delta);
            if r.read_bit().map_err(|_| ())? {
                if r.read_bit().map_err(|_| ())? {
                    lead = r.read_bits(5).map_err(|_| ())? as u32;
                    let mut m = r.read_bits(6).map_err(|_| ())? as u32;
                    if m == 0 {
                        m = 64;
                    }
                    if lead + m > 64 {
                        return Err(());
                    }
                    trail = 64 - lead - m;
                }
                let m = 64 - lead - trail;
                v ^= r.read_bits(m).map_err(|_| ())? << trail;
            }
            out.push((t, v));
        }
        Ok(out)
    }

    fn fast_decode(data: &[u8]) -> std::result::Result<Vec<(i64, u64)>, ()> {
        let c = XorChunk::new(data).map_err(|_| ())?;
        let mut it = c.iter();
        let out: Vec<(i64, u64)> = it.by_ref().map(|(t, v)| (t, v.to_bits())).collect();
        it.into_result().map(|()| out).map_err(|_| ())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Arbitrary bytes (mostly invalid): the optimised decoder returns
        /// exactly what the reference returns, error or samples.
        #[test]
        fn decoder_matches_reference_on_random_bytes(n in 0u16..40, body in proptest::collection::vec(any::<u8>(), 0..120)) {
            let mut data = n.to_be_bytes().to_vec();
            data.extend_from_slice(&body);
            prop_assert_eq!(fast_decode(&data), reference_decode(&data));
        }

        /// Valid chunks with flipped bits and truncations.
        #[test]
        fn decoder_matches_reference_on_mutated_chunks(
            deltas in proptest::collection::vec(prop_oneof![0i64..3, 0i64..20_000, 0i64..2_000_000, any::<i64>()], 1..150),
            vals in proptest::collection::vec(prop_oneof![any::<f64>(), (0u32..1000).prop_map(f64::from)], 150),
            flips in proptest::collection::vec((any::<usize>(), 0u8..8), 0..3),
            cut in proptest::option::of(any::<usize>()),
        ) {
            let mut t = 1_700_000_000_000i64;
            let mut s = Vec::new();
            for (d, v) in deltas.iter().zip(&vals) {
                t = t.wrapping_add(*d);
                s.push((t, *v));
            }
            let mut data = encode(&s);
            prop_assert_eq!(
                fast_decode(&data),
                Ok(s.iter().map(|&(t, v)| (t, v.to_bits())).collect::<Vec<_>>())
            );
            for (at, bit) in flips {
                let i = at % data.len();
                data[i] ^= 1 << bit;
            }
            if let Some(c) = cut {
                data.truncate(c % (data.len() + 1));
            }
            prop_assert_eq!(fast_decode(&data), reference_decode(&data));
        }
    }

    proptest! {
        #[test]
        fn round_trip(first in any::<i64>(), deltas in proptest::collection::vec(prop_oneof![
                0i64..100, 0i64..100_000, 0i64..10_000_000, any::<i64>()
            ], 0..200),
            values in proptest::collection::vec(prop_oneof![
                any::<f64>(), Just(aeon_model::stale_nan()), Just(f64::INFINITY), Just(f64::NEG_INFINITY),
                (0u32..1000).prop_map(f64::from), Just(0.0)
            ], 201)) {
            let mut t = first;
            let mut s = vec![(t, values[0])];
            for (i, d) in deltas.iter().enumerate() {
                t = t.wrapping_add(*d);
                s.push((t, values[i + 1]));
            }
            let b = encode(&s);
            let c = XorChunk::new(&b).unwrap();
            prop_assert_eq!(c.num_samples(), s.len());
            let got = c.samples().unwrap();
            prop_assert_eq!(got.len(), s.len());
            for (g, w) in got.iter().zip(s.iter()) {
                prop_assert_eq!(g.t, w.0);
                prop_assert!(same(g.v, w.1));
            }
        }
    }
}
