//! A range query as the frontend sees it: Prometheus's parameter syntax
//! (times as float seconds or RFC 3339, steps as float seconds or a
//! duration) and every other parameter kept, in order, for the downstream.

use std::collections::BTreeMap;

/// A parsed `/api/v1/query_range` request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RangeRequest {
    /// The PromQL text.
    pub(crate) query: String,
    /// Start in milliseconds.
    pub(crate) start: i64,
    /// End in milliseconds (inclusive).
    pub(crate) end: i64,
    /// Step in milliseconds (> 0).
    pub(crate) step: i64,
    /// Every other parameter (`dedup`, `partial_response`, `engine`, …),
    /// in request order.
    pub(crate) rest: Vec<(String, String)>,
}

/// Parameters that never reach the downstream from the frontend's parts or
/// the cache key: the range is the part's own, `stats` is dropped (parts'
/// statistics do not add up to the query's).
const RANGE_PARAMS: &[&str] = &["query", "start", "end", "step", "stats"];

impl RangeRequest {
    /// Parses the parameters; `None` when any is missing or invalid, which
    /// the frontend leaves to the downstream to report (its errors are the
    /// querier's own, word for word).
    pub(crate) fn parse(params: &[(String, String)]) -> Option<Self> {
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let query = get("query")?.to_owned();
        let start = parse_time(get("start")?)?;
        let end = parse_time(get("end")?)?;
        let step = parse_step(get("step")?)?;
        if step <= 0 || end < start || query.trim().is_empty() {
            return None;
        }
        // Prometheus's limit of 11,000 points per series.
        if (end - start) / step > 11_000 {
            return None;
        }
        let rest = params
            .iter()
            .filter(|(k, _)| !RANGE_PARAMS.contains(&k.as_str()))
            .cloned()
            .collect();
        Some(Self {
            query,
            start,
            end,
            step,
            rest,
        })
    }

    /// The value of a non-range parameter.
    pub(crate) fn param(&self, k: &str) -> Option<&str> {
        self.rest
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    /// This request over `[start, end]`.
    pub(crate) fn with_range(&self, start: i64, end: i64) -> Self {
        Self {
            start,
            end,
            ..self.clone()
        }
    }

    /// The form body for the downstream.
    pub(crate) fn encode(&self) -> String {
        let mut f = url::form_urlencoded::Serializer::new(String::new());
        f.append_pair("query", &self.query);
        f.append_pair("start", &format_secs(self.start));
        f.append_pair("end", &format_secs(self.end));
        f.append_pair("step", &format_secs(self.step));
        for (k, v) in &self.rest {
            f.append_pair(k, v);
        }
        f.finish()
    }

    /// Everything that changes an answer besides the range: the other
    /// parameters, sorted, repeated ones (`replicaLabels[]`) in order.
    pub(crate) fn canonical_rest(&self) -> String {
        let mut m: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (k, v) in &self.rest {
            m.entry(k.as_str()).or_default().push(v.as_str());
        }
        let mut f = url::form_urlencoded::Serializer::new(String::new());
        for (k, vs) in m {
            for v in vs {
                f.append_pair(k, v);
            }
        }
        f.finish()
    }
}

/// `ms` as Prometheus's float seconds (`1700000000`, `1700000000.5`).
pub(crate) fn format_secs(ms: i64) -> String {
    let (s, frac) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    if frac == 0 {
        s.to_string()
    } else {
        format!("{s}.{frac:03}")
    }
}

/// Prometheus's `parseTime`: float seconds or RFC 3339.
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() {
            return None;
        }
        let ms = (f * 1000.0).round();
        return (ms.abs() < 9.0e15).then_some(ms as i64);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Prometheus's `parseDuration` for `step`: float seconds or a duration.
pub(crate) fn parse_step(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        let ms = (f * 1000.0).round();
        return (f.is_finite() && ms.abs() < 9.0e15).then_some(ms as i64);
    }
    aeon_common::flags::parse_duration(s)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn parses_prometheus_syntax() {
        let r = RangeRequest::parse(&p(&[
            ("query", "up"),
            ("start", "1700000000.5"),
            ("end", "2023-11-14T23:13:20Z"),
            ("step", "15s"),
            ("dedup", "false"),
            ("stats", "all"),
        ]))
        .unwrap();
        assert_eq!(r.start, 1_700_000_000_500);
        assert_eq!(r.end, 1_700_003_600_000);
        assert_eq!(r.step, 15_000);
        assert_eq!(r.rest, p(&[("dedup", "false")]));
        assert_eq!(parse_step("0.5"), Some(500));
        assert_eq!(format_secs(1_500), "1.500");
        assert_eq!(format_secs(-1_500), "-2.500");
    }

    #[test]
    fn invalid_requests_are_left_to_the_downstream() {
        let base = [
            ("query", "up"),
            ("start", "10"),
            ("end", "20"),
            ("step", "1"),
        ];
        assert!(RangeRequest::parse(&p(&base)).is_some());
        for (k, v) in [
            ("start", "x"),
            ("end", "5"),
            ("step", "0"),
            ("step", "-1"),
            ("query", " "),
            ("step", "0.0001"),
        ] {
            let mut v2 = p(&base);
            v2.retain(|(n, _)| n != k);
            v2.push((k.into(), v.into()));
            assert!(RangeRequest::parse(&v2).is_none(), "{k}={v}");
        }
    }

    #[test]
    fn encoding_and_canonical_rest() {
        let r = RangeRequest::parse(&p(&[
            ("query", "sum(x) by (a)"),
            ("start", "0"),
            ("end", "60"),
            ("step", "15"),
            ("replicaLabels[]", "r2"),
            ("dedup", "true"),
            ("replicaLabels[]", "r1"),
        ]))
        .unwrap();
        assert_eq!(
            r.encode(),
            "query=sum%28x%29+by+%28a%29&start=0&end=60&step=15&replicaLabels%5B%5D=r2&dedup=true&replicaLabels%5B%5D=r1"
        );
        assert_eq!(
            r.canonical_rest(),
            "dedup=true&replicaLabels%5B%5D=r2&replicaLabels%5B%5D=r1"
        );
    }
}
