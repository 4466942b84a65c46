//! What each grammar rule does when reduced: Prometheus's actions (building
//! parse-tree nodes, recording errors in the same order and at the same
//! positions), named in `grammar.rs`.

use aeon_model::{METRIC_NAME, MatchType, Matcher};

use super::node::{At, BinMod, Node, Range, Vs};
use super::number::number;
use super::{Parser, Val};
use crate::ast::Card;
use crate::functions;
use crate::lexer::{Item, Tok, go_duration_ns, go_quote, unquote};

/// Every action name the grammar may use.
#[cfg(test)]
pub(super) const KNOWN: &[&str] = &[
    "",
    "no_expression",
    "result",
    "unexpected",
    "agg_modifier_first",
    "agg_modifier_last",
    "agg",
    "agg_error",
    "by",
    "without",
    "binary",
    "no_bool",
    "bool",
    "ignoring",
    "on",
    "group_left",
    "group_right",
    "second",
    "no_labels",
    "grouping_opts_error",
    "label_append",
    "label_one",
    "grouping_list_error",
    "grouping_label",
    "grouping_label_string",
    "grouping_label_error",
    "call",
    "no_args",
    "arg_append",
    "arg_one",
    "trailing_comma",
    "paren",
    "positive_duration",
    "offset",
    "offset_error",
    "at",
    "at_preprocessor",
    "at_error",
    "matrix",
    "subquery",
    "subquery_default_step",
    "subquery_error_end",
    "subquery_error_step",
    "subquery_error_colon",
    "subquery_error_range",
    "unary",
    "selector_name_matchers",
    "selector_name",
    "selector_matchers",
    "matchers",
    "matchers_comma",
    "no_matchers",
    "matcher_append",
    "matcher_one",
    "matching_list_error",
    "matcher",
    "name_matcher",
    "matching_string_error",
    "matching_op_error",
    "matching_error",
    "number_literal",
    "duration_literal",
    "number",
    "duration",
    "negate",
    "string_literal",
    "string_identifier",
    "offset_literal",
    "offset_signed_literal",
    "duration_number",
    "duration_unary",
    "duration_binary",
    "duration_paren",
];

/// Largest offset or duration in seconds (Go's `1<<63/1e9`).
const MAX_SECONDS: f64 = 9_223_372_036.854_776;

fn item(v: &Val) -> Item {
    match v {
        Val::Item(i) => i.clone(),
        _ => Item {
            typ: Tok::ERROR,
            pos: 0,
            val: String::new(),
        },
    }
}

fn take_node(v: Val) -> Option<Node> {
    match v {
        Val::Node(n) => Some(n),
        _ => None,
    }
}

fn take_nodes(v: Val) -> Vec<Node> {
    match v {
        Val::Nodes(n) => n,
        _ => Vec::new(),
    }
}

fn take_labels(v: Val) -> Vec<String> {
    match v {
        Val::Labels(l) => l,
        _ => Vec::new(),
    }
}

fn float(v: &Val) -> f64 {
    match v {
        Val::Float(f) => *f,
        _ => 0.0,
    }
}

/// Go's `time.Duration(math.Round(seconds * 1e9))` (nanoseconds).
/// Prometheus's check of an offset or duration in seconds: NaN is not out
/// of range (its comparisons are false).
#[allow(clippy::manual_range_contains)]
fn out_of_duration_range(v: f64) -> bool {
    v > MAX_SECONDS || v < -MAX_SECONDS
}

/// Go's `time.Duration(math.Round(s * float64(time.Second)))`: on amd64 a
/// NaN or out-of-range float converts to the lowest int64.
fn seconds_to_ns(s: f64) -> i64 {
    let ns = (s * 1e9).round();
    if ns.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&ns) {
        i64::MIN
    } else {
        ns as i64
    }
}

fn zero() -> Node {
    Node::Number {
        val: 0.0,
        range: Range::default(),
    }
}

