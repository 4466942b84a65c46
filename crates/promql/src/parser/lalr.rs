//! LALR(1) parse tables built from [`super::grammar`] the way goyacc (the
//! generator of Prometheus's parser) builds them, so that our parser detects
//! a syntax error at the same token and in the same state as Prometheus's:
//!
//! - shift/reduce conflicts are decided by precedence (a rule's precedence
//!   is that of the last terminal in it, or `%prec`), shifting when either
//!   side has none; reduce/reduce conflicts go to the earlier rule;
//! - the reduction on the most lookahead tokens becomes the state's default
//!   action (ties: the one first seen in token order), taken on any other
//!   token too, except in states that shift the `error` token;
//! - a state without shifts reduces without reading a lookahead.

use std::collections::HashMap;

use super::grammar::{Assoc, GRAMMAR, PRECEDENCE};
use crate::lexer::{NTOKENS, Tok};

/// Terminal numbers: `$end`, `error`, `$unk`, then the lexer's tokens.
pub(super) const END: usize = 0;
pub(super) const ERROR: usize = 1;
const FIRST_TOKEN: usize = 3;
const NTERMS: usize = FIRST_TOKEN + NTOKENS;
/// The marker lookahead used while computing propagation.
const DUMMY: u128 = 1 << 127;

/// The terminal number of a token.
pub(super) fn term(t: Tok) -> usize {
    FIRST_TOKEN + t as usize
}

/// A grammar symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Sym {
    T(usize),
    N(usize),
}

/// A grammar rule; rule 0 is `$accept: start $end`.
#[derive(Debug)]
pub(super) struct Rule {
    pub lhs: usize,
    pub rhs: Vec<Sym>,
    /// What the reduction does (see `actions.rs`); empty: take `$1`.
    pub action: &'static str,
    prec: u8,
}

/// What a state does on a lookahead that it does not shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Act {
    Reduce(usize),
    Accept,
    Error,
}

/// The parse tables.
pub(super) struct Tables {
    pub rules: Vec<Rule>,
    nnonterms: usize,
    /// `[state * NTERMS + terminal]`: target state + 1, or 0.
    shifts: Vec<u32>,
    has_shift: Vec<bool>,
    /// `[state * nnonterms + nonterminal]`: target state.
    gotos: Vec<u32>,
    /// Per-state lookahead exceptions and the default action after them;
    /// `None`: the default applies without reading a lookahead.
    exceptions: Vec<Option<Vec<(usize, Act)>>>,
    defaults: Vec<Act>,
}

impl Tables {
    pub(super) fn shift(&self, state: usize, t: usize) -> Option<usize> {
        match self.shifts[state * NTERMS + t] {
            0 => None,
            s => Some(s as usize - 1),
        }
    }
    pub(super) fn has_shift(&self, state: usize) -> bool {
        self.has_shift[state]
    }
    pub(super) fn goto(&self, state: usize, nt: usize) -> usize {
        self.gotos[state * self.nnonterms + nt] as usize
    }
    /// The lookahead-dependent actions of a state, if it has any.
    pub(super) fn exceptions(&self, state: usize) -> Option<&[(usize, Act)]> {
        self.exceptions[state].as_deref()
    }
    pub(super) fn default(&self, state: usize) -> Act {
        self.defaults[state]
    }
}

/// The tables, built on first use.
pub(super) fn tables() -> &'static Tables {
    static T: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    T.get_or_init(build)
}

/// Precedence level (1-based, 0: none) and associativity of each terminal.
fn token_precedence() -> Vec<(u8, Assoc)> {
    let mut out = vec![(0u8, Assoc::Left); NTERMS];
    for (level, (assoc, toks)) in PRECEDENCE.iter().enumerate() {
        for name in *toks {
            if let Some(t) = Tok::all().find(|t| t.name() == *name) {
                out[term(t)] = (level as u8 + 1, *assoc);
            }
        }
    }
    out
}

struct Parsed {
    rules: Vec<Rule>,
    nonterms: Vec<String>,
}

