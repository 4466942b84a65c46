//! Printing expressions as Prometheus 3.5 does: [`Expr`]'s `Display` is the
//! one-line form of Prometheus's `String()`, [`Expr::pretty`] is its
//! prettier (what `/api/v1/format_query` and `promtool promql format`
//! return): a node whose one-line form is longer than 100 bytes is split
//! across lines, children indented two spaces per level.

use std::fmt::{self, Write as _};

use aeon_model::{METRIC_NAME, MatchType, format_duration};

use crate::ast::{AtModifier, Card, Expr, VectorMatching, VectorSelector};
use aeon_model::gofmt::format_g as go_g;

/// Longest one-line form a node keeps before the prettier splits it (bytes, as Go's `len`).
const MAX_LINE: usize = 100;

/// A duration in ms as PromQL writes it (negative offsets with a `-`).
fn duration(ms: i64) -> String {
    let s = format_duration(ms.unsigned_abs());
    if ms < 0 { format!("-{s}") } else { s }
}

/// A string as Prometheus prints it: Go's `strconv.Quote` (one
/// implementation, the lexer's).
fn quote(s: &str) -> String {
    crate::lexer::go_quote(s)
}

/// ` @ <t>` / ` @ start()` / ` @ end()` and ` offset <d>`.
fn at_offset(at: Option<AtModifier>, offset: i64) -> String {
    let mut out = String::new();
    match at {
        Some(AtModifier::At(t)) => {
            let _ = write!(out, " @ {:.3}", t as f64 / 1000.0);
        }
        Some(AtModifier::Start) => out.push_str(" @ start()"),
        Some(AtModifier::End) => out.push_str(" @ end()"),
        None => {}
    }
    if offset != 0 {
        let _ = write!(out, " offset {}", duration(offset));
    }
    out
}

/// `[range:step]` plus `@`/`offset` of a subquery (an unset step prints empty).
fn subquery_suffix(range: i64, step: i64, at: Option<AtModifier>, offset: i64) -> String {
    let step = if step > 0 {
        duration(step)
    } else {
        String::new()
    };
    format!("[{}:{step}]{}", duration(range), at_offset(at, offset))
}

/// `name{matchers}`: Prometheus 3.5 prints the matchers (all but the name's)
/// sorted as strings and joined by a bare comma.
fn selector(vs: &VectorSelector) -> String {
    let mut ms: Vec<String> = vs
        .matchers
        .iter()
        .filter(|m| !(vs.name.is_some() && m.name == METRIC_NAME && m.kind == MatchType::Equal))
        .map(|m| format!("{}{}{}", m.name, m.kind, quote(&m.value)))
        .collect();
    ms.sort();
    let name = vs.name.clone().unwrap_or_default();
    if ms.is_empty() {
        name
    } else {
        format!("{name}{{{}}}", ms.join(","))
    }
}

/// `sum`, `sum by (a, b) ` or `sum without (a) ` (the space before the
/// opening parenthesis belongs to the grouping, as in Prometheus).
fn agg_head(op: &str, grouping: &[String], without: bool) -> String {
    if without {
        format!("{op} without ({}) ", grouping.join(", "))
    } else if !grouping.is_empty() {
        format!("{op} by ({}) ", grouping.join(", "))
    } else {
        op.to_owned()
    }
}

/// The operator with its `bool` and vector-matching modifiers: `/ on (a) group_left (b)`.
fn binary_op(op: &str, return_bool: bool, matching: Option<&VectorMatching>) -> String {
    let mut s = op.to_owned();
    if return_bool {
        s.push_str(" bool");
    }
    if let Some(vm) = matching
        && (vm.on || !vm.labels.is_empty())
    {
        let _ = write!(
            s,
            " {} ({})",
            if vm.on { "on" } else { "ignoring" },
            vm.labels.join(", ")
        );
        match vm.card {
            Card::ManyToOne => {
                let _ = write!(s, " group_left ({})", vm.include.join(", "));
            }
            Card::OneToMany => {
                let _ = write!(s, " group_right ({})", vm.include.join(", "));
            }
            _ => {}
        }
    }
    s
}

