//! The request side of the web config (exporter-toolkit's `webHandler`):
//! rate limit (429), configured response headers, basic authentication
//! (401 with `WWW-Authenticate: Basic`).

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::WebConfig;

/// A bcrypt hash of "fakepassword", compared against for unknown users so
/// that the answer takes as long as for known ones.
const FAKE_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// Cached bcrypt verdicts at most.
const CACHE_MAX: usize = 1024;

/// A token bucket: one token per `interval`, at most `burst` saved
/// (`golang.org/x/time/rate.Limiter`).
#[derive(Debug)]
pub(super) struct Limiter {
    interval: Duration,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Limiter {
    pub(super) fn new(interval: Duration, burst: u32, now: Instant) -> Self {
        Self {
            interval,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: now,
        }
    }

    pub(super) fn allow(&mut self, now: Instant) -> bool {
        let earned = now.duration_since(self.last).as_secs_f64() / self.interval.as_secs_f64();
        self.tokens = (self.tokens + earned).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn credentials(req: &Request) -> Option<(String, String)> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

impl WebConfig {
    async fn authorized(
        &self,
        users: &std::collections::BTreeMap<String, String>,
        user: &str,
        pass: &str,
    ) -> bool {
        let (hash, known) = match users.get(user) {
            Some(h) => (h.clone(), true),
            None => (FAKE_HASH.to_owned(), false),
        };
        let key = format!("{user:?}:{hash:?}:{pass:?}");
        if let Some(ok) = self
            .inner
            .auth_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&key).copied())
        {
            return ok && known;
        }
        let ok = {
            let _one_at_a_time = self.inner.bcrypt.lock().await;
            let pass = pass.to_owned();
            tokio::task::spawn_blocking(move || bcrypt::verify(pass, &hash).unwrap_or(false))
                .await
                .unwrap_or(false)
        };
        let ok = ok && known;
        if let Ok(mut c) = self.inner.auth_cache.lock() {
            if c.len() >= CACHE_MAX {
                c.clear();
            }
            c.insert(key, ok);
        }
        ok
    }
}

pub(super) async fn middleware(State(web): State<WebConfig>, req: Request, next: Next) -> Response {
    let cfg = web.current();
    let allowed = match web.inner.limiter.lock() {
        Ok(mut l) => l.as_mut().is_none_or(|l| l.allow(Instant::now())),
        Err(_) => true,
    };
    let mut resp = if !allowed {
        (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n").into_response()
    } else if cfg.users.is_empty() {
        next.run(req).await
    } else {
        let ok = match credentials(&req) {
            Some((u, p)) => web.authorized(&cfg.users, &u, &p).await,
            None => false,
        };
        if ok {
            next.run(req).await
        } else {
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic")],
                "Unauthorized\n",
            )
                .into_response()
        }
    };
    for (k, v) in &cfg.headers {
        resp.headers_mut().insert(k.clone(), v.clone());
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_allows_bursts_then_one_per_interval() {
        let t0 = Instant::now();
        let mut l = Limiter::new(Duration::from_secs(1), 2, t0);
        assert!(l.allow(t0) && l.allow(t0) && !l.allow(t0));
        assert!(!l.allow(t0 + Duration::from_millis(500)));
        assert!(l.allow(t0 + Duration::from_millis(1100)));
    }
}
