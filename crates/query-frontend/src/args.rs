//! Command-line flags of `aeon query-frontend`, with Thanos's names and
//! defaults.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use aeon_common::flags::{GoDuration, ParseError, parse_go_duration};
use aeon_common::telemetry::TelemetryArgs;
use clap::ArgAction;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `--query-frontend.log-queries-longer-than`: a Go duration that may be
/// negative (`0` disables the slow-query log, `< 0` logs every query).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlowQueryThreshold(pub Option<Duration>);

impl FromStr for SlowQueryThreshold {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s.strip_prefix('-') {
            Some(rest) => parse_go_duration(rest).map(|_| Self(Some(Duration::ZERO))),
            None => parse_go_duration(s).map(|d| Self((!d.is_zero()).then_some(d))),
        }
    }
}

impl fmt::Display for SlowQueryThreshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("0s"),
            Some(d) if d.is_zero() => f.write_str("-1ns"),
            Some(d) => f.write_str(&GoDuration(d).to_string()),
        }
    }
}

impl Serialize for SlowQueryThreshold {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for SlowQueryThreshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Flags of the query frontend (`thanos query-frontend` compatible).
#[derive(Debug, Clone, clap::Parser, Serialize, Deserialize)]
#[command(
    name = "query-frontend",
    about = "Query frontend: splits, caches and retries range queries in front of queriers; every other API path is proxied"
)]
pub struct Args {
    /// `--http-address` (API, metrics), `--http-grace-period`.
    #[command(flatten)]
    #[serde(flatten)]
    pub http: aeon_common::args::HttpArgs,
    /// URL of the downstream Prometheus-compatible query API (a querier).
    #[arg(
        long = "query-frontend.downstream-url",
        default_value = "http://localhost:9090"
    )]
    pub downstream_url: String,
    /// Align start and end of range queries with their step (better cache
    /// hits; Grafana does it already).
    #[arg(long = "query-range.align-range-with-step", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", overrides_with = "no_align_range_with_step")]
    pub align_range_with_step: bool,
    /// `--no-query-range.align-range-with-step`.
    #[arg(long = "no-query-range.align-range-with-step", action = ArgAction::SetTrue,
          overrides_with = "align_range_with_step")]
    #[serde(default)]
    pub no_align_range_with_step: bool,
    /// Split range queries by this interval and run the parts in parallel
    /// (0 disables splitting; must be > 0 with a response cache).
    #[arg(long = "query-range.split-interval", default_value = "24h")]
    pub split_interval: GoDuration,
    /// Attempts per range-query part; after the last, the downstream error
    /// is returned. Only 5xx answers and connection failures are retried.
    #[arg(long = "query-range.max-retries-per-request", default_value_t = 5)]
    pub range_max_retries: u32,
    /// Attempts per instant query.
    #[arg(long = "query.max-retries-per-request", default_value_t = 5)]
    pub instant_max_retries: u32,
    /// Limit of `end - start` of a range query (0 disables).
    #[arg(long = "query-range.max-query-length", default_value = "0")]
    pub max_query_length: GoDuration,
    /// Parts of one range query run at the same time.
    #[arg(long = "query-range.max-query-parallelism", default_value_t = 14)]
    pub max_query_parallelism: usize,
    /// Results newer than `now - this` are never cached.
    #[arg(
        long = "query-range.response-cache-max-freshness",
        default_value = "1m"
    )]
    pub max_freshness: GoDuration,
    /// Partial response when the request has no `partial_response`.
    #[arg(long = "query-range.partial-response", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", overrides_with = "no_partial_response")]
    pub partial_response: bool,
    /// `--no-query-range.partial-response`.
    #[arg(long = "no-query-range.partial-response", action = ArgAction::SetTrue,
          overrides_with = "partial_response")]
    #[serde(default)]
    pub no_partial_response: bool,
    /// YAML file with the results cache (`type: IN-MEMORY|MEMCACHED|REDIS`,
    /// `config:`).
    #[arg(long = "query-range.response-cache-config-file")]
    #[serde(default)]
    pub response_cache_config_file: Option<PathBuf>,
    /// The same YAML inline.
    #[arg(long = "query-range.response-cache-config")]
    #[serde(default)]
    pub response_cache_config: Option<String>,
    /// Log queries slower than this (`0` disables, `< 0` logs all).
    #[arg(
        long = "query-frontend.log-queries-longer-than",
        default_value = "0",
        allow_hyphen_values = true
    )]
    pub log_queries_longer_than: SlowQueryThreshold,
    /// Request headers naming the tenant (org id) in the slow-query log and
    /// the cache key (repeatable; the first present wins).
    #[arg(long = "query-frontend.org-id-header", action = ArgAction::Append)]
    #[serde(default)]
    pub org_id_header: Vec<String>,
    /// Header naming the tenant when no `--query-frontend.org-id-header` is
    /// present.
    #[arg(
        long = "query-frontend.tenant-header",
        default_value = "THANOS-TENANT",
        hide = true
    )]
    pub tenant_header: String,
    /// Tenant of requests without a tenant header.
    #[arg(
        long = "query-frontend.default-tenant-id",
        default_value = "default-tenant",
        hide = true
    )]
    pub default_tenant: String,
    /// Request headers forwarded to the downstream with split range-query
    /// parts (repeatable). Proxied paths forward every header.
    #[arg(long = "query-frontend.forward-header", action = ArgAction::Append)]
    #[serde(default)]
    pub forward_header: Vec<String>,
    /// Shards per shardable query (aggregations by grouping labels, as
    /// Thanos's analyzer decides); each shard is asked with `shard_info` and
    /// the answers merged. 0 or 1: no vertical sharding.
    #[arg(long = "query-frontend.vertical-shards", default_value_t = 0)]
    #[serde(default)]
    pub vertical_shards: usize,
    /// Header whose value is the `remote_user` of the slow-query log (else
    /// empty).
    #[arg(long = "query-frontend.slow-query-logs-user-header")]
    #[serde(default)]
    pub slow_query_logs_user_header: Option<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub telemetry: TelemetryArgs,
    /// YAML file with flag values (keys are flag names).
    #[arg(long = "config-file")]
    pub config_file: Option<PathBuf>,
}

