//! Integration tests of aeon-storeapi: the acceptance suite on the in-memory
//! store, directly and over gRPC; transport behaviour (limits, keepalive,
//! deadlines, cancellation), TLS and mutual TLS with the
//! `--grpc-*-tls-*` flag groups; golden wire bytes.

#![allow(clippy::unwrap_used)] // test helpers, like #[test] fns, may unwrap

mod acceptance;
mod golden;
mod promtool;
mod scrape;
mod tls;
mod wire;
