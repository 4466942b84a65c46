//! Downsampling, as Thanos does it: raw → 5m and 5m → 1h blocks whose chunks
//! are aggregate chunks (encoding 0xFF) holding five XOR sub-chunks in the
//! order count, sum, min, max, counter (COMPAT-NOTES §2.6).
//!
//! Each output sample sits at the end of its window (`t - t % r + r - 1`,
//! clipped to the last sample of the batch). The counter sub-chunk starts
//! with the batch's first raw sample at its own timestamp and ends with the
//! last raw value repeated at the last window timestamp, so `rate()` stays
//! exact across chunk edges.
//!
//! Native histograms follow Thanos too ([`histogram`]): count (XOR), sum and
//! counter (float-histogram sub-chunks), no min/max. A block whose
//! histograms cannot be aggregated (changing custom bucket boundaries or
//! zero threshold within a batch) fails with [`Error::Downsample`]; the
//! compactor then marks it no-downsample and goes on.

use std::path::Path;
use std::sync::Arc;

use aeon_objstore::Bucket;
use aeon_tsdb_block::chunkenc::{
    AggrChunk, AggrType, Encoding, FloatHistogram, SampleValue, SubChunk, XorChunk, XorEncoder,
    apply_counter_resets, encode_aggr,
};
use aeon_tsdb_block::meta::ThanosDownsample;
use aeon_tsdb_block::{BlockMeta, BlockReader, BlockWriter, BlockWriterOptions, EncodedChunk};
use ulid::Ulid;

use crate::compact::{COMPACTOR_SOURCE, download_blocks, finalize_meta, upload_and_verify};
use crate::merge::float_value;
use crate::planner::RES_RAW;
use crate::{Error, Result};

/// Raw resolution assumed when sizing chunks (Thanos's heuristic).
const ASSUMED_RAW_STEP: i64 = 60_000;
/// Target upper bound of samples per output chunk.
const MAX_SAMPLES_PER_CHUNK: i64 = 140;

/// Aggregate indices inside an aggregate chunk.
const COUNT: usize = AggrType::Count as usize;
const SUM: usize = AggrType::Sum as usize;
const MIN: usize = AggrType::Min as usize;
const MAX: usize = AggrType::Max as usize;
const COUNTER: usize = AggrType::Counter as usize;

/// End (inclusive) of the window of `t` at resolution `r`.
pub fn window_end(t: i64, r: i64) -> i64 {
    t - (t % r) + r - 1
}

fn range_fullness(mint: i64, maxt: i64, step: i64, count: usize) -> f64 {
    let f = count as f64 / ((maxt - mint) as f64 / step as f64);
    if f > 1.0 || f.is_nan() { 1.0 } else { f }
}

/// How many output chunks a series gets: ≤ ~140 samples each on average.
pub fn target_chunk_count(mint: i64, maxt: i64, in_res: i64, out_res: i64, count: usize) -> usize {
    let max_samples = ((maxt - mint) / out_res) as f64;
    let expected = (max_samples * range_fullness(mint, maxt, in_res, count)) as i64 + 1;
    let mut x = 1;
    while expected / x > MAX_SAMPLES_PER_CHUNK {
        x += 1;
    }
    x as usize
}

/// Running statistics of one window plus the series-wide counter.
#[derive(Debug, Clone, Copy, Default)]
struct Aggregator {
    total: u64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    counter: f64,
    last: f64,
}

impl Aggregator {
    fn reset(&mut self) {
        self.count = 0;
        self.sum = 0.0;
        self.min = f64::MAX;
        self.max = -f64::MAX;
    }

    fn add(&mut self, v: f64) {
        if self.total > 0 {
            if v < self.last {
                self.counter += v;
            } else {
                self.counter += v - self.last;
            }
        } else {
            self.counter = v;
        }
        self.last = v;
        self.sum += v;
        self.count += 1;
        self.total += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }
}

/// Aggregates `data` per window; calls `emit(window_end, aggregator)` at the
/// end of each window. Returns the last window timestamp.
fn downsample_batch(data: &[(i64, f64)], r: i64, mut emit: impl FnMut(i64, &Aggregator)) -> i64 {
    let mut a = Aggregator::default();
    let mut next_t = -1i64;
    let last_t = data.last().map_or(0, |s| s.0);
    for &(t, v) in data {
        if aeon_model::is_stale_nan(v) {
            continue;
        }
        if t > next_t {
            if next_t != -1 {
                emit(next_t, &a);
            }
            a.reset();
            next_t = window_end(t, r).min(last_t);
        }
        a.add(v);
    }
    emit(next_t, &a);
    next_t
}

