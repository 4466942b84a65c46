//! JSON encoding of the API's answers, byte for byte as Prometheus 3.5
//! writes them: the `success` envelope with `warnings` and `infos`, query
//! results (timestamps in seconds, values as strings, native histograms),
//! label sets and string lists, Thanos's `/api/v1/stores` groups, and the AST
//! of `parse_query` ([`ast`]).

pub(crate) mod ast;
pub(crate) mod scrape;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::SystemTime;

use aeon_model::Labels;
use aeon_promql::Value;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::number::json_float;
use crate::endpoints::EndpointStatus;

/// A JSON string literal.
pub(crate) fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A success envelope around already-encoded `data`.
pub(crate) fn success(data: &str, warnings: &[String], infos: &[String]) -> Response {
    let mut body = format!("{{\"status\":\"success\",\"data\":{data}");
    for (key, list) in [("warnings", warnings), ("infos", infos)] {
        if !list.is_empty() {
            let items: Vec<String> = list.iter().map(|w| json_str(w)).collect();
            let _ = write!(body, ",\"{key}\":[{}]", items.join(","));
        }
    }
    body.push('}');
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Formats a ms timestamp as Prometheus does: unix seconds, up to 3 decimals.
pub(crate) fn format_ts(t: i64) -> String {
    let sign = if t < 0 { "-" } else { "" };
    let a = t.unsigned_abs();
    let (s, ms) = (a / 1000, a % 1000);
    if ms == 0 {
        format!("{sign}{s}")
    } else {
        let frac = format!("{ms:03}");
        format!("{sign}{s}.{}", frac.trim_end_matches('0'))
    }
}

fn point(t: i64, v: f64) -> String {
    format!("[{},\"{}\"]", format_ts(t), json_float(v))
}

/// A native histogram as Prometheus writes it: count, sum and the non-empty
/// buckets as `[boundary_rule, "lower", "upper", "count"]` (0 open left,
/// 1 open right, 3 closed both).
pub(crate) fn histogram_json(h: &aeon_promql::FloatHistogram) -> String {
    let mut out = format!(
        "{{\"count\":\"{}\",\"sum\":\"{}\"",
        json_float(h.count),
        json_float(h.sum)
    );
    let custom = h.uses_custom_buckets();
    let buckets: Vec<String> = h
        .all_buckets()
        .into_iter()
        .filter(|b| b.count != 0.0)
        .map(|b| {
            let rule = if custom {
                0
            } else if b.lower == -h.zero_threshold && b.upper == h.zero_threshold {
                3
            } else if b.upper <= 0.0 {
                1
            } else {
                0
            };
            format!(
                "[{rule},\"{}\",\"{}\",\"{}\"]",
                json_float(b.lower),
                json_float(b.upper),
                json_float(b.count)
            )
        })
        .collect();
    if !buckets.is_empty() {
        let _ = write!(out, ",\"buckets\":[{}]", buckets.join(","));
    }
    out.push('}');
    out
}

/// A label set as a JSON object.
pub(crate) fn labels_json(l: &Labels) -> String {
    serde_json::to_string(l).unwrap_or_else(|_| "{}".into())
}

/// A JSON array of label sets (`/api/v1/series`).
pub(crate) fn labels_array(sets: &[Labels]) -> String {
    let items: Vec<String> = sets.iter().map(labels_json).collect();
    format!("[{}]", items.join(","))
}

/// A JSON array of strings (`/api/v1/labels`, `/api/v1/label/<name>/values`).
pub(crate) fn string_array(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter().map(|s| json_str(s)).collect::<Vec<_>>().join(",")
    )
}

