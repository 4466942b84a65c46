//! Prometheus TSDB blocks, read and written bit-compatibly with Prometheus
//! 3.5 (layer L1, storage formats; depends only on `aeon-model`).
//!
//! Entry types:
//! - [`BlockMeta`]: `meta.json` including the Thanos `thanos` section.
//! - [`chunkenc`]: XOR / histogram / aggregate chunk codecs over plain
//!   `&[u8]` payloads (what the Store API carries).
//! - [`ByteSource`]: byte-range access to a file or a bucket object; the
//!   index and chunk readers only read through it.
//! - [`IndexReader`] (postings for matchers, series, chunk metas),
//!   [`IndexHeader`] (symbols + postings offsets, persistable),
//!   [`ChunkReader`], [`BlockReader`] (all of a block together).
//! - [`BlockWriter`]: sorted series in, a complete block out.
//! - [`dump`] / [`openmetrics`]: `promtool tsdb dump` and
//!   `create-blocks-from openmetrics` equivalents; [`cli`] mounts them as
//!   [`TsdbCommand`].
//!
//! Every reader returns a typed [`Error`] naming the file (and so the
//! block) and the byte offset for corrupt input; nothing panics on bad data.

#![warn(unreachable_pub)]

pub mod block;
pub mod bstream;
pub mod chunkenc;
pub mod chunks;
pub mod cli;
pub mod dump;
mod error;
mod fsutil;
pub mod gofmt;
pub mod index;
pub mod meta;
pub mod openmetrics;
pub mod selector;
pub mod source;
pub mod tombstones;
pub mod varint;
pub mod writer;

pub use block::{BlockReader, BlockSeries};
pub use chunks::{ChunkReader, ChunkRef, ChunkWriter, RawChunk};
pub use cli::TsdbCommand;
pub use error::{Error, Result};
pub use index::{ChunkMeta, IndexHeader, IndexReader, IndexWriter, SeriesEntry};
pub use meta::{BlockMeta, ThanosFile, ThanosMeta, block_files};
pub use source::{ByteSource, FileSource, MemSource};
pub use writer::{BlockWriter, BlockWriterOptions, EncodedChunk};
