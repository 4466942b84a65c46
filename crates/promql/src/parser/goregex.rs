//! Syntax errors of Go's `regexp/syntax` for a label-matcher regex, as
//! Prometheus reports them (it parses the regex as written, with Perl
//! syntax): the error names the offending part of the text (`error parsing
//! regexp: missing closing ): ` + "`(a`"). Covers what Go's parser checks
//! while scanning (groups, classes, repetitions, escapes, flags); a pattern
//! it lets through is compiled by the regex engine as usual.

const POSIX_CLASSES: [&str; 14] = [
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

fn err(code: &str, expr: &str) -> String {
    format!("error parsing regexp: {code}: `{expr}`")
}

/// The first syntax error Go reports for matcher regex `re`, if any.
pub(super) fn syntax_error(re: &str) -> Option<String> {
    parse(re).err()
}

/// What is on Go's parse stack, as far as errors care.
#[derive(Clone, Copy, PartialEq)]
enum Top {
    /// Nothing yet (start of input).
    Empty,
    /// `(` or `|`: a repetition here has no argument.
    Pseudo,
    /// Something a repetition applies to.
    Operand,
}

fn parse(whole: &str) -> Result<(), String> {
    let mut t = whole;
    let mut depth: usize = 0;
    let mut top = Top::Empty;
    let mut last_repeat: Option<&str> = None;
    while let Some(c) = t.chars().next() {
        let mut repeat = None;
        match c {
            '(' => {
                if t[1..].starts_with('?') {
                    let (rest, opened) = perl_flags(t)?;
                    t = rest;
                    if opened {
                        depth += 1;
                        top = Top::Pseudo;
                    }
                } else {
                    depth += 1;
                    top = Top::Pseudo;
                    t = &t[1..];
                }
            }
            '|' => {
                top = Top::Pseudo;
                t = &t[1..];
            }
            ')' => {
                if depth == 0 {
                    return Err(err("unexpected )", whole));
                }
                depth -= 1;
                top = Top::Operand;
                t = &t[1..];
            }
            '^' | '$' | '.' => {
                top = Top::Operand;
                t = &t[1..];
            }
            '[' => {
                t = class(t)?;
                top = Top::Operand;
            }
            '*' | '+' | '?' => {
                let before = t;
                let after = repetition(before, &t[1..], last_repeat, top)?;
                repeat = Some(before);
                t = after;
            }
            '{' => match repeat_bounds(t) {
                None => {
                    top = Top::Operand;
                    t = &t[1..];
                }
                Some((min, max, after)) => {
                    let before = t;
                    if !(0..=1000).contains(&min) || max > 1000 || (max >= 0 && min > max) {
                        return Err(err(
                            "invalid repeat count",
                            &before[..before.len() - after.len()],
                        ));
                    }
                    let after = repetition(before, after, last_repeat, top)?;
                    repeat = Some(before);
                    t = after;
                }
            },
            '\\' => {
                t = escape_atom(t)?;
                top = Top::Operand;
            }
            _ => {
                top = Top::Operand;
                t = &t[c.len_utf8()..];
            }
        }
        last_repeat = repeat;
    }
    if depth != 0 {
        return Err(err("missing closing )", whole));
    }
    Ok(())
}

/// Checks a repetition operator; returns the text after it (and a `?`).
fn repetition<'a>(
    before: &'a str,
    mut after: &'a str,
    last_repeat: Option<&'a str>,
    top: Top,
) -> Result<&'a str, String> {
    if after.starts_with('?') {
        after = &after[1..];
    }
    if let Some(last) = last_repeat {
        return Err(err(
            "invalid nested repetition operator",
            &last[..last.len() - after.len()],
        ));
    }
    if top != Top::Operand {
        return Err(err(
            "missing argument to repetition operator",
            &before[..before.len() - after.len()],
        ));
    }
    Ok(after)
}

/// `{n}`, `{n,}`, `{n,m}`: (min, max or -1, rest); `None` when `{` is a literal.
fn repeat_bounds(s: &str) -> Option<(i64, i64, &str)> {
    let s = s.strip_prefix('{')?;
    let (min, s) = int(s)?;
    let (max, s) = match s.strip_prefix(',') {
        None => (min, s),
        Some(rest) if rest.starts_with('}') => (-1, rest),
        Some(rest) => int(rest)?,
    };
    let s = s.strip_prefix('}')?;
    Some((min, max, s))
}

