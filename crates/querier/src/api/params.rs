//! Request parameters: URL-encoded forms, Prometheus time and duration
//! values, Thanos booleans, and the parameters several endpoints share
//! (`query`, `match[]`, `start`/`end`, `limit`).

use aeon_model::Matcher;
use aeon_promql::Expr;

use super::error::ApiError;

/// Decoded `key=value` pairs of a query string and/or a form body.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one `application/x-www-form-urlencoded` component.
pub(crate) fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Params {
    /// Adds the pairs of an urlencoded string.
    pub(crate) fn extend_from_urlencoded(&mut self, s: &str) {
        for part in s.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            self.0.push((url_decode(k), url_decode(v)));
        }
    }

    /// Parses an urlencoded string.
    #[cfg(test)]
    pub(crate) fn from_urlencoded(s: &str) -> Self {
        let mut p = Self::default();
        p.extend_from_urlencoded(s);
        p
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first non-empty value of `key`.
    pub(crate) fn get_nonempty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// All values of `key` (for `match[]`, `replicaLabels[]`).
    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Prometheus's minimum and maximum API times (`minTime`/`maxTime` in
/// web/api/v1: year -292273086 and 292277025, in ms clamped by Go).
pub(crate) const MIN_TIME: i64 = -9_223_309_901_257_974;
pub(crate) const MAX_TIME: i64 = 9_223_309_901_257_974;

/// Parses a time: unix seconds (float) or RFC3339. Prometheus's error text.
pub(crate) fn parse_time(name: &str, s: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::bad_data(format!(
            "invalid parameter \"{name}\": cannot parse \"{s}\" to a valid timestamp"
        ))
    };
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() {
            return Err(bad());
        }
        let ms = (f * 1000.0).round();
        if ms < MIN_TIME as f64 || ms > MAX_TIME as f64 {
            return Err(bad());
        }
        return Ok(ms as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    // The formatted min/max times Prometheus clients send.
    match s {
        "-292273086-05-16T16:47:06Z" => Ok(MIN_TIME),
        "292277025-08-18T07:12:54.999999999Z" => Ok(MAX_TIME),
        _ => Err(bad()),
    }
}

/// Parses an optional time with a default.
///
/// A bad value gets Prometheus's `parseTimeParam` text: `invalid parameter
/// "time": invalid time value for 'time': cannot parse ...`.
pub(crate) fn time_or(p: &Params, name: &str, default: i64) -> Result<i64, ApiError> {
    match p.get_nonempty(name) {
        Some(s) => parse_time(name, s).map_err(|_| {
            ApiError::bad_data(format!(
                "invalid parameter \"{name}\": invalid time value for '{name}': \
                 cannot parse \"{s}\" to a valid timestamp"
            ))
        }),
        None => Ok(default),
    }
}

/// Parses a duration: float seconds or a Prometheus duration. In ms.
pub(crate) fn parse_duration(name: &str, s: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::bad_data(format!(
            "invalid parameter \"{name}\": cannot parse \"{s}\" to a valid duration"
        ))
    };
    if let Ok(f) = s.parse::<f64>() {
        let ms = (f * 1000.0).round();
        if !ms.is_finite() || ms.abs() > i64::MAX as f64 {
            return Err(bad());
        }
        return Ok(ms as i64);
    }
    aeon_promql::parse_duration(s).ok_or_else(bad)
}

/// Parses a Thanos boolean (`1, t, T, TRUE, true, True` and the false forms).
pub(crate) fn parse_bool(name: &str, s: &str) -> Result<bool, ApiError> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(ApiError::bad_data(format!(
            "invalid parameter \"{name}\": cannot parse \"{s}\" to a boolean"
        ))),
    }
}

/// An optional boolean with a default.
pub(crate) fn bool_or(p: &Params, name: &str, default: bool) -> Result<bool, ApiError> {
    match p.get_nonempty(name) {
        Some(s) => parse_bool(name, s),
        None => Ok(default),
    }
}

