//! Request limits: `--store.limits.request-series` and
//! `--store.limits.request-samples` per request ([`Limiter`]), and
//! `--chunk-pool-size` over all in-flight Series answers ([`ChunkPool`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Result;

/// Samples assumed per chunk for `--store.limits.request-samples`.
pub const SAMPLES_PER_CHUNK: u64 = 120;

/// The budget of chunk bytes held by in-flight Series responses.
#[derive(Debug, Clone)]
pub struct ChunkPool {
    sem: Arc<tokio::sync::Semaphore>,
    bytes: u64,
}

impl ChunkPool {
    pub fn new(bytes: u64) -> Self {
        let kib = usize::try_from(bytes / 1024)
            .unwrap_or(usize::MAX)
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        Self {
            sem: Arc::new(tokio::sync::Semaphore::new(kib)),
            bytes,
        }
    }

    /// Reserves `bytes` until the permit is dropped; fails (never waits)
    /// when the pool is exhausted.
    pub fn reserve(&self, bytes: u64) -> Result<tokio::sync::OwnedSemaphorePermit> {
        let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        self.sem.clone().try_acquire_many_owned(kib).map_err(|_| {
            aeon_storeapi::Error::limit(
                format!(
                    "chunk bytes held by in-flight Series calls (--chunk-pool-size, {bytes} more bytes needed)"
                ),
                self.bytes,
            )
            .into()
        })
    }
}

/// Chunk bytes reserved in the [`ChunkPool`] for one block's answer.
pub type PoolPermit = Option<tokio::sync::OwnedSemaphorePermit>;

/// Per-request limits shared by all blocks of one request.
#[derive(Debug, Default)]
pub struct Limiter {
    pub series_limit: u64,
    pub samples_limit: u64,
    series: AtomicU64,
    chunks: AtomicU64,
}

impl Limiter {
    pub fn new(series_limit: u64, samples_limit: u64) -> Self {
        Self {
            series_limit,
            samples_limit,
            ..Self::default()
        }
    }

    pub(crate) fn add_series(&self, n: u64) -> Result<()> {
        let total = self.series.fetch_add(n, Ordering::Relaxed) + n;
        if self.series_limit > 0 && total > self.series_limit {
            return Err(aeon_storeapi::Error::limit(
                format!("series (--store.limits.request-series, got at least {total})"),
                self.series_limit,
            )
            .into());
        }
        Ok(())
    }

    pub(crate) fn add_chunks(&self, n: u64) -> Result<()> {
        let total = self.chunks.fetch_add(n, Ordering::Relaxed) + n;
        let samples = total.saturating_mul(SAMPLES_PER_CHUNK);
        if self.samples_limit > 0 && samples > self.samples_limit {
            return Err(aeon_storeapi::Error::limit(
                format!(
                    "samples (--store.limits.request-samples, counted as {total} chunks × {SAMPLES_PER_CHUNK})"
                ),
                self.samples_limit,
            )
            .into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_names_the_limit() {
        let l = Limiter::new(2, 240);
        l.add_series(2).unwrap();
        let e = aeon_storeapi::Error::from(l.add_series(1).unwrap_err());
        assert!(
            matches!(e, aeon_storeapi::Error::LimitExceeded { limit: 2, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("request-series"), "{e}");
        l.add_chunks(2).unwrap();
        let e = aeon_storeapi::Error::from(l.add_chunks(1).unwrap_err());
        assert!(e.to_string().contains("request-samples"), "{e}");
    }
}
