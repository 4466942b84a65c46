use std::fmt;

use crate::{Labels, RegexMatcher, Result};

/// The four Prometheus matcher operators. The discriminants equal the
/// Thanos/Prometheus protobuf enum values (`EQ=0, NEQ=1, RE=2, NRE=3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchType {
    Equal = 0,
    NotEqual = 1,
    RegexMatch = 2,
    RegexNoMatch = 3,
}

impl MatchType {
    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "=",
            Self::NotEqual => "!=",
            Self::RegexMatch => "=~",
            Self::RegexNoMatch => "!~",
        }
    }
}

impl fmt::Display for MatchType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A label matcher with Prometheus 3.5 semantics: a missing label has the
/// value `""`, regexes are fully anchored and `.` matches newlines.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub kind: MatchType,
    pub name: String,
    pub value: String,
    re: Option<RegexMatcher>,
}

impl PartialEq for Matcher {
    fn eq(&self, o: &Self) -> bool {
        self.kind == o.kind && self.name == o.name && self.value == o.value
    }
}

impl Eq for Matcher {}

impl std::hash::Hash for Matcher {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.kind, &self.name, &self.value).hash(state);
    }
}

impl Matcher {
    /// Builds a matcher; fails only for a regex that does not compile.
    pub fn new(kind: MatchType, name: impl Into<String>, value: impl Into<String>) -> Result<Self> {
        let (name, value) = (name.into(), value.into());
        let re = match kind {
            MatchType::RegexMatch | MatchType::RegexNoMatch => {
                Some(RegexMatcher::new(&name, &value)?)
            }
            _ => None,
        };
        Ok(Self {
            kind,
            name,
            value,
            re,
        })
    }

    /// `name="value"`.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            kind: MatchType::Equal,
            name: name.into(),
            value: value.into(),
            re: None,
        }
    }

    /// `name!="value"`.
    pub fn not_equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            kind: MatchType::NotEqual,
            name: name.into(),
            value: value.into(),
            re: None,
        }
    }

    /// Whether a label value (use `""` for a missing label) matches.
    pub fn matches(&self, v: &str) -> bool {
        match (self.kind, &self.re) {
            (MatchType::Equal, _) => v == self.value,
            (MatchType::NotEqual, _) => v != self.value,
            (MatchType::RegexMatch, Some(re)) => re.is_match(v),
            (MatchType::RegexNoMatch, Some(re)) => !re.is_match(v),
            // Unreachable by construction: regex kinds always carry a regex.
            (_, None) => false,
        }
    }

    /// Whether the label set matches (missing label = `""`).
    pub fn matches_labels(&self, l: &Labels) -> bool {
        self.matches(l.get_or_empty(&self.name))
    }

    /// Whether series *without* this label match (Prometheus's "matches the
    /// empty string" rule, used when planning index lookups).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// The compiled regex of `=~`/`!~` matchers.
    pub fn regex(&self) -> Option<&RegexMatcher> {
        self.re.as_ref()
    }

    /// For `=` and for `=~` over literals or an alternation of literals: the
    /// exact values this matcher (or, for `!=`/`!~`, its inverse) selects.
    pub fn set_matches(&self) -> Option<Vec<String>> {
        match self.kind {
            MatchType::Equal | MatchType::NotEqual => Some(vec![self.value.clone()]),
            MatchType::RegexMatch | MatchType::RegexNoMatch => self.re.as_ref()?.set_matches(),
        }
    }

    /// The matcher with the operator inverted (`=` ↔ `!=`, `=~` ↔ `!~`).
    pub fn inverse(&self) -> Self {
        let kind = match self.kind {
            MatchType::Equal => MatchType::NotEqual,
            MatchType::NotEqual => MatchType::Equal,
            MatchType::RegexMatch => MatchType::RegexNoMatch,
            MatchType::RegexNoMatch => MatchType::RegexMatch,
        };
        Self {
            kind,
            ..self.clone()
        }
    }
}

