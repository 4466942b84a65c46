//! Reading the state of a bucket: every block's meta.json and markers, plus
//! the partial uploads (directories without meta.json) and blocks whose
//! meta.json cannot be parsed.
// TODO(lead): the fetch + filters (consistency delay, time partition,
// relabel selector, deletion marks) are what the store-gateway needs too;
// move them to a shared lower crate (objstore's `block` module is the natural home).

use std::collections::{HashMap, HashSet};

use aeon_objstore::block::{
    self, DELETION_MARK_FILENAME, DeletionMark, META_FILENAME, NO_COMPACT_MARK_FILENAME,
    NO_DOWNSAMPLE_MARK_FILENAME, NoCompactMark, NoDownsampleMark,
};
use aeon_objstore::{Bucket, ListMode};
use aeon_tsdb_block::BlockMeta;
use futures::{StreamExt, TryStreamExt};
use ulid::Ulid;

use crate::planner;
use crate::progress::Progress;
use crate::{Error, Result};
use aeon_common::relabel::Relabeler;

/// How many blocks are inspected at once (Thanos's `--block-meta-fetch-concurrency`).
pub const META_FETCH_CONCURRENCY: usize = 32;

/// Everything the compactor knows about a bucket at one instant.
#[derive(Debug, Clone, Default)]
pub struct BucketState {
    /// Blocks with a readable meta.json, sorted by ULID.
    pub metas: Vec<BlockMeta>,
    /// Block directories without meta.json.
    pub partial: Vec<Ulid>,
    /// Blocks whose meta.json could not be parsed, with the reason.
    pub corrupt: Vec<(Ulid, String)>,
    pub deletion_marks: HashMap<Ulid, DeletionMark>,
    pub no_compact_marks: HashMap<Ulid, NoCompactMark>,
    pub no_downsample: HashSet<Ulid>,
}

enum Entry {
    Meta(Box<BlockMeta>),
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

/// meta.json files never change once uploaded: parsed metas are kept across
/// fetches (and iterations), so a sync costs one listing per block.
#[derive(Debug, Default)]
pub struct MetaCache(std::sync::Mutex<HashMap<Ulid, BlockMeta>>);

impl MetaCache {
    fn get(&self, id: Ulid) -> Option<BlockMeta> {
        self.0.lock().ok().and_then(|m| m.get(&id).cloned())
    }

    fn put(&self, m: &BlockMeta) {
        if let Ok(mut c) = self.0.lock() {
            c.insert(m.ulid, m.clone());
        }
    }

    fn retain(&self, ids: &HashSet<Ulid>) {
        if let Ok(mut c) = self.0.lock() {
            c.retain(|k, _| ids.contains(k));
        }
    }

