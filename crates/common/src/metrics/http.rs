//! Thanos's HTTP server instrumentation (`pkg/extprom/http`), per handler
//! name:
//! - `http_requests_total{code,handler,method}` (counter),
//! - `http_request_duration_seconds{code,handler,method}` (histogram,
//!   Thanos's buckets 1 ms … 720 s),
//! - `http_request_size_bytes{code,handler,method}` and
//!   `http_response_size_bytes{code,handler,method}` (histograms, 64 B ×
//!   2ⁿ, ten buckets),
//! - `http_inflight_requests{handler,method}` (gauge).
//!
//! As in Thanos, `method` is lower case except on the in-flight gauge
//! (which keeps the request's spelling), `code` is the status number, and
//! the querier adds a `tenant` label taken from its tenant header
//! ([`TenantLabel`]). The request size is Go's approximation (URL, method,
//! protocol, headers, host and `Content-Length`); the response size counts
//! the body bytes sent.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::{Buckets, HistogramFamily};

/// Thanos's default request duration buckets.
const DURATION_BUCKETS: Buckets = Buckets(&[
    0.001, 0.01, 0.1, 0.3, 0.6, 1.0, 3.0, 6.0, 9.0, 20.0, 30.0, 60.0, 90.0, 120.0, 240.0, 360.0,
    720.0,
]);

/// `prometheus.ExponentialBuckets(64, 2, 10)`.
const SIZE_BUCKETS: Buckets = Buckets(&[
    64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0,
]);

type Labels = Vec<(&'static str, String)>;

/// Where the `tenant` label comes from (Thanos's query:
/// `--query.tenant-header`, `--query.default-tenant-id`).
#[derive(Debug, Clone)]
pub struct TenantLabel {
    /// Request header carrying the tenant (`THANOS-TENANT`).
    pub header: String,
    /// Tenant of requests without the header (`default-tenant`).
    pub default: String,
}

impl Default for TenantLabel {
    fn default() -> Self {
        Self {
            header: "THANOS-TENANT".into(),
            default: "default-tenant".into(),
        }
    }
}

/// The HTTP metrics of one server; cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpMetrics(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    requests: Family<Labels, Counter>,
    duration: HistogramFamily<Labels>,
    request_size: HistogramFamily<Labels>,
    response_size: HistogramFamily<Labels>,
    inflight: Family<Labels, Gauge>,
    tenant: Option<TenantLabel>,
}

impl HttpMetrics {
    /// Registers the families on `registry`; with `tenant`, every series
    /// also carries a `tenant` label.
    pub fn new(registry: &mut Registry, tenant: Option<TenantLabel>) -> Self {
        let inner = Inner {
            requests: Family::default(),
            duration: Family::new_with_constructor(DURATION_BUCKETS),
            request_size: Family::new_with_constructor(SIZE_BUCKETS),
            response_size: Family::new_with_constructor(SIZE_BUCKETS),
            inflight: Family::default(),
            tenant,
        };
        registry.register(
            "http_requests",
            "Tracks the number of HTTP requests",
            inner.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Tracks the latencies for HTTP requests",
            inner.duration.clone(),
        );
        registry.register(
            "http_request_size_bytes",
            "Tracks the size of HTTP requests",
            inner.request_size.clone(),
        );
        registry.register(
            "http_response_size_bytes",
            "Tracks the size of HTTP responses",
            inner.response_size.clone(),
        );
        registry.register(
            "http_inflight_requests",
            "Current number of HTTP requests the handler is responding to",
            inner.inflight.clone(),
        );
        Self(Arc::new(inner))
    }

    /// Runs `req` through `next`, recording it under `handler`. Use from an
    /// `axum::middleware::from_fn` that names the handler.
    pub async fn instrument(&self, handler: &'static str, req: Request, next: Next) -> Response {
        let m = &self.0;
        let tenant = m.tenant.as_ref().map(|t| {
            req.headers()
                .get(t.header.as_str())
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .unwrap_or(&t.default)
                .to_owned()
        });
        let method = req.method().as_str().to_ascii_lowercase();
        let mut inflight_labels: Labels = vec![
            ("handler", handler.to_owned()),
            ("method", req.method().as_str().to_owned()),
        ];
        if let Some(t) = &tenant {
            inflight_labels.push(("tenant", t.clone()));
        }
        let request_size = approximate_request_size(&req);
        let inflight = m.inflight.get_or_create_owned(&inflight_labels);
        inflight.inc();
        let start = Instant::now();
        let resp = next.run(req).await;
        let elapsed = start.elapsed().as_secs_f64();
        inflight.dec();

        let mut labels: Labels = vec![
            ("code", resp.status().as_u16().to_string()),
            ("handler", handler.to_owned()),
            ("method", method),
        ];
        if let Some(t) = tenant {
            labels.push(("tenant", t));
        }
        m.requests.get_or_create(&labels).inc();
        m.duration.get_or_create(&labels).observe(elapsed);
        m.request_size
            .get_or_create(&labels)
            .observe(request_size as f64);
        let response_size = m.response_size.get_or_create_owned(&labels);
        resp.map(|body| {
            Body::new(CountingBody {
                inner: body,
                bytes: 0,
                observe: Some(response_size),
            })
        })
    }
}

