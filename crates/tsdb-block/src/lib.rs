//! Prometheus TSDB blocks, read and written bit-compatibly with Prometheus
//! 3.5 (layer L1, storage formats; depends only on `aeon-model`).
//!
//! Entry types: [`BlockMeta`] (`meta.json` incl. the Thanos section),
//! [`chunkenc`] (XOR / histogram / aggregate chunk codecs over plain
//! `&[u8]` payloads), [`ChunkReader`]/[`ChunkWriter`] (segment files) and
//! [`ByteSource`] (byte-range access to files or bucket objects).

pub mod bstream;
pub mod chunkenc;
pub mod chunks;
mod error;
mod fsutil;
pub mod meta;
pub mod source;
pub mod varint;

pub use chunks::{ChunkReader, ChunkRef, ChunkWriter, RawChunk};
pub use error::{Error, Result};
pub use meta::{BlockMeta, ThanosMeta};
pub use source::{ByteSource, FileSource, MemSource};
