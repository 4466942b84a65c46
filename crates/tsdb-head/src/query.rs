//! Reading the head: series by matchers and time range as encoded chunks
//! (what a Store API server streams), label names and values.

use aeon_model::{Labels, Matcher};
use aeon_tsdb_block::EncodedChunk;

use crate::head::{Head, stripe};
use crate::postings::sorted_strings;
use crate::{Result, samples};

/// One series of a head query: its labels and its chunks overlapping the
/// queried range, in time order (payloads as the Store API carries them).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesChunks {
    pub labels: Labels,
    pub chunks: Vec<EncodedChunk>,
}

impl Head {
    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        match (self.min_time(), self.max_time()) {
            (Some(a), Some(b)) => a <= maxt && b >= mint,
            _ => false,
        }
    }

    /// Refs of the series matching `ms` with samples in `[mint, maxt]`.
    fn matching(&self, ms: &[Matcher], mint: i64, maxt: i64) -> Vec<u64> {
        let refs = {
            let syms = self.symbols.read();
            self.postings.read().select(&syms, ms)
        };
        refs.into_iter()
            .filter(|r| {
                self.series[stripe(*r)]
                    .read()
                    .get(r)
                    .is_some_and(|s| s.overlaps(mint, maxt))
            })
            .collect()
    }

    /// The series matching every matcher (Prometheus semantics: a missing
    /// label is `""`) with samples in `[mint, maxt]` (inclusive), sorted by
    /// labels, with their chunks overlapping that range.
    pub fn select(&self, ms: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<SeriesChunks>> {
        if !self.overlaps(mint, maxt) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for r in self.matching(ms, mint, maxt) {
            let (ids, chunks) = {
                let st = self.series[stripe(r)].read();
                let Some(s) = st.get(&r) else { continue };
                (
                    s.labels.clone(),
                    samples::series_chunks(r, s, mint, maxt, self.opts.block_range)?,
                )
            };
            if chunks.is_empty() {
                continue;
            }
            let labels = self.symbols.read().labels(&ids);
            out.push(SeriesChunks { labels, chunks });
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    /// Label names of the series matching `ms` in `[mint, maxt]`, sorted.
    pub fn label_names(&self, ms: &[Matcher], mint: i64, maxt: i64) -> Vec<String> {
        if !self.overlaps(mint, maxt) {
            return Vec::new();
        }
        if ms.is_empty() {
            let syms = self.symbols.read();
            let names: Vec<u32> = self.postings.read().names().collect();
            return sorted_strings(&syms, names.into_iter());
        }
        let mut ids = Vec::new();
        for r in self.matching(ms, mint, maxt) {
            if let Some(s) = self.series[stripe(r)].read().get(&r) {
                ids.extend(s.labels.iter().map(|(n, _)| *n));
            }
        }
        ids.sort_unstable();
        ids.dedup();
        sorted_strings(&self.symbols.read(), ids.into_iter())
    }

    /// Values of label `name` among the series matching `ms` in
    /// `[mint, maxt]`, sorted (no empty value).
    pub fn label_values(&self, name: &str, ms: &[Matcher], mint: i64, maxt: i64) -> Vec<String> {
        if !self.overlaps(mint, maxt) {
            return Vec::new();
        }
        let Some(n) = self.symbols.read().get(name) else {
            return Vec::new();
        };
        if ms.is_empty() {
            let syms = self.symbols.read();
            let values: Vec<u32> = self.postings.read().values(n).collect();
            return sorted_strings(&syms, values.into_iter());
        }
        let mut ids = Vec::new();
        for r in self.matching(ms, mint, maxt) {
            if let Some(s) = self.series[stripe(r)].read().get(&r)
                && let Some((_, v)) = s.labels.iter().find(|(k, _)| *k == n)
            {
                ids.push(*v);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        sorted_strings(&self.symbols.read(), ids.into_iter())
    }
}
