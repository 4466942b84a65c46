//! The write-ahead log, in Prometheus's on-disk format (byte-compatible
//! with Prometheus 3.5's `tsdb/wlog`): numbered segment files
//! (`00000000`, …, 128 MiB by default) of 32 KiB pages; a record is split
//! into fragments that never cross a page, each fragment framed as
//! `type(1) len(2, BE) CRC32C(4, BE) data`; the type byte also carries a
//! snappy flag when the record is compressed. Records never cross segments.
//!
//! Durability: every [`Wal::log`] call writes its records to the segment
//! file before returning (so a SIGKILL loses nothing that was logged); when
//! the data reaches the disk is the [`SyncPolicy`]'s choice.
//!
//! Replay ([`reader`]) accepts a torn tail — a bad or truncated record with
//! nothing valid after it, the normal result of a crash mid-write — by
//! truncating the segment there with a warning; a bad record *followed by*
//! valid data is corruption and an error naming segment and offset.

pub(crate) mod checkpoint;
pub(crate) mod reader;
pub(crate) mod record;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// Page size of segment files.
pub(crate) const PAGE_SIZE: usize = 32 * 1024;
/// Bytes of a fragment header.
pub(crate) const HEADER_SIZE: usize = 7;
/// Prometheus's default segment size.
pub const DEFAULT_SEGMENT_SIZE: usize = 128 * 1024 * 1024;

pub(crate) const SNAPPY_FLAG: u8 = 1 << 3;
pub(crate) const ZSTD_FLAG: u8 = 1 << 4;
pub(crate) const TYPE_MASK: u8 = SNAPPY_FLAG - 1;
pub(crate) const REC_PAGE_TERM: u8 = 0;
pub(crate) const REC_FULL: u8 = 1;
pub(crate) const REC_FIRST: u8 = 2;
pub(crate) const REC_MIDDLE: u8 = 3;
pub(crate) const REC_LAST: u8 = 4;

/// When WAL writes are forced to disk with `fsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// Like Prometheus: segments are fsynced when they are completed and on
    /// close; a commit survives a process crash (it is in the page cache)
    /// but not necessarily a power loss.
    #[default]
    OnSegmentClose,
    /// Every commit is fsynced before it returns.
    Always,
    /// A commit fsyncs when the last fsync is older than this.
    Interval(Duration),
}

/// WAL settings.
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// Segment size in bytes (a multiple of 32 KiB).
    pub segment_size: usize,
    /// Snappy-compress records (Prometheus's `--storage.tsdb.wal-compression`,
    /// Thanos's `--tsdb.wal-compression`).
    pub compress: bool,
    pub sync: SyncPolicy,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self {
            segment_size: DEFAULT_SEGMENT_SIZE,
            compress: false,
            sync: SyncPolicy::default(),
        }
    }
}

/// The file name of segment `i`.
pub(crate) fn segment_name(dir: &Path, i: u64) -> PathBuf {
    dir.join(format!("{i:08}"))
}

