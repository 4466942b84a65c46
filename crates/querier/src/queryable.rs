//! The PromQL adapter: aeon-promql's [`Queryable`] over the [`Proxy`]:
//! matchers and time range become a Series request, wire chunks are decoded
//! into samples and HA replicas are deduplicated.
//!
//! The engine is synchronous; run it on a blocking thread
//! (`tokio::task::spawn_blocking`) — `select` blocks on the runtime handle.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aeon_model::dedup;
use aeon_model::{Labels, Matcher, Sample};
use aeon_promql::FloatHistogram;
use aeon_promql::{Queryable, SelectHints, SelectedSeries};
use aeon_storeapi::pb::thanos::{self, Aggr, AggrChunk};
use aeon_storeapi::{SeriesFrame, StoreApi, convert};
use aeon_tsdb_block::chunkenc::{
    self as enc, CounterResets, FloatHistogramChunk, HistogramChunk, XorChunk,
};
use futures::StreamExt;

use crate::args::DedupFunc;
use crate::proxy::Proxy;

/// Per-query options (flags overridden by request parameters).
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryOptions {
    /// Deduplicate replicas (`dedup`, default true).
    pub(crate) dedup: bool,
    /// Replica labels (`replicaLabels[]` or `--query.replica-label`).
    pub(crate) replica_labels: Vec<String>,
    /// Deduplication algorithm.
    pub(crate) dedup_func: DedupFunc,
    /// WARN (true) or ABORT (false) on store failures.
    pub(crate) partial_response: bool,
    /// `max_source_resolution` in ms (0 = raw only).
    pub(crate) max_source_resolution: i64,
    /// When the whole query must be done.
    pub(crate) deadline: Option<tokio::time::Instant>,
    /// Cancelled when the client goes away: selects in flight stop.
    pub(crate) cancel: Option<tokio_util::sync::CancellationToken>,
    /// The vertical shard this query computes (`shard_info`, set by a
    /// query-frontend), already adjusted to the replica labels
    /// ([`QueryOptions::effective_shard`]).
    pub(crate) shard: Option<thanos::ShardInfo>,
}

impl QueryOptions {
    /// Whether replica labels are stripped and replicas merged.
    pub(crate) fn dedup_active(&self) -> bool {
        self.dedup && !self.replica_labels.is_empty()
    }

    /// The shard as stores must apply it: replicas of one series must land
    /// in the same shard, so with dedup active the replica labels never
    /// count in the hash (Thanos gets the same from stores that hash
    /// series after stripping `without_replica_labels`; ours keep them on
    /// the wire).
    pub(crate) fn effective_shard(
        shard: Option<thanos::ShardInfo>,
        dedup_active: bool,
        replica_labels: &[String],
    ) -> Option<thanos::ShardInfo> {
        let mut s = shard.filter(|s| s.total_shards >= 1)?;
        if dedup_active {
            if s.by {
                s.labels.retain(|l| !replica_labels.contains(l));
            } else {
                for r in replica_labels {
                    if !s.labels.contains(r) {
                        s.labels.push(r.clone());
                    }
                }
            }
        }
        Some(s)
    }
}

/// Aggregates of downsampled chunks the enclosing function needs
/// (COMPAT-NOTES §1.3).
pub(crate) fn aggregates_for(func: Option<&str>) -> Vec<Aggr> {
    match func.unwrap_or_default() {
        f if f.starts_with("min") => vec![Aggr::Min],
        f if f.starts_with("max") => vec![Aggr::Max],
        f if f.starts_with("count") => vec![Aggr::Count],
        f if f.starts_with("sum_") => vec![Aggr::Sum],
        f if dedup::is_counter_func(Some(f)) => vec![Aggr::Counter],
        _ => vec![Aggr::Count, Aggr::Sum],
    }
}

/// One decoded sample: a float, or a native histogram.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QPoint {
    pub(crate) t: i64,
    /// The float value (0 for histograms).
    pub(crate) v: f64,
    pub(crate) h: Option<Arc<FloatHistogram>>,
}

impl QPoint {
    /// A float sample.
    pub(crate) fn float(t: i64, v: f64) -> Self {
        Self { t, v, h: None }
    }
}

impl dedup::Point for QPoint {
    fn t(&self) -> i64 {
        self.t
    }
    fn float(&self) -> Option<f64> {
        self.h.is_none().then_some(self.v)
    }
    fn with_float(&self, v: f64) -> Self {
        Self {
            t: self.t,
            v,
            h: self.h.clone(),
        }
    }
}

