//! Prometheus's `checkAST`: the static type checks after a successful parse,
//! in its order (children before parents, the first error wins), with its
//! messages and positions.

use aeon_model::{METRIC_NAME, MatchType, Matcher};

use super::Parser;
use super::node::Node;
use crate::ast::{Card, ValueType};
use crate::lexer::{Tok, go_quote};

/// The type name in error messages (`DocumentedType`).
fn documented(t: Option<ValueType>) -> &'static str {
    match t {
        Some(t) => t.name(),
        None => "none",
    }
}

/// The `ValueType` string itself (`matrix` rather than `range vector`).
fn raw_name(t: Option<ValueType>) -> &'static str {
    match t {
        Some(ValueType::Scalar) => "scalar",
        Some(ValueType::String) => "string",
        Some(ValueType::Vector) => "vector",
        Some(ValueType::Matrix) => "matrix",
        None => "none",
    }
}

/// An operator's text (`ItemType.String()`).
fn op_text(op: Tok) -> &'static str {
    use Tok::*;
    match op {
        ADD => "+",
        SUB => "-",
        MUL => "*",
        DIV => "/",
        MOD => "%",
        POW => "^",
        EQLC => "==",
        NEQ => "!=",
        GTR => ">",
        LSS => "<",
        GTE => ">=",
        LTE => "<=",
        LAND => "and",
        LOR => "or",
        LUNLESS => "unless",
        ATAN2 => "atan2",
        _ => "?",
    }
}

pub(super) fn is_comparison(op: Tok) -> bool {
    matches!(
        op,
        Tok::EQLC | Tok::NEQ | Tok::LTE | Tok::LSS | Tok::GTE | Tok::GTR
    )
}

pub(super) fn is_set(op: Tok) -> bool {
    matches!(op, Tok::LAND | Tok::LOR | Tok::LUNLESS)
}

