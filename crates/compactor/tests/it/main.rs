//! Integration tests of the compactor against the real promtool (Prometheus
//! 3.5) and a filesystem bucket.

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod binary;
mod compaction;
mod crash;
mod histograms;
mod retention;
mod service;
#[cfg(feature = "crashpoints")]
mod sigkill;
mod util;
