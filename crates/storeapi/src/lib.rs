//! The Thanos Store API on the wire (layer L1): generated protobuf/gRPC types
//! from our own `.proto` files ([`pb`]), conversions to `aeon_model` types,
//! the [`StoreApi`] trait, k-way merge, shard helper, one [`Error`] with its
//! gRPC status mapping.

mod api;
mod client;
pub mod convert;
mod error;
pub mod merge;
pub mod pb;
mod server;
mod shard;
#[cfg(any(test, feature = "testutil"))]
pub mod testutil;

pub use api::{SeriesFrame, SeriesStream, StoreApi, TYPE_URL_PREFIX, pack_any, unpack_any};
pub use client::{ClientOptions, StoreClient};
pub use error::{Error, Result};
pub use merge::{MergeOptions, merge_series};
pub use server::{MAX_MESSAGE_SIZE, ServerOptions, StoreServer, legacy_info, spawn_server};
pub use shard::{ShardMatcher, shard_matches};