/// Decoded float samples per aggregate.
type AggrSamples = [Option<Vec<(i64, f64)>>; 5];

/// Float samples of one XOR sub-chunk.
pub(crate) fn xor_samples(data: &[u8]) -> std::result::Result<Vec<(i64, f64)>, String> {
    let c = XorChunk::new(data).map_err(|e| e.to_string())?;
    Ok(c.samples()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|s| (s.t, s.v))
        .collect())
}

/// The five sub-chunks of an aggregate chunk payload.
pub(crate) fn sub_chunks(data: &[u8]) -> std::result::Result<[SubChunk<'_>; 5], String> {
    AggrChunk::new(data).all().map_err(|e| e.to_string())
}

struct Builder {
    mint: i64,
    maxt: i64,
    enc: [XorEncoder; 5],
    present: [bool; 5],
}

impl Builder {
    fn new() -> Self {
        Self {
            mint: i64::MAX,
            maxt: i64::MIN,
            enc: std::array::from_fn(|_| XorEncoder::new()),
            present: [false; 5],
        }
    }

    fn push(&mut self, i: usize, t: i64, v: f64) {
        self.enc[i].append(t, v);
        self.present[i] = true;
    }

    fn window(&mut self, t: i64) {
        self.mint = self.mint.min(t);
        self.maxt = self.maxt.max(t);
    }

    fn finish(self) -> EncodedChunk {
        let mut subs: [Option<Vec<u8>>; 5] = Default::default();
        for (i, e) in self.enc.into_iter().enumerate() {
            if self.present[i] {
                subs[i] = Some(e.finish());
            }
        }
        EncodedChunk {
            min_time: self.mint,
            max_time: self.maxt,
            encoding: Encoding::Aggr,
            data: encode_aggr(std::array::from_fn(|i| {
                subs[i].as_deref().map(|d| (Encoding::Xor, d))
            })),
        }
    }
}

/// Thanos's cut of raw samples (sorted) into batches of one output chunk
/// each: about `len / target_chunk_count + 1` samples, extended to the end
/// of the window the last one falls in.
pub(crate) fn raw_batches<T>(data: &[(i64, T)], r: i64) -> Vec<&[(i64, T)]> {
    let (Some(first), Some(last)) = (data.first(), data.last()) else {
        return Vec::new();
    };
    let num_chunks = target_chunk_count(first.0, last.0, ASSUMED_RAW_STEP, r, data.len());
    let batch_size = data.len() / num_chunks + 1;
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let mut j = batch_size.min(rest.len());
        let cur_w = window_end(rest[j - 1].0, r);
        while j < rest.len() && rest[j].0 <= cur_w {
            j += 1;
        }
        let (batch, tail) = rest.split_at(j);
        out.push(batch);
        rest = tail;
    }
    out
}

/// Downsamples raw float samples (sorted) to aggregate chunks at `r`.
pub fn downsample_raw(data: &[(i64, f64)], r: i64) -> Vec<EncodedChunk> {
    let mut out = Vec::new();
    for batch in raw_batches(data, r) {
        let batch: Vec<(i64, f64)> = batch.iter().copied().filter(|s| !s.1.is_nan()).collect();
        let (Some(&b0), Some(&bl)) = (batch.first(), batch.last()) else {
            continue;
        };
        let mut b = Builder::new();
        b.push(COUNTER, b0.0, b0.1);
        let last_t = downsample_batch(&batch, r, |t, a| {
            b.window(t);
            b.push(COUNT, t, a.count as f64);
            b.push(SUM, t, a.sum);
            b.push(MIN, t, a.min);
            b.push(MAX, t, a.max);
            b.push(COUNTER, t, a.counter);
        });
        b.push(COUNTER, last_t, bl.1);
        out.push(b.finish());
    }
    out
}

