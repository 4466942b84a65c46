//! The admin HTTP server every service runs on `--http-address`:
//! `/metrics` (Prometheus text format from the registry passed in),
//! `/-/healthy` (the process is up) and `/-/ready` (503 with the reason
//! until the service says it is ready). Services add their own routes by
//! merging a router into [`router`]'s; [`serve_with`] applies
//! `--http.config` (TLS, basic auth, headers).

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::flags::ListenAddr;
use crate::tls::TlsListener;
use crate::web::WebConfig;
use crate::{Error, Result};

/// Shared readiness state: not ready (with a reason) until set ready.
#[derive(Debug, Clone)]
pub struct Readiness(Arc<RwLock<Option<String>>>);

impl Readiness {
    /// Starts not ready, for `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        Self(Arc::new(RwLock::new(Some(reason.into()))))
    }

    pub fn set_ready(&self) {
        if let Ok(mut g) = self.0.write() {
            *g = None;
        }
    }

    pub fn set_not_ready(&self, reason: impl Into<String>) {
        if let Ok(mut g) = self.0.write() {
            *g = Some(reason.into());
        }
    }

    /// `Ok` when ready, otherwise the reason.
    pub fn check(&self) -> std::result::Result<(), String> {
        match self.0.read() {
            Ok(g) => g.clone().map_or(Ok(()), Err),
            Err(_) => Err("readiness state poisoned".into()),
        }
    }
}

#[derive(Clone)]
struct AdminState {
    registry: Arc<Registry>,
    ready: Readiness,
}

/// The admin routes over `registry` and `ready`.
pub fn router(registry: Arc<Registry>, ready: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(|| async { (StatusCode::OK, "OK\n") }))
        .route("/-/ready", get(readiness))
        .with_state(AdminState { registry, ready })
}

async fn metrics(State(s): State<AdminState>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &s.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("cannot encode metrics: {e}\n"),
        ),
    }
}

async fn readiness(State(s): State<AdminState>) -> impl IntoResponse {
    match s.ready.check() {
        Ok(()) => (StatusCode::OK, "OK\n".to_string()),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}

/// Binds `addr` (e.g. `0.0.0.0:10902`, `:10902`) for the HTTP server.
pub async fn bind(addr: &ListenAddr) -> Result<tokio::net::TcpListener> {
    addr.bind("http server").await
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then drains
/// in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> Result<()> {
    serve_with(listener, router, None, shutdown).await
}

/// [`serve`] with `--http.config` ([`HttpArgs::web_config`]): TLS, basic
/// auth, headers and rate limit when `web` is given.
///
/// [`HttpArgs::web_config`]: crate::args::HttpArgs::web_config
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: Router,
    web: Option<WebConfig>,
    shutdown: CancellationToken,
) -> Result<()> {
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".to_string(), |a: SocketAddr| a.to_string());
    let err = |source| Error::Http {
        addr: addr.clone(),
        source,
    };
    let (router, tls) = match &web {
        Some(w) => (w.layer(router), w.tls_source()),
        None => (router, None),
    };
    match tls {
        Some(source) => {
            tracing::info!(address = %addr, tls = true, "serving http");
            let listener = TlsListener::with_source(listener, source).map_err(err)?;
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
                .map_err(err)
        }
        None => {
            tracing::info!(address = %addr, "serving http");
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
                .map_err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_metrics_health_and_readiness() {
        let mut reg = Registry::with_prefix("aeon");
        let c: Counter = Counter::default();
        reg.register("test_events", "events seen", c.clone());
        c.inc_by(3);
        let ready = Readiness::new("waiting for prometheus");
        let listener = bind(&"127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(
            listener,
            router(Arc::new(reg), ready.clone()),
            stop.clone(),
        ));

        let m = get(addr, "/metrics").await;
        assert!(m.starts_with("HTTP/1.1 200"), "{m}");
        assert!(m.contains("aeon_test_events_total 3"), "{m}");
        assert!(get(addr, "/-/healthy").await.starts_with("HTTP/1.1 200"));
        let r = get(addr, "/-/ready").await;
        assert!(
            r.starts_with("HTTP/1.1 503") && r.contains("waiting for prometheus"),
            "{r}"
        );
        ready.set_ready();
        assert!(get(addr, "/-/ready").await.starts_with("HTTP/1.1 200"));

        stop.cancel();
        task.await.unwrap().unwrap();
    }
}
