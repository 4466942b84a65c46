//! Recursive-descent / Pratt parser for PromQL with Prometheus's static type checks.

use aeon_model::{METRIC_NAME, MatchType, Matcher};

use crate::ast::{AggOp, AtModifier, BinOp, Card, Expr, ValueType, VectorMatching, VectorSelector};
use crate::error::Result;
use crate::functions::{self, FunctionDef};
use crate::lexer::{Tok, Token, err, go_quote, lex};

/// Parses a PromQL expression.
pub fn parse(input: &str) -> Result<Expr> {
    let toks = lex(input)?;
    let mut p = Parser {
        input,
        toks,
        i: 0,
        bypass_empty_at: None,
    };
    if matches!(p.peek(), Tok::Eof) {
        return Err(err(input, 0, "no expression found in input"));
    }
    let e = p.expr(0)?;
    if !matches!(p.peek(), Tok::Eof) {
        return Err(p.unexpected("", ""));
    }
    Ok(e)
}

/// A matcher as written: label (None for a bare quoted metric name), operator, value, position.
type RawMatcher = (Option<String>, MatchType, String, usize);

struct Parser<'a> {
    input: &'a str,
    toks: Vec<Token>,
    i: usize,
    /// Position of a selector allowed to have only empty matchers (the
    /// label-selector argument of `info`).
    bypass_empty_at: Option<usize>,
}

