//! `thanos.Targets` over the endpoints, and the deduplication and filters
//! the HTTP API answers with.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use aeon_storeapi::pb::thanos::{self, targets_request::State};
use aeon_storeapi::scrape::TargetsFrame;
use aeon_storeapi::{TargetsApi, convert};

use super::gather;
use crate::proxy::{Proxy, warn_strategy};

#[async_trait::async_trait]
impl TargetsApi for Proxy {
    async fn targets(
        &self,
        req: thanos::TargetsRequest,
    ) -> aeon_storeapi::Result<Vec<thanos::TargetsResponse>> {
        let warn = warn_strategy(false, req.partial_response_strategy);
        let eps = self.usable();
        let calls = eps
            .iter()
            .filter_map(|e| e.targets().map(|c| (e.address().to_owned(), c.clone())));
        let results = futures::future::join_all(calls.map(|(addr, c)| async move {
            (addr, self.within_store_timeout(c.targets(req)).await)
        }))
        .await;
        gather(results, warn, thanos::TargetsResponse::warning)
    }
}

/// What `/api/v1/targets` asks for, with Prometheus's semantics: `state`
/// (any case) `active`, `dropped`, `any` or empty for both, anything else
/// for neither; `scrapePool` keeps one pool (empty: all).
#[derive(Debug, Clone)]
pub(crate) struct TargetsQuery {
    pub(crate) active: bool,
    pub(crate) dropped: bool,
    pub(crate) pool: String,
}

impl TargetsQuery {
    pub(crate) fn new(state: &str, pool: &str) -> Self {
        let state = state.to_ascii_lowercase();
        let any = state.is_empty() || state == "any";
        Self {
            active: any || state == "active",
            dropped: any || state == "dropped",
            pool: pool.to_owned(),
        }
    }

    /// The state to ask the stores for; `None` when nothing is shown.
    pub(crate) fn state(&self) -> Option<State> {
        match (self.active, self.dropped) {
            (true, true) => Some(State::Any),
            (true, false) => Some(State::Active),
            (false, true) => Some(State::Dropped),
            (false, false) => None,
        }
    }

    fn keeps(&self, pool: &str) -> bool {
        self.pool.is_empty() || self.pool == pool
    }
}

/// The targets of every store, deduplicated and filtered.
#[derive(Debug, Default)]
pub(crate) struct Targets {
    pub(crate) active: Vec<thanos::ActiveTarget>,
    pub(crate) dropped: Vec<thanos::DroppedTarget>,
    /// `None` when dropped targets were not asked for (Prometheus: `null`).
    pub(crate) dropped_counts: Option<BTreeMap<String, i64>>,
}

fn labels(set: &Option<thanos::ZLabelSet>) -> &[thanos::Label] {
    set.as_ref().map_or(&[], |s| &s.labels)
}

fn strip(set: &mut Option<thanos::ZLabelSet>, replica_labels: &[String]) {
    if let Some(s) = set {
        s.labels.sort_by(|a, b| a.name.cmp(&b.name));
        convert::remove_labels(&mut s.labels, replica_labels);
    }
}

/// Thanos's target identity, scrape pool first (Prometheus lists by pool).
fn compare_active(a: &thanos::ActiveTarget, b: &thanos::ActiveTarget) -> Ordering {
    a.scrape_pool
        .cmp(&b.scrape_pool)
        .then_with(|| a.scrape_url.cmp(&b.scrape_url))
        .then_with(|| {
            convert::compare_labels(labels(&a.discovered_labels), labels(&b.discovered_labels))
        })
        .then_with(|| convert::compare_labels(labels(&a.labels), labels(&b.labels)))
}

fn compare_dropped(a: &thanos::DroppedTarget, b: &thanos::DroppedTarget) -> Ordering {
    a.scrape_pool.cmp(&b.scrape_pool).then_with(|| {
        convert::compare_labels(labels(&a.discovered_labels), labels(&b.discovered_labels))
    })
}

/// Which of two copies of a target Thanos keeps: the lower health value
/// (down before up before unknown), then the later last scrape.
fn preferred(a: &thanos::ActiveTarget, b: &thanos::ActiveTarget) -> bool {
    let t = |x: &thanos::ActiveTarget| x.last_scrape.map(|t| (t.seconds, t.nanos));
    a.health
        .cmp(&b.health)
        .then_with(|| t(b).cmp(&t(a)))
        .is_le()
}

