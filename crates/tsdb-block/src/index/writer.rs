//! Writes an index in format v2, byte-identical to Prometheus's writer:
//! symbols, 16-byte aligned series, label indices, postings, label offset
//! table, postings offset table, TOC.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use aeon_model::Labels;

use super::reader::ChunkMeta;
use super::{FORMAT_V2, MAGIC_INDEX, SERIES_ALIGN, Toc};
use crate::varint::{crc32, put_uvarint, put_varint};
use crate::{Error, Result};

/// Streaming v2 index writer. Series must be added in label order.
#[derive(Debug)]
pub struct IndexWriter {
    w: BufWriter<std::fs::File>,
    path: PathBuf,
    pos: u64,
    toc: Toc,
    symbols: HashMap<String, u32>,
    postings: BTreeMap<String, BTreeMap<String, Vec<u32>>>,
    all: Vec<u32>,
    last: Option<Labels>,
    buf: Vec<u8>,
    series_max_size: u64,
}

impl IndexWriter {
    /// Creates the file and writes the header and symbol table. `symbols`
    /// must contain every label name and value that will be added.
    pub fn create(path: &Path, symbols: impl IntoIterator<Item = String>) -> Result<Self> {
        let f = std::fs::File::create(path).map_err(|e| Error::write(path, e))?;
        let mut me = Self {
            w: BufWriter::with_capacity(1 << 20, f),
            path: path.into(),
            pos: 0,
            toc: Toc::default(),
            symbols: HashMap::new(),
            postings: BTreeMap::new(),
            all: Vec::new(),
            last: None,
            buf: Vec::new(),
            series_max_size: 0,
        };
        let mut h = MAGIC_INDEX.to_be_bytes().to_vec();
        h.push(FORMAT_V2);
        me.write(&h)?;
        let mut syms: Vec<String> = symbols.into_iter().collect();
        syms.sort();
        syms.dedup();
        me.toc.symbols = me.pos;
        let mut b = Vec::new();
        b.extend_from_slice(&(syms.len() as u32).to_be_bytes());
        for s in &syms {
            put_uvarint(&mut b, s.len() as u64);
            b.extend_from_slice(s.as_bytes());
        }
        me.write_section(&b)?;
        for (i, s) in syms.into_iter().enumerate() {
            me.symbols.insert(s, i as u32);
        }
        me.toc.series = me.pos;
        Ok(me)
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        self.w
            .write_all(b)
            .map_err(|e| Error::write(&self.path, e))?;
        self.pos += b.len() as u64;
        Ok(())
    }

    fn pad(&mut self, align: u64) -> Result<()> {
        let p = (align - self.pos % align) % align;
        self.write(&vec![0u8; p as usize])
    }

    /// `len(4) | content | crc32(content)`.
    fn write_section(&mut self, content: &[u8]) -> Result<()> {
        let len = u32::try_from(content.len())
            .map_err(|_| Error::WriteBlock("index section exceeds 4 GiB".into()))?;
        self.write(&len.to_be_bytes())?;
        self.write(content)?;
        self.write(&crc32(content).to_be_bytes())
    }

    fn sym(&self, s: &str) -> Result<u32> {
        self.symbols
            .get(s)
            .copied()
            .ok_or_else(|| Error::WriteBlock(format!("symbol {s:?} missing from symbol table")))
    }

