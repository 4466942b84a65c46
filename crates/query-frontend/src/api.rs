//! The HTTP front: `query_range` split, cached and retried; every other
//! path proxied to the downstream unchanged (instant queries with retries).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};

use crate::cache::{Extent, ResultsCache, merge_extents, now_ms, partition};
use crate::downstream::{Answer, Downstream, Unreachable};
use crate::metrics::Metrics;
use crate::request::RangeRequest;
use crate::response::{self, merge};
use crate::shard::ShardBy;
use crate::split::{align, analyse, split};

/// Largest request body read (a form with a long query).
const MAX_BODY: usize = 16 << 20;

/// Settings from the flags.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) align: bool,
    pub(crate) split_ms: Option<i64>,
    pub(crate) range_attempts: u32,
    pub(crate) instant_attempts: u32,
    pub(crate) max_length: Option<Duration>,
    pub(crate) parallelism: usize,
    pub(crate) partial_response: bool,
    pub(crate) slow_query: Option<Duration>,
    pub(crate) org_id_headers: Vec<String>,
    pub(crate) tenant_header: String,
    pub(crate) default_tenant: String,
    pub(crate) forward_headers: Vec<String>,
    pub(crate) user_header: Option<String>,
    pub(crate) vertical_shards: usize,
}

/// The frontend's shared state.
#[derive(Debug)]
pub(crate) struct Frontend {
    pub(crate) downstream: Downstream,
    pub(crate) cache: Option<ResultsCache>,
    pub(crate) cfg: Config,
    pub(crate) metrics: Metrics,
}

/// Why a request got an error answer.
enum Failure {
    /// The downstream's own error answer, passed on.
    Downstream(Answer),
    /// No answer from the downstream.
    Unreachable(Unreachable),
}

impl Failure {
    fn into_response(self, m: &Metrics) -> Response {
        match self {
            Failure::Downstream(a) => pass_on(a),
            Failure::Unreachable(e) => {
                m.downstream_failures.inc();
                let reason = aeon_common::error::Chain(&e).to_string();
                tracing::warn!(error = %reason, "downstream unreachable");
                api_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", &reason)
            }
        }
    }
}

/// A Prometheus-style error answer.
fn api_error(status: StatusCode, error_type: &str, msg: &str) -> Response {
    let body = serde_json::json!({"status": "error", "errorType": error_type, "error": msg});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Headers a proxy must not pass on (RFC 9110 §7.6.1) and those it sets
/// itself.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

fn pass_on(a: Answer) -> Response {
    let mut resp = Response::new(Body::from(a.body));
    *resp.status_mut() = a.status;
    for (k, v) in &a.headers {
        if !hop_by_hop(k) {
            resp.headers_mut().append(k.clone(), v.clone());
        }
    }
    resp
}

/// Every request.
pub(crate) async fn handle(State(fe): State<Arc<Frontend>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "bad_data",
                &format!("cannot read request body: {e}"),
            );
        }
    };
    let path = parts.uri.path();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(path, |p| p.as_str())
        .to_owned();
    let is_get_or_post = parts.method == Method::GET || parts.method == Method::POST;
    let started = Instant::now();
    let resp = if is_get_or_post && path.ends_with("/api/v1/query_range") {
        fe.metrics.query("query_range");
        fe.query_range(&parts, &path_and_query, body.clone()).await
    } else {
        let attempts = if is_get_or_post && path.ends_with("/api/v1/query") {
            fe.metrics.query("query");
            fe.cfg.instant_attempts
        } else {
            fe.metrics.query("other");
            1
        };
        let headers = proxied_headers(&parts.headers);
        match fe
            .downstream
            .send_with_retries(
                parts.method.clone(),
                &path_and_query,
                headers,
                body.clone(),
                attempts,
                &fe.metrics.retries,
            )
            .await
        {
            Ok(a) => pass_on(a),
            Err(e) => Failure::Unreachable(e).into_response(&fe.metrics),
        }
    };
    if is_get_or_post && (path.ends_with("/api/v1/query_range") || path.ends_with("/api/v1/query"))
    {
        fe.log_if_slow(&parts, &body, started.elapsed(), resp.status());
    }
    resp
}