/// Deduplicates the targets of every store as Thanos's `dedupTargets`
/// (replica labels removed from discovered and final labels; copies of one
/// target kept once), keeps what `q` asks for, sorted by pool then target;
/// dropped-target counts per pool are the largest any store reports (the
/// replicas of an HA pair report the same). And the warnings.
pub(crate) fn dedup_targets(
    frames: Vec<thanos::TargetsResponse>,
    replica_labels: &[String],
    q: &TargetsQuery,
) -> (Targets, Vec<String>) {
    let mut out = Targets::default();
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut warnings = Vec::new();
    for f in frames {
        match f.result {
            Some(TargetsFrame::Targets(t)) => {
                out.active.extend(t.active_targets);
                out.dropped.extend(t.dropped_targets);
                for (pool, n) in t.dropped_target_counts {
                    let c = counts.entry(pool).or_default();
                    *c = (*c).max(n);
                }
            }
            Some(TargetsFrame::Warning(w)) => warnings.push(w),
            None => {}
        }
    }
    out.active.retain(|t| q.active && q.keeps(&t.scrape_pool));
    out.dropped.retain(|t| q.dropped && q.keeps(&t.scrape_pool));
    for t in &mut out.active {
        strip(&mut t.discovered_labels, replica_labels);
        strip(&mut t.labels, replica_labels);
    }
    for t in &mut out.dropped {
        strip(&mut t.discovered_labels, replica_labels);
    }
    out.active.sort_by(|a, b| {
        compare_active(a, b).then_with(|| {
            if preferred(a, b) {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        })
    });
    out.active
        .dedup_by(|later, first| compare_active(later, first) == Ordering::Equal);
    out.dropped.sort_by(compare_dropped);
    out.dropped
        .dedup_by(|later, first| compare_dropped(later, first) == Ordering::Equal);
    out.dropped_counts = q.dropped.then_some(counts);
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> Option<thanos::ZLabelSet> {
        Some(thanos::ZLabelSet {
            labels: pairs
                .iter()
                .map(|(n, v)| thanos::Label::new(*n, *v))
                .collect(),
        })
    }

    fn active(
        pool: &str,
        replica: &str,
        health: thanos::TargetHealth,
        secs: i64,
    ) -> thanos::ActiveTarget {
        thanos::ActiveTarget {
            discovered_labels: set(&[("__address__", "h:1"), ("replica", replica)]),
            labels: set(&[("instance", "h:1"), ("job", pool), ("replica", replica)]),
            scrape_pool: pool.into(),
            scrape_url: "http://h:1/metrics".into(),
            last_scrape: Some(prost_types::Timestamp {
                seconds: secs,
                nanos: 0,
            }),
            health: health as i32,
            ..Default::default()
        }
    }

    fn frame(
        active: Vec<thanos::ActiveTarget>,
        dropped: &[(&str, &str)],
        n: i64,
    ) -> thanos::TargetsResponse {
        thanos::TargetsResponse::targets(thanos::TargetDiscovery {
            active_targets: active,
            dropped_targets: dropped
                .iter()
                .map(|(pool, replica)| thanos::DroppedTarget {
                    discovered_labels: set(&[("__address__", "x:1"), ("replica", replica)]),
                    scrape_pool: (*pool).into(),
                })
                .collect(),
            dropped_target_counts: [("gone".to_string(), n)].into_iter().collect(),
        })
    }

    #[test]
    fn replicas_deduplicate_as_thanos() {
        use thanos::TargetHealth::{Down, Up};
        let a = frame(
            vec![active("b", "a", Up, 10), active("a", "a", Up, 10)],
            &[("gone", "a")],
            1,
        );
        let b = frame(
            vec![active("b", "b", Up, 20), active("a", "b", Down, 5)],
            &[("gone", "b")],
            1,
        );
        let frames = vec![a, b, thanos::TargetsResponse::warning("w")];
        let replica = ["replica".to_string()];
        let (t, w) = dedup_targets(frames.clone(), &replica, &TargetsQuery::new("", ""));
        assert_eq!(w, ["w"]);
        let pools: Vec<&str> = t.active.iter().map(|t| t.scrape_pool.as_str()).collect();
        assert_eq!(pools, ["a", "b"]);
        // Pool a: down is kept over up; pool b: the later scrape.
        assert_eq!(t.active[0].health(), Down);
        assert_eq!(t.active[1].last_scrape.unwrap().seconds, 20);
        assert!(
            t.active
                .iter()
                .all(|t| !labels(&t.labels).iter().any(|l| l.name == "replica"))
        );
        assert_eq!(t.dropped.len(), 1);
        assert_eq!(t.dropped_counts.as_ref().unwrap()["gone"], 1);

        let (t, _) = dedup_targets(frames.clone(), &replica, &TargetsQuery::new("Active", "b"));
        assert_eq!(t.active.len(), 1);
        assert!(t.dropped.is_empty() && t.dropped_counts.is_none());
        let (t, _) = dedup_targets(frames.clone(), &replica, &TargetsQuery::new("nonsense", ""));
        assert!(t.active.is_empty() && t.dropped.is_empty() && t.dropped_counts.is_none());
        assert_eq!(TargetsQuery::new("nonsense", "").state(), None);
        assert_eq!(
            TargetsQuery::new("DROPPED", "").state(),
            Some(State::Dropped)
        );
    }
}
