//! A [`ByteSource`] over one bucket object, so tsdb-block's synchronous
//! index reader can run on ranged GETs. Reads block on the tokio runtime
//! and must run on a blocking thread (`spawn_blocking`). A per-query
//! overlay holds ranges prefetched in coalesced reads, so later small
//! reads (series entries) are served from memory.

use std::sync::{Arc, Mutex, PoisonError};

use aeon_objstore::Bucket;
use aeon_tsdb_block::ByteSource;
use aeon_tsdb_block::source::partition;
use bytes::Bytes;

use crate::metrics::Metrics;

/// Maximum gap between two prefetched ranges (series entries) that are
/// still fetched in one GET.
pub(crate) const COALESCE_GAP: u64 = 16 * 1024;

/// Converts a bucket error into the tsdb-block error the readers expect.
pub(crate) fn bucket_err(
    key: &str,
    offset: u64,
    e: aeon_objstore::Error,
) -> aeon_tsdb_block::Error {
    let kind = if e.is_not_found() {
        std::io::ErrorKind::NotFound
    } else {
        std::io::ErrorKind::Other
    };
    aeon_tsdb_block::Error::Read {
        file: key.to_string(),
        offset,
        source: std::io::Error::new(kind, e),
    }
}

/// One object of the bucket read with ranged GETs.
#[derive(Debug)]
pub struct BucketSource {
    bucket: Arc<dyn Bucket>,
    key: String,
    len: u64,
    rt: tokio::runtime::Handle,
    metrics: Option<Metrics>,
    kind: &'static str,
    overlay: Mutex<Vec<(u64, Bytes)>>,
}

impl BucketSource {
    pub fn new(
        bucket: Arc<dyn Bucket>,
        key: String,
        len: u64,
        rt: tokio::runtime::Handle,
        metrics: Option<Metrics>,
        kind: &'static str,
    ) -> Self {
        Self {
            bucket,
            key,
            len,
            rt,
            metrics,
            kind,
            overlay: Mutex::new(Vec::new()),
        }
    }

    fn fetch(&self, off: u64, len: u64) -> aeon_tsdb_block::Result<Bytes> {
        let b = self
            .rt
            .block_on(self.bucket.get_range(&self.key, off, len))
            .map_err(|e| bucket_err(&self.key, off, e))?;
        if let Some(m) = &self.metrics {
            m.fetched(self.kind, b.len() as u64);
        }
        if (b.len() as u64) < len {
            return Err(aeon_tsdb_block::Error::Corrupt {
                file: self.key.clone(),
                offset: off,
                reason: format!(
                    "object shorter than expected: got {} of {len} bytes",
                    b.len()
                ),
            });
        }
        Ok(b)
    }

    /// Fetches `ranges` (offset, len) into the overlay, partitioned across
    /// gaps of [`COALESCE_GAP`].
    /// Ranges are clipped to the object.
    pub fn prefetch(&self, ranges: &[(u64, u64)]) -> aeon_tsdb_block::Result<()> {
        let rs: Vec<(u64, u64)> = ranges
            .iter()
            .filter(|(o, _)| *o < self.len)
            .map(|&(o, l)| (o, o.saturating_add(l).min(self.len) - o))
            .filter(|(_, l)| *l > 0)
            .collect();
        let parts = partition(&rs, COALESCE_GAP);
        let mut fetched = Vec::with_capacity(parts.len());
        for p in parts {
            if self.covered(p.start, p.len()).is_some() {
                continue;
            }
            fetched.push((p.start, self.fetch(p.start, p.len())?));
        }
        let mut ov = self.overlay.lock().unwrap_or_else(PoisonError::into_inner);
        ov.extend(fetched);
        ov.sort_by_key(|(s, _)| *s);
        Ok(())
    }

    fn covered(&self, off: u64, len: u64) -> Option<Bytes> {
        let ov = self.overlay.lock().unwrap_or_else(PoisonError::into_inner);
        let i = ov.partition_point(|(s, _)| *s <= off);
        // Candidates: segments starting at or before `off`; check the last few.
        ov[..i].iter().rev().take(4).find_map(|(s, b)| {
            let rel = off - s;
            (rel + len <= b.len() as u64).then(|| b.slice(rel as usize..(rel + len) as usize))
        })
    }
}

impl ByteSource for BucketSource {
    fn name(&self) -> &str {
        &self.key
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn read_range(&self, off: u64, len: u64) -> aeon_tsdb_block::Result<Bytes> {
        match off.checked_add(len) {
            Some(end) if end <= self.len => {}
            _ => {
                return Err(aeon_tsdb_block::Error::Corrupt {
                    file: self.key.clone(),
                    offset: off,
                    reason: format!(
                        "read of {len} bytes past end of object ({} bytes)",
                        self.len
                    ),
                });
            }
        }
        if let Some(b) = self.covered(off, len) {
            return Ok(b);
        }
        self.fetch(off, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aeon_objstore::InMemoryBucket;

    #[test]
    fn prefetch_coalesces_and_serves_from_memory() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let bucket: Arc<dyn Bucket> = Arc::new(InMemoryBucket::new("mem"));
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        rt.block_on(bucket.upload("b/index", Bytes::from(data.clone())))
            .unwrap();
        let mut reg = prometheus_client::registry::Registry::default();
        let m = Metrics::new(&mut reg);
        let src = BucketSource::new(
            bucket,
            "b/index".into(),
            data.len() as u64,
            rt.handle().clone(),
            Some(m.clone()),
            "series",
        );
        let h = rt.handle().clone();
        std::thread::spawn(move || {
            let _g = h.enter();
            src.prefetch(&[(10, 5), (100, 50), (90_000, 20_000)])
                .unwrap();
            assert_eq!(
                m.fetches
                    .get_or_create(&vec![("kind".into(), "series".into())])
                    .get(),
                2
            );
            assert_eq!(&src.read_range(100, 50).unwrap()[..], &data[100..150]);
            assert_eq!(
                &src.read_range(95_000, 10).unwrap()[..],
                &data[95_000..95_010]
            );
            assert_eq!(
                m.fetches
                    .get_or_create(&vec![("kind".into(), "series".into())])
                    .get(),
                2
            );
            // Not covered: a real read.
            assert_eq!(
                &src.read_range(50_000, 3).unwrap()[..],
                &data[50_000..50_003]
            );
            assert_eq!(
                m.fetches
                    .get_or_create(&vec![("kind".into(), "series".into())])
                    .get(),
                3
            );
            assert!(src.read_range(99_999, 2).is_err());
        })
        .join()
        .unwrap();
    }
}
