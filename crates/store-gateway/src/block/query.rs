//! Queries of one block on a blocking thread over ranged reads: matchers
//! → postings → series entries (both through the index cache) → chunks,
//! and the label APIs.

use std::collections::BTreeSet;
use std::sync::Arc;

use aeon_model::Matcher;
use aeon_storeapi::pb::thanos;
use aeon_storeapi::{ShardMatcher, convert};
use aeon_tsdb_block::index::FORMAT_V1;
use aeon_tsdb_block::{ChunkMeta, IndexHeader, IndexReader, SeriesEntry};

use super::Block;
use crate::cache::{CacheKey, CacheValue};
use crate::limits::{Limiter, PoolPermit};
use crate::metrics::SeriesStats;
use crate::{Error, Result};

/// Read-ahead past the last wanted series entry of a range when the block
/// does not say its largest one; larger entries cost one more GET.
const DEFAULT_SERIES_EST: u64 = 1024;

/// A Series request as one block executes it.
#[derive(Debug, Clone)]
pub struct BlockQuery {
    pub matchers: Vec<Matcher>,
    pub min_time: i64,
    pub max_time: i64,
    pub skip_chunks: bool,
    /// `thanos.Aggr` values requested (for downsampled blocks).
    pub aggregates: Vec<i32>,
    pub without_replica_labels: Vec<String>,
    pub shard: ShardMatcher,
    pub limiter: Arc<Limiter>,
    /// What the request touched and fetched, over all its blocks.
    pub stats: Arc<SeriesStats>,
}

impl Block {
    /// Splits matchers into those for the index; `None` if an external-label
    /// matcher rules the whole block out.
    pub fn index_matchers(&self, ms: &[Matcher]) -> Option<Vec<Matcher>> {
        let mut out = Vec::with_capacity(ms.len());
        for m in ms {
            match self.ext.get(&m.name) {
                Some(v) => {
                    if !m.matches(v) {
                        return None;
                    }
                }
                None => out.push(m.clone()),
            }
        }
        Some(out)
    }

    pub(super) fn postings(&self, reader: &IndexReader, ms: &[Matcher]) -> Result<Arc<Vec<u32>>> {
        let mut parts: Vec<String> = ms.iter().map(ToString::to_string).collect();
        parts.sort();
        let key = CacheKey::Postings(self.id, parts.join(","));
        if let Some(CacheValue::Postings(p)) = self.ctx.cache.get(&key) {
            return Ok(p);
        }
        let ids = if ms.is_empty() {
            reader.all_postings()
        } else {
            reader.postings_for_matchers(ms)
        }
        .map_err(|e| Error::block(self.id, "reading postings", e))?;
        let ids = Arc::new(ids);
        self.ctx.cache.put(key, CacheValue::Postings(ids.clone()));
        Ok(ids)
    }

