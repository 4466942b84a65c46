//! A concurrency gate with Thanos's instrumentation (`pkg/gate`): under a
//! prefix chosen by the caller (`thanos_query_concurrent_`,
//! `thanos_bucket_store_series_`), `gate_queries_max` (the limit, 0 for
//! none), `gate_queries_in_flight` (admitted and not done),
//! `gate_queries_total` (every request that asked to enter) and
//! `gate_queries_duration_seconds` (time spent waiting to enter).

use std::sync::Arc;
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Thanos's gate wait buckets (seconds).
const WAIT_BUCKETS: [f64; 16] = [
    0.01, 0.1, 0.3, 0.6, 1.0, 3.0, 6.0, 9.0, 20.0, 30.0, 60.0, 90.0, 120.0, 240.0, 360.0, 720.0,
];

/// A gate admitting at most `max` requests at once (or any number).
#[derive(Debug, Clone)]
pub struct Gate {
    sem: Option<Arc<Semaphore>>,
    in_flight: Gauge,
    total: Counter,
    wait: Histogram,
}

/// An admitted request; leaving the gate when dropped.
#[derive(Debug)]
pub struct Admitted {
    _permit: Option<OwnedSemaphorePermit>,
    in_flight: Gauge,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.in_flight.dec();
    }
}

impl Gate {
    /// A gate of `max` concurrent requests (`None`: unlimited, instrumented
    /// only), its metrics registered on `registry` under `prefix`.
    pub fn new(registry: &mut Registry, prefix: &str, max: Option<usize>) -> Self {
        let max = max.map(|m| m.clamp(1, Semaphore::MAX_PERMITS));
        let limit: Gauge = Gauge::default();
        limit.set(max.map_or(0, |m| m as i64));
        let gate = Self {
            sem: max.map(|m| Arc::new(Semaphore::new(m))),
            in_flight: Gauge::default(),
            total: Counter::default(),
            wait: Histogram::new(WAIT_BUCKETS),
        };
        registry.register(
            format!("{prefix}gate_queries_max"),
            "Maximum number of concurrent queries",
            limit,
        );
        registry.register(
            format!("{prefix}gate_queries_in_flight"),
            "Number of queries that are currently in flight",
            gate.in_flight.clone(),
        );
        registry.register(
            format!("{prefix}gate_queries"),
            "Total number of queries",
            gate.total.clone(),
        );
        registry.register(
            format!("{prefix}gate_queries_duration_seconds"),
            "How many seconds it took for queries to wait at the gate",
            gate.wait.clone(),
        );
        gate
    }

    /// Waits for a place; `None` if the gate was closed.
    pub async fn enter(&self) -> Option<Admitted> {
        self.total.inc();
        let start = Instant::now();
        let permit = match &self.sem {
            Some(s) => s.clone().acquire_owned().await.ok(),
            None => None,
        };
        self.wait.observe(start.elapsed().as_secs_f64());
        if self.sem.is_some() && permit.is_none() {
            return None;
        }
        self.in_flight.inc();
        Some(Admitted {
            _permit: permit,
            in_flight: self.in_flight.clone(),
        })
    }

    /// Also registers the wait histogram under `name` (an older Thanos name
    /// that dashboards still select).
    pub fn register_wait_alias(&self, registry: &mut Registry, name: &str, help: &str) {
        registry.register(name, help, self.wait.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limits_and_counts() {
        let mut reg = Registry::default();
        let g = Gate::new(&mut reg, "thanos_query_concurrent_", Some(1));
        let a = g.enter().await.unwrap();
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), g.enter())
                .await
                .is_err(),
            "a second request waits"
        );
        drop(a);
        let _b = g.enter().await.unwrap();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        for want in [
            "thanos_query_concurrent_gate_queries_max 1\n",
            "thanos_query_concurrent_gate_queries_in_flight 1\n",
            "thanos_query_concurrent_gate_queries_total 3\n",
            "thanos_query_concurrent_gate_queries_duration_seconds_count 2\n",
        ] {
            assert!(text.contains(want), "missing {want}:\n{text}");
        }
    }
}
