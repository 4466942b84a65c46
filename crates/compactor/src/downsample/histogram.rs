//! Downsampling native histograms the way Thanos does (≥ 0.35): a run of
//! histogram samples (integer or float) becomes aggregate chunks with three
//! of the five sub-chunks —
//! - count (XOR): histograms per window;
//! - sum (float histogram, gauge): the sum of the window's histograms;
//! - counter (float histogram): the running counter state at the window
//!   end, counter resets compensated (the reset value is added; otherwise
//!   the delta to the previous histogram is added).
//!
//! min and max are absent. Histograms of one batch are brought to the
//! smallest schema of the batch first (as Thanos does), and every
//! histogram of one sub-chunk is laid out on the union of their buckets so
//! they share one chunk layout. Custom-bucket histograms (schema −53) with
//! differing boundaries, and batches whose zero threshold changes, are
//! refused with an error (the block then gets a no-downsample mark) —
//! Thanos panics on the former.

use std::collections::BTreeSet;

use aeon_model::histogram::FloatHistogram as Histo;
use aeon_tsdb_block::EncodedChunk;
use aeon_tsdb_block::chunkenc::{
    AggrChunk, CUSTOM_BUCKETS_SCHEMA, CounterResetHint, Encoding, FloatHistogram,
    FloatHistogramChunk, FloatHistogramEncoder, XorEncoder, encode_aggr,
};

use super::{
    COUNT, COUNTER, SUM, downsample_batch, raw_batches, sub_chunks, target_chunk_count, window_end,
    xor_samples,
};

type Res<T> = std::result::Result<T, String>;

/// `h` with its buckets keyed by index.
fn to_model(h: &FloatHistogram) -> Res<Histo> {
    h.to_model().map_err(|e| e.to_string())
}

/// Whether `b` may be added to or subtracted from `a` within one batch:
/// the same schema (after reduction to the batch's), zero threshold and
/// custom bounds. Prometheus would widen or reduce instead; downsampling
/// refuses, and the block gets a no-downsample mark.
fn compatible(a: &Histo, b: &Histo) -> Res<()> {
    if a.schema != b.schema {
        return Err(format!(
            "histograms of schema {} and {} cannot be added",
            a.schema, b.schema
        ));
    }
    if a.zero_threshold != b.zero_threshold {
        return Err(format!(
            "zero threshold changes from {} to {} within a batch",
            b.zero_threshold, a.zero_threshold
        ));
    }
    if a.custom_values != b.custom_values {
        return Err("custom bucket boundaries change within a batch".into());
    }
    Ok(())
}

/// `acc += h` for compatible histograms.
fn add(acc: &mut Histo, h: &Histo) -> Res<()> {
    compatible(acc, h)?;
    acc.add(h).map_err(|e| format!("{e:?}"))
}

/// `acc -= h` for compatible histograms.
fn sub(acc: &mut Histo, h: &Histo) -> Res<()> {
    compatible(acc, h)?;
    acc.sub(h).map_err(|e| format!("{e:?}"))
}

/// Window state of histograms plus the series-wide counter.
#[derive(Debug, Default)]
struct HistAggregator {
    schema: i32,
    total: u64,
    count: u64,
    sum: Option<Histo>,
    counter: Option<Histo>,
    previous: Option<Histo>,
}

impl HistAggregator {
    fn new(schema: i32) -> Self {
        Self {
            schema,
            ..Default::default()
        }
    }

    fn reset(&mut self) {
        self.count = 0;
        self.sum = None;
    }

    fn add(&mut self, h: Histo) -> Res<()> {
        if h.schema < self.schema && h.schema != CUSTOM_BUCKETS_SCHEMA {
            return Err(format!(
                "schema {} below the batch minimum {}",
                h.schema, self.schema
            ));
        }
        // Reset detection looks at the histogram as scraped (its schema and
        // hint), against the previous one as aggregated.
        let reset = self
            .previous
            .as_ref()
            .map(|p| h.counter_reset_hint != CounterResetHint::Gauge && h.detect_reset(p));
        let fh = if h.schema > self.schema && h.schema != CUSTOM_BUCKETS_SCHEMA {
            h.copy_to_schema(self.schema)
        } else {
            h
        };
        match (self.counter.as_mut(), self.previous.as_ref(), reset) {
            (Some(c), _, Some(true)) => add(c, &fh)?,
            (Some(c), Some(prev), Some(false)) => {
                // counter += fh - prev
                add(c, &fh)?;
                sub(c, prev)?;
            }
            _ => self.counter = Some(fh.clone()),
        }
        match self.sum.as_mut() {
            Some(s) => add(s, &fh)?,
            None => {
                let mut s = fh.clone();
                s.counter_reset_hint = CounterResetHint::Gauge;
                self.sum = Some(s);
            }
        }
        self.previous = Some(fh);
        self.count += 1;
        self.total += 1;
        Ok(())
    }
}

