//! One query answered by both engines, and the differences.

use std::collections::BTreeMap;

use aeon_model::Labels;
use aeon_promql::{AnnotationKind, Engine, MemStorage, Value, ValueType};

use super::prom::{Prometheus, enc};

/// Relative tolerance for values, an absolute floor near zero.
const REL: f64 = 1e-9;
const ABS: f64 = 1e-12;

/// When a query is evaluated: an instant or a range (ms).
#[derive(Debug, Clone, Copy)]
pub enum Eval {
    Instant(i64),
    Range(i64, i64, i64),
}

fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// An answer: result type, series (label text → points) and annotations, or
/// an error type and message.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Ok {
        kind: String,
        series: BTreeMap<String, Vec<(i64, String)>>,
        warnings: Vec<String>,
        infos: Vec<String>,
    },
    Err {
        kind: String,
        msg: String,
    },
}

fn label_text(l: &Labels) -> String {
    l.iter()
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect::<Vec<_>>()
        .join(",")
}

fn json_labels(m: &serde_json::Value) -> String {
    let mut pairs: Vec<(String, String)> = m
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s.as_str().unwrap_or_default().to_string())
        .collect();
    out.sort();
    out
}

fn json_point(p: &serde_json::Value) -> (i64, String) {
    let t = (p[0].as_f64().unwrap_or(f64::NAN) * 1000.0).round() as i64;
    let v = match &p[1] {
        serde_json::Value::String(s) => s.clone(),
        h => format!("H{h}"),
    };
    (t, v)
}

/// Prometheus's answer.
pub fn theirs(p: &Prometheus, q: &str, e: Eval) -> Outcome {
    let path = match e {
        Eval::Instant(t) => format!("/api/v1/query?query={}&time={}", enc(q), secs(t)),
        Eval::Range(s, end, step) => format!(
            "/api/v1/query_range?query={}&start={}&end={}&step={}",
            enc(q),
            secs(s),
            secs(end),
            secs(step)
        ),
    };
    let v = p.get(&path);
    if v["status"] != "success" {
        return Outcome::Err {
            kind: v["errorType"].as_str().unwrap_or_default().to_string(),
            msg: v["error"].as_str().unwrap_or_default().to_string(),
        };
    }
    let data = &v["data"];
    let kind = data["resultType"].as_str().unwrap_or_default().to_string();
    let mut series = BTreeMap::new();
    match kind.as_str() {
        "scalar" | "string" => {
            series.insert(String::new(), vec![json_point(&data["result"])]);
        }
        _ => {
            for s in data["result"].as_array().into_iter().flatten() {
                let mut pts: Vec<(i64, String)> = Vec::new();
                for k in ["value", "histogram"] {
                    if !s[k].is_null() {
                        pts.push(json_point(&s[k]));
                    }
                }
                for k in ["values", "histograms"] {
                    pts.extend(s[k].as_array().into_iter().flatten().map(json_point));
                }
                pts.sort_by_key(|p| p.0);
                series.insert(json_labels(&s["metric"]), pts);
            }
        }
    }
    Outcome::Ok {
        kind,
        series,
        warnings: strings(&v["warnings"]),
        infos: strings(&v["infos"]),
    }
}

fn float_text(f: f64) -> String {
    aeon_promql::format_float(f)
}

