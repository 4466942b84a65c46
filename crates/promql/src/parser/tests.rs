use super::*;
use crate::ast::BinOp;

fn ok(q: &str) -> Expr {
    parse(q).unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn fails(q: &str) -> String {
    match parse(q) {
        Ok(e) => panic!("{q} parsed: {e:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn parses_typical_queries() {
    for q in [
        "sum by (job) (rate(http_requests_total{job=~\"api.*\"}[5m]))",
        "sum(rate(x[5m])) without (instance)",
        "histogram_quantile(0.9, sum by (le) (rate(b_bucket[5m])))",
        "a / on(instance) group_left(job) b",
        "-2 ^ 2",
        "foo offset -5m",
        "foo @ start()",
        "rate(foo[5m:1m] offset 1h)",
        "{\"foo.bar\", a=\"b\"}",
        "topk(3, foo) by (a)",
        "changes(http_requests[2m*(10+5)])",
        "metric1_total offset -2 ^ 2",
        "# comment\nfoo",
        "+foo",
        "foo and bar or baz unless qux",
        "sum without () (x)",
        "count_values(\"v\", x)",
        "x[1h:]",
    ] {
        ok(q);
    }
}

#[test]
fn precedence() {
    assert!(
        matches!(ok("-2 ^ 2"), Expr::Number(v, _) if v == -4.0)
            || matches!(ok("-2 ^ 2"), Expr::Neg(..))
    );
    assert!(matches!(
        ok("1 + 2 * 3"),
        Expr::Binary { op: BinOp::Add, .. }
    ));
    match ok("2 ^ 3 ^ 2") {
        Expr::Binary {
            op: BinOp::Pow,
            rhs,
            ..
        } => assert!(matches!(*rhs, Expr::Binary { op: BinOp::Pow, .. })),
        e => panic!("{e:?}"),
    }
    assert!(matches!(ok("+foo"), Expr::Plus(..)));
    assert!(matches!(ok("-foo"), Expr::Neg(..)));
    assert!(matches!(ok("-1"), Expr::Number(v, _) if v == -1.0));
}

#[test]
fn name_outside_braces_only() {
    let Expr::Vector(vs) = ok(r#"{__name__="x"}"#) else {
        panic!()
    };
    assert_eq!(vs.name, None);
    let Expr::Vector(vs) = ok(r#"x{a="b"}"#) else {
        panic!()
    };
    assert_eq!(vs.name.as_deref(), Some("x"));
}

#[test]
fn positions_of_nodes() {
    let Expr::Aggregate { expr, pos, .. } = ok("sum(rate(queue_depth[5m]))") else {
        panic!()
    };
    assert_eq!(pos.to_string(), "1:1");
    let Expr::Call { args, pos, .. } = *expr else {
        panic!()
    };
    assert_eq!(pos.to_string(), "1:5");
    assert_eq!(args[0].pos().to_string(), "1:10");
    assert_eq!(ok("x +\n  -y").pos().to_string(), "1:1");
}

#[test]
fn syntax_errors_as_prometheus_reports_them() {
    for (q, want) in [
        ("sum(", "1:5: parse error: unclosed left parenthesis"),
        (
            "up{job=",
            "1:8: parse error: unexpected end of input inside braces",
        ),
        (
            "rate(up[5m]",
            "1:12: parse error: unclosed left parenthesis",
        ),
        (
            "no_such_function(up)",
            "1:1: parse error: unknown function with name \"no_such_function\"",
        ),
        (
            "rate(up)",
            "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector",
        ),
        (
            "up[5m] + 1",
            "1:1: parse error: binary expression must contain only scalar and instant vector types",
        ),
        (
            "sum by (job) up",
            "1:14: parse error: unexpected identifier \"up\" in aggregation",
        ),
        (
            "\"a\" + 1",
            "1:1: parse error: binary expression must contain only scalar and instant vector types",
        ),
        (
            "",
            "unknown position: parse error: no expression found in input",
        ),
        (
            "1 > 2",
            "1:3: parse error: comparisons between scalars must use BOOL modifier",
        ),
        (
            "{}",
            "1:1: parse error: vector selector must contain at least one non-empty matcher",
        ),
        (
            "foo @ bar",
            "1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp",
        ),
        (
            "foo offset",
            "1:11: parse error: unexpected end of input in offset, expected number or duration",
        ),
        (
            "x{a=\"b\" c}",
            "1:9: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\"",
        ),
        (
            "sum(x) by",
            "1:10: parse error: unexpected end of input in grouping opts, expected \"(\"",
        ),
        ("foo[5m:1m:]", "1:10: parse error: unexpected colon ':'"),
        (
            "up @ @",
            "1:6: parse error: unexpected \"<Item 57400>\" <op:@> in @, expected timestamp",
        ),
        (
            "up{job=~\"(\"}",
            "1:4: parse error: error parsing regexp: missing closing ): `(`",
        ),
        (
            "1x",
            "1:1: parse error: bad number or duration syntax: \"1\"",
        ),
        (
            "up[5m][10m:1m]",
            "1:1: parse error: subquery is only allowed on instant vector, got matrix instead",
        ),
        ("rate(up[1m-2m])", "8:13: duration must be greater than 0"),
        (
            "x @",
            "1:4: parse error: unexpected end of input in @, expected timestamp",
        ),
        (")", "1:2: parse error: unexpected right parenthesis ')'"),
        ("f(", "1:3: parse error: unclosed left parenthesis"),
        (
            "rate(x[5m],)",
            "1:11: parse error: trailing commas not allowed in function call args",
        ),
        (
            "x[5m] offset 1m[1m]",
            "1:16: parse error: ranges only allowed for vector selectors",
        ),
        (
            "x offset 1m[5m]",
            "1:12: parse error: no offset modifiers allowed before range",
        ),
        (
            "x @ 100 [5m]",
            "1:9: parse error: no @ modifiers allowed before range",
        ),
    ] {
        assert_eq!(fails(q), want, "{q}");
    }
}

#[test]
fn info_label_selector_argument() {
    assert!(parse("info(m, {})").is_ok());
    assert!(parse(r#"info(m, {__name__="build_info"})"#).is_ok());
    for q in ["info({})", "m + {}"] {
        let e = fails(q);
        assert!(
            e.contains("vector selector must contain at least one non-empty matcher"),
            "{q}: {e}"
        );
    }
    assert_eq!(fails("info(m, 1)"), "unexpected error");
}
