//! `aeon sidecar` flags: Thanos's names and defaults (`thanos sidecar --help`, v0.42).

use std::path::PathBuf;

use aeon_common::flags::{GoDuration, PromDuration, TimeOrDuration};
use serde::{Deserialize, Serialize};

/// Flags of `aeon sidecar` (and the `aeon-sidecar` binary).
#[derive(Debug, Clone, clap::Parser, Serialize, Deserialize)]
#[command(
    name = "sidecar",
    about = "Sidecar for Prometheus server: Store API over remote read, block shipper, config reloader"
)]
pub struct Args {
    /// `--http-address`, `--http-grace-period`.
    #[command(flatten)]
    #[serde(flatten)]
    pub http: aeon_common::args::HttpArgs,

    /// `--grpc-address`, `--grpc-grace-period`, `--grpc-server-max-connection-age`.
    #[command(flatten)]
    #[serde(flatten)]
    pub grpc: aeon_common::args::GrpcArgs,

    /// URL at which to reach Prometheus's API.
    #[arg(long = "prometheus.url", default_value = "http://localhost:9090")]
    pub prometheus_url: String,

    /// Path to YAML file or string with http client configs for the calls
    /// to Prometheus (`tls_config`, `basic_auth`, `bearer_token(_file)`,
    /// `proxy_url`, `transport_config`; Thanos's format).
    #[arg(long = "prometheus.http-client-file")]
    #[serde(default)]
    pub prometheus_http_client_file: Option<PathBuf>,

    /// Alternative to 'prometheus.http-client-file' flag (mutually
    /// exclusive). Content of YAML file or string with http client configs.
    #[arg(long = "prometheus.http-client")]
    #[serde(default)]
    pub prometheus_http_client: Option<String>,

    /// Maximum time to wait for the Prometheus instance to start up (after it,
    /// the sidecar keeps trying but logs an error every round).
    #[arg(long = "prometheus.ready_timeout", default_value = "10m")]
    pub prometheus_ready_timeout: GoDuration,

    /// How often to get Prometheus config (external labels, lowest timestamp).
    #[arg(long = "prometheus.get_config_interval", default_value = "30s")]
    pub prometheus_get_config_interval: GoDuration,

    /// Timeout for getting Prometheus config.
    #[arg(long = "prometheus.get_config_timeout", default_value = "30s")]
    pub prometheus_get_config_timeout: GoDuration,

    /// Data directory of TSDB.
    #[arg(long = "tsdb.path", default_value = "./data")]
    pub tsdb_path: PathBuf,

    /// Config file watched by the reloader.
    #[arg(long = "reloader.config-file")]
    pub reloader_config_file: Option<PathBuf>,

    /// Output file for environment variable substituted config file.
    #[arg(long = "reloader.config-envsubst-file")]
    pub reloader_config_envsubst_file: Option<PathBuf>,

    /// Rule directories for the reloader to refresh (repeated field).
    #[arg(long = "reloader.rule-dir")]
    #[serde(default)]
    pub reloader_rule_dir: Vec<PathBuf>,

    /// Controls how often reloader re-reads config and rules.
    #[arg(long = "reloader.watch-interval", default_value = "3m")]
    pub reloader_watch_interval: GoDuration,

    /// Controls how often reloader retries config reload in case of error.
    #[arg(long = "reloader.retry-interval", default_value = "5s")]
    pub reloader_retry_interval: GoDuration,

    /// [not supported by Aeon] Only `http` (POST /-/reload) is implemented.
    /// Thanos: method used to reload the configuration (http, signal).
    #[arg(long = "reloader.method", default_value = "http", value_parser = ["http", "signal"])]
    pub reloader_method: String,

    /// [no effect in Aeon] Used only by `--reloader.method=signal`, which
    /// Aeon does not implement. Thanos: executable name used to match the
    /// process being reloaded when using the signal method.
    #[arg(long = "reloader.process-name", default_value = "prometheus")]
    pub reloader_process_name: String,

    /// `--request.logging-config-file`, `--request.logging-config`.
    #[command(flatten)]
    #[serde(flatten)]
    pub request_logging: aeon_common::args::RequestLoggingArgs,

    /// `--objstore.config-file`, `--objstore.config` (no bucket configured =
    /// no upload).
    #[command(flatten)]
    #[serde(flatten)]
    pub objstore: aeon_common::args::ObjstoreArgs,

    /// If true shipper will try to upload compacted blocks as well.
    #[arg(long = "shipper.upload-compacted")]
    #[serde(default)]
    pub shipper_upload_compacted: bool,

    /// `--hash-func`.
    #[command(flatten)]
    #[serde(flatten)]
    pub hash_func: aeon_common::args::HashFuncArgs,

    /// Number of block files uploaded concurrently (0, the default, and 1:
    /// one at a time).
    #[arg(long = "shipper.upload-concurrency", default_value_t = 0)]
    pub shipper_upload_concurrency: usize,

    /// The file to store shipper metadata in (inside --tsdb.path).
    #[arg(long = "shipper.meta-file-name", default_value = "thanos.shipper.json")]
    pub shipper_meta_file_name: String,

    /// How often the shipper looks for new blocks (Thanos: fixed 30s).
    #[arg(long = "shipper.sync-interval", default_value = "30s", hide = true)]
    pub shipper_sync_interval: PromDuration,

    /// The maximum series allowed for a single Series request. 0 means no limit.
    #[arg(long = "store.limits.request-series", default_value_t = 0)]
    pub store_limits_request_series: u64,

    /// The maximum samples allowed for a single Series request. 0 means no
    /// limit. Counted from the chunk headers (exact, not 120 per chunk).
    #[arg(long = "store.limits.request-samples", default_value_t = 0)]
    pub store_limits_request_samples: u64,