/// The expression on one line, as Prometheus's `String()` prints it.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(v, _) => f.write_str(&go_g(*v)),
            Expr::String(s, _) => f.write_str(&quote(s)),
            Expr::Vector(vs) => write!(f, "{}{}", selector(vs), at_offset(vs.at, vs.offset)),
            Expr::Matrix { vs, range } => write!(
                f,
                "{}[{}]{}",
                selector(vs),
                duration(*range),
                at_offset(vs.at, vs.offset)
            ),
            Expr::Subquery {
                expr,
                range,
                step,
                offset,
                at,
            } => write!(f, "{expr}{}", subquery_suffix(*range, *step, *at, *offset)),
            Expr::Neg(inner, _) => write!(f, "-{inner}"),
            Expr::Plus(inner, _) => write!(f, "+{inner}"),
            Expr::Paren(inner, _) => write!(f, "({inner})"),
            Expr::Call { func, args, .. } => {
                write!(f, "{}(", func.name)?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
            Expr::Aggregate {
                op,
                expr,
                param,
                grouping,
                without,
                ..
            } => {
                write!(f, "{}(", agg_head(op.name(), grouping, *without))?;
                if let Some(p) = param {
                    write!(f, "{p}, ")?;
                }
                write!(f, "{expr})")
            }
            Expr::Binary {
                op,
                lhs,
                rhs,
                return_bool,
                matching,
            } => write!(
                f,
                "{lhs} {} {rhs}",
                binary_op(op.as_str(), *return_bool, matching.as_ref())
            ),
        }
    }
}

impl Expr {
    /// The expression as Prometheus 3.5's prettier prints it (what
    /// `format_query` returns): nodes short enough stay on one line; a
    /// longer aggregation, call or parenthesis puts its contents on their own
    /// lines one level deeper, a longer binary expression puts each operand
    /// and the operator on its own line. Selectors and literals never split.
    pub fn pretty(&self) -> String {
        pretty_at(self, 0)
    }
}