fn min_schema(data: &[(i64, Histo)]) -> i32 {
    data.iter()
        .filter(|(_, h)| !h.is_stale())
        .map(|(_, h)| h.schema)
        .min()
        .unwrap_or(0)
}

/// Aggregates histograms per window of `r`; `emit(window_end, aggregator)`.
/// Returns the last window timestamp.
fn hist_windows(
    data: Vec<(i64, Histo)>,
    r: i64,
    mut emit: impl FnMut(i64, &HistAggregator),
) -> Res<i64> {
    let mut a = HistAggregator::new(min_schema(&data));
    let mut next_t = -1i64;
    let last_t = data.last().map_or(0, |s| s.0);
    for (t, h) in data {
        if h.is_stale() {
            continue;
        }
        if t > next_t {
            if next_t != -1 {
                emit(next_t, &a);
            }
            a.reset();
            next_t = window_end(t, r).min(last_t);
        }
        a.add(h)?;
    }
    if next_t != -1 {
        emit(next_t, &a);
    }
    Ok(next_t)
}

/// Encodes histograms (one schema) into a float-histogram sub-chunk laid out
/// on the union of their buckets.
fn encode_hist_sub(samples: &[(i64, Histo)], header: CounterResetHint) -> Res<Vec<u8>> {
    let mut pos = BTreeSet::new();
    let mut neg = BTreeSet::new();
    for (_, h) in samples {
        if let Some((_, f)) = samples.first() {
            compatible(f, h)?;
        }
        pos.extend(h.positive.keys().copied());
        neg.extend(h.negative.keys().copied());
    }
    let mut e = FloatHistogramEncoder::new(header);
    for (t, h) in samples {
        let mut fh = FloatHistogram::from_model(h, pos.iter().copied(), neg.iter().copied());
        fh.counter_reset_hint = header;
        e.append(*t, &fh).map_err(|e| e.to_string())?;
    }
    Ok(e.finish())
}

/// Collects the three histogram aggregates of one output chunk.
#[derive(Default)]
struct HistBuilder {
    mint: i64,
    maxt: i64,
    count: Vec<(i64, f64)>,
    sum: Vec<(i64, Histo)>,
    counter: Vec<(i64, Histo)>,
}

impl HistBuilder {
    fn new() -> Self {
        Self {
            mint: i64::MAX,
            maxt: i64::MIN,
            ..Default::default()
        }
    }

    fn window(&mut self, t: i64) {
        self.mint = self.mint.min(t);
        self.maxt = self.maxt.max(t);
    }

    fn finish(self, gauge: bool) -> Res<EncodedChunk> {
        let mut subs: [Option<(Encoding, Vec<u8>)>; 5] = Default::default();
        if !self.count.is_empty() {
            let mut e = XorEncoder::new();
            for &(t, v) in &self.count {
                e.append(t, v);
            }
            subs[COUNT] = Some((Encoding::Xor, e.finish()));
        }
        if !self.sum.is_empty() {
            subs[SUM] = Some((
                Encoding::FloatHistogram,
                encode_hist_sub(&self.sum, CounterResetHint::Gauge)?,
            ));
        }
        if !self.counter.is_empty() {
            let header = if gauge {
                CounterResetHint::Gauge
            } else {
                CounterResetHint::Unknown
            };
            subs[COUNTER] = Some((
                Encoding::FloatHistogram,
                encode_hist_sub(&self.counter, header)?,
            ));
        }
        Ok(EncodedChunk {
            min_time: self.mint,
            max_time: self.maxt,
            encoding: Encoding::Aggr,
            data: encode_aggr(std::array::from_fn(|i| {
                subs[i].as_ref().map(|(enc, d)| (*enc, d.as_slice()))
            })),
        })
    }
}

fn is_gauge(data: &[(i64, Histo)]) -> bool {
    data.first()
        .is_some_and(|(_, h)| h.counter_reset_hint == CounterResetHint::Gauge)
}

