//! The checked parse tree becomes an [`Expr`]: positions as line and column,
//! durations in milliseconds, duration expressions evaluated as Prometheus's
//! engine does before it runs a query (with its errors).

use super::check::is_set;
use super::node::{At, Node, Range, Vs};
use crate::ast::{AggOp, AtModifier, BinOp, Card, Expr, Pos, VectorMatching, VectorSelector};
use crate::lexer::{Tok, line_col};

struct Lower<'a> {
    input: &'a str,
}

/// Go's `durationMilliseconds` of nanoseconds (truncating).
fn ms(ns: i64) -> i64 {
    ns / 1_000_000
}

impl Lower<'_> {
    fn pos(&self, offset: usize) -> Pos {
        let (line, col) = line_col(self.input, offset);
        Pos { line, col }
    }

    fn at(a: At) -> Option<AtModifier> {
        match a {
            At::None => None,
            At::Ts(t) => Some(AtModifier::At(t)),
            At::Start => Some(AtModifier::Start),
            At::End => Some(AtModifier::End),
        }
    }

    /// Evaluates a duration expression to milliseconds (`calculateDuration`).
    fn duration(&self, e: &Node, allow_negative: bool) -> Result<i64, String> {
        let d = eval_duration(e)?;
        let r = e.range();
        if d <= 0.0 && !allow_negative {
            return Err(format!(
                "{}:{}: duration must be greater than 0",
                r.start, r.end
            ));
        }
        if d > i64::MAX as f64 || d < i64::MIN as f64 {
            return Err(format!("{}:{}: duration is out of range", r.start, r.end));
        }
        // time.Duration(d*1000) * time.Millisecond, in milliseconds.
        Ok((d * 1000.0) as i64)
    }

    fn selector(&self, vs: Vs) -> Result<VectorSelector, String> {
        let offset = match &vs.offset_expr {
            Some(e) => self.duration(e, true)?,
            None => ms(vs.offset),
        };
        Ok(VectorSelector {
            name: (!vs.name.is_empty()).then_some(vs.name),
            matchers: vs.matchers.into_iter().flatten().collect(),
            offset,
            at: Self::at(vs.at),
            pos: self.pos(vs.range.start),
        })
    }

    fn expr(&self, n: Node) -> Result<Expr, String> {
        Ok(match n {
            Node::Number { val, range } => Expr::Number(val, self.pos(range.start)),
            Node::String { val, range } => Expr::String(val, self.pos(range.start)),
            Node::Vector(vs) => Expr::Vector(self.selector(*vs)?),
            Node::Matrix {
                vs,
                range,
                range_expr,
                ..
            } => {
                let range = match &range_expr {
                    Some(e) => self.duration(e, false)?,
                    None => ms(range),
                };
                match *vs {
                    Node::Vector(vs) => Expr::Matrix {
                        vs: self.selector(*vs)?,
                        range,
                    },
                    other => self.expr(other)?,
                }
            }
            Node::Subquery {
                expr,
                range,
                range_expr,
                step,
                step_expr,
                offset,
                offset_expr,
                at,
                ..
            } => {
                let offset = match &offset_expr {
                    Some(e) => self.duration(e, true)?,
                    None => ms(offset),
                };
                let step = match &step_expr {
                    Some(e) => self.duration(e, false)?,
                    None => ms(step),
                };
                let range = match &range_expr {
                    Some(e) => self.duration(e, false)?,
                    None => ms(range),
                };
                Expr::Subquery {
                    expr: Box::new(self.expr(*expr)?),
                    range,
                    step,
                    offset,
                    at: Self::at(at),
                }
            }
            Node::Paren { expr, range } => {
                Expr::Paren(Box::new(self.expr(*expr)?), self.pos(range.start))
            }
            Node::Unary { sub, expr, start } => {
                let e = Box::new(self.expr(*expr)?);
                if sub {
                    Expr::Neg(e, self.pos(start))
                } else {
                    Expr::Plus(e, self.pos(start))
                }
            }
            Node::Binary {
                op,
                lhs,
                rhs,
                modifiers,
                matching,
            } => {
                let op = bin_op(op);
                let matching = matching.then(|| VectorMatching {
                    card: if is_set_op(op) && modifiers.card == Card::OneToOne {
                        Card::ManyToMany
                    } else {
                        modifiers.card
                    },
                    labels: modifiers.labels,
                    on: modifiers.on,
                    include: modifiers.include,
                });
                Expr::Binary {
                    op,
                    lhs: Box::new(self.expr(*lhs)?),
                    rhs: Box::new(self.expr(*rhs)?),
                    return_bool: modifiers.return_bool,
                    matching,
                }
            }
            Node::Aggregate {
                op,
                expr,
                param,
                grouping,
                without,
                range,
            } => {
                let op = op.and_then(agg_op).unwrap_or(AggOp::Sum);
                let expr = match expr {
                    Some(e) => self.expr(*e)?,
                    None => Expr::Number(0.0, Pos::default()),
                };
                let param = match param {
                    Some(p) => Some(Box::new(self.expr(*p)?)),
                    None => None,
                };
                Expr::Aggregate {
                    op,
                    expr: Box::new(expr),
                    param,
                    grouping,
                    without,
                    pos: self.pos(range.start),
                }
            }
            Node::Call { func, args, range } => {
                let Some(func) = func else {
                    return Err("unknown function".into());
                };
                Expr::Call {
                    func,
                    args: args
                        .into_iter()
                        .map(|a| self.expr(a))
                        .collect::<Result<_, _>>()?,
                    pos: self.pos(range.start),
                }
            }
            Node::Duration { .. } => {
                let r: Range = n.range();
                Expr::Number(eval_duration(&n)?, self.pos(r.start))
            }
        })
    }
}

