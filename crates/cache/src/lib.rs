//! Caches shared by Aeon services (layer L2): the query-frontend's results
//! cache today, the store-gateway's index cache next.
//!
//! One [`Cache`] trait with three backends: [`MemoryCache`] (bounded by bytes,
//! items and a validity), [`MemcachedCache`] (a pool per server, keys spread
//! by jump hash, batched `get` with bounded concurrency) and [`RedisCache`]
//! (one multiplexed, reconnecting connection; `MGET` batches, `SET … EX`).
//! [`from_yaml`] builds one from Thanos's cache YAML (`type: IN-MEMORY |
//! MEMCACHED | REDIS` with `config:`), field for field as Thanos documents it.
//!
//! A cache never fails its caller: a backend that is down or slow answers
//! fetches with what it has (often nothing) and drops writes; each failure is
//! logged and counted ([`CacheMetrics`]), so the service falls back to the
//! source of truth.

#![warn(unreachable_pub)]

mod config;
mod error;
mod memcached;
mod memory;
mod metrics;
mod redis;
#[cfg(any(test, feature = "testutil"))]
pub mod testutil;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use config::{
    CacheConfig, CacheType, InMemoryConfig, MemcachedConfig, RedisConfig, RedisTlsConfig, from_yaml,
};
pub use error::{Error, Result};
pub use memcached::MemcachedCache;
pub use memory::MemoryCache;
pub use metrics::CacheMetrics;
pub use redis::RedisCache;

/// A key-value cache whose failures are the cache's own business.
#[async_trait::async_trait]
pub trait Cache: Send + Sync + fmt::Debug {
    /// The values found for `keys`. Missing keys, and keys the backend could
    /// not be asked about (an error, a timeout), are absent.
    async fn fetch(&self, keys: &[String]) -> HashMap<String, Vec<u8>>;
    /// Stores `items` for `ttl` (`Duration::ZERO`: the backend's default
    /// expiration). Remote backends write in the background: this returns
    /// once the write is queued; a full queue drops it (counted).
    async fn store(&self, items: Vec<(String, Vec<u8>)>, ttl: Duration);
    /// The backend's name in metrics and logs (`inmemory`, `memcached`,
    /// `redis`).
    fn backend(&self) -> &'static str;
}

/// A shared cache.
pub type SharedCache = Arc<dyn Cache>;

/// Cortex's `HashKey`: the key's FNV-1a 64 hash in hex, safe as a memcached
/// key whatever the key holds (memcached keys are at most 250 printable
/// bytes).
pub fn hash_key(key: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_key_is_fnv1a_hex() {
        // FNV-1a 64 of "" and "a" (reference values of the algorithm).
        assert_eq!(super::hash_key(""), "cbf29ce484222325");
        assert_eq!(super::hash_key("a"), "af63dc4c8601ec8c");
    }
}
