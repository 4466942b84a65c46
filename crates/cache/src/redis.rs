//! The redis backend: one multiplexed connection that reconnects by itself
//! (redis-rs's `ConnectionManager`, created lazily so a redis that is down
//! at start-up is only a miss), `MGET` in batches of `get_multi_batch_size`
//! with `max_get_multi_concurrency` in flight, writes queued
//! (`max_async_buffer_size`) and sent as pipelined `SET key value EX ttl`
//! batches by `max_async_concurrency` workers. Keys get `prefix`.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{OnceCell, Semaphore, mpsc};

use crate::config::expiration_or_default;
use crate::{Cache, CacheMetrics, Error, RedisConfig, Result};

const BACKEND: &str = "redis";

type Batch = (Vec<(String, Vec<u8>)>, Duration);

struct Inner {
    cfg: RedisConfig,
    client: redis::Client,
    conn: OnceCell<ConnectionManager>,
    metrics: CacheMetrics,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("addr", &self.cfg.addr)
            .field("db", &self.cfg.db)
            .finish_non_exhaustive()
    }
}

/// A redis server as one cache.
#[derive(Debug)]
pub struct RedisCache {
    inner: Arc<Inner>,
    writes: mpsc::Sender<Batch>,
}

fn read(origin: &str, path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::TlsFile {
        origin: origin.to_owned(),
        path: path.to_owned(),
        source,
    })
}

fn client(cfg: &RedisConfig, origin: &str) -> Result<redis::Client> {
    let invalid = |field, reason: &str| Error::Invalid {
        origin: origin.to_owned(),
        field,
        reason: reason.to_owned(),
    };
    if !cfg.master_name.is_empty() {
        return Err(invalid(
            "config.master_name",
            "redis sentinel is not supported; give the master's addr",
        ));
    }
    let (host, port) = cfg
        .addr
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
        .ok_or_else(|| invalid("config.addr", "expected host:port"))?;
    let tls = &cfg.tls_config;
    let host = if cfg.tls_enabled && !tls.server_name.is_empty() {
        tls.server_name.as_str()
    } else {
        host
    };
    let addr = if cfg.tls_enabled {
        redis::ConnectionAddr::TcpTls {
            host: host.to_owned(),
            port,
            insecure: tls.insecure_skip_verify,
            tls_params: None,
        }
    } else {
        redis::ConnectionAddr::Tcp(host.to_owned(), port)
    };
    let mut redis_settings = redis::RedisConnectionInfo::default().set_db(cfg.db);
    if !cfg.username.is_empty() {
        redis_settings = redis_settings.set_username(cfg.username.clone());
    }
    if !cfg.password.is_empty() {
        redis_settings = redis_settings.set_password(cfg.password.clone());
    }
    let info = redis::IntoConnectionInfo::into_connection_info(addr)
        .map_err(|source| Error::Redis {
            addr: cfg.addr.clone(),
            source,
        })?
        .set_redis_settings(redis_settings);
    let custom_tls = cfg.tls_enabled
        && (!tls.ca_file.is_empty() || !tls.cert_file.is_empty() || !tls.key_file.is_empty());
    let built = if custom_tls {
        let client_tls = if tls.cert_file.is_empty() {
            None
        } else {
            Some(redis::ClientTlsConfig {
                client_cert: read(origin, &tls.cert_file)?,
                client_key: read(origin, &tls.key_file)?,
            })
        };
        let root_cert = if tls.ca_file.is_empty() {
            None
        } else {
            Some(read(origin, &tls.ca_file)?)
        };
        redis::Client::build_with_tls(
            info,
            redis::TlsCertificates {
                client_tls,
                root_cert,
            },
        )
    } else {
        redis::Client::open(info)
    };
    built.map_err(|source| Error::Redis {
        addr: cfg.addr.clone(),
        source,
    })
}

