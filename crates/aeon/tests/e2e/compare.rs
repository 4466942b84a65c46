//! Exact comparison of two Prometheus HTTP API query answers.

use std::collections::BTreeMap;

use serde_json::Value;

/// Relative tolerance for values (float summation order may differ between
/// engines); an absolute floor for results that cancel to about zero.
const REL: f64 = 1e-9;
const ABS: f64 = 1e-12;

type Key = BTreeMap<String, String>;

/// A parsed answer: result type and, per label set, the (time, value) points
/// (a scalar is one series with no labels).
#[derive(Debug)]
pub struct Answer {
    pub result_type: String,
    pub series: BTreeMap<Key, Vec<(f64, Val)>>,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s.as_str().unwrap_or_default().to_string())
        .collect();
    out.sort();
    out
}

/// A point's value: a float (as its JSON string) or a native histogram
/// (`{count, sum, buckets: [[rule, lower, upper, count], ...]}`).
#[derive(Debug, Clone)]
pub enum Val {
    F(String),
    H(Value),
}

impl std::fmt::Display for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::F(s) => f.write_str(s),
            Val::H(h) => write!(f, "{h}"),
        }
    }
}

fn point(p: &Value) -> Result<(f64, Val), String> {
    let t = p[0].as_f64().ok_or_else(|| format!("bad point {p}"))?;
    match &p[1] {
        Value::String(v) => Ok((t, Val::F(v.clone()))),
        h @ Value::Object(_) => Ok((t, Val::H(h.clone()))),
        _ => Err(format!("bad point {p}")),
    }
}