    /// Start of time range limit to serve: RFC3339 or a duration relative to
    /// now (e.g. -2w).
    #[arg(long = "min-time", default_value = "0000-01-01T00:00:00Z")]
    pub min_time: TimeOrDuration,

    /// Logging and tracing.
    #[command(flatten)]
    #[serde(flatten)]
    pub telemetry: aeon_common::telemetry::TelemetryArgs,

    /// YAML file with values for any of these flags (flags win).
    #[arg(long = "config-file")]
    pub config_file: Option<PathBuf>,
}

impl Args {
    /// `--prometheus.http-client(-file)`, parsed and checked (the default
    /// config when neither is given).
    pub fn prometheus_http_client(
        &self,
    ) -> aeon_common::Result<aeon_common::http_client::HttpClientConfig> {
        let text = aeon_common::config::inline_or_file(
            self.prometheus_http_client.as_deref(),
            self.prometheus_http_client_file.as_deref(),
            "prometheus.http-client",
            "prometheus.http-client-file",
        )?;
        match text {
            Some((text, origin)) => {
                aeon_common::http_client::HttpClientConfig::parse(&text, &origin)
            }
            None => Ok(aeon_common::http_client::HttpClientConfig::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::time::Duration;

    #[test]
    fn defaults_are_thanos_defaults() {
        let a = Args::try_parse_from(["sidecar"]).unwrap();
        assert_eq!(a.http.http_address.to_string(), "0.0.0.0:10902");
        assert_eq!(a.grpc.grpc_address.to_string(), "0.0.0.0:10901");
        assert_eq!(a.prometheus_url, "http://localhost:9090");
        assert_eq!(a.prometheus_ready_timeout.0, Duration::from_secs(600));
        assert_eq!(a.prometheus_get_config_interval.0, Duration::from_secs(30));
        assert_eq!(a.tsdb_path, PathBuf::from("./data"));
        assert_eq!(a.reloader_watch_interval.0, Duration::from_secs(180));
        assert_eq!(a.reloader_retry_interval.0, Duration::from_secs(5));
        assert_eq!(a.shipper_meta_file_name, "thanos.shipper.json");
        assert!(!a.shipper_upload_compacted);
        assert!(a.objstore.objstore_config_file.is_none() && a.objstore.objstore_config.is_none());
        assert_eq!(a.min_time, TimeOrDuration::MIN);
        assert_eq!(a.store_limits_request_series, 0);
    }

    #[test]
    fn seed_command_line_parses() {
        let a = Args::try_parse_from([
            "sidecar",
            "--tsdb.path",
            "/var/prometheus",
            "--objstore.config-file",
            "bucket.yml",
            "--prometheus.url",
            "http://localhost:9090",
            "--http-address",
            "0.0.0.0:19191",
            "--grpc-address",
            "0.0.0.0:19090",
        ])
        .unwrap();
        assert_eq!(a.tsdb_path, PathBuf::from("/var/prometheus"));
        assert_eq!(
            a.objstore.objstore_config_file,
            Some(PathBuf::from("bucket.yml"))
        );
        assert_eq!(a.http.http_address.to_string(), "0.0.0.0:19191");
        assert_eq!(a.grpc.grpc_address.to_string(), "0.0.0.0:19090");
    }

    #[test]
    fn reloader_rule_dirs_repeat_and_min_time_is_relative() {
        let a = Args::try_parse_from([
            "sidecar",
            "--reloader.rule-dir=/a",
            "--reloader.rule-dir=/b",
            "--min-time=-2h",
            "--shipper.upload-compacted",
            "--store.limits.request-series=10",
        ])
        .unwrap();
        assert_eq!(
            a.reloader_rule_dir,
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(a.min_time, TimeOrDuration::Relative(-7_200_000));
        assert!(a.shipper_upload_compacted);
        assert_eq!(a.store_limits_request_series, 10);
    }

    #[test]
    fn thanos_value_syntax_host_names_port_only_and_go_durations() {
        let a = Args::try_parse_from([
            "sidecar",
            "--grpc-address=:10901",
            "--http-address=localhost:10902",
            "--prometheus.url=https://prometheus.monitoring.svc:9090",
            "--prometheus.ready_timeout=1.5m",
            "--grpc-grace-period=500ms",
            "--reloader.watch-interval=1h30m",
        ])
        .unwrap();
        assert_eq!(a.grpc.grpc_address.port(), 10901);
        assert_eq!(a.http.http_address.host(), "localhost");
        assert_eq!(a.prometheus_ready_timeout.0, Duration::from_secs(90));
        assert_eq!(a.grpc.grpc_grace_period.0, Duration::from_millis(500));
        assert_eq!(a.reloader_watch_interval.0, Duration::from_secs(5400));
        // model durations stay model durations (`--http-grace-period` is one).
        assert!(Args::try_parse_from(["sidecar", "--http-grace-period=1.5m"]).is_err());
        assert!(Args::try_parse_from(["sidecar", "--prometheus.ready_timeout=1d"]).is_err());
    }

    #[test]
    fn layered_config_resolves_defaults() {
        let m = <Args as clap::CommandFactory>::command()
            .try_get_matches_from(["sidecar", "--grpc-address=127.0.0.1:0"])
            .unwrap();
        let a: Args = aeon_common::config::load_with_env(&m, None, Vec::new()).unwrap();
        assert_eq!(a.grpc.grpc_address.to_string(), "127.0.0.1:0");
        assert_eq!(a.http.http_address.to_string(), "0.0.0.0:10902");
        assert!(a.reloader_rule_dir.is_empty());
    }
}