/// `e` printed at depth `level`, starting with its indentation.
fn pretty_at(e: &Expr, level: usize) -> String {
    let pad = "  ".repeat(level);
    let one_line = e.to_string();
    let split = one_line.len() > MAX_LINE;
    match e {
        Expr::Aggregate {
            op,
            expr: inner,
            param,
            grouping,
            without,
            ..
        } if split => {
            let mut s = format!("{pad}{}(\n", agg_head(op.name(), grouping, *without));
            if let Some(p) = param {
                s.push_str(&pretty_at(p, level + 1));
                s.push_str(",\n");
            }
            s.push_str(&pretty_at(inner, level + 1));
            let _ = write!(s, "\n{pad})");
            s
        }
        Expr::Binary {
            op,
            lhs,
            rhs,
            return_bool,
            matching,
        } if split => format!(
            "{}\n{pad}{}\n{}",
            pretty_at(lhs, level + 1),
            binary_op(op.as_str(), *return_bool, matching.as_ref()),
            pretty_at(rhs, level + 1)
        ),
        Expr::Call { func, args, .. } if split => {
            let args: Vec<String> = args.iter().map(|a| pretty_at(a, level + 1)).collect();
            format!("{pad}{}(\n{}\n{pad})", func.name, args.join(",\n"))
        }
        Expr::Paren(inner, _) if split => {
            format!("{pad}(\n{}\n{pad})", pretty_at(inner, level + 1))
        }
        // Prometheus prints a subquery that fits without indentation, and a
        // longer one as its inner expression followed by the range suffix.
        Expr::Subquery { .. } if !split => one_line,
        Expr::Subquery {
            expr: inner,
            range,
            step,
            offset,
            at,
        } => format!(
            "{}{}",
            pretty_at(inner, level),
            subquery_suffix(*range, *step, *at, *offset)
        ),
        // The operator goes before the operand's text, without its indentation.
        Expr::Neg(inner, _) => format!("{pad}-{}", pretty_at(inner, level).trim()),
        Expr::Plus(inner, _) => format!("{pad}+{}", pretty_at(inner, level).trim()),
        _ => format!("{pad}{one_line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(q: &str) -> String {
        crate::parse(q).unwrap().to_string()
    }

    /// Checked against Prometheus 3.5's `/api/v1/format_query`.
    #[test]
    fn name_in_braces_printed_as_written() {
        assert_eq!(fmt("{__name__=\"x\"}"), "{__name__=\"x\"}");
        assert_eq!(fmt("{a=\"b\",__name__=\"x\"}"), "{__name__=\"x\",a=\"b\"}");
        assert_eq!(fmt("{__name__=~\"x.*\"}"), "{__name__=~\"x.*\"}");
    }

    /// Checked against Prometheus 3.5's `/api/v1/format_query`.
    #[test]
    fn unary_plus_kept() {
        assert_eq!(fmt("+x"), "+x");
        assert_eq!(fmt("-+x"), "-+x");
        assert_eq!(fmt("+(x)"), "+(x)");
        assert_eq!(fmt("sum(+x)"), "sum(+x)");
        assert_eq!(fmt("+1"), "1");
    }

    #[test]
    fn prints_like_prometheus() {
        assert_eq!(fmt("foo/bar"), "foo / bar");
        assert_eq!(
            fmt("sum by(job)(rate(http_requests_total{code=~\"5..\"}[5m]))"),
            "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m]))"
        );
        assert_eq!(fmt("topk(3, x) "), "topk(3, x)");
        assert_eq!(
            fmt("a * on(i) group_left(n) b"),
            "a * on (i) group_left (n) b"
        );
        assert_eq!(fmt("a > bool 1"), "a > bool 1");
        assert_eq!(fmt("x offset 1h30m"), "x offset 1h30m");
        assert_eq!(fmt("x offset -5m"), "x offset -5m");
        assert_eq!(fmt("x @ 1.5"), "x @ 1.500");
        assert_eq!(fmt("x[5m] @ start()"), "x[5m] @ start()");
        assert_eq!(fmt("max_over_time(x[1h:5m])"), "max_over_time(x[1h:5m])");
        assert_eq!(fmt("x[1h:]"), "x[1h:]");
        assert_eq!(fmt("-(x)"), "-(x)");
        assert_eq!(
            fmt("x{b=\"1\", a=\"2\", a!=\"1\", a=~\"0\"}"),
            "x{a!=\"1\",a=\"2\",a=~\"0\",b=\"1\"}"
        );
        assert_eq!(fmt("{__name__=~\"x.*\"}"), "{__name__=~\"x.*\"}");
        assert_eq!(
            fmt("count_values(\"v\\\"q\", x)"),
            "count_values(\"v\\\"q\", x)"
        );
    }

    #[test]
    fn number_literals_like_go() {
        for (q, want) in [
            ("1", "1"),
            ("0.5", "0.5"),
            ("123456", "123456"),
            ("1e6", "1e+06"),
            ("1.5e-5", "1.5e-05"),
            ("0.0001", "0.0001"),
            ("Inf", "+Inf"),
            ("NaN", "NaN"),
        ] {
            assert_eq!(fmt(q), want, "{q}");
        }
    }

    #[test]
    fn strings_quoted() {
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote("\n\t\r\u{8}\u{c}"), r#""\n\t\r\b\f""#);
        // Go's strconv.Quote, as Prometheus prints string literals and matchers.
        assert_eq!(quote("\u{1}é"), "\"\\x01é\"");
    }

    fn pp(q: &str) -> String {
        crate::parse(q).unwrap().pretty()
    }

    /// A metric name of `n` characters.
    fn name(n: usize) -> String {
        format!("m{}", "_".repeat(n - 1))
    }

    #[test]
    fn short_expressions_stay_on_one_line() {
        let q = "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m])) / on (job) group_left () sum by (job) (x)";
        assert!(q.len() <= 100);
        assert_eq!(pp(q), q);
        assert_eq!(pp("x[1h:5m]"), "x[1h:5m]");
        // Exactly 100 bytes is still one line.
        let m = name(100);
        assert_eq!(pp(&m), m);
    }

    #[test]
    fn selectors_never_split() {
        let q = format!("{}{{instance=\"i1\",job=\"api\"}}", name(120));
        assert_eq!(pp(&q), q);
        let q = format!("{}[5m] offset 1h", name(120));
        assert_eq!(pp(&q), q);
    }

    #[test]
    fn aggregations() {
        // `a + b` fits (93 bytes); the aggregation around it does not.
        let a = name(45);
        let b = name(45);
        assert_eq!(
            pp(&format!("sum by (job) ({a} + {b})")),
            format!("sum by (job) (\n  {a} + {b}\n)")
        );
        assert_eq!(
            pp(&format!("sum without (job) ({a} + {b})")),
            format!("sum without (job) (\n  {a} + {b}\n)")
        );
        assert_eq!(
            pp(&format!("topk(5, {a} * {b})")),
            format!("topk(\n  5,\n  {a} * {b}\n)")
        );
        assert_eq!(
            pp(&format!("count_values(\"value\", {a} * {b})")),
            format!("count_values(\n  \"value\",\n  {a} * {b}\n)")
        );
    }

    #[test]
    fn binary_expressions() {
        let a = name(60);
        let b = name(60);
        assert_eq!(pp(&format!("{a} + {b}")), format!("  {a}\n+\n  {b}"));
        assert_eq!(
            pp(&format!("{a} > bool on (job) group_left (env) {b}")),
            format!("  {a}\n> bool on (job) group_left (env)\n  {b}")
        );
        assert_eq!(
            pp(&format!("{a} / ignoring (code) {b}")),
            format!("  {a}\n/ ignoring (code)\n  {b}")
        );
        // Nested: each long operand splits at its own depth; short ones stay whole.
        let c = name(10);
        assert_eq!(
            pp(&format!("{a} + {b} - {c}")),
            format!("    {a}\n  +\n    {b}\n-\n  {c}")
        );
        assert_eq!(
            pp(&format!("{a} and {b} unless {c}")),
            format!("    {a}\n  and\n    {b}\nunless\n  {c}")
        );
    }

    #[test]
    fn function_calls() {
        let a = name(110);
        // Even a single long argument goes on its own line.
        assert_eq!(
            pp(&format!("rate({a}[5m])")),
            format!("rate(\n  {a}[5m]\n)")
        );
        let b = name(60);
        assert_eq!(
            pp(&format!(
                "label_replace({b}{{job=\"api\"}}, \"foo\", \"$1\", \"service\", \"(.*):.*\")"
            )),
            format!(
                "label_replace(\n  {b}{{job=\"api\"}},\n  \"foo\",\n  \"$1\",\n  \"service\",\n  \"(.*):.*\"\n)"
            )
        );
        assert_eq!(
            pp(&format!(
                "histogram_quantile(0.9, sum by (le) (rate({b}[5m])))"
            )),
            format!("histogram_quantile(\n  0.9,\n  sum by (le) (rate({b}[5m]))\n)")
        );
    }

    #[test]
    fn parentheses() {
        let a = name(60);
        let b = name(60);
        assert_eq!(
            pp(&format!("({a} + {b})")),
            format!("(\n    {a}\n  +\n    {b}\n)")
        );
        assert_eq!(
            pp(&format!("({a} + {b}) * 2")),
            format!("  (\n      {a}\n    +\n      {b}\n  )\n*\n  2")
        );
        assert_eq!(
            pp(&format!("-({a} + {b})")),
            format!("-(\n    {a}\n  +\n    {b}\n)")
        );
    }

    #[test]
    fn nesting() {
        let a = name(40);
        let b = name(40);
        let c = name(40);
        let q = format!(
            "sum by (job) (rate({a}[5m])) / sum by (job) (rate({b}[5m])) > on (job) max by (job) ({c})"
        );
        assert_eq!(
            pp(&q),
            format!(
                "    sum by (job) (rate({a}[5m]))\n  /\n    sum by (job) (rate({b}[5m]))\n> on (job)\n  max by (job) ({c})"
            )
        );
        let q = format!("max(sum by (le) ({a} * {b}) + {c})");
        assert_eq!(
            pp(&q),
            format!("max(\n    sum by (le) ({a} * {b})\n  +\n    {c}\n)")
        );
    }

    #[test]
    fn subqueries() {
        let a = name(45);
        let b = name(45);
        // Only the subquery is too long: its inner expression fits and stays whole.
        assert_eq!(
            pp(&format!("sum({a} + {b})[1h:5m]")),
            format!("sum({a} + {b})[1h:5m]")
        );
        let a = name(48);
        let b = name(48);
        // A long inner expression: split, then the range suffix.
        assert_eq!(
            pp(&format!("sum({a} + {b})[1h:5m]")),
            format!("sum(\n  {a} + {b}\n)[1h:5m]")
        );
        // A subquery that fits, inside a split call, loses its indentation (as in Prometheus).
        let c = name(80);
        assert_eq!(
            pp(&format!("max_over_time(rate({c}[5m])[1h:])")),
            format!("max_over_time(\nrate({c}[5m])[1h:]\n)")
        );
    }
}
