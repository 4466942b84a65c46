//! Cache metrics: Cortex's names for what the results cache asks and finds
//! (`cortex_cache_fetched_keys_total`, `cortex_cache_hits_total`, label
//! `name`), ours for what goes wrong (`aeon_cache_operation_failures_total`,
//! `aeon_cache_dropped_writes_total`). Registered once per registry and
//! shared by every cache on it, each with its own `name`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

type LabelPairs = Vec<(String, String)>;

/// The families, and the `name` of the cache these handles count for.
#[derive(Debug, Clone, Default)]
pub struct CacheMetrics {
    name: String,
    fetched: Family<LabelPairs, Counter>,
    hits: Family<LabelPairs, Counter>,
    failures: Family<LabelPairs, Counter>,
    dropped: Family<LabelPairs, Counter>,
}

impl CacheMetrics {
    /// Registers the families on `registry`; call once per registry, then
    /// [`CacheMetrics::named`] per cache.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "cortex_cache_fetched_keys",
            "Total count of keys requested from cache.",
            m.fetched.clone(),
        );
        registry.register(
            "cortex_cache_hits",
            "Total count of keys found in cache.",
            m.hits.clone(),
        );
        registry.register(
            "aeon_cache_operation_failures",
            "Cache operations that failed (the caller got a miss or the write was lost), by backend and operation.",
            m.failures.clone(),
        );
        registry.register(
            "aeon_cache_dropped_writes",
            "Cache writes dropped before reaching the backend (queue full, item too large), by backend and reason.",
            m.dropped.clone(),
        );
        m
    }

    /// Handles that count for the cache called `name`.
    pub fn named(&self, name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..self.clone()
        }
    }

    fn labels(&self, extra: &[(&str, &str)]) -> LabelPairs {
        let mut l = vec![("name".to_owned(), self.name.clone())];
        l.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        l
    }

    pub(crate) fn fetched(&self, keys: usize, hits: usize) {
        let l = self.labels(&[]);
        self.fetched.get_or_create(&l).inc_by(keys as u64);
        self.hits.get_or_create(&l).inc_by(hits as u64);
    }

    pub(crate) fn failure(&self, backend: &str, operation: &str) {
        self.failures
            .get_or_create(&self.labels(&[("backend", backend), ("operation", operation)]))
            .inc();
    }

    pub(crate) fn dropped(&self, backend: &str, reason: &str) {
        self.dropped
            .get_or_create(&self.labels(&[("backend", backend), ("reason", reason)]))
            .inc();
    }

    /// Keys asked for so far by this cache.
    pub fn fetched_total(&self) -> u64 {
        self.fetched.get_or_create(&self.labels(&[])).get()
    }

    /// Keys found so far by this cache.
    pub fn hits_total(&self) -> u64 {
        self.hits.get_or_create(&self.labels(&[])).get()
    }

    /// Failed operations so far of this cache (every backend and operation).
    pub fn failures_total(&self, backend: &str) -> u64 {
        ["fetch", "store", "connect"]
            .iter()
            .map(|op| {
                self.failures
                    .get_or_create(&self.labels(&[("backend", backend), ("operation", op)]))
                    .get()
            })
            .sum()
    }
}