pub fn parse(body: &Value) -> Result<Answer, String> {
    if body["status"] != "success" {
        return Err(format!("not a success: {body}"));
    }
    let data = &body["data"];
    let result_type = data["resultType"].as_str().unwrap_or_default().to_string();
    let mut series = BTreeMap::new();
    match result_type.as_str() {
        "scalar" | "string" => {
            series.insert(Key::new(), vec![point(&data["result"])?]);
        }
        "vector" | "matrix" => {
            for s in data["result"].as_array().into_iter().flatten() {
                let key: Key = s["metric"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                let points = if result_type == "vector" {
                    match (s.get("value"), s.get("histogram")) {
                        (Some(p), None) | (None, Some(p)) => vec![point(p)?],
                        _ => return Err(format!("bad vector sample {s}")),
                    }
                } else {
                    let mut pts: Vec<(f64, Val)> = ["values", "histograms"]
                        .iter()
                        .flat_map(|k| s[*k].as_array().into_iter().flatten())
                        .map(point)
                        .collect::<Result<_, _>>()?;
                    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                    pts
                };
                if series.insert(key.clone(), points).is_some() {
                    return Err(format!("label set {key:?} twice in one answer"));
                }
            }
        }
        other => return Err(format!("unknown resultType {other:?}")),
    }
    Ok(Answer {
        result_type,
        series,
        warnings: strings(&body["warnings"]),
        infos: strings(&body["infos"]),
    })
}

fn num(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

fn same_value(a: &str, b: &str) -> bool {
    match (num(a), num(b)) {
        (Some(x), Some(y)) => {
            (x.is_nan() && y.is_nan())
                || x == y
                || (x - y).abs() <= (REL * x.abs().max(y.abs())).max(ABS)
        }
        _ => a == b,
    }
}

/// Bucket bounds are exact: equal as numbers.
fn same_bound(a: &Value, b: &Value) -> bool {
    match (a.as_str().and_then(num), b.as_str().and_then(num)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn same_histogram(a: &Value, b: &Value) -> bool {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let buckets = |h: &Value| h["buckets"].as_array().cloned().unwrap_or_default();
    let (ba, bb) = (buckets(a), buckets(b));
    same_value(&s(&a["count"]), &s(&b["count"]))
        && same_value(&s(&a["sum"]), &s(&b["sum"]))
        && ba.len() == bb.len()
        && ba.iter().zip(&bb).all(|(x, y)| {
            x[0] == y[0]
                && same_bound(&x[1], &y[1])
                && same_bound(&x[2], &y[2])
                && same_value(&s(&x[3]), &s(&y[3]))
        })
}

fn same(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::F(x), Val::F(y)) => same_value(x, y),
        (Val::H(x), Val::H(y)) => same_histogram(x, y),
        _ => false,
    }
}

/// Numbers that are the same value but written differently (e.g. `1e-07`
/// and `0.0000001`): (want, got).
fn format_differences(a: &Val, b: &Val) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut push = |x: &Value, y: &Value| {
        let (Some(xs), Some(ys)) = (x.as_str(), y.as_str()) else {
            return;
        };
        if xs != ys && num(xs).is_some() && num(xs) == num(ys) {
            pairs.push((xs.to_string(), ys.to_string()));
        }
    };
    match (a, b) {
        (Val::F(x), Val::F(y)) => push(&Value::from(x.as_str()), &Value::from(y.as_str())),
        (Val::H(x), Val::H(y)) => {
            push(&x["count"], &y["count"]);
            push(&x["sum"], &y["sum"]);
            let empty = Vec::new();
            let bx = x["buckets"].as_array().unwrap_or(&empty);
            let by = y["buckets"].as_array().unwrap_or(&empty);
            for (p, q) in bx.iter().zip(by) {
                for i in 1..4 {
                    push(&p[i], &q[i]);
                }
            }
        }
        _ => {}
    }
    pairs.sort();
    pairs.dedup();
    pairs
}

fn show(k: &Key) -> String {
    let inner: Vec<String> = k.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// Differences of `got` from `want`, one line each (at most `limit`).
pub fn diff(want: &Answer, got: &Answer, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    if want.result_type != got.result_type {
        out.push(format!(
            "resultType: want {}, got {}",
            want.result_type, got.result_type
        ));
        return out;
    }
    if want.warnings != got.warnings {
        out.push(format!(
            "warnings: want {:?}, got {:?}",
            want.warnings, got.warnings
        ));
    }
    if want.infos != got.infos {
        out.push(format!("infos: want {:?}, got {:?}", want.infos, got.infos));
    }
    for (k, pw) in &want.series {
        let Some(pg) = got.series.get(k) else {
            out.push(format!("series {} missing ({} points)", show(k), pw.len()));
            continue;
        };
        let tw: Vec<f64> = pw.iter().map(|p| p.0).collect();
        let tg: Vec<f64> = pg.iter().map(|p| p.0).collect();
        if tw != tg {
            let only_w: Vec<f64> = tw.iter().filter(|t| !tg.contains(t)).copied().collect();
            let only_g: Vec<f64> = tg.iter().filter(|t| !tw.contains(t)).copied().collect();
            out.push(format!(
                "series {}: timestamps differ: {} want, {} got; only wanted {:?}; only got {:?}",
                show(k),
                tw.len(),
                tg.len(),
                &only_w[..only_w.len().min(5)],
                &only_g[..only_g.len().min(5)],
            ));
        }
        for (a, b) in pw.iter().zip(pg) {
            if a.0 == b.0 && !same(&a.1, &b.1) {
                out.push(format!(
                    "series {} at t={}: want {}, got {}",
                    show(k),
                    a.0,
                    a.1,
                    b.1
                ));
                if out.len() >= limit {
                    return out;
                }
            } else if a.0 == b.0 {
                for (w, g) in format_differences(&a.1, &b.1) {
                    let kind = if w.contains('e') && !g.contains('e') {
                        "JSON number format (exponent)"
                    } else {
                        "JSON number format"
                    };
                    let line = format!("{kind}: want \"{w}\", got \"{g}\"");
                    if !out.contains(&line) {
                        out.push(line);
                    }
                }
            }
        }
    }
    for k in got.series.keys() {
        if !want.series.contains_key(k) {
            out.push(format!("series {} not expected", show(k)));
        }
    }
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(v: Value) -> Answer {
        parse(&v).unwrap()
    }

    #[test]
    fn the_comparison_can_fail() {
        let a = answer(
            serde_json::json!({"status":"success","data":{"resultType":"vector",
            "result":[{"metric":{"a":"1"},"value":[10,"1.5"]}]}}),
        );
        let b = answer(
            serde_json::json!({"status":"success","data":{"resultType":"vector",
            "result":[{"metric":{"a":"1"},"value":[10,"1.5000001"]}]}}),
        );
        let c = answer(
            serde_json::json!({"status":"success","data":{"resultType":"vector",
            "result":[{"metric":{"a":"2"},"value":[10,"1.5"]}]}}),
        );
        let d = answer(
            serde_json::json!({"status":"success","data":{"resultType":"vector",
            "result":[{"metric":{"a":"1"},"value":[10,"1.5000000000001"]}]}}),
        );
        assert!(diff(&a, &a, 10).is_empty());
        assert!(diff(&a, &d, 10).is_empty());
        assert_eq!(diff(&a, &b, 10).len(), 1, "{:?}", diff(&a, &b, 10));
        assert_eq!(diff(&a, &c, 10).len(), 2, "{:?}", diff(&a, &c, 10));
        assert!(same_value("NaN", "NaN") && !same_value("NaN", "1") && same_value("+Inf", "+Inf"));
        let e = answer(
            serde_json::json!({"status":"success","data":{"resultType":"vector",
            "result":[{"metric":{"a":"1"},"value":[10,"1e-07"]}]}}),
        );
        let f = answer(
            serde_json::json!({"status":"success","data":{"resultType":"vector",
            "result":[{"metric":{"a":"1"},"value":[10,"0.0000001"]}]}}),
        );
        assert_eq!(
            diff(&e, &f, 10),
            ["JSON number format (exponent): want \"1e-07\", got \"0.0000001\""]
        );
    }
}
