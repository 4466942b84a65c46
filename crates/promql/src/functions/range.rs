//! Functions over range vectors (`rate`, `*_over_time`, ...).

use aeon_model::{Labels, METRIC_NAME, MatchType};

use super::FunctionDef;
use crate::aggregate::{kahan_inc, quantile};
use crate::ast::{Expr, Pos};
use crate::engine::Evaluator;
use crate::error::{Error, Result};
use crate::nativehist::{CounterResetHint, FloatHistogram, is_reset};
use crate::value::{FPoint, HPoint, Sample, Series, Value};
use std::sync::Arc;

fn window(ev: &Evaluator<'_>, e: &Expr, ts: i64) -> (i64, i64) {
    match e.unparen() {
        Expr::Matrix { vs, range } => (ev.resolve_at(vs.at).unwrap_or(ts) - vs.offset, *range),
        Expr::Subquery {
            range, offset, at, ..
        } => (ev.resolve_at(*at).unwrap_or(ts) - offset, *range),
        _ => (ts, 0),
    }
}

pub(crate) fn call(
    ev: &mut Evaluator<'_>,
    func: &'static FunctionDef,
    args: &[Expr],
    ts: i64,
) -> Result<Value> {
    let (marg, scalar_args) = if func.name == "quantile_over_time" {
        (&args[1], vec![ev.eval_scalar(&args[0], ts)?])
    } else {
        let mut s = Vec::new();
        for a in &args[1..] {
            s.push(ev.eval_scalar(a, ts)?);
        }
        (&args[0], s)
    };
    let matrix = ev.eval_matrix(marg, ts)?;
    let (end, range) = window(ev, marg, ts);
    // Annotations name the first argument, as Prometheus's do.
    let pos = crate::functions::arg_pos(func, args, 0);
    let name = func.name;

    if name == "absent_over_time" {
        if !matrix.is_empty() {
            return Ok(Value::Vector(vec![]));
        }
        return Ok(Value::Vector(vec![Sample {
            h: None,
            metric: absent_labels(marg),
            t: ts,
            f: 1.0,
            drop_name: false,
        }]));
    }
    match name {
        // As Prometheus, these check their parameters only when called,
        // that is for a series with samples in the window.
        "quantile_over_time" => {
            let q = scalar_args[0];
            if !(0.0..=1.0).contains(&q) && matrix.iter().any(|s| !s.floats.is_empty()) {
                ev.warn(
                    format!(
                        "quantile value should be between 0 and 1, got {}",
                        aeon_model::gofmt::format_g(q)
                    ),
                    pos,
                );
            }
        }
        "double_exponential_smoothing"
            if matrix
                .iter()
                .any(|s| !s.floats.is_empty() || !s.histograms.is_empty()) =>
        {
            let (sf, tf) = (scalar_args[0], scalar_args[1]);
            if sf <= 0.0 || sf >= 1.0 {
                return Err(Error::exec(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
                    aeon_model::gofmt::printf_f(sf)
                )));
            }
            if tf <= 0.0 || tf >= 1.0 {
                return Err(Error::exec(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {}",
                    aeon_model::gofmt::printf_f(tf)
                )));
            }
        }
        _ => {}
    }
    let mut out = Vec::with_capacity(matrix.len());
    for s in matrix {
        let p = &s.floats;
        if !s.histograms.is_empty() {
            match histogram_case(ev, name, &s, end, range, ts, pos)? {
                HistCase::Done(v) => {
                    if let Some(smp) = v {
                        out.push(smp);
                    }
                    continue;
                }
                HistCase::Floats => {}
            }
        }
        if p.is_empty() {
            continue;
        }
        let v = float_value(name, p, end, range, ts, &scalar_args)?;
        let Some(v) = v else { continue };
        let keep_name = name == "last_over_time";
        let s = &s;
        out.push(Sample {
            h: None,
            metric: s.metric.clone(),
            t: ts,
            f: v,
            drop_name: s.drop_name || !keep_name,
        });
    }
    // As Prometheus: for each series with a float result, by its own metric
    // name (still on the result here: the caller drops it).
    if matches!(name, "rate" | "increase") {
        for s in out.iter().filter(|s| s.h.is_none()) {
            if let Some(n) = s.metric.get(aeon_model::METRIC_NAME)
                && !crate::functions::counter_like_name(n)
            {
                ev.info(crate::functions::possible_non_counter(n), pos);
            }
        }
    }
    Ok(Value::Vector(out))
}

