//! Reading the state of a bucket: every block's meta.json and marks, the
//! partial uploads (directories without meta.json), the blocks whose
//! meta.json cannot be parsed and the blocks that could not be read at all.
//!
//! Per block the fetcher lists the block directory once, reads meta.json if
//! it is there and not cached yet, and reads the marks that are there. As in
//! Thanos (`BaseFetcher.fetchMetadata`), a meta.json that does not parse
//! makes its block *corrupt* and a block that cannot be read (a bucket error,
//! a mark of an unknown version) is *failed* — an incomplete view — but
//! neither fails the fetch; a mark that does not parse is ignored with a
//! warning (Thanos's `ErrorUnmarshalMarker`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use aeon_objstore::block::{
    self, DELETION_MARK_FILENAME, DeletionMark, MARK_VERSION_1, META_FILENAME, Mark,
    NO_COMPACT_MARK_FILENAME, NO_DOWNSAMPLE_MARK_FILENAME, NoCompactMark, NoDownsampleMark,
};
use aeon_objstore::{Bucket, ListMode};
use aeon_tsdb_block::BlockMeta;
use futures::StreamExt;
use ulid::Ulid;

use crate::{Error, Result};

/// How many blocks are inspected at once (Thanos's `FetcherConcurrency`, the
/// default of `--block-meta-fetch-concurrency`).
pub const META_FETCH_CONCURRENCY: usize = 32;

/// Everything known about a bucket at one instant.
#[derive(Debug, Clone, Default)]
pub struct BucketState {
    /// Blocks with a readable meta.json, sorted by ULID.
    pub metas: Vec<Arc<BlockMeta>>,
    /// Block directories without meta.json (Thanos's `no-meta-json`).
    pub partial: Vec<Ulid>,
    /// Blocks whose meta.json does not parse or names another block, with
    /// the reason (Thanos's `corrupted-meta-json`).
    pub corrupt: Vec<(Ulid, String)>,
    /// Blocks that could not be read this time (bucket errors, marks of an
    /// unknown version), with the error (Thanos's `failed`). Retried at the
    /// next fetch.
    pub failed: Vec<(Ulid, String)>,
    pub deletion_marks: HashMap<Ulid, DeletionMark>,
    pub no_compact_marks: HashMap<Ulid, NoCompactMark>,
    /// Blocks with a no-downsample mark.
    pub no_downsample: HashSet<Ulid>,
}

impl BucketState {
    /// Whether every listed block was read.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }

    /// Errors with Thanos's "incomplete view" when a block could not be read
    /// (callers that must not act on a partial view, like the compactor).
    pub fn ensure_complete(&self) -> Result<()> {
        match self.failed.first() {
            None => Ok(()),
            Some((block, reason)) => Err(Error::Incomplete {
                count: self.failed.len(),
                block: *block,
                reason: reason.clone(),
            }),
        }
    }
}

/// Counts the fetch's progress (the compactor's progress bars).
pub trait FetchObserver: Send + Sync {
    /// Number of block directories listed.
    fn listed(&self, _blocks: u64) {}
    /// One block read.
    fn block_done(&self) {}
    /// All blocks read.
    fn finished(&self) {}
}

struct NoObserver;
impl FetchObserver for NoObserver {}

/// meta.json files never change once uploaded: parsed metas are kept across
/// fetches, so a fetch costs one listing per block plus the marks present.
#[derive(Debug, Default)]
pub struct MetaCache(Mutex<HashMap<Ulid, Arc<BlockMeta>>>);

impl MetaCache {
    fn get(&self, id: Ulid) -> Option<Arc<BlockMeta>> {
        self.lock().get(&id).cloned()
    }

    fn put(&self, m: &Arc<BlockMeta>) {
        self.lock().insert(m.ulid, m.clone());
    }

