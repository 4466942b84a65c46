//! Metrics of the store gateway (prefix `aeon_` comes from the registry the
//! caller passes in; names here start with `store_gateway_`), and those
//! Thanos's store has under Thanos's names (`thanos_bucket_store_*`,
//! `thanos_blocks_meta_*`, `thanos_store_index_cache_*`), so that the Thanos
//! mixin works.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use aeon_common::metrics::Gate;

type Labeled = Family<Vec<(String, String)>, Counter>;

/// Histograms per `data_type`.
type PerDataType = Family<Vec<(String, String)>, Histogram, fn() -> Histogram>;

/// Thanos's buckets of items touched/fetched per request.
fn data_buckets() -> Histogram {
    Histogram::new(exponential_buckets(200.0, 2.0, 15))
}

/// What one Series request touched (read from the index cache or the
/// bucket) and fetched (read from the bucket), per data type, added up over
/// its blocks; observed once the request is done.
#[derive(Debug, Default)]
pub struct SeriesStats {
    pub(crate) postings_touched: AtomicU64,
    pub(crate) series_touched: AtomicU64,
    pub(crate) series_fetched: AtomicU64,
    pub(crate) chunks_touched: AtomicU64,
    pub(crate) chunks_fetched: AtomicU64,
}

impl SeriesStats {
    pub(crate) fn add(n: &AtomicU64, by: usize) {
        n.fetch_add(by as u64, Ordering::Relaxed);
    }
}

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
    /// Always 0: dropping a block cannot fail here (Thanos: closing its
    /// reader can).
    pub block_drop_failures: Counter,
    /// Items added to the index cache, by item type.
    pub cache_items_added: Labeled,
    /// The Series gate (instrumentation only: Aeon limits by bytes).
    pub series_gate: Gate,
    /// Size of each chunk sent.
    pub sent_chunk_size: Histogram,
    /// Blocks queried per Series request.
    pub series_blocks_queried: Histogram,
    /// Series returned per Series request.
    pub series_result_series: Histogram,
    /// Time until every block's part of a Series request is ready.
    pub series_get_all_duration: Histogram,
    /// Time to merge the blocks' series into the response.
    pub series_merge_duration: Histogram,
    /// Items touched per Series request, by data type.
    pub series_data_touched: PerDataType,
    /// Items fetched from the bucket per Series request, by data type.
    pub series_data_fetched: PerDataType,
}

