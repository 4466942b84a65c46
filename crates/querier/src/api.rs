//! Prometheus HTTP API v1 (Prometheus 3.5 JSON shapes, status codes and
//! error types) with Thanos's extra parameters (`dedup`, `replicaLabels[]`,
//! `partial_response`, `max_source_resolution`) and `/api/v1/stores`.

pub mod number;
pub mod params;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aeon_model::{Labels, Matcher};
use aeon_promql::{Engine, EngineOpts, Expr, QueryParams, Value, ValueType};
use aeon_storeapi::pb::thanos;
use aeon_storeapi::{SeriesFrame, StoreApi, convert};
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use tokio::sync::Semaphore;

use crate::args::DedupFunc;
use crate::proxy::Proxy;
use crate::queryable::{QueryOptions, StoreQueryable};
use number::json_float;
use params::{MAX_TIME, MIN_TIME, Params, bool_or, parse_duration, time_or};

/// Prometheus's limit of points per series in a range query.
pub const MAX_POINTS: i64 = 11_000;

/// An API error: Prometheus's `errorType`, HTTP status and message.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: &'static str,
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn bad_data(message: impl Into<String>) -> Self {
        Self {
            kind: "bad_data",
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
    pub fn execution(message: impl Into<String>) -> Self {
        Self {
            kind: "execution",
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: "internal",
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
    pub fn timeout(message: impl Into<String>) -> Self {
        Self {
            kind: "timeout",
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
        }
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            kind: "unavailable",
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
        }
    }

    /// Maps an engine error as Prometheus's API does.
    pub fn from_promql(e: aeon_promql::Error) -> Self {
        use aeon_promql::Error as E;
        match e {
            E::Parse { .. } => Self::bad_data(e.to_string()),
            E::Timeout(_) => Self::timeout(e.to_string()),
            E::Canceled(_) => Self {
                kind: "canceled",
                status: StatusCode::from_u16(499).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                message: e.to_string(),
            },
            E::Storage(_) => Self::internal(e.to_string()),
            E::Execution(_) | E::TooManySamples(_) => Self::execution(e.to_string()),
        }
    }

    /// Maps a Store API error (partial response ABORT).
    pub fn from_store(e: aeon_storeapi::Error) -> Self {
        let st = tonic::Status::from(e);
        match st.code() {
            tonic::Code::InvalidArgument => Self::bad_data(st.message()),
            tonic::Code::DeadlineExceeded => Self::timeout(st.message()),
            _ => Self::internal(st.message()),
        }
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = format!(
            "{{\"status\":\"error\",\"errorType\":\"{}\",\"error\":{}}}",
            self.kind,
            json_str(&self.message)
        );
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

/// A success envelope around already-encoded `data`.
fn success(data: &str, warnings: &[String], infos: &[String]) -> Response {
    let mut body = format!("{{\"status\":\"success\",\"data\":{data}");
    for (key, list) in [("warnings", warnings), ("infos", infos)] {
        if !list.is_empty() {
            let items: Vec<String> = list.iter().map(|w| json_str(w)).collect();
            let _ = write!(body, ",\"{key}\":[{}]", items.join(","));
        }
    }
    body.push('}');
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Formats a ms timestamp as Prometheus does: unix seconds, up to 3 decimals.
pub fn format_ts(t: i64) -> String {
    let sign = if t < 0 { "-" } else { "" };
    let a = t.unsigned_abs();
    let (s, ms) = (a / 1000, a % 1000);
    if ms == 0 {
        format!("{sign}{s}")
    } else {
        let frac = format!("{ms:03}");
        format!("{sign}{s}.{}", frac.trim_end_matches('0'))
    }
}

fn point(t: i64, v: f64) -> String {
    format!("[{},\"{}\"]", format_ts(t), json_float(v))
}

/// A native histogram as Prometheus writes it: count, sum and the non-empty
/// buckets as `[boundary_rule, "lower", "upper", "count"]` (0 open left,
/// 1 open right, 3 closed both).
pub fn histogram_json(h: &aeon_promql::FloatHistogram) -> String {
    let mut out = format!(
        "{{\"count\":\"{}\",\"sum\":\"{}\"",
        json_float(h.count),
        json_float(h.sum)
    );
    let custom = h.uses_custom_buckets();
    let buckets: Vec<String> = h
        .all_buckets()
        .into_iter()
        .filter(|b| b.count != 0.0)
        .map(|b| {
            let rule = if custom {
                0
            } else if b.lower == -h.zero_threshold && b.upper == h.zero_threshold {
                3
            } else if b.upper <= 0.0 {
                1
            } else {
                0
            };
            format!(
                "[{rule},\"{}\",\"{}\",\"{}\"]",
                json_float(b.lower),
                json_float(b.upper),
                json_float(b.count)
            )
        })
        .collect();
    if !buckets.is_empty() {
        let _ = write!(out, ",\"buckets\":[{}]", buckets.join(","));
    }
    out.push('}');
    out
}

fn labels_json(l: &Labels) -> String {
    serde_json::to_string(l).unwrap_or_else(|_| "{}".into())
}

/// Encodes a query result's `data` object.
pub fn encode_value(v: &Value) -> String {
    match v {
        Value::Scalar { t, v } => {
            format!("{{\"resultType\":\"scalar\",\"result\":{}}}", point(*t, *v))
        }
        Value::String { t, v } => format!(
            "{{\"resultType\":\"string\",\"result\":[{},{}]}}",
            format_ts(*t),
            json_str(v)
        ),
        Value::Vector(vec) => {
            let items: Vec<String> = vec
                .iter()
                .map(|s| {
                    let m = if s.drop_name {
                        s.metric.without(&[aeon_model::METRIC_NAME])
                    } else {
                        s.metric.clone()
                    };
                    match &s.h {
                        Some(h) => format!(
                            "{{\"metric\":{},\"histogram\":[{},{}]}}",
                            labels_json(&m),
                            format_ts(s.t),
                            histogram_json(h)
                        ),
                        None => format!(
                            "{{\"metric\":{},\"value\":{}}}",
                            labels_json(&m),
                            point(s.t, s.f)
                        ),
                    }
                })
                .collect();
            format!(
                "{{\"resultType\":\"vector\",\"result\":[{}]}}",
                items.join(",")
            )
        }
        Value::Matrix(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|s| {
                    let metric = if s.drop_name {
                        s.metric.without(&[aeon_model::METRIC_NAME])
                    } else {
                        s.metric.clone()
                    };
                    let mut out = format!("{{\"metric\":{}", labels_json(&metric));
                    if !s.floats.is_empty() || s.histograms.is_empty() {
                        let pts: Vec<String> = s.floats.iter().map(|p| point(p.t, p.f)).collect();
                        let _ = write!(out, ",\"values\":[{}]", pts.join(","));
                    }
                    if !s.histograms.is_empty() {
                        let hs: Vec<String> = s
                            .histograms
                            .iter()
                            .map(|p| format!("[{},{}]", format_ts(p.t), histogram_json(&p.h)))
                            .collect();
                        let _ = write!(out, ",\"histograms\":[{}]", hs.join(","));
                    }
                    out.push('}');
                    out
                })
                .collect();
            format!(
                "{{\"resultType\":\"matrix\",\"result\":[{}]}}",
                items.join(",")
            )
        }
    }
}

/// Settings of the API taken from the flags.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub replica_labels: Vec<String>,
    pub dedup_func: DedupFunc,
    pub partial_response: bool,
    pub auto_downsampling: bool,
    pub query_timeout: Duration,
    pub lookback_delta: Duration,
    pub default_evaluation_interval: Duration,
    pub max_concurrent: usize,
    pub default_step: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            replica_labels: Vec::new(),
            dedup_func: DedupFunc::Penalty,
            partial_response: true,
            auto_downsampling: false,
            query_timeout: Duration::from_secs(120),
            lookback_delta: Duration::from_secs(300),
            default_evaluation_interval: Duration::from_secs(60),
            max_concurrent: 20,
            default_step: Duration::from_secs(1),
        }
    }
}

/// Shared state of the API handlers.
#[derive(Debug, Clone)]
pub struct Api {
    proxy: Arc<Proxy>,
    cfg: Arc<ApiConfig>,
    gate: Arc<Semaphore>,
}

impl Api {
    pub fn new(proxy: Arc<Proxy>, cfg: ApiConfig) -> Self {
        let gate = Arc::new(Semaphore::new(cfg.max_concurrent.max(1)));
        Self {
            proxy,
            cfg: Arc::new(cfg),
            gate,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.cfg
    }

    /// The proxy behind the API.
    pub fn proxy(&self) -> &Arc<Proxy> {
        &self.proxy
    }

    /// The `/api/v1` routes (to be nested under the route prefix).
    pub fn router(self) -> Router {
        Router::new()
            .route("/api/v1/query", get(query).post(query))
            .route("/api/v1/query_range", get(query_range).post(query_range))
            .route("/api/v1/series", get(series).post(series))
            .route("/api/v1/labels", get(labels).post(labels))
            .route("/api/v1/label/{name}/values", get(label_values))
            .route(
                "/api/v1/metadata",
                get(|| async { success("{}", &[], &[]) }),
            )
            .route(
                "/api/v1/query_exemplars",
                get(|| async { success("[]", &[], &[]) })
                    .post(|| async { success("[]", &[], &[]) }),
            )
            .route("/api/v1/status/buildinfo", get(buildinfo))
            // No rule, target or alert endpoints are connected: empty answers
            // in Prometheus's shapes, so UIs like Grafana do not error.
            .route(
                "/api/v1/rules",
                get(|| async { success("{\"groups\":[]}", &[], &[]) }),
            )
            .route(
                "/api/v1/alerts",
                get(|| async { success("{\"alerts\":[]}", &[], &[]) }),
            )
            .route(
                "/api/v1/targets",
                get(|| async {
                    success(
                        "{\"activeTargets\":[],\"droppedTargets\":[],\"droppedTargetCounts\":{}}",
                        &[],
                        &[],
                    )
                }),
            )
            .route("/api/v1/stores", get(stores))
            .route("/api/v1/format_query", get(format_query).post(format_query))
            .route("/api/v1/parse_query", get(parse_query).post(parse_query))
            .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
            .with_state(self)
    }

    fn query_options(&self, p: &Params, step_ms: i64) -> Result<QueryOptions, ApiError> {
        let dedup = bool_or(p, "dedup", true)?;
        let partial_response = bool_or(p, "partial_response", self.cfg.partial_response)?;
        let mut replica_labels: Vec<String> = p
            .all("replicaLabels[]")
            .into_iter()
            .chain(p.all("replicaLabels"))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if replica_labels.is_empty() {
            replica_labels = self.cfg.replica_labels.clone();
        }
        let max_source_resolution = match p.get_nonempty("max_source_resolution") {
            Some("auto") => step_ms / 5,
            Some(s) => {
                let ms = parse_duration("max_source_resolution", s)?;
                if ms < 0 {
                    return Err(ApiError::bad_data(
                        "negative max_source_resolution is not accepted. Try a positive integer",
                    ));
                }
                ms
            }
            None if self.cfg.auto_downsampling => step_ms / 5,
            None => 0,
        };
        Ok(QueryOptions {
            dedup,
            replica_labels,
            dedup_func: self.cfg.dedup_func,
            partial_response,
            max_source_resolution,
            deadline: None,
        })
    }

    /// The proxy for a request: restricted by `storeMatch[]` if given.
    fn proxy_for(&self, p: &Params) -> Result<Arc<Proxy>, ApiError> {
        let raw = p.all("storeMatch[]");
        if raw.is_empty() {
            return Ok(self.proxy.clone());
        }
        let sets = raw
            .into_iter()
            .map(|s| match aeon_promql::parse(s) {
                Ok(Expr::Vector(vs)) => Ok(vs.matchers),
                Ok(_) => Err(ApiError::bad_data(format!(
                    "invalid parameter \"storeMatch[]\": {s:?} is not a series selector"
                ))),
                Err(e) => Err(ApiError::bad_data(format!(
                    "invalid parameter \"storeMatch[]\": {e}"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(self.proxy.with_store_match(sets)))
    }

    fn timeout(&self, p: &Params) -> Result<Duration, ApiError> {
        let mut t = self.cfg.query_timeout;
        if let Some(s) = p.get_nonempty("timeout") {
            let ms = parse_duration("timeout", s)?;
            if ms > 0 {
                t = t.min(Duration::from_millis(ms as u64));
            }
        }
        Ok(t)
    }

    async fn run_query(&self, p: &Params, expr: Expr, start: i64, end: i64, step: i64) -> Response {
        let timeout = match self.timeout(p) {
            Ok(t) => t,
            Err(e) => return e.into_response(),
        };
        let mut opts = match self.query_options(p, step) {
            Ok(o) => o,
            Err(e) => return e.into_response(),
        };
        let limit = match p.get_nonempty("limit").map(|s| s.parse::<usize>()) {
            Some(Err(_)) => {
                return ApiError::bad_data(format!(
                    "invalid parameter \"limit\": cannot parse \"{}\" to a valid limit",
                    p.get("limit").unwrap_or_default()
                ))
                .into_response();
            }
            Some(Ok(n)) => n,
            None => 0,
        };
        let proxy = match self.proxy_for(p) {
            Ok(x) => x,
            Err(e) => return e.into_response(),
        };
        let Ok(_permit) = self.gate.acquire().await else {
            return ApiError::unavailable("query gate closed").into_response();
        };
        opts.deadline = Some(tokio::time::Instant::now() + timeout);
        let lookback = match p
            .get_nonempty("lookback_delta")
            .map(|s| parse_duration("lookback_delta", s))
        {
            Some(Err(e)) => return e.into_response(),
            Some(Ok(ms)) if ms > 0 => ms,
            _ => self.cfg.lookback_delta.as_millis() as i64,
        };
        let engine = Engine::new(EngineOpts {
            lookback_delta: lookback,
            timeout,
            default_subquery_step: self.cfg.default_evaluation_interval.as_millis() as i64,
            ..EngineOpts::default()
        });
        let q = StoreQueryable::new(proxy, opts, tokio::runtime::Handle::current());
        let res = tokio::task::spawn_blocking(move || {
            let r = engine.exec(
                &q,
                &expr,
                &QueryParams {
                    start,
                    end,
                    step,
                    cancel: None,
                },
            );
            (r, q.warnings())
        })
        .await;
        let (result, mut warnings) = match res {
            Ok(x) => x,
            Err(e) => return ApiError::internal(format!("query panicked: {e}")).into_response(),
        };
        match result {
            Ok(mut r) => {
                if limit > 0 {
                    match &mut r.value {
                        Value::Vector(v) if v.len() > limit => v.truncate(limit),
                        Value::Matrix(m) if m.len() > limit => m.truncate(limit),
                        _ => {}
                    }
                }
                let mut infos = Vec::new();
                for a in &r.annotations {
                    match a.kind {
                        aeon_promql::AnnotationKind::Warning => warnings.push(a.to_string()),
                        aeon_promql::AnnotationKind::Info => infos.push(a.to_string()),
                    }
                }
                success(&encode_value(&r.value), &warnings, &infos)
            }
            Err(e) => ApiError::from_promql(e).into_response(),
        }
    }
}

/// Query string plus (for POST forms) the body.
async fn read_params(req: Request) -> Result<Params, ApiError> {
    let mut p = Params::from_urlencoded(req.uri().query().unwrap_or_default());
    if req.method() == Method::POST {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let body = axum::body::to_bytes(req.into_body(), 64 << 20)
            .await
            .map_err(|e| ApiError::bad_data(format!("reading request body: {e}")))?;
        if is_form {
            p.extend_from_urlencoded(&String::from_utf8_lossy(&body));
        }
    }
    Ok(p)
}

fn parse_query_param(p: &Params) -> Result<Expr, ApiError> {
    let q = p.get("query").unwrap_or_default();
    aeon_promql::parse(q)
        .map_err(|e| ApiError::bad_data(format!("invalid parameter \"query\": {e}")))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn query(State(api): State<Api>, req: Request) -> Response {
    let p = match read_params(req).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let t = match time_or(&p, "time", now_ms()) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let expr = match parse_query_param(&p) {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    api.run_query(&p, expr, t, t, 0).await
}

async fn query_range(State(api): State<Api>, req: Request) -> Response {
    let p = match read_params(req).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let checked = (|| {
        let start = params::parse_time("start", p.get("start").unwrap_or_default())?;
        let end = params::parse_time("end", p.get("end").unwrap_or_default())?;
        if end < start {
            return Err(ApiError::bad_data(
                "invalid parameter \"end\": end timestamp must not be before start time",
            ));
        }
        let step = parse_duration("step", p.get("step").unwrap_or_default())?;
        if step <= 0 {
            return Err(ApiError::bad_data(
                "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        if (end - start) / step > MAX_POINTS {
            return Err(ApiError::bad_data(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            ));
        }
        let expr = parse_query_param(&p)?;
        let t = expr.value_type();
        if t != ValueType::Scalar && t != ValueType::Vector {
            return Err(ApiError::bad_data(format!(
                "invalid parameter \"query\": invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                t.name()
            )));
        }
        Ok((start, end, step, expr))
    })();
    match checked {
        Ok((start, end, step, expr)) => api.run_query(&p, expr, start, end, step).await,
        Err(e) => e.into_response(),
    }
}

/// Parses every `match[]` as a series selector.
fn match_sets(p: &Params) -> Result<Vec<Vec<Matcher>>, ApiError> {
    p.all("match[]")
        .into_iter()
        .map(|s| match aeon_promql::parse(s) {
            Ok(Expr::Vector(vs)) => Ok(vs.matchers),
            Ok(_) => Err(ApiError::bad_data(format!(
                "invalid parameter \"match[]\": 1:1: parse error: expected vector selector in {s:?}"
            ))),
            Err(e) => Err(ApiError::bad_data(format!(
                "invalid parameter \"match[]\": {e}"
            ))),
        })
        .collect()
}

fn range_params(p: &Params) -> Result<(i64, i64), ApiError> {
    let start = time_or(p, "start", MIN_TIME)?;
    let end = time_or(p, "end", MAX_TIME)?;
    if end < start {
        return Err(ApiError::bad_data(
            "end timestamp must not be before start time",
        ));
    }
    Ok((start, end))
}

fn limit_param(p: &Params) -> Result<usize, ApiError> {
    match p.get_nonempty("limit") {
        None => Ok(0),
        Some(s) => s.parse().map_err(|_| {
            ApiError::bad_data(format!(
                "invalid parameter \"limit\": cannot parse \"{s}\" to a valid limit"
            ))
        }),
    }
}

fn strategy(partial: bool) -> (bool, i32) {
    if partial {
        (false, thanos::PartialResponseStrategy::Warn as i32)
    } else {
        (true, thanos::PartialResponseStrategy::Abort as i32)
    }
}

async fn series(State(api): State<Api>, req: Request) -> Response {
    let res: Result<Response, ApiError> = async {
        let p = read_params(req).await?;
        let sets = match_sets(&p)?;
        if sets.is_empty() {
            return Err(ApiError::bad_data("no match[] parameter provided"));
        }
        let (start, end) = range_params(&p)?;
        let limit = limit_param(&p)?;
        let opts = api.query_options(&p, 0)?;
        let strip = if opts.dedup_active() {
            opts.replica_labels.clone()
        } else {
            Vec::new()
        };
        let (disabled, strat) = strategy(opts.partial_response);
        let proxy = api.proxy_for(&p)?;
        let mut out: Vec<Labels> = Vec::new();
        let mut warnings = Vec::new();
        for ms in sets {
            let req = thanos::SeriesRequest {
                min_time: start,
                max_time: end,
                matchers: convert::matchers_to_pb(&ms),
                skip_chunks: true,
                partial_response_disabled: disabled,
                partial_response_strategy: strat,
                without_replica_labels: strip.clone(),
                ..Default::default()
            };
            let mut stream = proxy.series(req).await.map_err(ApiError::from_store)?;
            while let Some(item) = stream.next().await {
                match item.map_err(ApiError::from_store)?.result {
                    Some(SeriesFrame::Series(s)) => {
                        out.push(convert::labels_from_pb_owned(s.labels))
                    }
                    Some(SeriesFrame::Warning(w)) => warnings.push(w),
                    _ => {}
                }
            }
        }
        out.sort();
        out.dedup();
        if limit > 0 && out.len() > limit {
            out.truncate(limit);
            warnings.push("results truncated due to limit".into());
        }
        warnings.sort();
        warnings.dedup();
        let items: Vec<String> = out.iter().map(labels_json).collect();
        Ok(success(&format!("[{}]", items.join(",")), &warnings, &[]))
    }
    .await;
    res.unwrap_or_else(IntoResponse::into_response)
}

fn string_list(mut v: Vec<String>, limit: usize, warnings: &mut Vec<String>) -> String {
    v.sort();
    v.dedup();
    if limit > 0 && v.len() > limit {
        v.truncate(limit);
        warnings.push("results truncated due to limit".into());
    }
    format!(
        "[{}]",
        v.iter().map(|s| json_str(s)).collect::<Vec<_>>().join(",")
    )
}

/// What `labels` and `label/<name>/values` read from their parameters: the
/// `match[]` sets (one empty set when none is given), time range, limit,
/// partial-response strategy, replica labels to strip when deduplicating,
/// and the stores to ask.
struct LabelQuery {
    sets: Vec<Vec<Matcher>>,
    start: i64,
    end: i64,
    limit: usize,
    disabled: bool,
    strategy: i32,
    strip: Vec<String>,
    proxy: Arc<Proxy>,
}

impl LabelQuery {
    fn new(api: &Api, p: &Params) -> Result<Self, ApiError> {
        let mut sets = match_sets(p)?;
        if sets.is_empty() {
            sets.push(Vec::new());
        }
        let (start, end) = range_params(p)?;
        let limit = limit_param(p)?;
        let opts = api.query_options(p, 0)?;
        let (disabled, strategy) = strategy(opts.partial_response);
        let strip = if opts.dedup_active() {
            opts.replica_labels.clone()
        } else {
            Vec::new()
        };
        let proxy = api.proxy_for(p)?;
        Ok(Self {
            sets,
            start,
            end,
            limit,
            disabled,
            strategy,
            strip,
            proxy,
        })
    }
}

async fn labels(State(api): State<Api>, req: Request) -> Response {
    let res: Result<Response, ApiError> = async {
        let p = read_params(req).await?;
        let q = LabelQuery::new(&api, &p)?;
        let (mut names, mut warnings) = (Vec::new(), Vec::new());
        for ms in &q.sets {
            let r = q
                .proxy
                .label_names(thanos::LabelNamesRequest {
                    partial_response_disabled: q.disabled,
                    partial_response_strategy: q.strategy,
                    start: q.start,
                    end: q.end,
                    matchers: convert::matchers_to_pb(ms),
                    without_replica_labels: q.strip.clone(),
                    ..Default::default()
                })
                .await
                .map_err(ApiError::from_store)?;
            names.extend(r.names);
            warnings.extend(r.warnings);
        }
        let data = string_list(names, q.limit, &mut warnings);
        Ok(success(&data, &warnings, &[]))
    }
    .await;
    res.unwrap_or_else(IntoResponse::into_response)
}

/// Decodes Prometheus's `U__` label name escaping.
fn unescape_label_name(name: &str) -> Option<String> {
    let Some(rest) = name.strip_prefix("U__") else {
        return Some(name.to_owned());
    };
    let mut out = String::new();
    // Tokens alternate: literal, hex codepoint, literal, ...; "__" is an underscore.
    let mut literal = true;
    for tok in rest.split('_') {
        if literal {
            out.push_str(tok);
        } else if tok.is_empty() {
            out.push('_');
        } else {
            out.push(char::from_u32(u32::from_str_radix(tok, 16).ok()?)?);
        }
        literal = !literal;
    }
    Some(out)
}

async fn label_values(State(api): State<Api>, Path(name): Path<String>, req: Request) -> Response {
    let res: Result<Response, ApiError> = async {
        let p = read_params(req).await?;
        let name = unescape_label_name(&name)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::bad_data(format!("invalid label name: \"{name}\"")))?;
        let q = LabelQuery::new(&api, &p)?;
        let (mut values, mut warnings) = (Vec::new(), Vec::new());
        for ms in &q.sets {
            let r = q
                .proxy
                .label_values(thanos::LabelValuesRequest {
                    label: name.clone(),
                    partial_response_disabled: q.disabled,
                    partial_response_strategy: q.strategy,
                    start: q.start,
                    end: q.end,
                    matchers: convert::matchers_to_pb(ms),
                    without_replica_labels: q.strip.clone(),
                    ..Default::default()
                })
                .await
                .map_err(ApiError::from_store)?;
            values.extend(r.values);
            warnings.extend(r.warnings);
        }
        let data = string_list(values, q.limit, &mut warnings);
        Ok(success(&data, &warnings, &[]))
    }
    .await;
    res.unwrap_or_else(IntoResponse::into_response)
}

async fn buildinfo() -> Response {
    let data = format!(
        "{{\"version\":{},\"revision\":\"\",\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"\"}}",
        json_str(env!("CARGO_PKG_VERSION"))
    );
    success(&data, &[], &[])
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `/api/v1/stores`: endpoints grouped by component type (Thanos's shape).
async fn stores(State(api): State<Api>) -> Response {
    let mut groups: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for s in api.proxy.endpoints().statuses() {
        let adv = s.advertised.clone().unwrap_or_default();
        let kind = if adv.component_type.is_empty() {
            "unknown".to_owned()
        } else {
            adv.component_type.clone()
        };
        let label_sets: Vec<String> = adv.label_sets.iter().map(labels_json).collect();
        let entry = format!(
            "{{\"name\":{},\"healthy\":{},\"lastCheck\":{},\"lastError\":{},\"labelSets\":[{}],\"minTime\":{},\"maxTime\":{}}}",
            json_str(&s.address),
            s.healthy,
            s.last_check
                .map_or("null".into(), |t| json_str(&rfc3339(t))),
            s.last_error.as_deref().map_or("null".into(), json_str),
            label_sets.join(","),
            adv.min_time,
            adv.max_time
        );
        groups.entry(kind).or_default().push(entry);
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(k, v)| format!("{}:[{}]", json_str(k), v.join(",")))
        .collect();
    success(&format!("{{{}}}", parts.join(",")), &[], &[])
}

async fn format_query(req: Request) -> Response {
    let p = match read_params(req).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    match parse_query_param(&p) {
        Ok(e) => success(&json_str(&e.pretty()), &[], &[]),
        Err(e) => e.into_response(),
    }
}

async fn parse_query(req: Request) -> Response {
    let p = match read_params(req).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    match parse_query_param(&p) {
        Ok(e) => success(&crate::format::ast_json(&e).to_string(), &[], &[]),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_like_prometheus() {
        assert_eq!(format_ts(1_435_781_451_781), "1435781451.781");
        assert_eq!(format_ts(1_435_781_451_000), "1435781451");
        assert_eq!(format_ts(1_435_781_451_100), "1435781451.1");
        assert_eq!(format_ts(-1_500), "-1.5");
        assert_eq!(format_ts(0), "0");
    }

    #[test]
    fn values_encode() {
        assert_eq!(
            encode_value(&Value::Scalar {
                t: 1000,
                v: f64::INFINITY
            }),
            r#"{"resultType":"scalar","result":[1,"+Inf"]}"#
        );
        assert_eq!(
            encode_value(&Value::String {
                t: 1500,
                v: "a\"b".into()
            }),
            r#"{"resultType":"string","result":[1.5,"a\"b"]}"#
        );
        let v = Value::Vector(vec![aeon_promql::Sample {
            metric: Labels::from_pairs(&[("__name__", "up"), ("job", "x")]),
            t: 2000,
            f: 0.1,
            h: None,
            drop_name: true,
        }]);
        assert_eq!(
            encode_value(&v),
            r#"{"resultType":"vector","result":[{"metric":{"job":"x"},"value":[2,"0.1"]}]}"#
        );
        let m = Value::Matrix(vec![aeon_promql::Series {
            metric: Labels::from_pairs(&[("a", "b")]),
            floats: vec![
                aeon_promql::FPoint { t: 0, f: f64::NAN },
                aeon_promql::FPoint {
                    t: 15_000,
                    f: -1e-7,
                },
            ],
            histograms: vec![],
            drop_name: false,
        }]);
        assert_eq!(
            encode_value(&m),
            r#"{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[0,"NaN"],[15,"-1e-07"]]}]}"#
        );
    }

    #[test]
    fn histograms_encode_like_prometheus() {
        let h = aeon_promql::FloatHistogram {
            schema: 0,
            zero_threshold: 0.001,
            zero_count: 1.0,
            count: 10.0,
            sum: 12.5,
            positive: [(0, 2.0), (1, 3.0), (2, 0.0)].into_iter().collect(),
            negative: [(1, 2.0)].into_iter().collect(),
            ..Default::default()
        };
        assert_eq!(
            histogram_json(&h),
            r#"{"count":"10","sum":"12.5","buckets":[[1,"-2","-1","2"],[3,"-0.001","0.001","1"],[0,"0.5","1","2"],[0,"1","2","3"]]}"#
        );
        let v = Value::Vector(vec![aeon_promql::Sample {
            metric: Labels::from_pairs(&[("a", "b")]),
            t: 1000,
            f: 0.0,
            h: Some(std::sync::Arc::new(h.clone())),
            drop_name: false,
        }]);
        assert!(encode_value(&v).contains(r#""histogram":[1,{"count":"10""#));
        let m = Value::Matrix(vec![aeon_promql::Series {
            metric: Labels::from_pairs(&[("a", "b")]),
            floats: vec![],
            histograms: vec![aeon_promql::HPoint {
                t: 2000,
                h: std::sync::Arc::new(h),
            }],
            drop_name: false,
        }]);
        let e = encode_value(&m);
        assert!(
            e.contains(r#""histograms":[[2,{"count""#) && !e.contains("values"),
            "{e}"
        );
    }

    #[test]
    fn label_name_unescaping() {
        assert_eq!(unescape_label_name("job").unwrap(), "job");
        assert_eq!(
            unescape_label_name("U__http_2e_status__code").unwrap(),
            "http.status_code"
        );
    }
}
