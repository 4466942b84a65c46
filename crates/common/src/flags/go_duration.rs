//! Go's `time.Duration` syntax, for the Thanos flags declared with kingpin's
//! `.Duration()` (`--grpc-grace-period`, `--sync-block-duration`,
//! `--prometheus.ready_timeout`, …): decimal numbers with units ns, us (µs),
//! ms, s, m, h in any order (`1.5h`, `500ms`, `1h30m`, `0`). Days and weeks
//! are not Go units; those flags that take them are [`super::PromDuration`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::ParseError;

const GO_UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a duration as Go's `time.ParseDuration` does. Negative durations
/// are rejected: no Thanos flag of this type means anything by them.
pub fn parse_go_duration(s: &str) -> Result<Duration, ParseError> {
    let bad = |why: &str| {
        ParseError(format!(
            "invalid duration {s:?}: {why} (Go syntax: a number and a unit of ns, us, ms, s, m \
             or h, e.g. 1.5h, 500ms, 1h30m)"
        ))
    };
    let body = s.strip_prefix('+').unwrap_or(s);
    if body.starts_with('-') {
        return Err(bad("negative durations are not accepted"));
    }
    if body == "0" {
        return Ok(Duration::ZERO);
    }
    if body.is_empty() {
        return Err(bad("empty"));
    }
    let mut rest = body;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.bytes().take_while(u8::is_ascii_digit).count();
                a.split_at(n)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(bad("expected a number"));
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after.len(), |(i, _)| i);
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(bad("missing unit"));
        }
        let scale = GO_UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, n)| *n)
            .ok_or_else(|| bad(&format!("unknown unit {unit:?}")))?;
        let whole: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad("number too large"))?
        };
        let mut part = whole
            .checked_mul(scale)
            .ok_or_else(|| bad("out of range"))?;
        // The fraction, truncated to nanoseconds as Go does.
        let mut div = 1u128;
        let mut frac_ns = 0u128;
        for d in frac.bytes().take(18) {
            div *= 10;
            frac_ns = frac_ns * 10 + u128::from(d - b'0');
        }
        part += frac_ns * scale / div;
        total = total.checked_add(part).ok_or_else(|| bad("out of range"))?;
        rest = after;
    }
    // Go's limit: about 2562047h.
    if total > i64::MAX as u128 {
        return Err(bad("out of range"));
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Formats a duration as Go's `Duration.String` does (`1h30m0s`, `1.5s`,
/// `500ms`, `0s`).
pub fn format_go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    let frac = |v: u128, unit: u128| -> String {
        let (whole, rem) = (v / unit, v % unit);
        if rem == 0 {
            return whole.to_string();
        }
        let width = unit.ilog10() as usize;
        let digits = format!("{rem:0width$}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", frac(ns, 1_000));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", frac(ns, 1_000_000));
    }
    let (h, rem) = (ns / 3_600_000_000_000, ns % 3_600_000_000_000);
    let (m, rem) = (rem / 60_000_000_000, rem % 60_000_000_000);
    let s = frac(rem, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m{s}s"),
        (h, m) => format!("{h}h{m}m{s}s"),
    }
}

/// A Go duration usable as a flag, e.g. `--grpc-grace-period=1.5m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration(pub Duration);

impl FromStr for GoDuration {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        parse_go_duration(s).map(Self)
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_go_duration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        let ms = |s: &str| parse_go_duration(s).unwrap().as_millis();
        assert_eq!(ms("1.5h"), 5_400_000);
        assert_eq!(ms("500ms"), 500);
        assert_eq!(ms("1h30m"), 5_400_000);
        assert_eq!(ms("60m"), 3_600_000);
        assert_eq!(ms("0"), 0);
        assert_eq!(ms("0s"), 0);
        assert_eq!(ms("+5s"), 5_000);
        assert_eq!(ms(".5s"), 500);
        assert_eq!(ms("1.s"), 1_000);
        assert_eq!(ms("1s1h"), 3_601_000, "Go takes units in any order");
        assert_eq!(parse_go_duration("1.5us").unwrap().as_nanos(), 1_500);
        assert_eq!(parse_go_duration("2µs").unwrap().as_nanos(), 2_000);
        assert_eq!(parse_go_duration("7ns").unwrap().as_nanos(), 7);
        for bad in [
            "", "1", "h", "1d", "2w", "-1s", "1x", ".s", "1h-1m", "3000000h",
        ] {
            let e = parse_go_duration(bad);
            assert!(e.is_err(), "{bad:?} should fail");
        }
        let e = parse_go_duration("1d").unwrap_err().to_string();
        assert!(e.contains("\"1d\"") && e.contains("unit"), "{e}");
    }

    #[test]
    fn formats_like_go() {
        let f = |s: &str| format_go_duration(parse_go_duration(s).unwrap());
        assert_eq!(f("0"), "0s");
        assert_eq!(f("1h30m"), "1h30m0s");
        assert_eq!(f("60m"), "1h0m0s");
        assert_eq!(f("2m"), "2m0s");
        assert_eq!(f("1.5s"), "1.5s");
        assert_eq!(f("500ms"), "500ms");
        assert_eq!(f("1.5ms"), "1.5ms");
        assert_eq!(f("1500ns"), "1.5µs");
        assert_eq!(f("7ns"), "7ns");
        for s in ["1.5h", "500ms", "1h30m", "36h", "1.25s", "3µs"] {
            let d = parse_go_duration(s).unwrap();
            assert_eq!(parse_go_duration(&format_go_duration(d)).unwrap(), d, "{s}");
        }
    }
}
