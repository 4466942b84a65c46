//! Integration tests of the sidecar against a real Prometheus 3.5
//! (`$AEON_PEERS_DIR/prometheus3/bin`, default /opt/peers).

#![allow(clippy::unwrap_used)] // test helpers, like #[test] fns, may unwrap

mod acceptance;
mod binary;
mod common;
mod operator;
mod scrape;
mod service;
mod shipper;
mod store;
