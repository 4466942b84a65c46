//! Aeon's compactor (layer L3 service, `aeon compact`): keeps a bucket of
//! Prometheus TSDB blocks healthy the way `thanos compact` does — compaction
//! of each stream (external labels + resolution) along the 2h → 8h → 2d → 14d
//! windows, vertical compaction and offline deduplication of overlaps,
//! downsampling to 5m and 1h, retention per resolution and deletion through
//! marks and a delete delay. Unlike Thanos it never halts the world: an
//! overlapping or corrupt set of blocks is quarantined with a
//! `no-compact-mark.json` and every other stream keeps compacting.
//!
//! Entry points: [`Args`] + [`run`] (the service), [`Compactor`] (one
//! iteration, used by `run` and tests), [`planner`] (pure decisions) and
//! [`tools::BucketCommand`] (`aeon tools bucket …`).

pub mod args;
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
pub mod sync;
pub mod tools;

pub use args::{Args, DedupFunc};
pub use compactor::{Compactor, Config, IterationReport};
pub use error::{Error, Result};
pub use metrics::Metrics;
pub use service::run;
pub use tools::{BucketArgs, BucketCommand};
