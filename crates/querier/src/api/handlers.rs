//! The `/api/v1` routes and their handlers: read the parameters (query
//! string, and form bodies of POSTs), validate them with Prometheus's error
//! texts, run the request ([`super::exec`]) and encode the answer
//! ([`super::json`]).

use std::time::SystemTime;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::ApiError;
use super::exec::{MetadataQuery, QueryOutput};
use super::json::{self, success};
use super::params::{self, Params, parse_duration, query_param, time_or};
use super::{Api, MAX_POINTS, compress, scrape};
use aeon_promql::ValueType;

/// The routes, with `api` as their state.
pub(super) fn routes(api: Api) -> Router {
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(labels).post(labels))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route("/api/v1/metadata", get(scrape::metadata))
        .route(
            "/api/v1/query_exemplars",
            get(scrape::exemplars).post(scrape::exemplars),
        )
        .route(
            "/api/v1/status/buildinfo",
            get(|| async { success(&json::buildinfo(), &[], &[]) }),
        )
        // No rule or alert endpoints are connected: empty answers in
        // Prometheus's shapes, so UIs like Grafana do not error.
        .route(
            "/api/v1/rules",
            get(|| async { success("{\"groups\":[]}", &[], &[]) }),
        )
        .route(
            "/api/v1/alerts",
            get(|| async { success("{\"alerts\":[]}", &[], &[]) }),
        )
        .route("/api/v1/targets", get(scrape::targets))
        .route("/api/v1/stores", get(stores))
        .route("/api/v1/format_query", get(format_query).post(format_query))
        .route("/api/v1/parse_query", get(parse_query).post(parse_query))
        // Every route, not the 404 fallback (Prometheus compresses only
        // what its API handlers answer).
        .route_layer(axum::middleware::from_fn(compress::compress))
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
        .with_state(api)
}

/// The answer of a handler: success, or the error's JSON and status.
pub(super) fn respond(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

fn query_response(out: QueryOutput) -> Response {
    success(&json::encode_value(&out.value), &out.warnings, &out.infos)
}

/// The parameters as Go's `Request.FormValue` sees them: for a form POST
/// the body's values first (they win), then the query string's.
pub(super) async fn read_params(req: Request) -> Result<Params, ApiError> {
    let query = req.uri().query().unwrap_or_default().to_owned();
    let mut p = Params::default();
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
    p.extend_from_urlencoded(&query);
    Ok(p)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn query(State(api): State<Api>, req: Request) -> Response {
    respond(
        async {
            let p = read_params(req).await?;
            let t = time_or(&p, "time", now_ms())?;
            let expr = query_param(&p)?;
            let out = api.run_query(&p, expr, t, t, 0).await?;
            Ok(query_response(out))
        }
        .await,
    )
}

async fn query_range(State(api): State<Api>, req: Request) -> Response {
    respond(
        async {
            let p = read_params(req).await?;
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
            let expr = query_param(&p)?;
            let t = expr.value_type();
            if t != ValueType::Scalar && t != ValueType::Vector {
                return Err(ApiError::bad_data(format!(
                    "invalid parameter \"query\": invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                    t.name()
                )));
            }
            let out = api.run_query(&p, expr, start, end, step).await?;
            Ok(query_response(out))
        }
        .await,
    )
}

async fn series(State(api): State<Api>, req: Request) -> Response {
    respond(
        async {
            let p = read_params(req).await?;
            let (sets, warnings) = MetadataQuery::for_series(&api, &p)?.series().await?;
            Ok(success(&json::labels_array(&sets), &warnings, &[]))
        }
        .await,
    )
}

async fn labels(State(api): State<Api>, req: Request) -> Response {
    respond(
        async {
            let p = read_params(req).await?;
            let (names, warnings) = MetadataQuery::for_labels(&api, &p)?.label_names().await?;
            Ok(success(&json::string_array(&names), &warnings, &[]))
        }
        .await,
    )
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
    respond(
        async {
            let p = read_params(req).await?;
            let name = unescape_label_name(&name)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| ApiError::bad_data(format!("invalid label name: \"{name}\"")))?;
            let (values, warnings) = MetadataQuery::for_labels(&api, &p)?
                .label_values(&name)
                .await?;
            Ok(success(&json::string_array(&values), &warnings, &[]))
        }
        .await,
    )
}

/// `/api/v1/stores`: endpoints grouped by component type (Thanos's shape).
async fn stores(State(api): State<Api>) -> Response {
    success(&json::stores(&api.proxy.endpoints().statuses()), &[], &[])
}

async fn format_query(req: Request) -> Response {
    respond(
        async {
            let e = query_param(&read_params(req).await?)?;
            Ok(success(&json::json_str(&e.pretty()), &[], &[]))
        }
        .await,
    )
}

async fn parse_query(req: Request) -> Response {
    respond(
        async {
            let e = query_param(&read_params(req).await?)?;
            Ok(success(&json::ast::translate(&e).to_string(), &[], &[]))
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_name_unescaping() {
        assert_eq!(unescape_label_name("job").unwrap(), "job");
        assert_eq!(
            unescape_label_name("U__http_2e_status__code").unwrap(),
            "http.status_code"
        );
    }
}
