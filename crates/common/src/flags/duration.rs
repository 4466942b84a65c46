//! Durations: Prometheus's (`model.Duration`: `1d`, `2w`, `1h30m`), Go's
//! (`time.Duration`: `1.5h`, `500ms`, `1h30m`) and Thanos's time-or-duration
//! (`--min-time=-2w`). Each Thanos flag takes the one its Go source parses.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use aeon_model::DURATION_UNITS as UNITS;
use aeon_model::Timestamp;

use super::ParseError;

/// Parses a Prometheus duration (`model.ParseDuration`): one or more
/// `<int><unit>` parts with units y, w, d, h, m, s, ms in that order, or `0`.
pub fn parse_duration(s: &str) -> Result<Duration, ParseError> {
    let bad = |why: &str| ParseError(format!("invalid duration {s:?}: {why}"));
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(bad("empty"));
    }
    let (mut rest, mut total, mut last_unit) = (s, 0u64, None::<usize>);
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("expected a number"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| bad("number too large"))?;
        rest = &rest[digits..];
        // "ms" must be tried before "m".
        let unit = [6, 0, 1, 2, 3, 4, 5]
            .into_iter()
            .find(|&i| rest.starts_with(UNITS[i].0))
            .ok_or_else(|| bad("expected a unit of y, w, d, h, m, s or ms"))?;
        if last_unit.is_some_and(|l| l >= unit) {
            return Err(bad("units must appear once each, largest first"));
        }
        last_unit = Some(unit);
        rest = &rest[UNITS[unit].0.len()..];
        total = n
            .checked_mul(UNITS[unit].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| bad("duration out of range"))?;
    }
    Ok(Duration::from_millis(total))
}

/// Formats a duration the way Prometheus prints one (`1h30m`, `0s`).
pub fn format_duration(d: Duration) -> String {
    aeon_model::format_duration(d.as_millis() as u64)
}

/// A Prometheus duration usable as a flag, e.g. `--sync-block-duration=15m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PromDuration(pub Duration);

impl FromStr for PromDuration {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        parse_duration(s).map(Self)
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// A point in time given either as RFC3339 or as a duration relative to now
/// (`-2w` = two weeks ago, `1h` = an hour ahead), like Thanos's
/// `--min-time`/`--max-time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOrDuration {
    /// Absolute, in milliseconds since the epoch.
    Time(Timestamp),
    /// Relative to now, in milliseconds (negative = past).
    Relative(i64),
}

impl TimeOrDuration {
    /// Thanos's default `--min-time`: `0000-01-01T00:00:00Z`.
    pub const MIN: Self = Self::Time(-62_167_219_200_000);
    /// Thanos's default `--max-time`: `9999-12-31T23:59:59Z`.
    pub const MAX: Self = Self::Time(253_402_300_799_000);

    /// The millisecond timestamp this value denotes at `now_ms`.
    pub fn resolve(self, now_ms: Timestamp) -> Timestamp {
        match self {
            Self::Time(t) => t,
            Self::Relative(d) => now_ms.saturating_add(d),
        }
    }

    /// The millisecond timestamp this value denotes now.
    pub fn resolve_now(self) -> Timestamp {
        self.resolve(chrono::Utc::now().timestamp_millis())
    }
}

impl FromStr for TimeOrDuration {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
            return Ok(Self::Time(t.timestamp_millis()));
        }
        let (neg, d) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let d = parse_duration(d).map_err(|_| {
            ParseError(format!(
                "invalid time {s:?}: expected RFC3339 (2006-01-02T15:04:05Z) or a relative \
                 duration such as -2w or -1h (units ms, s, m, h, d, w, y)"
            ))
        })?;
        let ms = i64::try_from(d.as_millis())
            .map_err(|_| ParseError(format!("invalid time {s:?}: out of range")))?;
        Ok(Self::Relative(if neg { -ms } else { ms }))
    }
}

impl fmt::Display for TimeOrDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Time(t) => match chrono::DateTime::from_timestamp_millis(t) {
                Some(dt) => f.write_str(&dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
                None => write!(f, "{t}"),
            },
            Self::Relative(d) => {
                let sign = if d < 0 { "-" } else { "" };
                write!(
                    f,
                    "{sign}{}",
                    format_duration(Duration::from_millis(d.unsigned_abs()))
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            parse_duration("2w").unwrap(),
            Duration::from_secs(14 * 86400)
        );
        assert_eq!(
            parse_duration("1y").unwrap(),
            Duration::from_secs(365 * 86400)
        );
        assert_eq!(parse_duration("150ms").unwrap(), Duration::from_millis(150));
        assert_eq!(
            parse_duration("1m5s10ms").unwrap(),
            Duration::from_millis(65_010)
        );
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "1", "h", "1x", "1m1h", "1h1h", "-1h", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
        assert_eq!(
            format_duration(Duration::from_millis(5_400_010)),
            "1h30m10ms"
        );
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn time_or_duration() {
        let now = 1_700_000_000_000;
        let t: TimeOrDuration = "-2w".parse().unwrap();
        assert_eq!(t.resolve(now), now - 14 * 86_400_000);
        let t: TimeOrDuration = "-1h".parse().unwrap();
        assert_eq!(t.resolve(now), now - 3_600_000);
        let t: TimeOrDuration = "30m".parse().unwrap();
        assert_eq!(t.resolve(now), now + 1_800_000);
        let t: TimeOrDuration = "2024-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(t.resolve(now), 1_704_164_645_000);
        let t: TimeOrDuration = "2024-01-02T03:04:05.5+01:00".parse().unwrap();
        assert_eq!(t.resolve(now), 1_704_164_645_000 - 3_600_000 + 500);
        assert_eq!(TimeOrDuration::MIN.to_string(), "0000-01-01T00:00:00Z");
        assert_eq!(TimeOrDuration::MAX.to_string(), "9999-12-31T23:59:59Z");
        assert_eq!("-2w".parse::<TimeOrDuration>().unwrap().to_string(), "-2w");
        let e = "-2x".parse::<TimeOrDuration>().unwrap_err().to_string();
        assert!(e.contains("RFC3339") && e.contains("-2x"), "{e}");
        assert!("yesterday".parse::<TimeOrDuration>().is_err());
    }
}
