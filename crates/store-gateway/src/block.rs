//! One block of the bucket as the gateway serves it: its meta, external
//! labels, a lazily built index-header (persisted under `--data-dir`), and
//! the synchronous query paths (postings → series → chunks) that run on a
//! blocking thread over ranged GETs.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use aeon_model::{Label, Labels, Matcher};
use aeon_objstore::Bucket;
use aeon_storeapi::pb::thanos::{self, AggrChunk, Chunk, chunk::Encoding as WireEnc};
use aeon_storeapi::{ShardMatcher, convert};
use aeon_tsdb_block::chunkenc::{AggrChunk as AggrView, Encoding};
use aeon_tsdb_block::chunks::{SEGMENT_HEADER_SIZE, segment_file_name};
use aeon_tsdb_block::index::FORMAT_V1;
use aeon_tsdb_block::varint::{crc32, uvarint};
use aeon_tsdb_block::{BlockMeta, ChunkMeta, IndexHeader, IndexReader, SeriesEntry};
use bytes::Bytes;
use futures::StreamExt;
use ulid::Ulid;

use crate::cache::{CacheKey, CacheValue, IndexCache};
use crate::metrics::Metrics;
use crate::source::{BucketSource, bucket_err};
use crate::{Error, Result};

/// Samples assumed per chunk for `--store.limits.request-samples`.
pub const SAMPLES_PER_CHUNK: u64 = 120;
/// Read-ahead past the last wanted chunk of a range when the block does not
/// say its largest chunk: a full XOR chunk (Prometheus cuts them at 1 KiB)
/// plus framing. Larger chunks (histograms, aggregates) cost one more GET.
const DEFAULT_CHUNK_EST: u64 = 1024 + 16;

/// Chunk reads closer than this are fetched as one range (Thanos's
/// partitioner uses the same 512 KiB). A series' chunks over a long block
/// take tens of KiB, so the chunks an instant query wants from consecutive
/// series are that far apart: a smaller gap turns one read into one per
/// series, i.e. one object-storage round trip per series.
pub const CHUNK_COALESCE_GAP: u64 = 512 * 1024;

/// Coalesced chunk ranges fetched at once per block and request.
const CHUNK_FETCH_CONCURRENCY: usize = 8;
/// Read-ahead past the last wanted series entry of a range when the block
/// does not say its largest one; larger entries cost one more GET.
const DEFAULT_SERIES_EST: u64 = 1024;
/// Name of the persisted index-header file under `<data-dir>/<ULID>/`.
pub const INDEX_HEADER_FILE: &str = "index-header";

/// What every block needs to reach the bucket and the caches.
#[derive(Debug, Clone)]
pub struct BlockCtx {
    pub bucket: Arc<dyn Bucket>,
    pub data_dir: PathBuf,
    pub cache: IndexCache,
    pub metrics: Option<Metrics>,
    /// `--chunk-pool-size`: chunk bytes all in-flight Series calls may hold
    /// at once, in KiB permits (`None` = unbounded).
    pub chunk_pool: Option<ChunkPool>,
}

/// The budget of chunk bytes held by in-flight Series responses.
#[derive(Debug, Clone)]
pub struct ChunkPool {
    sem: Arc<tokio::sync::Semaphore>,
    bytes: u64,
}

impl ChunkPool {
    pub fn new(bytes: u64) -> Self {
        let kib = usize::try_from(bytes / 1024)
            .unwrap_or(usize::MAX)
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        Self {
            sem: Arc::new(tokio::sync::Semaphore::new(kib)),
            bytes,
        }
    }

    /// Reserves `bytes` until the permit is dropped; fails (never waits)
    /// when the pool is exhausted.
    pub fn reserve(&self, bytes: u64) -> Result<tokio::sync::OwnedSemaphorePermit> {
        let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        self.sem.clone().try_acquire_many_owned(kib).map_err(|_| {
            aeon_storeapi::Error::limit(
                format!(
                    "chunk bytes held by in-flight Series calls (--chunk-pool-size, {bytes} more bytes needed)"
                ),
                self.bytes,
            )
            .into()
        })
    }
}

