//! Head compaction: the oldest block range goes to a block on disk, then
//! out of memory and out of the WAL.
//!
//! Crash safety, step by step (`crashpoints` names in brackets):
//!
//! 1. Under the commit lock, the head's lower bound moves to the block's
//!    end `E` (no sample older than `E` is accepted from now on, in order
//!    or not) and the WAL moves to a fresh segment `K+1`. Everything older
//!    than `E` is now immutable in memory and logged in segments `..=K`.
//! 2. The block is written with `BlockWriter` (`<ULID>.tmp`, fsync, atomic
//!    rename) [`block-written`]. A crash before the rename leaves a `.tmp`
//!    directory and the old state; after it, the restart reads `E` from the
//!    block's `meta.json` and replay skips every sample older than `E`.
//! 3. Chunks older than `E` are dropped from memory, empty series removed.
//! 4. A checkpoint `checkpoint.K` is written from memory (series and their
//!    samples, all `>= E`) [`checkpoint-written`], then segments `..=K` and
//!    older checkpoints are deleted. A crash before the checkpoint's rename
//!    replays the old checkpoint and all segments (skipping `< E` as
//!    above); after it, the checkpoint and segments `> K`. Samples
//!    committed after step 1 are in segments `> K` and possibly in the
//!    checkpoint too: replay drops the exact repeats.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use aeon_model::Labels;
use aeon_tsdb_block::chunkenc::SampleValue;
use aeon_tsdb_block::writer::range_for_timestamp;
use aeon_tsdb_block::{BlockMeta, BlockWriter, BlockWriterOptions, ThanosMeta};

use crate::head::{Head, stripe};
use crate::wal::checkpoint::{self, CheckpointWriter};
use crate::wal::record;
use crate::{Error, Result, crashpoints, samples};

/// A block written from the head.
#[derive(Debug, Clone)]
pub struct WrittenBlock {
    pub meta: BlockMeta,
    pub dir: PathBuf,
}

/// Samples per sample record in a checkpoint.
const CHECKPOINT_BATCH: usize = 10_000;

impl Head {
    /// Whether the head spans more than 1.5 block ranges (Prometheus's
    /// trigger for head compaction).
    pub fn compactable(&self) -> bool {
        match (self.min_time(), self.max_time()) {
            (Some(a), Some(b)) => b.saturating_sub(a) > self.opts.block_range / 2 * 3,
            _ => false,
        }
    }

    /// While the head is [compactable](Self::compactable), writes its
    /// oldest block range (aligned to the block range) as a block into the
    /// head's directory and drops it from memory and the WAL. `thanos`, if
    /// given, becomes the block's `thanos` section (external labels,
    /// source) so the block can be shipped like a sidecar's.
    pub fn compact(&self, thanos: Option<&ThanosMeta>) -> Result<Vec<WrittenBlock>> {
        let _guard = self.compaction.lock();
        let mut out = Vec::new();
        while self.compactable() {
            let Some(mint) = self.min_time() else { break };
            let end = range_for_timestamp(mint, self.opts.block_range);
            out.extend(self.compact_until(mint, end, thanos)?);
        }
        Ok(out)
    }

    /// Writes everything the head holds into blocks (one per block range)
    /// and empties it, e.g. before a shutdown or when a tenant moves away;
    /// afterwards only samples newer than the last one flushed are
    /// accepted.
    pub fn flush(&self, thanos: Option<&ThanosMeta>) -> Result<Vec<WrittenBlock>> {
        let _guard = self.compaction.lock();
        let mut out = Vec::new();
        while let (Some(mint), Some(maxt)) = (self.min_time(), self.max_time()) {
            if mint > maxt {
                break;
            }
            let end = range_for_timestamp(mint, self.opts.block_range).min(maxt.saturating_add(1));
            out.extend(self.compact_until(mint, end, thanos)?);
        }
        Ok(out)
    }

    fn compact_until(
        &self,
        mint: i64,
        end: i64,
        thanos: Option<&ThanosMeta>,
    ) -> Result<Option<WrittenBlock>> {
        // 1.
        let k = {
            let mut wal = self.wal.lock();
            self.compacted.fetch_max(end, Ordering::AcqRel);
            wal.next_segment()? - 1
        };
        // 2.
        let written = self.write_block(mint, end, thanos)?;
        if let Some(b) = &written {
            tracing::info!(
                block = %b.meta.ulid,
                min_time = b.meta.min_time,
                max_time = b.meta.max_time,
                series = b.meta.stats.num_series,
                samples = b.meta.stats.num_samples,
                "wrote block from head"
            );
        }
        crashpoints::pass("block-written");
        // 3.
        self.truncate(end);
        // 4.
        self.write_checkpoint(k)?;
        crashpoints::pass("checkpoint-written");
        let wal_dir = self.dir.join("wal");
        self.wal.lock().remove_segments_before(k + 1)?;
        checkpoint::remove_before(&wal_dir, k)?;
        Ok(written)
    }

