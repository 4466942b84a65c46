//! Writing blocks: sorted series in → `chunks/`, `index` (v2), `tombstones`
//! and `meta.json` out, written into `<parent>/<ULID>.tmp` then fsynced and
//! renamed atomically.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use aeon_model::Labels;
use ulid::Ulid;

use crate::chunkenc::{
    CounterResetHint, Encoding, FloatHistogram, FloatHistogramEncoder, Histogram, HistogramEncoder,
    XorEncoder,
};
use crate::chunks::{ChunkWriter, DEFAULT_SEGMENT_SIZE};
use crate::index::{ChunkMeta, IndexWriter};
use crate::meta::{BlockMeta, ThanosMeta};
use crate::{Error, Result, fsutil, tombstones};

/// Prometheus's default samples per chunk.
pub const SAMPLES_PER_CHUNK: usize = 120;
/// Prometheus's default block duration (2h) in milliseconds.
pub const DEFAULT_BLOCK_DURATION: i64 = 2 * 3600 * 1000;
/// An XOR chunk is cut once its payload exceeds this many bytes.
pub const MAX_BYTES_PER_XOR_CHUNK: usize = 1024 - 19;

/// Options of a [`BlockWriter`].
#[derive(Debug, Clone)]
pub struct BlockWriterOptions {
    /// Chunk range of the simulated head (chunks never cross a multiple of it).
    pub chunk_range: i64,
    pub segment_size: u64,
    pub ulid: Option<Ulid>,
    pub thanos: Option<ThanosMeta>,
    /// Overrides for the block time range (default: samples' min and max+1).
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
}

impl Default for BlockWriterOptions {
    fn default() -> Self {
        Self {
            chunk_range: DEFAULT_BLOCK_DURATION,
            segment_size: DEFAULT_SEGMENT_SIZE,
            ulid: None,
            thanos: None,
            min_time: None,
            max_time: None,
        }
    }
}

/// An encoded chunk ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedChunk {
    pub min_time: i64,
    pub max_time: i64,
    pub encoding: Encoding,
    pub data: Vec<u8>,
}

/// The end of the `width`-aligned range holding `t` (Prometheus
/// `rangeForTimestamp`): head chunks never cross it.
pub fn range_for_timestamp(t: i64, width: i64) -> i64 {
    if width <= 0 {
        return i64::MAX;
    }
    ((t / width) * width).saturating_add(width)
}

/// Where a chunk that started at `start` and reached `cur` should end so
/// that the chunks up to `max` come out evenly full (Prometheus
/// `computeChunkEndTime`).
pub fn compute_chunk_end_time(start: i64, cur: i64, max: i64, ratio_to_full: f64) -> i64 {
    let n = max.wrapping_sub(start) as f64
        / (cur.wrapping_sub(start).wrapping_add(1) as f64 * ratio_to_full);
    if n <= 1.0 {
        return max;
    }
    (start as f64 + max.wrapping_sub(start) as f64 / n.floor()) as i64
}

