//! The in-memory index cache: expanded postings (per block and matcher
//! set) and decoded series entries (per block and series ID), evicted
//! least-recently-used first so that the total stays within
//! `--index-cache-size` bytes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use aeon_tsdb_block::SeriesEntry;
use ulid::Ulid;

use crate::metrics::Metrics;

/// What is cached.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CacheKey {
    /// Series IDs matching a canonical matcher set in a block.
    Postings(Ulid, String),
    /// One series entry of a block.
    Series(Ulid, u32),
}

impl CacheKey {
    fn item_type(&self) -> &'static str {
        match self {
            Self::Postings(..) => "ExpandedPostings",
            Self::Series(..) => "Series",
        }
    }

    fn size(&self) -> usize {
        match self {
            Self::Postings(_, s) => 16 + s.len(),
            Self::Series(..) => 20,
        }
    }
}

/// A cached value.
#[derive(Debug, Clone)]
pub enum CacheValue {
    Postings(Arc<Vec<u32>>),
    Series(Arc<SeriesEntry>),
}

impl CacheValue {
    fn size(&self) -> usize {
        match self {
            Self::Postings(p) => 32 + p.len() * 4,
            Self::Series(s) => {
                64 + s.chunks.len() * 24
                    + s.labels
                        .iter()
                        .map(|l| 48 + l.name.len() + l.value.len())
                        .sum::<usize>()
            }
        }
    }
}

#[derive(Debug)]
struct Entry {
    value: CacheValue,
    size: usize,
    tick: u64,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<CacheKey, Entry>,
    lru: BTreeMap<u64, CacheKey>,
    tick: u64,
    bytes: usize,
}

/// LRU cache bounded by bytes. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct IndexCache {
    inner: Arc<Mutex<Inner>>,
    max_bytes: usize,
    metrics: Option<Metrics>,
}

impl IndexCache {
    /// A cache holding at most `max_bytes` (0 disables caching).
    pub fn new(max_bytes: u64, metrics: Option<Metrics>) -> Self {
        Self {
            inner: Arc::default(),
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX),
            metrics,
        }
    }

    pub fn get(&self, key: &CacheKey) -> Option<CacheValue> {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        g.tick += 1;
        let tick = g.tick;
        let found = match g.map.get_mut(key) {
            Some(e) => {
                let old = e.tick;
                e.tick = tick;
                Some((old, e.value.clone()))
            }
            None => None,
        };
        if let Some((old, _)) = &found {
            g.lru.remove(old);
            g.lru.insert(tick, key.clone());
        }
        drop(g);
        if let Some(m) = &self.metrics {
            m.cache_lookup(key.item_type(), found.is_some());
        }
        found.map(|(_, v)| v)
    }

    pub fn put(&self, key: CacheKey, value: CacheValue) {
        let size = key.size() + value.size();
        // Like Thanos's default max item size: half the cache.
        if size > self.max_bytes / 2 {
            return;
        }
        let item = key.item_type();
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        g.tick += 1;
        let tick = g.tick;
        if let Some(old) = g.map.remove(&key) {
            g.lru.remove(&old.tick);
            g.bytes -= old.size;
            self.gauge(item, -1, -(old.size as i64));
        }
        while g.bytes + size > self.max_bytes {
            let Some((_, k)) = g.lru.pop_first() else {
                break;
            };
            if let Some(e) = g.map.remove(&k) {
                g.bytes -= e.size;
                self.gauge(k.item_type(), -1, -(e.size as i64));
                if let Some(m) = &self.metrics {
                    m.cache_evictions
                        .get_or_create(&vec![("item_type".into(), k.item_type().into())])
                        .inc();
                }
            }
        }
        g.bytes += size;
        g.lru.insert(tick, key.clone());
        g.map.insert(key, Entry { value, size, tick });
        self.gauge(item, 1, size as i64);
        if let Some(m) = &self.metrics {
            m.cache_items_added
                .get_or_create(&vec![("item_type".into(), item.into())])
                .inc();
        }
    }

    fn gauge(&self, item: &str, items: i64, bytes: i64) {
        if let Some(m) = &self.metrics {
            let l = vec![("item_type".to_string(), item.to_string())];
            m.cache_items.get_or_create(&l).inc_by(items);
            m.cache_bytes.get_or_create(&l).inc_by(bytes);
        }
    }

    /// Bytes currently held.
    pub fn bytes(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .bytes
    }

    /// Items currently held.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry of a block (when the block goes away).
    pub fn remove_block(&self, id: Ulid) {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let keys: Vec<CacheKey> = g
            .map
            .keys()
            .filter(|k| matches!(k, CacheKey::Postings(b, _) | CacheKey::Series(b, _) if *b == id))
            .cloned()
            .collect();
        for k in keys {
            if let Some(e) = g.map.remove(&k) {
                g.lru.remove(&e.tick);
                g.bytes -= e.size;
                self.gauge(k.item_type(), -1, -(e.size as i64));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(n: usize) -> CacheValue {
        CacheValue::Postings(Arc::new(vec![7; n]))
    }

    #[test]
    fn evicts_least_recently_used_within_budget() {
        let c = IndexCache::new(1000, None);
        let id = Ulid::nil();
        let k = |i: u32| CacheKey::Postings(id, format!("m{i}"));
        for i in 0..4 {
            c.put(k(i), post(40)); // 32 + 160 + 16 + 2 = 210 bytes each
        }
        assert_eq!(c.len(), 4);
        assert!(c.get(&k(0)).is_some()); // 0 is now most recent
        c.put(k(4), post(40));
        assert!(c.bytes() <= 1000);
        assert!(c.get(&k(1)).is_none(), "1 was least recently used");
        assert!(c.get(&k(0)).is_some());
        assert!(c.get(&k(4)).is_some());
        // Too big for the cache: not stored.
        c.put(k(9), post(200));
        assert!(c.get(&k(9)).is_none());
        // Overwrite keeps accounting right.
        c.put(k(4), post(10));
        c.put(k(4), post(10));
        let n = c.len();
        c.remove_block(id);
        assert_eq!((c.len(), c.bytes()), (0, 0), "had {n}");
    }

    #[test]
    fn zero_size_disables() {
        let c = IndexCache::new(0, None);
        c.put(CacheKey::Series(Ulid::nil(), 1), post(1));
        assert!(c.is_empty());
    }
}