/// Encodes a query result's `data` object.
pub(crate) fn encode_value(v: &Value) -> String {
    match v {
        Value::Scalar { t, v } => {
            format!("{{\"resultType\":\"scalar\",\"result\":{}}}", point(*t, *v))
        }
        Value::String { t, v } => format!(
            "{{\"resultType\":\"string\",\"result\":[{},{}]}}",
            format_ts(*t),
            json_str(v)
        ),
        Value::Vector(vec) => {
            let items: Vec<String> = vec
                .iter()
                .map(|s| {
                    let m = if s.drop_name {
                        s.metric.without(&[aeon_model::METRIC_NAME])
                    } else {
                        s.metric.clone()
                    };
                    match &s.h {
                        Some(h) => format!(
                            "{{\"metric\":{},\"histogram\":[{},{}]}}",
                            labels_json(&m),
                            format_ts(s.t),
                            histogram_json(h)
                        ),
                        None => format!(
                            "{{\"metric\":{},\"value\":{}}}",
                            labels_json(&m),
                            point(s.t, s.f)
                        ),
                    }
                })
                .collect();
            format!(
                "{{\"resultType\":\"vector\",\"result\":[{}]}}",
                items.join(",")
            )
        }
        Value::Matrix(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|s| {
                    let metric = if s.drop_name {
                        s.metric.without(&[aeon_model::METRIC_NAME])
                    } else {
                        s.metric.clone()
                    };
                    let mut out = format!("{{\"metric\":{}", labels_json(&metric));
                    if !s.floats.is_empty() || s.histograms.is_empty() {
                        let pts: Vec<String> = s.floats.iter().map(|p| point(p.t, p.f)).collect();
                        let _ = write!(out, ",\"values\":[{}]", pts.join(","));
                    }
                    if !s.histograms.is_empty() {
                        let hs: Vec<String> = s
                            .histograms
                            .iter()
                            .map(|p| format!("[{},{}]", format_ts(p.t), histogram_json(&p.h)))
                            .collect();
                        let _ = write!(out, ",\"histograms\":[{}]", hs.join(","));
                    }
                    out.push('}');
                    out
                })
                .collect();
            format!(
                "{{\"resultType\":\"matrix\",\"result\":[{}]}}",
                items.join(",")
            )
        }
    }
}

