//! The results cache (Cortex's `resultsCache`): per tenant, query, step,
//! split interval and every other parameter, the extents of answers already
//! seen; a part is answered from the extents it overlaps, and only the gaps
//! are asked downstream. Nothing newer than `now - max freshness` is kept,
//! nor any answer with warnings (Thanos's querier marks those `no-store`),
//! nor one a `Cache-Control: no-store` forbids.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aeon_cache::SharedCache;
use serde::{Deserialize, Serialize};

use crate::request::RangeRequest;
use crate::response::{Response, merge};

/// Extents shorter than this are not used for requests longer than it
/// (Cortex's `minCacheExtent`): a few larger queries beat many tiny ones.
const MIN_CACHE_EXTENT_MS: i64 = 5 * 60_000;

/// A cached answer over `[start, end]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Extent {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) response: Response,
}

/// What is stored under a key: the full key (a hashed key's collision is a
/// miss, never someone else's answer) and the extents.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    key: String,
    extents: Vec<Extent>,
}

/// The cache and its settings.
#[derive(Debug, Clone)]
pub(crate) struct ResultsCache {
    cache: SharedCache,
    max_freshness: Duration,
    split_ms: i64,
}

/// Now in milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl ResultsCache {
    /// `split_ms` is the split interval (> 0: Thanos requires one with a
    /// results cache).
    pub(crate) fn new(cache: SharedCache, max_freshness: Duration, split_ms: i64) -> Self {
        Self {
            cache,
            max_freshness,
            split_ms,
        }
    }

    /// The newest time whose samples may be cached.
    pub(crate) fn max_cache_time(&self, now: i64) -> i64 {
        now - self.max_freshness.as_millis() as i64
    }

    /// The key of a part: tenant, query, step, the split interval and which
    /// interval the part starts in, and every other parameter (`dedup`,
    /// `partial_response`, `max_source_resolution`, replica labels, engine,
    /// shard, …), so answers that may differ never share a key.
    pub(crate) fn key(&self, tenant: &str, r: &RangeRequest) -> String {
        format!(
            "fe:{tenant}:{}:{}:{}:{}:{}",
            r.query,
            r.step,
            self.split_ms,
            r.start.div_euclid(self.split_ms),
            r.canonical_rest()
        )
    }

    /// The extents stored under `key` (none on a miss or a broken entry).
    pub(crate) async fn get(&self, key: &str) -> Vec<Extent> {
        let hashed = aeon_cache::hash_key(key);
        let mut found = self.cache.fetch(std::slice::from_ref(&hashed)).await;
        let Some(bytes) = found.remove(&hashed) else {
            return Vec::new();
        };
        match serde_json::from_slice::<Entry>(&bytes) {
            Ok(e) if e.key == key => e.extents,
            Ok(_) => Vec::new(),
            Err(e) => {
                tracing::warn!(error = %e, "undecodable results cache entry, ignored");
                Vec::new()
            }
        }
    }

    /// Stores `extents` under `key`, without anything newer than the
    /// freshness limit.
    pub(crate) async fn put(&self, key: &str, step: i64, extents: Vec<Extent>, now: i64) {
        let max_time = self.max_cache_time(now).div_euclid(step) * step;
        let extents: Vec<Extent> = extents
            .into_iter()
            .filter_map(|mut e| {
                if e.end > max_time {
                    e.end = max_time;
                    e.response = e.response.extract(e.start, max_time);
                }
                (e.end >= e.start).then_some(e)
            })
            .collect();
        if extents.is_empty() {
            return;
        }
        let entry = Entry {
            key: key.to_owned(),
            extents,
        };
        match serde_json::to_vec(&entry) {
            Ok(bytes) => {
                self.cache
                    .store(vec![(aeon_cache::hash_key(key), bytes)], Duration::ZERO)
                    .await
            }
            Err(e) => tracing::warn!(error = %e, "cannot encode results cache entry"),
        }
    }
}

/// Cortex's `partition`: the requests for what `extents` (sorted by start)
/// lack of `req`, and the cached answers cut to `req`.
pub(crate) fn partition(
    req: &RangeRequest,
    extents: &[Extent],
) -> (Vec<RangeRequest>, Vec<Response>) {
    let mut requests = Vec::new();
    let mut cached = Vec::new();
    let mut start = req.start;
    for e in extents {
        if e.end < start || e.start > req.end {
            continue;
        }
        if req.start != req.end
            && req.end - req.start > MIN_CACHE_EXTENT_MS
            && e.end - e.start < MIN_CACHE_EXTENT_MS
        {
            continue;
        }
        if start < e.start {
            requests.push(req.with_range(start, e.start));
        }
        cached.push(e.response.extract(start, req.end));
        start = e.end;
    }
    if start < req.end {
        requests.push(req.with_range(start, req.end));
    }
    if req.start == req.end && cached.is_empty() {
        requests.push(req.clone());
    }
    (requests, cached)
}

