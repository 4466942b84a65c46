//! A small Prometheus XOR chunk encoder/decoder for tests and the reference
//! store (Gorilla-style; COMPAT-NOTES §4.5): 2-byte big-endian sample count,
//! first timestamp as signed varint and value as 64 raw bits, second
//! timestamp delta as unsigned varint, then delta-of-delta timestamps in
//! buckets of 14/17/20/64 bits and XOR-compressed values.

use aeon_model::Sample;
use bytes::Bytes;

#[derive(Default)]
struct BitWriter {
    buf: Vec<u8>,
    /// Free bits in the last byte (0 = need a new byte).
    free: u8,
}

impl BitWriter {
    fn bit(&mut self, b: bool) {
        if self.free == 0 {
            self.buf.push(0);
            self.free = 8;
        }
        if b && let Some(last) = self.buf.last_mut() {
            *last |= 1 << (self.free - 1);
        }
        self.free -= 1;
    }

    fn bits(&mut self, v: u64, n: u32) {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1 == 1);
        }
    }

    fn byte(&mut self, b: u8) {
        self.bits(u64::from(b), 8);
    }
}

struct BitReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn bit(&mut self) -> Option<bool> {
        let byte = *self.buf.get(self.pos / 8)?;
        let b = (byte >> (7 - (self.pos % 8))) & 1 == 1;
        self.pos += 1;
        Some(b)
    }

    fn bits(&mut self, n: u32) -> Option<u64> {
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit()?);
        }
        Some(v)
    }

    fn byte(&mut self) -> Option<u8> {
        self.bits(8).map(|b| b as u8)
    }

    fn uvarint(&mut self) -> Option<u64> {
        let mut x = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            x |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(x);
            }
        }
        None
    }

    fn varint(&mut self) -> Option<i64> {
        let u = self.uvarint()?;
        Some(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
}

fn put_uvarint(w: &mut BitWriter, mut x: u64) {
    while x >= 0x80 {
        w.byte((x as u8) | 0x80);
        x >>= 7;
    }
    w.byte(x as u8);
}

fn put_varint(w: &mut BitWriter, x: i64) {
    put_uvarint(w, ((x << 1) ^ (x >> 63)) as u64);
}

fn bit_range(x: i64, nbits: u32) -> bool {
    -((1i64 << (nbits - 1)) - 1) <= x && x <= 1i64 << (nbits - 1)
}

/// Encodes samples (at most 65535, timestamps ascending) as one XOR chunk.
pub fn encode_xor(samples: &[Sample]) -> Bytes {
    let mut w = BitWriter::default();
    let n = samples.len().min(usize::from(u16::MAX)) as u16;
    w.bits(u64::from(n), 16);
    let (mut t_prev, mut v_prev, mut delta_prev) = (0i64, 0u64, 0u64);
    let (mut leading, mut trailing) = (0xffu8, 0u8);
    for (i, s) in samples.iter().take(usize::from(n)).enumerate() {
        let v = s.v.to_bits();
        match i {
            0 => {
                put_varint(&mut w, s.t);
                w.bits(v, 64);
            }
            _ => {
                let delta = s.t.wrapping_sub(t_prev) as u64;
                if i == 1 {
                    put_uvarint(&mut w, delta);
                } else {
                    let dod = delta.wrapping_sub(delta_prev) as i64;
                    if dod == 0 {
                        w.bit(false);
                    } else if bit_range(dod, 14) {
                        w.bits(0b10, 2);
                        w.bits(dod as u64, 14);
                    } else if bit_range(dod, 17) {
                        w.bits(0b110, 3);
                        w.bits(dod as u64, 17);
                    } else if bit_range(dod, 20) {
                        w.bits(0b1110, 4);
                        w.bits(dod as u64, 20);
                    } else {
                        w.bits(0b1111, 4);
                        w.bits(dod as u64, 64);
                    }
                }
                delta_prev = delta;
                let x = v ^ v_prev;
                if x == 0 {
                    w.bit(false);
                } else {
                    w.bit(true);
                    let lz = (x.leading_zeros() as u8).min(31);
                    let tz = x.trailing_zeros() as u8;
                    if leading != 0xff && lz >= leading && tz >= trailing {
                        w.bit(false);
                        w.bits(x >> trailing, 64 - u32::from(leading) - u32::from(trailing));
                    } else {
                        leading = lz;
                        trailing = tz;
                        w.bit(true);
                        w.bits(u64::from(lz), 5);
                        let sig = 64 - u32::from(lz) - u32::from(tz);
                        // 64 significant bits are written as 0 in 6 bits.
                        w.bits(u64::from(sig) & 0x3f, 6);
                        w.bits(x >> tz, sig);
                    }
                }
            }
        }
        t_prev = s.t;
        v_prev = v;
    }
    Bytes::from(w.buf)
}

/// Decodes an XOR chunk; `None` if the bytes are truncated or malformed.
pub fn decode_xor(data: &[u8]) -> Option<Vec<Sample>> {
    let mut r = BitReader { buf: data, pos: 0 };
    let n = r.bits(16)? as usize;
    let mut out = Vec::with_capacity(n);
    let (mut t, mut v, mut delta) = (0i64, 0u64, 0i64);
    let (mut leading, mut trailing) = (0u32, 0u32);
    for i in 0..n {
        match i {
            0 => {
                t = r.varint()?;
                v = r.bits(64)?;
            }
            _ => {
                if i == 1 {
                    delta = r.uvarint()? as i64;
                } else {
                    let mut ones = 0;
                    while ones < 4 && r.bit()? {
                        ones += 1;
                    }
                    let sz = [0u32, 14, 17, 20, 64][ones];
                    let mut dod = r.bits(sz)? as i64;
                    if sz != 0 && sz != 64 && dod > (1i64 << (sz - 1)) {
                        dod -= 1i64 << sz;
                    }
                    delta = delta.wrapping_add(dod);
                }
                t = t.wrapping_add(delta);
                if r.bit()? {
                    if r.bit()? {
                        leading = r.bits(5)? as u32;
                        let mut sig = r.bits(6)? as u32;
                        if sig == 0 {
                            sig = 64;
                        }
                        trailing = 64u32.checked_sub(leading + sig)?;
                    }
                    let sig = 64 - leading - trailing;
                    v ^= r.bits(sig)? << trailing;
                }
            }
        }
        out.push(Sample {
            t,
            v: f64::from_bits(v),
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_small_chunk() {
        // One sample t=1000 v=1.0: count 0x0001, zigzag varint(1000)=2000 → d0 0f, then 1.0 bits.
        let c = encode_xor(&[Sample { t: 1000, v: 1.0 }]);
        assert_eq!(
            &c[..],
            &[0x00, 0x01, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]
        );
    }

    proptest! {
        #[test]
        fn round_trip(start in -1_000_000i64..2_000_000_000_000, deltas in proptest::collection::vec(0i64..10_000_000, 0..300), vals in proptest::collection::vec(any::<f64>(), 300)) {
            let mut t = start;
            let samples: Vec<Sample> = deltas.iter().enumerate().map(|(i, d)| { t += d; Sample { t, v: vals[i] } }).collect();
            let back = decode_xor(&encode_xor(&samples)).unwrap();
            prop_assert_eq!(back.len(), samples.len());
            for (a, b) in back.iter().zip(&samples) {
                prop_assert_eq!(a.t, b.t);
                prop_assert_eq!(a.v.to_bits(), b.v.to_bits());
            }
        }
    }
}
