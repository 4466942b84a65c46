//! Functions over instant vectors and scalars.

use std::cmp::Ordering;

use aeon_model::{Labels, METRIC_NAME};

use super::FunctionDef;
use super::range::absent_labels;
use crate::ast::Expr;
use crate::engine::{Evaluator, check_duplicates};
use crate::error::{Error, Result};
use crate::lexer::{go_quote, is_valid_utf8};
use crate::value::{Sample, Value, Vector};

/// Go's `math.Max`/`math.Min` propagate NaN.
const LN2: f64 = std::f64::consts::LN_2;
const NEAR_ZERO: f64 = 1.0 / (1u64 << 28) as f64;
const LARGE: f64 = (1u64 << 28) as f64;

/// Go's `math.Asinh` (no overflow for large arguments, unlike a naive one).
fn go_asinh(x: f64) -> f64 {
    if x.is_nan() || x.is_infinite() {
        return x;
    }
    let a = x.abs();
    let t = if a > LARGE {
        a.ln() + LN2
    } else if a > 2.0 {
        (2.0 * a + 1.0 / ((a * a + 1.0).sqrt() + a)).ln()
    } else if a < NEAR_ZERO {
        a
    } else {
        (a + a * a / (1.0 + (1.0 + a * a).sqrt())).ln_1p()
    };
    if x < 0.0 { -t } else { t }
}

/// Go's `math.Acosh`.
fn go_acosh(x: f64) -> f64 {
    if x < 1.0 || x.is_nan() {
        f64::NAN
    } else if x == 1.0 {
        0.0
    } else if x >= LARGE {
        x.ln() + LN2
    } else if x > 2.0 {
        (2.0 * x - 1.0 / (x + (x * x - 1.0).sqrt())).ln()
    } else {
        let t = x - 1.0;
        (t + (2.0 * t + t * t).sqrt()).ln_1p()
    }
}

/// Go's `math.Atanh`.
fn go_atanh(x: f64) -> f64 {
    if !(-1.0..=1.0).contains(&x) || x.is_nan() {
        return f64::NAN;
    }
    if x == 1.0 {
        return f64::INFINITY;
    }
    if x == -1.0 {
        return f64::NEG_INFINITY;
    }
    let a = x.abs();
    let t = if a < NEAR_ZERO {
        a
    } else if a < 0.5 {
        let t = a + a;
        0.5 * (t + t * a / (1.0 - a)).ln_1p()
    } else {
        0.5 * ((a + a) / (1.0 - a)).ln_1p()
    };
    if x < 0.0 { -t } else { t }
}

/// Go's `math.Max`: +Inf wins even over NaN.
fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        f64::INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}
/// Go's `math.Min`: -Inf wins even over NaN.
fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn map(v: Vector, f: impl Fn(f64) -> f64) -> Value {
    Value::Vector(
        v.into_iter()
            .filter(|s| s.h.is_none())
            .map(|mut s| {
                s.f = f(s.f);
                s.drop_name = true;
                s
            })
            .collect(),
    )
}

/// Days since 1970-01-01 → (year, month, day).
fn civil_from_days(z: i128) -> (i128, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i128) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// The Unix seconds Prometheus's `time.Unix(int64(f), 0)` stands for: Go's
/// `int64(f)` truncates, and on amd64 gives the lowest int64 for NaN, ±Inf
/// and values out of range; Go's calendar counts unsigned seconds from its
/// absolute epoch, so the very lowest seconds wrap around to the far future
/// (`year(vector(NaN))` is 292277026596 in Prometheus).
fn go_unix_seconds(f: f64) -> i128 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let s = if f.is_nan() || !(-TWO_63..TWO_63).contains(&f) {
        i64::MIN
    } else {
        f as i64
    };
    // unixToInternal + internalToAbsolute of Go's time package.
    const TO_ABSOLUTE: i128 = 9_223_372_028_683_721_448;
    let s = s as i128;
    if s + TO_ABSOLUTE < 0 {
        s + (1i128 << 64)
    } else {
        s
    }
}

