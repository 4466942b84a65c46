//! The per-block minimum a server keeps in memory: symbols and the postings
//! offset table, built from three ranged reads of `index` (TOC → symbols →
//! postings offset table) and optionally persisted as a local file.
//!
//! Both tables are kept as their raw bytes. The postings offset table is
//! sampled like Prometheus's reader and Thanos's index-header (every 32nd
//! value of each label name and its last value; a lookup binary-searches
//! the samples and decodes at most 32 entries); symbols keep a 4-byte
//! position each. For 100k distinct values of 8 bytes this is about 32
//! bytes per value (the raw tables are 26) instead of 118 with every entry
//! parsed (`examples/header_mem.rs`).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;

use bytes::Bytes;

use super::{FORMAT_V1, Toc, read_section, read_toc, read_version};
use crate::source::ByteSource;
use crate::varint::{Cursor, crc32};
use crate::{Error, Result};

/// Every how many postings offset entries of a label name one is kept in
/// memory; lookups scan forward from the closest sample (as Prometheus's
/// reader and Thanos's index-header do).
pub(super) const SAMPLE_EVERY: usize = 32;

/// The symbol table of an index: the raw section plus the position of each
/// symbol (4 bytes per symbol), so resolving a reference, which decoding
/// every series label needs, is one jump (sampling every 32nd symbol as
/// Prometheus does made series lookups 2.5 times slower).
#[derive(Debug, Clone, Default)]
pub struct Symbols {
    /// Section content: `count(4) | count × (uvarint len, bytes)`.
    raw: Bytes,
    count: u32,
    /// Position in `raw` of each symbol.
    positions: Vec<u32>,
    /// v1 only: absolute file offset of a symbol → its ordinal.
    v1_offsets: Option<HashMap<u64, u32>>,
    file: String,
}

impl Symbols {
    /// Parses and validates the symbol section content (after its len
    /// field, without CRC) starting at absolute offset `content_off`.
    pub fn parse(content: Bytes, file: &str, content_off: u64, version: u8) -> Result<Self> {
        let mut c = Cursor::new(&content, file, content_off);
        let n = c.be_u32()?;
        let mut positions = Vec::with_capacity((n as usize).min(content.len()));
        let mut v1 = (version == FORMAT_V1).then(HashMap::new);
        for i in 0..n {
            let pos = u32::try_from(c.pos()).map_err(|_| c.err("symbol table exceeds 4 GiB"))?;
            positions.push(pos);
            if let Some(m) = v1.as_mut() {
                m.insert(c.offset(), i);
            }
            c.uvarint_str()?;
        }
        Ok(Self {
            raw: content,
            count: n,
            positions,
            v1_offsets: v1,
            file: file.into(),
        })
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// All symbols in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let mut c = Cursor::new(&self.raw, &self.file, 0);
        let _ = c.be_u32();
        (0..self.count).map_while(move |_| c.uvarint_str().ok())
    }

    /// The symbol with ordinal `i` (validated at parse time).
    fn nth(&self, i: usize) -> Option<&str> {
        let start = *self.positions.get(i)? as usize;
        Cursor::new(self.raw.get(start..)?, &self.file, 0)
            .uvarint_str()
            .ok()
    }

    /// Resolves a symbol reference as stored in series entries.
    pub fn lookup(&self, r: u64) -> Result<&str> {
        let idx = match &self.v1_offsets {
            Some(m) => m.get(&r).map(|&i| i as usize),
            None => usize::try_from(r).ok(),
        };
        idx.and_then(|i| self.nth(i))
            .ok_or_else(|| Error::OutOfRange {
                file: self.file.clone(),
                reference: r,
                reason: format!("symbol reference not in table of {} symbols", self.count),
            })
    }
}

/// One postings list location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingsRange {
    pub value: String,
    /// Absolute offset of the list's `len` field.
    pub start: u64,
    /// Upper bound of the list's bytes (start of the next list or section).
    pub end: u64,
}

/// The sampled entries of one label name in the postings offset table.
#[derive(Debug, Clone)]
struct NameOffsets {
    name: String,
    /// `(value, position in the raw table)` of the name's entries 0, 32,
    /// 64, ... and of its last entry.
    samples: Vec<(String, usize)>,
    /// Position in the raw table just after the name's last entry.
    end: usize,
}

/// The postings offset table: the raw table plus, per label name, every
/// [`SAMPLE_EVERY`]th value (and the last) with its position; a lookup
/// binary-searches the samples and scans at most `SAMPLE_EVERY` entries.
#[derive(Debug, Clone, Default)]
pub struct PostingOffsets {
    /// Table content: `count(4) | count × entry`.
    raw: Bytes,
    names: Vec<NameOffsets>,
    entries: usize,
    postings_end: u64,
}