/// Cuts float samples into XOR chunks exactly like the Prometheus head
/// appender (120 samples target spread evenly up to the chunk range end,
/// hard cap 240 samples / ~1 KiB). Samples must have increasing timestamps.
pub fn cut_xor_chunks(samples: &[(i64, f64)], chunk_range: i64) -> Result<Vec<EncodedChunk>> {
    let mut out = Vec::new();
    let mut cur: Option<(XorEncoder, i64, i64)> = None;
    let mut next_at = i64::MAX;
    for &(t, v) in samples {
        if let Some((_, _, maxt)) = &cur
            && *maxt >= t
        {
            return Err(Error::WriteBlock(format!(
                "out of order sample at {t} (last {maxt})"
            )));
        }
        let needs_cut = match &cur {
            None => true,
            Some((e, _, _)) => e.size() > MAX_BYTES_PER_XOR_CHUNK,
        };
        if needs_cut {
            if let Some((e, mint, maxt)) = cur.take() {
                out.push(EncodedChunk {
                    min_time: mint,
                    max_time: maxt,
                    encoding: Encoding::Xor,
                    data: e.finish(),
                });
            }
            cur = Some((XorEncoder::new(), t, i64::MIN));
            next_at = range_for_timestamp(t, chunk_range);
        }
        let (e, mint, maxt) = cur
            .as_mut()
            .ok_or_else(|| Error::WriteBlock("no head chunk".into()))?;
        let num = e.num_samples();
        if num == 0 {
            *mint = t;
            next_at = range_for_timestamp(t, chunk_range);
        }
        if num == SAMPLES_PER_CHUNK / 4 {
            next_at = compute_chunk_end_time(*mint, *maxt, next_at, 4.0);
        }
        if t >= next_at || num >= SAMPLES_PER_CHUNK * 2 {
            let (e, mint, maxt) = cur
                .take()
                .ok_or_else(|| Error::WriteBlock("no head chunk".into()))?;
            out.push(EncodedChunk {
                min_time: mint,
                max_time: maxt,
                encoding: Encoding::Xor,
                data: e.finish(),
            });
            cur = Some((XorEncoder::new(), t, i64::MIN));
            next_at = range_for_timestamp(t, chunk_range);
        }
        let (e, _, maxt) = cur
            .as_mut()
            .ok_or_else(|| Error::WriteBlock("no head chunk".into()))?;
        e.append(t, v);
        *maxt = t;
    }
    if let Some((e, mint, maxt)) = cur.take() {
        out.push(EncodedChunk {
            min_time: mint,
            max_time: maxt,
            encoding: Encoding::Xor,
            data: e.finish(),
        });
    }
    Ok(out)
}

/// Target size of a histogram chunk (Prometheus `TargetBytesPerHistogramChunk`).
pub const TARGET_BYTES_PER_HISTOGRAM_CHUNK: usize = 1024;
/// Minimum samples before a histogram chunk is cut for size.
pub const MIN_SAMPLES_PER_HISTOGRAM_CHUNK: usize = 10;

fn histogram_header(
    prev_count: Option<f64>,
    count: f64,
    hint: CounterResetHint,
) -> CounterResetHint {
    match (hint, prev_count) {
        (CounterResetHint::Gauge, _) => CounterResetHint::Gauge,
        (_, None) => CounterResetHint::Unknown,
        (_, Some(p)) if count < p => CounterResetHint::CounterReset,
        _ => CounterResetHint::NotCounterReset,
    }
}

/// Cuts integer histograms into histogram chunks: a new chunk when the
/// bucket layout changes, after a stale marker, on a counter reset (count
/// decreasing; the chunk header then says so) or once a chunk holds ~1 KiB
/// and at least 10 samples. Valid for Prometheus, but unlike
/// [`cut_xor_chunks`] not guaranteed to cut at the same places as its head.
pub fn cut_histogram_chunks(samples: &[(i64, Histogram)]) -> Result<Vec<EncodedChunk>> {
    cut_hist_chunks::<HistogramEncoder>(samples)
}

/// Float-histogram version of [`cut_histogram_chunks`].
pub fn cut_float_histogram_chunks(samples: &[(i64, FloatHistogram)]) -> Result<Vec<EncodedChunk>> {
    cut_hist_chunks::<FloatHistogramEncoder>(samples)
}

/// What [`cut_hist_chunks`] needs of the integer and float histogram encoders.
trait HistEncoder: Sized {
    type Sample;
    const ENCODING: Encoding;
    fn start(header: CounterResetHint) -> Self;
    fn num_samples(&self) -> usize;
    fn size(&self) -> usize;
    fn can_append(&self, h: &Self::Sample) -> bool;
    fn append(&mut self, t: i64, h: &Self::Sample) -> Result<()>;
    fn finish(self) -> Vec<u8>;
    /// (sum, count as float, counter-reset hint) of a sample.
    fn facts(h: &Self::Sample) -> (f64, f64, CounterResetHint);
}

