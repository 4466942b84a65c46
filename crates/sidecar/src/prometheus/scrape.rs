//! Prometheus's `/api/v1/metadata`, `/api/v1/query_exemplars` and
//! `/api/v1/targets`, read into the Thanos wire messages (what Thanos's
//! `promclient` does for its Metadata, Exemplars and Targets servers).

use std::collections::BTreeMap;

use aeon_model::Timestamp;
use aeon_storeapi::pb::thanos;
use serde::Deserialize;

use super::{PromClient, format_ts, parse_api};
use crate::{Error, Result};

#[derive(Deserialize)]
struct MetaJson {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    help: String,
    #[serde(default)]
    unit: String,
}

#[derive(Deserialize)]
struct ExemplarDataJson {
    #[serde(rename = "seriesLabels", default)]
    series_labels: BTreeMap<String, String>,
    #[serde(default)]
    exemplars: Vec<ExemplarJson>,
}

#[derive(Deserialize)]
struct ExemplarJson {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    value: String,
    timestamp: serde_json::Number,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetsJson {
    #[serde(default)]
    active_targets: Vec<ActiveJson>,
    #[serde(default)]
    dropped_targets: Vec<DroppedJson>,
    #[serde(default)]
    dropped_target_counts: Option<BTreeMap<String, i64>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActiveJson {
    #[serde(default)]
    discovered_labels: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    scrape_pool: String,
    #[serde(default)]
    scrape_url: String,
    #[serde(default)]
    global_url: String,
    #[serde(default)]
    last_error: String,
    #[serde(default)]
    last_scrape: String,
    #[serde(default)]
    last_scrape_duration: f64,
    #[serde(default)]
    health: String,
    #[serde(default)]
    scrape_interval: String,
    #[serde(default)]
    scrape_timeout: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DroppedJson {
    #[serde(default)]
    discovered_labels: BTreeMap<String, String>,
    #[serde(default)]
    scrape_pool: String,
}

fn label_set(m: BTreeMap<String, String>) -> Option<thanos::ZLabelSet> {
    Some(thanos::ZLabelSet {
        labels: m
            .into_iter()
            .map(|(name, value)| thanos::Label { name, value })
            .collect(),
    })
}

/// Prometheus's JSON timestamp (seconds, up to ms decimals) in ms, exactly.
pub(crate) fn seconds_to_ms(s: &str) -> Option<Timestamp> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let exact = !int.is_empty()
        && frac.len() <= 3
        && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit());
    let ms = if exact {
        let whole: i64 = int.parse().ok()?;
        let frac_ms: i64 = format!("{frac:0<3}").parse().ok()?;
        whole.checked_mul(1000)?.checked_add(frac_ms)?
    } else {
        let f: f64 = digits.parse().ok()?;
        (f * 1000.0).round() as i64
    };
    Some(if neg { -ms } else { ms })
}

/// An RFC 3339 time (Go's `time.Time` JSON) as a protobuf timestamp.
fn rfc3339(s: &str) -> Option<prost_types::Timestamp> {
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).ok()?,
    })
}

fn bad(url: &str, reason: String) -> Error {
    Error::PrometheusResponse {
        url: url.to_string(),
        reason,
    }
}

impl PromClient {
    /// `GET /api/v1/metadata` (`metric` when not empty, `limit` when not
    /// negative, as Thanos asks).
    pub async fn metric_metadata(
        &self,
        metric: &str,
        limit: i32,
    ) -> Result<thanos::MetricMetadata> {
        let mut q: Vec<(&str, String)> = Vec::new();
        if !metric.is_empty() {
            q.push(("metric", metric.to_string()));
        }
        if limit >= 0 {
            q.push(("limit", limit.to_string()));
        }
        let data: Option<BTreeMap<String, Vec<MetaJson>>> =
            self.get_api("/api/v1/metadata", &q).await?;
        let metadata = data
            .unwrap_or_default()
            .into_iter()
            .map(|(name, metas)| {
                let metas = metas
                    .into_iter()
                    .map(|m| thanos::Meta {
                        r#type: m.kind,
                        help: m.help,
                        unit: m.unit,
                    })
                    .collect();
                (name, thanos::MetricMetadataEntry { metas })
            })
            .collect();
        Ok(thanos::MetricMetadata { metadata })
    }