/// Chunk bytes reserved in the [`ChunkPool`] for one block's answer.
pub type PoolPermit = Option<tokio::sync::OwnedSemaphorePermit>;

/// Per-request limits shared by all blocks of one request.
#[derive(Debug, Default)]
pub struct Limiter {
    pub series_limit: u64,
    pub samples_limit: u64,
    series: AtomicU64,
    chunks: AtomicU64,
}

impl Limiter {
    pub fn new(series_limit: u64, samples_limit: u64) -> Self {
        Self {
            series_limit,
            samples_limit,
            ..Self::default()
        }
    }

    fn add_series(&self, n: u64) -> Result<()> {
        let total = self.series.fetch_add(n, Ordering::Relaxed) + n;
        if self.series_limit > 0 && total > self.series_limit {
            return Err(aeon_storeapi::Error::limit(
                format!("series (--store.limits.request-series, got at least {total})"),
                self.series_limit,
            )
            .into());
        }
        Ok(())
    }

    fn add_chunks(&self, n: u64) -> Result<()> {
        let total = self.chunks.fetch_add(n, Ordering::Relaxed) + n;
        let samples = total.saturating_mul(SAMPLES_PER_CHUNK);
        if self.samples_limit > 0 && samples > self.samples_limit {
            return Err(aeon_storeapi::Error::limit(
                format!(
                    "samples (--store.limits.request-samples, counted as {total} chunks × {SAMPLES_PER_CHUNK})"
                ),
                self.samples_limit,
            )
            .into());
        }
        Ok(())
    }
}

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
}

impl Drop for Block {
    fn drop(&mut self) {
        if self.resident.load(Ordering::Relaxed)
            && let Some(m) = &self.ctx.metrics
        {
            m.headers_resident.dec();
        }
    }
}

/// Where a block's index-header lives.
#[derive(Debug, Default)]
struct HeaderState {
    resident: Option<Arc<IndexHeader>>,
    /// A valid-looking header file exists under `--data-dir`.
    on_disk: bool,
}

