//! `chunks/` segment files: reading chunks by reference and writing them.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::chunkenc::Encoding;
use crate::source::{ByteSource, FileSource};
use crate::varint::{crc32, put_uvarint, uvarint};
use crate::{Error, Result};

pub const MAGIC_CHUNKS: u32 = 0x85BD_40DD;
pub const CHUNKS_FORMAT_V1: u8 = 1;
pub const SEGMENT_HEADER_SIZE: u64 = 8;
/// Default maximum segment file size (512 MiB).
pub const DEFAULT_SEGMENT_SIZE: u64 = 512 * 1024 * 1024;
/// The longest chunk length field: a uvarint of at most 32 bits.
const MAX_LEN_FIELD: u64 = 5;

/// Reference of a chunk: `segment_index << 32 | offset`.
pub type ChunkRef = u64;

pub fn chunk_ref(segment: u32, offset: u32) -> ChunkRef {
    (u64::from(segment) << 32) | u64::from(offset)
}

/// File name of the `seq`-th (0-based) segment: `000001`, ...
pub fn segment_file_name(seq: u32) -> String {
    format!("{:06}", u64::from(seq) + 1)
}

/// Lists `dir`'s segment files sorted, as Prometheus does.
pub fn list_segments(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|source| Error::Read {
        file: dir.display().to_string(),
        offset: 0,
        source,
    })?;
    let mut v = Vec::new();
    for e in rd {
        let e = e.map_err(|source| Error::Read {
            file: dir.display().to_string(),
            offset: 0,
            source,
        })?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_digit()) {
            v.push(e.path());
        }
    }
    v.sort();
    Ok(v)
}

/// A chunk read back from a segment file.
#[derive(Debug, Clone, PartialEq)]
pub struct RawChunk {
    pub encoding: Encoding,
    /// The payload (what the Store API sends on the wire).
    pub data: Bytes,
}

/// Reads chunks from a block's segment files.
#[derive(Debug, Clone)]
pub struct ChunkReader {
    segments: Vec<Arc<dyn ByteSource>>,
}

impl ChunkReader {
    /// Validates every segment's header.
    pub fn new(segments: Vec<Arc<dyn ByteSource>>) -> Result<Self> {
        for s in &segments {
            if s.len() < SEGMENT_HEADER_SIZE {
                return Err(Error::corrupt(
                    s.name(),
                    0,
                    format!("segment file too short ({} bytes)", s.len()),
                ));
            }
            let h = s.read_range(0, SEGMENT_HEADER_SIZE)?;
            let magic = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
            if magic != MAGIC_CHUNKS {
                return Err(Error::corrupt(
                    s.name(),
                    0,
                    format!("invalid magic number {magic:#010x}"),
                ));
            }
            if h[4] != CHUNKS_FORMAT_V1 {
                return Err(Error::corrupt(
                    s.name(),
                    4,
                    format!("unsupported chunks format version {}", h[4]),
                ));
            }
        }
        Ok(Self { segments })
    }

    /// Opens `<block>/chunks/*` with pread.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        let mut v: Vec<Arc<dyn ByteSource>> = Vec::new();
        for p in list_segments(dir)? {
            v.push(Arc::new(FileSource::open(p)?));
        }
        Self::new(v)
    }

    pub fn segments(&self) -> &[Arc<dyn ByteSource>] {
        &self.segments
    }

    /// Total bytes of all segments.
    pub fn size(&self) -> u64 {
        self.segments.iter().map(|s| s.len()).sum()
    }

    /// Reads and checksums the chunk at `r`.
    pub fn chunk(&self, r: ChunkRef) -> Result<RawChunk> {
        let seq = (r >> 32) as usize;
        let off = r & 0xffff_ffff;
        let seg = self.segments.get(seq).ok_or_else(|| Error::OutOfRange {
            file: self
                .segments
                .first()
                .map(|s| s.name().to_string())
                .unwrap_or_else(|| "chunks/".into()),
            reference: r,
            reason: format!(
                "segment index {seq} but only {} segment files",
                self.segments.len()
            ),
        })?;
        let name = seg.name();
        if off < SEGMENT_HEADER_SIZE || off >= seg.len() {
            return Err(Error::OutOfRange {
                file: name.to_string(),
                reference: r,
                reason: format!("offset {off} outside data of {} byte segment", seg.len()),
            });
        }
        // The length field first, then the whole frame.
        let mut buf = seg.read_range(off, (MAX_LEN_FIELD + 1).min(seg.len() - off))?;
        loop {
            match parse_frame(&buf, name, off)? {
                Frame::Chunk(c) => return Ok(c),
                Frame::Incomplete { needed } if needed > buf.len() as u64 => {
                    if off.checked_add(needed).is_none_or(|e| e > seg.len()) {
                        return Err(Error::corrupt(
                            name,
                            off,
                            format!("chunk of {needed} bytes runs past end of segment"),
                        ));
                    }
                    buf = seg.read_range(off, needed)?;
                }
                Frame::Incomplete { .. } => {
                    return Err(Error::corrupt(name, off, "chunk frame does not parse"));
                }
            }
        }
    }
}

