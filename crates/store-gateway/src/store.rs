//! [`BucketStore`]: the Store API over the blocks the syncer selected.

mod select;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use aeon_common::flags::TimeOrDuration;
use aeon_model::{Labels, Matcher};
use aeon_storeapi::pb::hintspb;
use aeon_storeapi::pb::thanos::{self, info};
use aeon_storeapi::{
    MergeOptions, SeriesStream, ShardMatcher, StoreApi, convert, merge_series, pack_any, unpack_any,
};
use aeon_tsdb_block::BlockMeta;
use futures::StreamExt;
use ulid::Ulid;

use crate::Error;
use crate::block::{Block, BlockCtx, BlockQuery};
use crate::limits::Limiter;
use crate::metrics::Metrics;

/// Serving options of the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub min_time: TimeOrDuration,
    pub max_time: TimeOrDuration,
    pub series_limit: u64,
    pub samples_limit: u64,
    /// Blocks queried concurrently per request.
    pub block_concurrency: usize,
    /// Series calls served at once; more wait for a slot (0 = no bound;
    /// `--store.grpc.series-max-concurrency`).
    pub series_max_concurrency: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            min_time: TimeOrDuration::MIN,
            max_time: TimeOrDuration::MAX,
            series_limit: 0,
            samples_limit: 0,
            block_concurrency: 8,
            series_max_concurrency: 0,
        }
    }
}

/// The Store API over the bucket's blocks.
#[derive(Debug)]
pub struct BucketStore {
    blocks: RwLock<BTreeMap<Ulid, Arc<Block>>>,
    ctx: BlockCtx,
    cfg: StoreConfig,
    series_gate: Option<Arc<tokio::sync::Semaphore>>,
}

type ApiResult<T> = aeon_storeapi::Result<T>;