    /// Appends a series; returns its ID (offset / 16).
    pub fn add_series(&mut self, labels: &Labels, chunks: &[ChunkMeta]) -> Result<u32> {
        if let Some(last) = &self.last
            && last >= labels
        {
            return Err(Error::WriteBlock(format!(
                "series {labels} added out of order (after {last})"
            )));
        }
        self.pad(SERIES_ALIGN)?;
        let id = u32::try_from(self.pos / SERIES_ALIGN).map_err(|_| {
            Error::WriteBlock("series section exceeds the 64 GiB index limit".into())
        })?;
        let mut b = std::mem::take(&mut self.buf);
        b.clear();
        put_uvarint(&mut b, labels.len() as u64);
        for l in labels.iter() {
            put_uvarint(&mut b, u64::from(self.sym(&l.name)?));
            put_uvarint(&mut b, u64::from(self.sym(&l.value)?));
        }
        put_uvarint(&mut b, chunks.len() as u64);
        if let Some(c) = chunks.first() {
            put_varint(&mut b, c.min_time);
            put_uvarint(&mut b, c.max_time.wrapping_sub(c.min_time) as u64);
            put_uvarint(&mut b, c.r#ref);
            let (mut t0, mut r0) = (c.max_time, c.r#ref as i64);
            for c in &chunks[1..] {
                put_uvarint(&mut b, c.min_time.wrapping_sub(t0) as u64);
                put_uvarint(&mut b, c.max_time.wrapping_sub(c.min_time) as u64);
                put_varint(&mut b, (c.r#ref as i64).wrapping_sub(r0));
                t0 = c.max_time;
                r0 = c.r#ref as i64;
            }
        }
        let mut head = Vec::with_capacity(10);
        put_uvarint(&mut head, b.len() as u64);
        self.write(&head)?;
        self.write(&b)?;
        self.write(&crc32(&b).to_be_bytes())?;
        self.series_max_size = self.series_max_size.max((head.len() + b.len() + 4) as u64);
        self.buf = b;
        for l in labels.iter() {
            self.postings
                .entry(l.name.clone())
                .or_default()
                .entry(l.value.clone())
                .or_default()
                .push(id);
        }
        self.all.push(id);
        self.last = Some(labels.clone());
        Ok(id)
    }

    /// Largest series entry written so far (bytes incl. length and CRC);
    /// Thanos's `index_stats.series_max_size`.
    pub fn series_max_size(&self) -> u64 {
        self.series_max_size
    }

    /// Writes postings, tables and TOC, then fsyncs.
    pub fn finish(mut self) -> Result<()> {
        // Label indices (legacy, still written by Prometheus).
        self.toc.label_indices = self.pos;
        let postings = std::mem::take(&mut self.postings);
        let mut label_index_offsets = Vec::new();
        for (name, values) in &postings {
            self.pad(4)?;
            label_index_offsets.push((name.clone(), self.pos));
            let mut b = Vec::with_capacity(8 + values.len() * 4);
            b.extend_from_slice(&1u32.to_be_bytes());
            b.extend_from_slice(&(values.len() as u32).to_be_bytes());
            for v in values.keys() {
                b.extend_from_slice(&self.sym(v)?.to_be_bytes());
            }
            self.write_section(&b)?;
        }
        // Postings, the all-postings key first.
        self.toc.postings = self.pos;
        let mut offsets: Vec<(String, String, u64)> = Vec::new();
        let all = std::mem::take(&mut self.all);
        let lists = std::iter::once((String::new(), String::new(), &all)).chain(
            postings
                .iter()
                .flat_map(|(n, vs)| vs.iter().map(move |(v, ids)| (n.clone(), v.clone(), ids))),
        );
        for (n, v, ids) in lists {
            self.pad(4)?;
            offsets.push((n, v, self.pos));
            let mut b = Vec::with_capacity(4 + ids.len() * 4);
            b.extend_from_slice(&(ids.len() as u32).to_be_bytes());
            for id in ids {
                b.extend_from_slice(&id.to_be_bytes());
            }
            self.write_section(&b)?;
        }
        // Label offset table.
        self.toc.label_indices_table = self.pos;
        let mut b = Vec::new();
        b.extend_from_slice(&(label_index_offsets.len() as u32).to_be_bytes());
        for (n, off) in &label_index_offsets {
            put_uvarint(&mut b, 1);
            put_uvarint(&mut b, n.len() as u64);
            b.extend_from_slice(n.as_bytes());
            put_uvarint(&mut b, *off);
        }
        self.write_section(&b)?;
        // Postings offset table.
        self.toc.postings_table = self.pos;
        let mut b = Vec::new();
        b.extend_from_slice(&(offsets.len() as u32).to_be_bytes());
        for (n, v, off) in &offsets {
            put_uvarint(&mut b, 2);
            put_uvarint(&mut b, n.len() as u64);
            b.extend_from_slice(n.as_bytes());
            put_uvarint(&mut b, v.len() as u64);
            b.extend_from_slice(v.as_bytes());
            put_uvarint(&mut b, *off);
        }
        self.write_section(&b)?;
        let toc = self.toc.encode();
        self.write(&toc)?;
        let f = self
            .w
            .into_inner()
            .map_err(|e| Error::write(&self.path, e.into_error()))?;
        f.sync_all().map_err(|e| Error::write(&self.path, e))
    }
}
