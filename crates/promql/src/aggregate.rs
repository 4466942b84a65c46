//! Aggregation operators (`sum`, `avg`, `topk`, `quantile`, `limit_ratio`, ...).

use std::collections::HashMap;

use aeon_model::{Labels, METRIC_NAME};

use crate::ast::{AggOp, Pos};
use crate::engine::Evaluator;
use crate::error::{Error, Result};
use crate::lexer::{go_quote, is_valid_utf8};
use crate::value::{Sample, Value, Vector, format_float};
use aeon_model::gofmt::format_g as go_g;

/// Neumaier-compensated summation step, as Prometheus's `kahanSumInc`.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Prometheus's `quantile` over unsorted values.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

#[derive(Default)]
struct Group {
    labels: Labels,
    hcount: f64,
    hist: Option<crate::nativehist::FloatHistogram>,
    hist_err: bool,
    drop_name: bool,
    count: f64,
    acc: FloatAcc,
    members: Vec<usize>,
}

/// The running state of a float aggregation (`sum`, `avg`, `min`, `max`,
/// `stddev`, `stdvar`) over one group, with Prometheus's arithmetic.
#[derive(Default, Clone, Copy)]
pub(crate) struct FloatAcc {
    pub(crate) fcount: f64,
    value: f64,
    kahan: f64,
    mean: f64,
    incremental: bool,
}

impl FloatAcc {
    /// Adds a float sample.
    pub(crate) fn add(&mut self, op: AggOp, f: f64) {
        let g = self;
        g.fcount += 1.0;
        if g.fcount == 1.0 {
            g.value = f;
            g.mean = f;
            if op == AggOp::Stddev || op == AggOp::Stdvar {
                g.value = 0.0;
                if !f.is_finite() {
                    g.kahan = f64::NAN;
                }
            }
            return;
        }
        match op {
            AggOp::Sum => {
                let (v, c) = kahan_inc(f, g.value, g.kahan);
                g.value = v;
                g.kahan = c;
            }
            AggOp::Avg => {
                if !g.incremental {
                    let (v, c) = kahan_inc(f, g.value, g.kahan);
                    if !v.is_infinite() {
                        g.value = v;
                        g.kahan = c;
                        return;
                    }
                    g.incremental = true;
                    g.mean = g.value / (g.fcount - 1.0);
                    g.kahan /= g.fcount - 1.0;
                }
                if g.mean.is_infinite() {
                    if f.is_infinite() && (g.mean > 0.0) == (f > 0.0) {
                        return;
                    }
                    if !f.is_infinite() && !f.is_nan() {
                        return;
                    }
                }
                let cur = g.mean + g.kahan;
                let (m, c) = kahan_inc(f / g.fcount - cur / g.fcount, g.mean, g.kahan);
                g.mean = m;
                g.kahan = c;
            }
            AggOp::Max => {
                if g.value < f || g.value.is_nan() {
                    g.value = f;
                }
            }
            AggOp::Min => {
                if g.value > f || g.value.is_nan() {
                    g.value = f;
                }
            }
            AggOp::Stddev | AggOp::Stdvar => {
                if !f.is_finite() {
                    g.kahan = f64::NAN;
                }
                let delta = f - g.mean;
                g.mean += delta / g.fcount;
                g.value += delta * (f - g.mean);
            }
            _ => {}
        }
    }

    /// The result of `op` (not `count`, `group` or `quantile`).
    pub(crate) fn result(&self, op: AggOp) -> f64 {
        let g = self;
        match op {
            AggOp::Sum => g.value + g.kahan,
            AggOp::Avg => {
                if g.incremental {
                    g.mean + g.kahan
                } else {
                    g.value / g.fcount + g.kahan / g.fcount
                }
            }
            AggOp::Min | AggOp::Max => g.value,
            AggOp::Stdvar => g.value / g.fcount + g.kahan,
            AggOp::Stddev => (g.value / g.fcount).sqrt() + g.kahan,
            _ => 0.0,
        }
    }
}

pub(crate) fn group_labels(m: &Labels, grouping: &[String], without: bool) -> Labels {
    if without {
        let mut names: Vec<&str> = grouping.iter().map(String::as_str).collect();
        names.extend(crate::engine::NAME_LABELS);
        m.without(&names)
    } else {
        m.keep_only(grouping)
    }
}

