//! Hand-written PromQL lexer: turns query text into tokens with byte positions.

use crate::error::{Error, Result};

/// A token kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Number(f64),
    /// A duration literal in milliseconds.
    Duration(i64),
    Str(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Colon,
    Assign,
    Eql,
    Neq,
    EqlRegex,
    NeqRegex,
    Lss,
    Lte,
    Gtr,
    Gte,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    At,
    Eof,
}

impl Tok {
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("identifier {s:?}"),
            Tok::Number(n) => format!("number \"{n}\""),
            Tok::Duration(_) => "duration".to_string(),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::LParen => "\"(\"".into(),
            Tok::RParen => "\")\"".into(),
            Tok::LBrace => "\"{\"".into(),
            Tok::RBrace => "\"}\"".into(),
            Tok::LBracket => "\"[\"".into(),
            Tok::RBracket => "\"]\"".into(),
            Tok::Comma => "\",\"".into(),
            Tok::Colon => "\":\"".into(),
            Tok::Assign => "\"=\"".into(),
            Tok::Eof => "end of input".into(),
            Tok::At => "\"@\"".into(),
            other => format!("operator {other:?}"),
        }
    }
}

/// A token and its byte offset.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

/// Formats a byte offset of `input` as Prometheus's `line:col`.
pub(crate) fn position(input: &str, pos: usize) -> String {
    let pos = pos.min(input.len());
    let before = &input.as_bytes()[..pos];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = match before.iter().rposition(|&b| b == b'\n') {
        Some(i) => pos - i,
        None => pos + 1,
    };
    format!("{line}:{col}")
}

pub(crate) fn err(input: &str, pos: usize, msg: impl Into<String>) -> Error {
    Error::Parse {
        pos: position(input, pos),
        msg: msg.into(),
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// Splits `input` into tokens.
pub(crate) fn lex(input: &str) -> Result<Vec<Token>> {
    let b = input.as_bytes();
    let mut out = Vec::with_capacity(16);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let tok = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'{' => Tok::LBrace,
            b'}' => Tok::RBrace,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b',' => Tok::Comma,
            b'@' => Tok::At,
            b'+' => Tok::Add,
            b'-' => Tok::Sub,
            b'*' => Tok::Mul,
            b'/' => Tok::Div,
            b'%' => Tok::Mod,
            b'^' => Tok::Pow,
            b'=' => match b.get(i + 1) {
                Some(b'=') => {
                    i += 1;
                    Tok::Eql
                }
                Some(b'~') => {
                    i += 1;
                    Tok::EqlRegex
                }
                _ => Tok::Assign,
            },
            b'!' => match b.get(i + 1) {
                Some(b'=') => {
                    i += 1;
                    Tok::Neq
                }
                Some(b'~') => {
                    i += 1;
                    Tok::NeqRegex
                }
                _ => return Err(err(input, i, "unexpected character after '!': ''")),
            },
            b'<' => {
                if b.get(i + 1) == Some(&b'=') {
                    i += 1;
                    Tok::Lte
                } else {
                    Tok::Lss
                }
            }
            b'>' => {
                if b.get(i + 1) == Some(&b'=') {
                    i += 1;
                    Tok::Gte
                } else {
                    Tok::Gtr
                }
            }
            b':' if !b.get(i + 1).is_some_and(|&n| is_ident_start(n)) => Tok::Colon,
            b'"' | b'\'' | b'`' => {
                let (s, end) = lex_string(input, i)?;
                i = end;
                out.push(Token {
                    tok: Tok::Str(s),
                    pos: start,
                });
                continue;
            }
            b'0'..=b'9' | b'.' => {
                let (t, end) = lex_number(input, i)?;
                i = end;
                out.push(Token { tok: t, pos: start });
                continue;
            }
            c if is_ident_start(c) => {
                while i < b.len() && is_ident_char(b[i]) {
                    i += 1;
                }
                let word = &input[start..i];
                let lower = word.to_ascii_lowercase();
                let t = if lower == "inf" {
                    Tok::Number(f64::INFINITY)
                } else if lower == "nan" {
                    Tok::Number(f64::NAN)
                } else {
                    Tok::Ident(word.to_string())
                };
                out.push(Token { tok: t, pos: start });
                continue;
            }
            _ => {
                let ch = input[i..].chars().next().unwrap_or('?');
                return Err(err(input, i, format!("unexpected character: {ch:?}")));
            }
        };
        i += 1;
        out.push(Token { tok, pos: start });
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: input.len(),
    });
    Ok(out)
}