fn number_value(p: &mut Parser<'_>, it: &Item) -> f64 {
    match number(&it.val) {
        Ok(v) => v,
        Err(e) => {
            let pos = p.lval.pos;
            p.error(pos, e);
            0.0
        }
    }
}

fn duration_seconds(p: &mut Parser<'_>, it: &Item) -> f64 {
    match go_duration_ns(&it.val) {
        Ok(ns) => (ns / 1_000_000_000) as f64 + (ns % 1_000_000_000) as f64 / 1e9,
        Err(e) => {
            p.error(it.pos, e);
            0.0
        }
    }
}

fn unquote_string(p: &mut Parser<'_>, s: &str) -> String {
    match unquote(s) {
        Ok(v) => v,
        Err(()) => {
            let pos = p.lval.pos;
            p.error(
                pos,
                format!("error unquoting string {}: invalid syntax", go_quote(s)),
            );
            String::new()
        }
    }
}

/// Whether a label name is valid (Prometheus 3's UTF-8 names: non-empty, valid UTF-8).
fn valid_label_name(s: &str) -> bool {
    !s.is_empty() && crate::lexer::is_valid_utf8(s)
}

fn tk(a: &mut [Val], i: usize) -> Val {
    a.get_mut(i)
        .map_or(Val::None, |v| std::mem::replace(v, Val::None))
}

