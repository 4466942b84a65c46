//! `--http.config`: Prometheus's web configuration (exporter-toolkit, as
//! Thanos serves every HTTP endpoint with it): TLS (`tls_server_config`),
//! response headers and HTTP/2 (`http_server_config`), a request rate
//! limit (`rate_limit`) and basic authentication with bcrypt hashes
//! (`basic_auth_users`).
//!
//! The file is read and fully checked at start-up (a mistake stops the
//! service, naming the file and the field). While serving, it is read again
//! whenever its modification time changes, as exporter-toolkit reads it on
//! every request and handshake: new users, headers and TLS settings apply
//! to the next request or connection; certificates are also reloaded when
//! their own files change. A file that became invalid is logged and the
//! last good configuration stays in force. Whether TLS is on at all is
//! decided at start-up.
//!
//! Not supported, with an error naming the field: inline `cert`, `key` and
//! `client_ca` text (use the `_file` fields), e-mail and URI entries in
//! `client_allowed_sans`.

mod auth;
mod file;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::http::{HeaderName, HeaderValue};
use rustls::ServerConfig;

use crate::tls::ConfigSource;
use crate::{Error, Result};

/// A loaded `--http.config` that follows changes of its file. Cheap to
/// clone.
#[derive(Clone)]
pub struct WebConfig {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

struct Inner {
    path: PathBuf,
    current: Mutex<(Option<SystemTime>, Arc<Loaded>)>,
    tls_at_start: bool,
    /// (user, hash, password) → verdict, as exporter-toolkit caches bcrypt.
    auth_cache: Mutex<HashMap<String, bool>>,
    /// bcrypt runs one at a time (it is meant to be slow).
    bcrypt: tokio::sync::Mutex<()>,
    limiter: Mutex<Option<auth::Limiter>>,
}

/// One valid version of the file.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) tls: Option<Arc<ServerConfig>>,
    pub(crate) http2: bool,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) users: std::collections::BTreeMap<String, String>,
    pub(crate) rate_limit: Option<(std::time::Duration, u32)>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl WebConfig {
    /// Reads and checks the file (certificates, hashes, headers).
    pub fn load(path: &Path) -> Result<Self> {
        let mtime = modified(path);
        let loaded = file::load(path)?;
        tracing::info!(
            file = %path.display(),
            tls = loaded.tls.is_some(),
            http2 = loaded.http2,
            basic_auth = !loaded.users.is_empty(),
            "http server configuration loaded"
        );
        let limiter = loaded
            .rate_limit
            .map(|(interval, burst)| auth::Limiter::new(interval, burst, Instant::now()));
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                tls_at_start: loaded.tls.is_some(),
                current: Mutex::new((mtime, Arc::new(loaded))),
                auth_cache: Mutex::new(HashMap::new()),
                bcrypt: tokio::sync::Mutex::new(()),
                limiter: Mutex::new(limiter),
            }),
        })
    }

    /// The configuration now: read again if the file changed; the last good
    /// one if it became invalid.
    pub(crate) fn current(&self) -> Arc<Loaded> {
        let Ok(mut cur) = self.inner.current.lock() else {
            // Poisoned only by a panic elsewhere; fail closed.
            return Arc::new(Loaded {
                tls: None,
                http2: false,
                headers: Vec::new(),
                users: [(String::new(), String::new())].into_iter().collect(),
                rate_limit: None,
            });
        };
        let mtime = modified(&self.inner.path);
        if mtime != cur.0 {
            match file::load(&self.inner.path) {
                Ok(l) => {
                    tracing::info!(file = %self.inner.path.display(), "http server configuration reloaded");
                    if l.rate_limit != cur.1.rate_limit
                        && let Ok(mut lim) = self.inner.limiter.lock()
                    {
                        *lim = l
                            .rate_limit
                            .map(|(i, b)| auth::Limiter::new(i, b, Instant::now()));
                    }
                    *cur = (mtime, Arc::new(l));
                }
                Err(e) => {
                    tracing::error!(error = %crate::Chain(&e), "http server configuration not reloaded; keeping the last valid one");
                    cur.0 = mtime;
                }
            }
        }
        cur.1.clone()
    }

    /// Whether the server speaks TLS (decided at start-up).
    pub fn tls_enabled(&self) -> bool {
        self.inner.tls_at_start
    }

    /// The TLS config of each new connection (the last good one).
    pub(crate) fn tls_source(&self) -> Option<ConfigSource> {
        let first = self.current().tls.clone()?;
        let this = self.clone();
        Some(Arc::new(move || {
            this.current().tls.clone().unwrap_or_else(|| first.clone())
        }))
    }

    /// `router` behind the rate limit, basic auth and headers.
    pub fn layer(&self, router: Router) -> Router {
        router.layer(axum::middleware::from_fn_with_state(
            self.clone(),
            auth::middleware,
        ))
    }
}

fn config_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Tls {
        what: format!("--http.config {}", path.display()),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests;
