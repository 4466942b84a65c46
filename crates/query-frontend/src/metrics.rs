//! The frontend's metrics, with Thanos's and Cortex's names.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// `op` of `thanos_query_frontend_queries_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OpLabel {
    pub(crate) op: &'static str,
}

/// `shardable` of `thanos_frontend_sharding_middleware_queries_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ShardableLabel {
    pub(crate) shardable: &'static str,
}

/// Handles to the registered metrics.
#[derive(Debug, Clone, Default)]
pub(crate) struct Metrics {
    pub(crate) queries: Family<OpLabel, Counter>,
    pub(crate) split_queries: Counter,
    pub(crate) retries: Counter,
    pub(crate) downstream_failures: Counter,
    pub(crate) sharding: Family<ShardableLabel, Counter>,
}

impl Metrics {
    pub(crate) fn new(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "thanos_query_frontend_queries",
            "Total queries passing through the query frontend, by operation.",
            m.queries.clone(),
        );
        registry.register(
            "cortex_frontend_split_queries",
            "Total number of underlying query requests after the split by interval is applied.",
            m.split_queries.clone(),
        );
        registry.register(
            "aeon_query_frontend_retries",
            "Downstream requests retried after a 5xx answer or a connection failure.",
            m.retries.clone(),
        );
        registry.register(
            "aeon_query_frontend_downstream_failures",
            "Requests answered with an error because the downstream did not answer after all attempts.",
            m.downstream_failures.clone(),
        );
        registry.register(
            "thanos_frontend_sharding_middleware_queries",
            "Total number of queries analyzed by the sharding middleware",
            m.sharding.clone(),
        );
        m
    }

    /// Counts a range query for the sharding analysis (only with vertical
    /// shards configured).
    pub(crate) fn sharding(&self, shardable: bool) {
        let shardable = if shardable { "true" } else { "false" };
        self.sharding
            .get_or_create(&ShardableLabel { shardable })
            .inc();
    }

    pub(crate) fn query(&self, op: &'static str) {
        self.queries.get_or_create(&OpLabel { op }).inc();
    }
}
