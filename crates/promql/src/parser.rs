//! The PromQL parser: Prometheus 3.5's grammar run by an LALR(1) automaton
//! built like goyacc's, over a port of Prometheus's lexer, with the
//! grammar's actions and the static checks (`checkAST`) of Prometheus. A
//! query that Prometheus rejects is rejected here with the same message at
//! the same position, down to which error rule catches a syntax error.

use std::collections::VecDeque;

use crate::ast::Expr;
use crate::error::{Error, Result};
use crate::lexer::{Item, Lexer, Tok, position};

mod actions;
mod check;
mod goregex;
mod grammar;
mod lalr;
mod lower;
mod node;
mod number;

use lalr::{Act, term};
use node::Node;

/// Parses a PromQL expression.
pub fn parse(input: &str) -> Result<Expr> {
    let mut p = Parser::new(input);
    let tree = p.run();
    if p.panicked {
        // Prometheus's parser panicked in an action and recovers with this.
        return Err(Error::Parse {
            pos: String::new(),
            msg: "unexpected error".into(),
        });
    }
    if let Some((pos, msg)) = p.errors.first() {
        return Err(Error::Parse {
            pos: position(input, *pos),
            msg: msg.clone(),
        });
    }
    let Some(mut tree) = tree else {
        return Err(Error::Parse {
            pos: position(input, 0),
            msg: "no expression found in input".into(),
        });
    };
    check::check(&mut p, &mut tree);
    if p.panicked {
        // Prometheus's parser panics on these trees and recovers with this.
        return Err(Error::Parse {
            pos: String::new(),
            msg: "unexpected error".into(),
        });
    }
    if let Some((pos, msg)) = p.errors.first() {
        return Err(Error::Parse {
            pos: position(input, *pos),
            msg: msg.clone(),
        });
    }
    // Duration expressions are evaluated before the query runs; their
    // errors name byte offsets and are not parse errors.
    lower::lower(input, tree).map_err(|msg| Error::Parse {
        pos: String::new(),
        msg,
    })
}

/// A value on the parser's stack.
#[derive(Debug, Clone)]
enum Val {
    None,
    Item(Item),
    Node(Node),
    Nodes(Vec<Node>),
    Labels(Vec<String>),
    Matchers(Vec<Option<aeon_model::Matcher>>),
    Matcher(Option<aeon_model::Matcher>),
    BinMod(node::BinMod),
    AggMod(Vec<String>, bool),
    Float(f64),
}

/// Parser state shared with the grammar's actions.
struct Parser<'a> {
    input: &'a str,
    lexer: Lexer<'a>,
    /// Tokens still to hand out before lexing: the start symbol, then `$end` after EOF.
    injected: VecDeque<usize>,
    /// The last token read (Prometheus's `yyParser.lval.item`).
    lval: Item,
    /// End offsets of `)` tokens not yet claimed by a call, aggregation or
    /// parenthesis (Prometheus's `closingParens`).
    closing_parens: VecDeque<usize>,
    /// End of the last `)`, `}`, `]`, number or duration read.
    last_closing: usize,
    /// Errors in the order Prometheus records them; the first is reported.
    errors: Vec<(usize, String)>,
    result: Option<Node>,
    /// Set where Prometheus's parser would panic (it then reports only
    /// "unexpected error").
    panicked: bool,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Parser {
            input,
            lexer: Lexer::new(input),
            injected: VecDeque::from([term(Tok::START_EXPRESSION)]),
            lval: Item {
                typ: Tok::EQL,
                pos: 0,
                val: String::new(),
            },
            closing_parens: VecDeque::new(),
            last_closing: 0,
            errors: Vec::new(),
            result: None,
            panicked: false,
        }
    }

    fn error(&mut self, pos: usize, msg: impl Into<String>) {
        self.errors.push((pos, msg.into()));
    }

    /// Prometheus's `unexpected`: a syntax error about the last token read
    /// (none for a token the lexer already reported as an error).
    fn unexpected(&mut self, context: &str, expected: &str) {
        if self.lval.typ == Tok::ERROR {
            return;
        }
        let mut msg = format!("unexpected {}", self.lval.desc());
        if !context.is_empty() {
            msg.push_str(" in ");
            msg.push_str(context);
        }
        if !expected.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(expected);
        }
        self.error(self.lval.pos, msg);
    }

    /// Prometheus's `Lex`: the next terminal for the automaton.
    fn lex(&mut self) -> usize {
        if let Some(t) = self.injected.pop_front() {
            return t;
        }
        let item = loop {
            let it = self.lexer.next_item();
            if it.typ != Tok::COMMENT {
                break it;
            }
        };
        let typ = item.typ;
        let end = item.end();
        self.lval = item;
        match typ {
            Tok::ERROR => {
                let (pos, msg) = (self.lexer.start, self.lval.val.clone());
                self.error(pos, msg);
                return lalr::END;
            }
            Tok::EOF => self.injected.push_back(lalr::END),
            Tok::RIGHT_PAREN => {
                self.closing_parens.push_back(end);
                self.last_closing = end;
            }
            Tok::RIGHT_BRACE | Tok::RIGHT_BRACKET | Tok::DURATION | Tok::NUMBER => {
                self.last_closing = end;
            }
            _ => {}
        }
        term(typ)
    }

    /// Runs the automaton until the input is accepted or parsing aborts.
    /// After a syntax error it goes on as goyacc does (error recovery with
    /// its `Errflag`): the first error decides the message, but Prometheus
    /// keeps running the grammar's actions, and some of them panic on what
    /// recovery left (its parser then answers "unexpected error").
    fn run(&mut self) -> Option<Node> {
        let t = lalr::tables();
        let mut stack: Vec<(usize, Val)> = vec![(0, Val::None)];
        let mut la: Option<usize> = None;
        // goyacc's Errflag: 3 right after an error, down by one per shift.
        let mut errflag = 0u8;
        loop {
            if self.panicked {
                return None;
            }
            let state = stack.last().map_or(0, |s| s.0);
            if t.has_shift(state) {
                let tok = *la.get_or_insert_with(|| self.lex());
                if let Some(next) = t.shift(state, tok) {
                    stack.push((next, Val::Item(self.lval.clone())));
                    la = None;
                    errflag = errflag.saturating_sub(1);
                    continue;
                }
            }
            let act = match t.exceptions(state) {
                Some(exc) => {
                    let tok = *la.get_or_insert_with(|| self.lex());
                    exc.iter()
                        .find(|(t, _)| *t == tok)
                        .map_or(t.default(state), |(_, a)| *a)
                }
                None => t.default(state),
            };
            match act {
                Act::Accept => return self.result.take(),
                Act::Reduce(r) => {
                    let rule = &t.rules[r];
                    let n = rule.rhs.len();
                    let args: Vec<Val> = stack.drain(stack.len() - n..).map(|s| s.1).collect();
                    let v = actions::reduce(self, rule.action, args);
                    let top = stack.last().map_or(0, |s| s.0);
                    stack.push((t.goto(top, rule.lhs), v));
                }
                Act::Error if errflag == 3 => {
                    // No shift since the last error: drop the token.
                    if la == Some(lalr::END) {
                        return None;
                    }
                    la = None;
                }
                Act::Error => {
                    // Recover as yacc does: the nearest state that shifts
                    // `error`; its error rule reports the token.
                    errflag = 3;
                    while let Some(&(s, _)) = stack.last() {
                        if let Some(next) = t.shift(s, lalr::ERROR) {
                            stack.push((next, Val::None));
                            break;
                        }
                        stack.pop();
                    }
                    if stack.is_empty() {
                        return None;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