/// Where an aggregation, its parameter and its vector start (annotations
/// name one of them, as Prometheus's do).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AggPos {
    pub agg: Pos,
    pub param: Pos,
    pub expr: Pos,
    /// Identifies the aggregation node (its parameter's values are
    /// summarised over the whole query).
    pub node: usize,
}

/// The values an aggregation's parameter took over the whole query, as
/// Prometheus's `fParams` summarises them (Go's `math.Max`/`math.Min`: a NaN
/// sticks): its warnings name the largest and smallest value once, not every
/// value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ParamStats {
    op: AggOp,
    pub(crate) pos: Pos,
    /// When the aggregation was last evaluated (annotation order).
    pub(crate) seq: u64,
    min: f64,
    max: f64,
    any_nan: bool,
}

impl ParamStats {
    fn new(op: AggOp, pos: Pos) -> Self {
        ParamStats {
            op,
            pos,
            seq: 0,
            min: f64::MAX,
            max: -f64::MAX,
            any_nan: false,
        }
    }

    fn add(&mut self, v: f64) {
        let nan = |a: f64, b: f64| a.is_nan() || b.is_nan();
        self.max = if nan(self.max, v) {
            f64::NAN
        } else {
            self.max.max(v)
        };
        self.min = if nan(self.min, v) {
            f64::NAN
        } else {
            self.min.min(v)
        };
        self.any_nan |= v.is_nan();
    }

    /// The warnings Prometheus gives for these values.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.op {
            AggOp::Quantile => {
                let w =
                    |v: f64| format!("quantile value should be between 0 and 1, got {}", go_g(v));
                if self.any_nan {
                    out.push(w(f64::NAN));
                }
                if self.max > 1.0 {
                    out.push(w(self.max));
                }
                if self.min < 0.0 {
                    out.push(w(self.min));
                }
            }
            AggOp::LimitRatio if !(self.max == 0.0 && self.min == 0.0) => {
                let w = |v: f64, cap: f64| {
                    format!(
                        "ratio value should be between -1 and 1, got {}, capping to {}",
                        go_g(v),
                        go_g(cap)
                    )
                };
                if self.max > 1.0 {
                    out.push(w(self.max, 1.0));
                }
                if self.min < -1.0 {
                    out.push(w(self.min, -1.0));
                }
            }
            _ => {}
        }
        out
    }
}