/// Reads [`GRAMMAR`]. The grammar is a constant of this crate; a mistake in
/// it is a bug found by the tests, so it panics.
fn parse_grammar(prec: &[(u8, Assoc)]) -> Parsed {
    let toks: HashMap<String, usize> = Tok::all().map(|t| (t.name(), term(t))).collect();
    let mut nonterms: Vec<String> = vec!["$accept".into()];
    let nt = |name: &str, nonterms: &mut Vec<String>| -> usize {
        match nonterms.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                nonterms.push(name.to_string());
                nonterms.len() - 1
            }
        }
    };
    let mut rules = vec![Rule {
        lhs: 0,
        rhs: vec![Sym::N(1), Sym::T(END)],
        action: "",
        prec: 0,
    }];
    let words: Vec<&'static str> = GRAMMAR.split_whitespace().collect();
    let mut i = 0;
    while i < words.len() {
        let lhs = nt(words[i], &mut nonterms);
        i += 1;
        assert_eq!(
            words[i],
            ":",
            "grammar: ':' expected after {}",
            words[i - 1]
        );
        i += 1;
        loop {
            let mut rhs = Vec::new();
            let mut action = "";
            let mut rule_prec = 0u8;
            while !matches!(words[i], "|" | ";") {
                let w = words[i];
                if let Some(a) = w.strip_prefix('=') {
                    action = a;
                } else if w == "%prec" {
                    i += 1;
                    rule_prec = prec[toks[words[i]]].0;
                } else if w == "error" {
                    rhs.push(Sym::T(ERROR));
                    rule_prec = 0;
                } else if let Some(&t) = toks.get(w) {
                    rhs.push(Sym::T(t));
                    rule_prec = prec[t].0;
                } else {
                    rhs.push(Sym::N(nt(w, &mut nonterms)));
                }
                i += 1;
            }
            rules.push(Rule {
                lhs,
                rhs,
                action,
                prec: rule_prec,
            });
            let sep = words[i];
            i += 1;
            if sep == ";" {
                break;
            }
        }
    }
    Parsed { rules, nonterms }
}

type Item = (usize, usize);

struct Builder<'a> {
    rules: &'a [Rule],
    by_lhs: Vec<Vec<usize>>,
    nullable: Vec<bool>,
    first: Vec<u128>,
}

impl Builder<'_> {
    fn first_of(&self, syms: &[Sym]) -> (u128, bool) {
        let mut set = 0u128;
        for s in syms {
            match *s {
                Sym::T(t) => return (set | 1 << t, false),
                Sym::N(n) => {
                    set |= self.first[n];
                    if !self.nullable[n] {
                        return (set, false);
                    }
                }
            }
        }
        (set, true)
    }

    /// LR(0) closure, kernel first, in the order items are added.
    fn closure0(&self, kernel: &[Item]) -> Vec<Item> {
        let mut out: Vec<Item> = kernel.to_vec();
        let mut seen = vec![false; self.by_lhs.len()];
        let mut i = 0;
        while i < out.len() {
            let (r, d) = out[i];
            if let Some(Sym::N(n)) = self.rules[r].rhs.get(d) {
                if !seen[*n] {
                    seen[*n] = true;
                    out.extend(self.by_lhs[*n].iter().map(|&r| (r, 0)));
                }
            }
            i += 1;
        }
        out
    }

    /// LR(1) closure with lookahead sets, kernel first.
    fn closure1(&self, kernel: &[(Item, u128)]) -> Vec<(Item, u128)> {
        let mut out: Vec<(Item, u128)> = kernel.to_vec();
        let mut index: HashMap<Item, usize> = out
            .iter()
            .enumerate()
            .map(|(i, (it, _))| (*it, i))
            .collect();
        let mut work: Vec<usize> = (0..out.len()).collect();
        while let Some(i) = work.pop() {
            let ((r, d), la) = out[i];
            let Some(Sym::N(n)) = self.rules[r].rhs.get(d) else {
                continue;
            };
            let (f, nullable) = self.first_of(&self.rules[r].rhs[d + 1..]);
            let add = if nullable { f | la } else { f };
            for &r2 in &self.by_lhs[*n] {
                match index.get(&(r2, 0)) {
                    Some(&j) => {
                        if out[j].1 | add != out[j].1 {
                            out[j].1 |= add;
                            work.push(j);
                        }
                    }
                    None => {
                        index.insert((r2, 0), out.len());
                        out.push(((r2, 0), add));
                        work.push(out.len() - 1);
                    }
                }
            }
        }
        out
    }
}

