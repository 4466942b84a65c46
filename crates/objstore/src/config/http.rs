//! `http_config` and `tls_config` (shared by S3, GCS, Azure and the S3-compatible types) and Go
//! durations, with Thanos's defaults (`exthttp.DefaultHTTPConfig`). What each field does is in
//! [`crate::http`].

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// `http_config`: Thanos's HTTP transport settings (see [`crate::http`] for what each does).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)]
pub struct HttpConfig {
    pub idle_conn_timeout: GoDuration,
    pub response_header_timeout: GoDuration,
    pub insecure_skip_verify: bool,
    pub tls_handshake_timeout: GoDuration,
    pub expect_continue_timeout: GoDuration,
    pub max_idle_conns: u32,
    pub max_idle_conns_per_host: u32,
    pub max_conns_per_host: u32,
    pub tls_config: TlsConfig,
    pub disable_compression: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            idle_conn_timeout: GoDuration(Duration::from_secs(90)),
            response_header_timeout: GoDuration(Duration::from_secs(120)),
            insecure_skip_verify: false,
            tls_handshake_timeout: GoDuration(Duration::from_secs(10)),
            expect_continue_timeout: GoDuration(Duration::from_secs(1)),
            max_idle_conns: 100,
            max_idle_conns_per_host: 100,
            max_conns_per_host: 0,
            tls_config: TlsConfig::default(),
            disable_compression: false,
        }
    }
}

/// `http_config.tls_config` (see [`crate::http::tls`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)]
pub struct TlsConfig {
    pub ca_file: String,
    pub cert_file: String,
    pub key_file: String,
    pub server_name: String,
    pub insecure_skip_verify: bool,
}

/// A duration in Prometheus/Go notation (`1m30s`, `2m`, `500ms`, `1d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    /// Parses `1h30m`, `10s`, `250ms`, `0`, … (units y, w, d, h, m, s, ms, us/µs, ns).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s == "0" {
            return Some(Self(Duration::ZERO));
        }
        let mut total = Duration::ZERO;
        let mut rest = s;
        if rest.is_empty() {
            return None;
        }
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return None;
            }
            let n: u64 = rest[..digits].parse().ok()?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = match &rest[..unit_len] {
                "y" => Duration::from_secs(365 * 86_400),
                "w" => Duration::from_secs(7 * 86_400),
                "d" => Duration::from_secs(86_400),
                "h" => Duration::from_secs(3_600),
                "m" => Duration::from_secs(60),
                "s" => Duration::from_secs(1),
                "ms" => Duration::from_millis(1),
                "us" | "µs" => Duration::from_micros(1),
                "ns" => Duration::from_nanos(1),
                _ => return None,
            };
            rest = &rest[unit_len..];
            total = total.checked_add(unit.checked_mul(u32::try_from(n).ok()?)?)?;
        }
        Some(Self(total))
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        GoDuration::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid duration {s:?}, expected e.g. \"1m30s\", \"10s\" or \"500ms\""
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(
            GoDuration::parse("1m30s").unwrap().0,
            Duration::from_secs(90)
        );
        assert_eq!(
            GoDuration::parse("250ms").unwrap().0,
            Duration::from_millis(250)
        );
        assert_eq!(GoDuration::parse("0").unwrap().0, Duration::ZERO);
        assert_eq!(
            GoDuration::parse("1d").unwrap().0,
            Duration::from_secs(86_400)
        );
        for bad in ["", "1", "m", "1x", "1.5s", "-1s"] {
            assert!(GoDuration::parse(bad).is_none(), "{bad}");
        }
    }
}
