//! A block directory opened for reading: meta + index + chunks + tombstones.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aeon_model::{Labels, Matcher};

use crate::chunkenc::{self, SampleValue};
use crate::chunks::{ChunkReader, RawChunk};
use crate::index::{ChunkMeta, IndexReader};
use crate::meta::BlockMeta;
use crate::source::{ByteSource, FileSource};
use crate::tombstones::{self, Tombstones};
use crate::{Error, Result};

/// One series of a block with its chunk metas.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSeries {
    pub id: u32,
    pub labels: Labels,
    pub chunks: Vec<ChunkMeta>,
}

/// A readable block.
#[derive(Debug, Clone)]
pub struct BlockReader {
    dir: PathBuf,
    meta: BlockMeta,
    index: IndexReader,
    chunks: ChunkReader,
    tombstones: Arc<Tombstones>,
}

impl BlockReader {
    /// Opens a local block directory (pread-backed).
    pub fn open(dir: &Path) -> Result<Self> {
        let meta = BlockMeta::read_from_dir(dir)?;
        let index = IndexReader::open(Arc::new(FileSource::open(dir.join("index"))?))?;
        let chunks = ChunkReader::open_dir(&dir.join("chunks"))?;
        let tombstones = Arc::new(tombstones::read_dir(dir)?);
        Ok(Self {
            dir: dir.into(),
            meta,
            index,
            chunks,
            tombstones,
        })
    }

    /// Assembles a block from already opened parts (e.g. bucket sources).
    pub fn from_parts(
        dir: PathBuf,
        meta: BlockMeta,
        index: Arc<dyn ByteSource>,
        segments: Vec<Arc<dyn ByteSource>>,
    ) -> Result<Self> {
        Ok(Self {
            dir,
            meta,
            index: IndexReader::open(index)?,
            chunks: ChunkReader::new(segments)?,
            tombstones: Arc::new(Tombstones::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    pub fn index(&self) -> &IndexReader {
        &self.index
    }

    pub fn chunks(&self) -> &ChunkReader {
        &self.chunks
    }

    pub fn tombstones(&self) -> &Tombstones {
        &self.tombstones
    }

    /// Series matching `ms` (all series when `ms` is empty) with the chunk
    /// metas overlapping `[mint, maxt]`, in label order.
    pub fn select(&self, ms: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<BlockSeries>> {
        let ids = if ms.is_empty() {
            self.index.all_postings()?
        } else {
            self.index.postings_for_matchers(ms)?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let s = self.index.series_in_range(id, mint, maxt)?;
            if !s.chunks.is_empty() {
                out.push(BlockSeries {
                    id,
                    labels: s.labels,
                    chunks: s.chunks,
                });
            }
        }
        Ok(out)
    }

    pub fn chunk(&self, m: &ChunkMeta) -> Result<RawChunk> {
        self.chunks.chunk(m.r#ref)
    }

    /// Decoded samples of a series within `[mint, maxt]`, with tombstones
    /// applied.
    pub fn samples(
        &self,
        s: &BlockSeries,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(i64, SampleValue)>> {
        let deleted = self
            .tombstones
            .get(&u64::from(s.id))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut out = Vec::new();
        for m in &s.chunks {
            let c = self.chunk(m)?;
            let decoded = chunkenc::decode(c.encoding, &c.data).map_err(|e| match e {
                Error::DecodeChunk {
                    encoding,
                    bit,
                    reason,
                } => Error::DecodeChunk {
                    encoding,
                    bit,
                    reason: format!("{reason} (chunk {:#x} of {})", m.r#ref, self.dir.display()),
                },
                e => e,
            })?;
            out.extend(
                decoded.into_iter().filter(|(t, _)| {
                    *t >= mint && *t <= maxt && !tombstones::is_deleted(deleted, *t)
                }),
            );
        }
        Ok(out)
    }
}
