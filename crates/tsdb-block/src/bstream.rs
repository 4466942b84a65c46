//! MSB-first bit streams as used by Prometheus chunk encodings.

/// Appends bits MSB-first; the unused low bits of the last byte stay zero,
/// which gives exactly the padding Prometheus writes.
#[derive(Debug, Clone, Default)]
pub struct BitWriter {
    stream: Vec<u8>,
    /// Free bits in the last byte (0 = a new byte is needed).
    count: u8,
}

impl BitWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts from existing fully-written bytes (e.g. a 2-byte header).
    pub fn with_bytes(stream: Vec<u8>) -> Self {
        Self { stream, count: 0 }
    }

    #[inline]
    pub fn write_bit(&mut self, bit: bool) {
        if self.count == 0 {
            self.stream.push(0);
            self.count = 8;
        }
        if bit && let Some(last) = self.stream.last_mut() {
            *last |= 1 << (self.count - 1);
        }
        self.count -= 1;
    }

    /// Writes the low `nbits` bits of `v` (0..=64).
    #[inline]
    pub fn write_bits(&mut self, v: u64, nbits: u32) {
        if nbits == 0 {
            return;
        }
        let v = if nbits >= 64 {
            v
        } else {
            v & ((1u64 << nbits) - 1)
        };
        let mut n = nbits.min(64);
        if self.count > 0 {
            let k = n.min(u32::from(self.count));
            let chunk = ((v >> (n - k)) & ((1u64 << k) - 1)) as u8;
            if let Some(last) = self.stream.last_mut() {
                *last |= chunk << (u32::from(self.count) - k);
            }
            self.count -= k as u8;
            n -= k;
        }
        while n >= 8 {
            n -= 8;
            self.stream.push((v >> n) as u8);
        }
        if n > 0 {
            self.stream.push((v << (8 - n)) as u8);
            self.count = (8 - n) as u8;
        }
    }

    pub fn write_byte(&mut self, b: u8) {
        self.write_bits(u64::from(b), 8);
    }

    pub fn bytes(&self) -> &[u8] {
        &self.stream
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.stream
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.stream
    }

    /// Total bits written.
    pub fn bit_len(&self) -> u64 {
        self.stream.len() as u64 * 8 - u64::from(self.count)
    }
}

/// Reads bits MSB-first with 64-bit buffered loads.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    end: usize,
}

/// Reading past the end of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eof;

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            end: data.len() * 8,
        }
    }

    /// Bit position from the start of the data.
    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.end);
    }

    pub fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    /// Advances without a bounds check. Reads past the end see zero bits,
    /// so a decoder may run ahead and check [`BitReader::overrun`] once per
    /// decoded item instead of on every field.
    #[inline(always)]
    pub fn advance(&mut self, n: usize) {
        self.pos += n;
    }

    /// Whether the position has moved past the end of the stream.
    #[inline(always)]
    pub fn overrun(&self) -> bool {
        self.pos > self.end
    }

    /// The bits at the position left-aligned in a u64 (zero past the end),
    /// of which the top `64 - (pos % 8)` (at least 57) are valid, with that
    /// count. One unaligned load; cheaper than [`BitReader::peek64`].
    #[inline(always)]
    pub fn peek57(&self) -> (u64, u32) {
        let sh = (self.pos & 7) as u32;
        (self.load(self.pos >> 3) << sh, 64 - sh)
    }

    #[inline(always)]
    fn load(&self, byte: usize) -> u64 {
        if byte + 8 <= self.data.len() {
            let mut a = [0u8; 8];
            a.copy_from_slice(&self.data[byte..byte + 8]);
            u64::from_be_bytes(a)
        } else {
            let mut a = [0u8; 8];
            if byte < self.data.len() {
                let n = self.data.len() - byte;
                a[..n].copy_from_slice(&self.data[byte..]);
            }
            u64::from_be_bytes(a)
        }
    }

    /// The next 64 bits (zero-padded past the end), without consuming.
    #[inline(always)]
    pub fn peek64(&self) -> u64 {
        let byte = self.pos >> 3;
        let sh = (self.pos & 7) as u32;
        let w = self.load(byte);
        if sh == 0 {
            w
        } else {
            let next = self.data.get(byte + 8).copied().unwrap_or(0);
            (w << sh) | (u64::from(next) >> (8 - sh))
        }
    }

    #[inline]
    pub fn consume(&mut self, n: usize) -> Result<(), Eof> {
        if self.end - self.pos < n {
            return Err(Eof);
        }
        self.pos += n;
        Ok(())
    }

    #[inline]
    pub fn read_bit(&mut self) -> Result<bool, Eof> {
        if self.pos >= self.end {
            return Err(Eof);
        }
        let b = self.data[self.pos >> 3] & (0x80 >> (self.pos & 7)) != 0;
        self.pos += 1;
        Ok(b)
    }

    /// Reads `n` bits (0..=64) as an unsigned integer.
    #[inline]
    pub fn read_bits(&mut self, n: u32) -> Result<u64, Eof> {
        if n == 0 {
            return Ok(0);
        }
        if self.end - self.pos < n as usize {
            return Err(Eof);
        }
        let v = self.peek64() >> (64 - n);
        self.pos += n as usize;
        Ok(v)
    }

    pub fn read_byte(&mut self) -> Result<u8, Eof> {
        self.read_bits(8).map(|v| v as u8)
    }

    /// A Go uvarint read byte by byte from the bit stream.
    pub fn read_uvarint(&mut self) -> Result<Option<u64>, Eof> {
        let mut x: u64 = 0;
        let mut s = 0u32;
        for i in 0..crate::varint::MAX_VARINT_LEN64 {
            let b = self.read_byte()?;
            if b < 0x80 {
                if i == crate::varint::MAX_VARINT_LEN64 - 1 && b > 1 {
                    return Ok(None);
                }
                return Ok(Some(x | (u64::from(b) << s)));
            }
            x |= u64::from(b & 0x7f) << s;
            s += 7;
        }
        Ok(None)
    }

    /// A Go varint (zig-zag) read byte by byte.
    pub fn read_varint(&mut self) -> Result<Option<i64>, Eof> {
        Ok(self.read_uvarint()?.map(|ux| {
            let x = (ux >> 1) as i64;
            if ux & 1 != 0 { !x } else { x }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn bits_round_trip(items in proptest::collection::vec((any::<u64>(), 0u32..=64), 0..64)) {
            let mut w = BitWriter::new();
            for &(v, n) in &items {
                w.write_bits(v, n);
            }
            let total: u64 = items.iter().map(|&(_, n)| u64::from(n)).sum();
            prop_assert_eq!(w.bit_len(), total);
            let bytes = w.into_bytes();
            let mut r = BitReader::new(&bytes);
            for &(v, n) in &items {
                let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
                prop_assert_eq!(r.read_bits(n).unwrap(), v & mask);
            }
        }
    }

    #[test]
    fn reading_past_end_fails() {
        let mut r = BitReader::new(&[0xff]);
        assert_eq!(r.read_bits(7), Ok(0x7f));
        assert_eq!(r.read_bit(), Ok(true));
        assert_eq!(r.read_bit(), Err(Eof));
        assert_eq!(r.read_bits(3), Err(Eof));
    }
}