impl ChunkReader {
    /// Reads several chunks; chunks of the same segment that lie close
    /// together are fetched with one coalesced ranged read. Results are in
    /// the order of `refs`.
    pub fn chunks(&self, refs: &[ChunkRef]) -> Result<Vec<RawChunk>> {
        const GUESS: u64 = 16 * 1024;
        let mut order: Vec<usize> = (0..refs.len()).collect();
        order.sort_by_key(|&i| refs[i]);
        let mut out: Vec<Option<RawChunk>> = vec![None; refs.len()];
        let mut i = 0;
        while i < order.len() {
            let seq = refs[order[i]] >> 32;
            let mut j = i;
            while j < order.len() && refs[order[j]] >> 32 == seq {
                j += 1;
            }
            let Some(seg) = self.segments.get(seq as usize) else {
                return self.chunk(refs[order[i]]).map(|_| Vec::new());
            };
            // Each chunk ends at most where the next one starts.
            let mut ranges = Vec::new();
            for k in i..j {
                let off = refs[order[k]] & 0xffff_ffff;
                let end = if k + 1 < j {
                    refs[order[k + 1]] & 0xffff_ffff
                } else {
                    off.saturating_add(GUESS)
                };
                let end = end.max(off + 1).min(seg.len());
                if off < SEGMENT_HEADER_SIZE || off >= seg.len() {
                    return self.chunk(refs[order[k]]).map(|_| Vec::new());
                }
                ranges.push((off, end - off));
            }
            let bufs = seg.read_ranges(&ranges, 64 * 1024)?;
            for (k, b) in (i..j).zip(bufs) {
                let r = refs[order[k]];
                out[order[k]] = Some(match parse_frame(&b, seg.name(), r & 0xffff_ffff)? {
                    Frame::Chunk(c) => c,
                    Frame::Incomplete { .. } => self.chunk(r)?,
                });
            }
            i = j;
        }
        out.into_iter()
            .map(|c| c.ok_or_else(|| Error::Invalid("chunk not read".into())))
            .collect()
    }
}

/// What [`parse_frame`] found at the start of a buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A whole chunk, its payload a slice of the buffer.
    Chunk(RawChunk),
    /// The buffer ends inside the chunk: `needed` bytes from the chunk start
    /// hold all of it (a lower bound while the length field itself is cut
    /// off: read that much and parse again).
    Incomplete { needed: u64 },
}

/// Parses the framed chunk `uvarint len | encoding | data | crc32` at the
/// start of `b` (read at `offset` of the segment `name`, for errors). The
/// one place that knows the framing: local segment reads and the store
/// gateway's ranged reads both use it.
pub fn parse_frame(b: &Bytes, name: &str, offset: u64) -> Result<Frame> {
    let head = &b[..b.len().min(MAX_LEN_FIELD as usize)];
    let Some((len, n)) = uvarint(head) else {
        if head.len() as u64 >= MAX_LEN_FIELD {
            return Err(Error::corrupt(name, offset, "invalid chunk length"));
        }
        // At least one more length byte, the encoding and the checksum.
        return Ok(Frame::Incomplete {
            needed: b.len() as u64 + 1 + 1 + 4,
        });
    };
    let total = n as u64 + 1 + len + 4;
    if (b.len() as u64) < total {
        return Ok(Frame::Incomplete { needed: total });
    }
    let total = total as usize;
    let payload = &b[n..total - 4];
    let s = &b[total - 4..total];
    let stored = u32::from_be_bytes([s[0], s[1], s[2], s[3]]);
    let computed = crc32(payload);
    if stored != computed {
        return Err(Error::Checksum {
            file: name.to_string(),
            offset,
            stored,
            computed,
        });
    }
    Ok(Frame::Chunk(RawChunk {
        encoding: Encoding::from_byte(b[n]),
        data: b.slice(n + 1..total - 4),
    }))
}

