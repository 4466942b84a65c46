//! Binary operators: arithmetic, comparisons, set operations and vector matching.

use std::collections::{HashMap, HashSet};

use aeon_model::{Labels, METRIC_NAME};

use crate::ast::{BinOp, Card, Pos, VectorMatching};
use crate::engine::Evaluator;
use crate::error::{Error, Result};
use crate::nativehist::{FloatHistogram, HistogramError};
use crate::value::{Sample, Value, Vector};
use std::sync::Arc;

type H = Option<Arc<FloatHistogram>>;

/// Outcome of an element-wise operation.
enum Elem {
    /// Keep with this float or histogram value.
    Keep(f64, H),
    /// Filtered out by a comparison.
    Drop,
    /// The operand types cannot be combined (annotation, then dropped).
    Incompatible,
    /// Histograms with incompatible buckets.
    HistErr(HistogramError),
}

fn elem_op(op: BinOp, lf: f64, lh: &H, rf: f64, rh: &H) -> Elem {
    match (lh, rh) {
        (None, None) => {
            let (v, keep) = scalar_op(op, lf, rf);
            if keep {
                Elem::Keep(v, None)
            } else {
                Elem::Drop
            }
        }
        (Some(a), Some(b)) => match op {
            BinOp::Add | BinOp::Sub => {
                let mut h = (**a).clone();
                let r = if op == BinOp::Add { h.add(b) } else { h.sub(b) };
                match r {
                    Ok(()) => {
                        h.compact();
                        h.counter_reset_hint = crate::nativehist::CounterResetHint::Gauge;
                        Elem::Keep(0.0, Some(Arc::new(h)))
                    }
                    Err(e) => Elem::HistErr(e),
                }
            }
            BinOp::Eql => {
                if a.equals(b) {
                    Elem::Keep(0.0, Some(a.clone()))
                } else {
                    Elem::Drop
                }
            }
            BinOp::Neq => {
                if !a.equals(b) {
                    Elem::Keep(0.0, Some(a.clone()))
                } else {
                    Elem::Drop
                }
            }
            _ => Elem::Incompatible,
        },
        (Some(a), None) => match op {
            BinOp::Mul | BinOp::Div => {
                let mut h = (**a).clone();
                if op == BinOp::Mul {
                    h.mul(rf)
                } else {
                    h.div(rf)
                }
                Elem::Keep(0.0, Some(Arc::new(h)))
            }
            _ => Elem::Incompatible,
        },
        (None, Some(b)) => match op {
            BinOp::Mul => {
                let mut h = (**b).clone();
                h.mul(lf);
                Elem::Keep(0.0, Some(Arc::new(h)))
            }
            _ => Elem::Incompatible,
        },
    }
}

/// Annotates a pair of samples the operator cannot combine; `pos` is where
/// the binary expression starts.
fn annotate(ev: &mut Evaluator<'_>, op: BinOp, lh: &H, rh: &H, e: &Elem, pos: Pos) {
    let ty = |h: &H| if h.is_some() { "histogram" } else { "float" };
    match e {
        Elem::Incompatible => {
            let msg = format!(
                "incompatible sample types encountered for binary operator {:?}: {} {} {}",
                op.as_str(),
                ty(lh),
                op.as_str(),
                ty(rh)
            );
            ev.info(msg, pos)
        }
        Elem::HistErr(HistogramError::MixedExponentialCustom) => ev.warn(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"\""
                .to_string(),
            pos,
        ),
        Elem::HistErr(HistogramError::IncompatibleCustomBuckets) => ev.warn(
            "vector contains histograms with incompatible custom buckets for metric name \"\""
                .to_string(),
            pos,
        ),
        _ => {}
    }
}

/// Applies `op` to two floats; returns the value and whether to keep it (comparisons).
pub(crate) fn scalar_op(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinOp::Add => (l + r, true),
        BinOp::Sub => (l - r, true),
        BinOp::Mul => (l * r, true),
        BinOp::Div => (l / r, true),
        BinOp::Mod => (l % r, true),
        BinOp::Pow => (l.powf(r), true),
        BinOp::Atan2 => (l.atan2(r), true),
        BinOp::Eql => (l, l == r),
        BinOp::Neq => (l, l != r),
        BinOp::Gtr => (l, l > r),
        BinOp::Lss => (l, l < r),
        BinOp::Gte => (l, l >= r),
        BinOp::Lte => (l, l <= r),
        BinOp::And | BinOp::Or | BinOp::Unless => (l, true),
    }
}

