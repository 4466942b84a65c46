//! The querier (layer L3): one Prometheus-compatible, deduplicated global
//! view over many Store API endpoints (sidecars, store gateways, other
//! queriers), like `thanos query`.
//!
//! Modules: [`args`] (flags), [`dedup`] (HA replica merging),
//! [`endpoints`] (discovery and health), [`proxy`] (fan-out Store API),
//! [`queryable`] (PromQL adapter), [`api`] (Prometheus HTTP API v1),
//! [`mod@format`] (PromQL printing and AST JSON for `format_query` /
//! `parse_query`), [`ui`] (web UI), [`metrics`], [`memstore`] (in-memory
//! store for tests and demos).
//!
//! Query path: HTTP request → [`api`] → aeon-promql `Engine` on a blocking
//! thread → [`StoreQueryable`] (`select`) → [`Proxy`] fans a Series request out
//! to the healthy endpoints whose label sets and time ranges match → k-way
//! merge → chunks decoded (XOR, native histograms, downsampled aggregates)
//! → replicas merged by [`aeon_model::dedup`] (penalty or chain,
//! counter-aware).
//!
//! Entry points: [`Args`] and [`run`] (or [`start`], which returns the bound
//! addresses).

pub mod api;
pub mod args;
pub mod endpoints;
mod error;
pub mod format;
pub mod memstore;
pub mod metrics;
pub mod proxy;
pub mod queryable;
mod run;
pub mod ui;

pub use args::{Args, DedupFunc};
pub use endpoints::{EndpointSet, EndpointStatus};
pub use error::{Error, Result};
pub use proxy::Proxy;
pub use queryable::{QueryOptions, StoreQueryable};
pub use run::{Running, http_router, run, start};