pub(super) fn reduce(p: &mut Parser<'_>, action: &str, mut a: Vec<Val>) -> Val {
    match action {
        "" => {
            if a.is_empty() {
                Val::None
            } else {
                tk(&mut a, 0)
            }
        }
        "no_expression" => {
            p.error(0, "no expression found in input");
            Val::None
        }
        "result" => {
            p.result = take_node(tk(&mut a, 1));
            Val::None
        }
        "unexpected" => {
            p.unexpected("", "");
            Val::None
        }
        "agg_modifier_first" | "agg_modifier_last" => {
            if p.closing_parens.len() > 1 {
                p.closing_parens.pop_front();
            }
            let op = item(&a[0]);
            let (m, body) = if action == "agg_modifier_first" {
                (tk(&mut a, 1), tk(&mut a, 2))
            } else {
                (tk(&mut a, 2), tk(&mut a, 1))
            };
            new_aggregate(p, &op, m, take_nodes(body))
        }
        "agg" => {
            let op = item(&a[0]);
            let body = take_nodes(tk(&mut a, 1));
            new_aggregate(p, &op, Val::None, body)
        }
        "agg_error" => {
            p.unexpected("aggregation", "");
            let op = item(&a[0]);
            new_aggregate(p, &op, Val::None, Vec::new())
        }
        "by" => Val::AggMod(take_labels(tk(&mut a, 1)), false),
        "without" => Val::AggMod(take_labels(tk(&mut a, 1)), true),
        "binary" => {
            let op = item(&a[1]).typ;
            let (Some(lhs), Val::BinMod(m), Some(rhs)) = (
                take_node(tk(&mut a, 0)),
                tk(&mut a, 2),
                take_node(tk(&mut a, 3)),
            ) else {
                return Val::None;
            };
            Val::Node(Node::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                modifiers: m,
                matching: true,
            })
        }
        "no_bool" | "bool" => Val::BinMod(BinMod {
            return_bool: action == "bool",
            card: Card::OneToOne,
            labels: Vec::new(),
            on: false,
            include: Vec::new(),
        }),
        "ignoring" | "on" => match tk(&mut a, 0) {
            Val::BinMod(mut m) => {
                m.labels = take_labels(tk(&mut a, 2));
                m.on = action == "on";
                Val::BinMod(m)
            }
            v => v,
        },
        "group_left" | "group_right" => match tk(&mut a, 0) {
            Val::BinMod(mut m) => {
                m.card = if action == "group_left" {
                    Card::ManyToOne
                } else {
                    Card::OneToMany
                };
                m.include = take_labels(tk(&mut a, 2));
                Val::BinMod(m)
            }
            v => v,
        },
        "second" => tk(&mut a, 1),
        "no_labels" => Val::Labels(Vec::new()),
        "grouping_opts_error" => {
            p.unexpected("grouping opts", "\"(\"");
            Val::None
        }
        "label_append" => {
            let mut l = take_labels(tk(&mut a, 0));
            l.push(item(&a[2]).val);
            Val::Labels(l)
        }
        "label_one" => Val::Labels(vec![item(&a[0]).val]),
        "grouping_list_error" => {
            p.unexpected("grouping opts", "\",\" or \")\"");
            tk(&mut a, 0)
        }
        "grouping_label" => {
            let it = item(&a[0]);
            if !valid_label_name(&it.val) {
                p.error(
                    it.pos,
                    format!("invalid label name for grouping: {}", go_quote(&it.val)),
                );
            }
            tk(&mut a, 0)
        }
        "grouping_label_string" => {
            let mut it = item(&a[0]);
            let unquoted = unquote_string(p, &it.val);
            if !valid_label_name(&unquoted) {
                p.error(
                    it.pos,
                    format!("invalid label name for grouping: {}", go_quote(&unquoted)),
                );
            }
            it.pos += 1;
            it.val = unquoted;
            Val::Item(it)
        }
        "grouping_label_error" => {
            p.unexpected("grouping opts", "label");
            Val::None
        }
        "call" => {
            let name = item(&a[0]);
            let func = functions::lookup(&name.val);
            if func.is_none() {
                p.error(
                    name.pos,
                    format!("unknown function with name {}", go_quote(&name.val)),
                );
            }
            // Prometheus indexes its closing parentheses here: with none left
            // (after error recovery), it panics ("unexpected error").
            let end = p.closing_parens.pop_front().unwrap_or_else(|| {
                p.panicked = true;
                name.end()
            });
            Val::Node(Node::Call {
                func,
                args: take_nodes(tk(&mut a, 1)),
                range: Range {
                    start: name.pos,
                    end,
                },
            })
        }
        "no_args" => Val::Nodes(Vec::new()),
        "arg_append" => {
            let mut args = take_nodes(tk(&mut a, 0));
            args.extend(take_node(tk(&mut a, 2)));
            Val::Nodes(args)
        }
        "arg_one" => Val::Nodes(take_node(tk(&mut a, 0)).into_iter().collect()),
        "trailing_comma" => {
            let comma = item(&a[1]);
            p.error(
                comma.pos,
                "trailing commas not allowed in function call args",
            );
            tk(&mut a, 0)
        }
        "paren" => {
            let (open, close) = (item(&a[0]), item(&a[2]));
            // As in "call": slicing an empty list panics in Prometheus.
            if p.closing_parens.pop_front().is_none() {
                p.panicked = true;
            }
            match take_node(tk(&mut a, 1)) {
                Some(e) => Val::Node(Node::Paren {
                    expr: Box::new(e),
                    range: Range::merge(Range::of(&open), Range::of(&close)),
                }),
                None => Val::None,
            }
        }
        "positive_duration" => match take_node(tk(&mut a, 0)) {
            Some(Node::Number { val, range }) if val <= 0.0 => {
                p.error(range.start, "duration must be greater than 0");
                Val::Node(zero())
            }
            n => n.map_or(Val::None, Val::Node),
        },
        "offset" => {
            let (Some(mut e), Some(d)) = (take_node(tk(&mut a, 0)), take_node(tk(&mut a, 2)))
            else {
                return Val::None;
            };
            match d {
                Node::Number { val, .. } => add_offset(p, &mut e, seconds_to_ns(val), None),
                other => add_offset(p, &mut e, 0, Some(other)),
            }
            Val::Node(e)
        }
        "offset_error" => {
            p.unexpected("offset", "number or duration");
            tk(&mut a, 0)
        }
        "at" => {
            let ts = float(&a[2]);
            let Some(mut e) = take_node(tk(&mut a, 0)) else {
                return Val::None;
            };
            set_timestamp(p, &mut e, ts);
            Val::Node(e)
        }
        "at_preprocessor" => {
            let which = if item(&a[2]).typ == Tok::START {
                At::Start
            } else {
                At::End
            };
            let Some(mut e) = take_node(tk(&mut a, 0)) else {
                return Val::None;
            };
            if let Some(end) = at_target(p, &mut e) {
                *end.0 = which;
                *end.1 = p.last_closing;
            }
            Val::Node(e)
        }
        "at_error" => {
            p.unexpected("@", "timestamp");
            tk(&mut a, 0)
        }
        "matrix" => {
            let (open, close) = (item(&a[1]), item(&a[3]));
            let (Some(e), Some(d)) = (take_node(tk(&mut a, 0)), take_node(tk(&mut a, 2))) else {
                return Val::None;
            };
            let msg = match &e {
                Node::Vector(vs) if vs.offset != 0 => {
                    Some("no offset modifiers allowed before range")
                }
                Node::Vector(vs) if matches!(vs.at, At::Ts(_)) => {
                    Some("no @ modifiers allowed before range")
                }
                Node::Vector(_) => None,
                _ => Some("ranges only allowed for vector selectors"),
            };
            if let Some(msg) = msg {
                p.error(Range::merge(Range::of(&open), Range::of(&close)).start, msg);
            }
            let (range, range_expr) = duration_value(d);
            Val::Node(Node::Matrix {
                vs: Box::new(e),
                range,
                range_expr,
                end: p.last_closing,
            })
        }
        "subquery" | "subquery_default_step" => {
            let close = item(a.last().unwrap_or(&Val::None));
            let (Some(e), Some(r)) = (take_node(tk(&mut a, 0)), take_node(tk(&mut a, 2))) else {
                return Val::None;
            };
            let (range, range_expr) = duration_value(r);
            let (step, step_expr) = if action == "subquery" {
                take_node(tk(&mut a, 4)).map_or((0, None), duration_value)
            } else {
                (0, None)
            };
            Val::Node(Node::Subquery {
                expr: Box::new(e),
                range,
                range_expr,
                step,
                step_expr,
                offset: 0,
                offset_expr: None,
                at: At::None,
                end: close.pos + 1,
            })
        }
        "subquery_error_end" => subquery_error(p, "\"]\"", tk(&mut a, 0)),
        "subquery_error_step" => subquery_error(p, "number or duration or \"]\"", tk(&mut a, 0)),
        "subquery_error_colon" => {
            p.unexpected("subquery or range", "\":\" or \"]\"");
            tk(&mut a, 0)
        }
        "subquery_error_range" => subquery_error(p, "number or duration", tk(&mut a, 0)),
        "unary" => {
            let op = item(&a[0]);
            match take_node(tk(&mut a, 1)) {
                Some(Node::Number { mut val, range }) => {
                    if op.typ == Tok::SUB {
                        val = -val;
                    }
                    Val::Node(Node::Number {
                        val,
                        range: Range {
                            start: op.pos,
                            end: range.end,
                        },
                    })
                }
                Some(e) => Val::Node(Node::Unary {
                    sub: op.typ == Tok::SUB,
                    expr: Box::new(e),
                    start: op.pos,
                }),
                None => Val::None,
            }
        }
        "selector_name_matchers" => {
            let name = item(&a[0]);
            match take_node(tk(&mut a, 1)) {
                Some(Node::Vector(mut vs)) => {
                    vs.range = Range::merge(Range::of(&name), vs.range);
                    vs.name = name.val;
                    assemble(&mut vs);
                    Val::Node(Node::Vector(vs))
                }
                _ => Val::None,
            }
        }
        "selector_name" => {
            let name = item(&a[0]);
            let mut vs = Box::new(Vs {
                name: name.val.clone(),
                matchers: Vec::new(),
                offset: 0,
                offset_expr: None,
                at: At::None,
                range: Range::of(&name),
                bypass_empty: false,
            });
            assemble(&mut vs);
            Val::Node(Node::Vector(vs))
        }
        "selector_matchers" => tk(&mut a, 0),
        "matchers" | "matchers_comma" | "no_matchers" => {
            let open = item(&a[0]);
            let close = item(a.last().unwrap_or(&Val::None));
            let matchers = if action == "no_matchers" {
                Vec::new()
            } else {
                match tk(&mut a, 1) {
                    Val::Matchers(m) => m,
                    _ => Vec::new(),
                }
            };
            Val::Node(Node::Vector(Box::new(Vs {
                name: String::new(),
                matchers,
                offset: 0,
                offset_expr: None,
                at: At::None,
                range: Range::merge(Range::of(&open), Range::of(&close)),
                bypass_empty: false,
            })))
        }
        "matcher_append" => match (tk(&mut a, 0), tk(&mut a, 2)) {
            (Val::Matchers(mut l), Val::Matcher(m)) => {
                l.push(m);
                Val::Matchers(l)
            }
            (l, _) => l,
        },
        "matcher_one" => match tk(&mut a, 0) {
            Val::Matcher(m) => Val::Matchers(vec![m]),
            _ => Val::Matchers(vec![None]),
        },
        "matching_list_error" => {
            p.unexpected("label matching", "\",\" or \"}\"");
            tk(&mut a, 0)
        }
        "matcher" => {
            let (name, op, value) = (item(&a[0]), item(&a[1]), item(&a[2]));
            let val = unquote_string(p, &value.val);
            let kind = match op.typ {
                Tok::EQL => MatchType::Equal,
                Tok::NEQ => MatchType::NotEqual,
                Tok::EQL_REGEX => MatchType::RegexMatch,
                _ => MatchType::RegexNoMatch,
            };
            match super::check::new_matcher(kind, &name.val, &val) {
                Ok(m) => Val::Matcher(Some(m)),
                Err(e) => {
                    p.error(name.pos, e);
                    Val::Matcher(None)
                }
            }
        }
        "name_matcher" => {
            let it = item(&a[0]);
            Val::Matcher(Matcher::new(MatchType::Equal, METRIC_NAME, it.val).ok())
        }
        "matching_string_error" => {
            p.unexpected("label matching", "string");
            Val::Matcher(None)
        }
        "matching_op_error" => {
            p.unexpected("label matching", "label matching operator");
            Val::Matcher(None)
        }
        "matching_error" => {
            p.unexpected("label matching", "identifier or \"}\"");
            Val::Matcher(None)
        }
        "number_literal" => {
            let it = item(&a[0]);
            let val = number_value(p, &it);
            Val::Node(Node::Number {
                val,
                range: Range::of(&it),
            })
        }
        "duration_literal" => {
            let it = item(&a[0]);
            let val = duration_seconds(p, &it);
            Val::Node(Node::Number {
                val,
                range: Range::of(&it),
            })
        }
        "number" => {
            let it = item(&a[0]);
            Val::Float(number_value(p, &it))
        }
        "duration" => {
            let it = item(&a[0]);
            Val::Float(duration_seconds(p, &it))
        }
        "negate" => Val::Float(-float(&a[1])),
        "string_literal" => {
            let it = item(&a[0]);
            let val = unquote_string(p, &it.val);
            Val::Node(Node::String {
                val,
                range: Range::of(&it),
            })
        }
        "string_identifier" => {
            let it = item(&a[0]);
            let val = unquote_string(p, &it.val);
            Val::Item(Item {
                typ: Tok::METRIC_IDENTIFIER,
                pos: it.pos,
                val,
            })
        }
        "offset_literal" | "duration_number" => match take_node(tk(&mut a, 0)) {
            Some(Node::Number { val, range }) if out_of_duration_range(val) => {
                p.error(range.start, "duration out of range");
                Val::Node(zero())
            }
            n => n.map_or(Val::None, Val::Node),
        },
        "offset_signed_literal" => {
            let op = item(&a[0]);
            match take_node(tk(&mut a, 1)) {
                Some(Node::Number { mut val, range }) => {
                    if op.typ == Tok::SUB {
                        val = -val;
                    }
                    if out_of_duration_range(val) {
                        p.error(op.pos, "duration out of range");
                        return Val::Node(zero());
                    }
                    Val::Node(Node::Number {
                        val,
                        range: Range {
                            start: op.pos,
                            end: range.end,
                        },
                    })
                }
                n => n.map_or(Val::None, Val::Node),
            }
        }
        "duration_unary" => {
            let op = item(&a[0]);
            match take_node(tk(&mut a, 1)) {
                Some(Node::Number { mut val, range }) => {
                    if op.typ == Tok::SUB {
                        val = -val;
                    }
                    if out_of_duration_range(val) {
                        p.error(op.pos, "duration out of range");
                        return Val::Node(zero());
                    }
                    Val::Node(Node::Number {
                        val,
                        range: Range {
                            start: op.pos,
                            end: range.end,
                        },
                    })
                }
                Some(d @ Node::Duration { .. }) => {
                    if op.typ == Tok::SUB {
                        Val::Node(Node::Duration {
                            op: Tok::SUB,
                            lhs: None,
                            rhs: Box::new(d),
                            start: op.pos,
                        })
                    } else {
                        Val::Node(d)
                    }
                }
                _ => {
                    p.error(op.pos, "expected number literal or duration expression");
                    Val::Node(zero())
                }
            }
        }
        "duration_binary" => {
            let op = item(&a[1]);
            let (Some(lhs), Some(rhs)) = (take_node(tk(&mut a, 0)), take_node(tk(&mut a, 2)))
            else {
                return Val::None;
            };
            if matches!(op.typ, Tok::DIV | Tok::MOD)
                && matches!(rhs, Node::Number { val, .. } if val == 0.0)
            {
                let what = if op.typ == Tok::DIV {
                    "division by zero"
                } else {
                    "modulo by zero"
                };
                p.error(op.pos, what);
                return Val::Node(zero());
            }
            Val::Node(Node::Duration {
                op: op.typ,
                lhs: Some(Box::new(lhs)),
                rhs: Box::new(rhs),
                start: 0,
            })
        }
        "duration_paren" => tk(&mut a, 1),
        other => {
            // The grammar names only known actions (checked by a test).
            debug_assert!(false, "unknown grammar action {other}");
            Val::None
        }
    }
}