const UNITS: [(&str, i64); 7] = [
    ("ms", 1),
    ("s", 1000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
    ("w", 604_800_000),
    ("y", 31_536_000_000),
];

fn unit_at(b: &[u8], i: usize) -> Option<(usize, i64)> {
    for (u, mult) in UNITS {
        let ub = u.as_bytes();
        if b.len() >= i + ub.len() && &b[i..i + ub.len()] == ub {
            let after = i + ub.len();
            if after < b.len() && (b[after].is_ascii_alphabetic() || b[after] == b'_') {
                continue;
            }
            return Some((ub.len(), mult));
        }
    }
    None
}

/// Parses a Prometheus duration such as `1h30m` (no sign). Returns milliseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (ms, end) = scan_duration(b, 0)?;
    (end == b.len()).then_some(ms)
}

fn scan_duration(b: &[u8], mut i: usize) -> Option<(i64, usize)> {
    let mut total: i64 = 0;
    let mut any = false;
    loop {
        let ds = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == ds {
            break;
        }
        let n: i64 = std::str::from_utf8(&b[ds..i]).ok()?.parse().ok()?;
        match unit_at(b, i) {
            Some((len, mult)) => {
                total = total.checked_add(n.checked_mul(mult)?)?;
                i += len;
                any = true;
            }
            None => return None,
        }
    }
    any.then_some((total, i))
}

fn lex_number(input: &str, start: usize) -> Result<(Tok, usize)> {
    let b = input.as_bytes();
    // Duration?
    if b[start].is_ascii_digit() {
        let mut j = start;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j < b.len() && unit_at(b, j).is_some() {
            if let Some((ms, end)) = scan_duration(b, start) {
                if end < b.len() && (b[end].is_ascii_alphabetic() || b[end] == b'_') {
                    return Err(err(
                        input,
                        start,
                        format!("bad number or duration syntax: {:?}", &input[start..=end]),
                    ));
                }
                return Ok((Tok::Duration(ms), end));
            }
        }
    }
    let mut i = start;
    if b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
        i += 2;
        let ds = i;
        while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == b'_') {
            i += 1;
        }
        let digits: String = input[ds..i].chars().filter(|&c| c != '_').collect();
        let v = u64::from_str_radix(&digits, 16).map_err(|_| {
            err(
                input,
                start,
                format!("bad number or duration syntax: {:?}", &input[start..i]),
            )
        })?;
        return Ok((Tok::Number(v as f64), i));
    }
    let mut prev_digit = false;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            prev_digit = true;
            i += 1;
        } else if (c == b'_' && prev_digit && b.get(i + 1).is_some_and(|n| n.is_ascii_digit()))
            || c == b'.'
        {
            prev_digit = false;
            i += 1;
        } else if (c == b'e' || c == b'E')
            && (b.get(i + 1).is_some_and(|n| n.is_ascii_digit())
                || (matches!(b.get(i + 1), Some(b'+' | b'-'))
                    && b.get(i + 2).is_some_and(|n| n.is_ascii_digit())))
        {
            i += 2;
            prev_digit = true;
        } else {
            break;
        }
    }
    if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
        return Err(err(
            input,
            start,
            format!("bad number or duration syntax: {:?}", &input[start..=i]),
        ));
    }
    let text: String = input[start..i].chars().filter(|&c| c != '_').collect();
    let v: f64 = text.parse().map_err(|_| {
        err(
            input,
            start,
            format!("bad number or duration syntax: {:?}", &input[start..i]),
        )
    })?;
    Ok((Tok::Number(v), i))
}

/// Invalid UTF-8 bytes from `\x` escapes are kept as private-use characters so
/// that error messages can print them back as `\xNN` like Go's `%q`.
pub(crate) const RAW_BYTE_BASE: u32 = 0x10_FF00;