macro_rules! hist_encoder {
    ($enc:ty, $sample:ty, $encoding:expr) => {
        impl HistEncoder for $enc {
            type Sample = $sample;
            const ENCODING: Encoding = $encoding;
            fn start(header: CounterResetHint) -> Self {
                <$enc>::new(header)
            }
            fn num_samples(&self) -> usize {
                <$enc>::num_samples(self)
            }
            fn size(&self) -> usize {
                <$enc>::size(self)
            }
            fn can_append(&self, h: &$sample) -> bool {
                <$enc>::can_append(self, h)
            }
            fn append(&mut self, t: i64, h: &$sample) -> Result<()> {
                <$enc>::append(self, t, h)
            }
            fn finish(self) -> Vec<u8> {
                <$enc>::finish(self)
            }
            fn facts(h: &$sample) -> (f64, f64, CounterResetHint) {
                (h.sum, h.count as f64, h.counter_reset_hint)
            }
        }
    };
}
hist_encoder!(HistogramEncoder, Histogram, Encoding::Histogram);
hist_encoder!(
    FloatHistogramEncoder,
    FloatHistogram,
    Encoding::FloatHistogram
);

fn cut_hist_chunks<E: HistEncoder>(samples: &[(i64, E::Sample)]) -> Result<Vec<EncodedChunk>> {
    let close = |(e, mint, maxt): (E, i64, i64)| EncodedChunk {
        min_time: mint,
        max_time: maxt,
        encoding: E::ENCODING,
        data: e.finish(),
    };
    let mut out = Vec::new();
    let mut cur: Option<(E, i64, i64)> = None;
    let mut prev: Option<f64> = None;
    for (t, h) in samples {
        let (sum, count, hint) = E::facts(h);
        let stale = aeon_model::is_stale_nan(sum);
        let reset = !stale && prev.is_some_and(|p| count < p);
        let full = cur.as_ref().is_some_and(|(e, _, _)| {
            e.size() >= TARGET_BYTES_PER_HISTOGRAM_CHUNK
                && e.num_samples() >= MIN_SAMPLES_PER_HISTOGRAM_CHUNK
        });
        let cut = match &cur {
            None => true,
            Some((e, _, maxt)) => {
                if *maxt >= *t {
                    return Err(Error::WriteBlock(format!(
                        "out of order histogram sample at {t} (last {maxt})"
                    )));
                }
                !e.can_append(h) || reset || full
            }
        };
        if cut {
            if let Some(c) = cur.take() {
                out.push(close(c));
            }
            cur = Some((E::start(histogram_header(prev, count, hint)), *t, *t));
        }
        if let Some((e, _, maxt)) = cur.as_mut() {
            e.append(*t, h)?;
            *maxt = *t;
        }
        if !stale {
            prev = Some(count);
        }
    }
    out.extend(cur.take().map(close));
    Ok(out)
}

/// Streams series (in label order) into a new block.
#[derive(Debug)]
pub struct BlockWriter {
    parent: PathBuf,
    tmp: PathBuf,
    ulid: Ulid,
    opts: BlockWriterOptions,
    chunks: Option<ChunkWriter>,
    series: Vec<(Labels, Vec<ChunkMeta>)>,
    num_samples: u64,
    num_chunks: u64,
    mint: i64,
    maxt: i64,
}

