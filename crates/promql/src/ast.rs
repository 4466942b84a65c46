//! The abstract syntax tree of a PromQL expression and its static types.

use aeon_model::Matcher;

use crate::functions::FunctionDef;

/// The type a PromQL expression evaluates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// A single number.
    Scalar,
    /// A string literal.
    String,
    /// One sample per series at each evaluation time.
    Vector,
    /// A range of samples per series.
    Matrix,
}

impl ValueType {
    /// Prometheus's name for the type, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::String => "string",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
        }
    }
}

/// An `@` modifier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AtModifier {
    /// `@ <timestamp>` in milliseconds.
    At(i64),
    /// `@ start()`.
    Start,
    /// `@ end()`.
    End,
}

/// Where a node starts in the query text: 1-based line and byte column, as
/// Prometheus prints positions (`1:10`). Line 0: not from a query text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Byte column, from 1.
    pub col: u32,
}

impl Pos {
    /// Whether the position is known.
    pub fn is_known(self) -> bool {
        self.line > 0
    }
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// An instant vector selector such as `foo{a="b"} offset 5m`.
#[derive(Debug, Clone)]
pub struct VectorSelector {
    /// The metric name if written outside the braces (`foo{a="b"}`).
    pub name: Option<String>,
    /// All matchers, including the one for the metric name.
    pub matchers: Vec<Matcher>,
    /// Offset in milliseconds (positive looks back).
    pub offset: i64,
    /// The `@` modifier.
    pub at: Option<AtModifier>,
    /// Where the selector starts.
    pub pos: Pos,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `atan2`
    Atan2,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `>`
    Gtr,
    /// `<`
    Lss,
    /// `>=`
    Gte,
    /// `<=`
    Lte,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
}

impl BinOp {
    /// Whether this is a comparison operator.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eql | BinOp::Neq | BinOp::Gtr | BinOp::Lss | BinOp::Gte | BinOp::Lte
        )
    }
    /// Whether this is a set operator (`and`, `or`, `unless`).
    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
    /// Binding strength; higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And | BinOp::Unless => 2,
            BinOp::Eql | BinOp::Neq | BinOp::Gtr | BinOp::Lss | BinOp::Gte | BinOp::Lte => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Atan2 => 5,
            BinOp::Pow => 6,
        }
    }
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Atan2 => "atan2",
            BinOp::Eql => "==",
            BinOp::Neq => "!=",
            BinOp::Gtr => ">",
            BinOp::Lss => "<",
            BinOp::Gte => ">=",
            BinOp::Lte => "<=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Unless => "unless",
        }
    }
}

/// Cardinality of a vector match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Card {
    /// One-to-one.
    OneToOne,
    /// `group_left`.
    ManyToOne,
    /// `group_right`.
    OneToMany,
    /// Set operators.
    ManyToMany,
}

/// `on`/`ignoring` and `group_left`/`group_right` of a binary operation.
#[derive(Debug, Clone)]
pub struct VectorMatching {
    /// The cardinality.
    pub card: Card,
    /// Label names of `on(...)` or `ignoring(...)`.
    pub labels: Vec<String>,
    /// `on` (true) or `ignoring`/none (false).
    pub on: bool,
    /// Extra labels of `group_x(...)`.
    pub include: Vec<String>,
}

/// Aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `count`
    Count,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `group`
    Group,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `topk`
    Topk,
    /// `bottomk`
    Bottomk,
    /// `count_values`
    CountValues,
    /// `quantile`
    Quantile,
    /// `limitk`
    Limitk,
    /// `limit_ratio`
    LimitRatio,
}