fn lex_string(input: &str, start: usize) -> Result<(String, usize)> {
    let b = input.as_bytes();
    let q = b[start];
    let mut i = start + 1;
    if q == b'`' {
        while i < b.len() && b[i] != b'`' {
            i += 1;
        }
        if i >= b.len() {
            return Err(err(input, start, "unterminated raw string"));
        }
        return Ok((input[start + 1..i].to_string(), i + 1));
    }
    let mut bytes: Vec<u8> = Vec::new();
    loop {
        if i >= b.len() || b[i] == b'\n' {
            return Err(err(input, start, "unterminated quoted string"));
        }
        let c = b[i];
        if c == q {
            i += 1;
            break;
        }
        if c == b'\\' {
            i += 1;
            let e = *b
                .get(i)
                .ok_or_else(|| err(input, i, "unterminated quoted string"))?;
            i += 1;
            match e {
                b'a' => bytes.push(7),
                b'b' => bytes.push(8),
                b'f' => bytes.push(12),
                b'n' => bytes.push(b'\n'),
                b'r' => bytes.push(b'\r'),
                b't' => bytes.push(b'\t'),
                b'v' => bytes.push(11),
                b'\\' => bytes.push(b'\\'),
                b'"' | b'\'' => bytes.push(e),
                b'x' | b'u' | b'U' | b'0'..=b'7' => {
                    let (n, radix) = match e {
                        b'x' => (2, 16),
                        b'u' => (4, 16),
                        b'U' => (8, 16),
                        _ => (3, 8),
                    };
                    let from = if radix == 8 { i - 1 } else { i };
                    let to = from + n;
                    let digits = input
                        .get(from..to)
                        .ok_or_else(|| err(input, i, "unknown escape sequence"))?;
                    let v = u32::from_str_radix(digits, radix)
                        .map_err(|_| err(input, i, "unknown escape sequence"))?;
                    i = to;
                    if e == b'x' || radix == 8 {
                        bytes.push(v as u8);
                    } else {
                        let ch = char::from_u32(v)
                            .ok_or_else(|| err(input, i, "invalid unicode code point"))?;
                        let mut buf = [0u8; 4];
                        bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                }
                _ => return Err(err(input, i - 2, "unknown escape sequence")),
            }
            continue;
        }
        bytes.push(c);
        i += 1;
    }
    let s = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => decode_lossless(e.as_bytes()),
    };
    Ok((s, i))
}

fn decode_lossless(mut bytes: &[u8]) -> String {
    let mut out = String::new();
    while !bytes.is_empty() {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let valid = e.valid_up_to();
                out.push_str(std::str::from_utf8(&bytes[..valid]).unwrap_or_default());
                let bad = e.error_len().unwrap_or(bytes.len() - valid);
                for &x in &bytes[valid..valid + bad] {
                    out.push(char::from_u32(RAW_BYTE_BASE + x as u32).unwrap_or('\u{FFFD}'));
                }
                bytes = &bytes[valid + bad..];
            }
        }
    }
    out
}

/// Whether `s` is valid UTF-8 in the Go sense (no raw bytes from `\x` escapes).
pub fn is_valid_utf8(s: &str) -> bool {
    !s.chars()
        .any(|c| (c as u32) >= RAW_BYTE_BASE && (c as u32) <= RAW_BYTE_BASE + 0xFF)
}

/// Quotes like Go's `%q`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        let u = c as u32;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            _ if (RAW_BYTE_BASE..=RAW_BYTE_BASE + 0xFF).contains(&u) => {
                out.push_str(&format!("\\x{:02x}", u - RAW_BYTE_BASE));
            }
            _ if c.is_control() => out.push_str(&format!("\\x{u:02x}")),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_numbers() {
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("30m1s"), Some(1_801_000));
        assert_eq!(parse_duration("5ms"), Some(5));
        let t = lex("0x1F 1_000 1e3 .5 5m").unwrap();
        let toks: Vec<_> = t.into_iter().map(|t| t.tok).collect();
        assert_eq!(
            toks,
            vec![
                Tok::Number(31.0),
                Tok::Number(1000.0),
                Tok::Number(1000.0),
                Tok::Number(0.5),
                Tok::Duration(300_000),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn strings_keep_raw_bytes() {
        let t = lex(r#""a\xc5z""#).unwrap();
        let Tok::Str(s) = &t[0].tok else { panic!() };
        assert!(!is_valid_utf8(s));
        assert_eq!(go_quote(s), r#""a\xc5z""#);
    }
}
