//! Go `encoding/binary` varints and a bounds-checked big-endian cursor.

use crate::{Error, Result};

/// Maximum encoded length of a 64-bit varint.
pub const MAX_VARINT_LEN64: usize = 10;

/// Appends `v` as a Go uvarint (LEB128).
pub fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends `v` as a Go varint (zig-zag then LEB128).
pub fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Number of bytes `put_uvarint` writes for `v`.
pub fn uvarint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Decodes a Go uvarint: `Some((value, bytes_read))`, `None` if truncated
/// or overflowing 64 bits.
pub fn uvarint(buf: &[u8]) -> Option<(u64, usize)> {
    let mut x: u64 = 0;
    let mut s: u32 = 0;
    for (i, &b) in buf.iter().enumerate() {
        if i == MAX_VARINT_LEN64 {
            return None;
        }
        if b < 0x80 {
            if i == MAX_VARINT_LEN64 - 1 && b > 1 {
                return None;
            }
            return Some((x | (u64::from(b) << s), i + 1));
        }
        x |= u64::from(b & 0x7f) << s;
        s += 7;
    }
    None
}

/// Decodes a Go varint (zig-zag).
pub fn varint(buf: &[u8]) -> Option<(i64, usize)> {
    let (ux, n) = uvarint(buf)?;
    let mut x = (ux >> 1) as i64;
    if ux & 1 != 0 {
        x = !x;
    }
    Some((x, n))
}

/// A bounds-checked reader over a byte slice that reports corrupt input as
/// [`Error::Corrupt`] naming `file` and the absolute offset.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    file: &'a str,
    base: u64,
}

impl<'a> Cursor<'a> {
    /// `base` is the absolute file offset of `buf[0]`, used in errors.
    pub fn new(buf: &'a [u8], file: &'a str, base: u64) -> Self {
        Self {
            buf,
            pos: 0,
            file,
            base,
        }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn err(&self, reason: impl Into<String>) -> Error {
        Error::corrupt(self.file, self.offset(), reason)
    }

    /// A corruption error at absolute offset `at` of this cursor's file.
    pub fn err_at(&self, at: u64, reason: impl Into<String>) -> Error {
        Error::corrupt(self.file, at, reason)
    }

    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.bytes(n).map(|_| ())
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(self.err(format!(
                "truncated: need {n} bytes, have {}",
                self.remaining()
            )));
        }
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    pub fn be_u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn be_u64(&mut self) -> Result<u64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    pub fn uvarint(&mut self) -> Result<u64> {
        match uvarint(&self.buf[self.pos..]) {
            Some((v, n)) => {
                self.pos += n;
                Ok(v)
            }
            None => Err(self.err("invalid or truncated uvarint")),
        }
    }

    pub fn uvarint32(&mut self) -> Result<u32> {
        let v = self.uvarint()?;
        u32::try_from(v).map_err(|_| self.err(format!("uvarint {v} overflows 32 bits")))
    }

    pub fn varint(&mut self) -> Result<i64> {
        match varint(&self.buf[self.pos..]) {
            Some((v, n)) => {
                self.pos += n;
                Ok(v)
            }
            None => Err(self.err("invalid or truncated varint")),
        }
    }

    /// A uvarint length followed by that many bytes of UTF-8.
    pub fn uvarint_str(&mut self) -> Result<&'a str> {
        let n = self.uvarint()?;
        let n = usize::try_from(n).map_err(|_| self.err("string length overflows"))?;
        let at = self.offset();
        let b = self.bytes(n)?;
        std::str::from_utf8(b)
            .map_err(|e| Error::corrupt(self.file, at, format!("invalid utf-8 string: {e}")))
    }
}

/// CRC32-Castagnoli as used everywhere in TSDB files.
pub fn crc32(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn uvarint_round_trip(v in any::<u64>()) {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            prop_assert_eq!(b.len(), uvarint_len(v));
            prop_assert_eq!(uvarint(&b), Some((v, b.len())));
        }

        #[test]
        fn varint_round_trip(v in any::<i64>()) {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            prop_assert_eq!(varint(&b), Some((v, b.len())));
        }
    }

    #[test]
    fn go_reference_encodings() {
        let mut b = Vec::new();
        put_varint(&mut b, -1);
        assert_eq!(b, [1]);
        b.clear();
        put_uvarint(&mut b, 300);
        assert_eq!(b, [0xac, 0x02]);
    }

    #[test]
    fn truncated_and_overflowing_uvarints_are_rejected() {
        assert_eq!(uvarint(&[0x80]), None);
        assert_eq!(uvarint(&[0xff; 10]), None);
        assert_eq!(
            uvarint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]),
            None
        );
        let mut c = Cursor::new(&[0x80], "f", 100);
        let e = c.uvarint().unwrap_err();
        assert!(matches!(e, Error::Corrupt { offset: 100, .. }), "{e}");
    }

    #[test]
    fn cursor_reports_absolute_offset_on_truncation() {
        let mut c = Cursor::new(&[0, 0, 0, 1, 9], "blk/index", 40);
        assert_eq!(c.be_u32().unwrap(), 1);
        let e = c.be_u32().unwrap_err();
        assert_eq!(
            e.to_string(),
            "corrupt blk/index at offset 44: truncated: need 4 bytes, have 1"
        );
    }
}