impl PostingOffsets {
    /// Parses and validates the table content (after its len field, without
    /// CRC) at absolute offset `content_off`. Entries must be sorted by
    /// name then value, with increasing offsets, as Prometheus writes them.
    pub fn parse(content: Bytes, file: &str, content_off: u64, postings_end: u64) -> Result<Self> {
        let mut c = Cursor::new(&content, file, content_off);
        let n = c.be_u32()?;
        let mut names: Vec<NameOffsets> = Vec::new();
        let mut prev: Option<(&str, u64)> = None;
        let mut in_name = 0usize;
        let mut last: (String, usize) = (String::new(), 0);
        for _ in 0..n {
            let pos = c.pos();
            let at = c.offset();
            let (name, value, off) = read_entry(&mut c)?;
            if let Some((_, prev_off)) = prev
                && off < prev_off
            {
                return Err(Error::corrupt(
                    file,
                    at,
                    format!("postings offsets not increasing at {off}"),
                ));
            }
            if off > postings_end {
                return Err(Error::corrupt(
                    file,
                    at,
                    format!("postings offset {off} beyond the postings section"),
                ));
            }
            let new_name = names.last().is_none_or(|l| l.name != name);
            if new_name {
                if let Some(l) = names.last_mut() {
                    if name < l.name.as_str() {
                        return Err(Error::corrupt(
                            file,
                            at,
                            format!("postings offset table not sorted at label {name:?}"),
                        ));
                    }
                    if in_name % SAMPLE_EVERY != 1 {
                        l.samples.push(std::mem::take(&mut last));
                    }
                }
                names.push(NameOffsets {
                    name: name.to_string(),
                    samples: Vec::new(),
                    end: 0,
                });
                in_name = 0;
            } else if prev.is_some_and(|(v, _)| value <= v) {
                return Err(Error::corrupt(
                    file,
                    at,
                    format!("postings offset table not sorted at {name}={value:?}"),
                ));
            }
            let Some(cur) = names.last_mut() else {
                return Err(Error::corrupt(file, at, "postings offset table state"));
            };
            if in_name.is_multiple_of(SAMPLE_EVERY) {
                cur.samples.push((value.to_string(), pos));
            } else {
                last = (value.to_string(), pos);
            }
            in_name += 1;
            cur.end = c.pos();
            prev = Some((value, off));
        }
        if let Some(l) = names.last_mut()
            && in_name % SAMPLE_EVERY != 1
        {
            l.samples.push(last);
        }
        Ok(Self {
            raw: content,
            names,
            entries: n as usize,
            postings_end,
        })
    }

    /// The entry at `pos` (validated at parse time) and the position after it.
    fn entry_at(&self, pos: usize) -> Option<(&str, u64, usize)> {
        let mut c = Cursor::new(self.raw.get(pos..)?, "", 0);
        let (_, value, off) = read_entry(&mut c).ok()?;
        Some((value, off, pos + c.pos()))
    }

    /// End of the postings list whose entry is followed by position `next`.
    fn range_end(&self, next: usize) -> u64 {
        if next < self.raw.len() {
            self.entry_at(next).map_or(self.postings_end, |e| e.1)
        } else {
            self.postings_end
        }
    }

    fn name(&self, name: &str) -> Option<&NameOffsets> {
        self.names
            .binary_search_by(|n| n.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.names[i])
    }

    /// Label names (excluding the all-postings key `""`).
    pub fn label_names(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .map(|n| n.name.as_str())
            .filter(|n| !n.is_empty())
    }

    /// Sorted values of a label name with their postings ranges.
    pub fn values(&self, name: &str) -> Vec<PostingsRange> {
        let Some(n) = self.name(name) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut pos = n.samples.first().map_or(n.end, |s| s.1);
        while pos < n.end {
            let Some((value, start, next)) = self.entry_at(pos) else {
                break;
            };
            out.push(PostingsRange {
                value: value.to_string(),
                start,
                end: self.range_end(next),
            });
            pos = next;
        }
        out
    }

    pub fn get(&self, name: &str, value: &str) -> Option<PostingsRange> {
        let n = self.name(name)?;
        let i = n.samples.partition_point(|s| s.0.as_str() <= value);
        let mut pos = n.samples.get(i.checked_sub(1)?)?.1;
        while pos < n.end {
            let (v, start, next) = self.entry_at(pos)?;
            match v.cmp(value) {
                std::cmp::Ordering::Less => pos = next,
                std::cmp::Ordering::Equal => {
                    return Some(PostingsRange {
                        value: v.to_string(),
                        start,
                        end: self.range_end(next),
                    });
                }
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }

    /// Number of entries in the table (all-postings key included).
    pub fn num_entries(&self) -> usize {
        self.entries
    }

    /// Number of entries kept in memory as samples.
    pub fn num_samples(&self) -> usize {
        self.names.iter().map(|n| n.samples.len()).sum()
    }
}

/// One postings offset table entry: `n=2 | name | value | offset`.
fn read_entry<'a>(c: &mut Cursor<'a>) -> Result<(&'a str, &'a str, u64)> {
    let at = c.offset();
    let k = c.uvarint()?;
    if k != 2 {
        return Err(c.err_at(
            at,
            format!("unexpected number of keys {k} in postings offset table"),
        ));
    }
    let name = c.uvarint_str()?;
    let value = c.uvarint_str()?;
    let off = c.uvarint()?;
    Ok((name, value, off))
}

const HEADER_MAGIC: u32 = 0xBAAA_D792;
const HEADER_VERSION: u8 = 1;

/// Symbols + postings offsets + TOC of one index.
#[derive(Debug, Clone)]
pub struct IndexHeader {
    pub version: u8,
    pub toc: Toc,
    pub index_len: u64,
    pub symbols: Symbols,
    pub postings: PostingOffsets,
    raw_symbols: Bytes,
    raw_postings_table: Bytes,
}

impl IndexHeader {
    /// Builds the header from ranged reads of the index.
    pub fn build(src: &dyn ByteSource) -> Result<Self> {
        let version = read_version(src)?;
        let toc = read_toc(src)?;
        let raw_symbols = if toc.symbols == 0 {
            Bytes::from_static(&[0, 0, 0, 0])
        } else {
            read_section(src, toc.symbols)?
        };
        let raw_postings_table = if toc.postings_table == 0 {
            Bytes::from_static(&[0, 0, 0, 0])
        } else {
            read_section(src, toc.postings_table)?
        };
        Self::from_parts(
            src.name(),
            version,
            toc,
            src.len(),
            raw_symbols,
            raw_postings_table,
        )
    }