/// Downsamples a series' aggregate chunks (sorted) to resolution `r`, along
/// chunk boundaries so the counter's true first and last values survive.
pub fn downsample_aggr(
    chunks: &[EncodedChunk],
    in_res: i64,
    r: i64,
) -> std::result::Result<Vec<EncodedChunk>, String> {
    let (Some(first), Some(last)) = (chunks.first(), chunks.last()) else {
        return Ok(Vec::new());
    };
    let decoded: Vec<AggrSamples> = chunks
        .iter()
        .map(|c| {
            let subs = sub_chunks(&c.data)?;
            let mut out: AggrSamples = Default::default();
            for (i, s) in subs.iter().enumerate() {
                if let Some((enc, d)) = s {
                    if *enc != Encoding::Xor {
                        return Err(format!(
                            "aggregate {i} has encoding {}; only XOR is supported",
                            enc.name()
                        ));
                    }
                    out[i] = Some(xor_samples(d)?);
                }
            }
            Ok(out)
        })
        .collect::<std::result::Result<_, String>>()?;
    let num_samples: usize = decoded
        .iter()
        .map(|d| d[COUNT].as_ref().map_or(0, Vec::len))
        .sum();
    let num_chunks = target_chunk_count(first.min_time, last.max_time, in_res, r, num_samples);
    let batch_size = (decoded.len() / num_chunks).max(1);
    let mut out = Vec::new();
    for part in decoded.chunks(batch_size) {
        let mut b = Builder::new();
        for (i, pick) in [(COUNT, 0u8), (SUM, 0), (MIN, 1), (MAX, 2)] {
            let mut buf: Vec<(i64, f64)> = Vec::new();
            let mut last_t = i64::MIN;
            for s in part.iter().filter_map(|d| d[i].as_ref()).flatten() {
                if aeon_model::is_stale_nan(s.1) || s.0 < last_t {
                    continue;
                }
                last_t = s.0;
                buf.push(*s);
            }
            if buf.is_empty() {
                continue;
            }
            let mut windows = Vec::new();
            downsample_batch(&buf, r, |t, a| {
                let v = match pick {
                    0 => a.sum,
                    1 => a.min,
                    _ => a.max,
                };
                windows.push((t, v));
            });
            for (t, v) in windows {
                b.window(t);
                b.push(i, t, v);
            }
        }
        let counters = part.iter().filter_map(|d| d[COUNTER].as_ref()).flatten();
        let (buf, last_v) = apply_counter_resets(counters.copied());
        if let (Some(&b0), Some(last_v)) = (buf.first(), last_v) {
            b.push(COUNTER, b0.0, b0.1);
            let mut windows = Vec::new();
            let last_t = downsample_batch(&buf, r, |t, a| windows.push((t, a.counter)));
            for (t, v) in windows {
                b.window(t);
                b.push(COUNTER, t, v);
            }
            b.push(COUNTER, last_t, last_v);
        }
        out.push(b.finish());
    }
    Ok(out)
}

