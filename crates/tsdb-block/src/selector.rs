//! A minimal PromQL series selector parser for `--match` flags:
//! `name`, `{a="b"}`, `name{a=~'x', b!="y"}`.

use aeon_model::{MatchType, Matcher};

use crate::{Error, Result};

fn err(s: &str, why: &str) -> Error {
    Error::Invalid(format!("invalid series selector {s:?}: {why}"))
}

fn is_ident(c: char, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (!first && c.is_ascii_digit())
}

fn parse_string(s: &str, rest: &str) -> Result<(String, usize)> {
    let mut chars = rest.char_indices();
    let q = match chars.next() {
        Some((_, c @ ('"' | '\''))) => c,
        _ => return Err(err(s, "expected quoted value")),
    };
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == q => return Ok((out, i + 1)),
            '\\' => match chars.next().map(|x| x.1) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some('\'') => out.push('\''),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => return Err(err(s, "unterminated escape")),
            },
            c => out.push(c),
        }
    }
    Err(err(s, "unterminated string"))
}

/// Parses a selector into matchers.
pub fn parse_selector(s: &str) -> Result<Vec<Matcher>> {
    let mut rest = s.trim();
    let mut out = Vec::new();
    let name_len = rest
        .char_indices()
        .find(|&(i, c)| !is_ident(c, i == 0))
        .map_or(rest.len(), |(i, _)| i);
    if name_len > 0 {
        out.push(Matcher::equal(aeon_model::METRIC_NAME, &rest[..name_len]));
        rest = rest[name_len..].trim_start();
    }
    if let Some(r) = rest.strip_prefix('{') {
        rest = r.trim_start();
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let (name, r) = if rest.starts_with(['"', '\'']) {
                let (n, used) = parse_string(s, rest)?;
                (n, &rest[used..])
            } else {
                let n = rest
                    .char_indices()
                    .find(|&(i, c)| !is_ident(c, i == 0))
                    .map_or(rest.len(), |(i, _)| i);
                if n == 0 {
                    return Err(err(s, "expected label name"));
                }
                (rest[..n].to_string(), &rest[n..])
            };
            let r = r.trim_start();
            let (kind, r) = if let Some(r) = r.strip_prefix("=~") {
                (MatchType::RegexMatch, r)
            } else if let Some(r) = r.strip_prefix("!~") {
                (MatchType::RegexNoMatch, r)
            } else if let Some(r) = r.strip_prefix("!=") {
                (MatchType::NotEqual, r)
            } else if let Some(r) = r.strip_prefix('=') {
                (MatchType::Equal, r)
            } else {
                return Err(err(s, "expected matcher operator"));
            };
            let r = r.trim_start();
            let (value, used) = parse_string(s, r)?;
            out.push(Matcher::new(kind, name, value).map_err(|e| err(s, &e.to_string()))?);
            rest = r[used..].trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
            } else if !rest.starts_with('}') {
                return Err(err(s, "expected ',' or '}'"));
            }
        }
    }
    if !rest.trim().is_empty() {
        return Err(err(s, "unexpected trailing characters"));
    }
    if out.is_empty() {
        return Err(err(s, "empty selector"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_selectors() {
        let m = parse_selector("{__name__=~'(?s:.*)'}").unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].kind, MatchType::RegexMatch);
        assert!(m[0].matches("anything"));
        let m = parse_selector(r#"up{job="a\"b", i!~"x.*" }"#).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].value, "a\"b");
        assert_eq!(m[2].kind, MatchType::RegexNoMatch);
        assert!(parse_selector("{a=}").is_err());
        assert!(parse_selector("").is_err());
        assert!(parse_selector("up{a=\"b\"").is_err());
    }
}