impl BucketStore {
    pub fn new(ctx: BlockCtx, cfg: StoreConfig) -> Self {
        let series_gate = (cfg.series_max_concurrency > 0)
            .then(|| Arc::new(tokio::sync::Semaphore::new(cfg.series_max_concurrency)));
        Self {
            blocks: RwLock::default(),
            ctx,
            cfg,
            series_gate,
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.ctx.data_dir
    }

    pub fn metrics(&self) -> Option<&Metrics> {
        self.ctx.metrics.as_ref()
    }

    /// All blocks currently served, by ULID.
    pub fn blocks(&self) -> Vec<Arc<Block>> {
        self.blocks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Adds the `wanted` blocks not served yet and, with `drop_others`, drops
    /// the served blocks not wanted; returns (added, removed ULIDs).
    pub fn set_blocks(&self, wanted: Vec<Arc<BlockMeta>>, drop_others: bool) -> (usize, Vec<Ulid>) {
        let mut g = self.blocks.write().unwrap_or_else(PoisonError::into_inner);
        let keep: BTreeSet<Ulid> = wanted.iter().map(|m| m.ulid).collect();
        let removed: Vec<Ulid> = if drop_others {
            g.keys().filter(|id| !keep.contains(id)).copied().collect()
        } else {
            Vec::new()
        };
        for id in &removed {
            g.remove(id);
            self.ctx.cache.remove_block(*id);
        }
        let mut added = 0;
        for m in wanted {
            if let std::collections::btree_map::Entry::Vacant(v) = g.entry(m.ulid) {
                v.insert(Arc::new(Block::new(m, self.ctx.clone())));
                added += 1;
            }
        }
        if let Some(m) = &self.ctx.metrics {
            m.blocks_loaded.set(g.len() as i64);
            m.block_drops.inc_by(removed.len() as u64);
        }
        (added, removed)
    }

    /// Drops in-memory index-headers unused for `idle`; returns how many.
    pub fn unload_idle(&self, idle: std::time::Duration) -> usize {
        self.blocks()
            .iter()
            .filter(|b| b.unload_if_idle(idle))
            .count()
    }

    fn time_bounds(&self) -> (i64, i64) {
        let now = chrono::Utc::now().timestamp_millis();
        (
            self.cfg.min_time.resolve(now),
            self.cfg.max_time.resolve(now),
        )
    }

    /// Blocks to query (see [`select::select`]).
    fn select(
        &self,
        mint: i64,
        maxt: i64,
        max_res: i64,
        ms: &[Matcher],
        block_ms: &[Matcher],
    ) -> Vec<Arc<Block>> {
        select::select(self.blocks(), mint, maxt, max_res, ms, block_ms)
    }

    async fn run_blocks<T, F>(&self, blocks: Vec<Arc<Block>>, f: F) -> Vec<(Ulid, crate::Result<T>)>
    where
        T: Send + 'static,
        F: Fn(
                &Block,
                &Arc<aeon_tsdb_block::IndexHeader>,
                &tokio::runtime::Handle,
            ) -> crate::Result<T>
            + Send
            + Sync
            + Clone
            + 'static,
    {
        futures::stream::iter(blocks)
            .map(|b| {
                let f = f.clone();
                async move {
                    let id = b.id;
                    let h = match b.header().await {
                        Ok(h) => h,
                        Err(e) => return (id, Err(e)),
                    };
                    let rt = tokio::runtime::Handle::current();
                    let r = tokio::task::spawn_blocking(move || f(&b, &h, &rt))
                        .await
                        .unwrap_or_else(|e| Err(Error::block(id, "querying", e.to_string())));
                    (id, r)
                }
            })
            .buffer_unordered(self.cfg.block_concurrency.max(1))
            .collect()
            .await
    }
}

fn block_matchers<H: prost::Message + Default>(
    any: Option<&prost_types::Any>,
    name: &str,
    get: impl Fn(&H) -> &[thanos::LabelMatcher],
) -> ApiResult<Vec<Matcher>> {
    match any {
        Some(a) => {
            let h: H = unpack_any(name, a)?;
            convert::matchers_from_pb(get(&h))
        }
        None => Ok(Vec::new()),
    }
}

fn is_abort(disabled: bool, strategy: i32) -> bool {
    disabled || strategy == thanos::PartialResponseStrategy::Abort as i32
}

/// Unions the label names or values the blocks answered: sorted, unique,
/// truncated to `limit` (0 = no limit). A failed block is a warning, or the
/// whole answer's error under `abort`. Also returns the answering blocks,
/// sorted, for the response hints.
fn union_block_strings<S: IntoIterator<Item = String>>(
    results: Vec<(Ulid, crate::Result<S>)>,
    abort: bool,
    limit: i64,
) -> ApiResult<(Vec<String>, Vec<String>, Vec<Ulid>)> {
    let (mut set, mut warnings, mut queried) = (BTreeSet::new(), Vec::new(), Vec::new());
    for (id, r) in results {
        match r {
            Ok(v) => {
                queried.push(id);
                set.extend(v);
            }
            Err(e) if abort => return Err(e.into()),
            Err(e) => warnings.push(e.chain()),
        }
    }
    queried.sort();
    let mut out: Vec<String> = set.into_iter().collect();
    if let Ok(l) = usize::try_from(limit)
        && l > 0
    {
        out.truncate(l);
    }
    Ok((out, warnings, queried))
}

fn queried_hints(ids: &[Ulid]) -> Vec<hintspb::Block> {
    ids.iter()
        .map(|id| hintspb::Block { id: id.to_string() })
        .collect()
}

#[async_trait::async_trait]
impl StoreApi for BucketStore {
    async fn info(&self) -> ApiResult<info::InfoResponse> {
        let (lo, hi) = self.time_bounds();
        let blocks = self.blocks();
        let mut sets: BTreeSet<Labels> = BTreeSet::new();
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        let mut tsdb_infos = Vec::with_capacity(blocks.len());
        for b in &blocks {
            sets.insert(b.ext.clone());
            min = min.min(b.meta.min_time);
            max = max.max(b.meta.max_time);
            tsdb_infos.push(info::TsdbInfo {
                labels: Some(thanos::ZLabelSet {
                    labels: convert::labels_to_pb(&b.ext),
                }),
                min_time: b.meta.min_time,
                max_time: b.meta.max_time,
            });
        }
        if !blocks.is_empty() {
            min = min.max(lo);
            max = max.min(hi);
        }
        Ok(info::InfoResponse {
            label_sets: sets
                .iter()
                .map(|l| thanos::ZLabelSet {
                    labels: convert::labels_to_pb(l),
                })
                .collect(),
            component_type: "store".into(),
            store: Some(info::StoreInfo {
                min_time: min,
                max_time: max,
                supports_sharding: true,
                supports_without_replica_labels: true,
                tsdb_infos,
                supports_projections: false,
            }),
            ..Default::default()
        })
    }

    async fn series(&self, req: thanos::SeriesRequest) -> ApiResult<SeriesStream> {
        // Held until the answer's stream is dropped, as Thanos's query gate.
        // (The semaphore is never closed, so `acquire_owned` cannot fail.)
        let gate = match &self.series_gate {
            Some(g) => g.clone().acquire_owned().await.ok(),
            None => None,
        };
        let start = Instant::now();
        let ms = convert::matchers_from_pb(&req.matchers)?;
        let bms = block_matchers::<hintspb::SeriesRequestHints>(
            req.hints.as_ref(),
            "hintspb.SeriesRequestHints",
            |h| &h.block_matchers,
        )?;
        let (lo, hi) = self.time_bounds();
        let (mint, maxt) = (req.min_time.max(lo), req.max_time.min(hi));
        let admitted = match self.metrics() {
            Some(m) => {
                m.series_requests.inc();
                m.series_gate.enter().await
            }
            None => None,
        };
        let blocks = if mint > maxt {
            Vec::new()
        } else {
            self.select(mint, maxt, req.max_resolution_window, &ms, &bms)
        };
        let q = BlockQuery {
            matchers: ms,
            min_time: mint,
            max_time: maxt,
            skip_chunks: req.skip_chunks,
            aggregates: req.aggregates.clone(),
            without_replica_labels: req.without_replica_labels.clone(),
            shard: ShardMatcher::new(req.shard_info.as_ref()),
            limiter: Arc::new(Limiter::new(self.cfg.series_limit, self.cfg.samples_limit)),
            stats: Arc::default(),
        };
        let stats = q.stats.clone();
        let get_all = Instant::now();
        let results = self
            .run_blocks(blocks, move |b, h, rt| b.series(h, &q, rt))
            .await;
        if let Some(m) = self.metrics() {
            m.series_get_all_duration
                .observe(get_all.elapsed().as_secs_f64());
        }
        let abort = is_abort(req.partial_response_disabled, req.partial_response_strategy);
        let mut warnings = Vec::new();
        let mut streams: Vec<SeriesStream> = Vec::new();
        let mut queried = Vec::new();
        let mut permits = Vec::new();
        for (id, r) in results {
            match r {
                Ok((series, permit)) => {
                    queried.push(id);
                    permits.extend(permit);
                    streams.push(
                        futures::stream::iter(
                            series
                                .into_iter()
                                .map(|s| Ok(thanos::SeriesResponse::series(s))),
                        )
                        .boxed(),
                    );
                }
                Err(Error::StoreApi(e)) => return Err(e),
                Err(e) if abort => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(block = %id, error = %e.chain(), "block failed during Series");
                    warnings.push(e.chain());
                }
            }
        }
        queried.sort();
        if let Some(m) = self.metrics() {
            m.series_blocks_queried.observe(queried.len() as f64);
        }
        let merge_start = Instant::now();
        let merged = merge_series(streams, MergeOptions::default());
        let limit = u64::try_from(req.limit).unwrap_or(0);
        let metrics = self.metrics().cloned();
        let done = self.metrics().cloned();
        let returned = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = returned.clone();
        let mut n = 0u64;
        let body = merged
            .take_while(move |item| {
                let keep = match item {
                    Ok(r) if r.as_series().is_some() => {
                        n += 1;
                        limit == 0 || n <= limit
                    }
                    _ => true,
                };
                futures::future::ready(keep)
            })
            .inspect(move |item| {
                if let (Some(m), Ok(r)) = (&metrics, item)
                    && let Some(s) = r.as_series()
                {
                    m.series_returned.inc();
                    m.chunks_returned.inc_by(s.chunks.len() as u64);
                    counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    for c in &s.chunks {
                        if let Some(raw) = &c.raw {
                            m.sent_chunk_size.observe(raw.data.len() as f64);
                        }
                    }
                }
            })
            // Once the merged series are all sent: Thanos's per-request
            // merge time and result size; the request leaves the gate.
            .chain(futures::stream::poll_fn(move |_| {
                let _ = &admitted;
                if let Some(m) = &done {
                    m.series_merge_duration
                        .observe(merge_start.elapsed().as_secs_f64());
                    m.series_result_series
                        .observe(returned.load(std::sync::atomic::Ordering::Relaxed) as f64);
                    m.observe_series(&stats);
                }
                std::task::Poll::Ready(None)
            }));
        let hints = thanos::SeriesResponse::hints(pack_any(
            "hintspb.SeriesResponseHints",
            &hintspb::SeriesResponseHints {
                queried_blocks: queried_hints(&queried),
                query_stats: None,
            },
        ));
        if let Some(m) = self.metrics() {
            m.series_duration.observe(start.elapsed().as_secs_f64());
        }
        Ok(futures::stream::iter(
            warnings
                .into_iter()
                .map(|w| Ok(thanos::SeriesResponse::warning(w))),
        )
        .chain(body)
        .chain(futures::stream::once(async move {
            // The chunk bytes are released once the whole answer went out
            // (or the stream is dropped).
            drop(permits);
            drop(gate);
            Ok(hints)
        }))
        .boxed())
    }

    async fn label_names(
        &self,
        req: thanos::LabelNamesRequest,
    ) -> ApiResult<thanos::LabelNamesResponse> {
        let ms = convert::matchers_from_pb(&req.matchers)?;
        let bms = block_matchers::<hintspb::LabelNamesRequestHints>(
            req.hints.as_ref(),
            "hintspb.LabelNamesRequestHints",
            |h| &h.block_matchers,
        )?;
        let (lo, hi) = self.time_bounds();
        let (mint, maxt) = (req.start.max(lo), req.end.min(hi));
        let blocks = self.select(mint, maxt, i64::MAX, &ms, &bms);
        let without = req.without_replica_labels.clone();
        let results = self
            .run_blocks(blocks, move |b, h, rt| b.label_names(h, &ms, &without, rt))
            .await;
        let abort = is_abort(req.partial_response_disabled, req.partial_response_strategy);
        let (names, warnings, queried) = union_block_strings(results, abort, req.limit)?;
        Ok(thanos::LabelNamesResponse {
            names,
            warnings,
            hints: Some(pack_any(
                "hintspb.LabelNamesResponseHints",
                &hintspb::LabelNamesResponseHints {
                    queried_blocks: queried_hints(&queried),
                },
            )),
        })
    }

    async fn label_values(
        &self,
        req: thanos::LabelValuesRequest,
    ) -> ApiResult<thanos::LabelValuesResponse> {
        if req.label.is_empty() {
            return Err(aeon_storeapi::Error::invalid(
                "label name parameter cannot be empty",
            ));
        }
        let ms = convert::matchers_from_pb(&req.matchers)?;
        let bms = block_matchers::<hintspb::LabelValuesRequestHints>(
            req.hints.as_ref(),
            "hintspb.LabelValuesRequestHints",
            |h| &h.block_matchers,
        )?;
        let (lo, hi) = self.time_bounds();
        let (mint, maxt) = (req.start.max(lo), req.end.min(hi));
        let blocks = self.select(mint, maxt, i64::MAX, &ms, &bms);
        let without = req.without_replica_labels.clone();
        let name = req.label.clone();
        let results = self
            .run_blocks(blocks, move |b, h, rt| {
                b.label_values(h, &name, &ms, &without, rt)
            })
            .await;
        let abort = is_abort(req.partial_response_disabled, req.partial_response_strategy);
        let (values, warnings, queried) = union_block_strings(results, abort, req.limit)?;
        Ok(thanos::LabelValuesResponse {
            values,
            warnings,
            hints: Some(pack_any(
                "hintspb.LabelValuesResponseHints",
                &hintspb::LabelValuesResponseHints {
                    queried_blocks: queried_hints(&queried),
                },
            )),
        })
    }
}
