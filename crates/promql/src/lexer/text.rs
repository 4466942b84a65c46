//! Text helpers with Go's and Prometheus's exact behaviour: string
//! unquoting, Go's `%q`, Prometheus durations.

/// Invalid UTF-8 bytes from `\x` escapes are kept as private-use characters so
/// that error messages can print them back as `\xNN` like Go's `%q`.
pub(crate) const RAW_BYTE_BASE: u32 = 0x10_FF00;

fn raw_byte(c: char) -> Option<u8> {
    let u = c as u32;
    (RAW_BYTE_BASE..=RAW_BYTE_BASE + 0xFF)
        .contains(&u)
        .then(|| (u - RAW_BYTE_BASE) as u8)
}

/// Whether `s` is valid UTF-8 in the Go sense (no raw bytes from `\x` escapes).
pub(crate) fn is_valid_utf8(s: &str) -> bool {
    !s.chars().any(|c| raw_byte(c).is_some())
}

/// Go's `unicode.IsPrint`, closely enough for error messages: letters,
/// marks, numbers, punctuation, symbols and the ASCII space.
pub(crate) fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let u = c as u32;
    !(c.is_control()
        || c.is_whitespace()
        || (0xE000..=0xF8FF).contains(&u)
        || u >= 0xF0000
        || matches!(u, 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xD800..=0xDFFF)
        || (u & 0xFFFE) == 0xFFFE)
}

fn quote_char(out: &mut String, c: char, quote: char) {
    if let Some(b) = raw_byte(c) {
        out.push_str(&format!("\\x{b:02x}"));
        return;
    }
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if is_go_printable(c) => out.push(c),
        c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Quotes like Go's `%q` / `strconv.Quote`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        quote_char(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Quotes a character like Go's `%q` of a rune (`strconv.QuoteRune`); the
/// lexer's end-of-input marker prints as Go's invalid rune.
pub(crate) fn go_quote_rune(c: char) -> String {
    let c = if c == '\u{10FFFF}' { '\u{FFFD}' } else { c };
    let mut out = String::from("'");
    quote_char(&mut out, c, '\'');
    out.push('\'');
    out
}

/// The value of a string token as written (quotes included), like
/// Prometheus's `strutil.Unquote`; `Err` is Go's "invalid syntax".
pub(crate) fn unquote(s: &str) -> Result<String, ()> {
    let b = s.as_bytes();
    let n = b.len();
    if n < 2 || b[0] != b[n - 1] {
        return Err(());
    }
    let q = b[0];
    let inner = &s[1..n - 1];
    if q == b'`' {
        return if inner.contains('`') {
            Err(())
        } else {
            Ok(inner.to_string())
        };
    }
    if q != b'"' && q != b'\'' || inner.contains('\n') {
        return Err(());
    }
    let ib = inner.as_bytes();
    let mut bytes: Vec<u8> = Vec::with_capacity(ib.len());
    let mut i = 0;
    while i < ib.len() {
        let c = ib[i];
        if c == q {
            return Err(());
        }
        if c != b'\\' {
            bytes.push(c);
            i += 1;
            continue;
        }
        let e = *ib.get(i + 1).ok_or(())?;
        i += 2;
        match e {
            b'a' => bytes.push(7),
            b'b' => bytes.push(8),
            b'f' => bytes.push(12),
            b'n' => bytes.push(b'\n'),
            b'r' => bytes.push(b'\r'),
            b't' => bytes.push(b'\t'),
            b'v' => bytes.push(11),
            b'\\' => bytes.push(b'\\'),
            b'"' | b'\'' if e == q => bytes.push(e),
            b'x' | b'u' | b'U' | b'0'..=b'7' => {
                let (len, radix) = match e {
                    b'x' => (2, 16),
                    b'u' => (4, 16),
                    b'U' => (8, 16),
                    _ => (3, 8),
                };
                let from = if radix == 8 { i - 1 } else { i };
                let digits = inner.get(from..from + len).ok_or(())?;
                let v = u32::from_str_radix(digits, radix).map_err(|_| ())?;
                i = from + len;
                if e == b'x' || radix == 8 {
                    bytes.push(u8::try_from(v).map_err(|_| ())?);
                } else {
                    let ch = char::from_u32(v).ok_or(())?;
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
            }
            _ => return Err(()),
        }
    }
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => decode_lossless(e.as_bytes()),
    })
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

const UNITS: [(&str, u64, u8); 7] = [
    ("ms", 1_000_000, 7),
    ("s", 1_000_000_000, 6),
    ("m", 60_000_000_000, 5),
    ("h", 3_600_000_000_000, 4),
    ("d", 86_400_000_000_000, 3),
    ("w", 604_800_000_000_000, 2),
    ("y", 31_536_000_000_000_000, 1),
];

/// Prometheus's `model.ParseDuration` in nanoseconds, with its error texts.
pub(crate) fn go_duration_ns(s: &str) -> Result<i64, String> {
    match s {
        "0" => return Ok(0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", go_quote(s));
    let b = s.as_bytes();
    let mut i = 0;
    let mut dur: u64 = 0;
    let mut last_unit = 0u8;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            return Err(invalid());
        }
        let ds = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let v: u64 = s[ds..i].parse().map_err(|_| invalid())?;
        let us = i;
        while i < b.len() && !b[i].is_ascii_digit() {
            i += 1;
        }
        if i == us {
            return Err(invalid());
        }
        let u = &s[us..i];
        let Some(&(_, mult, pos)) = UNITS.iter().find(|(n, _, _)| *n == u) else {
            return Err(format!(
                "unknown unit {} in duration {}",
                go_quote(u),
                go_quote(s)
            ));
        };
        if pos <= last_unit {
            return Err(invalid());
        }
        last_unit = pos;
        if v > (1u64 << 63) / mult {
            return Err("duration out of range".into());
        }
        dur = dur.wrapping_add(v * mult);
        if dur > (1u64 << 63) - 1 {
            return Err("duration out of range".into());
        }
    }
    Ok(dur as i64)
}

/// Parses a Prometheus duration such as `1h30m` (no sign). Returns milliseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return None;
    }
    go_duration_ns(s).ok().map(|ns| ns / 1_000_000)
}