impl Args {
    /// Whether range queries are aligned with their step.
    pub fn align(&self) -> bool {
        self.align_range_with_step && !self.no_align_range_with_step
    }

    /// Whether partial response is the default.
    pub fn partial_response_default(&self) -> bool {
        self.partial_response && !self.no_partial_response
    }

    /// The split interval, `None` when splitting is off.
    pub fn split(&self) -> Option<Duration> {
        let d = self.split_interval.0;
        (d >= Duration::from_millis(1)).then_some(d)
    }

    /// The range limit, `None` when unlimited.
    pub fn max_length(&self) -> Option<Duration> {
        let d = self.max_query_length.0;
        (!d.is_zero()).then_some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(argv: &[&str]) -> Args {
        let mut v = vec!["query-frontend"];
        v.extend_from_slice(argv);
        Args::try_parse_from(v).unwrap()
    }

    #[test]
    fn defaults_match_thanos() {
        let a = parse(&[]);
        assert_eq!(a.http.http_address.to_string(), "0.0.0.0:10902");
        assert_eq!(a.downstream_url, "http://localhost:9090");
        assert!(a.align() && a.partial_response_default());
        assert_eq!(a.split(), Some(Duration::from_secs(86_400)));
        assert_eq!((a.range_max_retries, a.instant_max_retries), (5, 5));
        assert_eq!(a.max_length(), None);
        assert_eq!(a.max_query_parallelism, 14);
        assert_eq!(a.max_freshness.0, Duration::from_secs(60));
        assert_eq!(a.log_queries_longer_than.0, None);
        assert_eq!(a.tenant_header, "THANOS-TENANT");
        assert_eq!(a.vertical_shards, 0);
        assert!(a.response_cache_config.is_none() && a.response_cache_config_file.is_none());
    }

    #[test]
    fn negations_and_values() {
        let a = parse(&[
            "--no-query-range.align-range-with-step",
            "--no-query-range.partial-response",
            "--query-range.split-interval=0",
            "--query-range.max-query-length=168h",
            "--query-frontend.log-queries-longer-than=-1s",
            "--query-frontend.forward-header=X-A",
            "--query-frontend.forward-header=X-B",
        ]);
        assert!(!a.align() && !a.partial_response_default());
        assert_eq!(a.split(), None);
        assert_eq!(a.max_length(), Some(Duration::from_secs(168 * 3600)));
        assert_eq!(a.log_queries_longer_than.0, Some(Duration::ZERO));
        assert_eq!(a.forward_header, ["X-A", "X-B"]);
        let a = parse(&["--query-frontend.log-queries-longer-than=2.5s"]);
        assert_eq!(
            a.log_queries_longer_than.0,
            Some(Duration::from_millis(2500))
        );
        assert!(
            Args::try_parse_from(["query-frontend", "--query-range.split-interval=daily"]).is_err()
        );
    }

    #[test]
    fn layered_config_accepts_the_args() {
        let m = <Args as clap::CommandFactory>::command()
            .try_get_matches_from([
                "query-frontend",
                "--query-frontend.downstream-url=http://q:1",
            ])
            .unwrap();
        let a: Args = aeon_common::config::load_with_env(
            &m,
            None,
            [("AEON_MAX_QUERY_PARALLELISM".to_string(), "3".to_string())],
        )
        .unwrap();
        assert_eq!(a.downstream_url, "http://q:1");
        assert_eq!(a.max_query_parallelism, 3);
    }
}
