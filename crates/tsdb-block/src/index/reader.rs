//! Querying an index over a [`ByteSource`]: postings for matchers, series
//! labels and chunk metas.

use std::sync::Arc;

use aeon_model::{Label, Labels, MatchType, Matcher};
use bytes::Bytes;

use super::header::{IndexHeader, PostingsRange};
use super::postings::{intersect, merge, without};
use super::{FORMAT_V1, SERIES_ALIGN, TOC_LEN, check_section};
use crate::source::ByteSource;
use crate::varint::{Cursor, uvarint};
use crate::{Error, Result};

/// Gap below which neighbouring postings reads are coalesced.
const COALESCE_GAP: u64 = 16 * 1024;
/// Initial read size for a series entry.
const SERIES_READ: u64 = 512;

/// Time range and location of one chunk of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkMeta {
    pub min_time: i64,
    pub max_time: i64,
    pub r#ref: u64,
}

/// A decoded series entry.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesEntry {
    pub labels: Labels,
    pub chunks: Vec<ChunkMeta>,
}

/// Reads an index through a byte source, with symbols and postings offsets
/// kept in memory ([`IndexHeader`]).
#[derive(Debug, Clone)]
pub struct IndexReader {
    src: Arc<dyn ByteSource>,
    header: Arc<IndexHeader>,
    series_end: u64,
}

impl IndexReader {
    pub fn open(src: Arc<dyn ByteSource>) -> Result<Self> {
        let h = IndexHeader::build(src.as_ref())?;
        Ok(Self::with_header(src, Arc::new(h)))
    }

    /// Uses an already built (e.g. persisted) header.
    pub fn with_header(src: Arc<dyn ByteSource>, header: Arc<IndexHeader>) -> Self {
        let t = &header.toc;
        let limit = src.len().saturating_sub(TOC_LEN);
        let series_end = [
            t.label_indices,
            t.postings,
            t.label_indices_table,
            t.postings_table,
            limit,
        ]
        .into_iter()
        .filter(|&o| o > t.series)
        .min()
        .unwrap_or(limit);
        Self {
            src,
            header,
            series_end,
        }
    }

    pub fn header(&self) -> &Arc<IndexHeader> {
        &self.header
    }

    pub fn source(&self) -> &Arc<dyn ByteSource> {
        &self.src
    }

    pub fn version(&self) -> u8 {
        self.header.version
    }

    /// Sorted label names.
    pub fn label_names(&self) -> Vec<String> {
        self.header
            .postings
            .label_names()
            .map(str::to_string)
            .collect()
    }