fn date_part(name: &str, secs: f64) -> f64 {
    let s = go_unix_seconds(secs);
    let days = s.div_euclid(86_400);
    let sod = s.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let dim = match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    match name {
        "year" => y as f64,
        "month" => m as f64,
        "day_of_month" => d as f64,
        "day_of_week" => (days + 4).rem_euclid(7) as f64,
        "day_of_year" => {
            let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
            let mut doy = cum[(m - 1) as usize] + d;
            if m > 2 && is_leap(y) {
                doy += 1;
            }
            doy as f64
        }
        "days_in_month" => dim as f64,
        "hour" => (sod / 3600) as f64,
        "minute" => ((sod % 3600) / 60) as f64,
        _ => f64::NAN,
    }
}

/// Natural ordering of strings (digit runs compare numerically).
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let na = a[si..i].trim_start_matches('0');
            let nb = b[sj..j].trim_start_matches('0');
            let o = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            if ab[i] != bb[j] {
                return ab[i].cmp(&bb[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j))
}

fn str_arg(ev: &mut Evaluator<'_>, e: &Expr, ts: i64) -> Result<String> {
    match ev.eval(e, ts)? {
        Value::String { v, .. } => Ok(v),
        v => Err(Error::exec(format!(
            "expected string, got {}",
            v.type_name()
        ))),
    }
}