/// Go's `computeApproximateRequestSize`: URL, method, protocol, headers
/// (names and values), host and the declared body length.
fn approximate_request_size(req: &Request) -> usize {
    let uri = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().len(), |p| p.as_str().len());
    let proto = match req.version() {
        axum::http::Version::HTTP_09 => "HTTP/0.9".len(),
        _ => "HTTP/1.1".len(),
    };
    let mut n = uri + req.method().as_str().len() + proto;
    for (name, value) in req.headers() {
        // Go moves Host out of the header map and counts it once below.
        if name != axum::http::header::HOST {
            n += name.as_str().len() + value.len();
        }
    }
    n += req
        .headers()
        .get(axum::http::header::HOST)
        .map(|h| h.len())
        .or_else(|| req.uri().authority().map(|a| a.as_str().len()))
        .unwrap_or(0);
    n + req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0)
}

/// A response body that records its size once it ends (or is dropped).
struct CountingBody {
    inner: Body,
    bytes: u64,
    observe: Option<prometheus_client::metrics::histogram::Histogram>,
}

impl CountingBody {
    fn finish(&mut self) {
        if let Some(h) = self.observe.take() {
            h.observe(self.bytes as f64);
        }
    }
}

impl Drop for CountingBody {
    fn drop(&mut self) {
        self.finish();
    }
}

impl HttpBody for CountingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_frame(cx);
        match &r {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.bytes += d.len() as u64;
                }
            }
            Poll::Ready(None) => this.finish(),
            _ => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use tower_service::Service;

    fn encode(reg: &Registry) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, reg).unwrap();
        out
    }

    async fn call(app: &mut Router, req: axum::http::Request<Body>) -> (u16, Vec<u8>) {
        let resp = app.call(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, body.to_vec())
    }

    #[tokio::test]
    async fn records_thanos_series_per_handler_code_method_and_tenant() {
        let mut reg = Registry::default();
        let m = HttpMetrics::new(&mut reg, Some(TenantLabel::default()));
        let mw = m.clone();
        let mut app = Router::new()
            .route(
                "/api/v1/query",
                get(|| async { "hello" })
                    .post(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "busy") }),
            )
            .layer(axum::middleware::from_fn(move |req, next| {
                let mw = mw.clone();
                async move { mw.instrument("query", req, next).await }
            }));
        let get_req = axum::http::Request::get("/api/v1/query?query=up")
            .header("host", "localhost")
            .body(Body::empty())
            .unwrap();
        assert_eq!(call(&mut app, get_req).await, (200, b"hello".to_vec()));
        let post = axum::http::Request::post("/api/v1/query")
            .header("THANOS-TENANT", "team-a")
            .body(Body::from("query=up"))
            .unwrap();
        assert_eq!(call(&mut app, post).await.0, 503);

        let text = encode(&reg);
        for want in [
            r#"http_requests_total{code="200",handler="query",method="get",tenant="default-tenant"} 1"#,
            r#"http_requests_total{code="503",handler="query",method="post",tenant="team-a"} 1"#,
            r#"http_request_duration_seconds_count{code="200",handler="query",method="get",tenant="default-tenant"} 1"#,
            r#"http_request_duration_seconds_bucket{le="720.0",code="503",handler="query",method="post",tenant="team-a"} 1"#,
            r#"http_response_size_bytes_sum{code="200",handler="query",method="get",tenant="default-tenant"} 5.0"#,
            r#"http_inflight_requests{handler="query",method="GET",tenant="default-tenant"} 0"#,
            r#"http_request_size_bytes_count{code="503",handler="query",method="post",tenant="team-a"} 1"#,
        ] {
            assert!(text.contains(want), "missing {want}:\n{text}");
        }
    }

    #[test]
    fn request_size_is_gos_approximation() {
        let req = axum::http::Request::get("/api/v1/query?query=up")
            .header("host", "h:1")
            .header("x", "yz")
            .header("content-length", "10")
            .body(Body::empty())
            .unwrap();
        // URL 22 + GET 3 + HTTP/1.1 8 + x yz 3 + content-length 16 + host 3 + body 10.
        assert_eq!(approximate_request_size(&req), 22 + 3 + 8 + 3 + 16 + 3 + 10);
    }
}