/// The value of a range function over float points `p` in the window ending at `end`.
pub(crate) fn float_value(
    name: &str,
    p: &[FPoint],
    end: i64,
    range: i64,
    ts: i64,
    scalar_args: &[f64],
) -> Result<Option<f64>> {
    Ok(match name {
        "rate" => extrapolated_rate(p, end, range, true, true, true),
        "increase" => extrapolated_rate(p, end, range, true, false, true),
        "delta" => extrapolated_rate(p, end, range, false, false, false),
        "irate" => instant_value(p, true),
        "idelta" => instant_value(p, false),
        "deriv" => {
            if p.len() < 2 {
                None
            } else {
                Some(linear_regression(p, p[0].t).0)
            }
        }
        "predict_linear" => {
            if p.len() < 2 {
                None
            } else {
                let (slope, icpt) = linear_regression(p, ts);
                Some(slope * scalar_args[0] + icpt)
            }
        }
        "changes" => {
            let mut c = 0.0;
            for w in p.windows(2) {
                if w[1].f != w[0].f && !(w[1].f.is_nan() && w[0].f.is_nan()) {
                    c += 1.0;
                }
            }
            Some(c)
        }
        "resets" => Some(p.windows(2).filter(|w| w[1].f < w[0].f).count() as f64),
        "avg_over_time" => Some(avg(p)),
        "sum_over_time" => {
            let (mut sum, mut c) = (0.0, 0.0);
            for x in p {
                (sum, c) = kahan_inc(x.f, sum, c);
            }
            Some(if sum.is_infinite() { sum } else { sum + c })
        }
        "count_over_time" => Some(p.len() as f64),
        "min_over_time" => Some(
            p.iter()
                .skip(1)
                .fold(p[0].f, |m, x| if x.f < m || m.is_nan() { x.f } else { m }),
        ),
        "max_over_time" => Some(
            p.iter()
                .skip(1)
                .fold(p[0].f, |m, x| if x.f > m || m.is_nan() { x.f } else { m }),
        ),
        "last_over_time" => p.last().map(|x| x.f),
        "present_over_time" => Some(1.0),
        "ts_of_last_over_time" => p.last().map(|x| x.t as f64 / 1000.0),
        "ts_of_max_over_time" => ts_of(p, |a, b| a >= b),
        "ts_of_min_over_time" => ts_of(p, |a, b| a <= b),
        "quantile_over_time" => {
            let mut vals: Vec<f64> = p.iter().map(|x| x.f).collect();
            Some(quantile(scalar_args[0], &mut vals))
        }
        "stddev_over_time" => Some(variance(p).sqrt()),
        "stdvar_over_time" => Some(variance(p)),
        "mad_over_time" => {
            let mut vals: Vec<f64> = p.iter().map(|x| x.f).collect();
            let med = quantile(0.5, &mut vals);
            let mut dev: Vec<f64> = vals.iter().map(|v| (v - med).abs()).collect();
            Some(quantile(0.5, &mut dev))
        }
        "double_exponential_smoothing" => holt(p, scalar_args[0], scalar_args[1]),
        other => return Err(super::unsupported(other)),
    })
}

enum HistCase {
    /// The function was handled (with or without an output sample).
    Done(Option<Sample>),
    /// Continue with the float samples only.
    Floats,
}

fn hsample(
    s: &Series,
    ts: i64,
    h: Option<FloatHistogram>,
    f: f64,
    keep_name: bool,
) -> Option<Sample> {
    Some(Sample {
        h: h.map(|mut h| {
            h.compact();
            Arc::new(h)
        }),
        metric: s.metric.clone(),
        t: ts,
        f,
        drop_name: s.drop_name || !keep_name,
    })
}

