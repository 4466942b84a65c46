//! PromQL printing (`/api/v1/format_query`): an expression as Prometheus's
//! `String()` writes it (single line; Prometheus additionally breaks lines of
//! expressions longer than 100 characters, which we do not).
//!
//! TODO(lead): belongs in aeon-promql (an AST printer) once it has one.

use aeon_model::METRIC_NAME;
use aeon_promql::Expr;
use aeon_promql::ast::{AtModifier, Card, VectorSelector};

/// Go's `fmt.Sprint(float64)` (`%g` with the shortest representation:
/// exponent form for exponents below -4 or from 6 up).
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

fn duration(ms: i64) -> String {
    let s = aeon_common::flags::format_duration(std::time::Duration::from_millis(ms.unsigned_abs()));
    if ms < 0 { format!("-{s}") } else { s }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn at_offset(at: Option<AtModifier>, offset: i64) -> String {
    let mut out = String::new();
    match at {
        Some(AtModifier::At(t)) => out.push_str(&format!(" @ {:.3}", t as f64 / 1000.0)),
        Some(AtModifier::Start) => out.push_str(" @ start()"),
        Some(AtModifier::End) => out.push_str(" @ end()"),
        None => {}
    }
    if offset != 0 {
        out.push_str(&format!(" offset {}", duration(offset)));
    }
    out
}

fn selector(vs: &VectorSelector) -> String {
    let ms: Vec<String> = vs
        .matchers
        .iter()
        .filter(|m| !(vs.name.is_some() && m.name == METRIC_NAME && m.kind == aeon_model::MatchType::Equal))
        .map(|m| format!("{}{}{}", m.name, m.kind, quote(&m.value)))
        .collect();
    let name = vs.name.clone().unwrap_or_default();
    if ms.is_empty() { name } else { format!("{name}{{{}}}", ms.join(", ")) }
}

/// The expression as Prometheus prints it.
pub fn expr(e: &Expr) -> String {
    match e {
        Expr::Number(f) => go_float(*f),
        Expr::String(s) => quote(s),
        Expr::Vector(vs) => format!("{}{}", selector(vs), at_offset(vs.at, vs.offset)),
        Expr::Matrix { vs, range } => format!("{}[{}]{}", selector(vs), duration(*range), at_offset(vs.at, vs.offset)),
        Expr::Subquery { expr: inner, range, step, offset, at } => {
            let step = if *step > 0 { duration(*step) } else { String::new() };
            format!("{}[{}:{}]{}", expr(inner), duration(*range), step, at_offset(*at, *offset))
        }
        Expr::Neg(inner) => format!("-{}", expr(inner)),
        Expr::Paren(inner) => format!("({})", expr(inner)),
        Expr::Call { func, args } => format!("{}({})", func.name, args.iter().map(expr).collect::<Vec<_>>().join(", ")),
        Expr::Aggregate { op, expr: inner, param, grouping, without } => {
            let mut s = op.name().to_owned();
            if *without {
                s.push_str(&format!(" without ({}) ", grouping.join(", ")));
            } else if !grouping.is_empty() {
                s.push_str(&format!(" by ({}) ", grouping.join(", ")));
            }
            s.push('(');
            if let Some(p) = param {
                s.push_str(&expr(p));
                s.push_str(", ");
            }
            s.push_str(&expr(inner));
            s.push(')');
            s
        }
        Expr::Binary { op, lhs, rhs, return_bool, matching } => {
            let mut m = String::new();
            if let Some(vm) = matching
                && (vm.on || !vm.labels.is_empty())
            {
                m.push_str(&format!(" {} ({})", if vm.on { "on" } else { "ignoring" }, vm.labels.join(", ")));
                match vm.card {
                    Card::ManyToOne => m.push_str(&format!(" group_left ({})", vm.include.join(", "))),
                    Card::OneToMany => m.push_str(&format!(" group_right ({})", vm.include.join(", "))),
                    _ => {}
                }
            }
            let b = if *return_bool { " bool" } else { "" };
            format!("{} {}{b}{m} {}", expr(lhs), op.as_str(), expr(rhs))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(q: &str) -> String {
        expr(&aeon_promql::parse(q).unwrap())
    }

    #[test]
    fn prints_like_prometheus() {
        assert_eq!(fmt("foo/bar"), "foo / bar");
        assert_eq!(fmt("sum by(job)(rate(http_requests_total{code=~\"5..\"}[5m]))"), "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m]))");
        assert_eq!(fmt("topk(3, x) "), "topk(3, x)");
        assert_eq!(fmt("a * on(i) group_left(n) b"), "a * on (i) group_left (n) b");
        assert_eq!(fmt("a > bool 1"), "a > bool 1");
        assert_eq!(fmt("x offset 1h30m"), "x offset 1h30m");
        assert_eq!(fmt("max_over_time(x[1h:5m])"), "max_over_time(x[1h:5m])");
        assert_eq!(fmt("-(x)"), "-(x)");
        assert_eq!(fmt("{__name__=\"up\", job=\"a\"}"), "up{job=\"a\"}");
    }

    #[test]
    fn go_floats() {
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(1.5e-5), "1.5e-05");
        assert_eq!(go_float(0.0001), "0.0001");
    }
}
