//! The Thanos Store API on the wire (layer L1): how every Aeon component
//! talks to every other one, and to real Thanos components.
//!
//! - [`pb`]: protobuf/gRPC code generated at build time (pure-Rust `protox`)
//!   from our own `.proto` files in `/proto`: `thanos.Store`,
//!   `thanos.info.Info`, `hintspb` and Prometheus remote read (`prometheus`).
//! - [`StoreApi`]: the transport-independent store trait (info, series as a
//!   stream, label names, label values), object safe (`Arc<dyn StoreApi>`).
//! - [`StoreServer`] / [`spawn_server`]: serve any `StoreApi` over gRPC with
//!   Thanos' transport settings (limits `i32::MAX`, 10 s client pings, TLS,
//!   snappy-compressed requests, gRPC health, [`GrpcMetrics`]);
//!   [`StoreClient`]: a remote endpoint as a `StoreApi` (keepalive, TLS,
//!   deadlines, cancellation by dropping the stream, falling back to the
//!   deprecated `thanos.Store/Info` for endpoints without the Info service).
//! - [`MetadataApi`], [`ExemplarsApi`], [`TargetsApi`] ([`scrape`]): the
//!   Thanos Metadata, Exemplars and Targets APIs, served by [`StoreServer`]
//!   when given (and then advertised in Info), called by [`StoreClient`].
//! - [`merge_series`]: k-way merge of sorted Series streams with chunk dedup;
//!   [`ShardMatcher`]: `ShardInfo` semantics; [`convert`]: wire ↔ model.
//! - [`Error`]: one error type, mapped to gRPC status in one place.
//! - `testutil` (feature `testutil`): fixtures and [`testutil::MemStore`], the
//!   in-memory reference store; `testsuite` (feature `testsuite`): the
//!   acceptance suite every store implementation runs.

#![warn(unreachable_pub)]

mod api;
mod client;
mod client_tls;
pub mod convert;
mod error;
mod legacy;
pub mod merge;
mod metrics;
pub mod pb;
pub mod scrape;
mod server;
mod shard;
mod snappy;
#[cfg(feature = "testsuite")]
pub mod testsuite;
#[cfg(any(test, feature = "testutil"))]
pub mod testutil;

pub use api::{SeriesFrame, SeriesStream, StoreApi, TYPE_URL_PREFIX, pack_any, unpack_any};
pub use client::{ClientOptions, ClientTls, StoreClient};
pub use error::{Error, Result};
pub use legacy::{info_from_legacy, legacy_info};
pub use merge::{MergeOptions, errors_as_warnings, merge_series, resort_series};
pub use metrics::{GrpcClientMetrics, GrpcMetrics};
pub use scrape::{ExemplarsApi, MetadataApi, TargetsApi};
pub use server::{MAX_MESSAGE_SIZE, ServerOptions, StoreServer, spawn_server};
pub use shard::{ShardMatcher, shard_matches};
pub use snappy::{SnappyDecompress, snappy_compress};

/// A plain `cargo test` / `cargo nextest run` without the `testsuite` feature
/// would skip the acceptance suite, wire and golden-byte tests (tests/it) without a word: fail instead.
#[cfg(all(test, not(feature = "testsuite")))]
#[test]
fn integration_tests_need_the_testsuite_feature() {
    panic!(
        "without --features testsuite, the acceptance suite, wire and golden-byte tests (tests/it) do not run; run the suite with --all-features (cargo xtask test does)"
    );
}
