//! The parse tree: Prometheus's AST nodes with their position ranges, as the
//! grammar's actions build them. The static checks run on it (their errors
//! point at these ranges); then it becomes an [`crate::ast::Expr`].

use aeon_model::Matcher;

use crate::ast::Card;
use crate::functions::FunctionDef;
use crate::lexer::{Item, Tok};

/// `[start, end)` byte offsets in the query.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Range {
    pub start: usize,
    pub end: usize,
}

impl Range {
    pub(super) fn of(item: &Item) -> Range {
        Range {
            start: item.pos,
            end: item.end(),
        }
    }
    pub(super) fn merge(a: Range, b: Range) -> Range {
        Range {
            start: a.start,
            end: b.end,
        }
    }
}

/// An `@` modifier as written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum At {
    None,
    /// Milliseconds.
    Ts(i64),
    Start,
    End,
}

/// An instant vector selector.
#[derive(Debug, Clone)]
pub(super) struct Vs {
    pub name: String,
    /// `None` where a matcher failed to build (an error was recorded).
    pub matchers: Vec<Option<Matcher>>,
    /// Nanoseconds.
    pub offset: i64,
    pub offset_expr: Option<Box<Node>>,
    pub at: At,
    pub range: Range,
    /// The label-selector argument of `info` may match everything.
    pub bypass_empty: bool,
}

/// `on`/`ignoring`/`group_x` and `bool` of a binary operator.
#[derive(Debug, Clone)]
pub(super) struct BinMod {
    pub return_bool: bool,
    pub card: Card,
    pub labels: Vec<String>,
    pub on: bool,
    pub include: Vec<String>,
}

/// A parse-tree node.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Number {
        val: f64,
        range: Range,
    },
    String {
        val: String,
        range: Range,
    },
    Vector(Box<Vs>),
    Matrix {
        vs: Box<Node>,
        /// Nanoseconds (when given as a number or duration).
        range: i64,
        range_expr: Option<Box<Node>>,
        end: usize,
    },
    Subquery {
        expr: Box<Node>,
        range: i64,
        range_expr: Option<Box<Node>>,
        step: i64,
        step_expr: Option<Box<Node>>,
        offset: i64,
        offset_expr: Option<Box<Node>>,
        at: At,
        end: usize,
    },
    Paren {
        expr: Box<Node>,
        range: Range,
    },
    Unary {
        sub: bool,
        expr: Box<Node>,
        start: usize,
    },
    Binary {
        op: Tok,
        lhs: Box<Node>,
        rhs: Box<Node>,
        modifiers: BinMod,
        /// Whether vector matching applies (cleared for scalar operands).
        matching: bool,
    },
    Aggregate {
        /// `None` when the aggregation could not be built (an error was recorded).
        op: Option<Tok>,
        expr: Option<Box<Node>>,
        param: Option<Box<Node>>,
        grouping: Vec<String>,
        without: bool,
        range: Range,
    },
    Call {
        func: Option<&'static FunctionDef>,
        args: Vec<Node>,
        range: Range,
    },
    /// A duration expression (`[5m * 2]`, `offset -(1h)`).
    Duration {
        op: Tok,
        lhs: Option<Box<Node>>,
        rhs: Box<Node>,
        start: usize,
    },
}

impl Node {
    /// Prometheus's `PositionRange()`.
    pub(super) fn range(&self) -> Range {
        match self {
            Node::Number { range, .. }
            | Node::String { range, .. }
            | Node::Paren { range, .. }
            | Node::Aggregate { range, .. }
            | Node::Call { range, .. } => *range,
            Node::Vector(vs) => vs.range,
            Node::Matrix { vs, end, .. } => Range {
                start: vs.range().start,
                end: *end,
            },
            Node::Subquery { expr, end, .. } => Range {
                start: expr.range().start,
                end: *end,
            },
            Node::Unary { expr, start, .. } => Range {
                start: *start,
                end: expr.range().end,
            },
            Node::Binary { lhs, rhs, .. } => Range::merge(lhs.range(), rhs.range()),
            Node::Duration {
                lhs, rhs, start, ..
            } => match lhs {
                None => Range {
                    start: *start,
                    end: rhs.range().end,
                },
                Some(l) => Range::merge(l.range(), rhs.range()),
            },
        }
    }
}