/// Go's `parseInt` of a repeat count: no leading zeros, -1 when too long.
fn int(s: &str) -> Option<(i64, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 || (n >= 2 && s.starts_with('0')) {
        return None;
    }
    let v = if n >= 8 { -1 } else { s[..n].parse().ok()? };
    Some((v, &s[n..]))
}

/// `(?flags)`, `(?flags:`, `(?P<name>`, `(?<name>`: (rest, opens a group).
fn perl_flags(s: &str) -> Result<(&str, bool), String> {
    let b = s.as_bytes();
    if (b.len() > 4 && b[2] == b'P' && b[3] == b'<') || (b.len() > 3 && b[2] == b'<') {
        let begin = if b[2] == b'P' { 4 } else { 3 };
        let Some(end) = s.find('>') else {
            return Err(err("invalid named capture", s));
        };
        let name = &s[begin..end];
        let valid = !name.is_empty() && name.chars().all(|c| c == '_' || c.is_alphanumeric());
        if !valid {
            return Err(err("invalid named capture", &s[..=end]));
        }
        return Ok((&s[end + 1..], true));
    }
    let mut t = &s[2..];
    let mut negated = false;
    let mut saw_flag = false;
    while let Some(c) = t.chars().next() {
        t = &t[c.len_utf8()..];
        match c {
            'i' | 'm' | 's' | 'U' => saw_flag = true,
            '-' => {
                if negated {
                    break;
                }
                negated = true;
                saw_flag = false;
            }
            ':' | ')' => {
                if negated && !saw_flag {
                    break;
                }
                return Ok((t, c == ':'));
            }
            _ => break,
        }
    }
    Err(err(
        "invalid or unsupported Perl syntax",
        &s[..s.len() - t.len()],
    ))
}

/// An escape outside a class: assertions, `\Q..\E`, classes, single characters.
fn escape_atom(t: &str) -> Result<&str, String> {
    let rest = &t[1..];
    match rest.chars().next() {
        Some('A' | 'b' | 'B' | 'z' | 'd' | 'D' | 's' | 'S' | 'w' | 'W') => Ok(&t[2..]),
        Some('C') => Err(err("invalid escape sequence", "\\C")),
        Some('Q') => Ok(match rest[1..].find("\\E") {
            Some(i) => &rest[1 + i + 2..],
            None => "",
        }),
        Some('p' | 'P') => unicode_class(t),
        _ => escape(t).map(|(_, r)| r),
    }
}

/// `\pL`, `\p{Name}`: the rest (names are checked by the regex engine).
fn unicode_class(t: &str) -> Result<&str, String> {
    let rest = &t[2..];
    match rest.chars().next() {
        None => Err(err("invalid character class range", t)),
        Some('{') => match rest.find('}') {
            Some(i) => Ok(&rest[i + 1..]),
            None => Err(err("invalid character class range", t)),
        },
        Some(c) => Ok(&rest[c.len_utf8()..]),
    }
}

/// A single-character escape (Go's `parseEscape`): (character, rest).
fn escape(s: &str) -> Result<(char, &str), String> {
    let t = &s[1..];
    let Some(c) = t.chars().next() else {
        return Err(err("trailing backslash at end of expression", ""));
    };
    let mut rest = &t[c.len_utf8()..];
    let bad = |rest: &str| err("invalid escape sequence", &s[..s.len() - rest.len()]);
    match c {
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c, rest)),
        '1'..='7' if !rest.starts_with(|d: char| ('0'..='7').contains(&d)) => Err(bad(rest)),
        '0'..='7' => {
            let mut v = c as u32 - '0' as u32;
            for _ in 0..2 {
                match rest.chars().next() {
                    Some(d @ '0'..='7') => {
                        v = v * 8 + (d as u32 - '0' as u32);
                        rest = &rest[1..];
                    }
                    _ => break,
                }
            }
            Ok((char::from_u32(v).unwrap_or('\0'), rest))
        }
        'x' => {
            if let Some(r) = rest.strip_prefix('{') {
                let n = r.chars().take_while(char::is_ascii_hexdigit).count();
                let tail = &r[n..];
                match tail.strip_prefix('}') {
                    Some(after) if n > 0 => match u32::from_str_radix(&r[..n], 16)
                        .ok()
                        .filter(|v| *v <= 0x10FFFF)
                        .and_then(char::from_u32)
                    {
                        Some(ch) => Ok((ch, after)),
                        None => Err(bad(after)),
                    },
                    _ => Err(bad(tail)),
                }
            } else {
                let h: Vec<char> = rest.chars().take(2).collect();
                if h.len() == 2 && h.iter().all(char::is_ascii_hexdigit) {
                    let v = u32::from_str_radix(&rest[..2], 16).unwrap_or(0);
                    Ok((char::from_u32(v).unwrap_or('\0'), &rest[2..]))
                } else {
                    let consumed = h.iter().take_while(|c| c.is_ascii_hexdigit()).count();
                    let skip: usize = rest.chars().take(consumed + 1).map(char::len_utf8).sum();
                    Err(bad(&rest[skip.min(rest.len())..]))
                }
            }
        }
        'a' => Ok(('\x07', rest)),
        'f' => Ok(('\x0c', rest)),
        'n' => Ok(('\n', rest)),
        'r' => Ok(('\r', rest)),
        't' => Ok(('\t', rest)),
        'v' => Ok(('\x0b', rest)),
        _ => Err(bad(rest)),
    }
}

