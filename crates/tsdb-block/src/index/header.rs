//! The per-block minimum a server keeps in memory: symbols and the postings
//! offset table, built from three ranged reads of `index` (TOC → symbols →
//! postings offset table) and optionally persisted as a local file.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::Path;

use bytes::Bytes;

use super::{FORMAT_V1, Toc, read_section, read_toc, read_version};
use crate::source::ByteSource;
use crate::varint::{Cursor, crc32};
use crate::{Error, Result};

/// The symbol table of an index.
#[derive(Debug, Clone, Default)]
pub struct Symbols {
    strings: Vec<String>,
    /// v1 only: absolute file offset of a symbol → its ordinal.
    v1_offsets: Option<HashMap<u64, u32>>,
    file: String,
}

impl Symbols {
    /// Parses the symbol section content (after its len field, without CRC)
    /// starting at absolute offset `content_off`.
    pub fn parse(content: &[u8], file: &str, content_off: u64, version: u8) -> Result<Self> {
        let mut c = Cursor::new(content, file, content_off);
        let n = c.be_u32()?;
        let mut strings = Vec::with_capacity((n as usize).min(content.len()));
        let mut v1 = (version == FORMAT_V1).then(HashMap::new);
        for i in 0..n {
            if let Some(m) = v1.as_mut() {
                m.insert(c.offset(), i);
            }
            strings.push(c.uvarint_str()?.to_string());
        }
        Ok(Self {
            strings,
            v1_offsets: v1,
            file: file.into(),
        })
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.strings.iter().map(String::as_str)
    }

    /// Resolves a symbol reference as stored in series entries.
    pub fn lookup(&self, r: u64) -> Result<&str> {
        let idx = match &self.v1_offsets {
            Some(m) => m.get(&r).map(|&i| i as usize),
            None => usize::try_from(r).ok(),
        };
        idx.and_then(|i| self.strings.get(i))
            .map(String::as_str)
            .ok_or_else(|| Error::OutOfRange {
                file: self.file.clone(),
                reference: r,
                reason: format!(
                    "symbol reference not in table of {} symbols",
                    self.strings.len()
                ),
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

/// The postings offset table: every label name → sorted values with the
/// byte range of their postings list.
#[derive(Debug, Clone, Default)]
pub struct PostingOffsets {
    names: BTreeMap<String, Vec<PostingsRange>>,
}

impl PostingOffsets {
    pub fn parse(content: &[u8], file: &str, content_off: u64, postings_end: u64) -> Result<Self> {
        let mut c = Cursor::new(content, file, content_off);
        let n = c.be_u32()?;
        let mut flat: Vec<(String, String, u64)> =
            Vec::with_capacity((n as usize).min(content.len()));
        for _ in 0..n {
            let at = c.offset();
            let k = c.uvarint()?;
            if k != 2 {
                return Err(Error::corrupt(
                    file,
                    at,
                    format!("unexpected number of keys {k} in postings offset table"),
                ));
            }
            let name = c.uvarint_str()?.to_string();
            let value = c.uvarint_str()?.to_string();
            let off = c.uvarint()?;
            flat.push((name, value, off));
        }
        let mut names: BTreeMap<String, Vec<PostingsRange>> = BTreeMap::new();
        for i in 0..flat.len() {
            let end = flat.get(i + 1).map_or(postings_end, |n| n.2);
            let (name, value, start) = &flat[i];
            if end < *start {
                return Err(Error::corrupt(
                    file,
                    content_off,
                    format!("postings offsets not increasing at {start}"),
                ));
            }
            names.entry(name.clone()).or_default().push(PostingsRange {
                value: value.clone(),
                start: *start,
                end,
            });
        }
        for v in names.values_mut() {
            v.sort_by(|a, b| a.value.cmp(&b.value));
        }
        Ok(Self { names })
    }

    /// Label names (excluding the all-postings key `""`).
    pub fn label_names(&self) -> impl Iterator<Item = &str> {
        self.names
            .keys()
            .map(String::as_str)
            .filter(|n| !n.is_empty())
    }

    /// Sorted values of a label name with their postings ranges.
    pub fn values(&self, name: &str) -> &[PostingsRange] {
        self.names.get(name).map_or(&[], Vec::as_slice)
    }

    pub fn get(&self, name: &str, value: &str) -> Option<&PostingsRange> {
        let v = self.values(name);
        v.binary_search_by(|r| r.value.as_str().cmp(value))
            .ok()
            .map(|i| &v[i])
    }

    pub fn num_entries(&self) -> usize {
        self.names.values().map(Vec::len).sum()
    }
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
        let symbols = Symbols::parse(&raw_symbols, file, toc.symbols + 4, version)?;
        let postings_end = if toc.label_indices_table > toc.postings {
            toc.label_indices_table
        } else {
            toc.postings_table
        };
        let postings = PostingOffsets::parse(
            &raw_postings_table,
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