impl fmt::Display for Matcher {
    /// `name="value"` with Go-style quoting, as Prometheus prints matchers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.kind, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MatchType::*;

    fn m(kind: MatchType, v: &str) -> Matcher {
        Matcher::new(kind, "l", v).unwrap()
    }

    #[test]
    fn regex_is_fully_anchored() {
        assert!(m(RegexMatch, "foo").matches("foo"));
        assert!(!m(RegexMatch, "foo").matches("foobar"));
        assert!(!m(RegexMatch, "foo").matches("xfoo"));
        assert!(!m(RegexMatch, "a|b").matches("ab"));
        assert!(m(RegexMatch, "fo.").matches("foo"));
        assert!(!m(RegexMatch, "o+").matches("foo"));
    }

    #[test]
    fn dot_matches_newline() {
        assert!(m(RegexMatch, "a.b").matches("a\nb"));
        assert!(m(RegexMatch, ".*").matches("line1\nline2"));
        assert!(m(RegexMatch, "x.+").matches("x\n"));
        assert!(m(RegexMatch, "[^a]").matches("\n"));
    }

    #[test]
    fn empty_value_rules() {
        let empty = Labels::empty();
        // `.*` matches a missing label, `.+` does not.
        assert!(m(RegexMatch, ".*").matches_labels(&empty));
        assert!(!m(RegexMatch, ".+").matches_labels(&empty));
        // `l=""` selects series without the label; `l!=""` those with it.
        assert!(m(Equal, "").matches_labels(&empty));
        assert!(!m(NotEqual, "").matches_labels(&empty));
        let with = Labels::from_pairs(&[("l", "v")]);
        assert!(!m(Equal, "").matches_labels(&with));
        assert!(m(NotEqual, "").matches_labels(&with));
        // `=~"|v"` accepts both.
        assert!(m(RegexMatch, "|v").matches_labels(&empty));
        assert!(m(RegexMatch, "|v").matches_labels(&with));
    }

    #[test]
    fn negative_regex_with_missing_label() {
        let empty = Labels::empty();
        // "" !~ "x" is true: series without the label match.
        assert!(m(RegexNoMatch, "x").matches_labels(&empty));
        // "" !~ ".*" is false.
        assert!(!m(RegexNoMatch, ".*").matches_labels(&empty));
        // "" !~ ".+" is true.
        assert!(m(RegexNoMatch, ".+").matches_labels(&empty));
        assert!(!m(RegexNoMatch, "v").matches_labels(&Labels::from_pairs(&[("l", "v")])));
    }

    #[test]
    fn set_matches_and_inverse() {
        assert_eq!(
            m(RegexMatch, "b|a").set_matches(),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(m(RegexMatch, "a.*").set_matches(), None);
        assert_eq!(m(Equal, "x").inverse().kind, NotEqual);
        assert_eq!(m(RegexMatch, "x").inverse().kind, RegexNoMatch);
        assert!(m(RegexMatch, "x").inverse().matches("y"));
    }

    #[test]
    fn display_like_prometheus() {
        assert_eq!(m(RegexNoMatch, "a\"b").to_string(), r#"l!~"a\"b""#);
    }

    proptest::proptest! {
        /// Any fast path agrees with Prometheus's anchored `(?s:…)` regex.
        #[test]
        fn matcher_agrees_with_anchored_regex(
            re in proptest::sample::select(vec![
                "", ".*", ".+", "a.*", ".*a", ".*ab.*", "a|b|ab", "(a|b)c", "a?", "[ab]+", "a\\.b",
            ]),
            s in "[ab.\n]{0,4}",
        ) {
            let full = regex::Regex::new(&format!("^(?s:{re})$")).unwrap();
            proptest::prop_assert_eq!(m(RegexMatch, re).matches(&s), full.is_match(&s));
            proptest::prop_assert_eq!(m(RegexNoMatch, re).matches(&s), !full.is_match(&s));
        }
    }
}