    fn retain(&self, ids: &HashSet<Ulid>) {
        self.lock().retain(|k, _| ids.contains(k));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Ulid, Arc<BlockMeta>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of cached metas.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads [`BucketState`]s of a bucket, `concurrency` blocks at a time,
/// caching parsed metas in a (shareable) [`MetaCache`].
#[derive(Debug, Clone)]
pub struct Fetcher {
    cache: Arc<MetaCache>,
    concurrency: usize,
}

impl Default for Fetcher {
    fn default() -> Self {
        Self::new(META_FETCH_CONCURRENCY)
    }
}

enum Entry {
    Meta(Arc<BlockMeta>),
    Partial,
    Corrupt(String),
}

struct Fetched {
    id: Ulid,
    entry: Entry,
    deletion: Option<DeletionMark>,
    no_compact: Option<NoCompactMark>,
    no_downsample: bool,
}

/// Renders an error with its sources, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// A version-1 mark, if present. `Ok(None)` for a missing or unparsable
/// mark (Thanos warns and goes on); `Err` for a bucket error or an unknown
/// version (Thanos fails the filter).
async fn read_mark<M: Mark>(
    bucket: &dyn Bucket,
    id: Ulid,
    version: impl Fn(&M) -> i32,
) -> std::result::Result<Option<M>, String> {
    let key = block::block_key(id, M::FILENAME);
    let raw = match bucket.get(&key).await {
        Ok(raw) => raw,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(chain(&e)),
    };
    match serde_json::from_slice::<M>(&raw) {
        Ok(m) if version(&m) == MARK_VERSION_1 => Ok(Some(m)),
        Ok(m) => Err(format!(
            "{key}: unexpected version {}, expected {MARK_VERSION_1}",
            version(&m)
        )),
        Err(e) => {
            tracing::warn!(block = %id, file = M::FILENAME, error = %e, "ignoring a mark that does not parse; delete it if this repeats");
            Ok(None)
        }
    }
}

impl Fetcher {
    /// A fetcher with its own cache.
    pub fn new(concurrency: usize) -> Self {
        Self {
            cache: Arc::default(),
            concurrency: concurrency.max(1),
        }
    }

    /// Shares `cache` (e.g. across compactor iterations).
    pub fn with_cache(mut self, cache: Arc<MetaCache>) -> Self {
        self.cache = cache;
        self
    }

    /// The meta cache.
    pub fn cache(&self) -> &Arc<MetaCache> {
        &self.cache
    }

    /// Lists and reads every block of the bucket.
    pub async fn fetch(&self, bucket: &dyn Bucket) -> Result<BucketState> {
        self.fetch_observed(bucket, &NoObserver).await
    }

    /// [`Self::fetch`], reporting progress to `observer`.
    pub async fn fetch_observed(
        &self,
        bucket: &dyn Bucket,
        observer: &dyn FetchObserver,
    ) -> Result<BucketState> {
        let ids = block::list_blocks(bucket)
            .await
            .map_err(|cause| Error::List {
                bucket: bucket.name().to_string(),
                cause,
            })?;
        self.cache.retain(&ids.iter().copied().collect());
        observer.listed(ids.len() as u64);
        let fetched: Vec<std::result::Result<Fetched, (Ulid, String)>> = futures::stream::iter(ids)
            .map(|id| async move {
                let r = self.fetch_one(bucket, id).await.map_err(|e| (id, e));
                observer.block_done();
                r
            })
            .buffered(self.concurrency)
            .collect()
            .await;
        observer.finished();
        let mut st = BucketState::default();
        for f in fetched {
            let f = match f {
                Ok(f) => f,
                Err((id, why)) => {
                    tracing::warn!(block = %id, error = %why, "cannot read block; retrying at the next sync");
                    st.failed.push((id, why));
                    continue;
                }
            };
            match f.entry {
                Entry::Meta(m) => st.metas.push(m),
                Entry::Partial => st.partial.push(f.id),
                Entry::Corrupt(why) => {
                    tracing::warn!(block = %f.id, error = %why, "skipping block with a corrupt meta.json");
                    st.corrupt.push((f.id, why));
                }
            }
            if let Some(d) = f.deletion {
                st.deletion_marks.insert(f.id, d);
            }
            if let Some(n) = f.no_compact {
                st.no_compact_marks.insert(f.id, n);
            }
            if f.no_downsample {
                st.no_downsample.insert(f.id);
            }
        }
        Ok(st)
    }

    async fn fetch_one(
        &self,
        bucket: &dyn Bucket,
        id: Ulid,
    ) -> std::result::Result<Fetched, String> {
        let dir = format!("{id}/");
        let files = bucket
            .list(&dir, ListMode::Delimited)
            .await
            .map_err(|e| chain(&e))?;
        let has = |name: &str| files.iter().any(|f| f.strip_prefix(&dir) == Some(name));
        let entry = if !has(META_FILENAME) {
            Entry::Partial
        } else if let Some(m) = self.cache.get(id) {
            Entry::Meta(m)
        } else {
            let file = block::block_key(id, META_FILENAME);
            match block::read_meta(bucket, id).await {
                Ok(raw) => match BlockMeta::parse(&raw, &file) {
                    Ok(m) if m.ulid == id => Entry::Meta(Arc::new(m)),
                    Ok(m) => Entry::Corrupt(format!("{file} names block {}", m.ulid)),
                    Err(e) => Entry::Corrupt(chain(&e)),
                },
                // Deleted between list and get: the block is being removed.
                Err(e) if e.is_not_found() => Entry::Partial,
                Err(e) => return Err(chain(&e)),
            }
        };
        if let Entry::Meta(m) = &entry {
            self.cache.put(m);
        }
        let deletion = if has(DELETION_MARK_FILENAME) {
            read_mark::<DeletionMark>(bucket, id, |m| m.version).await?
        } else {
            None
        };
        let no_compact = if has(NO_COMPACT_MARK_FILENAME) {
            read_mark::<NoCompactMark>(bucket, id, |m| m.version).await?
        } else {
            None
        };
        let no_downsample = has(NO_DOWNSAMPLE_MARK_FILENAME)
            && read_mark::<NoDownsampleMark>(bucket, id, |m| m.version)
                .await?
                .is_some();
        Ok(Fetched {
            id,
            entry,
            deletion,
            no_compact,
            no_downsample,
        })
    }
}
