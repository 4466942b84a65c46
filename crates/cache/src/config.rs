//! Thanos's cache YAML (`queryfrontend.NewCacheConfig`, `cacheutil`'s
//! memcached and redis client configs): `type` picks the backend, `config`
//! holds its fields with Thanos's names and defaults. The memcached and redis
//! sections are strict (unknown fields are errors), the in-memory one is not,
//! as in Thanos.

use std::sync::Arc;
use std::time::Duration;

use aeon_common::flags::{ByteSize, GoDuration};
use serde::Deserialize;

use crate::{CacheMetrics, Error, MemcachedCache, MemoryCache, RedisCache, Result, SharedCache};

/// The backend named by `type` (matched case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheType {
    /// `IN-MEMORY`
    InMemory,
    /// `MEMCACHED`
    Memcached,
    /// `REDIS`
    Redis,
}

/// A parsed cache YAML.
// Parsed once at start-up: the size of the larger variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum CacheConfig {
    /// `type: IN-MEMORY`
    InMemory(InMemoryConfig),
    /// `type: MEMCACHED`
    Memcached(MemcachedConfig),
    /// `type: REDIS`
    Redis(RedisConfig),
}

impl CacheConfig {
    /// The backend.
    pub fn kind(&self) -> CacheType {
        match self {
            CacheConfig::InMemory(_) => CacheType::InMemory,
            CacheConfig::Memcached(_) => CacheType::Memcached,
            CacheConfig::Redis(_) => CacheType::Redis,
        }
    }

    /// Parses Thanos's cache YAML; `origin` names the flag or file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Top {
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            config: Option<serde_yaml_ng::Value>,
        }
        let yaml = |source| Error::Yaml {
            origin: origin.to_owned(),
            source,
        };
        let top: Top = serde_yaml_ng::from_str(text).map_err(yaml)?;
        let body = top
            .config
            .filter(|v| !v.is_null())
            .unwrap_or_else(|| serde_yaml_ng::Value::Mapping(Default::default()));
        let cfg = match top.kind.to_ascii_uppercase().as_str() {
            "IN-MEMORY" => CacheConfig::InMemory(serde_yaml_ng::from_value(body).map_err(yaml)?),
            "MEMCACHED" => {
                let c: MemcachedConfig = serde_yaml_ng::from_value(body).map_err(yaml)?;
                if c.addresses.is_empty() {
                    return Err(Error::Invalid {
                        origin: origin.to_owned(),
                        field: "config.addresses",
                        reason: "no memcached addresses given".into(),
                    });
                }
                CacheConfig::Memcached(c)
            }
            "REDIS" => {
                let c: RedisConfig = serde_yaml_ng::from_value(body).map_err(yaml)?;
                if c.addr.trim().is_empty() {
                    return Err(Error::Invalid {
                        origin: origin.to_owned(),
                        field: "config.addr",
                        reason: "no redis address given".into(),
                    });
                }
                CacheConfig::Redis(c)
            }
            other => {
                return Err(Error::Invalid {
                    origin: origin.to_owned(),
                    field: "type",
                    reason: format!(
                        "response cache with type {other} is not supported \
                         (IN-MEMORY, MEMCACHED or REDIS)"
                    ),
                });
            }
        };
        Ok(cfg)
    }

    /// Builds the cache; `metrics` are the registry's families named for
    /// this cache ([`CacheMetrics::named`]).
    pub fn build(&self, metrics: CacheMetrics, origin: &str) -> Result<SharedCache> {
        Ok(match self {
            CacheConfig::InMemory(c) => Arc::new(MemoryCache::new(c, metrics)),
            CacheConfig::Memcached(c) => Arc::new(MemcachedCache::new(c.clone(), metrics)),
            CacheConfig::Redis(c) => Arc::new(RedisCache::new(c, metrics, origin)?),
        })
    }
}

/// Parses and builds in one step (see [`CacheConfig::parse`] and
/// [`CacheConfig::build`]).
pub fn from_yaml(text: &str, origin: &str, metrics: CacheMetrics) -> Result<SharedCache> {
    CacheConfig::parse(text, origin)?.build(metrics, origin)
}

/// `type: IN-MEMORY`. Neither bound set: nothing is kept (Thanos creates no
/// cache then).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InMemoryConfig {
    /// Bytes of keys and values kept at most (`256MB`; base 2); empty: no
    /// bound on bytes.
    pub max_size: String,
    /// Entries kept at most; 0: no bound on entries.
    pub max_size_items: usize,
    /// How long an entry stays valid; 0: until evicted.
    pub validity: GoDuration,
}