fn is_set_op(op: BinOp) -> bool {
    op.is_set()
}

/// Evaluates a duration expression in seconds (`evaluateDurationExpr`).
fn eval_duration(e: &Node) -> Result<f64, String> {
    match e {
        Node::Number { val, .. } => Ok(*val),
        Node::Duration { op, lhs, rhs, .. } => {
            let l = match lhs {
                Some(l) => eval_duration(l)?,
                None => 0.0,
            };
            let r = eval_duration(rhs)?;
            let range = e.range();
            Ok(match op {
                Tok::ADD => l + r,
                Tok::SUB if lhs.is_none() => -r,
                Tok::SUB => l - r,
                Tok::MUL => l * r,
                Tok::DIV if r == 0.0 => {
                    return Err(format!("{}:{}: division by zero", range.start, range.end));
                }
                Tok::DIV => l / r,
                Tok::MOD if r == 0.0 => {
                    return Err(format!("{}:{}: modulo by zero", range.start, range.end));
                }
                Tok::MOD => l % r,
                _ => l.powf(r),
            })
        }
        _ => Ok(0.0),
    }
}

fn bin_op(t: Tok) -> BinOp {
    match t {
        Tok::ADD => BinOp::Add,
        Tok::SUB => BinOp::Sub,
        Tok::MUL => BinOp::Mul,
        Tok::DIV => BinOp::Div,
        Tok::MOD => BinOp::Mod,
        Tok::POW => BinOp::Pow,
        Tok::ATAN2 => BinOp::Atan2,
        Tok::EQLC => BinOp::Eql,
        Tok::NEQ => BinOp::Neq,
        Tok::GTR => BinOp::Gtr,
        Tok::LSS => BinOp::Lss,
        Tok::GTE => BinOp::Gte,
        Tok::LTE => BinOp::Lte,
        Tok::LAND => BinOp::And,
        Tok::LOR => BinOp::Or,
        _ => BinOp::Unless,
    }
}

fn agg_op(t: Tok) -> Option<AggOp> {
    Some(match t {
        Tok::SUM => AggOp::Sum,
        Tok::AVG => AggOp::Avg,
        Tok::COUNT => AggOp::Count,
        Tok::MIN => AggOp::Min,
        Tok::MAX => AggOp::Max,
        Tok::GROUP => AggOp::Group,
        Tok::STDDEV => AggOp::Stddev,
        Tok::STDVAR => AggOp::Stdvar,
        Tok::TOPK => AggOp::Topk,
        Tok::BOTTOMK => AggOp::Bottomk,
        Tok::COUNT_VALUES => AggOp::CountValues,
        Tok::QUANTILE => AggOp::Quantile,
        Tok::LIMITK => AggOp::Limitk,
        Tok::LIMIT_RATIO => AggOp::LimitRatio,
        _ => return None,
    })
}

/// The expression of a checked tree, or the error Prometheus's engine
/// reports for a duration expression.
pub(super) fn lower(input: &str, n: Node) -> Result<Expr, String> {
    let _ = is_set;
    Lower { input }.expr(n)
}
