//! Integration tests of aeon-tsdb-head: append rules, WAL replay (with
//! proptests, torn tails and corruption), compaction into blocks read back
//! by our reader and by the real promtool 3.5, WAL compatibility with the
//! real Prometheus 3.5, and SIGKILL crash points (feature `crashpoints`).

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod append;
mod compact;
#[cfg(feature = "crashpoints")]
mod crash;
mod prometheus;
mod replay;
mod util;
