//! Prometheus's `FastRegexMatcher`: a regex fully anchored (`^(?s:…)$`, so `.`
//! matches newlines) with fast paths for the shapes dashboards use most —
//! literals, alternations of literals, `.*`, `.+`, prefix/suffix/contains.

use regex::Regex;
use regex_syntax::ast::{self, Ast, RepetitionKind, RepetitionOp};

use crate::{Error, Result};

/// A compiled regex with Prometheus's matching semantics.
#[derive(Debug, Clone)]
pub struct RegexMatcher {
    source: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// Matches exactly this string.
    Literal(String),
    /// Matches any string in the (sorted, deduplicated) set.
    Set(Vec<String>),
    /// `.*`
    Any,
    /// `.+`
    NonEmpty,
    /// `lit.*`
    Prefix(String),
    /// `.*lit`
    Suffix(String),
    /// `.*lit.*`
    Contains(String),
    /// Everything else: the full anchored regex.
    Regex(Box<Regex>),
}

impl RegexMatcher {
    /// Compiles `re` anchored at both ends. `label` only names the matcher in
    /// the error.
    pub fn new(label: &str, re: &str) -> Result<Self> {
        let full = Regex::new(&format!("^(?s:{re})$")).map_err(|e| Error::InvalidRegex {
            label: label.to_string(),
            regex: re.to_string(),
            source: Box::new(e),
        })?;
        let kind = ast::parse::Parser::new()
            .parse(re)
            .ok()
            .and_then(|a| classify(&a))
            .unwrap_or_else(|| Kind::Regex(Box::new(full)));
        Ok(Self {
            source: re.to_string(),
            kind,
        })
    }