fn drops_name(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Pow | BinOp::Atan2
    )
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn eval_binary(
    ev: &mut Evaluator<'_>,
    op: BinOp,
    l: Value,
    r: Value,
    return_bool: bool,
    matching: Option<&VectorMatching>,
    ts: i64,
    pos: Pos,
) -> Result<Value> {
    match (l, r) {
        (Value::Scalar { v: a, .. }, Value::Scalar { v: b, .. }) => {
            let (v, keep) = scalar_op(op, a, b);
            let v = if op.is_comparison() {
                if keep { 1.0 } else { 0.0 }
            } else {
                v
            };
            Ok(Value::Scalar { t: ts, v })
        }
        (Value::Vector(v), Value::Scalar { v: s, .. }) => Ok(Value::Vector(vector_scalar(
            ev,
            op,
            v,
            s,
            false,
            return_bool,
            pos,
        ))),
        (Value::Scalar { v: s, .. }, Value::Vector(v)) => Ok(Value::Vector(vector_scalar(
            ev,
            op,
            v,
            s,
            true,
            return_bool,
            pos,
        ))),
        (Value::Vector(a), Value::Vector(b)) => {
            let default = VectorMatching {
                card: if op.is_set() {
                    Card::ManyToMany
                } else {
                    Card::OneToOne
                },
                labels: vec![],
                on: false,
                include: vec![],
            };
            let m = matching.unwrap_or(&default);
            let v = match op {
                BinOp::And => and(a, b, m),
                BinOp::Or => or(a, b, m),
                BinOp::Unless => unless(a, b, m),
                _ => vector_vector(ev, op, a, b, m, return_bool, pos)?,
            };
            Ok(Value::Vector(v))
        }
        (a, b) => Err(Error::exec(format!(
            "invalid operand types for binary operation: {} and {}",
            a.type_name(),
            b.type_name()
        ))),
    }
}

fn vector_scalar(
    ev: &mut Evaluator<'_>,
    op: BinOp,
    v: Vector,
    s: f64,
    swap: bool,
    return_bool: bool,
    pos: Pos,
) -> Vector {
    let mut out = Vec::with_capacity(v.len());
    for mut smp in v {
        let e = if swap {
            elem_op(op, s, &None, smp.f, &smp.h)
        } else {
            elem_op(op, smp.f, &smp.h, s, &None)
        };
        let (mut value, mut h, mut keep) = match e {
            Elem::Keep(v, h) => (v, h, true),
            Elem::Drop => (smp.f, None, false),
            other => {
                annotate(ev, op, &smp.h, &None, &other, pos);
                continue;
            }
        };
        if op.is_comparison() && keep {
            value = smp.f;
            h = smp.h.clone();
        }
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
            h = None;
            keep = true;
        }
        if !keep {
            continue;
        }
        smp.f = value;
        smp.h = h;
        if return_bool || drops_name(op) {
            smp.drop_name = true;
        }
        out.push(smp);
    }
    out
}

/// The matching signature of a series.
pub(crate) fn signature(l: &Labels, m: &VectorMatching) -> Labels {
    if m.on {
        l.keep_only(&m.labels)
    } else {
        let mut names: Vec<&str> = m.labels.iter().map(String::as_str).collect();
        names.push(METRIC_NAME);
        l.without(&names)
    }
}

fn and(a: Vector, b: Vector, m: &VectorMatching) -> Vector {
    let rs: HashSet<Labels> = b.iter().map(|s| signature(&s.metric, m)).collect();
    a.into_iter()
        .filter(|s| rs.contains(&signature(&s.metric, m)))
        .collect()
}

