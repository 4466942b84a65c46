//! Integration tests of aeon-tsdb-block against the real promtool 3.5.
#![allow(clippy::unwrap_used)]

mod prometheus;
mod promtool;
mod util;