fn histogram_case(
    ev: &mut Evaluator<'_>,
    name: &str,
    s: &Series,
    end: i64,
    range: i64,
    ts: i64,
    pos: Pos,
) -> Result<HistCase> {
    let hs = &s.histograms;
    let metric = s.metric.get_or_empty(METRIC_NAME).to_string();
    let mixed = !s.floats.is_empty();
    let mix_warn = |ev: &mut Evaluator<'_>| {
        ev.warn(
            format!("encountered a mix of histograms and floats for metric name {metric:?}"),
            pos,
        )
    };
    Ok(HistCase::Done(match name {
        "rate" | "increase" | "delta" => {
            if mixed {
                mix_warn(ev);
                return Ok(HistCase::Done(None));
            }
            let h = hist_rate(
                ev,
                hs,
                end,
                range,
                name != "delta",
                name == "rate",
                &metric,
                pos,
            );
            h.and_then(|h| hsample(s, ts, Some(h), 0.0, false))
        }
        "irate" | "idelta" => {
            let is_rate = name == "irate";
            let mut pts: Vec<(i64, Option<&Arc<FloatHistogram>>, f64)> =
                s.floats.iter().map(|p| (p.t, None, p.f)).collect();
            pts.extend(hs.iter().map(|p| (p.t, Some(&p.h), 0.0)));
            pts.sort_by_key(|p| p.0);
            if pts.len() < 2 {
                return Ok(HistCase::Done(None));
            }
            let (prev, last) = (&pts[pts.len() - 2], &pts[pts.len() - 1]);
            match (prev.1, last.1) {
                (None, None) => {
                    let v = instant_value(
                        &[
                            FPoint {
                                t: prev.0,
                                f: prev.2,
                            },
                            FPoint {
                                t: last.0,
                                f: last.2,
                            },
                        ],
                        is_rate,
                    );
                    v.and_then(|v| hsample(s, ts, None, v, false))
                }
                (Some(ph), Some(lh)) => {
                    let gauge =
                        |h: &FloatHistogram| h.counter_reset_hint == CounterResetHint::Gauge;
                    if is_rate && (gauge(ph) || gauge(lh)) {
                        ev.warn(
                            format!("this native histogram metric is not a counter: {metric:?}"),
                            pos,
                        );
                    }
                    if !is_rate && (!gauge(ph) || !gauge(lh)) {
                        ev.warn(
                            format!("this native histogram metric is not a gauge: {metric:?}"),
                            pos,
                        );
                    }
                    let mut h = (**lh).clone();
                    if !(is_rate && is_reset(lh, ph)) {
                        if let Err(e) = h.sub(ph) {
                            hist_error_warning(ev, e, &metric, pos);
                            return Ok(HistCase::Done(None));
                        }
                    }
                    if is_rate {
                        h.div((last.0 - prev.0) as f64 / 1000.0);
                    }
                    h.counter_reset_hint = CounterResetHint::Gauge;
                    hsample(s, ts, Some(h), 0.0, false)
                }
                _ => {
                    mix_warn(ev);
                    None
                }
            }
        }
        "sum_over_time" | "avg_over_time" => {
            if mixed {
                mix_warn(ev);
                return Ok(HistCase::Done(None));
            }
            let mut acc = (*hs[0].h).clone();
            for x in &hs[1..] {
                if acc.add(&x.h).is_err() {
                    ev.warn(format!(
                        "vector contains histograms with incompatible custom buckets for metric name {metric:?}"
                    ), pos);
                    return Ok(HistCase::Done(None));
                }
            }
            if name == "avg_over_time" {
                acc.div(hs.len() as f64);
            }
            acc.counter_reset_hint = CounterResetHint::Gauge;
            hsample(s, ts, Some(acc), 0.0, false)
        }
        "count_over_time" => hsample(s, ts, None, (hs.len() + s.floats.len()) as f64, false),
        "present_over_time" => hsample(s, ts, None, 1.0, false),
        "last_over_time" | "ts_of_last_over_time" => {
            let lh = &hs[hs.len() - 1];
            let lf = s.floats.last();
            let hist_last = lf.is_none_or(|f| f.t < lh.t);
            if name == "ts_of_last_over_time" {
                let t = if hist_last {
                    lh.t
                } else {
                    lf.map_or(lh.t, |f| f.t)
                };
                hsample(s, ts, None, t as f64 / 1000.0, false)
            } else if hist_last {
                hsample(s, ts, Some((*lh.h).clone()), 0.0, true)
            } else {
                hsample(s, ts, None, lf.map_or(0.0, |f| f.f), true)
            }
        }
        "changes" | "resets" => {
            let mut pts: Vec<(i64, Option<&FloatHistogram>, f64)> =
                s.floats.iter().map(|p| (p.t, None, p.f)).collect();
            pts.extend(hs.iter().map(|p| (p.t, Some(&*p.h), 0.0)));
            pts.sort_by_key(|p| p.0);
            let mut c = 0.0;
            for w in pts.windows(2) {
                let (a, b) = (&w[0], &w[1]);
                let hit = match (a.1, b.1) {
                    (None, None) => {
                        if name == "changes" {
                            b.2 != a.2 && !(b.2.is_nan() && a.2.is_nan())
                        } else {
                            b.2 < a.2
                        }
                    }
                    (Some(x), Some(y)) => {
                        if name == "changes" {
                            !y.equals(x)
                        } else {
                            is_reset(y, x)
                        }
                    }
                    _ => true,
                };
                if hit {
                    c += 1.0;
                }
            }
            hsample(s, ts, None, c, false)
        }
        _ => {
            ev.info(format!(
                "ignored histograms in a range containing both floats and histograms for metric name {metric:?}"
            ), pos);
            return Ok(HistCase::Floats);
        }
    }))
}

