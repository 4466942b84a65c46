//! Query result values and annotations.

use std::fmt;

use std::sync::Arc;

use aeon_model::Labels;

use crate::nativehist::FloatHistogram;

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series labels.
    pub metric: Labels,
    /// Timestamp in milliseconds.
    pub t: i64,
    /// The value (unused when `h` is set).
    pub f: f64,
    /// A native histogram value.
    pub h: Option<Arc<FloatHistogram>>,
    /// `__name__` must be removed before the result is returned (delayed name removal).
    pub drop_name: bool,
}

/// An instant vector.
pub type Vector = Vec<Sample>;

/// A point of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FPoint {
    /// Timestamp in milliseconds.
    pub t: i64,
    /// The value.
    pub f: f64,
}

/// A histogram point of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct HPoint {
    /// Timestamp in milliseconds.
    pub t: i64,
    /// The histogram.
    pub h: Arc<FloatHistogram>,
}

/// A series of a range vector or range-query result.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series labels.
    pub metric: Labels,
    /// Float points in increasing time order.
    pub floats: Vec<FPoint>,
    /// Histogram points in increasing time order.
    pub histograms: Vec<HPoint>,
    /// `__name__` must be removed before the result is returned.
    pub drop_name: bool,
}

/// A range vector / range-query result.
pub type Matrix = Vec<Series>;

/// The result of evaluating an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar at a time.
    Scalar {
        /// Timestamp in milliseconds.
        t: i64,
        /// The value.
        v: f64,
    },
    /// A string at a time.
    String {
        /// Timestamp in milliseconds.
        t: i64,
        /// The value.
        v: String,
    },
    /// An instant vector.
    Vector(Vector),
    /// A range vector (or a range query result).
    Matrix(Matrix),
}

impl Value {
    /// Prometheus's name of the value type (`scalar`, `string`, `vector`, `matrix`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// Severity of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnnotationKind {
    /// `PromQL warning: ...`
    Warning,
    /// `PromQL info: ...`
    Info,
}

/// A warning or info annotation returned with a result.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Annotation {
    /// Warning or info.
    pub kind: AnnotationKind,
    /// The message after the `PromQL warning: ` / `PromQL info: ` prefix.
    pub msg: String,
    /// Where the expression the annotation is about starts in the query.
    pub pos: crate::ast::Pos,
}

impl Annotation {
    /// The text without the position (what Prometheus's test scripts match).
    pub fn message(&self) -> String {
        match self.kind {
            AnnotationKind::Warning => format!("PromQL warning: {}", self.msg),
            AnnotationKind::Info => format!("PromQL info: {}", self.msg),
        }
    }
}

/// The text Prometheus's API returns: the message and ` (line:col)` of the
/// expression it is about.
impl fmt::Display for Annotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())?;
        if self.pos.is_known() {
            write!(f, " ({})", self.pos)?;
        }
        Ok(())
    }
}

/// Formats a float like Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
pub use aeon_model::gofmt::format_f as format_float;
