//! Range-query answers: Prometheus's JSON, the merge of parts (Cortex's
//! `matrixMerge`: series joined by label set, samples a part repeats
//! dropped; warnings and infos of every part kept once) and the cut of an
//! answer to a range.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

/// A successful `query_range` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Response {
    pub(crate) status: String,
    pub(crate) data: Data,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) infos: Vec<String>,
}

/// `data` of a matrix answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Data {
    #[serde(rename = "resultType")]
    pub(crate) result_type: String,
    pub(crate) result: Vec<Stream>,
}

/// One series: float samples and native histograms, each `[ts, value]`
/// with the timestamp kept as the downstream wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stream {
    pub(crate) metric: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) values: Vec<(Number, Value)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) histograms: Vec<(Number, Value)>,
}

/// A point's timestamp in milliseconds.
pub(crate) fn ts_ms(n: &Number) -> i64 {
    if let Some(i) = n.as_i64() {
        return i * 1000;
    }
    (n.as_f64().unwrap_or(0.0) * 1000.0).round() as i64
}

impl Response {
    /// An empty success (a merge of nothing).
    pub(crate) fn empty() -> Self {
        Self {
            status: "success".into(),
            data: Data {
                result_type: "matrix".into(),
                result: Vec::new(),
            },
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }

    /// Parses a downstream answer; `None` unless it is a successful matrix.
    pub(crate) fn parse(body: &[u8]) -> Option<Self> {
        let r: Self = serde_json::from_slice(body).ok()?;
        (r.status == "success" && r.data.result_type == "matrix").then_some(r)
    }

    /// The answer cut to `[start, end]` (series left without points are
    /// dropped).
    pub(crate) fn extract(&self, start: i64, end: i64) -> Self {
        let within = |p: &(Number, Value)| {
            let t = ts_ms(&p.0);
            start <= t && t <= end
        };
        let result = self
            .data
            .result
            .iter()
            .filter_map(|s| {
                let values: Vec<_> = s.values.iter().filter(|p| within(p)).cloned().collect();
                let histograms: Vec<_> =
                    s.histograms.iter().filter(|p| within(p)).cloned().collect();
                (!values.is_empty() || !histograms.is_empty()).then(|| Stream {
                    metric: s.metric.clone(),
                    values,
                    histograms,
                })
            })
            .collect();
        Self {
            data: Data {
                result_type: self.data.result_type.clone(),
                result,
            },
            ..self.clone()
        }
    }

    /// The earliest timestamp in the answer (for ordering parts).
    fn first_ts(&self) -> i64 {
        self.data
            .result
            .iter()
            .flat_map(|s| s.values.first().into_iter().chain(s.histograms.first()))
            .map(|p| ts_ms(&p.0))
            .min()
            .unwrap_or(i64::MAX)
    }
}

/// Appends `next` to `into`, skipping points not after `into`'s last.
fn append(into: &mut Vec<(Number, Value)>, next: Vec<(Number, Value)>) {
    let last = into.last().map(|p| ts_ms(&p.0));
    match last {
        None => into.extend(next),
        Some(last) => into.extend(next.into_iter().filter(|p| ts_ms(&p.0) > last)),
    }
}

/// The querier's warning for a query no store could answer (Thanos's
/// text). A part can get it where the whole query would not (a part whose
/// range, offset included, is older than every store's data).
pub(crate) const NO_STORE_MATCHED: &str = "No StoreAPIs matched for this query";

/// Merges answers of parts (in any order) into one: series by label set in
/// Prometheus's order, points in time order without repeats, warnings and
/// infos of all parts, each once; [`NO_STORE_MATCHED`] only when every part
/// has it (the parts' stores together are the whole query's).
pub(crate) fn merge(mut parts: Vec<Response>) -> Response {
    let n = parts.len();
    let unmatched = parts
        .iter()
        .filter(|p| p.warnings.iter().any(|w| w == NO_STORE_MATCHED))
        .count();
    if unmatched < n {
        for p in &mut parts {
            p.warnings.retain(|w| w != NO_STORE_MATCHED);
        }
    }
    parts.sort_by_key(Response::first_ts);
    let mut out = Response::empty();
    let mut series: BTreeMap<Vec<(String, String)>, Stream> = BTreeMap::new();
    for p in parts {
        for w in p.warnings {
            if !out.warnings.contains(&w) {
                out.warnings.push(w);
            }
        }
        for i in p.infos {
            if !out.infos.contains(&i) {
                out.infos.push(i);
            }
        }
        for s in p.data.result {
            let key: Vec<(String, String)> = s
                .metric
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            match series.get_mut(&key) {
                None => {
                    series.insert(key, s);
                }
                Some(e) => {
                    append(&mut e.values, s.values);
                    append(&mut e.histograms, s.histograms);
                }
            }
        }
    }
    // Prometheus's `labels.Compare` order is the order of the sorted
    // (name, value) pair lists: the map's order.
    out.data.result = series.into_values().collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(v: serde_json::Value) -> Response {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn merge_joins_series_drops_repeats_keeps_annotations() {
        let a = resp(serde_json::json!({
            "status": "success",
            "data": {"resultType": "matrix", "result": [
                {"metric": {"job": "b"}, "values": [[10, "1"], [20, "2"]]},
                {"metric": {"job": "a", "x": "1"}, "values": [[20, "5"]]}
            ]},
            "warnings": ["w1"]
        }));
        let b = resp(serde_json::json!({
            "status": "success",
            "data": {"resultType": "matrix", "result": [
                {"metric": {"job": "b"}, "values": [[20, "2"], [30.5, "3"]]},
                {"metric": {"job": "a"}, "histograms": [[30.5, {"count": "1"}]]}
            ]},
            "warnings": ["w1", "w2"],
            "infos": ["i1"]
        }));
        let m = merge(vec![b.clone(), a.clone()]);
        let got = serde_json::to_value(&m).unwrap();
        assert_eq!(
            got,
            serde_json::json!({
                "status": "success",
                "data": {"resultType": "matrix", "result": [
                    {"metric": {"job": "a"}, "histograms": [[30.5, {"count": "1"}]]},
                    {"metric": {"job": "a", "x": "1"}, "values": [[20, "5"]]},
                    {"metric": {"job": "b"}, "values": [[10, "1"], [20, "2"], [30.5, "3"]]}
                ]},
                "warnings": ["w1", "w2"],
                "infos": ["i1"]
            })
        );
        assert_eq!(merge(vec![]), Response::empty());
        // "No StoreAPIs matched" only when no part matched any store.
        let mut lost = resp(serde_json::json!({
            "status": "success",
            "data": {"resultType": "matrix", "result": []},
            "warnings": [NO_STORE_MATCHED]
        }));
        assert_eq!(merge(vec![lost.clone(), a.clone()]).warnings, ["w1"]);
        assert_eq!(
            merge(vec![lost.clone(), lost.clone()]).warnings,
            [NO_STORE_MATCHED]
        );
        lost.warnings.push("w3".into());
        assert_eq!(merge(vec![lost, a]).warnings, ["w1", "w3"]);
    }

    #[test]
    fn extract_cuts_and_drops_empty_series() {
        let a = resp(serde_json::json!({
            "status": "success",
            "data": {"resultType": "matrix", "result": [
                {"metric": {"job": "b"}, "values": [[10, "1"], [20, "2"], [30, "3"]]},
                {"metric": {"job": "a"}, "values": [[40, "5"]]}
            ]}
        }));
        let e = a.extract(20_000, 30_000);
        assert_eq!(e.data.result.len(), 1);
        assert_eq!(e.data.result[0].values.len(), 2);
        assert!(Response::parse(br#"{"status":"error","errorType":"x","error":"y"}"#).is_none());
        assert!(
            Response::parse(br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#)
                .is_none()
        );
    }
}
