//! PromQL printing (`/api/v1/format_query`): [`expr`] writes an expression
//! on one line as Prometheus's `String()` does, and [`pretty`] as its
//! prettier does (what `format_query` returns): a node whose one-line form is
//! longer than 100 bytes is split across lines, children indented two spaces
//! per level.
//!
//! TODO(lead): belongs in aeon-promql (an AST printer) once it has one.

use aeon_model::METRIC_NAME;
use aeon_promql::Expr;
use aeon_promql::ast::{AtModifier, Card, VectorMatching, VectorSelector};

/// Go's `fmt.Sprint(float64)` (`%g`, shortest representation), as
/// Prometheus prints number literals.
pub use aeon_promql::nativehist::go_g as go_float;

fn duration(ms: i64) -> String {
    let s =
        aeon_common::flags::format_duration(std::time::Duration::from_millis(ms.unsigned_abs()));
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

/// `name{matchers}`: Prometheus 3.5 prints the matchers (all but the name's)
/// sorted as strings and joined by a bare comma.
/// `[range:step]` plus `@`/`offset` of a subquery (an unset step prints empty).
fn subquery_suffix(range: i64, step: i64, at: Option<AtModifier>, offset: i64) -> String {
    let step = if step > 0 {
        duration(step)
    } else {
        String::new()
    };
    format!("[{}:{step}]{}", duration(range), at_offset(at, offset))
}

fn selector(vs: &VectorSelector) -> String {
    let mut ms: Vec<String> = vs
        .matchers
        .iter()
        .filter(|m| {
            !(vs.name.is_some() && m.name == METRIC_NAME && m.kind == aeon_model::MatchType::Equal)
        })
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

/// The expression as Prometheus prints it.
pub fn expr(e: &Expr) -> String {
    match e {
        Expr::Number(f, _) => go_float(*f),
        Expr::String(s, _) => quote(s),
        Expr::Vector(vs) => format!("{}{}", selector(vs), at_offset(vs.at, vs.offset)),
        Expr::Matrix { vs, range } => format!(
            "{}[{}]{}",
            selector(vs),
            duration(*range),
            at_offset(vs.at, vs.offset)
        ),
        Expr::Subquery {
            expr: inner,
            range,
            step,
            offset,
            at,
        } => format!(
            "{}{}",
            expr(inner),
            subquery_suffix(*range, *step, *at, *offset)
        ),
        Expr::Neg(inner, _) => format!("-{}", expr(inner)),
        Expr::Plus(inner, _) => format!("+{}", expr(inner)),
        Expr::Paren(inner, _) => format!("({})", expr(inner)),
        Expr::Call { func, args, .. } => format!(
            "{}({})",
            func.name,
            args.iter().map(expr).collect::<Vec<_>>().join(", ")
        ),
        Expr::Aggregate {
            op,
            expr: inner,
            param,
            grouping,
            without,
            ..
        } => {
            let mut s = agg_head(op.name(), grouping, *without);
            s.push('(');
            if let Some(p) = param {
                s.push_str(&expr(p));
                s.push_str(", ");
            }
            s.push_str(&expr(inner));
            s.push(')');
            s
        }
        Expr::Binary {
            op,
            lhs,
            rhs,
            return_bool,
            matching,
        } => format!(
            "{} {} {}",
            expr(lhs),
            binary_op(op.as_str(), *return_bool, matching.as_ref()),
            expr(rhs)
        ),
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
        s.push_str(&format!(
            " {} ({})",
            if vm.on { "on" } else { "ignoring" },
            vm.labels.join(", ")
        ));
        match vm.card {
            Card::ManyToOne => s.push_str(&format!(" group_left ({})", vm.include.join(", "))),
            Card::OneToMany => s.push_str(&format!(" group_right ({})", vm.include.join(", "))),
            _ => {}
        }
    }
    s
}

/// Longest one-line form a node keeps before the prettier splits it (bytes, as Go's `len`).
const MAX_LINE: usize = 100;

fn indent(level: usize) -> String {
    "  ".repeat(level)
}

/// The expression as Prometheus 3.5's `format_query` prints it (its
/// prettier): nodes short enough stay on one line; a longer aggregation,
/// call or parenthesis puts its contents on their own lines one level
/// deeper, a longer binary expression puts each operand and the operator
/// on its own line. Selectors and literals never split.
pub fn pretty(e: &Expr) -> String {
    pretty_at(e, 0)
}

/// `e` printed at depth `level`, starting with its indentation.
fn pretty_at(e: &Expr, level: usize) -> String {
    let pad = indent(level);
    let one_line = expr(e);
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
            s.push_str(&format!("\n{pad})"));
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
        expr(&aeon_promql::parse(q).unwrap())
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
        assert_eq!(fmt("max_over_time(x[1h:5m])"), "max_over_time(x[1h:5m])");
        assert_eq!(fmt("-(x)"), "-(x)");
        assert_eq!(
            fmt("x{b=\"1\", a=\"2\", a!=\"1\", a=~\"0\"}"),
            "x{a!=\"1\",a=\"2\",a=~\"0\",b=\"1\"}"
        );
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
    fn go_floats() {
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(1.5e-5), "1.5e-05");
        assert_eq!(go_float(0.0001), "0.0001");
    }
}

mod ast_json {
    use aeon_promql::ast::{AtModifier, Card, VectorSelector};
    use aeon_promql::{Expr, ValueType, format_float};
    use serde_json::{Value, json};

    fn value_type(t: ValueType) -> &'static str {
        match t {
            ValueType::Scalar => "scalar",
            ValueType::String => "string",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
        }
    }

    fn at(a: Option<AtModifier>) -> (Value, Value) {
        match a {
            Some(AtModifier::At(t)) => (json!(t), Value::Null),
            Some(AtModifier::Start) => (Value::Null, json!("start")),
            Some(AtModifier::End) => (Value::Null, json!("end")),
            None => (Value::Null, Value::Null),
        }
    }

    /// Matchers in Prometheus's order: the name matcher (if the name was given) last.
    fn matchers(vs: &VectorSelector) -> Value {
        let is_name = |m: &aeon_model::Matcher| {
            vs.name.as_deref().is_some_and(|n| {
                m.name == aeon_model::METRIC_NAME
                    && m.kind == aeon_model::MatchType::Equal
                    && m.value == n
            })
        };
        let ordered = vs
            .matchers
            .iter()
            .filter(|m| !is_name(m))
            .chain(vs.matchers.iter().filter(|m| is_name(m)));
        Value::Array(
            ordered
                .map(|m| json!({"name": m.name, "type": m.kind.to_string(), "value": m.value}))
                .collect(),
        )
    }

    /// The expression as Prometheus's `/api/v1/parse_query` returns it.
    pub fn translate(e: &Expr) -> Value {
        match e {
            Expr::Number(f, _) => json!({"type": "numberLiteral", "val": format_float(*f)}),
            Expr::String(s, _) => json!({"type": "stringLiteral", "val": s}),
            Expr::Paren(inner, _) => json!({"type": "parenExpr", "expr": translate(inner)}),
            Expr::Neg(inner, _) => {
                json!({"type": "unaryExpr", "op": "-", "expr": translate(inner)})
            }
            Expr::Plus(inner, _) => {
                json!({"type": "unaryExpr", "op": "+", "expr": translate(inner)})
            }
            Expr::Vector(vs) => {
                let (ts, soe) = at(vs.at);
                json!({"type": "vectorSelector", "name": vs.name.clone().unwrap_or_default(), "offset": vs.offset, "matchers": matchers(vs), "timestamp": ts, "startOrEnd": soe})
            }
            Expr::Matrix { vs, range } => {
                let (ts, soe) = at(vs.at);
                json!({"type": "matrixSelector", "name": vs.name.clone().unwrap_or_default(), "range": range, "offset": vs.offset, "matchers": matchers(vs), "timestamp": ts, "startOrEnd": soe})
            }
            Expr::Subquery {
                expr,
                range,
                step,
                offset,
                at: a,
            } => {
                let (ts, soe) = at(*a);
                json!({"type": "subquery", "expr": translate(expr), "range": range, "offset": offset, "step": step, "timestamp": ts, "startOrEnd": soe})
            }
            Expr::Call { func, args, .. } => json!({
                "type": "call",
                "func": {"name": func.name, "argTypes": func.args.iter().map(|t| value_type(*t)).collect::<Vec<_>>(), "variadic": func.variadic, "returnType": value_type(func.ret)},
                "args": args.iter().map(translate).collect::<Vec<_>>(),
            }),
            Expr::Aggregate {
                op,
                expr,
                param,
                grouping,
                without,
                ..
            } => json!({
                "type": "aggregation",
                "op": op.name(),
                "expr": translate(expr),
                "param": param.as_ref().map_or(Value::Null, |p| translate(p)),
                "grouping": grouping,
                "without": without,
            }),
            Expr::Binary {
                op,
                lhs,
                rhs,
                return_bool,
                matching,
            } => {
                let matching = matching.as_ref().map_or(Value::Null, |m| {
                    let card = match m.card {
                        Card::OneToOne => "one-to-one",
                        Card::ManyToOne => "many-to-one",
                        Card::OneToMany => "one-to-many",
                        Card::ManyToMany => "many-to-many",
                    };
                    json!({"card": card, "labels": m.labels, "on": m.on, "include": m.include})
                });
                json!({"type": "binaryExpr", "op": op.as_str(), "lhs": translate(lhs), "rhs": translate(rhs), "matching": matching, "bool": return_bool})
            }
        }
    }
}

