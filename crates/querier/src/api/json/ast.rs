//! The AST as `/api/v1/parse_query` returns it (Prometheus's JSON of its
//! parser nodes: `type`, operands, matchers in Prometheus's order).

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
pub(crate) fn translate(e: &Expr) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_query_shape_matches_the_documented_example() {
        let got = translate(&aeon_promql::parse("foo/bar").unwrap());
        let want = serde_json::json!({
            "bool": false,
            "lhs": {"matchers": [{"name": "__name__", "type": "=", "value": "foo"}], "name": "foo", "offset": 0, "startOrEnd": null, "timestamp": null, "type": "vectorSelector"},
            "matching": {"card": "one-to-one", "include": [], "labels": [], "on": false},
            "op": "/",
            "rhs": {"matchers": [{"name": "__name__", "type": "=", "value": "bar"}], "name": "bar", "offset": 0, "startOrEnd": null, "timestamp": null, "type": "vectorSelector"},
            "type": "binaryExpr"
        });
        assert_eq!(got, want);
        let got = translate(
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