impl BlockWriter {
    pub fn new(parent: &Path, opts: BlockWriterOptions) -> Result<Self> {
        let ulid = match opts.ulid {
            Some(u) => u,
            None => Ulid::new(),
        };
        let tmp = parent.join(format!("{ulid}.tmp"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::write(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| Error::write(&tmp, e))?;
        let chunks = ChunkWriter::new(&tmp.join("chunks"), opts.segment_size)?;
        Ok(Self {
            parent: parent.into(),
            tmp,
            ulid,
            opts,
            chunks: Some(chunks),
            series: Vec::new(),
            num_samples: 0,
            num_chunks: 0,
            mint: i64::MAX,
            maxt: i64::MIN,
        })
    }

    pub fn ulid(&self) -> Ulid {
        self.ulid
    }

    /// Adds a series from already encoded chunks (sorted by time).
    pub fn add_series_chunks(&mut self, labels: Labels, chunks: &[EncodedChunk]) -> Result<()> {
        if chunks.is_empty() {
            return Ok(());
        }
        if let Some((last, _)) = self.series.last()
            && *last >= labels
        {
            return Err(Error::WriteBlock(format!(
                "series {labels} added out of order (after {last})"
            )));
        }
        let mut metas = Vec::with_capacity(chunks.len());
        for c in chunks {
            let w = self
                .chunks
                .as_mut()
                .ok_or_else(|| Error::WriteBlock("writer already finished".into()))?;
            let r = w.write_chunk(c.encoding, &c.data)?;
            metas.push(ChunkMeta {
                min_time: c.min_time,
                max_time: c.max_time,
                r#ref: r,
            });
            self.num_samples += crate::chunkenc::num_samples(&c.data) as u64;
            self.num_chunks += 1;
            self.mint = self.mint.min(c.min_time);
            self.maxt = self.maxt.max(c.max_time);
        }
        self.series.push((labels, metas));
        Ok(())
    }

    /// Adds a float series, cutting chunks like the Prometheus head.
    pub fn add_float_series(&mut self, labels: Labels, samples: &[(i64, f64)]) -> Result<()> {
        let chunks = cut_xor_chunks(samples, self.opts.chunk_range)
            .map_err(|e| Error::WriteBlock(format!("series {labels}: {e}")))?;
        self.add_series_chunks(labels, &chunks)
    }

    /// Adds an integer native histogram series (see [`cut_histogram_chunks`]).
    pub fn add_histogram_series(
        &mut self,
        labels: Labels,
        samples: &[(i64, Histogram)],
    ) -> Result<()> {
        let chunks = cut_histogram_chunks(samples)
            .map_err(|e| Error::WriteBlock(format!("series {labels}: {e}")))?;
        self.add_series_chunks(labels, &chunks)
    }

    /// Adds a float native histogram series.
    pub fn add_float_histogram_series(
        &mut self,
        labels: Labels,
        samples: &[(i64, FloatHistogram)],
    ) -> Result<()> {
        let chunks = cut_float_histogram_chunks(samples)
            .map_err(|e| Error::WriteBlock(format!("series {labels}: {e}")))?;
        self.add_series_chunks(labels, &chunks)
    }

    /// Discards the partially written block.
    pub fn abort(mut self) -> Result<()> {
        self.chunks.take();
        std::fs::remove_dir_all(&self.tmp).map_err(|e| Error::write(&self.tmp, e))
    }

    /// Writes index, tombstones and meta.json, then renames the directory
    /// into place. Returns the final meta and directory.
    pub fn finish(mut self) -> Result<(BlockMeta, PathBuf)> {
        let mut chunk_max = 0;
        if let Some(w) = self.chunks.take() {
            chunk_max = w.max_chunk_size();
            w.finish()?;
        }
        let mut symbols: BTreeSet<String> = BTreeSet::new();
        symbols.insert(String::new());
        for (ls, _) in &self.series {
            for l in ls.iter() {
                if !symbols.contains(&l.name) {
                    symbols.insert(l.name.clone());
                }
                if !symbols.contains(&l.value) {
                    symbols.insert(l.value.clone());
                }
            }
        }
        let mut iw = IndexWriter::create(&self.tmp.join("index"), symbols)?;
        for (ls, metas) in &self.series {
            iw.add_series(ls, metas)?;
        }
        let series_max = iw.series_max_size();
        iw.finish()?;
        tombstones::write_dir(&self.tmp, &tombstones::Tombstones::new())?;
        let (mint, maxt) = if self.series.is_empty() {
            (0, 0)
        } else {
            (self.mint, self.maxt.saturating_add(1))
        };
        let mut meta = BlockMeta::new(
            self.ulid,
            self.opts.min_time.unwrap_or(mint),
            self.opts.max_time.unwrap_or(maxt),
        );
        meta.stats.num_samples = self.num_samples;
        meta.stats.num_series = self.series.len() as u64;
        meta.stats.num_chunks = self.num_chunks;
        meta.thanos = self.opts.thanos.clone();
        if let Some(t) = meta.thanos.as_mut() {
            t.index_stats.series_max_size = series_max as i64;
            t.index_stats.chunk_max_size = chunk_max as i64;
        }
        meta.write_to_dir(&self.tmp)?;
        fsutil::sync_dir(&self.tmp.join("chunks"))?;
        fsutil::sync_dir(&self.tmp)?;
        let dst = self.parent.join(self.ulid.to_string());
        std::fs::rename(&self.tmp, &dst).map_err(|e| Error::write(&dst, e))?;
        fsutil::sync_dir(&self.parent)?;
        Ok((meta, dst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlockReader;
    use crate::chunkenc::{SampleValue, Span};

    fn h(count: u64, schema: i32) -> Histogram {
        Histogram {
            schema,
            count,
            sum: count as f64,
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![count as i64 / 2, 0],
            ..Default::default()
        }
    }

    #[test]
    fn histogram_series_round_trip_with_cuts() {
        let mut samples: Vec<(i64, Histogram)> =
            (0..300).map(|i| (i * 1000, h(i as u64 * 2, 0))).collect();
        samples[150].1 = h(1, 0); // counter reset
        samples[200].1 = h(500, 1); // layout change
        for s in samples.iter_mut().skip(201) {
            s.1.schema = 1;
        }
        samples[250].1 = Histogram::stale();
        let chunks = cut_histogram_chunks(&samples).unwrap();
        assert!(chunks.len() >= 4, "{}", chunks.len());
        let d = tempfile::tempdir().unwrap();
        let opts = BlockWriterOptions {
            thanos: Some(ThanosMeta::new(
                [("replica".to_string(), "a".to_string())].into(),
                "test",
            )),
            ..Default::default()
        };
        let mut w = BlockWriter::new(d.path(), opts).unwrap();
        let ls = Labels::from_pairs(&[("__name__", "h")]);
        w.add_histogram_series(ls.clone(), &samples).unwrap();
        let fs: Vec<(i64, FloatHistogram)> =
            samples.iter().map(|(t, h)| (*t, h.to_float())).collect();
        w.add_float_histogram_series(Labels::from_pairs(&[("__name__", "hf")]), &fs)
            .unwrap();
        let (meta, dir) = w.finish().unwrap();
        assert_eq!(meta.stats.num_samples, 600);
        let t = meta.thanos.as_ref().unwrap();
        assert!(
            t.index_stats.series_max_size > 10 && t.index_stats.chunk_max_size > 100,
            "{:?}",
            t.index_stats
        );
        assert_eq!(BlockMeta::read_from_dir(&dir).unwrap(), meta);
        let b = BlockReader::open(&dir).unwrap();
        let all = b.select(&[], i64::MIN, i64::MAX).unwrap();
        let got = b.samples(&all[0], i64::MIN, i64::MAX).unwrap();
        assert_eq!(got.len(), 300);
        for ((t, v), (wt, wh)) in got.iter().zip(&samples) {
            assert_eq!(t, wt);
            let SampleValue::Histogram(g) = v else {
                panic!("not a histogram")
            };
            assert_eq!(
                (g.count, g.schema, g.sum.to_bits()),
                (wh.count, wh.schema, wh.sum.to_bits())
            );
        }
        let got = b.samples(&all[1], i64::MIN, i64::MAX).unwrap();
        assert_eq!(got.len(), 300);
        let reset_chunk =
            crate::chunkenc::HistogramChunk::new(&b.chunk(&all[0].chunks[1]).unwrap().data)
                .unwrap()
                .counter_reset_header();
        assert!(matches!(
            reset_chunk,
            CounterResetHint::NotCounterReset | CounterResetHint::CounterReset
        ));
    }
}