pub use ast_json::translate as ast_json;

#[cfg(test)]
mod ast_tests {
    use super::*;

    #[test]
    fn parse_query_shape_matches_the_documented_example() {
        let got = ast_json(&aeon_promql::parse("foo/bar").unwrap());
        let want = serde_json::json!({
            "bool": false,
            "lhs": {"matchers": [{"name": "__name__", "type": "=", "value": "foo"}], "name": "foo", "offset": 0, "startOrEnd": null, "timestamp": null, "type": "vectorSelector"},
            "matching": {"card": "one-to-one", "include": [], "labels": [], "on": false},
            "op": "/",
            "rhs": {"matchers": [{"name": "__name__", "type": "=", "value": "bar"}], "name": "bar", "offset": 0, "startOrEnd": null, "timestamp": null, "type": "vectorSelector"},
            "type": "binaryExpr"
        });
        assert_eq!(got, want);
        let got = ast_json(
            &aeon_promql::parse("sum by (job) (rate(x{a=\"b\"}[5m] @ end())) > 1").unwrap(),
        );
        assert_eq!(got["matching"], serde_json::Value::Null);
        assert_eq!(got["lhs"]["grouping"], serde_json::json!(["job"]));
        let call = &got["lhs"]["expr"];
        assert_eq!(call["func"]["name"], "rate");
        assert_eq!(call["func"]["argTypes"], serde_json::json!(["matrix"]));
        assert_eq!(call["args"][0]["range"], 300_000);
        assert_eq!(call["args"][0]["startOrEnd"], "end");
        assert_eq!(call["args"][0]["matchers"][1]["name"], "__name__");
        assert_eq!(
            got["rhs"],
            serde_json::json!({"type": "numberLiteral", "val": "1"})
        );
    }
}

#[cfg(test)]
mod pretty_tests {
    use super::*;

    fn pp(q: &str) -> String {
        pretty(&aeon_promql::parse(q).unwrap())
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
