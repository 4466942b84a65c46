//! Chunk fetching for one block: the chunks a query wants are planned as
//! ranges per segment, partitioned across gaps of [`CHUNK_COALESCE_GAP`]
//! (Thanos's partitioner), fetched a few reads at once, cut out of the
//! read buffers with tsdb-block's frame parser, and encoded for the wire.

use std::collections::{BTreeSet, HashMap};

use aeon_storeapi::convert;
use aeon_storeapi::pb::thanos::{AggrChunk, Chunk, chunk::Encoding as WireEnc};
use aeon_tsdb_block::ChunkMeta;
use aeon_tsdb_block::chunkenc::{AggrChunk as AggrView, Encoding};
use aeon_tsdb_block::chunks::{
    Frame, RawChunk, SEGMENT_HEADER_SIZE, parse_frame, segment_file_name,
};
use aeon_tsdb_block::source::{THANOS_PARTITION_GAP, partition};
use bytes::Bytes;
use futures::StreamExt;

use super::Block;
use crate::source::bucket_err;
use crate::{Error, Result};

/// Read-ahead past the last wanted chunk of a range when the block does not
/// say its largest chunk: a full XOR chunk (Prometheus cuts them at 1 KiB)
/// plus framing. Larger chunks (histograms, aggregates) cost one more GET.
const DEFAULT_CHUNK_EST: u64 = 1024 + 16;

/// Chunk reads closer than this are fetched as one range (Thanos's
/// partitioner uses the same 512 KiB). A series' chunks over a long block
/// take tens of KiB, so the chunks an instant query wants from consecutive
/// series are that far apart: a smaller gap turns one read into one per
/// series, i.e. one object-storage round trip per series.
pub const CHUNK_COALESCE_GAP: u64 = THANOS_PARTITION_GAP;

/// Coalesced chunk ranges fetched at once per block and request.
const CHUNK_FETCH_CONCURRENCY: usize = 8;

const AGGR_NAMES: [&str; 5] = ["count", "sum", "min", "max", "counter"];