pub(crate) fn call(
    ev: &mut Evaluator<'_>,
    func: &'static FunctionDef,
    args: &[Expr],
    ts: i64,
) -> Result<Value> {
    let name = func.name;
    match name {
        "time" => {
            return Ok(Value::Scalar {
                t: ts,
                v: ts as f64 / 1000.0,
            });
        }
        "pi" => {
            return Ok(Value::Scalar {
                t: ts,
                v: std::f64::consts::PI,
            });
        }
        "vector" => {
            let v = ev.eval_scalar(&args[0], ts)?;
            return Ok(Value::Vector(vec![Sample {
                h: None,
                metric: Labels::empty(),
                t: ts,
                f: v,
                drop_name: false,
            }]));
        }
        "scalar" => {
            let v = ev.eval_vector(&args[0], ts)?;
            let floats: Vec<&Sample> = v.iter().filter(|s| s.h.is_none()).collect();
            let f = if floats.len() == 1 {
                floats[0].f
            } else {
                f64::NAN
            };
            return Ok(Value::Scalar { t: ts, v: f });
        }
        "timestamp" => {
            let v = match args[0].unparen() {
                Expr::Vector(vs) => ev.eval_vector_selector(vs, ts, true)?,
                e => ev.eval_vector(e, ts)?,
            };
            return Ok(Value::Vector(
                v.into_iter()
                    .map(|mut s| {
                        s.f = s.t as f64 / 1000.0;
                        s.h = None;
                        s.t = ts;
                        s.drop_name = true;
                        s
                    })
                    .collect(),
            ));
        }
        "year" | "month" | "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month"
        | "hour" | "minute" => {
            let v = if args.is_empty() {
                vec![Sample {
                    h: None,
                    metric: Labels::empty(),
                    t: ts,
                    f: ts as f64 / 1000.0,
                    drop_name: false,
                }]
            } else {
                ev.eval_vector(&args[0], ts)?
            };
            return Ok(map(v, |f| date_part(name, f)));
        }
        "histogram_quantile" => {
            let q = ev.eval_scalar(&args[0], ts)?;
            let v = ev.eval_vector(&args[1], ts)?;
            let pos = crate::histogram::HistPos {
                scalar: crate::functions::arg_pos(func, args, 0),
                vector: crate::functions::arg_pos(func, args, 1),
            };
            return crate::histogram::histogram_quantile(ev, q, v, ts, pos);
        }
        "histogram_fraction" => {
            let lo = ev.eval_scalar(&args[0], ts)?;
            let hi = ev.eval_scalar(&args[1], ts)?;
            let v = ev.eval_vector(&args[2], ts)?;
            let pos = crate::histogram::HistPos {
                scalar: crate::functions::arg_pos(func, args, 0),
                vector: crate::functions::arg_pos(func, args, 2),
            };
            return crate::histogram::histogram_fraction(ev, lo, hi, v, ts, pos);
        }
        _ => {}
    }
    let v = ev.eval_vector(&args[0], ts)?;
    Ok(match name {
        "abs" => map(v, f64::abs),
        "ceil" => map(v, f64::ceil),
        "floor" => map(v, f64::floor),
        "exp" => map(v, f64::exp),
        "sqrt" => map(v, f64::sqrt),
        "ln" => map(v, f64::ln),
        "log2" => map(v, f64::log2),
        "log10" => map(v, f64::log10),
        "sin" => map(v, f64::sin),
        "cos" => map(v, f64::cos),
        "tan" => map(v, f64::tan),
        "asin" => map(v, f64::asin),
        "acos" => map(v, f64::acos),
        "atan" => map(v, f64::atan),
        "sinh" => map(v, f64::sinh),
        "cosh" => map(v, f64::cosh),
        "tanh" => map(v, f64::tanh),
        "asinh" => map(v, go_asinh),
        "acosh" => map(v, go_acosh),
        "atanh" => map(v, go_atanh),
        "deg" => map(v, |f| f * 180.0 / std::f64::consts::PI),
        "rad" => map(v, |f| f * std::f64::consts::PI / 180.0),
        "sgn" => map(v, |f| {
            if f > 0.0 {
                1.0
            } else if f < 0.0 {
                -1.0
            } else {
                f
            }
        }),
        "round" => {
            let to = if args.len() > 1 {
                ev.eval_scalar(&args[1], ts)?
            } else {
                1.0
            };
            let inv = 1.0 / to;
            map(v, |f| (f * inv + 0.5).floor() / inv)
        }
        "clamp" => {
            let (lo, hi) = (ev.eval_scalar(&args[1], ts)?, ev.eval_scalar(&args[2], ts)?);
            if hi < lo {
                return Ok(Value::Vector(vec![]));
            }
            map(v, |f| go_max(lo, go_min(hi, f)))
        }
        "clamp_min" => {
            let lo = ev.eval_scalar(&args[1], ts)?;
            map(v, |f| go_max(lo, f))
        }
        "clamp_max" => {
            let hi = ev.eval_scalar(&args[1], ts)?;
            map(v, |f| go_min(hi, f))
        }
        "absent" => {
            if !v.is_empty() {
                return Ok(Value::Vector(vec![]));
            }
            Value::Vector(vec![Sample {
                h: None,
                metric: absent_labels(&args[0]),
                t: ts,
                f: 1.0,
                drop_name: false,
            }])
        }
        "sort" | "sort_desc" => {
            let mut v = v;
            v.retain(|s| s.h.is_none());
            let desc = name == "sort_desc";
            v.sort_by(|a, b| match (a.f.is_nan(), b.f.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ => {
                    let o = a.f.partial_cmp(&b.f).unwrap_or(Ordering::Equal);
                    if desc { o.reverse() } else { o }
                }
            });
            Value::Vector(v)
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let mut names = Vec::new();
            for a in &args[1..] {
                names.push(str_arg(ev, a, ts)?);
            }
            let desc = name == "sort_by_label_desc";
            let mut v = v;
            v.sort_by(|a, b| {
                for n in &names {
                    let o = natural_cmp(a.metric.get_or_empty(n), b.metric.get_or_empty(n));
                    if o != Ordering::Equal {
                        return if desc { o.reverse() } else { o };
                    }
                }
                let o = a.metric.cmp(&b.metric);
                if desc { o.reverse() } else { o }
            });
            Value::Vector(v)
        }
        "label_replace" => {
            let dst = str_arg(ev, &args[1], ts)?;
            let repl = str_arg(ev, &args[2], ts)?;
            let src = str_arg(ev, &args[3], ts)?;
            let re_s = str_arg(ev, &args[4], ts)?;
            // Prometheus names the expression, not the parser's complaint.
            let re = regex::Regex::new(&format!("^(?s:{re_s})$")).map_err(|_| {
                Error::exec(format!(
                    "invalid regular expression in label_replace(): {re_s}"
                ))
            })?;
            if dst.is_empty() || !is_valid_utf8(&dst) {
                return Err(Error::exec(format!(
                    "invalid destination label name in label_replace(): {dst}"
                )));
            }
            let mut out = Vec::with_capacity(v.len());
            for mut s in v {
                if let Some(caps) = re.captures(s.metric.get_or_empty(&src)) {
                    let mut res = String::new();
                    caps.expand(&repl, &mut res);
                    let mut b = s.metric.builder();
                    if res.is_empty() {
                        b.del(&dst);
                    } else {
                        b.set(dst.clone(), res);
                    }
                    s.metric = b.build();
                    if dst == METRIC_NAME {
                        s.drop_name = false;
                    }
                }
                out.push(s);
            }
            check_duplicates(&out)?;
            Value::Vector(out)
        }
        "label_join" => {
            let dst = str_arg(ev, &args[1], ts)?;
            let sep = str_arg(ev, &args[2], ts)?;
            let mut srcs = Vec::new();
            for a in &args[3..] {
                let s = str_arg(ev, a, ts)?;
                if !is_valid_utf8(&s) {
                    return Err(Error::exec(format!(
                        "invalid source label name in label_join(): {s}"
                    )));
                }
                srcs.push(s);
            }
            if dst.is_empty() || !is_valid_utf8(&dst) {
                return Err(Error::exec(format!(
                    "invalid destination label name in label_join(): {}",
                    go_quote(&dst)
                )));
            }
            let mut out = Vec::with_capacity(v.len());
            for mut s in v {
                let joined = srcs
                    .iter()
                    .map(|n| s.metric.get_or_empty(n))
                    .collect::<Vec<_>>()
                    .join(&sep);
                let mut b = s.metric.builder();
                if joined.is_empty() {
                    b.del(&dst);
                } else {
                    b.set(dst.clone(), joined);
                }
                s.metric = b.build();
                if dst == METRIC_NAME {
                    s.drop_name = false;
                }
                out.push(s);
            }
            check_duplicates(&out)?;
            Value::Vector(out)
        }
        "histogram_avg" | "histogram_count" | "histogram_sum" | "histogram_stddev"
        | "histogram_stdvar" => {
            use crate::nativehist::histogram_variance;
            Value::Vector(
                v.into_iter()
                    .filter_map(|mut s| {
                        let h = s.h.take()?;
                        s.f = match name {
                            "histogram_avg" => h.sum / h.count,
                            "histogram_count" => h.count,
                            "histogram_sum" => h.sum,
                            "histogram_stddev" => histogram_variance(&h).sqrt(),
                            _ => histogram_variance(&h),
                        };
                        s.drop_name = true;
                        Some(s)
                    })
                    .collect(),
            )
        }
        other => return Err(super::unsupported(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date_part("year", 0.0), 1970.0);
        assert_eq!(date_part("day_of_week", 0.0), 4.0);
        assert_eq!(date_part("days_in_month", 86_400.0 * 31.0), 28.0);
        assert_eq!(date_part("day_of_year", 86_400.0 * 365.0), 1.0);
        assert_eq!(natural_cmp("a10", "a9"), Ordering::Greater);
    }

    /// Values checked against Prometheus 3.5 (`f(vector(v))`).
    #[test]
    fn dates_of_go_conversions() {
        let all = |v: f64| {
            [
                "year",
                "month",
                "day_of_month",
                "day_of_week",
                "day_of_year",
                "days_in_month",
                "hour",
                "minute",
            ]
            .map(|f| date_part(f, v))
        };
        let wrapped = [292277026596.0, 12.0, 4.0, 0.0, 339.0, 31.0, 15.0, 30.0];
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300] {
            assert_eq!(all(v), wrapped, "{v}");
        }
        assert_eq!(
            all(9e18),
            [285198648531.0, 4.0, 21.0, 6.0, 111.0, 30.0, 16.0, 0.0]
        );
        assert_eq!(
            all(-9e18),
            [-285198644592.0, 9.0, 12.0, 1.0, 256.0, 30.0, 8.0, 0.0]
        );
        assert_eq!(all(-0.5), [1970.0, 1.0, 1.0, 4.0, 1.0, 31.0, 0.0, 0.0]);
        assert_eq!(
            all(-86400.5),
            [1969.0, 12.0, 31.0, 3.0, 365.0, 31.0, 0.0, 0.0]
        );
        assert_eq!(
            all(-62135596801.0),
            [0.0, 12.0, 31.0, 0.0, 366.0, 31.0, 23.0, 59.0]
        );
    }
}
