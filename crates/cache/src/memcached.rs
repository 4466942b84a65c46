//! The memcached backend, as Thanos's `cacheutil.memcachedClient` behaves:
//! every key lives on one server picked by jump hash over the sorted server
//! list; fetches are batched per server (`max_get_multi_batch_size`) and run
//! with bounded concurrency; writes are queued (`max_async_buffer_size`) and
//! sent by `max_async_concurrency` workers; values over `max_item_size` are
//! skipped. Connections are pooled per server (`max_idle_connections`);
//! every connect and operation has `timeout`. `dns+host:port` addresses
//! resolve to every address of `host`, again every
//! `dns_provider_update_interval`.
//!
//! The protocol is Shopify's `async-memcached` (text protocol over tokio).

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_memcached::{AsciiProtocol, Client};
use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::{Semaphore, mpsc};

use crate::config::expiration_or_default;
use crate::{Cache, CacheMetrics, MemcachedConfig};

const BACKEND: &str = "memcached";
/// memcached's longest relative TTL; longer values are read as timestamps.
const MAX_RELATIVE_TTL: u64 = 30 * 24 * 3600;

type Batch = (Vec<(String, Vec<u8>)>, Duration);

struct Inner {
    cfg: MemcachedConfig,
    /// The resolved, sorted server addresses.
    servers: Mutex<Vec<String>>,
    /// Idle connections per server.
    idle: Mutex<HashMap<String, Vec<Client>>>,
    metrics: CacheMetrics,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemcachedCache")
            .field("addresses", &self.cfg.addresses)
            .finish_non_exhaustive()
    }
}

/// A memcached cluster as one cache.
#[derive(Debug)]
pub struct MemcachedCache {
    inner: Arc<Inner>,
    writes: mpsc::Sender<Batch>,
}

impl MemcachedCache {
    /// Creates the client and its background tasks (write workers, DNS
    /// refresh); needs a tokio runtime. Nothing connects until first use.
    pub fn new(cfg: MemcachedConfig, metrics: CacheMetrics) -> Self {
        let (tx, rx) = mpsc::channel(cfg.max_async_buffer_size.max(1));
        let inner = Arc::new(Inner {
            servers: Mutex::new(static_servers(&cfg.addresses)),
            idle: Mutex::new(HashMap::new()),
            cfg,
            metrics,
        });
        tokio::spawn(write_loop(Arc::downgrade(&inner), rx));
        if inner.cfg.addresses.iter().any(|a| a.starts_with("dns+")) {
            tokio::spawn(dns_loop(Arc::downgrade(&inner)));
        }
        Self { inner, writes: tx }
    }
}

/// Addresses usable without DNS (everything but `dns+`), sorted.
fn static_servers(addresses: &[String]) -> Vec<String> {
    let mut v: Vec<String> = addresses
        .iter()
        .filter(|a| !a.starts_with("dns+"))
        .map(|a| a.trim().to_owned())
        .collect();
    v.sort();
    v.dedup();
    v
}