/// Our engine's answer, shaped as the HTTP API shapes it.
pub fn ours(engine: &Engine, s: &MemStorage, q: &str, e: Eval) -> Outcome {
    let expr = match aeon_promql::parse(q) {
        Ok(x) => x,
        Err(err) => {
            return Outcome::Err {
                kind: "bad_data".into(),
                msg: format!("invalid parameter \"query\": {err}"),
            };
        }
    };
    let params = match e {
        Eval::Instant(t) => aeon_promql::QueryParams {
            start: t,
            end: t,
            step: 0,
            cancel: None,
        },
        Eval::Range(start, end, step) => {
            let t = expr.value_type();
            if t != ValueType::Scalar && t != ValueType::Vector {
                return Outcome::Err {
                    kind: "bad_data".into(),
                    msg: format!(
                        "invalid parameter \"query\": invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                        t.name()
                    ),
                };
            }
            aeon_promql::QueryParams {
                start,
                end,
                step,
                cancel: None,
            }
        }
    };
    let r = match engine.exec(s, &expr, &params) {
        Ok(r) => r,
        Err(err) => {
            return Outcome::Err {
                kind: err.error_type().to_string(),
                msg: err.to_string(),
            };
        }
    };
    let mut series = BTreeMap::new();
    let kind = r.value.type_name().to_string();
    match r.value {
        Value::Scalar { t, v } => {
            series.insert(String::new(), vec![(t, float_text(v))]);
        }
        Value::String { t, v } => {
            series.insert(String::new(), vec![(t, v)]);
        }
        Value::Vector(v) => {
            for smp in v {
                let val = match &smp.h {
                    Some(h) => format!("H{h:?}"),
                    None => float_text(smp.f),
                };
                series.insert(label_text(&smp.metric), vec![(smp.t, val)]);
            }
        }
        Value::Matrix(m) => {
            for s in m {
                let mut pts: Vec<(i64, String)> =
                    s.floats.iter().map(|p| (p.t, float_text(p.f))).collect();
                pts.extend(s.histograms.iter().map(|p| (p.t, format!("H{:?}", p.h))));
                pts.sort_by_key(|p| p.0);
                series.insert(label_text(&s.metric), pts);
            }
        }
    }
    let mut warnings = Vec::new();
    let mut infos = Vec::new();
    for a in r.annotations {
        match a.kind {
            AnnotationKind::Warning => warnings.push(a.to_string()),
            AnnotationKind::Info => infos.push(a.to_string()),
        }
    }
    warnings.sort();
    infos.sort();
    Outcome::Ok {
        kind,
        series,
        warnings,
        infos,
    }
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

/// The differences of ours from theirs (empty: equal).
pub fn diff(want: &Outcome, got: &Outcome) -> Vec<String> {
    let mut out = Vec::new();
    match (want, got) {
        (
            Outcome::Ok {
                kind: wk,
                series: ws,
                warnings: ww,
                infos: wi,
            },
            Outcome::Ok {
                kind: gk,
                series: gs,
                warnings: gw,
                infos: gi,
            },
        ) => {
            if wk != gk {
                out.push(format!("result type: want {wk}, got {gk}"));
                return out;
            }
            if ww != gw {
                out.push(format!("warnings: want {ww:?}, got {gw:?}"));
            }
            if wi != gi {
                out.push(format!("infos: want {wi:?}, got {gi:?}"));
            }
            for (k, wp) in ws {
                match gs.get(k) {
                    None => out.push(format!("series {{{k}}} missing")),
                    Some(gp) => {
                        let wt: Vec<i64> = wp.iter().map(|p| p.0).collect();
                        let gt: Vec<i64> = gp.iter().map(|p| p.0).collect();
                        if wt != gt {
                            out.push(format!(
                                "series {{{k}}}: timestamps differ ({} want, {} got)",
                                wt.len(),
                                gt.len()
                            ));
                            continue;
                        }
                        if let Some((a, b)) =
                            wp.iter().zip(gp).find(|(a, b)| !same_value(&a.1, &b.1))
                        {
                            out.push(format!(
                                "series {{{k}}} at {}: want {}, got {}",
                                a.0, a.1, b.1
                            ));
                        }
                    }
                }
            }
            for k in gs.keys() {
                if !ws.contains_key(k) {
                    out.push(format!("series {{{k}}} not expected"));
                }
            }
        }
        (Outcome::Err { kind: wk, msg: wm }, Outcome::Err { kind: gk, msg: gm }) => {
            if wk != gk || wm != gm {
                out.push(format!("error: want {wk} {wm:?}, got {gk} {gm:?}"));
            }
        }
        (Outcome::Err { kind, msg }, Outcome::Ok { .. }) => {
            out.push(format!("error: want {kind} {msg:?}, got a result"));
        }
        (Outcome::Ok { .. }, Outcome::Err { kind, msg }) => {
            out.push(format!("error: want a result, got {kind} {msg:?}"));
        }
    }
    out.truncate(6);
    out
}

/// Parts of an answer that Prometheus leaves to chance, masked in both
/// answers. In a range query Prometheus assembles each inner node's result
/// from a Go map, so the order of series inside the query is random: which
/// match group and pair of series a "found duplicate series" error names
/// depends on it (the error itself does not).
pub fn mask_random(e: Eval, o: &mut Outcome) {
    const DUP: &str = "found duplicate series for the match group ";
    const TAIL: &str = ";many-to-many matching not allowed";
    if let (Eval::Range(..), Outcome::Err { msg, .. }) = (e, o)
        && let (Some(a), Some(b)) = (msg.find(DUP), msg.find(TAIL))
        && a < b
    {
        let side = ["left", "right"]
            .into_iter()
            .find(|s| msg[a..b].contains(&format!(" on the {s} hand-side ")))
            .unwrap_or("?");
        *msg = format!(
            "{}{DUP}<random> on the {side} hand-side <random>{}",
            &msg[..a],
            &msg[b..]
        );
    }
}
