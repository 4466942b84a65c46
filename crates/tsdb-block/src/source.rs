//! Byte-range sources: the one abstraction every reader in this crate is
//! built on, so the same code runs over a local file (pread) and, in the
//! store gateway, over ranged GETs from a bucket.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::{Error, Result};

mod partition;

pub use partition::{Part, THANOS_PARTITION_GAP, partition};

/// Random access to an immutable byte sequence (a file or an object).
pub trait ByteSource: Send + Sync + std::fmt::Debug {
    /// Path or object key, used in error messages.
    fn name(&self) -> &str;
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Reads exactly `[off, off+len)`. Must fail (not panic) past the end.
    fn read_range(&self, off: u64, len: u64) -> Result<Bytes>;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads several ranges; ranges closer than `gap` bytes are coalesced
    /// into one underlying read ([`partition`]). Results are in the order
    /// requested.
    fn read_ranges(&self, ranges: &[(u64, u64)], gap: u64) -> Result<Vec<Bytes>> {
        let mut out = vec![Bytes::new(); ranges.len()];
        for p in partition(ranges, gap) {
            let buf = self.read_range(p.start, p.len())?;
            for k in p.ranges {
                let (o, l) = ranges[k];
                out[k] = buf.slice((o - p.start) as usize..(o - p.start + l) as usize);
            }
        }
        Ok(out)
    }
}

pub(crate) fn check_range(name: &str, total: u64, off: u64, len: u64) -> Result<()> {
    match off.checked_add(len) {
        Some(end) if end <= total => Ok(()),
        _ => Err(Error::corrupt(
            name,
            off,
            format!("read of {len} bytes past end of file ({total} bytes)"),
        )),
    }
}

/// A local file read with `pread`.
#[derive(Debug)]
pub struct FileSource {
    file: File,
    name: String,
    len: u64,
}

impl FileSource {
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| Error::Read {
            file: name.clone(),
            offset: 0,
            source,
        })?;
        let len = file
            .metadata()
            .map_err(|source| Error::Read {
                file: name.clone(),
                offset: 0,
                source,
            })?
            .len();
        Ok(Self { file, name, len })
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(&self.name)
    }
}

impl ByteSource for FileSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn read_range(&self, off: u64, len: u64) -> Result<Bytes> {
        check_range(&self.name, self.len, off, len)?;
        let mut buf = vec![0u8; len as usize];
        self.file
            .read_exact_at(&mut buf, off)
            .map_err(|source| Error::Read {
                file: self.name.clone(),
                offset: off,
                source,
            })?;
        Ok(Bytes::from(buf))
    }
}

/// An in-memory source (a whole file already in memory).
#[derive(Debug, Clone)]
pub struct MemSource {
    data: Bytes,
    name: String,
}

impl MemSource {
    pub fn new(name: impl Into<String>, data: impl Into<Bytes>) -> Self {
        Self {
            data: data.into(),
            name: name.into(),
        }
    }

    /// Loads a whole local file into memory.
    pub fn read_file(path: impl AsRef<Path>) -> Result<Self> {
        let name = path.as_ref().display().to_string();
        let data = std::fs::read(path.as_ref()).map_err(|source| Error::Read {
            file: name.clone(),
            offset: 0,
            source,
        })?;
        Ok(Self::new(name, data))
    }
}

impl ByteSource for MemSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn len(&self) -> u64 {
        self.data.len() as u64
    }

    fn read_range(&self, off: u64, len: u64) -> Result<Bytes> {
        check_range(&self.name, self.data.len() as u64, off, len)?;
        Ok(self.data.slice(off as usize..(off + len) as usize))
    }
}

/// Shared handle to any source.
pub type SharedSource = Arc<dyn ByteSource>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesced_reads_return_requested_slices() {
        let s = MemSource::new("m", (0u8..100).collect::<Vec<_>>());
        let r = s
            .read_ranges(&[(50, 2), (10, 3), (12, 4), (90, 10)], 5)
            .unwrap();
        assert_eq!(&r[0][..], &[50, 51]);
        assert_eq!(&r[1][..], &[10, 11, 12]);
        assert_eq!(&r[2][..], &[12, 13, 14, 15]);
        assert_eq!(&r[3][..], &(90u8..100).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn reads_past_end_are_errors() {
        let s = MemSource::new("blk/index", vec![0u8; 10]);
        assert!(matches!(
            s.read_range(8, 3),
            Err(Error::Corrupt { offset: 8, .. })
        ));
        assert!(s.read_range(u64::MAX, 2).is_err());
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        let f = FileSource::open(&p).unwrap();
        assert_eq!(&f.read_range(1, 3).unwrap()[..], b"ell");
        assert!(f.read_range(3, 3).is_err());
    }
}
