//! `thanos.Metadata` over the endpoints, and the merge the HTTP API answers
//! with.

use std::collections::BTreeMap;

use aeon_storeapi::MetadataApi;
use aeon_storeapi::pb::thanos;
use aeon_storeapi::scrape::MetadataFrame;

use super::gather;
use crate::proxy::{Proxy, warn_strategy};

#[async_trait::async_trait]
impl MetadataApi for Proxy {
    async fn metric_metadata(
        &self,
        req: thanos::MetricMetadataRequest,
    ) -> aeon_storeapi::Result<Vec<thanos::MetricMetadataResponse>> {
        let warn = warn_strategy(false, req.partial_response_strategy);
        let eps = self.usable();
        let calls = eps
            .iter()
            .filter_map(|e| e.metadata().map(|c| (e.address().to_owned(), c.clone())));
        let results = futures::future::join_all(calls.map(|(addr, c)| {
            let req = req.clone();
            async move {
                (
                    addr,
                    self.within_store_timeout(c.metric_metadata(req)).await,
                )
            }
        }))
        .await;
        gather(results, warn, thanos::MetricMetadataResponse::warning)
    }
}

/// The metadata of every store merged: metric family → its distinct
/// metadata (Thanos's merge), sorted by type, help and unit, at most `limit`
/// families (negative: all; 0: none — Prometheus's `limit`) and
/// `limit_per_metric` entries per family (0 or negative: all); and the
/// warnings.
pub(crate) fn merge_metadata(
    frames: Vec<thanos::MetricMetadataResponse>,
    limit: i64,
    limit_per_metric: i64,
) -> (BTreeMap<String, Vec<thanos::Meta>>, Vec<String>) {
    let mut out: BTreeMap<String, Vec<thanos::Meta>> = BTreeMap::new();
    let mut warnings = Vec::new();
    for f in frames {
        match f.result {
            Some(MetadataFrame::Metadata(m)) => {
                for (name, entry) in m.metadata {
                    let metas = out.entry(name).or_default();
                    for meta in entry.metas {
                        if !metas.contains(&meta) {
                            metas.push(meta);
                        }
                    }
                }
            }
            Some(MetadataFrame::Warning(w)) => warnings.push(w),
            None => {}
        }
    }
    // Prometheus's order is its map's (random); sorted here, so answers
    // do not depend on which store answered first.
    let per_metric = usize::try_from(limit_per_metric).ok().filter(|n| *n > 0);
    for metas in out.values_mut() {
        metas.sort_by(|a, b| (&a.r#type, &a.help, &a.unit).cmp(&(&b.r#type, &b.help, &b.unit)));
        if let Some(n) = per_metric {
            metas.truncate(n);
        }
    }
    if let Ok(limit) = usize::try_from(limit)
        && out.len() > limit
    {
        out = out.into_iter().take(limit).collect();
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(t: &str, help: &str) -> thanos::Meta {
        thanos::Meta {
            r#type: t.into(),
            help: help.into(),
            unit: String::new(),
        }
    }

    fn frame(entries: &[(&str, Vec<thanos::Meta>)]) -> thanos::MetricMetadataResponse {
        thanos::MetricMetadataResponse::metadata(thanos::MetricMetadata {
            metadata: entries
                .iter()
                .map(|(n, m)| {
                    (
                        n.to_string(),
                        thanos::MetricMetadataEntry { metas: m.clone() },
                    )
                })
                .collect(),
        })
    }

    #[test]
    fn replicas_merge_and_limits_apply() {
        let a = frame(&[
            ("up", vec![meta("gauge", "up")]),
            ("x", vec![meta("counter", "x1")]),
        ]);
        let b = frame(&[
            ("up", vec![meta("gauge", "up")]),
            ("x", vec![meta("counter", "x2")]),
            ("y", vec![meta("gauge", "y")]),
        ]);
        let w = thanos::MetricMetadataResponse::warning("store z: down");
        let frames = vec![a, w, b];
        let (m, warnings) = merge_metadata(frames.clone(), -1, -1);
        assert_eq!(warnings, ["store z: down"]);
        assert_eq!(m.len(), 3);
        assert_eq!(m["up"], vec![meta("gauge", "up")]);
        assert_eq!(m["x"], vec![meta("counter", "x1"), meta("counter", "x2")]);
        let (m, _) = merge_metadata(frames.clone(), 2, -1);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["up", "x"]);
        let (m, _) = merge_metadata(frames.clone(), 0, -1);
        assert!(m.is_empty());
        let (m, _) = merge_metadata(frames, -1, 1);
        assert_eq!(m["x"], vec![meta("counter", "x1")]);
    }
}