fn kw(t: &Tok) -> Option<String> {
    match t {
        Tok::Ident(s) => Some(s.to_ascii_lowercase()),
        _ => None,
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }
    fn pos(&self) -> usize {
        self.toks[self.i].pos
    }
    fn next(&mut self) -> Tok {
        let t = self.toks[self.i].tok.clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn error(&self, pos: usize, msg: impl Into<String>) -> crate::Error {
        err(self.input, pos, msg)
    }
    fn unexpected(&self, context: &str, expected: &str) -> crate::Error {
        let mut msg = format!("unexpected {}", self.peek().describe());
        if !context.is_empty() {
            msg.push_str(" in ");
            msg.push_str(context);
        }
        if !expected.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(expected);
        }
        self.error(self.pos(), msg)
    }
    fn expect(&mut self, t: Tok, context: &str, expected: &str) -> Result<()> {
        if *self.peek() == t {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected(context, expected))
        }
    }

    fn peek_binop(&self) -> Option<BinOp> {
        Some(match self.peek() {
            Tok::Add => BinOp::Add,
            Tok::Sub => BinOp::Sub,
            Tok::Mul => BinOp::Mul,
            Tok::Div => BinOp::Div,
            Tok::Mod => BinOp::Mod,
            Tok::Pow => BinOp::Pow,
            Tok::Eql => BinOp::Eql,
            Tok::Neq => BinOp::Neq,
            Tok::Gtr => BinOp::Gtr,
            Tok::Lss => BinOp::Lss,
            Tok::Gte => BinOp::Gte,
            Tok::Lte => BinOp::Lte,
            Tok::Ident(s) => match s.to_ascii_lowercase().as_str() {
                "and" => BinOp::And,
                "or" => BinOp::Or,
                "unless" => BinOp::Unless,
                "atan2" => BinOp::Atan2,
                _ => return None,
            },
            _ => return None,
        })
    }

    fn expr(&mut self, min_prec: u8) -> Result<Expr> {
        let mut lhs = self.unary()?;
        while let Some(op) = self.peek_binop() {
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            let op_pos = self.pos();
            self.next();
            let (return_bool, matching) = self.bin_modifiers(op)?;
            let next_min = if op == BinOp::Pow { prec } else { prec + 1 };
            let rhs = self.expr(next_min)?;
            lhs = self.build_binary(op, op_pos, lhs, rhs, return_bool, matching)?;
        }
        Ok(lhs)
    }

    fn bin_modifiers(&mut self, op: BinOp) -> Result<(bool, Option<VectorMatching>)> {
        let mut return_bool = false;
        if kw(self.peek()).as_deref() == Some("bool") {
            self.next();
            return_bool = true;
        }
        let mut matching: Option<VectorMatching> = None;
        if let Some(k @ ("on" | "ignoring")) = kw(self.peek()).as_deref() {
            let on = k == "on";
            self.next();
            let labels = self.label_list()?;
            matching = Some(VectorMatching {
                card: Card::OneToOne,
                labels,
                on,
                include: vec![],
            });
        }
        if let Some(k @ ("group_left" | "group_right")) = kw(self.peek()).as_deref() {
            let pos = self.pos();
            if matching.is_none() {
                return Err(self.error(pos, format!("unexpected <{k}>")));
            }
            let card = if k == "group_left" {
                Card::ManyToOne
            } else {
                Card::OneToMany
            };
            self.next();
            let include = if *self.peek() == Tok::LParen {
                self.label_list()?
            } else {
                vec![]
            };
            if let Some(m) = matching.as_mut() {
                for l in &include {
                    if m.on && m.labels.contains(l) {
                        return Err(self.error(
                            pos,
                            format!(
                                "label {} must not occur in ON and GROUP clause at once",
                                go_quote(l)
                            ),
                        ));
                    }
                }
                m.card = card;
                m.include = include;
            }
        }
        let _ = op;
        Ok((return_bool, matching))
    }

    fn build_binary(
        &self,
        op: BinOp,
        pos: usize,
        lhs: Expr,
        rhs: Expr,
        return_bool: bool,
        mut matching: Option<VectorMatching>,
    ) -> Result<Expr> {
        let (lt, rt) = (lhs.value_type(), rhs.value_type());
        if return_bool && !op.is_comparison() {
            return Err(self.error(
                pos,
                "bool modifier can only be used on comparison operators",
            ));
        }
        if op.is_comparison() && !return_bool && lt == ValueType::Scalar && rt == ValueType::Scalar
        {
            return Err(self.error(pos, "comparisons between scalars must use BOOL modifier"));
        }
        let ok = |t| t == ValueType::Scalar || t == ValueType::Vector;
        if !ok(lt) || !ok(rt) {
            return Err(self.error(
                pos,
                "binary expression must contain only scalar and instant vector types",
            ));
        }
        if lt != ValueType::Vector || rt != ValueType::Vector {
            if let Some(m) = &matching {
                if !m.labels.is_empty() || m.on || m.card != Card::OneToOne {
                    return Err(
                        self.error(pos, "vector matching only allowed between instant vectors")
                    );
                }
            }
            matching = None;
            if op.is_set() {
                return Err(self.error(
                    pos,
                    format!(
                        "set operator {} not allowed in binary scalar expression",
                        go_quote(op.as_str())
                    ),
                ));
            }
        } else {
            let m = matching.get_or_insert(VectorMatching {
                card: Card::OneToOne,
                labels: vec![],
                on: false,
                include: vec![],
            });
            if op.is_set() {
                if matches!(m.card, Card::ManyToOne | Card::OneToMany) {
                    return Err(self.error(
                        pos,
                        format!(
                            "no grouping allowed for {} operation",
                            go_quote(op.as_str())
                        ),
                    ));
                }
                m.card = Card::ManyToMany;
            }
        }
        Ok(Expr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            return_bool,
            matching,
        })
    }

    fn unary(&mut self) -> Result<Expr> {
        match self.peek() {
            Tok::Sub | Tok::Add => {
                let neg = *self.peek() == Tok::Sub;
                let pos = self.pos();
                self.next();
                let e = self.expr(BinOp::Pow.precedence())?;
                let t = e.value_type();
                if t != ValueType::Scalar && t != ValueType::Vector {
                    return Err(self.error(
                        pos,
                        format!("unary expression only allowed on expressions of type scalar or instant vector, got {:?}", t.name()),
                    ));
                }
                if !neg {
                    return Ok(e);
                }
                Ok(match e {
                    Expr::Number(n) => Expr::Number(-n),
                    e => Expr::Neg(Box::new(e)),
                })
            }
            _ => {
                let e = self.primary()?;
                self.postfix(e)
            }
        }
    }

    fn primary(&mut self) -> Result<Expr> {
        let pos = self.pos();
        match self.next() {
            Tok::Number(n) => Ok(Expr::Number(n)),
            Tok::Duration(ms) => Ok(Expr::Number(ms as f64 / 1000.0)),
            Tok::Str(s) => Ok(Expr::String(s)),
            Tok::LParen => {
                let e = self.expr(0)?;
                self.expect(Tok::RParen, "paren expression", "\")\"")?;
                Ok(Expr::Paren(Box::new(e)))
            }
            Tok::LBrace => {
                let matchers = self.matchers()?;
                self.selector(None, matchers, pos)
            }
            Tok::Ident(name) => {
                let lower = name.to_ascii_lowercase();
                if let Some(op) = AggOp::from_name(&lower) {
                    if matches!(self.peek(), Tok::LParen)
                        || matches!(kw(self.peek()).as_deref(), Some("by" | "without"))
                    {
                        return self.aggregate(op, pos);
                    }
                }
                if *self.peek() == Tok::LParen {
                    return self.call(&name, pos);
                }
                if matches!(
                    lower.as_str(),
                    "and"
                        | "or"
                        | "unless"
                        | "atan2"
                        | "bool"
                        | "by"
                        | "without"
                        | "on"
                        | "ignoring"
                        | "group_left"
                        | "group_right"
                        | "offset"
                ) {
                    return Err(self.error(pos, format!("unexpected <{lower}>")));
                }
                let matchers = if *self.peek() == Tok::LBrace {
                    self.next();
                    self.matchers()?
                } else {
                    vec![]
                };
                self.selector(Some(name), matchers, pos)
            }
            Tok::Eof => Err(self.error(pos, "unexpected end of input")),
            t => Err(self.error(pos, format!("unexpected {}", t.describe()))),
        }
    }

    /// Parses matchers after `{` up to and including `}`.
    fn matchers(&mut self) -> Result<Vec<RawMatcher>> {
        let mut out = Vec::new();
        loop {
            let pos = self.pos();
            let name = match self.next() {
                Tok::RBrace => break,
                Tok::Ident(s) => s,
                Tok::Str(s) => {
                    if matches!(self.peek(), Tok::Comma | Tok::RBrace) {
                        out.push((None, MatchType::Equal, s, pos));
                        if *self.peek() == Tok::Comma {
                            self.next();
                        }
                        continue;
                    }
                    s
                }
                Tok::Number(_) if matches!(&self.toks[self.i - 1].tok, Tok::Number(n) if n.is_nan() || n.is_infinite()) => {
                    self.input[pos..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .collect()
                }
                t => {
                    return Err(self.error(
                        pos,
                        format!(
                            "unexpected {} in label matching, expected label",
                            t.describe()
                        ),
                    ));
                }
            };
            let opos = self.pos();
            let op = match self.next() {
                Tok::Assign => MatchType::Equal,
                Tok::Neq => MatchType::NotEqual,
                Tok::EqlRegex => MatchType::RegexMatch,
                Tok::NeqRegex => MatchType::RegexNoMatch,
                t => {
                    return Err(self.error(
                        opos,
                        format!(
                            "unexpected {} in label matching, expected label matching operator",
                            t.describe()
                        ),
                    ));
                }
            };
            let vpos = self.pos();
            let value = match self.next() {
                Tok::Str(s) => s,
                t => {
                    return Err(self.error(
                        vpos,
                        format!(
                            "unexpected {} in label matching, expected string",
                            t.describe()
                        ),
                    ));
                }
            };
            out.push((Some(name), op, value, pos));
            match self.next() {
                Tok::Comma => continue,
                Tok::RBrace => break,
                t => {
                    return Err(self.error(
                        self.toks[self.i - 1].pos,
                        format!(
                            "unexpected {} in label matching, expected \",\" or \"}}\"",
                            t.describe()
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }

    fn selector(&self, name: Option<String>, raw: Vec<RawMatcher>, pos: usize) -> Result<Expr> {
        let mut matchers = Vec::with_capacity(raw.len() + 1);
        let mut metric = name.clone();
        if let Some(n) = &name {
            matchers.push(Matcher::equal(METRIC_NAME, n.clone()));
        }
        for (lname, op, value, mpos) in raw {
            let lname = match lname {
                None => {
                    if let Some(n) = &metric {
                        return Err(self.error(
                            mpos,
                            format!(
                                "metric name must not be set twice: {} or {}",
                                go_quote(n),
                                go_quote(&value)
                            ),
                        ));
                    }
                    metric = Some(value.clone());
                    METRIC_NAME.to_string()
                }
                Some(l) => {
                    if l == METRIC_NAME && op == MatchType::Equal {
                        if let Some(n) = &name {
                            return Err(self.error(
                                mpos,
                                format!(
                                    "metric name must not be set twice: {} or {}",
                                    go_quote(n),
                                    go_quote(&value)
                                ),
                            ));
                        }
                        metric = Some(value.clone());
                    }
                    l
                }
            };
            let m = new_matcher(op, lname, value).map_err(|e| self.error(mpos, e))?;
            matchers.push(m);
        }
        if self.bypass_empty_at != Some(pos) && !matchers.iter().any(|m| !m.matches_empty()) {
            return Err(self.error(
                pos,
                "vector selector must contain at least one non-empty matcher",
            ));
        }
        Ok(Expr::Vector(VectorSelector {
            name: metric,
            matchers,
            offset: 0,
            at: None,
        }))
    }

    fn label_list(&mut self) -> Result<Vec<String>> {
        self.expect(Tok::LParen, "grouping opts", "\"(\"")?;
        let mut out = Vec::new();
        loop {
            let pos = self.pos();
            match self.next() {
                Tok::RParen => break,
                Tok::Ident(s) => out.push(s),
                Tok::Str(s) => out.push(s),
                Tok::Number(n) if n.is_nan() || n.is_infinite() => out.push(
                    self.input[pos..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .collect(),
                ),
                t => {
                    return Err(self.error(
                        pos,
                        format!(
                            "unexpected {} in grouping opts, expected label",
                            t.describe()
                        ),
                    ));
                }
            }
            match self.next() {
                Tok::Comma => continue,
                Tok::RParen => break,
                t => {
                    return Err(self.error(
                        self.toks[self.i - 1].pos,
                        format!(
                            "unexpected {} in grouping opts, expected \",\" or \")\"",
                            t.describe()
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }

    fn aggregate(&mut self, op: AggOp, pos: usize) -> Result<Expr> {
        let mut grouping = None;
        if let Some(k @ ("by" | "without")) = kw(self.peek()).as_deref() {
            let without = k == "without";
            self.next();
            grouping = Some((self.label_list()?, without));
        }
        self.expect(Tok::LParen, "aggregation", "\"(\"")?;
        let mut args = Vec::new();
        if *self.peek() != Tok::RParen {
            loop {
                args.push(self.expr(0)?);
                if *self.peek() == Tok::Comma {
                    self.next();
                    if *self.peek() == Tok::RParen {
                        break;
                    }
                    continue;
                }
                break;
            }
        }
        self.expect(Tok::RParen, "aggregation", "\")\"")?;
        if let Some(k @ ("by" | "without")) = kw(self.peek()).as_deref() {
            if grouping.is_some() {
                return Err(self.unexpected("aggregation", ""));
            }
            let without = k == "without";
            self.next();
            grouping = Some((self.label_list()?, without));
        }
        let want = if op.has_param() { 2 } else { 1 };
        if args.len() != want {
            return Err(self.error(
                pos,
                format!("wrong number of arguments for aggregate expression provided, expected {want}, got {}", args.len()),
            ));
        }
        let expr = args.pop().unwrap_or(Expr::Number(0.0));
        let param = args.pop();
        if expr.value_type() != ValueType::Vector {
            return Err(self.error(
                pos,
                format!(
                    "expected type instant vector in aggregation expression, got {}",
                    expr.value_type().name()
                ),
            ));
        }
        if let Some(p) = &param {
            let want = if op == AggOp::CountValues {
                ValueType::String
            } else {
                ValueType::Scalar
            };
            if p.value_type() != want {
                return Err(self.error(
                    pos,
                    format!(
                        "expected type {} in aggregation parameter, got {}",
                        want.name(),
                        p.value_type().name()
                    ),
                ));
            }
        }
        let (grouping, without) = grouping.unwrap_or_default();
        Ok(Expr::Aggregate {
            op,
            expr: Box::new(expr),
            param: param.map(Box::new),
            grouping,
            without,
        })
    }

    fn call(&mut self, name: &str, pos: usize) -> Result<Expr> {
        let func: &'static FunctionDef = functions::lookup(name).ok_or_else(|| {
            self.error(
                pos,
                format!("unknown function with name {}", go_quote(name)),
            )
        })?;
        self.expect(Tok::LParen, "function call", "\"(\"")?;
        let mut args = Vec::new();
        if *self.peek() != Tok::RParen {
            loop {
                if func.name == "info" && args.len() == 1 {
                    self.bypass_empty_at = Some(self.pos());
                }
                let arg_pos = self.pos();
                let braces_only = *self.peek() == Tok::LBrace;
                let arg = self.expr(0)?;
                if func.name == "info" && args.len() == 1 {
                    self.bypass_empty_at = None;
                    if arg.value_type() == crate::ValueType::Vector {
                        match &arg {
                            Expr::Vector(_) if !braces_only => {
                                return Err(self.error(
                                    arg_pos,
                                    "expected label selectors only, got vector selector instead",
                                ));
                            }
                            Expr::Vector(_) => {}
                            _ => return Err(self.error(arg_pos, "expected label selectors only")),
                        }
                    }
                }
                args.push(arg);
                if *self.peek() == Tok::Comma {
                    self.next();
                    continue;
                }
                break;
            }
        }
        self.expect(Tok::RParen, "function call", "\")\"")?;
        let nargs = func.args.len();
        let got = args.len();
        if func.variadic == 0 {
            if nargs != got {
                return Err(self.error(
                    pos,
                    format!(
                        "expected {nargs} argument(s) in call to {}, got {got}",
                        go_quote(name)
                    ),
                ));
            }
        } else {
            let min = nargs - 1;
            if min > got {
                return Err(self.error(
                    pos,
                    format!(
                        "expected at least {min} argument(s) in call to {}, got {got}",
                        go_quote(name)
                    ),
                ));
            }
            let max = min as i32 + func.variadic;
            if func.variadic > 0 && (max as usize) < got {
                return Err(self.error(
                    pos,
                    format!(
                        "expected at most {max} argument(s) in call to {}, got {got}",
                        go_quote(name)
                    ),
                ));
            }
        }
        for (i, a) in args.iter().enumerate() {
            let want = func.args[i.min(nargs - 1)];
            if a.value_type() != want {
                return Err(self.error(
                    pos,
                    format!(
                        "expected type {} in call to function {}, got {}",
                        want.name(),
                        go_quote(name),
                        a.value_type().name()
                    ),
                ));
            }
        }
        Ok(Expr::Call { func, args })
    }

    fn postfix(&mut self, mut e: Expr) -> Result<Expr> {
        loop {
            let pos = self.pos();
            match self.peek() {
                Tok::LBracket => {
                    self.next();
                    e = self.range_or_subquery(e, pos)?;
                }
                Tok::At => {
                    self.next();
                    let at = self.at_value()?;
                    e = self.set_at(e, at, pos)?;
                }
                Tok::Ident(s) if s.eq_ignore_ascii_case("offset") => {
                    self.next();
                    let off = self.offset_value()?;
                    e = self.set_offset(e, off, pos)?;
                }
                _ => return Ok(e),
            }
        }
    }

    fn duration_expr(&mut self, e: &Expr, pos: usize) -> Result<f64> {
        const_eval(e)
            .ok_or_else(|| self.error(pos, "duration must be a number or a duration expression"))
    }

    fn range_or_subquery(&mut self, e: Expr, pos: usize) -> Result<Expr> {
        let rpos = self.pos();
        let range_e = self.expr(0)?;
        let range_s = self.duration_expr(&range_e, rpos)?;
        let range = (range_s * 1000.0).round() as i64;
        if *self.peek() == Tok::Colon {
            self.next();
            let step = if *self.peek() == Tok::RBracket {
                0
            } else {
                let spos = self.pos();
                let se = self.expr(0)?;
                let s = self.duration_expr(&se, spos)?;
                let step = (s * 1000.0).round() as i64;
                if step <= 0 {
                    return Err(self.error(spos, format!("step value must be positive, got {s}")));
                }
                step
            };
            self.expect(Tok::RBracket, "subquery selector", "\"]\"")?;
            if range <= 0 {
                return Err(
                    self.error(rpos, format!("range value must be positive, got {range_s}"))
                );
            }
            if e.value_type() != ValueType::Vector {
                return Err(self.error(
                    pos,
                    format!(
                        "subquery is only allowed on instant vector, got {} instead",
                        e.value_type().name()
                    ),
                ));
            }
            return Ok(Expr::Subquery {
                expr: Box::new(e),
                range,
                step,
                offset: 0,
                at: None,
            });
        }
        self.expect(Tok::RBracket, "matrix selector", "\"]\"")?;
        if range <= 0 {
            return Err(self.error(rpos, format!("range value must be positive, got {range_s}")));
        }
        match e {
            Expr::Vector(vs) => {
                if vs.offset != 0 || vs.at.is_some() {
                    return Err(self.error(pos, "no offset or @ modifiers allowed before range"));
                }
                Ok(Expr::Matrix { vs, range })
            }
            _ => Err(self.error(pos, "ranges only allowed for vector selectors")),
        }
    }

    fn offset_value(&mut self) -> Result<i64> {
        let pos = self.pos();
        let mut sign = 1.0;
        match self.peek() {
            Tok::Sub => {
                sign = -1.0;
                self.next();
            }
            Tok::Add => {
                self.next();
            }
            _ => {}
        }
        let vpos = self.pos();
        let v = match self.next() {
            Tok::Number(n) => n,
            Tok::Duration(ms) => ms as f64 / 1000.0,
            Tok::LParen => {
                let e = self.expr(0)?;
                self.expect(Tok::RParen, "offset", "\")\"")?;
                self.duration_expr(&e, vpos)?
            }
            t => {
                return Err(self.error(
                    pos,
                    format!("unexpected {} in offset, expected duration", t.describe()),
                ));
            }
        };
        Ok((sign * v * 1000.0).round() as i64)
    }

    fn at_value(&mut self) -> Result<AtModifier> {
        let pos = self.pos();
        if let Some(k @ ("start" | "end")) = kw(self.peek()).as_deref() {
            let start = k == "start";
            self.next();
            self.expect(Tok::LParen, "@", "\"(\"")?;
            self.expect(Tok::RParen, "@", "\")\"")?;
            return Ok(if start {
                AtModifier::Start
            } else {
                AtModifier::End
            });
        }
        let mut sign = 1.0;
        match self.peek() {
            Tok::Sub => {
                sign = -1.0;
                self.next();
            }
            Tok::Add => {
                self.next();
            }
            _ => {}
        }
        let v = match self.next() {
            Tok::Number(n) => n,
            Tok::Duration(ms) => ms as f64 / 1000.0,
            Tok::LParen => {
                let e = self.expr(0)?;
                self.expect(Tok::RParen, "@", "\")\"")?;
                self.duration_expr(&e, pos)?
            }
            t => {
                return Err(self.error(
                    pos,
                    format!("unexpected {} in @, expected timestamp", t.describe()),
                ));
            }
        };
        let v = sign * v;
        if !v.is_finite() || v.abs() > 9.2e15 {
            return Err(self.error(pos, format!("timestamp out of bounds for @ modifier: {v}")));
        }
        Ok(AtModifier::At((v * 1000.0).round() as i64))
    }

    fn set_offset(&self, e: Expr, off: i64, pos: usize) -> Result<Expr> {
        let dup = || self.error(pos, "offset may not be set multiple times");
        Ok(match e {
            Expr::Vector(mut vs) => {
                if vs.offset != 0 {
                    return Err(dup());
                }
                vs.offset = off;
                Expr::Vector(vs)
            }
            Expr::Matrix { mut vs, range } => {
                if vs.offset != 0 {
                    return Err(dup());
                }
                vs.offset = off;
                Expr::Matrix { vs, range }
            }
            Expr::Subquery {
                expr,
                range,
                step,
                offset,
                at,
            } => {
                if offset != 0 {
                    return Err(dup());
                }
                Expr::Subquery {
                    expr,
                    range,
                    step,
                    offset: off,
                    at,
                }
            }
            _ => {
                return Err(self.error(
                    pos,
                    "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ));
            }
        })
    }

    fn set_at(&self, e: Expr, at: AtModifier, pos: usize) -> Result<Expr> {
        let dup = || self.error(pos, "@ <timestamp> may not be set multiple times");
        Ok(match e {
            Expr::Vector(mut vs) => {
                if vs.at.is_some() {
                    return Err(dup());
                }
                vs.at = Some(at);
                Expr::Vector(vs)
            }
            Expr::Matrix { mut vs, range } => {
                if vs.at.is_some() {
                    return Err(dup());
                }
                vs.at = Some(at);
                Expr::Matrix { vs, range }
            }
            Expr::Subquery {
                expr,
                range,
                step,
                offset,
                at: old,
            } => {
                if old.is_some() {
                    return Err(dup());
                }
                Expr::Subquery {
                    expr,
                    range,
                    step,
                    offset,
                    at: Some(at),
                }
            }
            _ => {
                return Err(self.error(
                    pos,
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ));
            }
        })
    }
}

type MatcherKey = (MatchType, String, String);

/// Compiled regex matchers, shared across parses: compiling a regex costs far
/// more than parsing a whole query. Bounded; cleared when full.
static REGEX_CACHE: std::sync::OnceLock<
    std::sync::Mutex<std::collections::HashMap<MatcherKey, Matcher>>,
> = std::sync::OnceLock::new();
const REGEX_CACHE_MAX: usize = 4096;

fn new_matcher(op: MatchType, name: String, value: String) -> std::result::Result<Matcher, String> {
    if !matches!(op, MatchType::RegexMatch | MatchType::RegexNoMatch) {
        return Matcher::new(op, name, value).map_err(|e| e.to_string());
    }
    let cache = REGEX_CACHE.get_or_init(Default::default);
    let key = (op, name, value);
    if let Ok(c) = cache.lock() {
        if let Some(m) = c.get(&key) {
            return Ok(m.clone());
        }
    }
    let m = Matcher::new(op, key.1.clone(), key.2.clone()).map_err(|e| e.to_string())?;
    if let Ok(mut c) = cache.lock() {
        if c.len() >= REGEX_CACHE_MAX {
            c.clear();
        }
        c.insert(key, m.clone());
    }
    Ok(m)
}

/// Evaluates a constant (duration) expression to seconds.
fn const_eval(e: &Expr) -> Option<f64> {
    Some(match e {
        Expr::Number(n) => *n,
        Expr::Paren(e) => const_eval(e)?,
        Expr::Neg(e) => -const_eval(e)?,
        Expr::Binary { op, lhs, rhs, .. } => {
            let (a, b) = (const_eval(lhs)?, const_eval(rhs)?);
            match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a / b,
                BinOp::Mod => a % b,
                BinOp::Pow => a.powf(b),
                _ => return None,
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(q: &str) -> Expr {
        parse(q).unwrap_or_else(|e| panic!("{q}: {e}"))
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
        ] {
            ok(q);
        }
    }

    #[test]
    fn precedence() {
        match ok("-2 ^ 2") {
            Expr::Neg(_) => {}
            e => panic!("{e:?}"),
        }
        match ok("1 + 2 * 3") {
            Expr::Binary { op: BinOp::Add, .. } => {}
            e => panic!("{e:?}"),
        }
        match ok("2 ^ 3 ^ 2") {
            Expr::Binary {
                op: BinOp::Pow,
                rhs,
                ..
            } => assert!(matches!(*rhs, Expr::Binary { op: BinOp::Pow, .. })),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn info_label_selector_argument() {
        assert!(parse("info(m, {})").is_ok());
        assert!(parse(r#"info(m, {__name__="build_info"})"#).is_ok());
        for q in ["info(m, ({}))", "info({})", "m + {}"] {
            let e = parse(q).unwrap_err().to_string();
            assert!(
                e.contains("vector selector must contain at least one non-empty matcher"),
                "{q}: {e}"
            );
        }
        let e = parse("info(m, 1)").unwrap_err().to_string();
        assert!(e.contains("expected type instant vector"), "{e}");
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("sum(foo").unwrap_err().to_string();
        assert!(e.starts_with("1:8: parse error"), "{e}");
        let e = parse("1 > 2").unwrap_err().to_string();
        assert!(
            e.contains("comparisons between scalars must use BOOL modifier"),
            "{e}"
        );
        let e = parse("rate(foo)").unwrap_err().to_string();
        assert!(
            e.contains(
                "expected type range vector in call to function \"rate\", got instant vector"
            ),
            "{e}"
        );
        let e = parse("nosuch(foo)").unwrap_err().to_string();
        assert!(e.contains("unknown function with name \"nosuch\""), "{e}");
        assert!(parse("{}").is_err());
    }
}
