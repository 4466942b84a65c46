//! Integration tests of the store gateway against real peers: blocks made by
//! Prometheus 3.5's promtool, a filesystem bucket and a real S3 server
//! (s3s-fs), over the wire with the Store API client.

#![allow(clippy::unwrap_used)] // test helpers, like #[test] fns, may unwrap

mod acceptance;
mod bad_blocks;
mod binary;
mod promtool_blocks;
mod service;
mod tls;
mod util;