/// Thanos's `set_async_circuit_breaker_config` (accepted; writes that fail
/// are dropped and counted instead).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// Accepted for compatibility.
    pub enabled: bool,
    /// Accepted for compatibility.
    pub half_open_max_requests: u32,
    /// Accepted for compatibility.
    pub open_duration: GoDuration,
    /// Accepted for compatibility.
    pub min_requests: u32,
    /// Accepted for compatibility.
    pub consecutive_failures: u32,
    /// Accepted for compatibility.
    pub failure_percent: f64,
}

/// `type: MEMCACHED` (Thanos's `MemcachedClientConfig` plus `expiration`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemcachedConfig {
    /// `host:port` of each server; `dns+host:port` resolves every A/AAAA
    /// record of `host` each `dns_provider_update_interval`.
    pub addresses: Vec<String>,
    /// Timeout of a connection or an operation.
    pub timeout: GoDuration,
    /// Idle connections kept per server.
    pub max_idle_connections: usize,
    /// Background writes in flight at most.
    pub max_async_concurrency: usize,
    /// Background writes queued at most; more are dropped (counted).
    pub max_async_buffer_size: usize,
    /// `get` batches in flight at most per fetch.
    pub max_get_multi_concurrency: usize,
    /// Values larger than this are not stored.
    pub max_item_size: ByteSize,
    /// Keys per `get`; 0: one `get` per server.
    pub max_get_multi_batch_size: usize,
    /// How often `dns+` addresses are resolved again.
    pub dns_provider_update_interval: GoDuration,
    /// AWS ElastiCache auto discovery: not supported (an error when true).
    pub auto_discovery: bool,
    /// Accepted for compatibility.
    pub set_async_circuit_breaker_config: CircuitBreakerConfig,
    /// TTL of stored items; 0: 24 h.
    pub expiration: GoDuration,
}

impl Default for MemcachedConfig {
    /// Thanos's query-frontend defaults (`defaultMemcachedConfig`).
    fn default() -> Self {
        Self {
            addresses: Vec::new(),
            timeout: GoDuration(Duration::from_millis(500)),
            max_idle_connections: 100,
            max_async_concurrency: 10,
            max_async_buffer_size: 10_000,
            max_get_multi_concurrency: 100,
            max_item_size: ByteSize(1 << 20),
            max_get_multi_batch_size: 0,
            dns_provider_update_interval: GoDuration(Duration::from_secs(10)),
            auto_discovery: false,
            set_async_circuit_breaker_config: CircuitBreakerConfig::default(),
            expiration: GoDuration(Duration::from_secs(24 * 3600)),
        }
    }
}

/// `tls_config` of the redis config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisTlsConfig {
    /// CA certificates (PEM) to verify the server with; empty: the system
    /// roots.
    pub ca_file: String,
    /// Client certificate (PEM) for mutual TLS.
    pub cert_file: String,
    /// Client key (PEM) for mutual TLS.
    pub key_file: String,
    /// Server name to verify; empty: the host of `addr`.
    pub server_name: String,
    /// Skip verifying the server's certificate.
    pub insecure_skip_verify: bool,
    /// Accepted for compatibility (rustls speaks TLS 1.2 and 1.3).
    pub min_version: String,
}

/// `type: REDIS` (Thanos's `RedisClientConfig` plus `expiration`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `host:port` of the server.
    pub addr: String,
    /// Prefix of every key.
    pub prefix: String,
    /// ACL user name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Database number.
    pub db: i64,
    /// Timeout of connecting.
    pub dial_timeout: GoDuration,
    /// Timeout of a reply.
    pub read_timeout: GoDuration,
    /// Timeout of a write (the reply timeout covers it).
    pub write_timeout: GoDuration,
    /// `MGET` batches in flight at most per fetch.
    pub max_get_multi_concurrency: usize,
    /// Keys per `MGET`; 0: one `MGET`.
    pub get_multi_batch_size: usize,
    /// `SET` batches in flight at most.
    pub max_set_multi_concurrency: usize,
    /// Keys per pipelined `SET` batch; 0: one batch.
    pub set_multi_batch_size: usize,
    /// Speak TLS (`rediss://`).
    pub tls_enabled: bool,
    /// TLS settings.
    pub tls_config: RedisTlsConfig,
    /// Client-side cache size: accepted, not used.
    pub cache_size: ByteSize,
    /// Sentinel master name: not supported (an error when set).
    pub master_name: String,
    /// Background writes queued at most; more are dropped (counted).
    pub max_async_buffer_size: usize,
    /// Background writes in flight at most.
    pub max_async_concurrency: usize,
    /// Accepted for compatibility.
    pub set_async_circuit_breaker_config: CircuitBreakerConfig,
    /// TTL of stored items; 0: 24 h.
    pub expiration: GoDuration,
}