/// The numbered segments in `dir`, ascending. Other files are ignored.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::wal_io(dir, e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| Error::wal_io(dir, e))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_digit())
            && let Ok(i) = name.parse::<u64>()
        {
            out.push((i, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The segment writer.
pub(crate) struct Wal {
    dir: PathBuf,
    opts: WalOptions,
    index: u64,
    file: File,
    page: Box<[u8; PAGE_SIZE]>,
    /// Bytes of `page` filled / already written to the file.
    alloc: usize,
    flushed: usize,
    /// Complete pages in the current segment.
    done_pages: usize,
    last_sync: Instant,
    snappy: snap::raw::Encoder,
    cbuf: Vec<u8>,
    /// Set when a write failed part-way: the file may end in a partial
    /// record and nothing more may be appended behind it.
    broken: Option<String>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.dir)
            .field("segment", &self.index)
            .finish_non_exhaustive()
    }
}

impl Wal {
    /// Starts writing a new segment `index` in `dir` (which must exist).
    pub(crate) fn create(dir: &Path, index: u64, opts: WalOptions) -> Result<Self> {
        if opts.segment_size == 0 || !opts.segment_size.is_multiple_of(PAGE_SIZE) {
            return Err(Error::Options(format!(
                "WAL segment size {} is not a positive multiple of {PAGE_SIZE}",
                opts.segment_size
            )));
        }
        let file = create_segment(dir, index)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            opts,
            index,
            file,
            page: Box::new([0; PAGE_SIZE]),
            alloc: 0,
            flushed: 0,
            done_pages: 0,
            last_sync: Instant::now(),
            snappy: snap::raw::Encoder::new(),
            cbuf: Vec::new(),
            broken: None,
        })
    }

    /// Writes `recs` and hands them to the OS (then fsyncs per the policy).
    pub(crate) fn log(&mut self, recs: &[Vec<u8>]) -> Result<()> {
        if let Some(why) = &self.broken {
            return Err(Error::Broken(why.clone()));
        }
        let r = self.log_inner(recs);
        if let Err(e) = &r {
            self.broken = Some(e.to_string());
        }
        r
    }

    /// Adds `rec` to the current page without handing it to the OS yet:
    /// the next [`Wal::log`] writes it, before its own records.
    pub(crate) fn log_buffered(&mut self, rec: &[u8]) -> Result<()> {
        if let Some(why) = &self.broken {
            return Err(Error::Broken(why.clone()));
        }
        let r = self.log_one(rec);
        if let Err(e) = &r {
            self.broken = Some(e.to_string());
        }
        r
    }

    fn log_inner(&mut self, recs: &[Vec<u8>]) -> Result<()> {
        for rec in recs {
            self.log_one(rec)?;
        }
        if self.alloc > self.flushed {
            self.flush_page(false)?;
        }
        match self.opts.sync {
            SyncPolicy::OnSegmentClose => {}
            SyncPolicy::Always => self.sync()?,
            SyncPolicy::Interval(d) => {
                if self.last_sync.elapsed() >= d {
                    self.sync()?;
                }
            }
        }
        Ok(())
    }

    fn log_one(&mut self, rec: &[u8]) -> Result<()> {
        if PAGE_SIZE - self.alloc < HEADER_SIZE {
            self.flush_page(true)?;
        }
        let mut flag = 0u8;
        let mut data = rec;
        if self.opts.compress {
            let max = snap::raw::max_compress_len(rec.len());
            self.cbuf.resize(max, 0);
            let n = self
                .snappy
                .compress(rec, &mut self.cbuf)
                .map_err(|e| Error::wal_io(&self.dir, std::io::Error::other(e)))?;
            // Like Prometheus: keep the compressed form only when smaller.
            if n < rec.len() {
                self.cbuf.truncate(n);
                flag = SNAPPY_FLAG;
            }
        }
        let cbuf = std::mem::take(&mut self.cbuf);
        if flag != 0 {
            data = &cbuf;
        }
        let r = self.write_fragments(data, flag);
        self.cbuf = cbuf;
        r
    }

    fn write_fragments(&mut self, mut data: &[u8], flag: u8) -> Result<()> {
        let pages = self.opts.segment_size / PAGE_SIZE;
        let left = (PAGE_SIZE - self.alloc).saturating_sub(HEADER_SIZE)
            + (PAGE_SIZE - HEADER_SIZE) * pages.saturating_sub(self.done_pages + 1);
        if data.len() > left && (self.done_pages > 0 || self.alloc > 0) {
            self.next_segment()?;
        }
        let mut first = true;
        while first || !data.is_empty() {
            let room = PAGE_SIZE - self.alloc - HEADER_SIZE;
            let n = data.len().min(room);
            let (part, rest) = data.split_at(n);
            let typ = match (first, rest.is_empty()) {
                (true, true) => REC_FULL,
                (true, false) => REC_FIRST,
                (false, true) => REC_LAST,
                (false, false) => REC_MIDDLE,
            };
            let buf = &mut self.page[self.alloc..];
            buf[0] = typ | flag;
            buf[1..3].copy_from_slice(&(n as u16).to_be_bytes());
            buf[3..7].copy_from_slice(&crc32c::crc32c(part).to_be_bytes());
            buf[HEADER_SIZE..HEADER_SIZE + n].copy_from_slice(part);
            self.alloc += HEADER_SIZE + n;
            if PAGE_SIZE - self.alloc < HEADER_SIZE {
                self.flush_page(true)?;
            }
            data = rest;
            first = false;
        }
        Ok(())
    }

    /// Writes the unwritten part of the page; `clear` pads it to the end
    /// and starts a new page.
    fn flush_page(&mut self, clear: bool) -> Result<()> {
        let clear = clear || PAGE_SIZE - self.alloc < HEADER_SIZE;
        if clear {
            self.page[self.alloc..].fill(0);
            self.alloc = PAGE_SIZE;
        }
        let path = segment_name(&self.dir, self.index);
        self.file
            .write_all(&self.page[self.flushed..self.alloc])
            .map_err(|e| Error::wal_io(&path, e))?;
        self.flushed = self.alloc;
        if clear {
            self.alloc = 0;
            self.flushed = 0;
            self.done_pages += 1;
        }
        Ok(())
    }

    /// Completes the current segment (padded, fsynced) and starts the next
    /// one; returns the index of the new segment.
    pub(crate) fn next_segment(&mut self) -> Result<u64> {
        if let Some(why) = &self.broken {
            return Err(Error::Broken(why.clone()));
        }
        if self.alloc > 0 {
            self.flush_page(true)?;
        }
        self.sync()?;
        let next = create_segment(&self.dir, self.index + 1)?;
        self.file = next;
        self.index += 1;
        self.done_pages = 0;
        sync_dir(&self.dir)?;
        Ok(self.index)
    }

    /// fsyncs the current segment.
    pub(crate) fn sync(&mut self) -> Result<()> {
        let path = segment_name(&self.dir, self.index);
        self.file.sync_data().map_err(|e| Error::wal_io(&path, e))?;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Deletes segments below `index`.
    pub(crate) fn remove_segments_before(&self, index: u64) -> Result<()> {
        for (i, p) in list_segments(&self.dir)? {
            if i < index {
                std::fs::remove_file(&p).map_err(|e| Error::wal_io(&p, e))?;
            }
        }
        Ok(())
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if self.broken.is_none() {
            let _ = self.sync();
        }
    }
}

