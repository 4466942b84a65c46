//! The query frontend (layer L3), like `thanos query-frontend`: in front of
//! queriers, it splits range queries by interval (one day by default) on
//! the step grid, runs the parts in parallel with retries, answers from a
//! results cache (in memory, memcached or redis, via aeon-cache) what it
//! has seen, shards aggregations vertically when asked (Thanos's
//! `shard_info`), and merges the parts into one Prometheus answer. Every other
//! path is proxied to the downstream unchanged.
//!
//! Modules: `args` (flags), `request` (range-query parameters), `split`
//! (alignment, splitting, `@ start()`/`@ end()`), `response` (answers,
//! merge, cut), `shard` (vertical sharding analysis), `cache` (extents, keys, freshness), `downstream` (client,
//! retries), `api` (the handlers), `metrics`, `run` (wiring).
//!
//! Entry points: [`Args`] and [`run`] (or [`start`], which returns the bound
//! address).

#![warn(unreachable_pub)]

mod api;
mod args;
mod cache;
mod downstream;
mod error;
mod metrics;
mod request;
mod response;
mod run;
mod shard;
mod split;

pub use args::{Args, SlowQueryThreshold};
pub use error::{Error, Result};
pub use run::{Running, run, start};