impl Default for RedisConfig {
    /// Thanos's `DefaultRedisClientConfig` with the query-frontend's 24 h
    /// expiration.
    fn default() -> Self {
        Self {
            addr: String::new(),
            prefix: String::new(),
            username: String::new(),
            password: String::new(),
            db: 0,
            dial_timeout: GoDuration(Duration::from_secs(5)),
            read_timeout: GoDuration(Duration::from_secs(3)),
            write_timeout: GoDuration(Duration::from_secs(3)),
            max_get_multi_concurrency: 100,
            get_multi_batch_size: 100,
            max_set_multi_concurrency: 100,
            set_multi_batch_size: 100,
            tls_enabled: false,
            tls_config: RedisTlsConfig::default(),
            cache_size: ByteSize(0),
            master_name: String::new(),
            max_async_buffer_size: 10_000,
            max_async_concurrency: 20,
            set_async_circuit_breaker_config: CircuitBreakerConfig::default(),
            expiration: GoDuration(Duration::from_secs(24 * 3600)),
        }
    }
}

/// The TTL to use: the configured expiration, 24 h when 0.
pub(crate) fn expiration_or_default(d: Duration) -> Duration {
    if d.is_zero() {
        Duration::from_secs(24 * 3600)
    } else {
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thanos_documented_shapes_parse() {
        let c = CacheConfig::parse(
            "type: IN-MEMORY\nconfig:\n  max_size: \"\"\n  max_size_items: 0\n  validity: 0s\n",
            "t",
        )
        .unwrap();
        assert!(matches!(c, CacheConfig::InMemory(ref m) if m.max_size.is_empty()));
        let c = CacheConfig::parse(
            "type: memcached\nconfig:\n  addresses: [a:11211]\n  timeout: 500ms\n  max_idle_connections: 100\n  max_item_size: 1MiB\n  max_async_concurrency: 10\n  max_async_buffer_size: 10000\n  max_get_multi_concurrency: 100\n  max_get_multi_batch_size: 0\n  dns_provider_update_interval: 10s\n  auto_discovery: false\n  set_async_circuit_breaker_config:\n    enabled: false\n    half_open_max_requests: 0\n    open_duration: 0s\n    min_requests: 0\n    consecutive_failures: 0\n    failure_percent: 0\n  expiration: 24h\n",
            "t",
        )
        .unwrap();
        let CacheConfig::Memcached(m) = c else {
            panic!("not memcached")
        };
        assert_eq!(m.max_item_size.0, 1 << 20);
        assert_eq!(m.timeout.0, Duration::from_millis(500));
        let c = CacheConfig::parse(
            "type: REDIS\nconfig:\n  addr: r:6379\n  prefix: \"\"\n  username: \"\"\n  password: \"\"\n  db: 0\n  dial_timeout: 5s\n  read_timeout: 3s\n  write_timeout: 3s\n  max_get_multi_concurrency: 100\n  get_multi_batch_size: 100\n  max_set_multi_concurrency: 100\n  set_multi_batch_size: 100\n  tls_enabled: false\n  tls_config:\n    ca_file: \"\"\n    cert_file: \"\"\n    key_file: \"\"\n    server_name: \"\"\n    insecure_skip_verify: false\n    min_version: \"\"\n  cache_size: 0\n  master_name: \"\"\n  max_async_buffer_size: 10000\n  max_async_concurrency: 20\n  set_async_circuit_breaker_config:\n    enabled: false\n    half_open_max_requests: 10\n    open_duration: 5s\n    min_requests: 50\n    consecutive_failures: 5\n    failure_percent: 0.05\n  expiration: 24h0m0s\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.kind(), CacheType::Redis);
    }

    #[test]
    fn defaults_are_thanos_defaults() {
        let CacheConfig::Memcached(m) =
            CacheConfig::parse("type: MEMCACHED\nconfig:\n  addresses: [a:1]\n", "t").unwrap()
        else {
            panic!()
        };
        assert_eq!(m.max_idle_connections, 100);
        assert_eq!(m.expiration.0, Duration::from_secs(86400));
        let CacheConfig::Redis(r) =
            CacheConfig::parse("type: REDIS\nconfig:\n  addr: a:1\n", "t").unwrap()
        else {
            panic!()
        };
        assert_eq!(r.read_timeout.0, Duration::from_secs(3));
        assert_eq!(r.get_multi_batch_size, 100);
    }

    #[test]
    fn errors_name_origin_and_field() {
        let e = CacheConfig::parse("type: DISK\n", "--query-range.response-cache-config")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--query-range.response-cache-config") && e.contains("DISK"),
            "{e}"
        );
        let e = CacheConfig::parse("type: MEMCACHED\nconfig:\n  adresses: [a:1]\n", "f.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("f.yaml") && e.contains("adresses"), "{e}");
        let e = CacheConfig::parse("type: MEMCACHED\nconfig: {}\n", "f.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.addresses"), "{e}");
        // In-memory is lenient, as in Thanos.
        assert!(CacheConfig::parse("type: IN-MEMORY\nconfig:\n  other: 1\n", "t").is_ok());
    }
}
