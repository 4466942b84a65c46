//! The Aeon sidecar (layer L3, a service): runs next to an unmodified
//! Prometheus 3.5 and makes it a Thanos peer.
//!
//! - [`PrometheusStore`] implements the Thanos Store API (`thanos.Store`,
//!   `thanos.info.Info`) over Prometheus' remote read and HTTP APIs.
//! - [`PrometheusScrape`] implements the Thanos Metadata, Exemplars and
//!   Targets APIs over Prometheus' HTTP API, external labels added.
//! - [`Shipper`] uploads every finished block to object storage with the
//!   `thanos` section in `meta.json`.
//! - [`reloader`] watches Prometheus' config and rules and triggers reloads.
//! - [`run`] (and [`start`]) wire it all together for `aeon sidecar` with
//!   Thanos's flags ([`Args`]).

#![warn(unreachable_pub)]

mod args;
mod error;
pub mod metrics;
pub mod prometheus;
pub mod reloader;
mod run;
pub mod scrape;
pub mod shipper;
pub mod state;
pub mod store;

pub use args::Args;
pub use error::{Error, Result};
pub use metrics::Metrics;
pub use prometheus::{PromClient, PromConfig};
pub use run::{Running, run, start};
pub use scrape::PrometheusScrape;
pub use shipper::{Shipper, ShipperState, SyncOutcome};
pub use state::{PromFacts, PromState};
pub use store::{Limits, PrometheusStore};