/// The node's static type (`Type()`).
pub(super) fn type_of(n: &Node) -> Option<ValueType> {
    Some(match n {
        Node::Number { .. } | Node::Duration { .. } => ValueType::Scalar,
        Node::String { .. } => ValueType::String,
        Node::Vector(_) | Node::Aggregate { .. } => ValueType::Vector,
        Node::Matrix { .. } | Node::Subquery { .. } => ValueType::Matrix,
        Node::Paren { expr, .. } | Node::Unary { expr, .. } => return type_of(expr),
        Node::Binary { lhs, rhs, .. } => {
            if type_of(lhs) == Some(ValueType::Scalar) && type_of(rhs) == Some(ValueType::Scalar) {
                ValueType::Scalar
            } else {
                ValueType::Vector
            }
        }
        Node::Call { func, .. } => return func.map(|f| f.ret),
    })
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Checks the tree; errors go to the parser's list.
pub(super) fn check(p: &mut Parser<'_>, n: &mut Node) {
    check_node(p, n);
}

fn expect_type(p: &mut Parser<'_>, n: &mut Node, want: ValueType, context: &str) {
    let t = check_node(p, n);
    if t != Some(want) {
        p.error(
            n.range().start,
            format!(
                "expected type {} in {context}, got {}",
                want.name(),
                documented(t)
            ),
        );
    }
}

fn check_node(p: &mut Parser<'_>, n: &mut Node) -> Option<ValueType> {
    let typ = type_of(n);
    let range = n.range();
    match n {
        Node::Aggregate {
            op, expr, param, ..
        } => {
            if let Some(e) = expr {
                expect_type(p, e, ValueType::Vector, "aggregation expression");
            }
            let want = match op {
                Some(Tok::TOPK | Tok::BOTTOMK | Tok::QUANTILE | Tok::LIMITK | Tok::LIMIT_RATIO) => {
                    Some(ValueType::Scalar)
                }
                Some(Tok::COUNT_VALUES) => Some(ValueType::String),
                _ => None,
            };
            if let (Some(want), Some(param)) = (want, param) {
                expect_type(p, param, want, "aggregation parameter");
            }
        }
        Node::Binary {
            op,
            lhs,
            rhs,
            modifiers,
            matching,
        } => {
            let lt = check_node(p, lhs);
            let rt = check_node(p, rhs);
            let (lhs_end, rhs_start) = (lhs.range().end, rhs.range().start);
            let input = p.input.as_bytes();
            let op_start = || {
                let mut s = lhs_end;
                while s < input.len() && is_space(input[s]) {
                    s += 1;
                }
                s
            };
            let _ = rhs_start;
            if modifiers.return_bool && !is_comparison(*op) {
                let pos = op_start();
                p.error(
                    pos,
                    "bool modifier can only be used on comparison operators",
                );
            }
            if is_comparison(*op)
                && !modifiers.return_bool
                && type_of(rhs) == Some(ValueType::Scalar)
                && type_of(lhs) == Some(ValueType::Scalar)
            {
                let pos = op_start();
                p.error(pos, "comparisons between scalars must use BOOL modifier");
            }
            if is_set(*op) && modifiers.card == Card::OneToOne {
                modifiers.card = Card::ManyToMany;
            }
            let dup: Vec<String> = if modifiers.on {
                modifiers
                    .labels
                    .iter()
                    .flat_map(|l1| modifiers.include.iter().filter(move |l2| *l2 == l1))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            for l in dup {
                let pos = op_start();
                p.error(
                    pos,
                    format!(
                        "label {} must not occur in ON and GROUP clause at once",
                        go_quote(&l)
                    ),
                );
            }
            let ok = |t| t == Some(ValueType::Scalar) || t == Some(ValueType::Vector);
            if !ok(lt) {
                p.error(
                    lhs.range().start,
                    "binary expression must contain only scalar and instant vector types",
                );
            }
            if !ok(rt) {
                p.error(
                    rhs.range().start,
                    "binary expression must contain only scalar and instant vector types",
                );
            }
            let vec = Some(ValueType::Vector);
            if lt != vec || rt != vec {
                if *matching && !modifiers.labels.is_empty() {
                    p.error(
                        range.start,
                        "vector matching only allowed between instant vectors",
                    );
                }
                *matching = false;
            } else if is_set(*op) {
                if matches!(modifiers.card, Card::OneToMany | Card::ManyToOne) {
                    p.error(
                        range.start,
                        format!(
                            "no grouping allowed for {} operation",
                            go_quote(op_text(*op))
                        ),
                    );
                }
                if modifiers.card != Card::ManyToMany {
                    p.error(range.start, "set operations must always be many-to-many");
                }
            }
            if (lt == Some(ValueType::Scalar) || rt == Some(ValueType::Scalar)) && is_set(*op) {
                p.error(
                    range.start,
                    format!(
                        "set operator {} not allowed in binary scalar expression",
                        go_quote(op_text(*op))
                    ),
                );
            }
        }
        Node::Call { func, args, .. } => {
            let Some(f) = *func else { return typ };
            let nargs = f.args.len();
            if f.variadic == 0 {
                if nargs != args.len() {
                    p.error(
                        range.start,
                        format!(
                            "expected {nargs} argument(s) in call to {}, got {}",
                            go_quote(f.name),
                            args.len()
                        ),
                    );
                }
            } else {
                let na = nargs - 1;
                if na > args.len() {
                    p.error(
                        range.start,
                        format!(
                            "expected at least {na} argument(s) in call to {}, got {}",
                            go_quote(f.name),
                            args.len()
                        ),
                    );
                } else if f.variadic > 0 && na + (f.variadic as usize) < args.len() {
                    p.error(
                        range.start,
                        format!(
                            "expected at most {} argument(s) in call to {}, got {}",
                            na + f.variadic as usize,
                            go_quote(f.name),
                            args.len()
                        ),
                    );
                }
            }
            if f.name == "info" && args.len() > 1 {
                let t = type_of(&args[1]);
                if t != Some(ValueType::Vector) {
                    p.error(
                        range.start,
                        format!(
                            "expected type instant vector in call to function \"info\", got {}",
                            documented(t)
                        ),
                    );
                }
                match &mut args[1] {
                    Node::Vector(vs) => {
                        if !vs.name.is_empty() {
                            p.error(
                                vs.range.start,
                                "expected label selectors only, got vector selector instead",
                            );
                        }
                        vs.bypass_empty = true;
                    }
                    // Prometheus's parser panics here and answers "unexpected error".
                    _ => p.panicked = true,
                }
                if p.panicked {
                    return typ;
                }
            }
            let ctx = format!("call to function {}", go_quote(f.name));
            for (i, a) in args.iter_mut().enumerate() {
                let i = if i >= nargs {
                    if f.variadic == 0 {
                        break;
                    }
                    nargs - 1
                } else {
                    i
                };
                expect_type(p, a, f.args[i], &ctx);
            }
        }
        Node::Paren { expr, .. } => {
            check_node(p, expr);
        }
        Node::Unary { expr, .. } => {
            let t = check_node(p, expr);
            if t != Some(ValueType::Scalar) && t != Some(ValueType::Vector) {
                p.error(
                    range.start,
                    format!(
                        "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                        go_quote(documented(t))
                    ),
                );
            }
        }
        Node::Subquery { expr, .. } => {
            let t = check_node(p, expr);
            if t != Some(ValueType::Vector) {
                p.error(
                    range.start,
                    format!(
                        "subquery is only allowed on instant vector, got {} instead",
                        raw_name(t)
                    ),
                );
            }
        }
        Node::Matrix { vs, .. } => {
            check_node(p, vs);
        }
        Node::Vector(vs) => {
            if !vs.name.is_empty() {
                let upto = vs.matchers.len().saturating_sub(1);
                for m in vs.matchers[..upto].iter().flatten() {
                    if m.name == METRIC_NAME {
                        p.error(
                            range.start,
                            format!(
                                "metric name must not be set twice: {} or {}",
                                go_quote(&vs.name),
                                go_quote(&m.value)
                            ),
                        );
                    }
                }
            } else if !vs.bypass_empty && !vs.matchers.iter().flatten().any(|m| !m.matches_empty())
            {
                p.error(
                    range.start,
                    "vector selector must contain at least one non-empty matcher",
                );
            }
        }
        Node::Number { .. } | Node::String { .. } => {}
        Node::Duration { .. } => {
            p.error(range.start, "unknown node type: *parser.DurationExpr");
        }
    }
    typ
}

type MatcherKey = (MatchType, String, String);

/// Compiled regex matchers, shared across parses: compiling a regex costs far
/// more than parsing a whole query. Bounded; cleared when full.
static REGEX_CACHE: std::sync::OnceLock<
    std::sync::Mutex<std::collections::HashMap<MatcherKey, Matcher>>,
> = std::sync::OnceLock::new();
const REGEX_CACHE_MAX: usize = 4096;

/// Prometheus's `labels.NewMatcher`, with Go's regexp error texts.
pub(super) fn new_matcher(
    op: MatchType,
    name: &str,
    value: &str,
) -> std::result::Result<Matcher, String> {
    if !matches!(op, MatchType::RegexMatch | MatchType::RegexNoMatch) {
        return Matcher::new(op, name, value).map_err(|e| e.to_string());
    }
    let cache = REGEX_CACHE.get_or_init(Default::default);
    let key = (op, name.to_string(), value.to_string());
    if let Ok(c) = cache.lock() {
        if let Some(m) = c.get(&key) {
            return Ok(m.clone());
        }
    }
    if let Some(e) = super::goregex::syntax_error(value) {
        return Err(e);
    }
    let m = Matcher::new(op, name, value).map_err(|e| e.to_string())?;
    if let Ok(mut c) = cache.lock() {
        if c.len() >= REGEX_CACHE_MAX {
            c.clear();
        }
        c.insert(key, m.clone());
    }
    Ok(m)
}