impl RedisCache {
    /// Creates the client and its write workers; needs a tokio runtime.
    /// Nothing connects until first use.
    pub fn new(cfg: &RedisConfig, metrics: CacheMetrics, origin: &str) -> Result<Self> {
        let client = client(cfg, origin)?;
        let (tx, rx) = mpsc::channel(cfg.max_async_buffer_size.max(1));
        let inner = Arc::new(Inner {
            cfg: cfg.clone(),
            client,
            conn: OnceCell::new(),
            metrics,
        });
        tokio::spawn(write_loop(Arc::downgrade(&inner), rx));
        Ok(Self { inner, writes: tx })
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

impl Inner {
    fn fail(&self, op: &str, why: &str) {
        self.metrics.failure(BACKEND, op);
        tracing::warn!(addr = %self.cfg.addr, operation = op, error = why, "redis operation failed");
    }

    async fn conn(&self) -> Option<ConnectionManager> {
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.cfg.dial_timeout.0))
            .set_response_timeout(Some(self.cfg.read_timeout.0.max(self.cfg.write_timeout.0)))
            .set_number_of_retries(1);
        let got = self
            .conn
            .get_or_try_init(|| async {
                tokio::time::timeout(
                    self.cfg.dial_timeout.0,
                    ConnectionManager::new_with_config(self.client.clone(), cfg),
                )
                .await
                .map_err(|_| "connect timeout".to_owned())?
                .map_err(|e| e.to_string())
            })
            .await;
        match got {
            Ok(c) => Some(c.clone()),
            Err(e) => {
                self.fail("connect", &e);
                None
            }
        }
    }

    fn key(&self, k: &str) -> String {
        format!("{}{k}", self.cfg.prefix)
    }

    async fn mget(&self, keys: Vec<String>) -> Vec<(String, Vec<u8>)> {
        let Some(mut c) = self.conn().await else {
            return Vec::new();
        };
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let mut cmd = redis::cmd("MGET");
        cmd.arg(&full);
        let r: redis::RedisResult<Vec<Option<Vec<u8>>>> =
            tokio::time::timeout(self.cfg.read_timeout.0, cmd.query_async(&mut c))
                .await
                .unwrap_or_else(|_| Err((redis::ErrorKind::Io, "read timeout").into()));
        match r {
            Ok(values) => keys
                .into_iter()
                .zip(values)
                .filter_map(|(k, v)| Some((k, v?)))
                .collect(),
            Err(e) => {
                self.fail("fetch", &e.to_string());
                Vec::new()
            }
        }
    }

    async fn write(&self, (items, ttl): Batch) {
        let ttl = expiration_or_default(if ttl.is_zero() {
            self.cfg.expiration.0
        } else {
            ttl
        })
        .as_secs()
        .max(1);
        let Some(mut c) = self.conn().await else {
            return;
        };
        let per = match self.cfg.set_multi_batch_size {
            0 => items.len().max(1),
            n => n,
        };
        for chunk in items.chunks(per) {
            let mut pipe = redis::pipe();
            for (k, v) in chunk {
                pipe.cmd("SET")
                    .arg(self.key(k))
                    .arg(v.as_slice())
                    .arg("EX")
                    .arg(ttl)
                    .ignore();
            }
            let r: redis::RedisResult<()> =
                tokio::time::timeout(self.cfg.write_timeout.0, pipe.query_async(&mut c))
                    .await
                    .unwrap_or_else(|_| Err((redis::ErrorKind::Io, "write timeout").into()));
            if let Err(e) = r {
                self.fail("store", &e.to_string());
                return;
            }
        }
    }
}

#[async_trait::async_trait]
impl Cache for RedisCache {
    async fn fetch(&self, keys: &[String]) -> HashMap<String, Vec<u8>> {
        let i = &self.inner;
        let per = match i.cfg.get_multi_batch_size {
            0 => keys.len().max(1),
            n => n,
        };
        let mut out = HashMap::new();
        let mut results = futures::stream::iter(keys.chunks(per).map(<[String]>::to_vec))
            .map(|ks| i.mget(ks))
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
