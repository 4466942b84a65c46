//! What every Aeon service shares (layer L0): layered configuration
//! (defaults ← YAML file ← `AEON_*` environment ← flags, see [`config`]),
//! Thanos's time and byte-size flag values ([`flags`]), logging and OTLP
//! tracing ([`telemetry`]), the admin HTTP server with `/metrics`,
//! `/-/healthy` and `/-/ready` ([`admin`]), graceful shutdown
//! ([`shutdown`]) and the block-selection relabeller ([`relabel`]).

pub mod admin;
pub mod config;
mod error;
pub mod flags;
pub mod relabel;
pub mod shutdown;
pub mod telemetry;

pub use error::{Error, Result};
pub use prometheus_client::registry::Registry;