/// Downsamples raw histogram samples (sorted; integer ones converted to
/// float) to aggregate chunks at resolution `r`.
pub fn downsample_raw_hist(data: &[(i64, FloatHistogram)], r: i64) -> Res<Vec<EncodedChunk>> {
    let mut out = Vec::new();
    for batch in raw_batches(data, r) {
        let batch: Vec<(i64, Histo)> = batch
            .iter()
            .filter(|(_, h)| !h.sum.is_nan())
            .map(|(t, h)| to_model(h).map(|s| (*t, s)))
            .collect::<Res<_>>()?;
        if batch.is_empty() {
            continue;
        }
        let gauge = is_gauge(&batch);
        let mut b = HistBuilder::new();
        hist_windows(batch, r, |t, a| {
            b.window(t);
            b.count.push((t, a.count as f64));
            if let Some(s) = &a.sum {
                b.sum.push((t, s.clone()));
            }
            if let Some(c) = &a.counter {
                b.counter.push((t, c.clone()));
            }
        })?;
        out.push(b.finish(gauge)?);
    }
    Ok(out)
}

fn hist_sub_samples(chunks: &[EncodedChunk], i: usize) -> Res<Vec<(i64, Histo)>> {
    let mut out: Vec<(i64, Histo)> = Vec::new();
    for c in chunks {
        let subs = sub_chunks(&c.data)?;
        let Some((enc, d)) = subs[i] else { continue };
        if enc != Encoding::FloatHistogram {
            return Err(format!(
                "histogram aggregate {i} has encoding {}",
                enc.name()
            ));
        }
        let fc = FloatHistogramChunk::new(d).map_err(|e| e.to_string())?;
        for (t, h) in fc.samples().map_err(|e| e.to_string())? {
            // Skip stale markers and anything going back in time.
            if h.sum.is_nan() || out.last().is_some_and(|l| t < l.0) {
                continue;
            }
            out.push((t, to_model(&h)?));
        }
    }
    Ok(out)
}

/// Downsamples a series' histogram aggregate chunks (sorted) to `r`, along
/// chunk boundaries like the float path.
pub fn downsample_aggr_hist(
    chunks: &[EncodedChunk],
    in_res: i64,
    r: i64,
) -> Res<Vec<EncodedChunk>> {
    let (Some(first), Some(last)) = (chunks.first(), chunks.last()) else {
        return Ok(Vec::new());
    };
    let num_samples: u64 = chunks
        .iter()
        .map(|c| AggrChunk::new(&c.data).num_samples())
        .sum();
    let num_chunks = target_chunk_count(
        first.min_time,
        last.max_time,
        in_res,
        r,
        num_samples as usize,
    );
    let batch_size = (chunks.len() / num_chunks).max(1);
    let mut out = Vec::new();
    for part in chunks.chunks(batch_size) {
        let mut b = HistBuilder::new();
        let counters = hist_sub_samples(part, COUNTER)?;
        let gauge = is_gauge(&counters);
        if !counters.is_empty() {
            let mut got = Vec::new();
            hist_windows(counters, r, |t, a| {
                if let Some(c) = &a.counter {
                    got.push((t, c.clone()));
                }
            })?;
            for (t, c) in got {
                b.window(t);
                b.counter.push((t, c));
            }
        }
        let sums = hist_sub_samples(part, SUM)?;
        if !sums.is_empty() {
            let mut got = Vec::new();
            hist_windows(sums, r, |t, a| {
                if let Some(s) = &a.sum {
                    got.push((t, s.clone()));
                }
            })?;
            for (t, s) in got {
                b.window(t);
                b.sum.push((t, s));
            }
        }
        let mut counts: Vec<(i64, f64)> = Vec::new();
        for c in part {
            let subs = sub_chunks(&c.data)?;
            if let Some((enc, d)) = subs[COUNT] {
                if enc != Encoding::Xor {
                    return Err(format!("count aggregate has encoding {}", enc.name()));
                }
                for s in xor_samples(d)? {
                    if !aeon_model::is_stale_nan(s.1) && counts.last().is_none_or(|l| s.0 >= l.0) {
                        counts.push(s);
                    }
                }
            }
        }
        if !counts.is_empty() {
            downsample_batch(&counts, r, |t, a| {
                b.window(t);
                b.count.push((t, a.sum));
            });
        }
        if b.count.is_empty() && b.sum.is_empty() && b.counter.is_empty() {
            continue;
        }
        out.push(b.finish(gauge)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
