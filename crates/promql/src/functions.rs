//! PromQL functions: the signature table used by the parser and their evaluation.

pub(crate) mod range;
mod simple;

use crate::ast::{Expr, ValueType};
use crate::engine::Evaluator;
use crate::error::{Error, Result};
use crate::value::Value;

/// A function's signature.
#[derive(Debug, PartialEq)]
pub struct FunctionDef {
    /// Name as written in queries.
    pub name: &'static str,
    /// Argument types (the last one repeats for variadic functions).
    pub args: &'static [ValueType],
    /// 0: fixed arity; n > 0: up to n extra optional args; -1: unlimited.
    pub variadic: i32,
    /// Return type.
    pub ret: ValueType,
}

use ValueType::{Matrix as M, Scalar as S, String as Str, Vector as V};

macro_rules! f {
    ($name:literal, [$($a:expr),*], $var:expr, $ret:expr) => {
        FunctionDef { name: $name, args: &[$($a),*], variadic: $var, ret: $ret }
    };
}

/// All functions of Prometheus 3.5 (including experimental ones).
pub static FUNCTIONS: &[FunctionDef] = &[
    f!("abs", [V], 0, V),
    f!("absent", [V], 0, V),
    f!("absent_over_time", [M], 0, V),
    f!("acos", [V], 0, V),
    f!("acosh", [V], 0, V),
    f!("asin", [V], 0, V),
    f!("asinh", [V], 0, V),
    f!("atan", [V], 0, V),
    f!("atanh", [V], 0, V),
    f!("avg_over_time", [M], 0, V),
    f!("ceil", [V], 0, V),
    f!("changes", [M], 0, V),
    f!("clamp", [V, S, S], 0, V),
    f!("clamp_max", [V, S], 0, V),
    f!("clamp_min", [V, S], 0, V),
    f!("cos", [V], 0, V),
    f!("cosh", [V], 0, V),
    f!("count_over_time", [M], 0, V),
    f!("days_in_month", [V], 1, V),
    f!("day_of_month", [V], 1, V),
    f!("day_of_week", [V], 1, V),
    f!("day_of_year", [V], 1, V),
    f!("deg", [V], 0, V),
    f!("delta", [M], 0, V),
    f!("deriv", [M], 0, V),
    f!("double_exponential_smoothing", [M, S, S], 0, V),
    f!("exp", [V], 0, V),
    f!("floor", [V], 0, V),
    f!("histogram_avg", [V], 0, V),
    f!("histogram_count", [V], 0, V),
    f!("histogram_fraction", [S, S, V], 0, V),
    f!("histogram_quantile", [S, V], 0, V),
    f!("histogram_stddev", [V], 0, V),
    f!("histogram_stdvar", [V], 0, V),
    f!("histogram_sum", [V], 0, V),
    f!("hour", [V], 1, V),
    f!("idelta", [M], 0, V),
    f!("increase", [M], 0, V),
    f!("info", [V, V], 1, V),
    f!("irate", [M], 0, V),
    f!("label_join", [V, Str, Str, Str], -1, V),
    f!("label_replace", [V, Str, Str, Str, Str], 0, V),
    f!("last_over_time", [M], 0, V),
    f!("ln", [V], 0, V),
    f!("log10", [V], 0, V),
    f!("log2", [V], 0, V),
    f!("mad_over_time", [M], 0, V),
    f!("max_over_time", [M], 0, V),
    f!("min_over_time", [M], 0, V),
    f!("minute", [V], 1, V),
    f!("month", [V], 1, V),
    f!("pi", [], 0, S),
    f!("predict_linear", [M, S], 0, V),
    f!("present_over_time", [M], 0, V),
    f!("quantile_over_time", [S, M], 0, V),
    f!("rad", [V], 0, V),
    f!("rate", [M], 0, V),
    f!("resets", [M], 0, V),
    f!("round", [V, S], 1, V),
    f!("scalar", [V], 0, S),
    f!("sgn", [V], 0, V),
    f!("sin", [V], 0, V),
    f!("sinh", [V], 0, V),
    f!("sort", [V], 0, V),
    f!("sort_by_label", [V, Str], -1, V),
    f!("sort_by_label_desc", [V, Str], -1, V),
    f!("sort_desc", [V], 0, V),
    f!("sqrt", [V], 0, V),
    f!("stddev_over_time", [M], 0, V),
    f!("stdvar_over_time", [M], 0, V),
    f!("sum_over_time", [M], 0, V),
    f!("tan", [V], 0, V),
    f!("tanh", [V], 0, V),
    f!("time", [], 0, S),
    f!("timestamp", [V], 0, V),
    f!("ts_of_last_over_time", [M], 0, V),
    f!("ts_of_max_over_time", [M], 0, V),
    f!("ts_of_min_over_time", [M], 0, V),
    f!("vector", [S], 0, V),
    f!("year", [V], 1, V),
];

