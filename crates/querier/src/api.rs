//! Prometheus HTTP API v1 (Prometheus 3.5 JSON shapes, status codes and
//! error types) with Thanos's extra parameters (`dedup`, `replicaLabels[]`,
//! `partial_response`, `max_source_resolution`, `storeMatch[]`) and
//! `/api/v1/stores`.
//!
//! Modules: [`handlers`] (the routes: parameters in, answer out),
//! [`scrape`] (metadata, exemplars, targets), [`compress`] (gzip and
//! deflate as Prometheus negotiates them),
//! [`exec`] (running PromQL and metadata queries through the proxy),
//! [`json`] (encoding answers; the AST for `parse_query`), [`error`]
//! (`errorType` and HTTP status, one mapping), [`params`] (parameter
//! syntax), [`number`] (sample values as text).

mod compress;
mod error;
mod exec;
mod handlers;
mod json;
mod number;
mod params;
mod scrape;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::args::DedupFunc;
use crate::proxy::Proxy;

/// Prometheus's limit of points per series in a range query.
const MAX_POINTS: i64 = 11_000;

/// Settings of the API taken from the flags.
#[derive(Debug, Clone)]
pub(crate) struct ApiConfig {
    pub(crate) replica_labels: Vec<String>,
    pub(crate) dedup_func: DedupFunc,
    pub(crate) partial_response: bool,
    pub(crate) auto_downsampling: bool,
    pub(crate) query_timeout: Duration,
    pub(crate) lookback_delta: Duration,
    pub(crate) default_evaluation_interval: Duration,
    pub(crate) default_step: Duration,
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
            default_step: Duration::from_secs(1),
        }
    }
}

/// Shared state of the API handlers: the proxy, the settings and the gate
/// of concurrent queries.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    proxy: Arc<Proxy>,
    cfg: Arc<ApiConfig>,
    gate: aeon_common::metrics::Gate,
}

impl Api {
    /// The API over `proxy`; `gate` admits `--query.max-concurrent`
    /// queries at once.
    pub(crate) fn new(proxy: Arc<Proxy>, cfg: ApiConfig, gate: aeon_common::metrics::Gate) -> Self {
        Self {
            proxy,
            cfg: Arc::new(cfg),
            gate,
        }
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &ApiConfig {
        &self.cfg
    }

    /// The `/api/v1` routes (to be nested under the route prefix).
    pub(crate) fn router(self) -> Router {
        handlers::routes(self)
    }
}
