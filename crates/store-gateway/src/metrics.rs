//! Metrics of the store gateway (prefix `aeon_` comes from the registry the
//! caller passes in; names here start with `store_gateway_`).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labeled = Family<Vec<(String, String)>, Counter>;

/// All metrics of one store gateway.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub blocks_loaded: Gauge,
    /// Index-headers currently held in memory.
    pub headers_resident: Gauge,
    pub block_loads: Counter,
    pub block_load_failures: Counter,
    pub block_drops: Counter,
    pub syncs: Counter,
    pub sync_failures: Counter,
    pub sync_duration: Histogram,
    /// Blocks skipped at the last sync, by reason.
    pub synced_blocks: Family<Vec<(String, String)>, Gauge>,
    pub cache_requests: Labeled,
    pub cache_hits: Labeled,
    pub cache_items: Family<Vec<(String, String)>, Gauge>,
    pub cache_bytes: Family<Vec<(String, String)>, Gauge>,
    pub cache_evictions: Labeled,
    /// Bytes fetched from the bucket, by kind (postings, series, chunks, index_header).
    pub bytes_fetched: Labeled,
    /// Bucket GETs issued, by kind.
    pub fetches: Labeled,
    pub series_requests: Counter,
    pub series_returned: Counter,
    pub chunks_returned: Counter,
    pub series_duration: Histogram,
}

fn kind(k: &str) -> Vec<(String, String)> {
    vec![("kind".to_string(), k.to_string())]
}

impl Metrics {
    /// Creates the metrics and registers them on `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self {
            blocks_loaded: Gauge::default(),
            headers_resident: Gauge::default(),
            block_loads: Counter::default(),
            block_load_failures: Counter::default(),
            block_drops: Counter::default(),
            syncs: Counter::default(),
            sync_failures: Counter::default(),
            sync_duration: Histogram::new(exponential_buckets(0.01, 2.0, 16)),
            synced_blocks: Family::default(),
            cache_requests: Family::default(),
            cache_hits: Family::default(),
            cache_items: Family::default(),
            cache_bytes: Family::default(),
            cache_evictions: Family::default(),
            bytes_fetched: Family::default(),
            fetches: Family::default(),
            series_requests: Counter::default(),
            series_returned: Counter::default(),
            chunks_returned: Counter::default(),
            series_duration: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
        };
        let r = registry.sub_registry_with_prefix("aeon_store_gateway");
        r.register(
            "blocks_loaded",
            "Blocks currently served",
            m.blocks_loaded.clone(),
        );
        r.register(
            "index_headers_resident",
            "Index-headers currently held in memory",
            m.headers_resident.clone(),
        );
        r.register(
            "block_loads",
            "Blocks loaded (index-header ready)",
            m.block_loads.clone(),
        );
        r.register(
            "block_load_failures",
            "Blocks that failed to load",
            m.block_load_failures.clone(),
        );
        r.register(
            "block_drops",
            "Blocks dropped from serving",
            m.block_drops.clone(),
        );
        r.register("block_syncs", "Bucket syncs run", m.syncs.clone());
        r.register(
            "block_sync_failures",
            "Bucket syncs that failed",
            m.sync_failures.clone(),
        );
        r.register(
            "block_sync_duration_seconds",
            "Duration of bucket syncs",
            m.sync_duration.clone(),
        );
        r.register(
            "synced_blocks",
            "Blocks seen at the last sync by state (loaded or filter reason)",
            m.synced_blocks.clone(),
        );
        r.register(
            "index_cache_requests",
            "Index cache lookups by item type",
            m.cache_requests.clone(),
        );
        r.register(
            "index_cache_hits",
            "Index cache hits by item type",
            m.cache_hits.clone(),
        );
        r.register(
            "index_cache_items",
            "Index cache items by item type",
            m.cache_items.clone(),
        );
        r.register(
            "index_cache_bytes",
            "Index cache bytes by item type",
            m.cache_bytes.clone(),
        );
        r.register(
            "index_cache_evictions",
            "Index cache evictions by item type",
            m.cache_evictions.clone(),
        );
        r.register(
            "bucket_fetched_bytes",
            "Bytes fetched from the bucket by kind",
            m.bytes_fetched.clone(),
        );
        r.register(
            "bucket_fetches",
            "Ranged GETs issued by kind",
            m.fetches.clone(),
        );
        r.register("series_requests", "Series calls", m.series_requests.clone());
        r.register(
            "series_returned",
            "Series returned",
            m.series_returned.clone(),
        );
        r.register(
            "chunks_returned",
            "Chunks returned",
            m.chunks_returned.clone(),
        );
        r.register(
            "series_request_duration_seconds",
            "Duration of Series calls",
            m.series_duration.clone(),
        );
        m
    }

    pub(crate) fn fetched(&self, k: &str, bytes: u64) {
        self.bytes_fetched.get_or_create(&kind(k)).inc_by(bytes);
        self.fetches.get_or_create(&kind(k)).inc();
    }

    pub(crate) fn cache_lookup(&self, item: &str, hit: bool) {
        let l = vec![("item_type".to_string(), item.to_string())];
        self.cache_requests.get_or_create(&l).inc();
        if hit {
            self.cache_hits.get_or_create(&l).inc();
        }
    }

    /// Total bytes fetched of one kind (for tests and benchmarks).
    pub fn fetched_bytes(&self, k: &str) -> u64 {
        self.bytes_fetched.get_or_create(&kind(k)).get()
    }

    /// Number of cache hits for an item type.
    pub fn cache_hit_count(&self, item: &str) -> u64 {
        self.cache_hits
            .get_or_create(&vec![("item_type".to_string(), item.to_string())])
            .get()
    }
}