    fn from_parts(
        file: &str,
        version: u8,
        toc: Toc,
        index_len: u64,
        raw_symbols: Bytes,
        raw_postings_table: Bytes,
    ) -> Result<Self> {
        let symbols = Symbols::parse(raw_symbols.clone(), file, toc.symbols + 4, version)?;
        let postings_end = if toc.label_indices_table > toc.postings {
            toc.label_indices_table
        } else {
            toc.postings_table
        };
        let postings = PostingOffsets::parse(
            raw_postings_table.clone(),
            file,
            toc.postings_table + 4,
            postings_end,
        )?;
        Ok(Self {
            version,
            toc,
            index_len,
            symbols,
            postings,
            raw_symbols,
            raw_postings_table,
        })
    }

    /// Serializes to the local index-header file format.
    pub fn encode(&self) -> Vec<u8> {
        let mut b =
            Vec::with_capacity(self.raw_symbols.len() + self.raw_postings_table.len() + 100);
        b.extend_from_slice(&HEADER_MAGIC.to_be_bytes());
        b.push(HEADER_VERSION);
        b.push(self.version);
        b.extend_from_slice(&self.index_len.to_be_bytes());
        b.extend_from_slice(&self.toc.encode());
        for part in [&self.raw_symbols, &self.raw_postings_table] {
            b.extend_from_slice(&(part.len() as u64).to_be_bytes());
            b.extend_from_slice(part);
        }
        let c = crc32(&b);
        b.extend_from_slice(&c.to_be_bytes());
        b
    }

    /// Parses a local index-header file.
    pub fn decode(data: &[u8], file: &str) -> Result<Self> {
        if data.len() < 4 {
            return Err(Error::corrupt(file, 0, "index-header too short"));
        }
        let (body, sum) = data.split_at(data.len() - 4);
        let stored = u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]]);
        let computed = crc32(body);
        if stored != computed {
            return Err(Error::Checksum {
                file: file.into(),
                offset: body.len() as u64,
                stored,
                computed,
            });
        }
        let mut c = Cursor::new(body, file, 0);
        if c.be_u32()? != HEADER_MAGIC {
            return Err(Error::corrupt(file, 0, "invalid index-header magic"));
        }
        if c.u8()? != HEADER_VERSION {
            return Err(Error::corrupt(file, 4, "unknown index-header version"));
        }
        let version = c.u8()?;
        let index_len = c.be_u64()?;
        let at = c.offset();
        let toc = super::Toc::decode(c.bytes(super::TOC_LEN as usize)?, file, at)?;
        let n = c.be_u64()? as usize;
        let sym = Bytes::copy_from_slice(c.bytes(n)?);
        let n = c.be_u64()? as usize;
        let pt = Bytes::copy_from_slice(c.bytes(n)?);
        Self::from_parts(file, version, toc, index_len, sym, pt)
    }

    /// Loads `path` if it is a valid header for an index of `src.len()`
    /// bytes; otherwise (missing, corrupt, stale) rebuilds it from `src` and
    /// rewrites the file atomically.
    pub fn load_or_build(path: &Path, src: &dyn ByteSource) -> Result<Self> {
        if let Ok(data) = std::fs::read(path)
            && let Ok(h) = Self::decode(&data, &path.display().to_string())
            && h.index_len == src.len()
        {
            return Ok(h);
        }
        let h = Self::build(src)?;
        let tmp = path.with_extension("tmp");
        {
            let mut f = std::fs::File::create(&tmp).map_err(|e| Error::write(&tmp, e))?;
            f.write_all(&h.encode())
                .map_err(|e| Error::write(&tmp, e))?;
            f.sync_all().map_err(|e| Error::write(&tmp, e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| Error::write(path, e))?;
        Ok(h)
    }
}
