//! What every Aeon service shares (layer L0): the service skeleton that
//! starts every component ([`service`]), layered configuration (defaults ←
//! YAML file ← `AEON_*` environment ← flags, see [`config`]) with Thanos's
//! `$(VAR)` expansion, flag groups ([`args`]) and Thanos's flag value types
//! ([`flags`]), logging and OTLP tracing ([`telemetry`]), the admin HTTP
//! server with `/metrics`, `/-/healthy` and `/-/ready` ([`admin`]),
//! TLS for every server and client ([`tls`]), `--http.config` ([`web`]),
//! Thanos's HTTP client config ([`http_client`]),
//! the metrics every service shares (`process_*`, Thanos's HTTP
//! instrumentation; [`metrics`]), graceful shutdown ([`shutdown`]), the block-selection relabeller
//! ([`relabel`]) and the error convention with its one chain printer
//! ([`error`]).

#![warn(unreachable_pub)]

pub mod admin;
pub mod args;
pub mod config;
pub mod error;
pub mod flags;
pub mod http_client;
pub mod kingpin;
pub mod metrics;
pub mod relabel;
pub mod service;
pub mod shutdown;
pub mod telemetry;
#[cfg(any(test, feature = "testutil"))]
pub mod testutil;
pub mod tls;
pub mod web;

pub use error::{Chain, ChainExt, Error, Result};
pub use prometheus_client::registry::Registry;
