//! The in-memory cache: least recently used entries go first when a bound on
//! bytes or entries is reached; entries older than the validity are misses.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::{Cache, CacheMetrics, InMemoryConfig};

/// Bytes an entry is charged beyond its key and value (bookkeeping).
const ENTRY_OVERHEAD: u64 = 64;

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    stored: Instant,
    seq: u64,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, Entry>,
    /// Recency order: sequence number → key.
    order: BTreeMap<u64, String>,
    next_seq: u64,
    bytes: u64,
}

/// An in-process cache bounded by bytes, entries and validity.
#[derive(Debug)]
pub struct MemoryCache {
    max_bytes: u64,
    max_items: usize,
    validity: Option<Duration>,
    inner: Mutex<Inner>,
    metrics: CacheMetrics,
}

fn cost(key: &str, value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64 + ENTRY_OVERHEAD
}

impl MemoryCache {
    /// A cache with Thanos's in-memory settings (`max_size` that does not
    /// parse counts as unset; the config check reports it first).
    pub fn new(cfg: &InMemoryConfig, metrics: CacheMetrics) -> Self {
        let max_bytes = cfg
            .max_size
            .trim()
            .parse::<aeon_common::flags::ByteSize>()
            .map(|b| b.0)
            .unwrap_or(0);
        Self::with_bounds(max_bytes, cfg.max_size_items, cfg.validity.0, metrics)
    }

    /// A cache keeping at most `max_bytes` (0: no bound) and `max_items` (0:
    /// no bound) entries, each valid for `validity` (0: until evicted). Both
    /// bounds 0: nothing is kept.
    pub fn with_bounds(
        max_bytes: u64,
        max_items: usize,
        validity: Duration,
        metrics: CacheMetrics,
    ) -> Self {
        Self {
            max_bytes,
            max_items,
            validity: (!validity.is_zero()).then_some(validity),
            inner: Mutex::new(Inner::default()),
            metrics,
        }
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.inner.lock().map.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes charged now (keys, values and a fixed overhead per entry).
    pub fn bytes(&self) -> u64 {
        self.inner.lock().bytes
    }

    fn unbounded_nothing(&self) -> bool {
        self.max_bytes == 0 && self.max_items == 0
    }

    fn remove(inner: &mut Inner, key: &str) {
        if let Some(e) = inner.map.remove(key) {
            inner.order.remove(&e.seq);
            inner.bytes -= cost(key, &e.value);
        }
    }

    fn insert(&self, key: String, value: Vec<u8>) {
        let c = cost(&key, &value);
        if self.max_bytes > 0 && c > self.max_bytes {
            self.metrics.dropped("inmemory", "too_large");
            return;
        }
        let mut inner = self.inner.lock();
        Self::remove(&mut inner, &key);
        while (self.max_bytes > 0 && inner.bytes + c > self.max_bytes)
            || (self.max_items > 0 && inner.map.len() >= self.max_items)
        {
            let Some((_, oldest)) = inner.order.pop_first() else {
                break;
            };
            if let Some(e) = inner.map.remove(&oldest) {
                inner.bytes -= cost(&oldest, &e.value);
            }
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.order.insert(seq, key.clone());
        inner.bytes += c;
        inner.map.insert(
            key,
            Entry {
                value,
                stored: Instant::now(),
                seq,
            },
        );
    }
}

#[async_trait::async_trait]
impl Cache for MemoryCache {
    async fn fetch(&self, keys: &[String]) -> HashMap<String, Vec<u8>> {
        let mut out = HashMap::new();
        {
            let mut inner = self.inner.lock();
            for k in keys {
                let expired = match inner.map.get(k) {
                    None => continue,
                    Some(e) => self.validity.is_some_and(|v| e.stored.elapsed() > v),
                };
                if expired {
                    Self::remove(&mut inner, k);
                    continue;
                }
                let seq = inner.next_seq;
                inner.next_seq += 1;
                let Some(e) = inner.map.get_mut(k) else {
                    continue;
                };
                let old = std::mem::replace(&mut e.seq, seq);
                let value = e.value.clone();
                inner.order.remove(&old);
                inner.order.insert(seq, k.clone());
                out.insert(k.clone(), value);
            }
        }
        self.metrics.fetched(keys.len(), out.len());
        out
    }

    async fn store(&self, items: Vec<(String, Vec<u8>)>, _ttl: Duration) {
        if self.unbounded_nothing() {
            return;
        }
        for (k, v) in items {
            self.insert(k, v);
        }
    }

    fn backend(&self) -> &'static str {
        "inmemory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(bytes: u64, items: usize, validity: Duration) -> MemoryCache {
        MemoryCache::with_bounds(bytes, items, validity, CacheMetrics::default())
    }

    fn kv(k: &str, n: usize) -> (String, Vec<u8>) {
        (k.to_owned(), vec![7; n])
    }

    #[tokio::test]
    async fn evicts_least_recently_used_by_items() {
        let c = cache(0, 2, Duration::ZERO);
        c.store(vec![kv("a", 1), kv("b", 1)], Duration::ZERO).await;
        // Touch a, so b is the oldest.
        assert_eq!(c.fetch(&["a".into()]).await.len(), 1);
        c.store(vec![kv("c", 1)], Duration::ZERO).await;
        let got = c.fetch(&["a".into(), "b".into(), "c".into()]).await;
        let mut keys: Vec<_> = got.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["a", "c"]);
    }

    #[tokio::test]
    async fn bounded_by_bytes_and_replaces_in_place() {
        let c = cache(3 * (ENTRY_OVERHEAD + 101), 0, Duration::ZERO);
        for k in ["a", "b", "c", "d"] {
            c.store(vec![kv(k, 100)], Duration::ZERO).await;
        }
        assert_eq!(c.len(), 3);
        assert!(c.bytes() <= 3 * (ENTRY_OVERHEAD + 101));
        c.store(vec![kv("d", 50)], Duration::ZERO).await;
        assert_eq!(c.len(), 3);
        assert_eq!(c.fetch(&["d".into()]).await["d"].len(), 50);
        // Larger than the whole cache: not stored.
        c.store(vec![kv("big", 10_000)], Duration::ZERO).await;
        assert!(c.fetch(&["big".into()]).await.is_empty());
    }

    #[tokio::test]
    async fn validity_expires_and_no_bounds_keeps_nothing() {
        let c = cache(0, 10, Duration::from_millis(30));
        c.store(vec![kv("a", 1)], Duration::ZERO).await;
        assert_eq!(c.fetch(&["a".into()]).await.len(), 1);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(c.fetch(&["a".into()]).await.is_empty());
        assert!(c.is_empty());
        let none = cache(0, 0, Duration::ZERO);
        none.store(vec![kv("a", 1)], Duration::ZERO).await;
        assert!(none.is_empty());
    }
}