/// Cortex's extent merge: sorted by start (longer first), overlapping or
/// adjacent (within a step) extents joined.
pub(crate) fn merge_extents(mut extents: Vec<Extent>, step: i64) -> Vec<Extent> {
    extents.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out: Vec<Extent> = Vec::with_capacity(extents.len());
    for e in extents {
        match out.last_mut() {
            Some(acc) if acc.end + step >= e.start => {
                if acc.end >= e.end {
                    continue;
                }
                acc.end = e.end;
                let prev = std::mem::replace(&mut acc.response, Response::empty());
                acc.response = merge(vec![prev, e.response]);
            }
            _ => out.push(e),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(start: i64, end: i64) -> RangeRequest {
        RangeRequest {
            query: "up".into(),
            start,
            end,
            step: 60_000,
            rest: vec![("dedup".into(), "true".into())],
        }
    }

    fn ext(start: i64, end: i64) -> Extent {
        let values: Vec<serde_json::Value> = (0..)
            .map(|i| start + i * 60_000)
            .take_while(|t| *t <= end)
            .map(|t| serde_json::json!([t / 1000, "1"]))
            .collect();
        Extent {
            start,
            end,
            response: serde_json::from_value(serde_json::json!({
                "status": "success",
                "data": {"resultType": "matrix", "result": [{"metric": {"a": "b"}, "values": values}]}
            }))
            .unwrap(),
        }
    }

    const H: i64 = 3_600_000;

    #[test]
    fn partition_asks_only_for_gaps() {
        let (reqs, cached) = partition(&req(0, 4 * H), &[ext(H, 2 * H)]);
        let r: Vec<_> = reqs.iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(r, [(0, H), (2 * H, 4 * H)]);
        assert_eq!(cached.len(), 1);
        // Fully covered: nothing to ask.
        let (reqs, cached) = partition(&req(H, 2 * H), &[ext(0, 3 * H)]);
        assert!(reqs.is_empty());
        assert_eq!(cached[0].data.result[0].values.len(), 61);
        // Tiny extents are ignored for long requests.
        let (reqs, _) = partition(&req(0, 4 * H), &[ext(H, H + 60_000)]);
        assert_eq!(reqs.len(), 1);
    }

    #[test]
    fn extents_merge_when_they_touch() {
        let m = merge_extents(
            vec![ext(2 * H, 3 * H), ext(0, H), ext(H + 60_000, 2 * H)],
            60_000,
        );
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].start, m[0].end), (0, 3 * H));
        assert_eq!(m[0].response.data.result[0].values.len(), 181);
        let m = merge_extents(vec![ext(0, H), ext(2 * H, 3 * H)], 60_000);
        assert_eq!(m.len(), 2);
    }

    #[tokio::test]
    async fn keys_separate_parameters_and_recent_data_is_not_kept() {
        let cache: SharedCache = std::sync::Arc::new(aeon_cache::MemoryCache::with_bounds(
            1 << 20,
            0,
            Duration::ZERO,
            aeon_cache::CacheMetrics::default(),
        ));
        let rc = ResultsCache::new(cache, Duration::from_secs(60), 24 * H);
        let a = req(0, H);
        let mut b = a.clone();
        b.rest = vec![("dedup".into(), "false".into())];
        assert_ne!(rc.key("t", &a), rc.key("t", &b));
        assert_ne!(rc.key("t", &a), rc.key("u", &a));
        let mut c = a.clone();
        c.rest.push(("max_source_resolution".into(), "5m".into()));
        assert_ne!(rc.key("t", &a), rc.key("t", &c));
        // The same day: the same key whatever the range.
        assert_eq!(rc.key("t", &a), rc.key("t", &req(H, 2 * H)));

        // "now" is 2h: everything after 1h59m is cut.
        let now = 2 * H;
        rc.put("k", 60_000, vec![ext(0, 2 * H)], now).await;
        let got = rc.get("k").await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].end, 2 * H - 60_000);
        assert_eq!(got[0].response.data.result[0].values.len(), 120);
        assert!(rc.get("other").await.is_empty());
    }
}
