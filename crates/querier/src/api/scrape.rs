//! `/api/v1/metadata`, `/api/v1/query_exemplars` and `/api/v1/targets`:
//! Prometheus 3.5's parameters, checks and errors, answered by fanning out
//! the Thanos Metadata, Exemplars and Targets APIs (`crate::fanout`) and
//! merging or deduplicating by the replica labels of
//! `--query.replica-label`, as Thanos's querier does.

use aeon_storeapi::pb::thanos;
use aeon_storeapi::{ExemplarsApi, MetadataApi, TargetsApi};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Api;
use super::error::ApiError;
use super::handlers::{read_params, respond};
use super::json::{scrape as json, success};
use super::params::{MAX_TIME, MIN_TIME, Params, bool_or, time_or};
use crate::fanout::{TargetsQuery, dedup_exemplars, dedup_targets, merge_metadata, selectors};

impl Api {
    /// WARN or ABORT from `partial_response` (default: the flag).
    fn strategy(&self, p: &Params) -> Result<i32, ApiError> {
        let warn = bool_or(p, "partial_response", self.cfg.partial_response)?;
        Ok(if warn {
            thanos::PartialResponseStrategy::Warn as i32
        } else {
            thanos::PartialResponseStrategy::Abort as i32
        })
    }
}

/// An integer parameter as Prometheus's `strconv.Atoi` (absent or empty:
/// `default`), with Prometheus's error text.
fn int_param(p: &Params, name: &str, default: i64) -> Result<i64, ApiError> {
    match p.get_nonempty(name) {
        None => Ok(default),
        Some(s) => s
            .parse()
            .map_err(|_| ApiError::bad_data(format!("{name} must be a number"))),
    }
}

fn retrieving(what: &str, e: aeon_storeapi::Error) -> ApiError {
    let e = ApiError::from_store(e);
    ApiError::new(e.kind, format!("retrieving {what}: {}", e.message))
}

/// `GET /api/v1/metadata`: `metric`, `limit`, `limit_per_metric`.
pub(super) async fn metadata(State(api): State<Api>, req: Request) -> Response {
    respond(
        async {
            let p = read_params(req).await?;
            let limit = int_param(&p, "limit", -1)?;
            let limit_per_metric = int_param(&p, "limit_per_metric", -1)?;
            let r = thanos::MetricMetadataRequest {
                metric: p.get("metric").unwrap_or_default().to_owned(),
                limit: if limit < 0 {
                    -1
                } else {
                    i32::try_from(limit).unwrap_or(i32::MAX)
                },
                partial_response_strategy: api.strategy(&p)?,
            };
            let frames = api
                .proxy
                .metric_metadata(r)
                .await
                .map_err(|e| retrieving("metadata", e))?;
            let (m, warnings) = merge_metadata(frames, limit, limit_per_metric);
            Ok(success(&json::metadata(&m), &warnings, &[]))
        }
        .await,
    )
}

/// `GET|POST /api/v1/query_exemplars`: `query`, `start`, `end`.
pub(super) async fn exemplars(State(api): State<Api>, req: Request) -> Response {
    respond(
        async {
            let p = read_params(req).await?;
            let start = time_or(&p, "start", MIN_TIME)?;
            let end = time_or(&p, "end", MAX_TIME)?;
            if end < start {
                return Err(ApiError::bad_data(
                    "end timestamp must not be before start timestamp",
                ));
            }
            let query = p.get("query").unwrap_or_default();
            let expr = aeon_promql::parse(query).map_err(|e| ApiError::bad_data(e.to_string()))?;
            if selectors(&expr).is_empty() {
                // Prometheus answers no data at all.
                return Ok(StatusCode::NO_CONTENT.into_response());
            }
            let r = thanos::ExemplarsRequest {
                query: query.to_owned(),
                start,
                end,
                partial_response_strategy: api.strategy(&p)?,
            };
            let frames = api
                .proxy
                .exemplars(r)
                .await
                .map_err(|e| retrieving("exemplars", e))?;
            let (data, warnings) = dedup_exemplars(frames, &api.cfg.replica_labels);
            Ok(success(&json::exemplars(&data), &warnings, &[]))
        }
        .await,
    )
}

/// `GET /api/v1/targets`: `state`, `scrapePool`.
pub(super) async fn targets(State(api): State<Api>, req: Request) -> Response {
    respond(
        async {
            let p = read_params(req).await?;
            let q = TargetsQuery::new(
                p.get("state").unwrap_or_default(),
                p.get("scrapePool").unwrap_or_default(),
            );
            let frames = match q.state() {
                Some(state) => api
                    .proxy
                    .targets(thanos::TargetsRequest {
                        state: state as i32,
                        partial_response_strategy: api.strategy(&p)?,
                    })
                    .await
                    .map_err(|e| retrieving("targets", e))?,
                None => Vec::new(),
            };
            let (t, warnings) = dedup_targets(frames, &api.cfg.replica_labels, &q);
            Ok(success(&json::targets(&t), &warnings, &[]))
        }
        .await,
    )
}