fn or(a: Vector, b: Vector, m: &VectorMatching) -> Vector {
    let ls: HashSet<Labels> = a.iter().map(|s| signature(&s.metric, m)).collect();
    let mut out = a;
    out.extend(
        b.into_iter()
            .filter(|s| !ls.contains(&signature(&s.metric, m))),
    );
    out
}

fn unless(a: Vector, b: Vector, m: &VectorMatching) -> Vector {
    let rs: HashSet<Labels> = b.iter().map(|s| signature(&s.metric, m)).collect();
    a.into_iter()
        .filter(|s| !rs.contains(&signature(&s.metric, m)))
        .collect()
}

fn result_metric(l: &Labels, r: &Labels, m: &VectorMatching) -> Labels {
    let mut b = l.builder();
    if m.card == Card::OneToOne {
        if m.on {
            let keep: HashSet<&str> = m.labels.iter().map(String::as_str).collect();
            for lab in l.iter() {
                if !keep.contains(lab.name.as_str()) {
                    b.del(&lab.name);
                }
            }
        } else {
            for n in &m.labels {
                b.del(n);
            }
        }
    }
    for n in &m.include {
        match r.get(n) {
            Some(v) if !v.is_empty() => {
                b.set(n.clone(), v.to_string());
            }
            _ => {
                b.del(n);
            }
        }
    }
    b.build()
}

fn vector_vector(
    ev: &mut Evaluator<'_>,
    op: BinOp,
    lhs: Vector,
    rhs: Vector,
    m: &VectorMatching,
    return_bool: bool,
    pos: Pos,
) -> Result<Vector> {
    if lhs.is_empty() || rhs.is_empty() {
        // As Prometheus: nothing can match, so no error either.
        return Ok(vec![]);
    }
    let swapped = m.card == Card::OneToMany;
    let (lhs, rhs) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let mut right: HashMap<Labels, usize> = HashMap::with_capacity(rhs.len());
    for (i, s) in rhs.iter().enumerate() {
        let sig = signature(&s.metric, m);
        if let Some(&j) = right.get(&sig) {
            let side = if swapped { "left" } else { "right" };
            // The later sample first, as Prometheus prints them.
            let (a, b) = (&s.metric, &rhs[j].metric);
            return Err(Error::exec(format!(
                "found duplicate series for the match group {sig} on the {side} hand-side of the operation: [{a}, {b}];many-to-many matching not allowed: matching labels must be unique on one side"
            )));
        }
        right.insert(sig, i);
    }
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for ls in lhs {
        let sig = signature(&ls.metric, m);
        let Some(&ri) = right.get(&sig) else { continue };
        let rs = &rhs[ri];
        let (fl, fr) = if swapped { (rs.f, ls.f) } else { (ls.f, rs.f) };
        let (hl, hr) = if swapped {
            (&rs.h, &ls.h)
        } else {
            (&ls.h, &rs.h)
        };
        let e = elem_op(op, fl, hl, fr, hr);
        let (mut value, mut h, mut keep) = match e {
            Elem::Keep(v, h) => (v, h, true),
            Elem::Drop => (fl, None, false),
            other => {
                annotate(ev, op, hl, hr, &other, pos);
                continue;
            }
        };
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
            h = None;
            keep = true;
        }
        if !keep {
            continue;
        }
        let mut metric = result_metric(&ls.metric, &rs.metric, m);
        let mut drop_name = return_bool || drops_name(op) || ls.drop_name;
        if drop_name && !ev.opts.delayed_name_removal {
            // As Prometheus: the result has no name before it is checked for
            // uniqueness below.
            metric = metric.without(&crate::engine::NAME_LABELS);
            drop_name = false;
        }
        match matched.get_mut(&sig) {
            None => {
                let mut set = HashSet::new();
                set.insert(metric.clone());
                matched.insert(sig, set);
            }
            Some(set) => {
                if m.card == Card::OneToOne {
                    return Err(Error::exec(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
                if !set.insert(metric.clone()) {
                    return Err(Error::exec(
                        "multiple matches for labels: grouping labels must ensure unique matches",
                    ));
                }
            }
        }
        out.push(Sample {
            h,
            metric,
            t: ls.t,
            f: value,
            drop_name,
        });
    }
    Ok(out)
}
