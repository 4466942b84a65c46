//! The block `index` file: TOC, symbols, series, postings and the postings
//! offset table (format versions 1 and 2; we write 2).

mod header;
mod postings;
mod reader;
mod writer;

pub use header::{IndexHeader, PostingOffsets, Symbols};
pub use postings::{intersect, merge, without};
pub use reader::{ChunkMeta, IndexReader, SeriesEntry};
pub use writer::IndexWriter;

use bytes::Bytes;

use crate::source::ByteSource;
use crate::varint::{Cursor, crc32};
use crate::{Error, Result};

pub const MAGIC_INDEX: u32 = 0xBAAA_D700;
pub const FORMAT_V1: u8 = 1;
pub const FORMAT_V2: u8 = 2;
pub const HEADER_LEN: u64 = 5;
pub const TOC_LEN: u64 = 6 * 8 + 4;
/// Series entries are aligned to 16 bytes; a v2 series ID is offset / 16.
pub const SERIES_ALIGN: u64 = 16;

/// The table of contents at the end of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Toc {
    pub symbols: u64,
    pub series: u64,
    pub label_indices: u64,
    pub label_indices_table: u64,
    pub postings: u64,
    pub postings_table: u64,
}

impl Toc {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(TOC_LEN as usize);
        for v in [
            self.symbols,
            self.series,
            self.label_indices,
            self.label_indices_table,
            self.postings,
            self.postings_table,
        ] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        let c = crc32(&b);
        b.extend_from_slice(&c.to_be_bytes());
        b
    }

    pub fn decode(b: &[u8], file: &str, off: u64) -> Result<Self> {
        let mut c = Cursor::new(b, file, off);
        let content = c.bytes(48)?;
        let stored = c.be_u32()?;
        let computed = crc32(content);
        if stored != computed {
            return Err(Error::Checksum {
                file: file.into(),
                offset: off,
                stored,
                computed,
            });
        }
        let mut c = Cursor::new(content, file, off);
        Ok(Self {
            symbols: c.be_u64()?,
            series: c.be_u64()?,
            label_indices: c.be_u64()?,
            label_indices_table: c.be_u64()?,
            postings: c.be_u64()?,
            postings_table: c.be_u64()?,
        })
    }
}

/// Reads and validates the index header; returns the format version.
pub fn read_version(src: &dyn ByteSource) -> Result<u8> {
    if src.len() < HEADER_LEN + TOC_LEN {
        return Err(Error::corrupt(
            src.name(),
            0,
            format!("index too short ({} bytes)", src.len()),
        ));
    }
    let h = src.read_range(0, HEADER_LEN)?;
    let magic = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    if magic != MAGIC_INDEX {
        return Err(Error::corrupt(
            src.name(),
            0,
            format!("invalid magic number {magic:#010x}"),
        ));
    }
    match h[4] {
        1..=3 => Ok(h[4]),
        v => Err(Error::corrupt(
            src.name(),
            4,
            format!("unknown index format version {v}"),
        )),
    }
}

pub fn read_toc(src: &dyn ByteSource) -> Result<Toc> {
    let off = src.len() - TOC_LEN;
    let b = src.read_range(off, TOC_LEN)?;
    let toc = Toc::decode(&b, src.name(), off)?;
    for (what, v) in [
        ("symbols", toc.symbols),
        ("series", toc.series),
        ("postings", toc.postings),
        ("postings table", toc.postings_table),
    ] {
        if v > off {
            return Err(Error::corrupt(
                src.name(),
                off,
                format!("toc {what} offset {v} beyond toc"),
            ));
        }
    }
    Ok(toc)
}

/// Reads a `len(4) | content | crc32(content)` section at `off` and returns
/// the content after verifying the checksum.
pub fn read_section(src: &dyn ByteSource, off: u64) -> Result<Bytes> {
    let l = src.read_range(off, 4)?;
    let len = u64::from(u32::from_be_bytes([l[0], l[1], l[2], l[3]]));
    let b = src.read_range(off + 4, len + 4)?;
    check_section(&b, src.name(), off)
}

/// Verifies `content | crc32` (as read after a len field at `off`).
pub(crate) fn check_section(b: &Bytes, file: &str, off: u64) -> Result<Bytes> {
    if b.len() < 4 {
        return Err(Error::corrupt(
            file,
            off,
            "section shorter than its checksum",
        ));
    }
    let n = b.len() - 4;
    let stored = u32::from_be_bytes([b[n], b[n + 1], b[n + 2], b[n + 3]]);
    let computed = crc32(&b[..n]);
    if stored != computed {
        return Err(Error::Checksum {
            file: file.into(),
            offset: off,
            stored,
            computed,
        });
    }
    Ok(b.slice(..n))
}

#[cfg(test)]
mod tests;