    /// Sorted values of a label.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.header
            .postings
            .values(name)
            .into_iter()
            .map(|r| r.value)
            .collect()
    }

    fn name(&self) -> &str {
        self.src.name()
    }

    fn decode_postings(&self, r: &PostingsRange, b: &Bytes) -> Result<Vec<u32>> {
        if b.len() < 8 {
            return Err(Error::corrupt(
                self.name(),
                r.start,
                "postings list shorter than its header",
            ));
        }
        let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if 4 + len + 4 > b.len() {
            return Err(Error::corrupt(
                self.name(),
                r.start,
                format!("postings list length {len} exceeds its range"),
            ));
        }
        let content = check_section(&b.slice(4..4 + len + 4), self.name(), r.start)?;
        let mut c = Cursor::new(&content, self.name(), r.start + 4);
        let n = c.be_u32()? as usize;
        if n * 4 != content.len() - 4 {
            return Err(Error::corrupt(
                self.name(),
                r.start,
                format!("postings count {n} does not match length {len}"),
            ));
        }
        let ids = &content[4..];
        Ok(ids
            .chunks_exact(4)
            .map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
            .collect())
    }

    fn fetch(&self, ranges: &[PostingsRange]) -> Result<Vec<Vec<u32>>> {
        let want: Vec<(u64, u64)> = ranges
            .iter()
            .map(|r| (r.start, r.end.saturating_sub(r.start)))
            .collect();
        for (r, &(o, l)) in ranges.iter().zip(&want) {
            crate::source::check_range(self.name(), self.src.len(), o, l).map_err(|_| {
                Error::OutOfRange {
                    file: self.name().to_string(),
                    reference: r.start,
                    reason: format!("postings range of {l} bytes past end of index"),
                }
            })?;
        }
        let bufs = self.src.read_ranges(&want, COALESCE_GAP)?;
        ranges
            .iter()
            .zip(bufs.iter())
            .map(|(r, b)| self.decode_postings(r, b))
            .collect()
    }

    /// Postings of one label pair (empty if absent).
    pub fn postings(&self, name: &str, value: &str) -> Result<Vec<u32>> {
        self.postings_for_values(name, &[value])
    }

    /// Union of the postings of `name` = any of `values`.
    pub fn postings_for_values(&self, name: &str, values: &[impl AsRef<str>]) -> Result<Vec<u32>> {
        let rs: Vec<PostingsRange> = values
            .iter()
            .filter_map(|v| self.header.postings.get(name, v.as_ref()))
            .collect();
        let lists = self.fetch(&rs)?;
        Ok(merge(&lists.iter().map(Vec::as_slice).collect::<Vec<_>>()))
    }

    /// Union of the postings of every value of `name` accepted by `pred`.
    pub fn postings_for_matching(
        &self,
        name: &str,
        pred: impl Fn(&str) -> bool,
    ) -> Result<Vec<u32>> {
        let rs: Vec<PostingsRange> = self
            .header
            .postings
            .values(name)
            .into_iter()
            .filter(|r| pred(&r.value))
            .collect();
        let lists = self.fetch(&rs)?;
        Ok(merge(&lists.iter().map(Vec::as_slice).collect::<Vec<_>>()))
    }

    /// Every series ID (the all-postings key).
    pub fn all_postings(&self) -> Result<Vec<u32>> {
        self.postings("", "")
    }

    fn postings_for_matcher(&self, m: &Matcher) -> Result<Vec<u32>> {
        match m.kind {
            MatchType::Equal => return self.postings(&m.name, &m.value),
            MatchType::RegexMatch => {
                if let Some(set) = m.set_matches().filter(|s| !s.is_empty()) {
                    return self.postings_for_values(&m.name, &set);
                }
            }
            _ => {}
        }
        self.postings_for_matching(&m.name, |v| m.matches(v))
    }

    fn inverse_postings_for_matcher(&self, m: &Matcher) -> Result<Vec<u32>> {
        match m.kind {
            MatchType::RegexNoMatch => {
                if let Some(set) = m.set_matches().filter(|s| !s.is_empty()) {
                    return self.postings_for_values(&m.name, &set);
                }
            }
            MatchType::NotEqual => return self.postings(&m.name, &m.value),
            _ => {}
        }
        if m.value.is_empty() && matches!(m.kind, MatchType::RegexMatch | MatchType::Equal) {
            return self.postings_for_matching(&m.name, |_| true);
        }
        self.postings_for_matching(&m.name, |v| !m.matches(v))
    }

    /// Series IDs matching all matchers, with Prometheus's
    /// `PostingsForMatchers` semantics (a missing label has value `""`).
    pub fn postings_for_matchers(&self, ms: &[Matcher]) -> Result<Vec<u32>> {
        if ms.is_empty() {
            return Ok(Vec::new());
        }
        if ms.len() == 1 && ms[0].name.is_empty() && ms[0].value.is_empty() {
            return self.all_postings();
        }
        let must_be_set = |name: &str| ms.iter().any(|m| m.name == name && !m.matches_empty());
        let is_sub = |m: &Matcher| {
            !must_be_set(&m.name)
                || (matches!(m.kind, MatchType::NotEqual | MatchType::RegexNoMatch)
                    && m.matches_empty())
        };
        let mut its: Vec<Vec<u32>> = Vec::new();
        let mut not_its: Vec<Vec<u32>> = Vec::new();
        if ms.iter().all(is_sub) {
            its.push(self.all_postings()?);
        }
        for m in ms {
            let is_re = m.kind == MatchType::RegexMatch;
            let is_nre = m.kind == MatchType::RegexNoMatch;
            if m.name.is_empty() && m.value.is_empty() {
                return Err(Error::Invalid(
                    "unexpected all-postings matcher among others".into(),
                ));
            } else if is_re && m.value == ".*" {
            } else if is_nre && m.value == ".*" {
                return Ok(Vec::new());
            } else if is_re && m.value == ".+" {
                its.push(self.postings_for_matching(&m.name, |_| true)?);
            } else if is_nre && m.value == ".+" {
                not_its.push(self.postings_for_matching(&m.name, |_| true)?);
            } else if must_be_set(&m.name) {
                let matches_empty = m.matches_empty();
                let is_not = matches!(m.kind, MatchType::NotEqual | MatchType::RegexNoMatch);
                if is_not && matches_empty {
                    not_its.push(self.postings_for_matcher(&m.inverse())?);
                } else if is_not {
                    let it = self.inverse_postings_for_matcher(&m.inverse())?;
                    if it.is_empty() {
                        return Ok(Vec::new());
                    }
                    its.push(it);
                } else {
                    let it = self.postings_for_matcher(m)?;
                    if it.is_empty() {
                        return Ok(Vec::new());
                    }
                    its.push(it);
                }
            } else {
                not_its.push(self.inverse_postings_for_matcher(m)?);
            }
        }
        let mut it = intersect(&its.iter().map(Vec::as_slice).collect::<Vec<_>>());
        for n in &not_its {
            it = without(&it, n);
        }
        Ok(it)
    }

    fn series_offset(&self, id: u32) -> u64 {
        if self.header.version == FORMAT_V1 {
            u64::from(id)
        } else {
            u64::from(id) * SERIES_ALIGN
        }
    }

    /// Labels and chunk metas of a series.
    pub fn series(&self, id: u32) -> Result<SeriesEntry> {
        let off = self.series_offset(id);
        if off < self.header.toc.series || off >= self.series_end {
            return Err(Error::OutOfRange {
                file: self.name().to_string(),
                reference: u64::from(id),
                reason: format!("series offset {off} outside series section"),
            });
        }
        let avail = self.series_end - off;
        let mut b = self.src.read_range(off, SERIES_READ.min(avail))?;
        let (len, n) =
            uvarint(&b).ok_or_else(|| Error::corrupt(self.name(), off, "invalid series length"))?;
        let need = n as u64 + len + 4;
        if need > avail {
            return Err(Error::corrupt(
                self.name(),
                off,
                format!("series length {len} runs past series section"),
            ));
        }
        if need > b.len() as u64 {
            b = self.src.read_range(off, need)?;
        }
        let content = check_section(&b.slice(n..need as usize), self.name(), off)?;
        self.decode_series(&content, off + n as u64)
    }

    /// Several series at once; neighbouring entries are fetched with
    /// coalesced reads (one ranged read for a run of close series).
    pub fn series_many(&self, ids: &[u32]) -> Result<Vec<SeriesEntry>> {
        let mut ranges = Vec::with_capacity(ids.len());
        for &id in ids {
            let off = self.series_offset(id);
            if off < self.header.toc.series || off >= self.series_end {
                return Err(Error::OutOfRange {
                    file: self.name().to_string(),
                    reference: u64::from(id),
                    reason: format!("series offset {off} outside series section"),
                });
            }
            ranges.push((off, SERIES_READ.min(self.series_end - off)));
        }
        let bufs = self.src.read_ranges(&ranges, COALESCE_GAP)?;
        let mut out = Vec::with_capacity(ids.len());
        for ((&id, &(off, _)), b) in ids.iter().zip(&ranges).zip(bufs) {
            let parsed = uvarint(&b).and_then(|(len, n)| {
                let need = n as u64 + len + 4;
                (need <= b.len() as u64).then_some((n, need))
            });
            match parsed {
                Some((n, need)) => {
                    let content = check_section(&b.slice(n..need as usize), self.name(), off)?;
                    out.push(self.decode_series(&content, off + n as u64)?);
                }
                None => out.push(self.series(id)?),
            }
        }
        Ok(out)
    }

    fn decode_series(&self, b: &[u8], off: u64) -> Result<SeriesEntry> {
        let mut c = Cursor::new(b, self.name(), off);
        let k = c.uvarint()?;
        let mut labels = Vec::with_capacity((k as usize).min(b.len()));
        let syms = &self.header.symbols;
        for _ in 0..k {
            let n = c.uvarint32()?;
            let v = c.uvarint32()?;
            labels.push(Label::new(
                syms.lookup(u64::from(n))?,
                syms.lookup(u64::from(v))?,
            ));
        }
        let labels = if labels.windows(2).all(|w| w[0].name < w[1].name)
            && labels.iter().all(|l| !l.value.is_empty())
        {
            Labels::from_sorted(labels)
        } else {
            Labels::new(labels)
        };
        let nc = c.uvarint()?;
        let mut chunks = Vec::with_capacity((nc as usize).min(b.len()));
        if nc > 0 {
            let mint = c.varint()?;
            let maxt = mint.wrapping_add(c.uvarint()? as i64);
            let r = c.uvarint()?;
            chunks.push(ChunkMeta {
                min_time: mint,
                max_time: maxt,
                r#ref: r,
            });
            let (mut t0, mut r0) = (maxt, r as i64);
            for _ in 1..nc {
                let mint = t0.wrapping_add(c.uvarint()? as i64);
                let maxt = mint.wrapping_add(c.uvarint()? as i64);
                let r = r0.wrapping_add(c.varint()?);
                chunks.push(ChunkMeta {
                    min_time: mint,
                    max_time: maxt,
                    r#ref: r as u64,
                });
                t0 = maxt;
                r0 = r;
            }
        }
        Ok(SeriesEntry { labels, chunks })
    }

    /// A series with only the chunks overlapping `[mint, maxt]`.
    pub fn series_in_range(&self, id: u32, mint: i64, maxt: i64) -> Result<SeriesEntry> {
        let mut s = self.series(id)?;
        s.chunks
            .retain(|c| c.max_time >= mint && c.min_time <= maxt);
        Ok(s)
    }
}