/// Looks a function up by name.
pub fn lookup(name: &str) -> Option<&'static FunctionDef> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Evaluates a function call at `ts`.
pub(crate) fn call(
    ev: &mut Evaluator<'_>,
    func: &'static FunctionDef,
    args: &[Expr],
    ts: i64,
) -> Result<Value> {
    if func.args.first() == Some(&ValueType::Matrix) || func.name == "quantile_over_time" {
        return range::call(ev, func, args, ts);
    }
    simple::call(ev, func, args, ts)
}

pub(crate) fn unsupported(name: &str) -> Error {
    Error::exec(format!("function {name:?} is not supported yet"))
}

/// Whether a counter's name has one of the suffixes Prometheus expects
/// (`_total`, `_sum`, `_count`, `_bucket`).
pub(crate) fn counter_like_name(name: &str) -> bool {
    ["_total", "_sum", "_count", "_bucket"]
        .iter()
        .any(|s| name.ends_with(s))
}

/// Prometheus's `PossibleNonCounterInfo` text.
pub(crate) fn possible_non_counter(name: &str) -> String {
    format!(
        "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"
    )
}

/// Functions whose result depends on the evaluation time even with step
/// invariant arguments (Prometheus's `AtModifierUnsafeFunctions`).
const AT_UNSAFE: [&str; 11] = [
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

/// Whether Prometheus's query preprocessing finds `e` step invariant (its
/// `preprocessExprHelper`: an aggregation's parameter does not count).
pub(crate) fn step_invariant(e: &Expr) -> bool {
    match e {
        Expr::Vector(vs) | Expr::Matrix { vs, .. } => vs.at.is_some(),
        Expr::Subquery { at, .. } => at.is_some(),
        Expr::Aggregate { expr, .. } => step_invariant(expr),
        Expr::Binary { lhs, rhs, .. } => step_invariant(lhs) & step_invariant(rhs),
        Expr::Call { func, args, .. } => {
            !AT_UNSAFE.contains(&func.name) & args.iter().all(step_invariant)
        }
        Expr::Paren(e, _) | Expr::Neg(e, _) | Expr::Plus(e, _) => step_invariant(e),
        Expr::Number(..) | Expr::String(..) => true,
    }
}

/// Where Prometheus's annotations place argument `i` of a call. Its engine
/// strips the parentheses of the arguments, except of one it wrapped as
/// step invariant (a step invariant argument of a call that is not), and
/// replaces a subquery in place of a range by a selector with no position
/// (the query's start).
pub(crate) fn arg_pos(func: &FunctionDef, args: &[Expr], i: usize) -> crate::ast::Pos {
    let a = &args[i];
    if matches!(a.unparen(), Expr::Subquery { .. }) && func.args.get(i) == Some(&ValueType::Matrix)
    {
        return crate::ast::Pos { line: 1, col: 1 };
    }
    let call_invariant = !AT_UNSAFE.contains(&func.name) && args.iter().all(step_invariant);
    if !call_invariant && step_invariant(a) {
        a.pos()
    } else {
        a.unparen().pos()
    }
}
