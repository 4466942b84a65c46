//! Integration tests of the querier: the real `start()` (HTTP + gRPC servers)
//! against real Store API gRPC servers (aeon-storeapi's `StoreServer` over
//! in-memory stores) holding HA replica data, and against a real
//! Prometheus 3.5 serving the same samples.

// Test helpers outside `#[test]` functions may unwrap too.
#![allow(clippy::unwrap_used)]

mod acceptance;
mod api;
mod binary;
mod conformance;
mod discovery;
mod flags;
mod grafana;
mod helpers;
mod k8s;
mod prettier;
mod prometheus;
mod tls;
mod webui;