fn subquery_error(p: &mut Parser<'_>, expected: &str, keep: Val) -> Val {
    p.unexpected("subquery selector", expected);
    keep
}

/// A range or step: nanoseconds of a literal, or the duration expression.
fn duration_value(n: Node) -> (i64, Option<Box<Node>>) {
    match n {
        Node::Number { val, .. } => (seconds_to_ns(val), None),
        Node::Duration { .. } => (0, Some(Box::new(n))),
        _ => (0, None),
    }
}

/// Adds the metric-name matcher of a name written outside the braces.
fn assemble(vs: &mut Vs) {
    if !vs.name.is_empty() {
        vs.matchers
            .push(Matcher::new(MatchType::Equal, METRIC_NAME, vs.name.clone()).ok());
    }
}

fn new_aggregate(p: &mut Parser<'_>, op: &Item, modifier: Val, args: Vec<Node>) -> Val {
    let (grouping, without) = match modifier {
        Val::AggMod(g, w) => (g, w),
        _ => (Vec::new(), false),
    };
    let Some(end) = p.closing_parens.pop_front() else {
        return Val::Node(Node::Aggregate {
            op: None,
            expr: None,
            param: None,
            grouping,
            without,
            range: Range::default(),
        });
    };
    let range = Range { start: op.pos, end };
    let mut node = Node::Aggregate {
        op: Some(op.typ),
        expr: None,
        param: None,
        grouping,
        without,
        range,
    };
    if args.is_empty() {
        p.error(
            range.start,
            "no arguments for aggregate expression provided",
        );
        return Val::Node(node);
    }
    let with_param = matches!(
        op.typ,
        Tok::TOPK
            | Tok::BOTTOMK
            | Tok::COUNT_VALUES
            | Tok::QUANTILE
            | Tok::LIMITK
            | Tok::LIMIT_RATIO
    );
    let want = if with_param { 2 } else { 1 };
    let got = args.len();
    let mut args = args.into_iter();
    if let Node::Aggregate { param, expr, .. } = &mut node {
        if with_param {
            *param = args.next().map(Box::new);
        }
        if got != want {
            p.error(
                range.start,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {want}, got {got}"
                ),
            );
            return Val::Node(node);
        }
        *expr = args.next().map(Box::new);
    }
    Val::Node(node)
}