impl Block {
    pub(super) fn wire_chunk(
        &self,
        m: ChunkMeta,
        enc: Encoding,
        data: &Bytes,
        aggrs: &[i32],
    ) -> Result<AggrChunk> {
        let wire = |enc: Encoding, data: Bytes| -> Result<Chunk> {
            let t = match enc {
                Encoding::Xor => WireEnc::Xor,
                Encoding::Histogram => WireEnc::Histogram,
                Encoding::FloatHistogram => WireEnc::FloatHistogram,
                other => {
                    return Err(Error::block(
                        self.id,
                        "reading chunks",
                        format!(
                            "chunk {:#x} has unsupported encoding {:#04x}",
                            m.r#ref,
                            other.byte()
                        ),
                    ));
                }
            };
            Ok(Chunk {
                r#type: t as i32,
                hash: convert::chunk_hash(&data),
                data,
            })
        };
        let mut c = AggrChunk {
            min_time: m.min_time,
            max_time: m.max_time,
            ..Default::default()
        };
        if enc != Encoding::Aggr {
            c.raw = Some(wire(enc, data.clone())?);
            return Ok(c);
        }
        let subs = AggrView::new(data).all().map_err(|e| {
            Error::block(
                self.id,
                "decoding aggregate chunk",
                format!("chunk {:#x}: {e}", m.r#ref),
            )
        })?;
        // No aggregates asked: return all that are present.
        let wanted: Vec<i32> = if aggrs.is_empty() {
            (1..=5).collect()
        } else {
            aggrs.to_vec()
        };
        for a in wanted {
            let Some(idx) = usize::try_from(a)
                .ok()
                .filter(|i| (1..=5).contains(i))
                .map(|i| i - 1)
            else {
                continue; // RAW asked of a downsampled block: nothing to add.
            };
            let Some((e, d)) = subs[idx] else {
                if aggrs.is_empty() {
                    continue;
                }
                return Err(Error::block(
                    self.id,
                    "reading aggregate chunk",
                    format!(
                        "aggregate {} missing in chunk {:#x}",
                        AGGR_NAMES[idx], m.r#ref
                    ),
                ));
            };
            let ch = Some(wire(e, data.slice_ref(d))?);
            match idx {
                0 => c.count = ch,
                1 => c.sum = ch,
                2 => c.min = ch,
                3 => c.max = ch,
                _ => c.counter = ch,
            }
        }
        Ok(c)
    }

    /// Fetches chunks by reference in coalesced ranged reads per segment.
    pub(super) fn fetch_chunks(
        &self,
        refs: &[u64],
        rt: &tokio::runtime::Handle,
        fetched: &mut u64,
    ) -> Result<HashMap<u64, (Encoding, Bytes)>> {
        let est = self
            .meta
            .thanos
            .as_ref()
            .map(|t| t.index_stats.chunk_max_size)
            .filter(|&s| s > 0)
            .map_or(DEFAULT_CHUNK_EST, |s| s as u64 + 16);
        let mut by_seg: HashMap<u32, BTreeSet<u64>> = HashMap::new();
        for &r in refs {
            by_seg
                .entry((r >> 32) as u32)
                .or_default()
                .insert(r & 0xffff_ffff);
        }
        // Plan: per segment, [off, min(next, off+est)) ranges partitioned
        // across gaps up to CHUNK_COALESCE_GAP.
        struct Read {
            seg: u32,
            key: String,
            start: u64,
            end: u64,
            offsets: Vec<u64>,
        }
        let mut reads: Vec<Read> = Vec::new();
        for (seg, offs) in by_seg {
            let key = self.key(&format!("chunks/{}", segment_file_name(seg)));
            let offs: Vec<u64> = offs.into_iter().collect();
            let mut ranges = Vec::with_capacity(offs.len());
            for (i, &o) in offs.iter().enumerate() {
                if o < SEGMENT_HEADER_SIZE {
                    return Err(Error::block(
                        self.id,
                        "reading chunks",
                        format!(
                            "chunk reference {:#x} points into the segment header",
                            (u64::from(seg) << 32) | o
                        ),
                    ));
                }
                let end = offs
                    .get(i + 1)
                    .map_or(o + est, |&n| n.min(o + est))
                    .max(o + 1);
                ranges.push((o, end - o));
            }
            for p in partition(&ranges, CHUNK_COALESCE_GAP) {
                reads.push(Read {
                    seg,
                    key: key.clone(),
                    start: p.start,
                    end: p.end,
                    offsets: p.ranges.iter().map(|&k| offs[k]).collect(),
                });
            }
        }
        // Fetch: up to CHUNK_FETCH_CONCURRENCY ranged reads at once (one
        // round trip each on object storage), answers in plan order.
        let bucket = &self.ctx.bucket;
        let bufs: Vec<std::result::Result<Bytes, aeon_objstore::Error>> = rt.block_on(
            futures::stream::iter(
                reads
                    .iter()
                    .map(|r| bucket.get_range(&r.key, r.start, r.end - r.start)),
            )
            .buffered(CHUNK_FETCH_CONCURRENCY)
            .collect(),
        );
        let mut out = HashMap::with_capacity(refs.len());
        for (read, buf) in reads.into_iter().zip(bufs) {
            let Read {
                seg,
                key,
                start,
                offsets,
                ..
            } = read;
            let buf = buf
                .map_err(|e| Error::block(self.id, "reading chunks", bucket_err(&key, start, e)))?;
            if let Some(m) = &self.ctx.metrics {
                m.fetched("chunks", buf.len() as u64);
            }
            *fetched += buf.len() as u64;
            let mut parsed = Vec::with_capacity(offsets.len());
            for o in offsets {
                let rel = (o - start) as usize;
                let at = if rel <= buf.len() {
                    buf.slice(rel..)
                } else {
                    Bytes::new()
                };
                parsed.push((o, self.chunk_at(at, &key, o, rt, fetched)?));
            }
            // Chunks are slices of the read buffer and would keep all of it
            // alive while the answer streams out; when most of it was gap,
            // copy the chunks out so the buffer is freed now.
            let useful: usize = parsed.iter().map(|(_, c)| c.data.len()).sum();
            let copy = useful.saturating_mul(2) < buf.len();
            for (o, c) in parsed {
                let data = if copy {
                    Bytes::copy_from_slice(&c.data)
                } else {
                    c.data
                };
                out.insert((u64::from(seg) << 32) | o, (c.encoding, data));
            }
        }
        Ok(out)
    }

    /// The chunk framed at the start of `buf` (read at offset `o` of `key`),
    /// reading the rest of it when the planned range was too short.
    fn chunk_at(
        &self,
        mut buf: Bytes,
        key: &str,
        o: u64,
        rt: &tokio::runtime::Handle,
        fetched: &mut u64,
    ) -> Result<RawChunk> {
        // At most: the planned range, the length field, the whole frame.
        for _ in 0..3 {
            match parse_frame(&buf, key, o) {
                Ok(Frame::Chunk(c)) => return Ok(c),
                Ok(Frame::Incomplete { needed }) if needed > buf.len() as u64 => {
                    buf = self.get_range(key, o, needed, rt)?;
                    *fetched += buf.len() as u64;
                }
                Ok(Frame::Incomplete { .. }) => break,
                Err(e) => return Err(Error::block(self.id, "reading chunks", e)),
            }
        }
        Err(Error::block(
            self.id,
            "reading chunks",
            format!("{key} at offset {o}: chunk runs past end of segment"),
        ))
    }

    fn get_range(
        &self,
        key: &str,
        off: u64,
        len: u64,
        rt: &tokio::runtime::Handle,
    ) -> Result<Bytes> {
        let b = rt
            .block_on(self.ctx.bucket.get_range(key, off, len))
            .map_err(|e| Error::block(self.id, "reading chunks", bucket_err(key, off, e)))?;
        if let Some(m) = &self.ctx.metrics {
            m.fetched("chunks", b.len() as u64);
        }
        Ok(b)
    }
}