fn hist_error_warning(
    ev: &mut Evaluator<'_>,
    e: crate::nativehist::HistogramError,
    metric: &str,
    pos: Pos,
) {
    match e {
        crate::nativehist::HistogramError::MixedExponentialCustom => ev.warn(format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {metric:?}"
        ), pos),
        crate::nativehist::HistogramError::IncompatibleCustomBuckets => ev.warn(format!(
            "vector contains histograms with incompatible custom buckets for metric name {metric:?}"
        ), pos),
    }
}

#[allow(clippy::too_many_arguments)]
fn hist_rate(
    ev: &mut Evaluator<'_>,
    hs: &[HPoint],
    end: i64,
    range: i64,
    counter: bool,
    is_rate: bool,
    metric: &str,
    pos: Pos,
) -> Option<FloatHistogram> {
    if hs.len() < 2 {
        return None;
    }
    let (first, last) = (&hs[0], &hs[hs.len() - 1]);
    // A counter reset right after the first sample means the first sample is
    // never subtracted, so its bucket layout does not matter: it counts as empty.
    let first_reset = counter && is_reset(&hs[1].h, &first.h);
    let lead = if first_reset { &hs[1] } else { first };
    let custom = lead.h.uses_custom_buckets();
    let mut min_schema = lead.h.schema.min(last.h.schema);
    let switched = !first_reset && hs.len() == 2 && last.h.uses_custom_buckets() != custom;
    let rest = if first_reset { &hs[2..] } else { &hs[1..] };
    for p in rest {
        if !switched && p.h.uses_custom_buckets() != custom {
            ev.warn(format!(
                "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {metric:?}"
            ), pos);
            return None;
        }
        if counter && p.h.counter_reset_hint == CounterResetHint::Gauge {
            ev.warn(
                format!("this native histogram metric is not a counter: {metric:?}"),
                pos,
            );
        }
        min_schema = min_schema.min(p.h.schema);
    }
    // A switch between exponential and custom buckets is a reset.
    let mut h = if switched {
        (*last.h).clone()
    } else {
        last.h.copy_to_schema(min_schema)
    };
    if !switched && !first_reset && h.sub(&first.h).is_err() {
        ev.warn(format!(
            "vector contains histograms with incompatible custom buckets for metric name {metric:?}"
        ), pos);
        return None;
    }
    if counter && !switched {
        let mut prev = &lead.h;
        for p in rest {
            if is_reset(&p.h, prev) && h.add(prev).is_err() {
                return None;
            }
            prev = &p.h;
        }
    } else if first.h.counter_reset_hint != CounterResetHint::Gauge
        || last.h.counter_reset_hint != CounterResetHint::Gauge
    {
        ev.warn(
            format!("this native histogram metric is not a gauge: {metric:?}"),
            pos,
        );
    }
    let start = end - range;
    let mut to_start = (first.t - start) as f64 / 1000.0;
    let mut to_end = (end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg_dur = sampled / (hs.len() - 1) as f64;
    let threshold = avg_dur * 1.1;
    if to_start >= threshold {
        to_start = avg_dur / 2.0;
    }
    if to_end >= threshold {
        to_end = avg_dur / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= range as f64 / 1000.0;
    }
    h.mul(factor);
    h.counter_reset_hint = CounterResetHint::Gauge;
    Some(h)
}

/// Labels for `absent`/`absent_over_time`: the equality matchers of the selector.
pub(crate) fn absent_labels(e: &Expr) -> Labels {
    let vs = match e.unparen() {
        Expr::Vector(vs) => vs,
        Expr::Matrix { vs, .. } => vs,
        _ => return Labels::empty(),
    };
    let mut b = Labels::empty().builder();
    let mut count: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for m in &vs.matchers {
        *count.entry(m.name.as_str()).or_default() += 1;
    }
    for m in &vs.matchers {
        if m.name == METRIC_NAME || m.kind != MatchType::Equal || count[m.name.as_str()] > 1 {
            continue;
        }
        b.set(m.name.clone(), m.value.clone());
    }
    b.build()
}

fn ts_of(p: &[FPoint], better: impl Fn(f64, f64) -> bool) -> Option<f64> {
    let mut best = *p.first()?;
    for x in &p[1..] {
        if better(x.f, best.f) || best.f.is_nan() {
            best = *x;
        }
    }
    Some(best.t as f64 / 1000.0)
}

fn avg(p: &[FPoint]) -> f64 {
    let (mut sum, mut count, mut mean, mut c) = (p[0].f, 1.0, 0.0, 0.0);
    let mut incremental = false;
    for (i, x) in p[1..].iter().enumerate() {
        count = (i + 2) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(x.f, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(x.f / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

fn variance(p: &[FPoint]) -> f64 {
    let (mut count, mut mean, mut cmean, mut aux, mut caux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for x in p {
        count += 1.0;
        let delta = x.f - (mean + cmean);
        (mean, cmean) = kahan_inc(delta / count, mean, cmean);
        (aux, caux) = kahan_inc(delta * (x.f - (mean + cmean)), aux, caux);
    }
    (aux + caux) / count
}

fn holt(p: &[FPoint], sf: f64, tf: f64) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, p[0].f);
    let mut b = p[1].f - p[0].f;
    for (i, x) in p.iter().enumerate().skip(1) {
        let xs = sf * x.f;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = xs + y;
    }
    Some(s1)
}

/// [`float_value`] for a window known to have no decreasing sample after
/// its first (no counter reset to scan for).
pub(crate) fn float_value_without_drops(
    name: &str,
    p: &[FPoint],
    end: i64,
    range: i64,
    ts: i64,
    scalar_args: &[f64],
) -> Result<Option<f64>> {
    Ok(match name {
        "rate" => extrapolated_rate(p, end, range, true, true, false),
        "increase" => extrapolated_rate(p, end, range, true, false, false),
        "resets" => Some(0.0),
        _ => return float_value(name, p, end, range, ts, scalar_args),
    })
}

fn extrapolated_rate(
    p: &[FPoint],
    end: i64,
    range: i64,
    counter: bool,
    is_rate: bool,
    scan_resets: bool,
) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let start = end - range;
    let (first, last) = (p[0], p[p.len() - 1]);
    let mut result = last.f - first.f;
    if counter && scan_resets {
        let mut lastv = 0.0;
        for x in p {
            if x.f < lastv {
                result += lastv;
            }
            lastv = x.f;
        }
    }
    let mut to_start = (first.t - start) as f64 / 1000.0;
    let mut to_end = (end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg_dur = sampled / (p.len() - 1) as f64;
    let threshold = avg_dur * 1.1;
    if to_start >= threshold {
        to_start = avg_dur / 2.0;
    }
    if counter {
        let mut to_zero = to_start;
        if result > 0.0 && first.f >= 0.0 {
            to_zero = sampled * (first.f / result);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg_dur / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= range as f64 / 1000.0;
    }
    Some(result * factor)
}

fn instant_value(p: &[FPoint], is_rate: bool) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (prev, last) = (p[p.len() - 2], p[p.len() - 1]);
    let mut v = if is_rate && last.f < prev.f {
        last.f
    } else {
        last.f - prev.f
    };
    let interval = last.t - prev.t;
    if interval == 0 {
        return None;
    }
    if is_rate {
        v /= interval as f64 / 1000.0;
    }
    Some(v)
}

/// Least-squares slope and intercept (at `intercept_t`), as Prometheus computes them.
pub(crate) fn linear_regression(p: &[FPoint], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init = p[0].f;
    let mut const_y = true;
    for (i, x) in p.iter().enumerate() {
        if const_y && i > 0 && x.f != init {
            const_y = false;
        }
        n += 1.0;
        let t = (x.t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(t, sx, cx);
        (sy, cy) = kahan_inc(x.f, sy, cy);
        (sxy, cxy) = kahan_inc(t * x.f, sxy, cxy);
        (sx2, cx2) = kahan_inc(t * t, sx2, cx2);
    }
    if const_y {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}