impl AggOp {
    /// Looks up an aggregation by its (lower-case) name.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "sum" => AggOp::Sum,
            "avg" => AggOp::Avg,
            "count" => AggOp::Count,
            "min" => AggOp::Min,
            "max" => AggOp::Max,
            "group" => AggOp::Group,
            "stddev" => AggOp::Stddev,
            "stdvar" => AggOp::Stdvar,
            "topk" => AggOp::Topk,
            "bottomk" => AggOp::Bottomk,
            "count_values" => AggOp::CountValues,
            "quantile" => AggOp::Quantile,
            "limitk" => AggOp::Limitk,
            "limit_ratio" => AggOp::LimitRatio,
            _ => return None,
        })
    }
    /// Whether the aggregation takes a parameter before the vector.
    pub fn has_param(self) -> bool {
        matches!(
            self,
            AggOp::Topk
                | AggOp::Bottomk
                | AggOp::CountValues
                | AggOp::Quantile
                | AggOp::Limitk
                | AggOp::LimitRatio
        )
    }
    /// The name as written.
    pub fn name(self) -> &'static str {
        match self {
            AggOp::Sum => "sum",
            AggOp::Avg => "avg",
            AggOp::Count => "count",
            AggOp::Min => "min",
            AggOp::Max => "max",
            AggOp::Group => "group",
            AggOp::Stddev => "stddev",
            AggOp::Stdvar => "stdvar",
            AggOp::Topk => "topk",
            AggOp::Bottomk => "bottomk",
            AggOp::CountValues => "count_values",
            AggOp::Quantile => "quantile",
            AggOp::Limitk => "limitk",
            AggOp::LimitRatio => "limit_ratio",
        }
    }
}

/// A PromQL expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A number literal (a negated literal is one number starting at the `-`).
    Number(f64, Pos),
    /// A string literal.
    String(String, Pos),
    /// An instant vector selector.
    Vector(VectorSelector),
    /// A range vector selector; `range` in milliseconds.
    Matrix {
        /// The selector.
        vs: VectorSelector,
        /// The range in milliseconds.
        range: i64,
    },
    /// A subquery `expr[range:step]`.
    Subquery {
        /// The inner expression.
        expr: Box<Expr>,
        /// Range in milliseconds.
        range: i64,
        /// Step in milliseconds; 0 means the default evaluation interval.
        step: i64,
        /// Offset in milliseconds.
        offset: i64,
        /// The `@` modifier.
        at: Option<AtModifier>,
    },
    /// Unary minus.
    Neg(Box<Expr>, Pos),
    /// Unary plus (kept, as Prometheus keeps it: `+foo` prints as written).
    Plus(Box<Expr>, Pos),
    /// A binary operation.
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
        /// The `bool` modifier.
        return_bool: bool,
        /// Vector matching (only when both sides are vectors).
        matching: Option<VectorMatching>,
    },
    /// An aggregation.
    Aggregate {
        /// The operator.
        op: AggOp,
        /// The aggregated vector.
        expr: Box<Expr>,
        /// The parameter (topk's k, quantile's φ, count_values' label).
        param: Option<Box<Expr>>,
        /// `by`/`without` label names.
        grouping: Vec<String>,
        /// `without` rather than `by`.
        without: bool,
        /// Where the aggregation starts.
        pos: Pos,
    },
    /// A function call.
    Call {
        /// The function.
        func: &'static FunctionDef,
        /// Arguments.
        args: Vec<Expr>,
        /// Where the call starts.
        pos: Pos,
    },
    /// A parenthesised expression.
    Paren(Box<Expr>, Pos),
}

impl Expr {
    /// The static type of the expression.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number(..) => ValueType::Scalar,
            Expr::String(..) => ValueType::String,
            Expr::Vector(_) | Expr::Aggregate { .. } => ValueType::Vector,
            Expr::Matrix { .. } | Expr::Subquery { .. } => ValueType::Matrix,
            Expr::Neg(e, _) | Expr::Plus(e, _) | Expr::Paren(e, _) => e.value_type(),
            Expr::Binary { lhs, rhs, .. } => {
                if lhs.value_type() == ValueType::Scalar && rhs.value_type() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Call { func, .. } => func.ret,
        }
    }

    /// Strips parentheses.
    pub fn unparen(&self) -> &Expr {
        match self {
            Expr::Paren(e, _) => e.unparen(),
            e => e,
        }
    }

    /// Where the expression starts in the query (Prometheus's
    /// `PositionRange().Start`), which annotations about it name.
    pub fn pos(&self) -> Pos {
        match self {
            Expr::Number(_, p)
            | Expr::String(_, p)
            | Expr::Neg(_, p)
            | Expr::Plus(_, p)
            | Expr::Paren(_, p)
            | Expr::Aggregate { pos: p, .. }
            | Expr::Call { pos: p, .. } => *p,
            Expr::Vector(vs) | Expr::Matrix { vs, .. } => vs.pos,
            Expr::Subquery { expr, .. } => expr.pos(),
            Expr::Binary { lhs, .. } => lhs.pos(),
        }
    }
}