    fn series_entries(
        &self,
        header: &Arc<IndexHeader>,
        ids: &[u32],
        rt: &tokio::runtime::Handle,
        stats: Option<&SeriesStats>,
    ) -> Result<Vec<Arc<SeriesEntry>>> {
        let mut out: Vec<Option<Arc<SeriesEntry>>> = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for (i, &id) in ids.iter().enumerate() {
            match self.ctx.cache.get(&CacheKey::Series(self.id, id)) {
                Some(CacheValue::Series(s)) => out.push(Some(s)),
                _ => {
                    out.push(None);
                    missing.push(i);
                }
            }
        }
        if missing.is_empty() {
            return Ok(out.into_iter().flatten().collect());
        }
        let (src, reader) = self.index_reader(header, "series", rt);
        let est = self
            .meta
            .thanos
            .as_ref()
            .map(|t| t.index_stats.series_max_size)
            .filter(|&s| s > 0)
            .map_or(DEFAULT_SERIES_EST, |s| s as u64);
        let off = |id: u32| {
            if header.version == FORMAT_V1 {
                u64::from(id)
            } else {
                u64::from(id) * 16
            }
        };
        let ranges: Vec<(u64, u64)> = missing
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let start = off(ids[i]);
                let next = missing.get(k + 1).map(|&j| off(ids[j]));
                let end = next.map_or(start + est, |n| n.min(start + est));
                (start, end.max(start + 1) - start)
            })
            .collect();
        src.prefetch(&ranges)
            .map_err(|e| Error::block(self.id, "reading series", e))?;
        if let Some(s) = stats {
            SeriesStats::add(&s.series_fetched, missing.len());
        }
        for i in missing {
            let e = Arc::new(
                reader
                    .series(ids[i])
                    .map_err(|e| Error::block(self.id, "reading series", e))?,
            );
            self.ctx.cache.put(
                CacheKey::Series(self.id, ids[i]),
                CacheValue::Series(e.clone()),
            );
            out[i] = Some(e);
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Series of this block matching `q`, sorted, with external labels.
    /// Runs on a blocking thread.
    pub fn series(
        &self,
        header: &Arc<IndexHeader>,
        q: &BlockQuery,
        rt: &tokio::runtime::Handle,
    ) -> Result<(Vec<thanos::Series>, PoolPermit)> {
        let Some(ms) = self.index_matchers(&q.matchers) else {
            return Ok((Vec::new(), None));
        };
        let mut permit = None;
        let (_, reader) = self.index_reader(header, "postings", rt);
        let ids = self.postings(&reader, &ms)?;
        SeriesStats::add(&q.stats.postings_touched, ids.len());
        let entries = self.series_entries(header, &ids, rt, Some(&q.stats))?;
        SeriesStats::add(&q.stats.series_touched, entries.len());
        let ext = convert::labels_to_pb(&self.ext.without(&q.without_replica_labels));
        let mut picked: Vec<(Vec<thanos::Label>, Vec<ChunkMeta>)> = Vec::new();
        for e in &entries {
            let chunks: Vec<ChunkMeta> = e
                .chunks
                .iter()
                .filter(|c| c.max_time >= q.min_time && c.min_time <= q.max_time)
                .copied()
                .collect();
            if chunks.is_empty() {
                continue;
            }
            let full = convert::merge_external_labels(
                convert::labels_to_pb(&e.labels),
                &convert::labels_to_pb(&self.ext),
            );
            if !q.shard.matches(&full) {
                continue;
            }
            let labels = if q.without_replica_labels.is_empty() {
                full
            } else {
                convert::merge_external_labels(convert::labels_to_pb(&e.labels), &ext)
            };
            picked.push((labels, chunks));
        }
        q.limiter.add_series(picked.len() as u64)?;
        let mut out = Vec::with_capacity(picked.len());
        if q.skip_chunks {
            for (labels, _) in picked {
                out.push(thanos::Series {
                    labels,
                    chunks: Vec::new(),
                });
            }
        } else {
            let n: u64 = picked.iter().map(|(_, c)| c.len() as u64).sum();
            q.limiter.add_chunks(n)?;
            SeriesStats::add(&q.stats.chunks_touched, n as usize);
            let refs: Vec<u64> = picked
                .iter()
                .flat_map(|(_, c)| c.iter().map(|m| m.r#ref))
                .collect();
            let mut fetched = 0u64;
            let raw = self.fetch_chunks(&refs, rt, &mut fetched)?;
            SeriesStats::add(&q.stats.chunks_fetched, refs.len());
            if let Some(pool) = &self.ctx.chunk_pool {
                permit = Some(pool.reserve(fetched)?);
            }
            for (labels, metas) in picked {
                let mut chunks = Vec::with_capacity(metas.len());
                for m in metas {
                    let (enc, data) = raw.get(&m.r#ref).ok_or_else(|| {
                        Error::block(
                            self.id,
                            "reading chunks",
                            format!("chunk {:#x} not fetched", m.r#ref),
                        )
                    })?;
                    chunks.push(self.wire_chunk(m, *enc, data, &q.aggregates)?);
                }
                out.push(thanos::Series { labels, chunks });
            }
        }
        if !q.without_replica_labels.is_empty() || !self.ext.is_empty() {
            out.sort_by(|a, b| convert::compare_labels(&a.labels, &b.labels));
        }
        Ok((out, permit))
    }

    /// Label names of series matching `ms` (all names when `ms` is empty),
    /// plus the external label names not in `without`.
    pub fn label_names(
        &self,
        header: &Arc<IndexHeader>,
        ms: &[Matcher],
        without: &[String],
        rt: &tokio::runtime::Handle,
    ) -> Result<BTreeSet<String>> {
        let Some(ims) = self.index_matchers(ms) else {
            return Ok(BTreeSet::new());
        };
        let mut names: BTreeSet<String> = if ims.is_empty() {
            let n: BTreeSet<String> = header.postings.label_names().map(str::to_string).collect();
            if n.is_empty() {
                // No series at all: nothing to report, not even external labels.
                return Ok(n);
            }
            n
        } else {
            let (_, reader) = self.index_reader(header, "postings", rt);
            let ids = self.postings(&reader, &ims)?;
            if ids.is_empty() {
                return Ok(BTreeSet::new());
            }
            let mut s = BTreeSet::new();
            for e in self.series_entries(header, &ids, rt, None)? {
                s.extend(e.labels.iter().map(|l| l.name.clone()));
            }
            s
        };
        names.extend(
            self.ext
                .iter()
                .filter(|l| !without.contains(&l.name))
                .map(|l| l.name.clone()),
        );
        Ok(names)
    }

    /// Values of `name` over series matching `ms`.
    pub fn label_values(
        &self,
        header: &Arc<IndexHeader>,
        name: &str,
        ms: &[Matcher],
        without: &[String],
        rt: &tokio::runtime::Handle,
    ) -> Result<BTreeSet<String>> {
        let Some(ims) = self.index_matchers(ms) else {
            return Ok(BTreeSet::new());
        };
        if let Some(v) = self.ext.get(name) {
            if without.iter().any(|w| w == name) {
                return Ok(BTreeSet::new());
            }
            // The block must have at least one matching series.
            if ims.is_empty() {
                if header.postings.label_names().next().is_none() {
                    return Ok(BTreeSet::new());
                }
            } else {
                let (_, reader) = self.index_reader(header, "postings", rt);
                if self.postings(&reader, &ims)?.is_empty() {
                    return Ok(BTreeSet::new());
                }
            }
            return Ok(BTreeSet::from([v.to_string()]));
        }
        if ims.is_empty() {
            return Ok(header
                .postings
                .values(name)
                .iter()
                .map(|r| r.value.clone())
                .filter(|v| !v.is_empty())
                .collect());
        }
        let (_, reader) = self.index_reader(header, "postings", rt);
        let ids = self.postings(&reader, &ims)?;
        let mut out = BTreeSet::new();
        for e in self.series_entries(header, &ids, rt, None)? {
            if let Some(v) = e.labels.get(name) {
                out.insert(v.to_string());
            }
        }
        Ok(out)
    }
}
