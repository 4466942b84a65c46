//! The querier (layer L3): one Prometheus-compatible, deduplicated global
//! view over many Store API endpoints (sidecars, store gateways, other
//! queriers), like `thanos query`.
//!
//! Modules: `args` (flags), `endpoints` (the endpoint set: health and
//! advertised label sets and time ranges; discovery is aeon-discovery's),
//! `proxy` (fan-out Store API), `fanout` (fan-out Metadata, Exemplars and
//! Targets APIs, their replica dedup), `queryable`
//! (PromQL adapter), `api` (Prometheus HTTP API v1: handlers, execution,
//! JSON, errors), `ui` (web UI), `metrics`, `run` (wiring).
//!
//! Query path: HTTP request → `api` → aeon-promql `Engine` on a blocking
//! thread → `StoreQueryable` (`select`) → [`Proxy`] fans a Series request out
//! to the healthy endpoints whose label sets and time ranges match → k-way
//! merge → chunks decoded (XOR, native histograms, downsampled aggregates)
//! → replicas merged by [`aeon_model::dedup`] (penalty or chain,
//! counter-aware).
//!
//! Entry points: [`Args`] and [`run`] (or [`start`], which returns the bound
//! addresses); [`Proxy`] over an [`EndpointSet`] for the Store API alone.
//! Everything else is crate-private (`unreachable_pub` keeps it so).

#![warn(unreachable_pub)]

mod api;
mod args;
mod endpoint_config;
mod endpoints;
mod error;
mod fanout;
mod metrics;
mod proxy;
mod queryable;
mod run;
mod ui;

pub use args::{Args, DedupFunc};
pub use endpoints::{Clients, Connector, Endpoint, EndpointSet, grpc_connector};
pub use error::{Error, Result};
pub use proxy::Proxy;
pub use run::{Running, run, start};