fn build() -> Tables {
    let tprec = token_precedence();
    let Parsed { rules, nonterms } = parse_grammar(&tprec);
    let nnt = nonterms.len();
    let mut by_lhs = vec![Vec::new(); nnt];
    for (i, r) in rules.iter().enumerate() {
        by_lhs[r.lhs].push(i);
    }
    // Nullable and FIRST sets.
    let mut nullable = vec![false; nnt];
    let mut first = vec![0u128; nnt];
    let mut changed = true;
    while changed {
        changed = false;
        for r in &rules {
            let mut all_nullable = true;
            let mut f = 0u128;
            for s in &r.rhs {
                match *s {
                    Sym::T(t) => {
                        f |= 1 << t;
                        all_nullable = false;
                        break;
                    }
                    Sym::N(n) => {
                        f |= first[n];
                        if !nullable[n] {
                            all_nullable = false;
                            break;
                        }
                    }
                }
            }
            if first[r.lhs] | f != first[r.lhs] {
                first[r.lhs] |= f;
                changed = true;
            }
            if all_nullable && !nullable[r.lhs] {
                nullable[r.lhs] = true;
                changed = true;
            }
        }
    }
    let b = Builder {
        rules: &rules,
        by_lhs,
        nullable,
        first,
    };

    // LR(0) states.
    let mut kernels: Vec<Vec<Item>> = vec![vec![(0, 0)]];
    let mut index: HashMap<Vec<Item>, usize> = HashMap::from([(vec![(0, 0)], 0)]);
    let mut trans: Vec<Vec<(Sym, usize)>> = Vec::new();
    let mut s = 0;
    while s < kernels.len() {
        let items = b.closure0(&kernels[s]);
        let mut order: Vec<Sym> = Vec::new();
        let mut next: HashMap<Sym, Vec<Item>> = HashMap::new();
        for &(r, d) in &items {
            if let Some(&x) = rules[r].rhs.get(d) {
                if x == Sym::T(END) {
                    continue;
                }
                let e = next.entry(x).or_insert_with(|| {
                    order.push(x);
                    Vec::new()
                });
                e.push((r, d + 1));
            }
        }
        let mut t = Vec::new();
        for x in order {
            let mut k = next.remove(&x).unwrap_or_default();
            k.sort_unstable();
            k.dedup();
            let target = match index.get(&k) {
                Some(&i) => i,
                None => {
                    kernels.push(k.clone());
                    index.insert(k, kernels.len() - 1);
                    kernels.len() - 1
                }
            };
            t.push((x, target));
        }
        trans.push(t);
        s += 1;
    }
    let nstates = kernels.len();
    let goto_of = |s: usize, x: Sym| trans[s].iter().find(|(y, _)| *y == x).map(|(_, t)| *t);

    // LALR(1) lookaheads by propagation.
    let mut la: Vec<Vec<u128>> = kernels.iter().map(|k| vec![0; k.len()]).collect();
    let mut edges: Vec<Vec<(usize, usize)>> = Vec::new();
    let mut edge_index: Vec<Vec<usize>> = Vec::new();
    for s in 0..nstates {
        let mut per_state = Vec::new();
        for &k in &kernels[s] {
            let mut out = Vec::new();
            for ((r, d), l) in b.closure1(&[(k, DUMMY)]) {
                let Some(&x) = rules[r].rhs.get(d) else {
                    continue;
                };
                let Some(t) = goto_of(s, x) else { continue };
                let Some(kj) = kernels[t].iter().position(|&it| it == (r, d + 1)) else {
                    continue;
                };
                la[t][kj] |= l & !DUMMY;
                if l & DUMMY != 0 {
                    out.push((t, kj));
                }
            }
            per_state.push(edges.len());
            edges.push(out);
        }
        edge_index.push(per_state);
    }
    let mut changed = true;
    while changed {
        changed = false;
        for s in 0..nstates {
            for ki in 0..kernels[s].len() {
                let from = la[s][ki];
                for &(t, kj) in &edges[edge_index[s][ki]] {
                    if la[t][kj] | from != la[t][kj] {
                        la[t][kj] |= from;
                        changed = true;
                    }
                }
            }
        }
    }

    // Actions, resolved as goyacc does.
    let mut shifts = vec![0u32; nstates * NTERMS];
    let mut has_shift = vec![false; nstates];
    let mut gotos = vec![0u32; nstates * nnt];
    let mut exceptions = Vec::with_capacity(nstates);
    let mut defaults = Vec::with_capacity(nstates);
    #[derive(Clone, Copy, PartialEq)]
    enum E {
        None,
        Shift,
        Reduce(usize),
        Accept,
        Error,
    }
    for s in 0..nstates {
        let mut row = [E::None; NTERMS];
        for &(x, t) in &trans[s] {
            match x {
                Sym::T(term) => {
                    row[term] = E::Shift;
                    shifts[s * NTERMS + term] = t as u32 + 1;
                }
                Sym::N(n) => gotos[s * nnt + n] = t as u32,
            }
        }
        if kernels[s].contains(&(0, 1)) {
            row[END] = E::Accept;
        }
        let kernel: Vec<(Item, u128)> = kernels[s]
            .iter()
            .copied()
            .zip(la[s].iter().copied())
            .collect();
        for ((r, d), l) in b.closure1(&kernel) {
            if d < rules[r].rhs.len() || r == 0 {
                continue;
            }

            for (t, entry) in row.iter_mut().enumerate() {
                if l & (1 << t) == 0 {
                    continue;
                }
                *entry = match *entry {
                    E::None => E::Reduce(r),
                    E::Reduce(r2) => E::Reduce(r2.min(r)),
                    other => {
                        let (tp, assoc) = tprec[t];
                        let rp = rules[r].prec;
                        if tp == 0 || rp == 0 || tp > rp {
                            other
                        } else if tp < rp {
                            E::Reduce(r)
                        } else {
                            match assoc {
                                Assoc::Left => E::Reduce(r),
                                Assoc::Right => other,
                                Assoc::Nonassoc => E::Error,
                            }
                        }
                    }
                };
                if *entry != E::Shift {
                    shifts[s * NTERMS + t] = 0;
                }
            }
        }
        has_shift[s] = row.contains(&E::Shift);
        // The default: the reduction on the most tokens.
        let mut default = None;
        let mut times = 0;
        for t in 0..NTERMS {
            if let E::Reduce(r) = row[t] {
                if Some(r) == default {
                    continue;
                }
                let n = row.iter().filter(|e| **e == E::Reduce(r)).count();
                if n > times {
                    default = Some(r);
                    times = n;
                }
            }
        }
        if row[ERROR] == E::Shift {
            default = None;
        }
        let mut exc = Vec::new();
        for (t, e) in row.iter().enumerate() {
            match *e {
                E::Reduce(r) if Some(r) != default => exc.push((t, Act::Reduce(r))),
                E::Accept => exc.push((t, Act::Accept)),
                E::Error => exc.push((t, Act::Error)),
                _ => {}
            }
        }
        exceptions.push((!exc.is_empty()).then_some(exc));
        defaults.push(default.map_or(Act::Error, Act::Reduce));
    }
    Tables {
        rules,
        nnonterms: nnt,
        shifts,
        has_shift,
        gotos,
        exceptions,
        defaults,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_build_and_every_action_is_known() {
        let t = tables();
        assert!(t.rules.len() > 200, "{}", t.rules.len());
        assert!(t.defaults.len() > 300, "{}", t.defaults.len());
        for r in &t.rules {
            assert!(
                super::super::actions::KNOWN.contains(&r.action),
                "unknown action {:?}",
                r.action
            );
        }
    }
}
