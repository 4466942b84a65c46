//! Aeon's compactor (layer L3 service, `aeon compact`): keeps a bucket of
//! Prometheus TSDB blocks healthy the way `thanos compact` does — compaction
//! of each stream (external labels + resolution) along the 2h → 8h → 2d → 14d
//! windows, vertical compaction and offline deduplication of overlaps,
//! downsampling to 5m and 1h, retention per resolution and deletion through
//! marks and a delete delay. Unlike Thanos it never halts the world: an
//! overlapping or corrupt set of blocks is quarantined with a
//! `no-compact-mark.json` and every other stream keeps compacting.
//!
//! ## Downsampled answers: agreement with raw data
//!
//! Checked end to end by `crates/aeon/tests/downsampling.rs` (30 days, real
//! compact + store + query). Windows end at `t - t % r + r - 1`, so at an
//! hour-aligned evaluation time `t` downsampled data covers `[t - w, t)`
//! where raw covers `(t - w, t]`: one raw sample per edge differs.
//! - `avg_over_time`, `max_over_time`, `min_over_time` over `w ≥ 1h` at 5m
//!   or 1h: within `(max − min) / samples_per_w` of raw — ≤ 1 % for the
//!   test's gauges (90..110, 60 s interval).
//! - `rate(c[w])` at resolution `r`: at most `r / w` low from extrapolation
//!   at aggregate chunk and block edges (Thanos keeps raw samples there),
//!   plus about `(r / w) · |m_r − m_w| / m` for an uneven rate (`m_x`: mean
//!   rate over `x`): ≤ 1 % at 5m and ≤ 6 % at 1h for `w = 1d`. Use windows
//!   of many resolutions (Thanos's advice); at `w = 6h` and 1h the edge
//!   effect alone reaches 17 %.
//!
//! Entry points: [`Args`] + [`run`] (the service), [`Compactor`] (one
//! iteration, used by `run` and tests), [`planner`] (pure decisions) and
//! [`tools::BucketCommand`] (`aeon tools bucket …`).

#![warn(unreachable_pub)]

pub mod args;
pub mod blocks;
pub mod compact;
pub mod compactor;
#[cfg(feature = "crashpoints")]
pub mod crashpoints;
pub mod downsample;
mod error;
pub mod merge;
pub mod metrics;
pub mod planner;
pub mod progress;
mod service;
pub mod tools;

pub use args::{Args, DedupFunc};
pub use compactor::{Compactor, Config, IterationReport};
pub use error::{Error, Result};
pub use metrics::Metrics;
pub use service::run;
pub use tools::{BucketArgs, BucketCommand};

/// A plain `cargo test` / `cargo nextest run` without the `crashpoints` feature
/// would skip the SIGKILL crash tests (tests/it/sigkill.rs) without a word: fail instead.
#[cfg(all(test, not(feature = "crashpoints")))]
#[test]
fn integration_tests_need_the_crashpoints_feature() {
    panic!(
        "without --features crashpoints, the SIGKILL crash tests (tests/it/sigkill.rs) do not run; run the suite with --all-features (cargo xtask test does)"
    );
}