async fn resolve(addresses: &[String]) -> Vec<String> {
    let mut out = static_servers(addresses);
    for a in addresses {
        if let Some(hostport) = a.strip_prefix("dns+") {
            match tokio::net::lookup_host(hostport).await {
                Ok(addrs) => out.extend(addrs.map(|s| s.to_string())),
                Err(e) => {
                    tracing::warn!(address = %a, error = %e, "memcached address does not resolve")
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

async fn dns_loop(inner: Weak<Inner>) {
    loop {
        let Some(i) = inner.upgrade() else { return };
        let every = i
            .cfg
            .dns_provider_update_interval
            .0
            .max(Duration::from_secs(1));
        let resolved = resolve(&i.cfg.addresses).await;
        if !resolved.is_empty() {
            *i.servers.lock() = resolved;
        }
        drop(i);
        tokio::time::sleep(every).await;
    }
}

async fn write_loop(inner: Weak<Inner>, mut rx: mpsc::Receiver<Batch>) {
    let concurrency = match inner.upgrade() {
        Some(i) => i.cfg.max_async_concurrency.max(1),
        None => return,
    };
    let permits = Arc::new(Semaphore::new(concurrency));
    while let Some(batch) = rx.recv().await {
        let Some(i) = inner.upgrade() else { return };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        tokio::spawn(async move {
            i.write(batch).await;
            drop(permit);
        });
    }
}

/// Jump consistent hash (Lamping & Veach), as Thanos picks a server.
fn jump_hash(mut key: u64, buckets: usize) -> usize {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < buckets as i64 {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b.max(0) as usize
}

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 250 && k.bytes().all(|b| b > b' ' && b != 0x7f)
}

impl Inner {
    async fn servers(&self) -> Vec<String> {
        let s = self.servers.lock().clone();
        if !s.is_empty() {
            return s;
        }
        let resolved = resolve(&self.cfg.addresses).await;
        if !resolved.is_empty() {
            *self.servers.lock() = resolved.clone();
        }
        resolved
    }

    fn pick<'a>(&self, servers: &'a [String], key: &str) -> &'a str {
        &servers[jump_hash(xxhash_rust::xxh64::xxh64(key.as_bytes(), 0), servers.len())]
    }

    async fn conn(&self, server: &str) -> Option<Client> {
        if let Some(c) = self.idle.lock().get_mut(server).and_then(Vec::pop) {
            return Some(c);
        }
        match tokio::time::timeout(self.cfg.timeout.0, Client::new(format!("tcp://{server}"))).await
        {
            Ok(Ok(c)) => Some(c),
            Ok(Err(e)) => {
                self.fail("connect", server, &e.to_string());
                None
            }
            Err(_) => {
                self.fail("connect", server, "timeout");
                None
            }
        }
    }

    fn release(&self, server: &str, c: Client) {
        if c.is_closed() {
            return;
        }
        let mut idle = self.idle.lock();
        let pool = idle.entry(server.to_owned()).or_default();
        if pool.len() < self.cfg.max_idle_connections {
            pool.push(c);
        }
    }

    fn fail(&self, op: &str, server: &str, why: &str) {
        self.metrics.failure(BACKEND, op);
        tracing::warn!(
            server,
            operation = op,
            error = why,
            "memcached operation failed"
        );
    }

    async fn get_batch(&self, server: String, keys: Vec<String>) -> Vec<(String, Vec<u8>)> {
        let Some(mut c) = self.conn(&server).await else {
            return Vec::new();
        };
        match tokio::time::timeout(self.cfg.timeout.0, c.get_multi(&keys)).await {
            Ok(Ok(values)) => {
                self.release(&server, c);
                values
                    .into_iter()
                    .filter_map(|v| Some((String::from_utf8(v.key).ok()?, v.data?)))
                    .collect()
            }
            Ok(Err(e)) => {
                self.fail("fetch", &server, &e.to_string());
                Vec::new()
            }
            Err(_) => {
                self.fail("fetch", &server, "timeout");
                Vec::new()
            }
        }
    }

    async fn write(&self, (items, ttl): Batch) {
        let servers = self.servers().await;
        if servers.is_empty() {
            self.fail("store", "-", "no memcached server resolved");
            return;
        }
        let ttl = expiration_or_default(if ttl.is_zero() {
            self.cfg.expiration.0
        } else {
            ttl
        })
        .as_secs()
        .clamp(1, MAX_RELATIVE_TTL) as i64;
        let mut by_server: HashMap<&str, Vec<(String, Vec<u8>)>> = HashMap::new();
        for (k, v) in items {
            if v.len() as u64 > self.cfg.max_item_size.0 {
                self.metrics.dropped(BACKEND, "too_large");
                continue;
            }
            if !valid_key(&k) {
                self.metrics.dropped(BACKEND, "invalid_key");
                continue;
            }
            by_server
                .entry(self.pick(&servers, &k))
                .or_default()
                .push((k, v));
        }
        for (server, kvs) in by_server {
            let Some(mut c) = self.conn(server).await else {
                continue;
            };
            let pairs: Vec<(&str, &[u8])> = kvs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_slice()))
                .collect();
            match tokio::time::timeout(self.cfg.timeout.0, c.set_multi(&pairs, Some(ttl), None))
                .await
            {
                Ok(Ok(results)) => {
                    let failed = results.values().filter(|r| r.is_err()).count();
                    for _ in 0..failed {
                        self.fail("store", server, "set rejected");
                    }
                    self.release(server, c);
                }
                Ok(Err(e)) => self.fail("store", server, &e.to_string()),
                Err(_) => self.fail("store", server, "timeout"),
            }
        }
    }
}

#[async_trait::async_trait]
impl Cache for MemcachedCache {
    async fn fetch(&self, keys: &[String]) -> HashMap<String, Vec<u8>> {
        let i = &self.inner;
        let servers = i.servers().await;
        let mut out = HashMap::new();
        if servers.is_empty() {
            if !keys.is_empty() {
                i.fail("fetch", "-", "no memcached server resolved");
            }
            i.metrics.fetched(keys.len(), 0);
            return out;
        }
        let mut by_server: HashMap<&str, Vec<String>> = HashMap::new();
        for k in keys.iter().filter(|k| valid_key(k)) {
            by_server
                .entry(i.pick(&servers, k))
                .or_default()
                .push(k.clone());
        }
        let batch = match i.cfg.max_get_multi_batch_size {
            0 => usize::MAX,
            n => n,
        };
        let mut batches = Vec::new();
        for (server, ks) in by_server {
            for chunk in ks.chunks(batch.min(ks.len()).max(1)) {
                batches.push((server.to_owned(), chunk.to_vec()));
            }
        }
        let mut results = futures::stream::iter(batches)
            .map(|(s, ks)| i.get_batch(s, ks))
            .buffer_unordered(i.cfg.max_get_multi_concurrency.max(1));
        while let Some(found) = results.next().await {
            out.extend(found);
        }
        i.metrics.fetched(keys.len(), out.len());
        out
    }

    async fn store(&self, items: Vec<(String, Vec<u8>)>, ttl: Duration) {
        if items.is_empty() {
            return;
        }
        if self.writes.try_send((items, ttl)).is_err() {
            self.inner.metrics.dropped(BACKEND, "queue_full");
        }
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jump_hash_is_stable_and_spreads() {
        // Reference values of the algorithm (Go's jump.Hash).
        assert_eq!(jump_hash(0, 1), 0);
        assert_eq!(jump_hash(1, 10), 6);
        assert_eq!(jump_hash(0xdead_beef, 100), jump_hash(0xdead_beef, 100));
        let mut counts = [0usize; 4];
        for k in 0..4000u64 {
            counts[jump_hash(xxhash_rust::xxh64::xxh64(&k.to_le_bytes(), 0), 4)] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }

    #[test]
    fn keys_memcached_accepts() {
        assert!(valid_key("fe:abc"));
        assert!(!valid_key("a b"));
        assert!(!valid_key(&"x".repeat(251)));
        assert!(!valid_key(""));
    }
}