/// Downsamples one local block into a new block under `out_parent`.
pub fn downsample_local(
    src: &BlockReader,
    target: i64,
    out_parent: &Path,
) -> Result<(BlockMeta, std::path::PathBuf)> {
    let meta = src.meta().clone();
    let id = meta.ulid;
    let in_res = crate::planner::resolution(&meta);
    let fail = |reason: String| Error::Downsample { block: id, reason };
    let read = |source| Error::ReadBlock { block: id, source };
    let mut w = BlockWriter::new(
        out_parent,
        BlockWriterOptions {
            ulid: Some(Ulid::new()),
            min_time: Some(meta.min_time),
            max_time: Some(meta.max_time),
            ..Default::default()
        },
    )
    .map_err(|e| fail(e.to_string()))?;
    let mut num_samples = 0u64;
    for s in src.select(&[], i64::MIN, i64::MAX).map_err(read)? {
        let series_err = |e: String| fail(format!("series {}: {e}", s.labels));
        let mut out = Vec::new();
        if in_res == RES_RAW {
            // Runs of floats and of histograms are downsampled separately,
            // as Thanos cuts at every switch between the two.
            let samples = src.samples(&s, i64::MIN, i64::MAX).map_err(read)?;
            let mut rest = samples.as_slice();
            while let Some((_, v)) = rest.first() {
                let hist = !matches!(v, SampleValue::Float(_));
                let n = rest
                    .iter()
                    .take_while(|(_, v)| !matches!(v, SampleValue::Float(_)) == hist)
                    .count();
                let (run, tail) = rest.split_at(n);
                rest = tail;
                if hist {
                    let hs: Vec<(i64, FloatHistogram)> = run
                        .iter()
                        .filter_map(|(t, v)| match v {
                            SampleValue::Histogram(h) => Some((*t, h.to_float())),
                            SampleValue::FloatHistogram(h) => Some((*t, h.clone())),
                            SampleValue::Float(_) => None,
                        })
                        .collect();
                    out.extend(histogram::downsample_raw_hist(&hs, target).map_err(series_err)?);
                } else {
                    let fs: Vec<(i64, f64)> = run
                        .iter()
                        .filter_map(|(t, v)| float_value(v.clone()).map(|f| (*t, f)))
                        .collect();
                    out.extend(downsample_raw(&fs, target));
                }
            }
        } else {
            let mut chunks = Vec::new();
            for m in &s.chunks {
                let c = src.chunk(m).map_err(read)?;
                if c.encoding != Encoding::Aggr {
                    return Err(fail(format!(
                        "series {}: expected aggregate chunks, found {}",
                        s.labels,
                        c.encoding.name()
                    )));
                }
                chunks.push(EncodedChunk {
                    min_time: m.min_time,
                    max_time: m.max_time,
                    encoding: c.encoding,
                    data: c.data.to_vec(),
                });
            }
            let mut rest = chunks.as_slice();
            while let Some(c) = rest.first() {
                let hist = AggrChunk::new(&c.data).is_histogram();
                let n = rest
                    .iter()
                    .take_while(|c| AggrChunk::new(&c.data).is_histogram() == hist)
                    .count();
                let (run, tail) = rest.split_at(n);
                rest = tail;
                if hist {
                    out.extend(
                        histogram::downsample_aggr_hist(run, in_res, target).map_err(series_err)?,
                    );
                } else {
                    out.extend(downsample_aggr(run, in_res, target).map_err(series_err)?);
                }
            }
        }
        if out.is_empty() {
            continue;
        }
        num_samples += out
            .iter()
            .map(|c| AggrChunk::new(&c.data).num_samples())
            .sum::<u64>();
        w.add_series_chunks(s.labels.clone(), &out)
            .map_err(|e| fail(e.to_string()))?;
    }
    let (mut out_meta, dir) = w.finish().map_err(|e| fail(e.to_string()))?;
    out_meta.stats.num_samples = num_samples;
    out_meta.compaction = meta.compaction.clone();
    let mut thanos = meta.thanos.clone().unwrap_or_default();
    thanos.version = 1;
    thanos.downsample = ThanosDownsample { resolution: target };
    thanos.source = COMPACTOR_SOURCE.into();
    thanos.files.clear();
    thanos.segment_files.clear();
    out_meta.thanos = Some(thanos);
    finalize_meta(&dir, &mut out_meta)?;
    Ok((out_meta, dir))
}

/// Downloads a block, downsamples it to `target` and uploads the result (meta.json last, verified).
pub async fn downsample_block(
    bucket: Arc<dyn Bucket>,
    meta: &BlockMeta,
    target: i64,
    data_dir: &Path,
    files_concurrency: usize,
) -> Result<Ulid> {
    let work = data_dir.join("downsample").join(meta.ulid.to_string());
    if tokio::fs::try_exists(&work).await.unwrap_or(false) {
        tokio::fs::remove_dir_all(&work)
            .await
            .map_err(|e| Error::io(&work, e))?;
    }
    tokio::fs::create_dir_all(&work)
        .await
        .map_err(|e| Error::io(&work, e))?;
    let dirs = download_blocks(bucket.as_ref(), &[meta.ulid], &work, 1, files_concurrency).await?;
    let src_dir = dirs
        .into_iter()
        .next()
        .ok_or_else(|| Error::Task("download returned nothing".into()))?;
    let out_parent = work.join("out");
    let id = meta.ulid;
    let (out_meta, out_dir) = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&out_parent).map_err(|e| Error::io(&out_parent, e))?;
        let src =
            BlockReader::open(&src_dir).map_err(|source| Error::ReadBlock { block: id, source })?;
        downsample_local(&src, target, &out_parent)
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))??;
    upload_and_verify(bucket.as_ref(), &out_dir, &out_meta, files_concurrency).await?;
    tracing::info!(block = %meta.ulid, output = %out_meta.ulid, resolution = target, "downsampled block");
    let _ = tokio::fs::remove_dir_all(&work).await;
    Ok(out_meta.ulid)
}

pub mod histogram;

#[cfg(test)]
mod tests;
