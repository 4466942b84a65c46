//! Integration tests of the query frontend: the real binary, and the real
//! `start()` in front of a real Prometheus 3.5 (the frontend speaks the
//! Prometheus HTTP API downstream), with real memcached and redis caches.

// Test helpers outside `#[test]` functions may unwrap too.
#![allow(clippy::unwrap_used)]

mod binary;
mod prometheus;
