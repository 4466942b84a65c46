//! A Prometheus-style TSDB head (layer L1, on `aeon-model` and
//! `aeon-tsdb-block`; no gRPC, HTTP or buckets): the in-memory recent data
//! that Thanos Receive and the ruler keep before it becomes 2h blocks.
//!
//! - [`Head`]: series with interned labels, XOR and native-histogram head
//!   chunks (tsdb-block's codecs) cut like Prometheus's head, a postings
//!   index, a series limit, out-of-order and too-old rules as in
//!   Prometheus 3.5 ([`Error::class`] tells a write path 4xx from 5xx).
//! - [`Appender`]: append floats and native histograms by [`SeriesRef`],
//!   then [`Appender::commit`] (WAL, then memory) or roll back.
//! - The WAL ([`WalOptions`]): Prometheus's segment/page/record format,
//!   CRC32C per fragment, replayed on [`Head::open`]; a torn tail is cut off
//!   with a warning, corruption before valid data is an error.
//! - [`Head::compact`] / [`Head::flush`]: blocks written with
//!   `BlockWriter` (optionally with a Thanos section), then dropped from
//!   memory, the WAL checkpointed and truncated.
//! - [`Head::select`], [`Head::label_names`], [`Head::label_values`]:
//!   reads by `aeon_model` matchers, returning encoded chunks.

#![warn(unreachable_pub)]

mod appender;
mod compact;
pub mod crashpoints;
mod error;
mod hash;
mod head;
mod options;
mod postings;
mod query;
mod samples;
mod series;
mod symbols;
mod wal;

pub use appender::{Appender, CommitStats};
pub use compact::WrittenBlock;
pub use error::{Error, ErrorClass, Result};
pub use head::{Head, HeadStats, SeriesRef};
pub use options::HeadOptions;
pub use query::SeriesChunks;
pub use wal::{DEFAULT_SEGMENT_SIZE, SyncPolicy, WalOptions};
