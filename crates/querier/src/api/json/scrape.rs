//! JSON of `/api/v1/metadata`, `/api/v1/query_exemplars` and
//! `/api/v1/targets` in Prometheus 3.5's shapes (field names and order of
//! its `web/api/v1` types).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use aeon_storeapi::pb::thanos;

use super::{format_ts, json_str};
use crate::api::number::json_float;
use crate::fanout::Targets;

/// A wire label set as a JSON object (`{}` when absent).
fn label_set(set: &Option<thanos::ZLabelSet>) -> String {
    let items: Vec<String> = set
        .iter()
        .flat_map(|s| &s.labels)
        .map(|l| format!("{}:{}", json_str(&l.name), json_str(&l.value)))
        .collect();
    format!("{{{}}}", items.join(","))
}

/// `{"<metric>":[{"type":…,"help":…,"unit":…}],…}`, metrics sorted.
pub(crate) fn metadata(m: &BTreeMap<String, Vec<thanos::Meta>>) -> String {
    let items: Vec<String> = m
        .iter()
        .map(|(name, metas)| {
            let metas: Vec<String> = metas
                .iter()
                .map(|x| {
                    format!(
                        "{{\"type\":{},\"help\":{},\"unit\":{}}}",
                        json_str(&x.r#type),
                        json_str(&x.help),
                        json_str(&x.unit)
                    )
                })
                .collect();
            format!("{}:[{}]", json_str(name), metas.join(","))
        })
        .collect();
    format!("{{{}}}", items.join(","))
}

/// `[{"seriesLabels":{…},"exemplars":[{"labels":{…},"value":"…","timestamp":…}]}]`.
pub(crate) fn exemplars(data: &[thanos::ExemplarData]) -> String {
    let items: Vec<String> = data
        .iter()
        .map(|d| {
            let ex: Vec<String> = d
                .exemplars
                .iter()
                .map(|e| {
                    format!(
                        "{{\"labels\":{},\"value\":\"{}\",\"timestamp\":{}}}",
                        label_set(&e.labels),
                        json_float(e.value),
                        format_ts(e.ts)
                    )
                })
                .collect();
            format!(
                "{{\"seriesLabels\":{},\"exemplars\":[{}]}}",
                label_set(&d.series_labels),
                ex.join(",")
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// A protobuf timestamp as Go's `time.Time` JSON (RFC 3339, UTC, trailing
/// zeros of the fraction trimmed).
pub(crate) fn go_time(t: Option<prost_types::Timestamp>) -> String {
    let t = t.unwrap_or(prost_types::Timestamp {
        seconds: -62_135_596_800,
        nanos: 0,
    });
    let nanos = u32::try_from(t.nanos).unwrap_or(0);
    let Some(dt) = chrono::DateTime::from_timestamp(t.seconds, nanos) else {
        return json_str("0001-01-01T00:00:00Z");
    };
    let mut s = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        let _ = write!(s, ".{}", frac.trim_end_matches('0'));
    }
    s.push('Z');
    json_str(&s)
}

/// A float as Go's `encoding/json` writes a `float64` field.
fn go_float(f: f64) -> String {
    if f.is_finite() {
        serde_json::to_string(&f).unwrap_or_else(|_| "0".into())
    } else {
        "0".into()
    }
}

/// `{"activeTargets":[…],"droppedTargets":[…],"droppedTargetCounts":{…}|null}`.
pub(crate) fn targets(t: &Targets) -> String {
    let active: Vec<String> = t
        .active
        .iter()
        .map(|a| {
            format!(
                "{{\"discoveredLabels\":{},\"labels\":{},\"scrapePool\":{},\"scrapeUrl\":{},\"globalUrl\":{},\"lastError\":{},\"lastScrape\":{},\"lastScrapeDuration\":{},\"health\":\"{}\",\"scrapeInterval\":{},\"scrapeTimeout\":{}}}",
                label_set(&a.discovered_labels),
                label_set(&a.labels),
                json_str(&a.scrape_pool),
                json_str(&a.scrape_url),
                json_str(&a.global_url),
                json_str(&a.last_error),
                go_time(a.last_scrape),
                go_float(a.last_scrape_duration),
                a.health().as_prometheus_str(),
                json_str(&a.scrape_interval),
                json_str(&a.scrape_timeout),
            )
        })
        .collect();
    let dropped: Vec<String> = t
        .dropped
        .iter()
        .map(|d| {
            format!(
                "{{\"discoveredLabels\":{},\"scrapePool\":{}}}",
                label_set(&d.discovered_labels),
                json_str(&d.scrape_pool)
            )
        })
        .collect();
    let counts = match &t.dropped_counts {
        None => "null".to_owned(),
        Some(c) => {
            let items: Vec<String> = c
                .iter()
                .map(|(pool, n)| format!("{}:{n}", json_str(pool)))
                .collect();
            format!("{{{}}}", items.join(","))
        }
    };
    format!(
        "{{\"activeTargets\":[{}],\"droppedTargets\":[{}],\"droppedTargetCounts\":{counts}}}",
        active.join(","),
        dropped.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_times() {
        let t = |seconds, nanos| go_time(Some(prost_types::Timestamp { seconds, nanos }));
        assert_eq!(t(1_714_557_600, 0), "\"2024-05-01T10:00:00Z\"");
        assert_eq!(t(1_714_557_600, 120_000_000), "\"2024-05-01T10:00:00.12Z\"");
        assert_eq!(t(1_714_557_600, 1), "\"2024-05-01T10:00:00.000000001Z\"");
        assert_eq!(go_time(None), "\"0001-01-01T00:00:00Z\"");
    }

    #[test]
    fn shapes() {
        let mut m = BTreeMap::new();
        m.insert(
            "up".to_string(),
            vec![thanos::Meta {
                r#type: "gauge".into(),
                help: "a <b>".into(),
                unit: String::new(),
            }],
        );
        assert_eq!(
            metadata(&m),
            r#"{"up":[{"type":"gauge","help":"a <b>","unit":""}]}"#
        );
        let d = thanos::ExemplarData {
            series_labels: Some(thanos::ZLabelSet {
                labels: vec![thanos::Label::new("__name__", "x")],
            }),
            exemplars: vec![thanos::Exemplar {
                labels: None,
                value: 6.0,
                ts: 1_600_096_945_479,
            }],
        };
        assert_eq!(
            exemplars(&[d]),
            r#"[{"seriesLabels":{"__name__":"x"},"exemplars":[{"labels":{},"value":"6","timestamp":1600096945.479}]}]"#
        );
        let t = Targets::default();
        assert_eq!(
            targets(&t),
            r#"{"activeTargets":[],"droppedTargets":[],"droppedTargetCounts":null}"#
        );
    }
}