/// Writes chunks into `chunks/000001...`, cutting segments at a size limit.
#[derive(Debug)]
pub struct ChunkWriter {
    dir: PathBuf,
    segment_size: u64,
    seq: Option<u32>,
    file: Option<std::io::BufWriter<std::fs::File>>,
    n: u64,
    files: Vec<PathBuf>,
    buf: Vec<u8>,
    max_chunk: u64,
}

impl ChunkWriter {
    pub fn new(dir: &Path, segment_size: u64) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
        Ok(Self {
            dir: dir.into(),
            segment_size,
            seq: None,
            file: None,
            n: 0,
            files: Vec::new(),
            buf: Vec::new(),
            max_chunk: 0,
        })
    }

    fn cut(&mut self) -> Result<()> {
        self.finish_segment()?;
        let seq = self.seq.map_or(0, |s| s + 1);
        let path = self.dir.join(segment_file_name(seq));
        let f = std::fs::File::create(&path).map_err(|e| Error::write(&path, e))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        let mut h = [0u8; 8];
        h[..4].copy_from_slice(&MAGIC_CHUNKS.to_be_bytes());
        h[4] = CHUNKS_FORMAT_V1;
        w.write_all(&h).map_err(|e| Error::write(&path, e))?;
        self.file = Some(w);
        self.files.push(path);
        self.seq = Some(seq);
        self.n = SEGMENT_HEADER_SIZE;
        Ok(())
    }

    fn finish_segment(&mut self) -> Result<()> {
        if let Some(w) = self.file.take() {
            let path = self.files.last().cloned().unwrap_or_default();
            let f = w
                .into_inner()
                .map_err(|e| Error::write(&path, e.into_error()))?;
            f.sync_all().map_err(|e| Error::write(&path, e))?;
        }
        Ok(())
    }

    /// Appends one chunk and returns its reference.
    pub fn write_chunk(&mut self, enc: Encoding, data: &[u8]) -> Result<ChunkRef> {
        let max = MAX_LEN_FIELD + 1 + data.len() as u64 + 4;
        if self.file.is_none() || (self.n > SEGMENT_HEADER_SIZE && self.n + max > self.segment_size)
        {
            self.cut()?;
        }
        self.buf.clear();
        put_uvarint(&mut self.buf, data.len() as u64);
        let crc_start = self.buf.len();
        self.buf.push(enc.byte());
        self.buf.extend_from_slice(data);
        let sum = crc32(&self.buf[crc_start..]);
        self.buf.extend_from_slice(&sum.to_be_bytes());
        let off = self.n;
        let seq = self.seq.unwrap_or(0);
        if off > u64::from(u32::MAX) {
            return Err(Error::WriteBlock(format!(
                "chunk segment offset {off} exceeds 4 GiB"
            )));
        }
        let path = self.files.last().cloned().unwrap_or_default();
        if let Some(w) = self.file.as_mut() {
            w.write_all(&self.buf).map_err(|e| Error::write(&path, e))?;
        }
        self.n += self.buf.len() as u64;
        self.max_chunk = self.max_chunk.max(self.buf.len() as u64);
        Ok(chunk_ref(seq, off as u32))
    }

    /// Largest framed chunk written (Thanos's `index_stats.chunk_max_size`).
    pub fn max_chunk_size(&self) -> u64 {
        self.max_chunk
    }

    /// Flushes and fsyncs; returns the files written.
    pub fn finish(mut self) -> Result<Vec<PathBuf>> {
        self.finish_segment()?;
        Ok(std::mem::take(&mut self.files))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    fn write_some(dir: &Path, seg: u64) -> (Vec<ChunkRef>, Vec<Vec<u8>>) {
        let mut w = ChunkWriter::new(dir, seg).unwrap();
        let datas: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; usize::from(i) * 7 + 2]).collect();
        let refs = datas
            .iter()
            .map(|d| w.write_chunk(Encoding::Xor, d).unwrap())
            .collect();
        w.finish().unwrap();
        (refs, datas)
    }

    #[test]
    fn write_then_read_across_segments() {
        let d = tempfile::tempdir().unwrap();
        let (refs, datas) = write_some(d.path(), 300);
        let segs = list_segments(d.path()).unwrap();
        assert!(segs.len() > 2, "{segs:?}");
        assert!(segs[0].ends_with("000001"));
        let r = ChunkReader::open_dir(d.path()).unwrap();
        for (rf, data) in refs.iter().zip(&datas) {
            let c = r.chunk(*rf).unwrap();
            assert_eq!(c.encoding, Encoding::Xor);
            assert_eq!(&c.data[..], &data[..]);
        }
        assert_eq!(refs[0], 8);
    }

    #[test]
    fn batched_reads_equal_single_reads() {
        let d = tempfile::tempdir().unwrap();
        let (refs, datas) = write_some(d.path(), 300);
        let r = ChunkReader::open_dir(d.path()).unwrap();
        let mut shuffled: Vec<ChunkRef> = refs.iter().rev().copied().collect();
        shuffled.push(refs[3]);
        let got = r.chunks(&shuffled).unwrap();
        for (rf, c) in shuffled.iter().zip(&got) {
            let i = refs.iter().position(|x| x == rf).unwrap();
            assert_eq!(&c.data[..], &datas[i][..]);
        }
        assert!(r.chunks(&[refs[0], 99 << 32]).is_err());
    }

    #[test]
    fn frames_parse_whole_short_and_corrupt() {
        let mut b = Vec::new();
        put_uvarint(&mut b, 3);
        b.push(1);
        b.extend_from_slice(b"abc");
        let c = crc32(&b[1..]);
        b.extend_from_slice(&c.to_be_bytes());
        b.extend_from_slice(b"next chunk");
        let whole = Bytes::from(b.clone());
        let Frame::Chunk(c) = parse_frame(&whole, "s", 8).unwrap() else {
            panic!("whole chunk");
        };
        assert_eq!((c.encoding, &c.data[..]), (Encoding::Xor, &b"abc"[..]));
        // Every cut inside the frame asks for the whole (or, before the
        // length is complete, for more).
        for cut in 0..9 {
            let short = whole.slice(..cut);
            match parse_frame(&short, "s", 8).unwrap() {
                Frame::Incomplete { needed } => {
                    assert!(needed > cut as u64 && needed <= 9, "{cut}")
                }
                Frame::Chunk(_) => panic!("{cut}"),
            }
        }
        // A frame read from the wrong offset fails its checksum.
        let e = parse_frame(&whole.slice(1..), "s", 8).unwrap_err();
        assert!(e.to_string().contains("checksum"), "{e}");
        let mut bad = b.clone();
        bad[3] ^= 1;
        let e = parse_frame(&Bytes::from(bad), "seg", 77).unwrap_err();
        assert!(matches!(e, Error::Checksum { offset: 77, .. }), "{e}");
        let e = parse_frame(&Bytes::from_static(&[0xff; 8]), "seg", 9).unwrap_err();
        assert!(e.to_string().contains("invalid chunk length"), "{e}");
    }

    #[test]
    fn corruption_is_reported_with_file_and_offset() {
        let d = tempfile::tempdir().unwrap();
        let (refs, _) = write_some(d.path(), DEFAULT_SEGMENT_SIZE);
        let p = d.path().join("000001");
        let orig = std::fs::read(&p).unwrap();

        let mut bad = orig.clone();
        bad[20] ^= 0xff;
        let r = ChunkReader::new(vec![Arc::new(MemSource::new("b/chunks/000001", bad))]).unwrap();
        let errs: Vec<_> = refs.iter().filter_map(|&rf| r.chunk(rf).err()).collect();
        assert_eq!(errs.len(), 1);
        assert!(
            matches!(errs[0], Error::Checksum { .. } | Error::Corrupt { .. }),
            "{}",
            errs[0]
        );
        assert!(errs[0].to_string().contains("b/chunks/000001"));

        let mut bad = orig.clone();
        bad[0] = 0;
        let e = ChunkReader::new(vec![Arc::new(MemSource::new("m", bad))]).unwrap_err();
        assert!(e.to_string().contains("invalid magic"), "{e}");

        let trunc = orig[..orig.len() - 3].to_vec();
        let r = ChunkReader::new(vec![Arc::new(MemSource::new("m", trunc))]).unwrap();
        assert!(r.chunk(*refs.last().unwrap()).is_err());

        let r = ChunkReader::new(vec![Arc::new(MemSource::new("m", orig.clone()))]).unwrap();
        assert!(matches!(r.chunk(1 << 32), Err(Error::OutOfRange { .. })));
        assert!(matches!(
            r.chunk(orig.len() as u64 + 5),
            Err(Error::OutOfRange { .. })
        ));
        assert!(matches!(r.chunk(3), Err(Error::OutOfRange { .. })));
    }
}
