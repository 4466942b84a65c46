//! Integration tests of aeon-tsdb-block against the real promtool 3.5.
#![allow(clippy::unwrap_used)]

mod cli;
mod fuzz;
mod prometheus;
mod promtool;
mod util;