fn create_segment(dir: &Path, index: u64) -> Result<File> {
    let path = segment_name(dir, index);
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::wal_io(&path, e))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::wal_io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::reader::read_segment;
    use super::*;

    fn records(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let len = [0, 1, 10, 100, 33_000, 70_000, 5][i % 7];
                (0..len).map(|j| ((i * 31 + j) % 251) as u8).collect()
            })
            .collect()
    }

    fn round_trip(opts: WalOptions) {
        let d = tempfile::tempdir().unwrap();
        let recs = records(40);
        let mut w = Wal::create(d.path(), 0, opts).unwrap();
        for chunk in recs.chunks(3) {
            w.log(chunk).unwrap();
        }
        drop(w);
        let mut got = Vec::new();
        for (_, p) in list_segments(d.path()).unwrap() {
            let r = read_segment(&p).unwrap();
            assert!(r.corruption.is_none(), "{:?}", r.corruption);
            got.extend(r.records.into_iter().map(|(_, rec)| rec));
        }
        assert_eq!(got, recs);
    }

    #[test]
    fn records_round_trip_across_pages_and_segments() {
        round_trip(WalOptions::default());
        round_trip(WalOptions {
            segment_size: 2 * PAGE_SIZE,
            ..Default::default()
        });
        round_trip(WalOptions {
            compress: true,
            segment_size: 3 * PAGE_SIZE,
            sync: SyncPolicy::Always,
        });
    }

    #[test]
    fn a_segment_size_that_is_not_whole_pages_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let opts = WalOptions {
            segment_size: 1000,
            ..Default::default()
        };
        assert!(matches!(
            Wal::create(d.path(), 0, opts),
            Err(Error::Options(_))
        ));
    }
}
