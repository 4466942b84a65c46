//! Number literals as Prometheus reads them: Go's `strconv.ParseInt(s, 0,
//! 64)` (so `0x1f` and octal `010` are integers), else `ParseFloat`, with
//! Go's error texts.

use crate::lexer::go_quote;

/// Go's `underscoreOK`: underscores only between digits (a base prefix
/// counts as a digit).
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut saw = b'^';
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1] | 0x20 == b'x';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// `strconv.ParseInt(s, 0, 64)` for the unsigned texts the lexer produces;
/// `None` on any error.
fn parse_int_base0(s: &str) -> Option<i64> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(o) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (o, 8)
    } else if let Some(b) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (b, 2)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if s.contains('_') && !underscore_ok(s) {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    let v = u64::from_str_radix(&clean, radix).ok()?;
    i64::try_from(v).ok()
}

/// `strconv.ParseFloat(s, 64)` for the lexer's number texts.
fn parse_float(s: &str) -> Result<f64, String> {
    let syntax = || {
        format!(
            "strconv.ParseFloat: parsing {}: invalid syntax",
            go_quote(s)
        )
    };
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => return Ok(f64::INFINITY),
        "-inf" | "-infinity" => return Ok(f64::NEG_INFINITY),
        "nan" => return Ok(f64::NAN),
        _ => {}
    }
    if lower.starts_with("0x") {
        // A hexadecimal float needs a `p` exponent, which the lexer never lets through.
        return Err(syntax());
    }
    if s.contains('_') && !underscore_ok(s) {
        return Err(syntax());
    }
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    if !clean
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return Err(syntax());
    }
    let v: f64 = clean.parse().map_err(|_| syntax())?;
    if v.is_infinite() {
        return Err(format!(
            "strconv.ParseFloat: parsing {}: value out of range",
            go_quote(s)
        ));
    }
    Ok(v)
}

/// Prometheus's `parser.number`: the value, or the error text.
pub(super) fn number(s: &str) -> Result<f64, String> {
    if let Some(i) = parse_int_base0(s) {
        return Ok(i as f64);
    }
    parse_float(s).map_err(|e| format!("error parsing number: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_go_reads_them() {
        assert_eq!(number("010"), Ok(8.0));
        assert_eq!(number("08"), Ok(8.0));
        assert_eq!(number("0x1F"), Ok(31.0));
        assert_eq!(number("0x_1f"), Ok(31.0));
        assert_eq!(number("1_000"), Ok(1000.0));
        assert_eq!(number("1_000.5"), Ok(1000.5));
        assert_eq!(number(".5"), Ok(0.5));
        assert_eq!(number("1e3"), Ok(1000.0));
        assert_eq!(number("Inf"), Ok(f64::INFINITY));
        assert!(number("NaN").unwrap().is_nan());
        assert_eq!(number("99999999999999999999"), Ok(1e20));
        assert_eq!(
            number("1e400").unwrap_err(),
            "error parsing number: strconv.ParseFloat: parsing \"1e400\": value out of range"
        );
        assert_eq!(
            number("0x").unwrap_err(),
            "error parsing number: strconv.ParseFloat: parsing \"0x\": invalid syntax"
        );
        assert_eq!(number("1e-400"), Ok(0.0));
    }
}
