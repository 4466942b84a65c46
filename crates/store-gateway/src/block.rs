//! One block of the bucket as the gateway serves it, and its lifecycle:
//! meta and external labels, the index-header built lazily from ranged
//! reads of the index, persisted under `--data-dir`, held in memory while
//! used and dropped when idle. Queries are in [`query`], chunk fetching in
//! [`chunks`].

mod chunks;
mod query;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use aeon_model::{Label, Labels};
use aeon_objstore::Bucket;
use aeon_tsdb_block::{BlockMeta, IndexHeader, IndexReader};
use ulid::Ulid;

use crate::cache::IndexCache;
use crate::limits::ChunkPool;
use crate::metrics::Metrics;
use crate::source::BucketSource;
use crate::{Error, Result};

pub use chunks::CHUNK_COALESCE_GAP;
pub use query::BlockQuery;

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
