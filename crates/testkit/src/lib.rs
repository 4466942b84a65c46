//! The dev-only test kit (layer L0, no Aeon dependencies): where the real
//! peers that tests run against live ([`peers`]: Prometheus 3.5 + promtool,
//! Prometheus's PromQL test scripts, s3s-fs, helm, Chromium, Alertmanager,
//! memcached, redis), free loopback ports ([`net`]), child processes that
//! die with the test ([`process`]) and test certificates ([`pki`]).
//!
//! Tests, benches and `xtask` use it; production code never does. `cargo
//! xtask peers` installs what [`peers`] looks for; a test whose peer is
//! missing fails with a message that names the path and that command.

#![warn(unreachable_pub)]

pub mod flags_table;
pub mod net;
pub mod peers;
pub mod pki;
pub mod process;

pub use net::{free_port, free_ports};
pub use peers::Peer;
pub use pki::TestPki;
pub use process::{KillOnDrop, Procs};