/// Prometheus's `addOffset`/`addOffsetExpr`.
fn add_offset(p: &mut Parser<'_>, e: &mut Node, ns: i64, expr: Option<Node>) {
    let start = e.range().start;
    let (offset, offset_expr, end) = match e {
        Node::Vector(vs) => (&mut vs.offset, &mut vs.offset_expr, &mut vs.range.end),
        Node::Matrix { vs, end, .. } => match vs.as_mut() {
            Node::Vector(vs) => (&mut vs.offset, &mut vs.offset_expr, end),
            _ => {
                p.error(start, "ranges only allowed for vector selectors");
                return;
            }
        },
        Node::Subquery {
            offset,
            offset_expr,
            end,
            ..
        } => (offset, offset_expr, end),
        _ => {
            p.error(
                start,
                "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
            );
            return;
        }
    };
    if *offset != 0 || offset_expr.is_some() {
        p.error(start, "offset may not be set multiple times");
    } else if let Some(x) = expr {
        *offset_expr = Some(Box::new(x));
    } else {
        *offset = ns;
    }
    *end = p.last_closing;
}

/// Prometheus's `getAtModifierVars`: the `@` slot and end position to set.
fn at_target<'n>(p: &mut Parser<'_>, e: &'n mut Node) -> Option<(&'n mut At, &'n mut usize)> {
    let start = e.range().start;
    let (at, end) = match e {
        Node::Vector(vs) => (&mut vs.at, &mut vs.range.end),
        Node::Matrix { vs, end, .. } => match vs.as_mut() {
            Node::Vector(vs) => (&mut vs.at, end),
            _ => {
                p.error(start, "ranges only allowed for vector selectors");
                return None;
            }
        },
        Node::Subquery { at, end, .. } => (at, end),
        _ => {
            p.error(
                start,
                "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
            );
            return None;
        }
    };
    if *at != At::None {
        p.error(start, "@ <timestamp> may not be set multiple times");
        return None;
    }
    Some((at, end))
}

/// Prometheus's `setTimestamp`.
fn set_timestamp(p: &mut Parser<'_>, e: &mut Node, ts: f64) {
    if !ts.is_finite() || ts >= i64::MAX as f64 || ts <= i64::MIN as f64 {
        p.error(
            e.range().start,
            format!(
                "timestamp out of bounds for @ modifier: {}",
                aeon_model::gofmt::printf_f(ts)
            ),
        );
    }
    let last = p.last_closing;
    if let Some((at, end)) = at_target(p, e) {
        *at = At::Ts((ts * 1000.0).round() as i64);
        *end = last;
    }
}
