//! What the sidecar knows about its Prometheus (external labels, lowest
//! timestamp, block durations), refreshed by [`poll_prometheus`] every
//! `--prometheus.get_config_interval`, and the readiness derived from it.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aeon_common::admin::Readiness;
use aeon_model::{Labels, Timestamp};
use tokio_util::sync::CancellationToken;

use crate::error::chain;
use crate::metrics::Metrics;
use crate::prometheus::PromClient;

/// The last successfully read Prometheus facts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromFacts {
    /// `global.external_labels`.
    pub external_labels: Labels,
    /// Lowest timestamp Prometheus holds (ms), if it reported one.
    pub lowest_timestamp: Option<Timestamp>,
    /// `storage.tsdb.min-block-duration` and `max-block-duration`.
    pub block_durations: Option<(Duration, Duration)>,
}

/// Shared, cheaply cloned view of [`PromFacts`]; `None` until Prometheus has
/// answered once.
#[derive(Debug, Clone, Default)]
pub struct PromState(Arc<RwLock<Option<PromFacts>>>);

impl PromState {
    /// A state already holding `facts` (tests, or a known static setup).
    pub fn with(facts: PromFacts) -> Self {
        Self(Arc::new(RwLock::new(Some(facts))))
    }

    /// The facts, if Prometheus has answered at least once.
    pub fn get(&self) -> Option<PromFacts> {
        self.0.read().ok().and_then(|g| g.clone())
    }

    /// Replaces the facts.
    pub fn set(&self, facts: PromFacts) {
        if let Ok(mut g) = self.0.write() {
            *g = Some(facts);
        }
    }
}

/// Lowest timestamps from here on mean an empty TSDB (Prometheus reports
/// `math.MaxInt64` ms, i.e. about 9.2e15 s).
pub const EMPTY_TSDB_LOWEST: Timestamp = i64::MAX / 2;

/// Reads all facts once.
pub async fn fetch_facts(client: &PromClient) -> crate::Result<PromFacts> {
    client.ready().await?;
    let config = client.config().await?;
    // Both are best effort: an old or restricted Prometheus may lack them.
    let lowest_timestamp = match client.lowest_timestamp().await {
        // An empty TSDB reports the largest int64 ("no samples yet"). That
        // says nothing about where data starts: advertising it as the min
        // time would hide the first samples from queriers until the next
        // poll, so the flag's min time is used instead.
        Ok(t) if t >= EMPTY_TSDB_LOWEST => None,
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(error = %chain(&e), "cannot read lowest timestamp from prometheus");
            None
        }
    };
    let block_durations = match client.block_durations().await {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(error = %chain(&e), "cannot read block durations from prometheus flags");
            None
        }
    };
    Ok(PromFacts {
        external_labels: config.external_labels,
        lowest_timestamp,
        block_durations,
    })
}

/// Polls Prometheus until `shutdown`: quickly (every second) until it first
/// answers, then every `interval`. Each success refreshes `state` and marks
/// the sidecar ready; each failure marks it not ready with the reason (the
/// last known facts keep being served). Past `ready_timeout` without any
/// answer it logs an error every round but keeps trying.
pub async fn poll_prometheus(
    client: PromClient,
    state: PromState,
    readiness: Readiness,
    metrics: Metrics,
    interval: Duration,
    ready_timeout: Duration,
    shutdown: CancellationToken,
) {
    let started = Instant::now();
    loop {
        let ok = match fetch_facts(&client).await {
            Ok(facts) => {
                if state.get().as_ref() != Some(&facts) {
                    tracing::info!(external_labels = %facts.external_labels, lowest_timestamp = ?facts.lowest_timestamp, "prometheus config loaded");
                }
                if facts.external_labels.is_empty() {
                    tracing::warn!(
                        "prometheus has no external labels; queriers cannot tell this sidecar apart and the shipper will not upload"
                    );
                }
                state.set(facts);
                readiness.set_ready();
                metrics.prometheus_up.set(1);
                metrics.last_heartbeat.set(now_secs());
                true
            }
            Err(e) => {
                let reason = format!("prometheus at {} not usable: {}", client.url(), chain(&e));
                metrics.prometheus_up.set(0);
                if state.get().is_none() && started.elapsed() > ready_timeout {
                    tracing::error!(error = %reason, timeout = ?ready_timeout, "prometheus did not become ready within --prometheus.ready_timeout; still retrying");
                } else {
                    tracing::warn!(error = %reason, "prometheus not reachable");
                }
                readiness.set_not_ready(reason);
                false
            }
        };
        let wait = if ok || state.get().is_some() {
            interval
        } else {
            interval.min(Duration::from_secs(1))
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

pub(crate) fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