/// Records a value of an aggregation's parameter.
fn note_param(ev: &mut Evaluator<'_>, op: AggOp, pos: AggPos, v: f64) {
    let seq = ev.next_anno_seq();
    let stats = ev
        .param_stats
        .entry(pos.node)
        .or_insert_with(|| ParamStats::new(op, pos.param));
    stats.add(v);
    stats.seq = seq;
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn aggregate(
    ev: &mut Evaluator<'_>,
    op: AggOp,
    param: Option<Value>,
    input: Vector,
    grouping: &[String],
    without: bool,
    ts: i64,
    pos: AggPos,
) -> Result<Vector> {
    let pnum = match &param {
        Some(Value::Scalar { v, .. }) => Some(*v),
        _ => None,
    };
    match op {
        AggOp::Topk | AggOp::Bottomk | AggOp::Limitk => {
            let p = pnum.unwrap_or(f64::NAN);
            // As Prometheus: nothing for k < 1; a k that is no int64 fails
            // only when there is a sample to apply it to.
            if p < 1.0 || input.is_empty() {
                return Ok(vec![]);
            }
            if p.is_nan() || p >= 9.223_372_036_854_776e18 {
                return Err(Error::exec(format!(
                    "Scalar value {} overflows int64",
                    go_g(p)
                )));
            }
            let k = p as i64;
            if k < 1 {
                return Ok(vec![]);
            }
            let mut input = input;
            if op != AggOp::Limitk && input.iter().any(|s| s.h.is_some()) {
                ev.info(
                    format!("ignored histogram in {} aggregation", op.name()),
                    pos.agg,
                );
                input.retain(|s| s.h.is_none());
            }
            return Ok(select_k(op, input, grouping, without, k as usize, |_| true));
        }
        AggOp::LimitRatio => {
            let r = pnum.unwrap_or(f64::NAN);
            note_param(ev, op, pos, r);
            // As Prometheus: a NaN ratio fails only when there is a sample to
            // apply it to.
            if r.is_nan() && !input.is_empty() {
                return Err(Error::exec(format!(
                    "Ratio value {} is NaN",
                    format_float(r)
                )));
            }
            let r = r.clamp(-1.0, 1.0);
            if r == 0.0 {
                return Ok(vec![]);
            }
            let keep = |s: &Sample| {
                let off = labels_hash(&s.metric) as f64 / u64::MAX as f64;
                (r >= 0.0 && off < r) || (r < 0.0 && off >= 1.0 + r)
            };
            return Ok(select_k(op, input, grouping, without, usize::MAX, keep));
        }
        AggOp::CountValues => {
            let label = match &param {
                Some(Value::String { v, .. }) => v.clone(),
                _ => String::new(),
            };
            if label.is_empty() || !is_valid_utf8(&label) {
                return Err(Error::exec(format!(
                    "invalid label name {}",
                    go_quote(&label)
                )));
            }
            let mut order: Vec<Labels> = Vec::new();
            let mut counts: HashMap<Labels, f64> = HashMap::new();
            // As Prometheus: the value label is set on the sample's labels,
            // then grouped; `by` keeps it, `without` may remove it.
            let mut grouping = grouping.to_vec();
            if !without {
                grouping.push(label.clone());
            }
            for s in &input {
                let mut b = s.metric.builder();
                match &s.h {
                    Some(h) => b.set(label.clone(), h.go_string()),
                    None => b.set(label.clone(), format_float(s.f)),
                };
                let l = group_labels(&b.build(), &grouping, without);
                let c = counts.entry(l.clone()).or_insert_with(|| {
                    order.push(l);
                    0.0
                });
                *c += 1.0;
            }
            return Ok(order
                .into_iter()
                .map(|l| {
                    let f = counts[&l];
                    Sample {
                        h: None,
                        metric: l,
                        t: ts,
                        f,
                        drop_name: false,
                    }
                })
                .collect());
        }
        _ => {}
    }
    if op == AggOp::Quantile {
        note_param(ev, op, pos, pnum.unwrap_or(f64::NAN));
    }
    let mut input = input;
    if matches!(
        op,
        AggOp::Min | AggOp::Max | AggOp::Stddev | AggOp::Stdvar | AggOp::Quantile
    ) && input.iter().any(|s| s.h.is_some())
    {
        ev.info(
            format!("ignored histogram in {} aggregation", op.name()),
            pos.expr,
        );
        input.retain(|s| s.h.is_none());
    }
    let by_name = !without && grouping.iter().any(|g| g == METRIC_NAME);
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for (i, s) in input.iter().enumerate() {
        let key = ev.group_key(&s.metric, grouping, without);
        let f = s.f;
        let gi = match index.get(&key) {
            Some(&gi) => gi,
            None => {
                groups.push(Group {
                    labels: key.clone(),
                    ..Group::default()
                });
                index.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        let g = &mut groups[gi];
        if by_name && s.drop_name {
            g.drop_name = true;
        }
        g.members.push(i);
        g.count += 1.0;
        if let Some(h) = &s.h {
            g.hcount += 1.0;
            match &mut g.hist {
                None => g.hist = Some((**h).clone()),
                Some(acc) => {
                    if acc.add(h).is_err() {
                        g.hist_err = true;
                    }
                }
            }
            continue;
        }
        g.acc.add(op, f);
    }
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let mut h = None;
        if matches!(op, AggOp::Sum | AggOp::Avg) && g.hcount > 0.0 {
            if g.acc.fcount > 0.0 {
                ev.warn(
                    format!(
                        "encountered a mix of histograms and floats for {} aggregation",
                        op.name()
                    ),
                    pos.expr,
                );
                continue;
            }
            if g.hist_err {
                ev.warn(
                    format!(
                        "vector contains histograms with incompatible bucket layouts for {} aggregation",
                        op.name()
                    ),
                    pos.expr,
                );
                continue;
            }
            if let Some(mut acc) = g.hist {
                if op == AggOp::Avg {
                    acc.div(g.hcount);
                }
                acc.compact();
                acc.counter_reset_hint = crate::nativehist::CounterResetHint::Gauge;
                h = Some(std::sync::Arc::new(acc));
            }
        }
        let f = match op {
            AggOp::Count => g.count,
            AggOp::Group => 1.0,
            AggOp::Quantile => {
                let mut vals: Vec<f64> = g.members.iter().map(|&i| input[i].f).collect();
                quantile(pnum.unwrap_or(f64::NAN), &mut vals)
            }
            _ => g.acc.result(op),
        };
        out.push(Sample {
            h,
            metric: g.labels,
            t: ts,
            f,
            drop_name: g.drop_name,
        });
    }
    Ok(out)
}

/// Prometheus 3's `labels.Hash()`: xxHash64 of its default ("stringlabels")
/// encoding, each name and value prefixed by its length (one byte below
/// 255, else 255 and three bytes little-endian). `limit_ratio` keeps a
/// series by it.
fn labels_hash(l: &Labels) -> u64 {
    let mut buf = Vec::with_capacity(256);
    for l in l.iter() {
        for s in [l.name.as_bytes(), l.value.as_bytes()] {
            if s.len() < 255 {
                buf.push(s.len() as u8);
            } else {
                buf.push(255);
                buf.extend_from_slice(&(s.len() as u32).to_le_bytes()[..3]);
            }
            buf.extend_from_slice(s);
        }
    }
    xxhash_rust::xxh64::xxh64(&buf, 0)
}

/// `Less` of Prometheus's `vectorByValueHeap` (NaN first).
fn value_less(a: &Sample, b: &Sample) -> bool {
    a.f.is_nan() || a.f < b.f
}

/// `Less` of Prometheus's `vectorByReverseValueHeap` (NaN first).
fn reverse_value_less(a: &Sample, b: &Sample) -> bool {
    a.f.is_nan() || a.f > b.f
}

/// `topk`, `bottomk`, `limitk` and `limit_ratio` (samples `keep` accepts)
/// per group, groups in order of first appearance. As in Prometheus, each
/// group is a heap (Go's `container/heap`) of at most `k` samples, sorted at
/// the end for `topk`/`bottomk` with Go's unstable sort: ties are broken,
/// and results ordered, the same way.
fn select_k(
    op: AggOp,
    input: Vector,
    grouping: &[String],
    without: bool,
    k: usize,
    keep: impl Fn(&Sample) -> bool,
) -> Vector {
    let mut order: Vec<Vec<Sample>> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for s in input {
        let key = group_labels(&s.metric, grouping, without);
        let g = match index.get(&key) {
            Some(&g) => g,
            None => {
                index.insert(key, order.len());
                order.push(Vec::new());
                order.len() - 1
            }
        };
        let heap = &mut order[g];
        if heap.is_empty() && op != AggOp::LimitRatio {
            heap.push(s);
            continue;
        }
        match op {
            AggOp::Topk => {
                if heap.len() < k {
                    heap.push(s);
                    crate::gosort::heap_push(heap, value_less);
                } else if heap[0].f < s.f || (heap[0].f.is_nan() && !s.f.is_nan()) {
                    heap[0] = s;
                    if k > 1 {
                        crate::gosort::heap_fix(heap, 0, value_less);
                    }
                }
            }
            AggOp::Bottomk => {
                if heap.len() < k {
                    heap.push(s);
                    crate::gosort::heap_push(heap, reverse_value_less);
                } else if heap[0].f > s.f || (heap[0].f.is_nan() && !s.f.is_nan()) {
                    heap[0] = s;
                    if k > 1 {
                        crate::gosort::heap_fix(heap, 0, reverse_value_less);
                    }
                }
            }
            _ => {
                if heap.len() < k && keep(&s) {
                    heap.push(s);
                    crate::gosort::heap_push(heap, value_less);
                }
            }
        }
    }
    let mut out = Vec::new();
    for mut heap in order {
        match op {
            AggOp::Topk => crate::gosort::sort(&mut heap, |a, b| value_less(b, a)),
            AggOp::Bottomk => crate::gosort::sort(&mut heap, |a, b| reverse_value_less(b, a)),
            _ => {}
        }
        out.extend(heap);
    }
    out
}