fn decode_chunk(c: &thanos::Chunk) -> Result<Vec<QPoint>, String> {
    let hist = |t: i64, h: &enc::FloatHistogram| {
        let h = h
            .to_model()
            .map_err(|e| format!("decoding histogram chunk: {e}"))?;
        Ok(QPoint {
            t,
            v: 0.0,
            h: Some(Arc::new(h)),
        })
    };
    match thanos::chunk::Encoding::try_from(c.r#type) {
        Ok(thanos::chunk::Encoding::Xor) => XorChunk::new(&c.data)
            .and_then(|x| x.samples())
            .map(|s| s.into_iter().map(|s| QPoint::float(s.t, s.v)).collect())
            .map_err(|e| format!("decoding XOR chunk: {e}")),
        Ok(thanos::chunk::Encoding::Histogram) => HistogramChunk::new(&c.data)
            .and_then(|x| x.samples())
            .map_err(|e| format!("decoding histogram chunk: {e}"))?
            .iter()
            .map(|(t, h)| hist(*t, &h.to_float()))
            .collect(),
        Ok(thanos::chunk::Encoding::FloatHistogram) => FloatHistogramChunk::new(&c.data)
            .and_then(|x| x.samples())
            .map_err(|e| format!("decoding float histogram chunk: {e}"))?
            .iter()
            .map(|(t, h)| hist(*t, h))
            .collect(),
        _ => Err(format!("unknown chunk encoding {}", c.r#type)),
    }
}

/// Samples of one chunk: the raw chunk, or the aggregate `func` needs.
pub(crate) fn decode_aggr(c: &AggrChunk, func: Option<&str>) -> Result<Vec<QPoint>, String> {
    if let Some(raw) = &c.raw {
        return decode_chunk(raw);
    }
    let need = |x: &Option<thanos::Chunk>, name: &str| {
        x.as_ref()
            .ok_or_else(|| format!("downsampled chunk lacks the {name} aggregate"))
            .and_then(decode_chunk)
    };
    match aggregates_for(func).as_slice() {
        [Aggr::Min] => need(&c.min, "min"),
        [Aggr::Max] => need(&c.max, "max"),
        [Aggr::Count] => need(&c.count, "count"),
        [Aggr::Sum] => need(&c.sum, "sum"),
        [Aggr::Counter] => need(&c.counter, "counter"),
        _ => {
            let sum = need(&c.sum, "sum")?;
            let count = need(&c.count, "count")?;
            let mut out = Vec::with_capacity(sum.len());
            let mut ci = count.iter().peekable();
            for s in sum {
                while ci.peek().is_some_and(|c| c.t < s.t) {
                    ci.next();
                }
                if let Some(c) = ci.peek().filter(|c| c.t == s.t) {
                    out.push(QPoint::float(s.t, s.v / c.v));
                }
            }
            Ok(out)
        }
    }
}

/// Samples of one replica's series: chunks from several stores serving the
/// same replica (sidecar and store gateway) may overlap; their union is taken.
///
/// Counter aggregates of downsampled chunks are read as Thanos reads them:
/// every chunk in order of its start, through one [`apply_counter_resets`]
/// that skips samples older than the last one. Blocks of different
/// resolutions overlap where the store filled a gap with finer blocks;
/// reading them as separate lanes would mix running totals that started
/// from different values.
pub(crate) fn replica_samples(
    mut chunks: Vec<AggrChunk>,
    func: Option<&str>,
) -> Result<Vec<QPoint>, String> {
    if counter_aggregates(&chunks, func) {
        chunks.sort_by_key(|c| (c.min_time, c.max_time));
        let mut decoded = Vec::with_capacity(chunks.len());
        for c in &chunks {
            decoded.push(decode_aggr(c, func)?);
        }
        return Ok(apply_counter_resets(decoded));
    }
    let mut lanes = Vec::new();
    for lane in split_lanes(chunks) {
        lanes.push(lane_samples(&lane, func)?);
    }
    Ok(dedup::chain(&lanes))
}

/// [`dedup::split_lanes`] over wire chunks.
fn split_lanes(chunks: Vec<AggrChunk>) -> Vec<Vec<AggrChunk>> {
    dedup::split_lanes(chunks, |c| (c.min_time, c.max_time))
}

/// Samples of one lane (time-ordered, non-overlapping chunks of one series).
///
/// Counter aggregates of downsampled chunks (what `rate` and friends read)
/// go through [`apply_counter_resets`]; everything else is the chunks'
/// samples in time order, a repeated timestamp keeping the first sample.
fn lane_samples(lane: &[AggrChunk], func: Option<&str>) -> Result<Vec<QPoint>, String> {
    let mut samples: Vec<QPoint> = Vec::new();
    if counter_aggregates(lane, func) {
        let mut decoded = Vec::with_capacity(lane.len());
        for c in lane {
            decoded.push(decode_aggr(c, func)?);
        }
        return Ok(apply_counter_resets(decoded));
    }
    for c in lane {
        for s in decode_aggr(c, func)? {
            if samples.last().is_none_or(|l| l.t < s.t) {
                samples.push(s);
            }
        }
    }
    Ok(samples)
}

/// Whether `func` reads the counter aggregate and some chunk is downsampled.
fn counter_aggregates(chunks: &[AggrChunk], func: Option<&str>) -> bool {
    aggregates_for(func) == [Aggr::Counter] && chunks.iter().any(|c| c.raw.is_none())
}

/// Thanos's counter-reset iterator ([`CounterResets`]) over counter
/// aggregate chunks (and raw chunks mixed with them), in time order: a
/// monotonic series whose increases are the counter's. Native histogram
/// samples pass through in time order (their chunks carry counter-reset
/// hints of their own).
fn apply_counter_resets(chunks: Vec<Vec<QPoint>>) -> Vec<QPoint> {
    let mut out: Vec<QPoint> = Vec::new();
    let mut resets = CounterResets::new();
    for s in chunks.into_iter().flatten() {
        if s.h.is_some() {
            if out.last().is_none_or(|l| l.t < s.t) {
                out.push(s);
            }
            continue;
        }
        if let Some(total) = resets.push(s.t, s.v) {
            out.push(QPoint::float(s.t, total));
        }
    }
    out
}

/// Decodes series that still carry their replica labels and, when dedup is
/// active, merges the replicas of each series (labels minus replica labels)
/// with the configured algorithm. Keeping the replica identity (instead of
/// letting stores strip the labels and then guessing replicas from
/// overlapping chunks, as Thanos does) means a replica is never mixed with
/// another inside one lane, so counters stay monotonic per replica.
pub(crate) fn dedup_series(
    series: Vec<(Labels, Vec<AggrChunk>)>,
    func: Option<&str>,
    opts: &QueryOptions,
) -> Result<Vec<(Labels, Vec<QPoint>)>, String> {
    if !opts.dedup_active() {
        return series
            .into_iter()
            .map(|(l, c)| Ok((l, replica_samples(c, func)?)))
            .collect();
    }
    let names: Vec<&str> = opts.replica_labels.iter().map(String::as_str).collect();
    let mut groups: BTreeMap<Labels, Vec<Vec<QPoint>>> = BTreeMap::new();
    for (l, chunks) in series {
        groups
            .entry(l.without(&names))
            .or_default()
            .push(replica_samples(chunks, func)?);
    }
    Ok(groups
        .into_iter()
        .map(|(l, replicas)| {
            let samples = match opts.dedup_func {
                DedupFunc::Penalty => dedup::penalty(&replicas, dedup::is_counter_func(func)),
                DedupFunc::Chain => dedup::chain(&replicas),
            };
            (l, samples)
        })
        .collect())
}

/// Decodes the chunks of one series whose replicas were merged by the
/// stores (replica labels already stripped): overlapping chunks are split
/// into lanes that stand in for replicas (Thanos's approach). Only the tests
/// use it: queries keep replica labels on the wire ([`series_request`]) and
/// merge replicas with [`dedup_series`].
#[cfg(test)]
pub(crate) fn series_samples(
    chunks: Vec<AggrChunk>,
    func: Option<&str>,
    opts: &QueryOptions,
) -> Result<Vec<QPoint>, String> {
    let lanes = split_lanes(chunks);
    let mut decoded: Vec<Vec<QPoint>> = Vec::with_capacity(lanes.len());
    for lane in lanes {
        decoded.push(lane_samples(&lane, func)?);
    }
    Ok(if opts.dedup_active() && decoded.len() > 1 {
        match opts.dedup_func {
            DedupFunc::Penalty => dedup::penalty(&decoded, dedup::is_counter_func(func)),
            DedupFunc::Chain => dedup::chain(&decoded),
        }
    } else {
        dedup::chain(&decoded)
    })
}

/// The Series request for a select.
pub(crate) fn series_request(
    matchers: &[Matcher],
    hints: &SelectHints,
    opts: &QueryOptions,
) -> thanos::SeriesRequest {
    let strategy = if opts.partial_response {
        thanos::PartialResponseStrategy::Warn
    } else {
        thanos::PartialResponseStrategy::Abort
    };
    thanos::SeriesRequest {
        min_time: hints.start,
        max_time: hints.end,
        matchers: convert::matchers_to_pb(matchers),
        max_resolution_window: opts.max_source_resolution,
        aggregates: aggregates_for(hints.func.as_deref())
            .into_iter()
            .map(|a| a as i32)
            .collect(),
        partial_response_disabled: !opts.partial_response,
        partial_response_strategy: strategy as i32,
        step: hints.step,
        range: hints.range,
        query_hints: Some(thanos::QueryHints {
            step_millis: hints.step,
            func: hints.func.clone().map(|name| thanos::Func { name }),
            range: (hints.range > 0).then_some(thanos::Range {
                millis: hints.range,
            }),
            ..Default::default()
        }),
        // Replica labels stay on: dedup_series needs each series' replica.
        without_replica_labels: Vec::new(),
        shard_info: opts.shard.clone(),
        ..Default::default()
    }
}

/// [`Queryable`] over a [`Proxy`], collecting store warnings.
#[derive(Debug)]
pub(crate) struct StoreQueryable {
    proxy: Arc<Proxy>,
    opts: QueryOptions,
    handle: tokio::runtime::Handle,
    warnings: Mutex<Vec<String>>,
}

impl StoreQueryable {
    /// A queryable for one query.
    pub(crate) fn new(
        proxy: Arc<Proxy>,
        opts: QueryOptions,
        handle: tokio::runtime::Handle,
    ) -> Self {
        Self {
            proxy,
            opts,
            handle,
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// Warnings collected so far (sorted, unique).
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut w = self.warnings.lock().map(|w| w.clone()).unwrap_or_default();
        w.sort();
        w.dedup();
        w
    }

    fn warn(&self, w: String) {
        if let Ok(mut g) = self.warnings.lock() {
            g.push(w);
        }
    }

    /// Selects series asynchronously: labels and deduplicated samples.
    pub(crate) async fn fetch(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> aeon_promql::Result<Vec<(Labels, Vec<QPoint>)>> {
        let work = async {
            let req = series_request(matchers, hints, &self.opts);
            let mut stream = self.proxy.series(req).await.map_err(|e| {
                aeon_promql::Error::Storage(tonic::Status::from(e).message().to_owned())
            })?;
            let mut raw: Vec<(Labels, Vec<AggrChunk>)> = Vec::new();
            // Stores that ignore shard_info send every series: filter here
            // too (a no-op for those that applied it).
            let shard = aeon_storeapi::ShardMatcher::new(self.opts.shard.as_ref());
            while let Some(item) = stream.next().await {
                let resp = item.map_err(|e| {
                    aeon_promql::Error::Storage(tonic::Status::from(e).message().to_owned())
                })?;
                match resp.result {
                    Some(SeriesFrame::Series(s)) if shard.matches(&s.labels) => {
                        raw.push((convert::labels_from_pb_owned(s.labels), s.chunks))
                    }
                    Some(SeriesFrame::Warning(w)) => self.warn(w),
                    _ => {}
                }
            }
            dedup_series(raw, hints.func.as_deref(), &self.opts)
                .map_err(aeon_promql::Error::Storage)
        };
        let timed = async {
            match self.opts.deadline {
                Some(d) => tokio::time::timeout_at(d, work)
                    .await
                    .unwrap_or(Err(aeon_promql::Error::Timeout("query execution"))),
                None => work.await,
            }
        };
        match &self.opts.cancel {
            Some(c) => tokio::select! {
                r = timed => r,
                () = c.cancelled() => Err(aeon_promql::Error::Canceled("query execution")),
            },
            None => timed.await,
        }
    }
}

/// Splits points into runs of floats and runs of histograms.
fn to_chunks(points: Vec<QPoint>) -> Vec<aeon_promql::Chunk> {
    let mut out: Vec<aeon_promql::Chunk> = Vec::new();
    for p in points {
        match (p.h, out.last_mut()) {
            (None, Some(aeon_promql::Chunk::Floats(v))) => v.push(Sample::new(p.t, p.v)),
            (None, _) => out.push(aeon_promql::Chunk::Floats(vec![Sample::new(p.t, p.v)])),
            (Some(h), Some(aeon_promql::Chunk::Histograms(v))) => v.push((p.t, h)),
            (Some(h), _) => out.push(aeon_promql::Chunk::Histograms(vec![(p.t, h)])),
        }
    }
    out
}

impl Queryable for StoreQueryable {
    fn select(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> aeon_promql::Result<Vec<SelectedSeries>> {
        let series = self.handle.block_on(self.fetch(matchers, hints))?;
        Ok(series
            .into_iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(labels, points)| SelectedSeries {
                labels,
                chunks: Box::new(to_chunks(points).into_iter().map(Ok)),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aeon_tsdb_block::chunkenc::XorEncoder;

    fn chunk(samples: &[(i64, f64)]) -> thanos::Chunk {
        let mut e = XorEncoder::new();
        for (t, v) in samples {
            e.append(*t, *v);
        }
        thanos::Chunk {
            r#type: 0,
            data: e.finish().into(),
            hash: 0,
        }
    }

    fn raw(samples: &[(i64, f64)]) -> AggrChunk {
        AggrChunk::raw(samples[0].0, samples[samples.len() - 1].0, chunk(samples))
    }

    fn counter_aggr(min: i64, max: i64, samples: &[(i64, f64)]) -> AggrChunk {
        AggrChunk {
            min_time: min,
            max_time: max,
            counter: Some(chunk(samples)),
            ..Default::default()
        }
    }

    /// Thanos's counter aggregate chunks: a reset inside the first chunk
    /// (raw 10, 20, 2, 12) is already applied to its aggregate (10, 20, 22,
    /// 32) and the true last raw value (12) repeats the last timestamp; the
    /// next chunk starts from raw 17. Read naively, 32 → 17 is a false
    /// reset (an increase of 17 instead of 5).
    #[test]
    fn counter_aggregates_carry_the_true_last_value_across_chunks() {
        let c1 = counter_aggr(
            0,
            899,
            &[
                (0, 10.0),
                (299, 20.0),
                (599, 22.0),
                (899, 32.0),
                (899, 12.0),
            ],
        );
        let c2 = counter_aggr(
            900,
            1499,
            &[(900, 17.0), (1199, 27.0), (1499, 30.0), (1499, 30.0)],
        );
        let got = replica_samples(vec![c1.clone(), c2.clone()], Some("rate")).unwrap();
        let vals: Vec<(i64, f64)> = got.iter().map(|p| (p.t, p.v)).collect();
        assert_eq!(
            vals,
            [
                (0, 10.0),
                (299, 20.0),
                (599, 22.0),
                (899, 32.0),
                (900, 37.0),
                (1199, 47.0),
                (1499, 50.0)
            ]
        );
        // A real reset at the chunk edge (raw 12 → 4) counts 4, like Prometheus.
        let c3 = counter_aggr(900, 1199, &[(900, 4.0), (1199, 9.0), (1199, 9.0)]);
        let got = replica_samples(vec![c1.clone(), c3], Some("increase")).unwrap();
        assert_eq!(got.last().map(|p| (p.t, p.v)), Some((1199, 41.0)));
        // Stale markers are dropped; functions that are not counters read the
        // chunk as it is (no reset handling, duplicate timestamp dropped).
        let stale = counter_aggr(
            900,
            1199,
            &[
                (900, f64::from_bits(aeon_model::STALE_NAN_BITS)),
                (1199, 14.0),
                (1199, 14.0),
            ],
        );
        let got = replica_samples(vec![c1.clone(), stale], Some("rate")).unwrap();
        assert_eq!(got.last().map(|p| (p.t, p.v)), Some((1199, 34.0)));
        // The same chunks without dedup by replica identity: same answer.
        let opts = QueryOptions::default();
        let got = series_samples(vec![c1, c2], Some("rate"), &opts).unwrap();
        assert_eq!(got.last().map(|p| (p.t, p.v)), Some((1499, 50.0)));
    }

    #[test]
    fn aggregates_per_function() {
        assert_eq!(aggregates_for(Some("min_over_time")), [Aggr::Min]);
        assert_eq!(aggregates_for(Some("max_over_time")), [Aggr::Max]);
        assert_eq!(aggregates_for(Some("count_over_time")), [Aggr::Count]);
        assert_eq!(aggregates_for(Some("sum_over_time")), [Aggr::Sum]);
        assert_eq!(aggregates_for(Some("rate")), [Aggr::Counter]);
        assert_eq!(
            aggregates_for(Some("avg_over_time")),
            [Aggr::Count, Aggr::Sum]
        );
        assert_eq!(aggregates_for(None), [Aggr::Count, Aggr::Sum]);
    }

    #[test]
    fn downsampled_average_is_sum_over_count() {
        let c = AggrChunk {
            min_time: 0,
            max_time: 600,
            sum: Some(chunk(&[(299, 10.0), (599, 30.0)])),
            count: Some(chunk(&[(299, 5.0), (599, 10.0)])),
            max: Some(chunk(&[(299, 7.0), (599, 9.0)])),
            ..Default::default()
        };
        assert_eq!(
            decode_aggr(&c, None).unwrap(),
            vec![QPoint::float(299, 2.0), QPoint::float(599, 3.0)]
        );
        assert_eq!(
            decode_aggr(&c, Some("max_over_time")).unwrap(),
            vec![QPoint::float(299, 7.0), QPoint::float(599, 9.0)]
        );
        assert!(
            decode_aggr(&c, Some("rate"))
                .unwrap_err()
                .contains("counter")
        );
    }

    #[test]
    fn replicas_in_one_series_are_deduplicated_only_when_asked() {
        let a = raw(&[(0, 1.0), (15_000, 1.0), (30_000, 1.0)]);
        let b = raw(&[(5_000, 2.0), (20_000, 2.0), (35_000, 2.0)]);
        let mut opts = QueryOptions {
            dedup: true,
            replica_labels: vec!["replica".into()],
            ..Default::default()
        };
        let got = series_samples(vec![a.clone(), b.clone()], None, &opts).unwrap();
        assert_eq!(
            got.iter().map(|s| s.t).collect::<Vec<_>>(),
            [0, 15_000, 30_000]
        );
        opts.dedup_func = DedupFunc::Chain;
        assert_eq!(
            series_samples(vec![a.clone(), b.clone()], None, &opts)
                .unwrap()
                .len(),
            6
        );
        opts.dedup = false;
        assert_eq!(series_samples(vec![a, b], None, &opts).unwrap().len(), 6);
    }

    /// Replica a: 0–90 s and 200–300 s; replica b (reads 40 lower, 5 s
    /// later) only 105–195 s and 205–300 s. Guessing replicas from chunk
    /// overlap puts a, b, a into one lane — a false counter reset at 105 s.
    #[test]
    fn replica_identity_keeps_counters_monotonic() {
        let f = |t: i64| 1000.0 + t as f64 / 1000.0;
        let pts = |from: i64, to: i64, off: f64| {
            (0..)
                .map(|i| from + i * 15_000)
                .take_while(|t| *t <= to)
                .map(|t| (t, f(t) - off))
                .collect::<Vec<_>>()
        };
        let a1 = raw(&pts(0, 90_000, 0.0));
        let a2 = raw(&pts(200_000, 300_000, 0.0));
        let b1 = raw(&pts(105_000, 195_000, 40.0));
        let b2 = raw(&pts(205_000, 300_000, 40.0));
        let opts = QueryOptions {
            dedup: true,
            replica_labels: vec!["replica".into()],
            ..Default::default()
        };
        let resets = |s: &[QPoint]| s.windows(2).filter(|w| w[1].v < w[0].v).count();
        // Thanos-style lanes (labels already stripped, chunks merged by min time).
        let guessed = series_samples(
            vec![a1.clone(), b1.clone(), a2.clone(), b2.clone()],
            Some("rate"),
            &opts,
        )
        .unwrap();
        assert!(
            resets(&guessed) > 0,
            "the lane guess mixes replicas: {guessed:?}"
        );
        // With replica identity: no reset, and one output series without the replica label.
        let la = Labels::from_pairs(&[("__name__", "c"), ("replica", "a")]);
        let lb = Labels::from_pairs(&[("__name__", "c"), ("replica", "b")]);
        let out = dedup_series(
            vec![(la.clone(), vec![a1, a2]), (lb.clone(), vec![b1, b2])],
            Some("rate"),
            &opts,
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, Labels::from_pairs(&[("__name__", "c")]));
        assert_eq!(resets(&out[0].1), 0, "{:?}", out[0].1);
        assert!(out[0].1.len() >= 15, "{:?}", out[0].1);
        // Dedup off: both replicas, labels kept.
        let off = dedup_series(
            vec![(la, vec![raw(&[(0, 1.0)])]), (lb, vec![raw(&[(0, 1.0)])])],
            None,
            &QueryOptions {
                dedup: false,
                ..opts
            },
        )
        .unwrap();
        assert_eq!(off.len(), 2);
    }

    #[test]
    fn native_histogram_chunks_decode_to_engine_histograms() {
        let h = enc::Histogram {
            schema: 0,
            zero_threshold: 0.001,
            zero_count: 1,
            count: 10,
            sum: 12.5,
            positive_spans: vec![
                enc::Span {
                    offset: 0,
                    length: 2,
                },
                enc::Span {
                    offset: 2,
                    length: 1,
                },
            ],
            positive_buckets: vec![2, 1, -1], // deltas: 2, 3, 2
            negative_spans: vec![enc::Span {
                offset: 1,
                length: 1,
            }],
            negative_buckets: vec![2],
            ..Default::default()
        };
        let mut e = enc::HistogramEncoder::new(enc::CounterResetHint::Unknown);
        e.append(1_000, &h).unwrap();
        e.append(2_000, &h).unwrap();
        let c = AggrChunk::raw(
            1_000,
            2_000,
            thanos::Chunk {
                r#type: thanos::chunk::Encoding::Histogram as i32,
                data: e.finish().into(),
                hash: 0,
            },
        );
        let pts = decode_aggr(&c, None).unwrap();
        assert_eq!(pts.len(), 2);
        let got = pts[1].h.as_ref().unwrap();
        assert_eq!(
            (got.count, got.sum, got.zero_count, got.schema),
            (10.0, 12.5, 1.0, 0)
        );
        assert_eq!(got.positive, BTreeMap::from([(0, 2.0), (1, 3.0), (4, 2.0)]));
        assert_eq!(got.negative, BTreeMap::from([(1, 2.0)]));
        // Runs of floats and histograms become separate engine chunks.
        let mixed = vec![
            QPoint::float(0, 1.0),
            pts[0].clone(),
            pts[1].clone(),
            QPoint::float(3_000, 2.0),
        ];
        let kinds: Vec<&str> = to_chunks(mixed)
            .iter()
            .map(|c| match c {
                aeon_promql::Chunk::Floats(_) => "f",
                aeon_promql::Chunk::Histograms(_) => "h",
            })
            .collect();
        assert_eq!(kinds, ["f", "h", "f"]);
        let bad = AggrChunk::raw(
            0,
            1,
            thanos::Chunk {
                r#type: 9,
                data: vec![0, 0].into(),
                hash: 0,
            },
        );
        assert!(
            decode_aggr(&bad, None)
                .unwrap_err()
                .contains("unknown chunk encoding")
        );
    }

    #[test]
    fn request_carries_thanos_fields() {
        let m = [Matcher::equal("__name__", "up")];
        let hints = SelectHints {
            start: 1,
            end: 2,
            step: 3,
            range: 4,
            func: Some("rate".into()),
        };
        let opts = QueryOptions {
            dedup: true,
            replica_labels: vec!["replica".into()],
            partial_response: false,
            max_source_resolution: 300_000,
            ..Default::default()
        };
        let r = series_request(&m, &hints, &opts);
        assert_eq!(
            (r.min_time, r.max_time, r.max_resolution_window),
            (1, 2, 300_000)
        );
        assert!(
            r.without_replica_labels.is_empty(),
            "replicas are told apart by their labels"
        );
        assert_eq!(
            r.partial_response_strategy,
            thanos::PartialResponseStrategy::Abort as i32
        );
        assert_eq!(r.aggregates, [Aggr::Counter as i32]);
        assert_eq!(r.query_hints.unwrap().func.unwrap().name, "rate");
        let r = series_request(
            &m,
            &hints,
            &QueryOptions {
                dedup: false,
                ..opts
            },
        );
        assert!(r.without_replica_labels.is_empty());
    }
}