    /// Number of cached metas.
    pub fn len(&self) -> usize {
        self.0.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

async fn fetch_one(bucket: &dyn Bucket, id: Ulid, cache: &MetaCache) -> Result<Fetched> {
    let files = bucket
        .list(&format!("{id}/"), ListMode::Delimited)
        .await
        .map_err(|e| Error::bucket("list", id, e))?;
    let has = |name: &str| {
        files
            .iter()
            .any(|f| f.strip_prefix(&format!("{id}/")) == Some(name))
    };
    let entry = if !has(META_FILENAME) {
        Entry::Partial
    } else if let Some(m) = cache.get(id) {
        Entry::Meta(Box::new(m))
    } else {
        match block::read_meta(bucket, id).await {
            Ok(raw) => match BlockMeta::parse(&raw, &format!("{id}/{META_FILENAME}")) {
                Ok(m) => Entry::Meta(Box::new(m)),
                Err(e) => Entry::Corrupt(e.to_string()),
            },
            // Deleted between list and get: the block is being removed.
            Err(e) if e.is_not_found() => Entry::Partial,
            Err(e) => return Err(Error::bucket("get", format!("{id}/{META_FILENAME}"), e)),
        }
    };
    if let Entry::Meta(m) = &entry {
        cache.put(m);
    }
    let mark_err = |f: &str, e| Error::bucket("read marker", format!("{id}/{f}"), e);
    let deletion = if has(DELETION_MARK_FILENAME) {
        block::read_mark::<DeletionMark>(bucket, id)
            .await
            .map_err(|e| mark_err(DELETION_MARK_FILENAME, e))?
    } else {
        None
    };
    let no_compact = if has(NO_COMPACT_MARK_FILENAME) {
        block::read_mark::<NoCompactMark>(bucket, id)
            .await
            .map_err(|e| mark_err(NO_COMPACT_MARK_FILENAME, e))?
    } else {
        None
    };
    let no_downsample = has(NO_DOWNSAMPLE_MARK_FILENAME)
        && block::read_mark::<NoDownsampleMark>(bucket, id)
            .await
            .map_err(|e| mark_err(NO_DOWNSAMPLE_MARK_FILENAME, e))?
            .is_some();
    Ok(Fetched {
        id,
        entry,
        deletion,
        no_compact,
        no_downsample,
    })
}

/// Lists and reads every block of the bucket.
pub async fn fetch(bucket: &dyn Bucket) -> Result<BucketState> {
    fetch_cached(bucket, &MetaCache::default()).await
}

/// [`fetch`], reusing (and refreshing) already parsed metas.
pub async fn fetch_cached(bucket: &dyn Bucket, cache: &MetaCache) -> Result<BucketState> {
    fetch_with_progress(bucket, cache, &Progress::hidden()).await
}

/// [`fetch_cached`], counting every block read on `progress`.
pub async fn fetch_with_progress(
    bucket: &dyn Bucket,
    cache: &MetaCache,
    progress: &Progress,
) -> Result<BucketState> {
    let ids = block::list_blocks(bucket)
        .await
        .map_err(|e| Error::bucket("list", "blocks", e))?;
    cache.retain(&ids.iter().copied().collect());
    progress.set_total(ids.len() as u64);
    let fetched: Vec<Fetched> = futures::stream::iter(ids)
        .map(|id| fetch_one(bucket, id, cache))
        .buffered(META_FETCH_CONCURRENCY)
        .inspect_ok(|_| progress.inc())
        .try_collect()
        .await?;
    progress.finish();
    let mut st = BucketState::default();
    for f in fetched {
        match f.entry {
            Entry::Meta(m) => st.metas.push(*m),
            Entry::Partial => st.partial.push(f.id),
            Entry::Corrupt(why) => st.corrupt.push((f.id, why)),
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

/// Label holding the block ULID during selection relabeling.
pub const BLOCK_ID_LABEL: &str = "__block_id";

/// Which blocks this compactor acts on.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub relabel: Relabeler,
    /// `--min-time` / `--max-time`, resolved (ms).
    pub min_time: i64,
    pub max_time: i64,
    pub consistency_delay: std::time::Duration,
}

impl Selection {
    /// Whether the block's external labels pass the relabel selector.
    /// As in Thanos, the rules see the external labels plus `__block_id`.
    pub fn selects_labels(&self, m: &BlockMeta) -> bool {
        let labels = planner::group_labels(m, &[]);
        let mut v: Vec<aeon_model::Label> = labels.iter().cloned().collect();
        v.push(aeon_model::Label {
            name: BLOCK_ID_LABEL.into(),
            value: m.ulid.to_string(),
        });
        self.relabel.process(&aeon_model::Labels::new(v)).is_some()
    }

    /// Thanos's time partition filter.
    pub fn in_time_range(&self, m: &BlockMeta) -> bool {
        m.max_time > self.min_time && m.min_time <= self.max_time
    }

    /// Thanos's consistency delay: fresh blocks from producers other than the
    /// compactor wait until they are `consistency_delay` old (ULID time).
    pub fn is_consistent(&self, m: &BlockMeta, now_ms: i64) -> bool {
        let source = m.thanos.as_ref().map_or("", |t| t.source.as_str());
        if matches!(source, "compactor" | "compactor.repair" | "bucket.repair") {
            return true;
        }
        let age = now_ms.saturating_sub(i64::try_from(m.ulid.timestamp_ms()).unwrap_or(i64::MAX));
        age >= i64::try_from(self.consistency_delay.as_millis()).unwrap_or(i64::MAX)
    }

    /// Blocks to plan with: selected, in range, consistent and not marked for deletion.
    pub fn filter(&self, st: &BucketState, now_ms: i64) -> Vec<BlockMeta> {
        st.metas
            .iter()
            .filter(|m| !st.deletion_marks.contains_key(&m.ulid))
            .filter(|m| {
                self.selects_labels(m) && self.in_time_range(m) && self.is_consistent(m, now_ms)
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use aeon_objstore::InMemoryBucket;
    use aeon_objstore::block::{MarkReason, write_mark};
    use aeon_tsdb_block::ThanosMeta;
    use bytes::Bytes;

    use super::*;

    fn meta(id: Ulid, source: &str, cluster: &str) -> BlockMeta {
        let mut m = BlockMeta::new(id, 0, 7_200_000);
        m.thanos = Some(ThanosMeta {
            labels: BTreeMap::from([("cluster".into(), cluster.into())]),
            source: source.into(),
            ..Default::default()
        });
        m
    }

    #[tokio::test]
    async fn fetch_sorts_blocks_partials_corrupt_and_marks() {
        let b = InMemoryBucket::new("m");
        let now = 1_800_000_000_000u64;
        let ids: Vec<Ulid> = (0..4)
            .map(|i| Ulid::from_parts(now - 10_000_000 + i, 1))
            .collect();
        for &id in &ids[..2] {
            b.upload(
                &format!("{id}/meta.json"),
                Bytes::from(meta(id, "sidecar", "a").to_json().unwrap()),
            )
            .await
            .unwrap();
        }
        b.upload(&format!("{}/index", ids[2]), Bytes::from_static(b"x"))
            .await
            .unwrap();
        b.upload(
            &format!("{}/meta.json", ids[3]),
            Bytes::from_static(b"{nope"),
        )
        .await
        .unwrap();
        write_mark(
            &b,
            &DeletionMark {
                id: ids[0],
                version: 1,
                details: None,
                deletion_time: 5,
            },
        )
        .await
        .unwrap();
        write_mark(
            &b,
            &NoCompactMark {
                id: ids[1],
                version: 1,
                details: None,
                no_compact_time: 5,
                reason: MarkReason::Manual,
            },
        )
        .await
        .unwrap();
        let st = fetch(&b).await.unwrap();
        assert_eq!(
            st.metas.iter().map(|m| m.ulid).collect::<Vec<_>>(),
            ids[..2]
        );
        assert_eq!(st.partial, vec![ids[2]]);
        assert_eq!(st.corrupt.len(), 1);
        assert_eq!(st.corrupt[0].0, ids[3]);
        assert!(st.deletion_marks.contains_key(&ids[0]));
        assert!(st.no_compact_marks.contains_key(&ids[1]));

        let sel = Selection {
            relabel: Relabeler::default(),
            min_time: i64::MIN,
            max_time: i64::MAX,
            consistency_delay: Duration::from_secs(1800),
        };
        // ids[1] is 10_000 s old: consistent; ids[0] is marked for deletion.
        let picked = sel.filter(&st, now as i64);
        assert_eq!(
            picked.iter().map(|m| m.ulid).collect::<Vec<_>>(),
            vec![ids[1]]
        );
        assert!(
            sel.filter(&st, now as i64 - 9_000_000).is_empty(),
            "too fresh"
        );
    }

    #[test]
    fn selection_filters_by_time_labels_and_source() {
        let now = 1_800_000_000_000i64;
        let fresh = Ulid::from_parts(now as u64 - 1000, 1);
        let sel = Selection {
            relabel: Relabeler::parse(
                "- action: keep\n  source_labels: [cluster]\n  regex: eu.*\n",
                "t",
            )
            .unwrap(),
            min_time: 7_200_000,
            max_time: i64::MAX,
            consistency_delay: Duration::from_secs(1800),
        };
        assert!(!sel.is_consistent(&meta(fresh, "sidecar", "eu1"), now));
        assert!(sel.is_consistent(&meta(fresh, "compactor", "eu1"), now));
        assert!(sel.selects_labels(&meta(fresh, "x", "eu1")));
        assert!(!sel.selects_labels(&meta(fresh, "x", "us1")));
        assert!(
            !sel.in_time_range(&meta(fresh, "x", "eu1")),
            "block ends at min-time"
        );
        let mut m = meta(fresh, "x", "eu1");
        m.max_time = 7_200_001;
        assert!(sel.in_time_range(&m));
        // Blocks without external labels are still selected by default, and
        // rules may shard on `__block_id` as in Thanos.
        let mut bare = meta(fresh, "x", "eu1");
        bare.thanos = None;
        assert!(Selection::default().selects_labels(&bare));
        let by_id = Selection {
            relabel: Relabeler::parse(
                &format!("- action: keep\n  source_labels: [__block_id]\n  regex: {fresh}\n"),
                "t",
            )
            .unwrap(),
            ..Default::default()
        };
        assert!(by_id.selects_labels(&bare));
        assert!(!by_id.selects_labels(&meta(Ulid::from_parts(1, 1), "x", "eu1")));
    }
}
