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
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
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

fn selector(vs: &VectorSelector) -> String {
    let ms: Vec<String> = vs
        .matchers
        .iter()
        .filter(|m| {
            !(vs.name.is_some() && m.name == METRIC_NAME && m.kind == aeon_model::MatchType::Equal)
        })
        .map(|m| format!("{}{}{}", m.name, m.kind, quote(&m.value)))
        .collect();
    let name = vs.name.clone().unwrap_or_default();
    if ms.is_empty() {
        name
    } else {
        format!("{name}{{{}}}", ms.join(", "))
    }
}

/// The expression as Prometheus prints it.
pub fn expr(e: &Expr) -> String {
    match e {
        Expr::Number(f) => go_float(*f),
        Expr::String(s) => quote(s),
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
        } => {
            let step = if *step > 0 {
                duration(*step)
            } else {
                String::new()
            };
            format!(
                "{}[{}:{}]{}",
                expr(inner),
                duration(*range),
                step,
                at_offset(*at, *offset)
            )
        }
        Expr::Neg(inner) => format!("-{}", expr(inner)),
        Expr::Paren(inner) => format!("({})", expr(inner)),
        Expr::Call { func, args } => format!(
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
        } => {
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
        Expr::Binary {
            op,
            lhs,
            rhs,
            return_bool,
            matching,
        } => {
            let mut m = String::new();
            if let Some(vm) = matching
                && (vm.on || !vm.labels.is_empty())
            {
                m.push_str(&format!(
                    " {} ({})",
                    if vm.on { "on" } else { "ignoring" },
                    vm.labels.join(", ")
                ));
                match vm.card {
                    Card::ManyToOne => {
                        m.push_str(&format!(" group_left ({})", vm.include.join(", ")))
                    }
                    Card::OneToMany => {
                        m.push_str(&format!(" group_right ({})", vm.include.join(", ")))
                    }
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
            Expr::Number(f) => json!({"type": "numberLiteral", "val": format_float(*f)}),
            Expr::String(s) => json!({"type": "stringLiteral", "val": s}),
            Expr::Paren(inner) => json!({"type": "parenExpr", "expr": translate(inner)}),
            Expr::Neg(inner) => json!({"type": "unaryExpr", "op": "-", "expr": translate(inner)}),
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
            Expr::Call { func, args } => json!({
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