/// Thanos's Series timing buckets (seconds).
const SERIES_DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.01, 0.1, 0.3, 0.6, 1.0, 3.0, 6.0, 9.0, 20.0, 30.0, 60.0, 90.0, 120.0,
];

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
            block_drop_failures: Counter::default(),
            cache_items_added: Family::default(),
            series_gate: Gate::new(registry, "thanos_bucket_store_series_", None),
            sent_chunk_size: Histogram::new(exponential_buckets(32.0, 2.0, 16)),
            series_blocks_queried: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            series_result_series: Histogram::new(exponential_buckets(1.0, 2.0, 15)),
            series_get_all_duration: Histogram::new(SERIES_DURATION_BUCKETS),
            series_merge_duration: Histogram::new(SERIES_DURATION_BUCKETS),
            series_data_touched: Family::new_with_constructor(data_buckets),
            series_data_fetched: Family::new_with_constructor(data_buckets),
        };
        m.register_thanos_names(registry);
        // Every item type's series exist from the start, as in Thanos.
        for item in ["ExpandedPostings", "Series"] {
            let l = vec![("item_type".to_string(), item.to_string())];
            let _ = m.cache_requests.get_or_create(&l);
            let _ = m.cache_hits.get_or_create(&l);
            let _ = m.cache_items_added.get_or_create(&l);
            let _ = m.cache_evictions.get_or_create(&l);
        }
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

    /// Thanos's names, sharing their values with the `aeon_store_gateway_*`
    /// families where both exist.
    fn register_thanos_names(&self, registry: &mut Registry) {
        let m = self;
        m.series_gate.register_wait_alias(
            registry,
            "thanos_bucket_store_series_gate_duration_seconds",
            "How many seconds it took for queries to wait at the gate",
        );
        registry.register(
            "thanos_bucket_store_blocks_loaded",
            "Number of currently loaded blocks",
            m.blocks_loaded.clone(),
        );
        registry.register(
            "thanos_bucket_store_block_loads",
            "Total number of remote block loading attempts",
            m.block_loads.clone(),
        );
        registry.register(
            "thanos_bucket_store_block_load_failures",
            "Total number of failed remote block loading attempts",
            m.block_load_failures.clone(),
        );
        registry.register(
            "thanos_bucket_store_block_drops",
            "Total number of local blocks that were dropped",
            m.block_drops.clone(),
        );
        registry.register(
            "thanos_bucket_store_block_drop_failures",
            "Total number of local blocks that failed to be dropped",
            m.block_drop_failures.clone(),
        );
        registry.register(
            "thanos_bucket_store_sent_chunk_size_bytes",
            "Size in bytes of the chunks for the single series, which is adequate to the gRPC message size sent to querier",
            m.sent_chunk_size.clone(),
        );
        registry.register(
            "thanos_bucket_store_series_blocks_queried",
            "Number of blocks in a bucket store that were touched to satisfy a query",
            m.series_blocks_queried.clone(),
        );
        registry.register(
            "thanos_bucket_store_series_result_series",
            "Number of series observed in the final result of a query",
            m.series_result_series.clone(),
        );
        registry.register(
            "thanos_bucket_store_series_get_all_duration_seconds",
            "Time it takes until all per-block prepares and loads for a query are finished",
            m.series_get_all_duration.clone(),
        );
        registry.register(
            "thanos_bucket_store_series_merge_duration_seconds",
            "Time it takes to merge sub-results from all queried blocks into a single result",
            m.series_merge_duration.clone(),
        );
        registry.register(
            "thanos_bucket_store_series_data_touched",
            "Number of items of a data type touched to fulfill a single Store API series request",
            m.series_data_touched.clone(),
        );
        registry.register(
            "thanos_bucket_store_series_data_fetched",
            "Number of items of a data type retrieved to fulfill a single Store API series request",
            m.series_data_fetched.clone(),
        );
        registry.register(
            "thanos_blocks_meta_syncs",
            "Total blocks metadata synchronization attempts",
            m.syncs.clone(),
        );
        registry.register(
            "thanos_blocks_meta_sync_failures",
            "Total blocks metadata synchronization failures",
            m.sync_failures.clone(),
        );
        registry.register(
            "thanos_blocks_meta_sync_duration_seconds",
            "Duration of the blocks metadata synchronization in seconds",
            m.sync_duration.clone(),
        );
        registry.register(
            "thanos_blocks_meta_synced",
            "Number of block metadata synced",
            m.synced_blocks.clone(),
        );
        registry.register(
            "thanos_store_index_cache_requests",
            "Total number of requests to the cache",
            m.cache_requests.clone(),
        );
        registry.register(
            "thanos_store_index_cache_hits",
            "Total number of requests to the cache that were a hit",
            m.cache_hits.clone(),
        );
        registry.register(
            "thanos_store_index_cache_items_added",
            "Total number of items that were added to the index cache",
            m.cache_items_added.clone(),
        );
        registry.register(
            "thanos_store_index_cache_items_evicted",
            "Total number of items that were evicted from the index cache",
            m.cache_evictions.clone(),
        );
        registry.register(
            "thanos_store_index_cache_items",
            "Current number of items in the index cache",
            m.cache_items.clone(),
        );
    }

    /// Observes one finished Series request's [`SeriesStats`].
    pub(crate) fn observe_series(&self, s: &SeriesStats) {
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed) as f64;
        for (data_type, n) in [
            ("postings", get(&s.postings_touched)),
            ("series", get(&s.series_touched)),
            ("chunks", get(&s.chunks_touched)),
        ] {
            self.series_data_touched
                .get_or_create(&vec![("data_type".to_string(), data_type.to_string())])
                .observe(n);
        }
        for (data_type, n) in [
            ("series", get(&s.series_fetched)),
            ("chunks", get(&s.chunks_fetched)),
        ] {
            self.series_data_fetched
                .get_or_create(&vec![("data_type".to_string(), data_type.to_string())])
                .observe(n);
        }
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