/// The `query` parameter, parsed.
pub(crate) fn query_param(p: &Params) -> Result<Expr, ApiError> {
    let q = p.get("query").unwrap_or_default();
    aeon_promql::parse(q)
        .map_err(|e| ApiError::bad_data(format!("invalid parameter \"query\": {e}")))
}

/// Every `match[]`, parsed as a series selector.
pub(crate) fn match_sets(p: &Params) -> Result<Vec<Vec<Matcher>>, ApiError> {
    p.all("match[]")
        .into_iter()
        .map(|s| match aeon_promql::parse(s) {
            Ok(Expr::Vector(vs)) => Ok(vs.matchers),
            Ok(_) => Err(ApiError::bad_data(format!(
                "invalid parameter \"match[]\": 1:1: parse error: expected vector selector in {s:?}"
            ))),
            Err(e) => Err(ApiError::bad_data(format!(
                "invalid parameter \"match[]\": {e}"
            ))),
        })
        .collect()
}

/// Optional `start` and `end` (the whole time range by default).
pub(crate) fn range_params(p: &Params) -> Result<(i64, i64), ApiError> {
    let start = time_or(p, "start", MIN_TIME)?;
    let end = time_or(p, "end", MAX_TIME)?;
    if end < start {
        return Err(ApiError::bad_data(
            "end timestamp must not be before start time",
        ));
    }
    Ok((start, end))
}

/// The optional `limit` (0: none).
pub(crate) fn limit_param(p: &Params) -> Result<usize, ApiError> {
    match p.get_nonempty("limit") {
        None => Ok(0),
        Some(s) => s.parse().map_err(|_| {
            ApiError::bad_data(format!(
                "invalid parameter \"limit\": cannot parse \"{s}\" to a valid limit"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded() {
        let p = Params::from_urlencoded(
            "query=rate(x%5B5m%5D)&match%5B%5D=a&match[]=b+c&empty=&flag&bad=%zz%4",
        );
        assert_eq!(p.get("query"), Some("rate(x[5m])"));
        assert_eq!(p.all("match[]"), ["a", "b c"]);
        assert_eq!(p.get("empty"), Some(""));
        assert_eq!(p.get_nonempty("empty"), None);
        assert_eq!(p.get("flag"), Some(""));
        assert_eq!(p.get("bad"), Some("%zz%4"));
    }

    #[test]
    fn times() {
        assert_eq!(
            parse_time("t", "1435781451.781").unwrap(),
            1_435_781_451_781
        );
        assert_eq!(parse_time("t", "1435781451").unwrap(), 1_435_781_451_000);
        assert_eq!(
            parse_time("t", "2015-07-01T20:10:51.781Z").unwrap(),
            1_435_781_451_781
        );
        assert_eq!(
            parse_time("t", "2015-07-01T22:10:51.781+02:00").unwrap(),
            1_435_781_451_781
        );
        let e = parse_time("start", "yesterday").unwrap_err();
        assert_eq!(
            e.message,
            "invalid parameter \"start\": cannot parse \"yesterday\" to a valid timestamp"
        );
        assert!(parse_time("t", "NaN").is_err() && parse_time("t", "1e300").is_err());
        assert_eq!(
            parse_time("t", "-292273086-05-16T16:47:06Z").unwrap(),
            MIN_TIME
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("step", "15").unwrap(), 15_000);
        assert_eq!(parse_duration("step", "0.5").unwrap(), 500);
        assert_eq!(parse_duration("step", "1m30s").unwrap(), 90_000);
        assert_eq!(parse_duration("step", "5m").unwrap(), 300_000);
        assert_eq!(
            parse_duration("step", "x").unwrap_err().message,
            "invalid parameter \"step\": cannot parse \"x\" to a valid duration"
        );
    }

    #[test]
    fn booleans() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert!(parse_bool("dedup", t).unwrap());
        }
        for f in ["0", "f", "false", "False"] {
            assert!(!parse_bool("dedup", f).unwrap());
        }
        assert!(parse_bool("dedup", "maybe").is_err());
    }
}