/// A bracketed class starting at `[`: the rest after `]`.
fn class(s: &str) -> Result<&str, String> {
    let whole_class = s;
    let mut t = &s[1..];
    if t.starts_with('^') {
        t = &t[1..];
    }
    let mut first = true;
    while t.is_empty() || !t.starts_with(']') || first {
        first = false;
        if t.len() > 2 && t.starts_with("[:") {
            if let Some(end) = t[2..].find(":]") {
                let name = &t[2..2 + end];
                let name = name.strip_prefix('^').unwrap_or(name);
                if !POSIX_CLASSES.contains(&name) {
                    return Err(err("invalid character class range", &t[..2 + end + 2]));
                }
                t = &t[2 + end + 2..];
                continue;
            }
        }
        if t.starts_with("\\p") || t.starts_with("\\P") {
            t = unicode_class(t)?;
            continue;
        }
        if t.len() >= 2 && t.starts_with('\\') && "dDsSwW".contains(&t[1..2]) {
            t = &t[2..];
            continue;
        }
        let rng = t;
        let (lo, rest) = class_char(t, whole_class)?;
        t = rest;
        if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
            let (hi, rest) = class_char(&t[1..], whole_class)?;
            t = rest;
            if hi < lo {
                return Err(err(
                    "invalid character class range",
                    &rng[..rng.len() - t.len()],
                ));
            }
        }
    }
    Ok(&t[1..])
}

fn class_char<'a>(s: &'a str, whole_class: &str) -> Result<(char, &'a str), String> {
    match s.chars().next() {
        None => Err(err("missing closing ]", whole_class)),
        Some('\\') => escape(s),
        Some(c) => Ok((c, &s[c.len_utf8()..])),
    }
}

#[cfg(test)]
mod tests {
    use super::syntax_error;

    #[test]
    fn go_regexp_error_texts() {
        let e = |re: &str| syntax_error(re).unwrap_or_default();
        assert_eq!(e("("), "error parsing regexp: missing closing ): `(`");
        assert_eq!(e("a)"), "error parsing regexp: unexpected ): `a)`");
        assert_eq!(
            e("a\\"),
            "error parsing regexp: trailing backslash at end of expression: ``"
        );
        assert_eq!(
            e("*"),
            "error parsing regexp: missing argument to repetition operator: `*`"
        );
        assert_eq!(
            e("a**"),
            "error parsing regexp: invalid nested repetition operator: `**`"
        );
        assert_eq!(e("[a"), "error parsing regexp: missing closing ]: `[a`");
        assert_eq!(
            e("[z-a]"),
            "error parsing regexp: invalid character class range: `z-a`"
        );
        assert_eq!(
            e("\\q"),
            "error parsing regexp: invalid escape sequence: `\\q`"
        );
        assert_eq!(
            e("a{1001}"),
            "error parsing regexp: invalid repeat count: `{1001}`"
        );
        assert_eq!(
            e("(?z)"),
            "error parsing regexp: invalid or unsupported Perl syntax: `(?z`"
        );
        assert_eq!(
            e("(?P<>a)"),
            "error parsing regexp: invalid named capture: `(?P<>`"
        );
        assert_eq!(
            e("[[:foo:]]"),
            "error parsing regexp: invalid character class range: `[:foo:]`"
        );
        assert_eq!(
            e("|*"),
            "error parsing regexp: missing argument to repetition operator: `*`"
        );
        for ok in [
            "a.*",
            "(a|b)+",
            "[]a]",
            "a{,5}",
            "x{2}?",
            "\\d+",
            "[[:alpha:]]",
            "\\Qa*\\E",
        ] {
            assert_eq!(syntax_error(ok), None, "{ok}");
        }
    }
}