    fn write_block(
        &self,
        mint: i64,
        end: i64,
        thanos: Option<&ThanosMeta>,
    ) -> Result<Option<WrittenBlock>> {
        let mut ids = Vec::new();
        for st in self.series.iter() {
            for (r, s) in st.read().iter() {
                if s.time_range().is_some_and(|(a, _)| a < end) {
                    ids.push((*r, s.labels.clone()));
                }
            }
        }
        if ids.is_empty() {
            return Ok(None);
        }
        let mut series: Vec<(Labels, u64)> = {
            let syms = self.symbols.read();
            ids.iter().map(|(r, l)| (syms.labels(l), *r)).collect()
        };
        drop(ids);
        series.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let block_err = |source| Error::WriteBlock {
            dir: self.dir.clone(),
            source,
        };
        let opts = BlockWriterOptions {
            chunk_range: self.opts.block_range,
            thanos: thanos.cloned(),
            min_time: Some(mint),
            max_time: Some(end),
            ..Default::default()
        };
        let mut w = BlockWriter::new(&self.dir, opts).map_err(block_err)?;
        let res: Result<()> = (|| {
            for (labels, r) in series {
                let chunks = {
                    let st = self.series[stripe(r)].read();
                    let Some(s) = st.get(&r) else { continue };
                    samples::series_chunks(r, s, i64::MIN, end - 1, self.opts.block_range)?
                };
                w.add_series_chunks(labels, &chunks).map_err(block_err)?;
            }
            Ok(())
        })();
        if let Err(e) = res {
            let _ = w.abort();
            return Err(e);
        }
        let (meta, dir) = w.finish().map_err(block_err)?;
        Ok(Some(WrittenBlock { meta, dir }))
    }

    /// Drops every sample older than `end` and the series left empty.
    fn truncate(&self, end: i64) {
        for st in self.series.iter() {
            for s in st.write().values_mut() {
                s.truncate_before(end);
            }
        }
        // Like Prometheus, the head's minimum becomes the truncation point.
        self.min_time.fetch_max(end, Ordering::AcqRel);
        let removed = self.gc();
        tracing::debug!(removed_series = removed, end, "truncated head");
    }

    /// Writes `checkpoint.K` from what the head holds now.
    fn write_checkpoint(&self, k: u64) -> Result<()> {
        let wal_dir = self.dir.join("wal");
        let mut cw = CheckpointWriter::create(&wal_dir, k, self.opts.wal.clone())?;
        for st in self.series.iter() {
            let mut snap = Vec::new();
            for (r, s) in st.read().iter() {
                let mut chunks = Vec::new();
                s.chunks_in(i64::MIN, i64::MAX, &mut chunks);
                snap.push((*r, s.labels.clone(), chunks, s.ooo_in(i64::MIN, i64::MAX)));
            }
            if snap.is_empty() {
                continue;
            }
            let labels: Vec<Labels> = {
                let syms = self.symbols.read();
                snap.iter().map(|(_, l, _, _)| syms.labels(l)).collect()
            };
            let mut recs = Vec::new();
            let mut rec = Vec::new();
            record::encode_series(&mut rec, snap.iter().map(|(r, ..)| *r).zip(&labels));
            recs.push(rec);
            let mut batch = record::Batcher::new(CHECKPOINT_BATCH);
            for (r, _, chunks, ooo) in &snap {
                let ooo = ooo
                    .iter()
                    .map(|(t, v)| (*t, samples::to_sample_value(v)))
                    .collect();
                for (t, v) in samples::merge(samples::decode(*r, chunks)?, ooo) {
                    match v {
                        SampleValue::Float(f) => batch.float(*r, t, f),
                        SampleValue::Histogram(h) => batch.histogram(*r, t, h),
                        SampleValue::FloatHistogram(h) => batch.float_histogram(*r, t, h),
                    }
                }
            }
            recs.extend(batch.take());
            cw.log(&recs)?;
        }
        let dir = cw.finish()?;
        tracing::info!(checkpoint = %dir.display(), "wrote write-ahead log checkpoint");
        Ok(())
    }
}
