//! The experimental `info(v, [data-label-selector])` function: adds the data
//! labels of matching info series (by default `target_info`) to the series of
//! `v`. Info series are joined on the identifying labels `instance` and `job`;
//! when several versions of one info series are within the lookback delta,
//! the one with the newest sample wins.

use std::collections::{BTreeSet, HashMap};

use aeon_model::{Labels, METRIC_NAME, Matcher};

use crate::ast::{Expr, VectorSelector};
use crate::engine::Evaluator;
use crate::error::{Error, Result};
use crate::value::{Sample, Vector};

const TARGET_INFO: &str = "target_info";
const IDENTIFYING: [&str; 2] = ["instance", "job"];

/// The matchers of the label-selector argument (empty without one).
fn selector_matchers(args: &[Expr]) -> &[Matcher] {
    match args.get(1).map(Expr::unparen) {
        Some(Expr::Vector(vs)) => &vs.matchers,
        _ => &[],
    }
}

/// The first vector selector of `e` in evaluation order: its offset and `@`
/// decide when info series are looked up.
fn first_selector(e: &Expr) -> Option<&VectorSelector> {
    match e {
        Expr::Vector(vs) | Expr::Matrix { vs, .. } => Some(vs),
        Expr::Subquery { expr, .. }
        | Expr::Neg(expr, _)
        | Expr::Plus(expr, _)
        | Expr::Paren(expr, _) => first_selector(expr),
        Expr::Binary { lhs, rhs, .. } => first_selector(lhs).or_else(|| first_selector(rhs)),
        Expr::Aggregate { expr, param, .. } => param
            .as_deref()
            .and_then(first_selector)
            .or_else(|| first_selector(expr)),
        Expr::Call { args, .. } => args.iter().find_map(first_selector),
        Expr::Number(..) | Expr::String(..) => None,
    }
}

/// The selector for the info series of an `info` call: its name matchers
/// (default `__name__="target_info"`) and data label matchers, with the
/// offset and `@` of the first selector of the first argument.
pub(crate) fn info_selector(args: &[Expr]) -> VectorSelector {
    let mut matchers: Vec<Matcher> = selector_matchers(args).to_vec();
    if !matchers.iter().any(|m| m.name == METRIC_NAME) {
        matchers.insert(0, Matcher::equal(METRIC_NAME, TARGET_INFO));
    }
    let first = args.first().and_then(first_selector);
    VectorSelector {
        name: None,
        matchers,
        offset: first.map_or(0, |vs| vs.offset),
        at: first.and_then(|vs| vs.at),
        pos: first.map(|vs| vs.pos).unwrap_or_default(),
    }
}

/// The join signature of `m` for the info metric `name`: the name and the
/// identifying labels.
fn signature(name: &str, m: &Labels) -> (String, String, String) {
    (
        name.to_string(),
        m.get_or_empty(IDENTIFYING[0]).to_string(),
        m.get_or_empty(IDENTIFYING[1]).to_string(),
    )
}

/// Evaluates `info(args...)` (the call node `call`) at `ts`.
pub(crate) fn eval_info(
    ev: &mut Evaluator<'_>,
    call: &Expr,
    args: &[Expr],
    ts: i64,
) -> Result<Vector> {
    let Some(first) = args.first() else {
        return Ok(Vec::new());
    };
    let base = ev.eval_vector(first, ts)?;
    if base.is_empty() {
        return Ok(base);
    }
    let sel = selector_matchers(args);
    // Without a label selector, `target_info` series are never enriched.
    let default_name = [Matcher::equal(METRIC_NAME, TARGET_INFO)];
    let name_matchers: Vec<&Matcher> = if args.len() > 1 {
        sel.iter().filter(|m| m.name == METRIC_NAME).collect()
    } else {
        default_name.iter().collect()
    };
    let mut data_matchers: HashMap<&str, Vec<&Matcher>> = HashMap::new();
    for m in sel.iter().filter(|m| m.name != METRIC_NAME) {
        data_matchers.entry(m.name.as_str()).or_default().push(m);
    }
    let ignored = |m: &Labels| {
        !name_matchers.is_empty()
            && name_matchers
                .iter()
                .all(|x| x.matches(m.get_or_empty(METRIC_NAME)))
    };

    // Info samples by signature; the newest sample wins.
    let mut by_sig: HashMap<(String, String, String), (Labels, i64)> = HashMap::new();
    let mut info_names: BTreeSet<String> = BTreeSet::new();
    if base
        .iter()
        .any(|s| !ignored(&s.metric) && IDENTIFYING.iter().any(|l| s.metric.get(l).is_some()))
    {
        for (labels, t) in ev.info_samples(call, ts)? {
            let name = labels.get_or_empty(METRIC_NAME).to_string();
            let sig = signature(&name, &labels);
            info_names.insert(name);
            match by_sig.get(&sig) {
                Some((old, ot)) if *ot == t => {
                    return Err(Error::exec(format!(
                        "found duplicate series for info metric: existing {old} @ {ot}, new {labels} @ {t}"
                    )));
                }
                Some((_, ot)) if *ot > t => {}
                _ => {
                    by_sig.insert(sig, (labels, t));
                }
            }
        }
    }

    let all_match_empty = data_matchers
        .values()
        .all(|ms| ms.iter().all(|m| m.matches("")));
    let mut out = Vec::with_capacity(base.len());
    for s in base {
        if ignored(&s.metric) {
            out.push(s);
            continue;
        }
        let has_id = IDENTIFYING.iter().any(|l| s.metric.get(l).is_some());
        let mut added: Vec<(&str, &str)> = Vec::new();
        let mut matched = false;
        if has_id {
            for name in &info_names {
                let Some((info, _)) = by_sig.get(&signature(name, &s.metric)) else {
                    continue;
                };
                matched = true;
                for l in info.iter() {
                    if l.name == METRIC_NAME {
                        continue;
                    }
                    if !data_matchers.is_empty() && !data_matchers.contains_key(l.name.as_str()) {
                        continue;
                    }
                    if let Some((_, v)) = added.iter().find(|(n, _)| *n == l.name) {
                        if *v != l.value {
                            return Err(Error::exec(format!("conflicting label: {}", l.name)));
                        }
                        continue;
                    }
                    if s.metric.get(&l.name).is_some() {
                        continue;
                    }
                    added.push((&l.name, &l.value));
                }
            }
        }
        if !matched && !all_match_empty {
            continue;
        }
        if added.is_empty() {
            out.push(s);
            continue;
        }
        let mut b = s.metric.builder();
        for (n, v) in &added {
            b.set(n.to_string(), v.to_string());
        }
        out.push(Sample {
            metric: b.build(),
            ..s
        });
    }
    Ok(out)
}