/// `/api/v1/status/buildinfo`'s data: Prometheus's fields (no `features`,
/// which Prometheus 3.5 does not have either), filled at build time
/// (`build.rs`): the crate version, git commit and branch, the commit date,
/// the building user, and the Rust compiler in place of Go's version.
pub(crate) fn buildinfo() -> String {
    format!(
        "{{\"version\":{},\"revision\":{},\"branch\":{},\"buildUser\":{},\"buildDate\":{},\"goVersion\":{}}}",
        json_str(env!("CARGO_PKG_VERSION")),
        json_str(env!("AEON_GIT_COMMIT")),
        json_str(env!("AEON_GIT_BRANCH")),
        json_str(env!("AEON_BUILD_USER")),
        json_str(env!("AEON_BUILD_DATE")),
        json_str(env!("AEON_RUST_VERSION")),
    )
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `/api/v1/stores`'s data: endpoints grouped by component type (Thanos's
/// shape; `unknown` when an endpoint advertised none).
pub(crate) fn stores(statuses: &[EndpointStatus]) -> String {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in statuses {
        let adv = s.advertised.clone().unwrap_or_default();
        let kind = if adv.component_type.is_empty() {
            "unknown".to_owned()
        } else {
            adv.component_type.clone()
        };
        let label_sets: Vec<String> = adv.label_sets.iter().map(labels_json).collect();
        let entry = format!(
            "{{\"name\":{},\"healthy\":{},\"lastCheck\":{},\"lastError\":{},\"labelSets\":[{}],\"minTime\":{},\"maxTime\":{}}}",
            json_str(&s.address),
            s.healthy,
            s.last_check
                .map_or("null".into(), |t| json_str(&rfc3339(t))),
            s.last_error.as_deref().map_or("null".into(), json_str),
            label_sets.join(","),
            adv.min_time,
            adv.max_time
        );
        groups.entry(kind).or_default().push(entry);
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(k, v)| format!("{}:[{}]", json_str(k), v.join(",")))
        .collect();
    format!("{{{}}}", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_like_prometheus() {
        assert_eq!(format_ts(1_435_781_451_781), "1435781451.781");
        assert_eq!(format_ts(1_435_781_451_000), "1435781451");
        assert_eq!(format_ts(1_435_781_451_100), "1435781451.1");
        assert_eq!(format_ts(-1_500), "-1.5");
        assert_eq!(format_ts(0), "0");
    }

    #[test]
    fn values_encode() {
        assert_eq!(
            encode_value(&Value::Scalar {
                t: 1000,
                v: f64::INFINITY
            }),
            r#"{"resultType":"scalar","result":[1,"+Inf"]}"#
        );
        assert_eq!(
            encode_value(&Value::String {
                t: 1500,
                v: "a\"b".into()
            }),
            r#"{"resultType":"string","result":[1.5,"a\"b"]}"#
        );
        let v = Value::Vector(vec![aeon_promql::Sample {
            metric: Labels::from_pairs(&[("__name__", "up"), ("job", "x")]),
            t: 2000,
            f: 0.1,
            h: None,
            drop_name: true,
        }]);
        assert_eq!(
            encode_value(&v),
            r#"{"resultType":"vector","result":[{"metric":{"job":"x"},"value":[2,"0.1"]}]}"#
        );
        let m = Value::Matrix(vec![aeon_promql::Series {
            metric: Labels::from_pairs(&[("a", "b")]),
            floats: vec![
                aeon_promql::FPoint { t: 0, f: f64::NAN },
                aeon_promql::FPoint {
                    t: 15_000,
                    f: -1e-7,
                },
            ],
            histograms: vec![],
            drop_name: false,
        }]);
        assert_eq!(
            encode_value(&m),
            r#"{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[0,"NaN"],[15,"-1e-07"]]}]}"#
        );
    }

    #[test]
    fn histograms_encode_like_prometheus() {
        let h = aeon_promql::FloatHistogram {
            schema: 0,
            zero_threshold: 0.001,
            zero_count: 1.0,
            count: 10.0,
            sum: 12.5,
            positive: [(0, 2.0), (1, 3.0), (2, 0.0)].into_iter().collect(),
            negative: [(1, 2.0)].into_iter().collect(),
            ..Default::default()
        };
        assert_eq!(
            histogram_json(&h),
            r#"{"count":"10","sum":"12.5","buckets":[[1,"-2","-1","2"],[3,"-0.001","0.001","1"],[0,"0.5","1","2"],[0,"1","2","3"]]}"#
        );
        let v = Value::Vector(vec![aeon_promql::Sample {
            metric: Labels::from_pairs(&[("a", "b")]),
            t: 1000,
            f: 0.0,
            h: Some(std::sync::Arc::new(h.clone())),
            drop_name: false,
        }]);
        assert!(encode_value(&v).contains(r#""histogram":[1,{"count":"10""#));
        let m = Value::Matrix(vec![aeon_promql::Series {
            metric: Labels::from_pairs(&[("a", "b")]),
            floats: vec![],
            histograms: vec![aeon_promql::HPoint {
                t: 2000,
                h: std::sync::Arc::new(h),
            }],
            drop_name: false,
        }]);
        let e = encode_value(&m);
        assert!(
            e.contains(r#""histograms":[[2,{"count""#) && !e.contains("values"),
            "{e}"
        );
    }

    #[test]
    fn lists_encode() {
        assert_eq!(string_array(&["a".into(), "b\"".into()]), r#"["a","b\""]"#);
        assert_eq!(string_array(&[]), "[]");
        assert_eq!(
            labels_array(&[Labels::from_pairs(&[("a", "1")])]),
            r#"[{"a":"1"}]"#
        );
    }
}