fn proxied_headers(h: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (k, v) in h {
        if !hop_by_hop(k) {
            out.append(k.clone(), v.clone());
        }
    }
    out
}

/// The request's parameters as Go's `ParseForm` sees them: the form body of
/// a POST, then the URL query.
fn params(parts: &http::request::Parts, body: &Bytes) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if parts.method == Method::POST && is_form {
        out.extend(url::form_urlencoded::parse(body).into_owned());
    }
    if let Some(q) = parts.uri.query() {
        out.extend(url::form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    out
}

impl Frontend {
    /// The tenant of a request: the first `--query-frontend.org-id-header`
    /// present, else the tenant header, else the default tenant.
    fn tenant(&self, h: &HeaderMap) -> String {
        self.cfg
            .org_id_headers
            .iter()
            .chain(std::iter::once(&self.cfg.tenant_header))
            .find_map(|n| h.get(n.as_str()).and_then(|v| v.to_str().ok()))
            .unwrap_or(&self.cfg.default_tenant)
            .to_owned()
    }

    async fn query_range(
        &self,
        parts: &http::request::Parts,
        path_and_query: &str,
        body: Bytes,
    ) -> Response {
        let params = params(parts, &body);
        let Some(mut r) = RangeRequest::parse(&params) else {
            // Invalid: the downstream's error is the answer.
            return self.proxy(parts, path_and_query, body).await;
        };
        if let Some(limit) = self.cfg.max_length {
            let len = Duration::from_millis((r.end - r.start) as u64);
            if len > limit {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "bad_data",
                    &format!(
                        "the query time range exceeds the limit (query length: {}, limit: {})",
                        aeon_common::flags::format_go_duration(len),
                        aeon_common::flags::format_go_duration(limit)
                    ),
                );
            }
        }
        let Some(analysis) = analyse(&r) else {
            return self.proxy(parts, path_and_query, body).await;
        };
        if r.param("partial_response").is_none() {
            r.rest.push((
                "partial_response".into(),
                self.cfg.partial_response.to_string(),
            ));
        }
        if self.cfg.align {
            align(&mut r);
        }
        r.query = analysis.query;
        let pieces = match self.cfg.split_ms {
            Some(ms) => split(&r, ms),
            None => vec![r.clone()],
        };
        self.metrics.split_queries.inc_by(pieces.len() as u64);
        let mut headers = HeaderMap::new();
        for name in &self.cfg.forward_headers {
            if let Ok(n) = HeaderName::try_from(name.as_str()) {
                for v in parts.headers.get_all(&n) {
                    headers.append(n.clone(), v.clone());
                }
            }
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let tenant = self.tenant(&parts.headers);
        let path = parts.uri.path();
        let cacheable = analysis.cacheable && r.start.rem_euclid(r.step) == 0;
        let shard = analysis.shard.filter(|_| self.cfg.vertical_shards > 1);
        if self.cfg.vertical_shards > 1 {
            self.metrics.sharding(shard.is_some());
        }
        let shard = shard.as_ref();
        let results: Vec<Result<response::Response, Failure>> = futures::stream::iter(
            pieces
                .into_iter()
                .map(|p| self.part(p, path, &headers, &tenant, cacheable, shard)),
        )
        .buffer_unordered(self.cfg.parallelism.max(1))
        .collect()
        .await;
        let mut answers = Vec::with_capacity(results.len());
        for r in results {
            match r {
                Ok(a) => answers.push(a),
                Err(f) => return f.into_response(&self.metrics),
            }
        }
        let merged = merge(answers);
        match serde_json::to_vec(&merged) {
            Ok(b) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                b,
            )
                .into_response(),
            Err(e) => api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                &format!("cannot encode the merged answer: {e}"),
            ),
        }
    }

    /// The original request, unchanged, with the range-query retries.
    async fn proxy(&self, parts: &http::request::Parts, pq: &str, body: Bytes) -> Response {
        match self
            .downstream
            .send_with_retries(
                parts.method.clone(),
                pq,
                proxied_headers(&parts.headers),
                body,
                self.cfg.range_attempts,
                &self.metrics.retries,
            )
            .await
        {
            Ok(a) => pass_on(a),
            Err(e) => Failure::Unreachable(e).into_response(&self.metrics),
        }
    }

    /// One part asked downstream, in vertical shards when `shard` says
    /// how; `Ok` with the answer and whether it may be cached.
    async fn fetch(
        &self,
        r: &RangeRequest,
        path: &str,
        headers: &HeaderMap,
        shard: Option<&ShardBy>,
    ) -> Result<(response::Response, bool), Failure> {
        let Some(shard) = shard else {
            return self.fetch_one(r, path, headers).await;
        };
        let n = self.cfg.vertical_shards;
        let shards = (0..n).map(|i| {
            let mut q = r.clone();
            q.rest.retain(|(k, _)| k != "shard_info");
            let info = serde_json::json!({
                "shard_index": i,
                "total_shards": n,
                "by": shard.by,
                "labels": shard.labels,
            });
            q.rest.push(("shard_info".into(), info.to_string()));
            async move { self.fetch_one(&q, path, headers).await }
        });
        let answers = futures::future::join_all(shards).await;
        let mut parts = Vec::with_capacity(n);
        let mut cacheable = true;
        for a in answers {
            let (resp, ok) = a?;
            cacheable &= ok;
            parts.push(resp);
        }
        Ok((merge(parts), cacheable))
    }

    /// One request downstream.
    async fn fetch_one(
        &self,
        r: &RangeRequest,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<(response::Response, bool), Failure> {
        let a = self
            .downstream
            .send_with_retries(
                Method::POST,
                path,
                headers.clone(),
                Bytes::from(r.encode()),
                self.cfg.range_attempts,
                &self.metrics.retries,
            )
            .await
            .map_err(Failure::Unreachable)?;
        if a.status != StatusCode::OK {
            return Err(Failure::Downstream(a));
        }
        let no_store = a
            .headers
            .get_all(header::CACHE_CONTROL)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.contains("no-store")));
        match response::Response::parse(&a.body) {
            Some(resp) => {
                let cacheable = !no_store && resp.warnings.is_empty();
                Ok((resp, cacheable))
            }
            None => Err(Failure::Downstream(a)),
        }
    }

    /// One part: from the cache where it can, the rest downstream.
    async fn part(
        &self,
        r: RangeRequest,
        path: &str,
        headers: &HeaderMap,
        tenant: &str,
        cacheable: bool,
        shard: Option<&ShardBy>,
    ) -> Result<response::Response, Failure> {
        let now = now_ms();
        let cache = match &self.cache {
            Some(c) if cacheable && r.start <= c.max_cache_time(now) => c,
            _ => return self.fetch(&r, path, headers, shard).await.map(|(a, _)| a),
        };
        let key = cache.key(tenant, &r);
        let mut extents = cache.get(&key).await;
        let (requests, mut answers) = partition(&r, &extents);
        if requests.is_empty() {
            return Ok(merge(answers));
        }
        for q in requests {
            let (a, ok) = self.fetch(&q, path, headers, shard).await?;
            if ok {
                extents.push(Extent {
                    start: q.start,
                    end: q.end,
                    response: a.clone(),
                });
            }
            answers.push(a);
        }
        if !extents.is_empty() {
            cache
                .put(&key, r.step, merge_extents(extents, r.step), now)
                .await;
        }
        Ok(merge(answers))
    }

    /// Thanos's slow-query log line.
    fn log_if_slow(
        &self,
        parts: &http::request::Parts,
        body: &Bytes,
        took: Duration,
        status: StatusCode,
    ) {
        let Some(limit) = self.cfg.slow_query else {
            return;
        };
        if took < limit {
            return;
        }
        let params = params(parts, body);
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n == k)
                .map_or("", |(_, v)| v.as_str())
        };
        let user = self
            .cfg
            .user_header
            .as_deref()
            .and_then(|h| parts.headers.get(h))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::info!(
            method = %parts.method,
            path = parts.uri.path(),
            time_taken = ?took,
            status = status.as_u16(),
            org_id = %self.tenant(&parts.headers),
            remote_user = user,
            param_query = get("query"),
            param_start = get("start"),
            param_end = get("end"),
            param_step = get("step"),
            param_time = get("time"),
            "slow query detected"
        );
    }
}
