//! Thanos's block metadata fetcher metrics (`pkg/block/fetcher.go`), for the
//! services that list a bucket's blocks (store-gateway, compactor):
//! `thanos_blocks_meta_syncs_total` (every fetch of the bucket's metas),
//! `thanos_blocks_meta_sync_failures_total` (fetches that failed) and
//! `thanos_blocks_meta_sync_duration_seconds` (histogram, Thanos's buckets).

use std::future::Future;
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Thanos's sync duration buckets (seconds).
const SYNC_BUCKETS: [f64; 7] = [0.01, 1.0, 10.0, 100.0, 300.0, 600.0, 1000.0];

/// The fetcher's metrics; cheap to clone.
#[derive(Debug, Clone)]
pub struct BlocksMetaMetrics {
    syncs: Counter,
    failures: Counter,
    duration: Histogram,
}

impl Default for BlocksMetaMetrics {
    /// Unregistered metrics (tests, tools).
    fn default() -> Self {
        Self {
            syncs: Counter::default(),
            failures: Counter::default(),
            duration: Histogram::new(SYNC_BUCKETS),
        }
    }
}

impl BlocksMetaMetrics {
    /// Registers the metrics on `registry` (the service's root registry).
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "thanos_blocks_meta_syncs",
            "Total blocks metadata synchronization attempts",
            m.syncs.clone(),
        );
        registry.register(
            "thanos_blocks_meta_sync_failures",
            "Total blocks metadata synchronization failures",
            m.failures.clone(),
        );
        registry.register(
            "thanos_blocks_meta_sync_duration_seconds",
            "Duration of the blocks metadata synchronization in seconds",
            m.duration.clone(),
        );
        m
    }

    /// Runs one fetch of the bucket's metas, counting it, its failure and
    /// its duration.
    pub async fn observe<T, E>(&self, fetch: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        self.syncs.inc();
        let start = Instant::now();
        let r = fetch.await;
        self.duration.observe(start.elapsed().as_secs_f64());
        if r.is_err() {
            self.failures.inc();
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_syncs_and_failures() {
        let mut reg = Registry::default();
        let m = BlocksMetaMetrics::new(&mut reg);
        m.observe(async { Ok::<_, ()>(()) }).await.unwrap();
        m.observe(async { Err::<(), _>(()) }).await.unwrap_err();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        for want in [
            "thanos_blocks_meta_syncs_total 2\n",
            "thanos_blocks_meta_sync_failures_total 1\n",
            "thanos_blocks_meta_sync_duration_seconds_count 2\n",
        ] {
            assert!(text.contains(want), "missing {want}:\n{text}");
        }
    }
}