    /// The regex as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        match &self.kind {
            Kind::Literal(l) => s == l,
            Kind::Set(set) => set.binary_search_by(|x| x.as_str().cmp(s)).is_ok(),
            Kind::Any => true,
            Kind::NonEmpty => !s.is_empty(),
            Kind::Prefix(p) => s.starts_with(p.as_str()),
            Kind::Suffix(p) => s.ends_with(p.as_str()),
            Kind::Contains(p) => s.contains(p.as_str()),
            Kind::Regex(r) => r.is_match(s),
        }
    }

    /// The finite set of strings this regex matches, when it is a literal or
    /// an alternation of literals (Prometheus's `SetMatches`): lets an index
    /// look values up instead of scanning them.
    pub fn set_matches(&self) -> Option<Vec<String>> {
        match &self.kind {
            Kind::Literal(l) => Some(vec![l.clone()]),
            Kind::Set(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// A literal prefix every match starts with, when known.
    pub fn prefix(&self) -> Option<&str> {
        match &self.kind {
            Kind::Prefix(p) | Kind::Literal(p) => Some(p),
            _ => None,
        }
    }

    /// Whether this is `.*` (matches every value, including the empty one).
    pub fn matches_everything(&self) -> bool {
        matches!(self.kind, Kind::Any)
    }

    /// Whether this is `.+` (matches every non-empty value).
    pub fn matches_any_non_empty(&self) -> bool {
        matches!(self.kind, Kind::NonEmpty)
    }
}

fn classify(a: &Ast) -> Option<Kind> {
    if let Some(l) = literal(a) {
        return Some(Kind::Literal(l));
    }
    match a {
        Ast::Group(g) if !matches!(g.kind, ast::GroupKind::NonCapturing(ref f) if !f.items.is_empty()) => {
            classify(&g.ast)
        }
        Ast::Alternation(alt) => {
            let mut set = alt.asts.iter().map(literal).collect::<Option<Vec<_>>>()?;
            set.sort();
            set.dedup();
            Some(Kind::Set(set))
        }
        Ast::Repetition(r) => match dot_repeat(r)? {
            0 => Some(Kind::Any),
            _ => Some(Kind::NonEmpty),
        },
        Ast::Concat(c) => {
            let items = &c.asts;
            let is_star = |a: &Ast| matches!(a, Ast::Repetition(r) if dot_repeat(r) == Some(0));
            match items.as_slice() {
                [first, rest @ ..] if is_star(first) && !rest.is_empty() => {
                    if let [mid @ .., last] = rest
                        && is_star(last)
                        && !mid.is_empty()
                    {
                        return Some(Kind::Contains(concat_literal(mid)?));
                    }
                    Some(Kind::Suffix(concat_literal(rest)?))
                }
                [init @ .., last] if is_star(last) && !init.is_empty() => {
                    Some(Kind::Prefix(concat_literal(init)?))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// `Some(0)` for `.*`, `Some(1)` for `.+`, over a plain dot.
fn dot_repeat(r: &ast::Repetition) -> Option<u8> {
    if !matches!(*r.ast, Ast::Dot(_)) {
        return None;
    }
    match r.op {
        RepetitionOp {
            kind: RepetitionKind::ZeroOrMore,
            ..
        } => Some(0),
        RepetitionOp {
            kind: RepetitionKind::OneOrMore,
            ..
        } => Some(1),
        _ => None,
    }
}

fn literal(a: &Ast) -> Option<String> {
    match a {
        Ast::Empty(_) => Some(String::new()),
        Ast::Literal(l) => Some(l.c.to_string()),
        Ast::Concat(c) => concat_literal(&c.asts),
        Ast::Group(g) if matches!(g.kind, ast::GroupKind::NonCapturing(ref f) if f.items.is_empty()) => {
            literal(&g.ast)
        }
        _ => None,
    }
}

fn concat_literal(items: &[Ast]) -> Option<String> {
    items
        .iter()
        .map(|a| match a {
            Ast::Literal(l) => Some(l.c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(re: &str) -> RegexMatcher {
        RegexMatcher::new("l", re).unwrap()
    }

    #[test]
    fn fast_paths_are_chosen() {
        assert!(matches!(m("foo").kind, Kind::Literal(_)));
        assert!(matches!(m("").kind, Kind::Literal(_)));
        assert!(matches!(m("b|a|b").kind, Kind::Set(ref s) if s == &["a", "b"]));
        assert!(matches!(m("(?:a|bc)").kind, Kind::Set(_)));
        assert!(matches!(m(".*").kind, Kind::Any));
        assert!(matches!(m(".+").kind, Kind::NonEmpty));
        assert!(matches!(m("foo.*").kind, Kind::Prefix(ref p) if p == "foo"));
        assert!(matches!(m(".*foo").kind, Kind::Suffix(ref p) if p == "foo"));
        assert!(matches!(m(".*foo.*").kind, Kind::Contains(ref p) if p == "foo"));
        assert!(matches!(m("fo[o]").kind, Kind::Regex(_)));
        assert!(matches!(m("(?i)foo").kind, Kind::Regex(_)));
        assert!(matches!(m(r"a\.b").kind, Kind::Literal(ref l) if l == "a.b"));
    }

    /// Every fast path must agree with the full anchored regex.
    #[test]
    fn fast_paths_agree_with_full_regex() {
        let inputs = [
            "", "foo", "xfoo", "foox", "xfoox", "a", "b", "bc", "a\nb", "fo", "\n", "a.b",
        ];
        for re in [
            "foo", "", "a|bc", ".*", ".+", "foo.*", ".*foo", ".*foo.*", r"a\.b", "a.b", "(a|b)",
        ] {
            let fast = m(re);
            let full = Regex::new(&format!("^(?s:{re})$")).unwrap();
            for s in inputs {
                assert_eq!(fast.is_match(s), full.is_match(s), "regex {re:?} on {s:?}");
            }
        }
    }

    #[test]
    fn invalid_regex_is_an_error_naming_the_label() {
        let e = RegexMatcher::new("job", "a(").unwrap_err().to_string();
        assert!(e.contains("\"job\"") && e.contains("\"a(\""), "{e}");
    }
}