/// A block known to the gateway.
#[derive(Debug)]
pub struct Block {
    pub id: Ulid,
    pub meta: Arc<BlockMeta>,
    /// External labels from the Thanos section.
    pub ext: Labels,
    /// Downsampling resolution in ms (0 = raw).
    pub resolution: i64,
    header: tokio::sync::Mutex<HeaderState>,
    prepared: AtomicBool,
    resident: AtomicBool,
    last_used_ms: AtomicI64,
    ctx: BlockCtx,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Block {
    pub fn new(meta: Arc<BlockMeta>, ctx: BlockCtx) -> Self {
        let (ext, resolution) = meta.thanos.as_ref().map_or((Labels::empty(), 0), |t| {
            (
                Labels::new(
                    t.labels
                        .iter()
                        .map(|(k, v)| Label::new(k.as_str(), v.as_str()))
                        .collect(),
                ),
                t.downsample.resolution,
            )
        });
        Self {
            id: meta.ulid,
            meta,
            ext,
            resolution,
            header: tokio::sync::Mutex::default(),
            prepared: AtomicBool::new(false),
            resident: AtomicBool::new(false),
            last_used_ms: AtomicI64::new(0),
            ctx,
        }
    }

    /// Whether the index-header has been built (on disk or in memory).
    pub fn is_loaded(&self) -> bool {
        self.prepared.load(Ordering::Relaxed)
    }

    /// Whether the index-header is currently held in memory.
    pub fn is_resident(&self) -> bool {
        self.resident.load(Ordering::Relaxed)
    }

    /// Local directory for this block's cached files.
    pub fn local_dir(&self) -> PathBuf {
        self.ctx.data_dir.join(self.id.to_string())
    }

    fn header_path(&self) -> PathBuf {
        self.local_dir().join(INDEX_HEADER_FILE)
    }

    fn key(&self, file: &str) -> String {
        format!("{}/{file}", self.id)
    }

    fn set_resident(&self, st: &mut HeaderState, h: Option<Arc<IndexHeader>>) {
        let now = h.is_some();
        let was = st.resident.is_some();
        st.resident = h;
        self.resident.store(now, Ordering::Relaxed);
        if let Some(m) = &self.ctx.metrics {
            match (was, now) {
                (false, true) => m.headers_resident.inc(),
                (true, false) => m.headers_resident.dec(),
                _ => 0,
            };
        }
    }

    /// The index-header for a query: from memory, else decoded from
    /// `<data-dir>/<ULID>/index-header`, else built from ranged reads of
    /// the index in the bucket (and persisted). Stays in memory until
    /// [`Block::unload_if_idle`].
    pub async fn header(&self) -> Result<Arc<IndexHeader>> {
        let mut st = self.header.lock().await;
        self.last_used_ms.store(now_ms(), Ordering::Relaxed);
        if let Some(h) = &st.resident {
            return Ok(h.clone());
        }
        if st.on_disk
            && let Some(h) = self.read_local().await
        {
            let h = Arc::new(h);
            self.set_resident(&mut st, Some(h.clone()));
            return Ok(h);
        }
        let h = Arc::new(self.build_header().await?);
        st.on_disk = self.persist_header(&h).await;
        self.prepared.store(true, Ordering::Relaxed);
        self.set_resident(&mut st, Some(h.clone()));
        Ok(h)
    }

    /// Makes sure the index-header exists locally (building it from the
    /// bucket if needed) without keeping it in memory, so that many blocks
    /// cost little memory until queried.
    pub async fn prepare(&self) -> Result<()> {
        let mut st = self.header.lock().await;
        if st.resident.is_some() || st.on_disk {
            self.prepared.store(true, Ordering::Relaxed);
            return Ok(());
        }
        if tokio::fs::metadata(self.header_path())
            .await
            .is_ok_and(|m| m.len() > 0)
        {
            st.on_disk = true;
        } else {
            let h = self.build_header().await?;
            st.on_disk = self.persist_header(&h).await;
            if !st.on_disk {
                self.set_resident(&mut st, Some(Arc::new(h)));
            }
        }
        self.prepared.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Drops the in-memory index-header if unused for `idle` and it can be
    /// re-read from disk. Returns whether it was dropped.
    pub fn unload_if_idle(&self, idle: std::time::Duration) -> bool {
        let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        if now_ms().saturating_sub(self.last_used_ms.load(Ordering::Relaxed)) < idle_ms {
            return false;
        }
        let Ok(mut st) = self.header.try_lock() else {
            return false;
        };
        if st.on_disk && st.resident.is_some() {
            self.set_resident(&mut st, None);
            return true;
        }
        false
    }

    async fn read_local(&self) -> Option<IndexHeader> {
        let path = self.header_path();
        let data = tokio::fs::read(&path).await.ok()?;
        let name = path.display().to_string();
        let r = tokio::task::spawn_blocking(move || IndexHeader::decode(&data, &name))
            .await
            .ok()?;
        match r {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(block = %self.id, error = %e, "local index-header unreadable; rebuilding");
                None
            }
        }
    }

    async fn persist_header(&self, h: &IndexHeader) -> bool {
        match persist(&self.header_path(), &h.encode()).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(block = %self.id, error = %e.chain(), "cannot persist index-header; keeping it in memory");
                false
            }
        }
    }

    async fn build_header(&self) -> Result<IndexHeader> {
        let key = self.key("index");
        let attrs = self
            .ctx
            .bucket
            .attributes(&key)
            .await
            .map_err(|e| Error::block(self.id, "reading index attributes", e))?;
        let src = BucketSource::new(
            self.ctx.bucket.clone(),
            key,
            attrs.size,
            tokio::runtime::Handle::current(),
            self.ctx.metrics.clone(),
            "index_header",
        );
        let id = self.id;
        tokio::task::spawn_blocking(move || IndexHeader::build(&src))
            .await
            .map_err(|e| Error::block(id, "building index-header", e.to_string()))?
            .map_err(|e| Error::block(id, "building index-header", e))
    }

    fn index_reader(
        &self,
        header: &Arc<IndexHeader>,
        kind: &'static str,
        rt: &tokio::runtime::Handle,
    ) -> (Arc<BucketSource>, IndexReader) {
        let src = Arc::new(BucketSource::new(
            self.ctx.bucket.clone(),
            self.key("index"),
            header.index_len,
            rt.clone(),
            self.ctx.metrics.clone(),
            kind,
        ));
        let reader = IndexReader::with_header(src.clone(), header.clone());
        (src, reader)
    }

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

    fn postings(&self, reader: &IndexReader, ms: &[Matcher]) -> Result<Arc<Vec<u32>>> {
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
        let entries = self.series_entries(header, &ids, rt)?;
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
            let refs: Vec<u64> = picked
                .iter()
                .flat_map(|(_, c)| c.iter().map(|m| m.r#ref))
                .collect();
            let mut fetched = 0u64;
            let raw = self.fetch_chunks(&refs, rt, &mut fetched)?;
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

    fn wire_chunk(
        &self,
        m: ChunkMeta,
        enc: Encoding,
        data: &Bytes,
        aggrs: &[i32],
    ) -> Result<AggrChunk> {
        let wire = |enc: Encoding, data: Bytes| -> Result<Chunk> {
            let t = match enc {
                Encoding::Xor => WireEnc::Xor,
                Encoding::Histogram => WireEnc::Histogram,
                Encoding::FloatHistogram => WireEnc::FloatHistogram,
                other => {
                    return Err(Error::block(
                        self.id,
                        "reading chunks",
                        format!(
                            "chunk {:#x} has unsupported encoding {:#04x}",
                            m.r#ref,
                            other.byte()
                        ),
                    ));
                }
            };
            Ok(Chunk {
                r#type: t as i32,
                hash: convert::chunk_hash(&data),
                data,
            })
        };
        let mut c = AggrChunk {
            min_time: m.min_time,
            max_time: m.max_time,
            ..Default::default()
        };
        if enc != Encoding::Aggr {
            c.raw = Some(wire(enc, data.clone())?);
            return Ok(c);
        }
        let subs = AggrView::new(data).all().map_err(|e| {
            Error::block(
                self.id,
                "decoding aggregate chunk",
                format!("chunk {:#x}: {e}", m.r#ref),
            )
        })?;
        // No aggregates asked: return all that are present.
        let wanted: Vec<i32> = if aggrs.is_empty() {
            (1..=5).collect()
        } else {
            aggrs.to_vec()
        };
        for a in wanted {
            let Some(idx) = usize::try_from(a)
                .ok()
                .filter(|i| (1..=5).contains(i))
                .map(|i| i - 1)
            else {
                continue; // RAW asked of a downsampled block: nothing to add.
            };
            let Some((e, d)) = subs[idx] else {
                if aggrs.is_empty() {
                    continue;
                }
                return Err(Error::block(
                    self.id,
                    "reading aggregate chunk",
                    format!(
                        "aggregate {} missing in chunk {:#x}",
                        AGGR_NAMES[idx], m.r#ref
                    ),
                ));
            };
            let ch = Some(wire(e, data.slice_ref(d))?);
            match idx {
                0 => c.count = ch,
                1 => c.sum = ch,
                2 => c.min = ch,
                3 => c.max = ch,
                _ => c.counter = ch,
            }
        }
        Ok(c)
    }

    /// Fetches chunks by reference in coalesced ranged reads per segment.
    fn fetch_chunks(
        &self,
        refs: &[u64],
        rt: &tokio::runtime::Handle,
        fetched: &mut u64,
    ) -> Result<HashMap<u64, (Encoding, Bytes)>> {
        let est = self
            .meta
            .thanos
            .as_ref()
            .map(|t| t.index_stats.chunk_max_size)
            .filter(|&s| s > 0)
            .map_or(DEFAULT_CHUNK_EST, |s| s as u64 + 16);
        let mut by_seg: HashMap<u32, BTreeSet<u64>> = HashMap::new();
        for &r in refs {
            by_seg
                .entry((r >> 32) as u32)
                .or_default()
                .insert(r & 0xffff_ffff);
        }
        // Plan: per segment, [off, min(next, off+est)) ranges coalesced
        // across gaps up to CHUNK_COALESCE_GAP.
        let mut groups: Vec<(u32, String, u64, u64, Vec<u64>)> = Vec::new();
        for (seg, offs) in by_seg {
            let key = self.key(&format!("chunks/{}", segment_file_name(seg)));
            let offs: Vec<u64> = offs.into_iter().collect();
            let first = groups.len();
            for (i, &o) in offs.iter().enumerate() {
                if o < SEGMENT_HEADER_SIZE {
                    return Err(Error::block(
                        self.id,
                        "reading chunks",
                        format!(
                            "chunk reference {:#x} points into the segment header",
                            (u64::from(seg) << 32) | o
                        ),
                    ));
                }
                let end = offs
                    .get(i + 1)
                    .map_or(o + est, |&n| n.min(o + est))
                    .max(o + 1);
                let same_segment = groups.len() > first;
                match groups.last_mut() {
                    Some(g) if same_segment && o <= g.3 + CHUNK_COALESCE_GAP => {
                        g.3 = g.3.max(end);
                        g.4.push(o);
                    }
                    _ => groups.push((seg, key.clone(), o, end, vec![o])),
                }
            }
        }
        // Fetch: up to CHUNK_FETCH_CONCURRENCY ranged reads at once (one
        // round trip each on object storage), answers in plan order.
        let bucket = &self.ctx.bucket;
        let bufs: Vec<std::result::Result<Bytes, aeon_objstore::Error>> = rt.block_on(
            futures::stream::iter(
                groups
                    .iter()
                    .map(|(_, key, start, end, _)| bucket.get_range(key, *start, end - start)),
            )
            .buffered(CHUNK_FETCH_CONCURRENCY)
            .collect(),
        );
        let mut out = HashMap::with_capacity(refs.len());
        for ((seg, key, start, _, members), buf) in groups.into_iter().zip(bufs) {
            let buf = buf
                .map_err(|e| Error::block(self.id, "reading chunks", bucket_err(&key, start, e)))?;
            if let Some(m) = &self.ctx.metrics {
                m.fetched("chunks", buf.len() as u64);
            }
            *fetched += buf.len() as u64;
            let mut parsed = Vec::with_capacity(members.len());
            for o in members {
                let rel = (o - start) as usize;
                let chunk = match parse_chunk(buf.get(rel..).unwrap_or_default(), &buf, rel) {
                    ParsedChunk::Done(e, d) => (e, d),
                    ParsedChunk::Need(total) => {
                        let b = self.get_range(&key, o, total, rt)?;
                        *fetched += b.len() as u64;
                        match parse_chunk(&b, &b, 0) {
                            ParsedChunk::Done(e, d) => (e, d),
                            ParsedChunk::Need(_) => {
                                return Err(Error::block(
                                    self.id,
                                    "reading chunks",
                                    format!("{key} at offset {o}: chunk runs past end of segment"),
                                ));
                            }
                            ParsedChunk::Bad(reason) => {
                                return Err(Error::block(
                                    self.id,
                                    "reading chunks",
                                    format!("{key} at offset {o}: {reason}"),
                                ));
                            }
                        }
                    }
                    ParsedChunk::Bad(reason) => {
                        return Err(Error::block(
                            self.id,
                            "reading chunks",
                            format!("{key} at offset {o}: {reason}"),
                        ));
                    }
                };
                parsed.push((o, chunk));
            }
            // Chunks are slices of the read buffer and would keep all of it
            // alive while the answer streams out; when most of it was gap,
            // copy the chunks out so the buffer is freed now.
            let useful: usize = parsed.iter().map(|(_, (_, d))| d.len()).sum();
            let copy = useful.saturating_mul(2) < buf.len();
            for (o, (enc, data)) in parsed {
                let data = if copy {
                    Bytes::copy_from_slice(&data)
                } else {
                    data
                };
                out.insert((u64::from(seg) << 32) | o, (enc, data));
            }
        }
        Ok(out)
    }

    fn get_range(
        &self,
        key: &str,
        off: u64,
        len: u64,
        rt: &tokio::runtime::Handle,
    ) -> Result<Bytes> {
        let b = rt
            .block_on(self.ctx.bucket.get_range(key, off, len))
            .map_err(|e| Error::block(self.id, "reading chunks", bucket_err(key, off, e)))?;
        if let Some(m) = &self.ctx.metrics {
            m.fetched("chunks", b.len() as u64);
        }
        Ok(b)
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
            for e in self.series_entries(header, &ids, rt)? {
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
        for e in self.series_entries(header, &ids, rt)? {
            if let Some(v) = e.labels.get(name) {
                out.insert(v.to_string());
            }
        }
        Ok(out)
    }
}

const AGGR_NAMES: [&str; 5] = ["count", "sum", "min", "max", "counter"];

enum ParsedChunk {
    Done(Encoding, Bytes),
    /// Needs this many bytes from the chunk start.
    Need(u64),
    Bad(String),
}

/// Parses `uvarint len | enc | data | crc32` at the start of `b` (a view of
/// `whole` at `rel`).
fn parse_chunk(b: &[u8], whole: &Bytes, rel: usize) -> ParsedChunk {
    let Some((len, n)) = uvarint(b) else {
        return if b.len() >= 10 {
            ParsedChunk::Bad("invalid chunk length".into())
        } else {
            ParsedChunk::Need(16)
        };
    };
    let total = n as u64 + 1 + len + 4;
    if (b.len() as u64) < total {
        return ParsedChunk::Need(total);
    }
    let body = &b[n..total as usize];
    let (payload, sum) = body.split_at(body.len() - 4);
    let stored = u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]]);
    let computed = crc32(payload);
    if stored != computed {
        return ParsedChunk::Bad(format!(
            "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
        ));
    }
    let start = rel + n;
    ParsedChunk::Done(
        Encoding::from_byte(payload[0]),
        whole.slice(start + 1..start + 1 + len as usize),
    )
}

async fn persist(path: &Path, data: &[u8]) -> Result<()> {
    let io = |operation, source| Error::Local {
        path: path.to_path_buf(),
        operation,
        source,
    };
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| io("creating directory", e))?;
    }
    let tmp = path.with_extension("tmp");
    tokio::fs::write(&tmp, data)
        .await
        .map_err(|e| io("writing", e))?;
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| io("renaming", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aeon_tsdb_block::varint::put_uvarint;

    #[test]
    fn chunk_parse_checks_crc_and_length() {
        let mut b = Vec::new();
        put_uvarint(&mut b, 3);
        b.push(1);
        b.extend_from_slice(b"abc");
        let c = crc32(&b[1..]);
        b.extend_from_slice(&c.to_be_bytes());
        let whole = Bytes::from(b.clone());
        assert!(
            matches!(parse_chunk(&whole, &whole, 0), ParsedChunk::Done(Encoding::Xor, d) if &d[..] == b"abc")
        );
        let short = whole.slice(..5);
        assert!(matches!(
            parse_chunk(&short, &short, 0),
            ParsedChunk::Need(9)
        ));
        let mut bad = b.clone();
        bad[3] ^= 1;
        let bad = Bytes::from(bad);
        assert!(
            matches!(parse_chunk(&bad, &bad, 0), ParsedChunk::Bad(r) if r.contains("checksum"))
        );
    }

    #[test]
    fn limiter_names_the_limit() {
        let l = Limiter::new(2, 240);
        l.add_series(2).unwrap();
        let e = aeon_storeapi::Error::from(l.add_series(1).unwrap_err());
        assert!(
            matches!(e, aeon_storeapi::Error::LimitExceeded { limit: 2, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("request-series"), "{e}");
        l.add_chunks(2).unwrap();
        let e = aeon_storeapi::Error::from(l.add_chunks(1).unwrap_err());
        assert!(e.to_string().contains("request-samples"), "{e}");
    }
}
