//! Step alignment and splitting of range queries by interval, as Cortex's
//! `StepAlignMiddleware` and `splitQuery` do, and the query analysis both
//! need (`@ start()`/`@ end()` fixed to the whole query's range; whether a
//! part's answer may be cached).

use aeon_promql::Expr;
use aeon_promql::ast::AtModifier;

use crate::request::RangeRequest;

/// Moves start and end down to a multiple of the step.
pub(crate) fn align(r: &mut RangeRequest) {
    r.start = r.start.div_euclid(r.step) * r.step;
    r.end = r.end.div_euclid(r.step) * r.step;
}

/// The last step of the interval `t` is in (Cortex's
/// `nextIntervalBoundary`): a multiple of steps after `t`, before the next
/// interval.
fn next_interval_boundary(t: i64, step: i64, interval: i64) -> i64 {
    let start_of_next = (t.div_euclid(interval) + 1) * interval;
    let target = start_of_next - (start_of_next - t) % step;
    if target == start_of_next {
        target - step
    } else {
        target
    }
}

/// The parts of `r`, one per interval (the last one takes the rest when
/// less than a step is left), each on `r`'s step grid.
pub(crate) fn split(r: &RangeRequest, interval_ms: i64) -> Vec<RangeRequest> {
    if r.start == r.end || interval_ms <= 0 {
        return vec![r.clone()];
    }
    let mut out = Vec::new();
    let mut start = r.start;
    while start < r.end {
        let mut end = next_interval_boundary(start, r.step, interval_ms);
        if end + r.step >= r.end {
            end = r.end;
        }
        out.push(r.with_range(start, end));
        start = next_interval_boundary(start, r.step, interval_ms) + r.step;
    }
    out
}

/// What splitting and caching need to know about a query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Analysis {
    /// The query to send with every part: `@ start()`/`@ end()` replaced by
    /// the whole query's times (so parts evaluate them as the whole query
    /// would); the original text when there are none.
    pub(crate) query: String,
    /// Whether parts' answers may be cached: no `@` modifier (its answer
    /// does not move with the range) and no negative offset (it reads data
    /// newer than the range).
    pub(crate) cacheable: bool,
    /// How it can be sharded vertically, if at all.
    pub(crate) shard: Option<crate::shard::ShardBy>,
}

/// Analyses `r.query`; `None` when it does not parse (left to the
/// downstream, whose error is the answer).
pub(crate) fn analyse(r: &RangeRequest) -> Option<Analysis> {
    let mut expr = aeon_promql::parse(&r.query).ok()?;
    let shard = crate::shard::analyse(&expr);
    let mut start_end = false;
    let mut cacheable = true;
    visit(&mut expr, &mut |at, offset| {
        match at {
            Some(AtModifier::Start) => {
                *at = Some(AtModifier::At(r.start));
                start_end = true;
            }
            Some(AtModifier::End) => {
                *at = Some(AtModifier::At(r.end));
                start_end = true;
            }
            _ => {}
        }
        if at.is_some() || offset < 0 {
            cacheable = false;
        }
    });
    let query = if start_end {
        expr.to_string()
    } else {
        r.query.clone()
    };
    Some(Analysis {
        query,
        cacheable,
        shard,
    })
}

/// Calls `f` with the `@` modifier and offset of every selector and
/// subquery.
fn visit(e: &mut Expr, f: &mut impl FnMut(&mut Option<AtModifier>, i64)) {
    match e {
        Expr::Number(..) | Expr::String(..) => {}
        Expr::Vector(vs) | Expr::Matrix { vs, .. } => f(&mut vs.at, vs.offset),
        Expr::Subquery {
            expr, at, offset, ..
        } => {
            f(at, *offset);
            visit(expr, f);
        }
        Expr::Neg(x, _) | Expr::Plus(x, _) | Expr::Paren(x, _) => visit(x, f),
        Expr::Binary { lhs, rhs, .. } => {
            visit(lhs, f);
            visit(rhs, f);
        }
        Expr::Aggregate { expr, param, .. } => {
            visit(expr, f);
            if let Some(p) = param {
                visit(p, f);
            }
        }
        Expr::Call { args, .. } => {
            for a in args {
                visit(a, f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const D: i64 = 24 * H;

    fn req(q: &str, start: i64, end: i64, step: i64) -> RangeRequest {
        RangeRequest {
            query: q.into(),
            start,
            end,
            step,
            rest: Vec::new(),
        }
    }

    fn ranges(parts: &[RangeRequest]) -> Vec<(i64, i64)> {
        parts.iter().map(|p| (p.start, p.end)).collect()
    }

    #[test]
    fn aligns_down_to_the_step() {
        let mut r = req("up", 61_000, 185_000, 60_000);
        align(&mut r);
        assert_eq!((r.start, r.end), (60_000, 180_000));
    }

    #[test]
    fn splits_like_cortex() {
        // Within one day: one part.
        assert_eq!(
            ranges(&split(&req("up", 0, 2 * H, 60_000), D)),
            [(0, 2 * H)]
        );
        // Start == end: the request itself.
        assert_eq!(ranges(&split(&req("up", 5, 5, 1), D)), [(5, 5)]);
        // Three days, a 1h step: each day ends one step before midnight.
        assert_eq!(
            ranges(&split(&req("up", 0, 3 * D, H), D)),
            [(0, D - H), (D, 2 * D - H), (2 * D, 3 * D)]
        );
        // A start off the day grid: parts stay on the request's step grid.
        let r = req("up", 23 * H + 30 * 60_000, D + 2 * H + 30 * 60_000, H);
        assert_eq!(
            ranges(&split(&r, D)),
            [
                (23 * H + 30 * 60_000, 23 * H + 30 * 60_000),
                (D + 30 * 60_000, D + 2 * H + 30 * 60_000)
            ]
        );
        // Every step point of the whole range is in exactly one part.
        let r = req("up", 7 * 60_000, 2 * D + 13 * 60_000, 15 * 60_000);
        let parts = split(&r, 6 * H);
        let mut points = Vec::new();
        for p in &parts {
            assert_eq!((p.start - r.start) % r.step, 0);
            let mut t = p.start;
            while t <= p.end {
                points.push(t);
                t += p.step;
            }
        }
        let want: Vec<i64> = (0..)
            .map(|i| r.start + i * r.step)
            .take_while(|t| *t <= r.end)
            .collect();
        assert_eq!(points, want);
    }

    #[test]
    fn at_start_end_fixed_and_caching_decided() {
        let r = req("rate(x[5m] @ end()) + y @ start()", 1_000, 9_000, 1_000);
        let a = analyse(&r).unwrap();
        assert_eq!(a.query, "rate(x[5m] @ 9.000) + y @ 1.000");
        assert!(!a.cacheable);
        let a = analyse(&req("sum by (a) (rate(x[5m]))", 0, 1, 1)).unwrap();
        assert_eq!(a.query, "sum by (a) (rate(x[5m]))");
        assert!(a.cacheable);
        assert!(!analyse(&req("x offset -5m", 0, 1, 1)).unwrap().cacheable);
        assert!(
            !analyse(&req("max_over_time(x[1h:1m] @ 5)", 0, 1, 1))
                .unwrap()
                .cacheable
        );
        assert!(analyse(&req("sum(", 0, 1, 1)).is_none());
    }
}