    /// `GET /api/v1/query_exemplars` over `[start, end]` (ms). A query
    /// without series selectors has no exemplars (Prometheus answers 204).
    pub async fn exemplars(
        &self,
        query: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<thanos::ExemplarData>> {
        let url = self.endpoint("/api/v1/query_exemplars");
        let req = self.request(reqwest::Method::GET, &url)?.query(&[
            ("query", query.to_string()),
            ("start", format_ts(start)),
            ("end", format_ts(end)),
        ]);
        let resp = self.send_unbounded(req, &url).await?;
        if resp.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(Vec::new());
        }
        let body = self.body(resp, &url).await?;
        let data: Option<Vec<ExemplarDataJson>> = parse_api(&body, &url)?;
        data.unwrap_or_default()
            .into_iter()
            .map(|d| {
                let exemplars = d
                    .exemplars
                    .into_iter()
                    .map(|e| {
                        let value: f64 = e
                            .value
                            .parse()
                            .map_err(|_| bad(&url, format!("exemplar value {:?}", e.value)))?;
                        let ts = seconds_to_ms(&e.timestamp.to_string()).ok_or_else(|| {
                            bad(&url, format!("exemplar timestamp {}", e.timestamp))
                        })?;
                        Ok(thanos::Exemplar {
                            labels: label_set(e.labels),
                            value,
                            ts,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(thanos::ExemplarData {
                    series_labels: label_set(d.series_labels),
                    exemplars,
                })
            })
            .collect()
    }

    /// `GET /api/v1/targets` (`state`: `active`, `dropped`, or all when empty).
    pub async fn targets(&self, state: &str) -> Result<thanos::TargetDiscovery> {
        let url = self.endpoint("/api/v1/targets");
        let mut q: Vec<(&str, String)> = Vec::new();
        if !state.is_empty() {
            q.push(("state", state.to_string()));
        }
        let t: TargetsJson = self.get_api("/api/v1/targets", &q).await?;
        let active_targets = t
            .active_targets
            .into_iter()
            .map(|a| {
                let health = thanos::TargetHealth::from_prometheus_str(&a.health)
                    .ok_or_else(|| bad(&url, format!("target health {:?}", a.health)))?;
                let last_scrape = rfc3339(&a.last_scrape)
                    .ok_or_else(|| bad(&url, format!("target lastScrape {:?}", a.last_scrape)))?;
                Ok(thanos::ActiveTarget {
                    discovered_labels: label_set(a.discovered_labels),
                    labels: label_set(a.labels),
                    scrape_pool: a.scrape_pool,
                    scrape_url: a.scrape_url,
                    global_url: a.global_url,
                    last_error: a.last_error,
                    last_scrape: Some(last_scrape),
                    last_scrape_duration: a.last_scrape_duration,
                    health: health as i32,
                    scrape_interval: a.scrape_interval,
                    scrape_timeout: a.scrape_timeout,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let dropped_targets = t
            .dropped_targets
            .into_iter()
            .map(|d| thanos::DroppedTarget {
                discovered_labels: label_set(d.discovered_labels),
                scrape_pool: d.scrape_pool,
            })
            .collect();
        Ok(thanos::TargetDiscovery {
            active_targets,
            dropped_targets,
            dropped_target_counts: t
                .dropped_target_counts
                .unwrap_or_default()
                .into_iter()
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_seconds_to_ms_exactly() {
        assert_eq!(seconds_to_ms("1600096945.479"), Some(1_600_096_945_479));
        assert_eq!(seconds_to_ms("1600096945.4"), Some(1_600_096_945_400));
        assert_eq!(seconds_to_ms("1600096945"), Some(1_600_096_945_000));
        assert_eq!(seconds_to_ms("-1.5"), Some(-1_500));
        assert_eq!(seconds_to_ms("1.6e9"), Some(1_600_000_000_000));
        assert_eq!(seconds_to_ms("x"), None);
    }

    #[test]
    fn go_times() {
        let t = rfc3339("2024-05-01T10:00:00.123456789Z").unwrap();
        assert_eq!((t.seconds, t.nanos), (1_714_557_600, 123_456_789));
        let z = rfc3339("0001-01-01T00:00:00Z").unwrap();
        assert_eq!(z.seconds, -62_135_596_800);
        let off = rfc3339("2024-05-01T12:00:00+02:00").unwrap();
        assert_eq!(off.seconds, 1_714_557_600);
    }
}
