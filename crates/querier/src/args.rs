//! Command-line flags of `aeon query`, with Thanos's names and defaults.

use std::path::PathBuf;
use std::time::Duration;

use aeon_common::flags::{GoDuration, PromDuration};
use aeon_common::telemetry::TelemetryArgs;
use clap::ArgAction;
use serde::{Deserialize, Serialize};

/// How series of HA replicas are merged (`--deduplication.func`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DedupFunc {
    /// Stick to one replica, switch only after a gap larger than the penalty.
    #[default]
    Penalty,
    /// 1:1 union of all samples of all replicas.
    Chain,
}

/// Flags of the querier (`thanos query` compatible).
#[derive(Debug, Clone, clap::Parser, Serialize, Deserialize)]
#[command(
    name = "query",
    about = "Query node exposing the Prometheus HTTP API over data retrieved from Store API endpoints"
)]
pub struct Args {
    /// `--http-address` (API, UI, metrics), `--http-grace-period`.
    #[command(flatten)]
    #[serde(flatten)]
    pub http: aeon_common::args::HttpArgs,
    /// `--grpc-address` (Info and Store API proxy), `--grpc-grace-period`,
    /// `--grpc-server-max-connection-age`.
    #[command(flatten)]
    #[serde(flatten)]
    pub grpc: aeon_common::args::GrpcArgs,
    /// `--grpc-client-tls-*`, `--grpc-client-server-name`: how Store API
    /// endpoints are dialled.
    #[command(flatten)]
    #[serde(flatten)]
    pub grpc_client: aeon_common::args::GrpcClientTlsArgs,
    /// Store API endpoints (repeatable): `host:port`, `dns+host:port` (A and
    /// AAAA lookup), `dnssrv+_grpc._tcp.name` (SRV, then A/AAAA of each
    /// target, port from SRV), `dnssrvnoa+_grpc._tcp.name` (SRV targets used
    /// as host names). `--store` is the older spelling.
    #[arg(long = "endpoint", visible_alias = "store", action = ArgAction::Append)]
    #[serde(default)]
    pub endpoint: Vec<String>,
    /// Endpoints that are always queried, even when unhealthy.
    #[arg(long = "endpoint-strict", visible_alias = "store-strict", action = ArgAction::Append)]
    #[serde(default)]
    pub endpoint_strict: Vec<String>,
    /// Path to the endpoint config file: endpoints with their own gRPC
    /// client settings (`default_client_config`, `endpoints[].address`,
    /// `strict`, `client_config.tls_config`, `server_name`).
    #[arg(long = "endpoint.sd-config-file")]
    #[serde(default)]
    pub endpoint_sd_config_file: Option<PathBuf>,
    /// Alternative to 'endpoint.sd-config-file' flag (mutually exclusive).
    /// Content of the endpoint config file.
    #[arg(long = "endpoint.sd-config")]
    #[serde(default)]
    pub endpoint_sd_config: Option<String>,
    /// Interval between endpoint config refreshes (accepted; the file is
    /// read at start-up).
    #[arg(long = "endpoint.sd-config-reload-interval", default_value = "5m")]
    pub endpoint_sd_config_reload_interval: PromDuration,
    /// Files (glob patterns allowed) in Prometheus file_sd format listing endpoints.
    #[arg(long = "store.sd-files", action = ArgAction::Append)]
    #[serde(default)]
    pub store_sd_files: Vec<String>,
    /// Kubernetes discovery (repeatable): `<namespace>/<service>:<port>`
    /// watches the EndpointSlices of a Service (label
    /// `kubernetes.io/service-name`) and uses `ip:port` of every ready
    /// endpoint, `<port>` being the Service port name (e.g. `grpc`) or number.
    /// `<namespace>` may be a comma-separated list, or `*` for all
    /// namespaces. Example: `--endpoint.k8s=monitoring/aeon-store-gateway:grpc`.
    /// Needs get/list/watch on `endpointslices` (discovery.k8s.io).
    #[arg(long = "endpoint.k8s", action = ArgAction::Append, value_name = "NAMESPACE/SERVICE:PORT")]
    #[serde(default)]
    pub endpoint_k8s: Vec<String>,
    /// Like `--endpoint.k8s` with a label selector of EndpointSlices instead
    /// of a Service name (repeatable): `<namespace>/<selector>:<port>`, e.g.
    /// `*/app.kubernetes.io/component=sidecar:grpc`.
    #[arg(long = "endpoint.k8s-selector", action = ArgAction::Append, value_name = "NAMESPACE/SELECTOR:PORT")]
    #[serde(default)]
    pub endpoint_k8s_selector: Vec<String>,
    /// kubeconfig file for `--endpoint.k8s*`. Default: the in-cluster
    /// service account, else `$KUBECONFIG` or `~/.kube/config`.
    #[arg(long = "k8s.kubeconfig")]
    #[serde(default)]
    pub k8s_kubeconfig: Option<PathBuf>,
    /// Re-read interval of the file SD files.
    #[arg(long = "store.sd-interval", default_value = "5m")]
    pub store_sd_interval: PromDuration,
    /// Interval between DNS resolutions of `dns+`/`dnssrv+` endpoints (and
    /// of picking up Kubernetes discovery changes).
    #[arg(long = "store.sd-dns-interval", default_value = "30s")]
    pub store_sd_dns_interval: PromDuration,
    /// If a store sends no data for this long it is ignored (partial
    /// response) or fails the query (abort). 0 disables the timeout.
    #[arg(long = "store.response-timeout", default_value = "0ms")]
    pub store_response_timeout: PromDuration,
    /// Timeout before an unhealthy store is removed from the stores page.
    #[arg(long = "store.unhealthy-timeout", default_value = "5m")]
    pub store_unhealthy_timeout: PromDuration,
    /// Labels treated as replica indicators for deduplication (repeatable,
    /// or comma separated).
    #[arg(long = "query.replica-label", action = ArgAction::Append, value_delimiter = ',')]
    #[serde(default)]
    pub query_replica_label: Vec<String>,
    /// Enable partial response when no `partial_response` parameter is given.
    #[arg(long = "query.partial-response", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", overrides_with = "no_query_partial_response")]
    pub query_partial_response: bool,
    /// Disable partial response by default (`--no-query.partial-response`).
    #[arg(long = "no-query.partial-response", action = ArgAction::SetTrue, overrides_with = "query_partial_response")]
    #[serde(default)]
    pub no_query_partial_response: bool,
    /// Maximum time to process a query.
    #[arg(long = "query.timeout", default_value = "2m")]
    pub query_timeout: PromDuration,
    /// Maximum number of queries processed concurrently.
    #[arg(long = "query.max-concurrent", default_value_t = 20)]
    pub query_max_concurrent: usize,
    /// Maximum number of concurrent selects per query.
    #[arg(long = "query.max-concurrent-select", default_value_t = 4)]
    pub query_max_concurrent_select: usize,
    /// How far back an instant selector looks for a sample.
    #[arg(long = "query.lookback-delta", default_value = "5m")]
    pub query_lookback_delta: GoDuration,
    /// Use `step / 5` as max_source_resolution when the parameter is absent.
    #[arg(long = "query.auto-downsampling", action = ArgAction::SetTrue)]
    #[serde(default)]
    pub query_auto_downsampling: bool,
    /// Default step of range queries in the UI.
    #[arg(long = "query.default-step", default_value = "1s")]
    pub query_default_step: PromDuration,
    /// Default step of subqueries without one.
    #[arg(long = "query.default-evaluation-interval", default_value = "1m")]
    pub query_default_evaluation_interval: PromDuration,
    /// Prefix for API and UI endpoints (e.g. `/thanos`).
    #[arg(long = "web.route-prefix", default_value = "")]
    #[serde(default)]
    pub web_route_prefix: String,
    /// Static prefix for HTML links (accepted for compatibility).
    #[arg(long = "web.external-prefix", default_value = "")]
    #[serde(default)]
    pub web_external_prefix: String,
    /// Deduplication algorithm: penalty or chain.
    #[arg(long = "deduplication.func", value_enum, default_value = "penalty")]
    pub deduplication_func: DedupFunc,
    /// Labels exposed in the Info endpoint (`name="value"`, repeatable).
    #[arg(long = "selector-label", action = ArgAction::Append)]
    #[serde(default)]
    pub selector_label: Vec<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub telemetry: TelemetryArgs,
    /// YAML file with flag values (keys are flag names).
    #[arg(long = "config-file")]
    pub config_file: Option<PathBuf>,
}

impl Args {
    /// Whether partial response (WARN) is the default.
    /// `--endpoint.sd-config(-file)` read and checked, laid over the
    /// `--grpc-client-*` flags (an empty config without either flag).
    pub(crate) fn endpoint_config(&self) -> crate::Result<crate::endpoint_config::EndpointConfig> {
        let text = aeon_common::config::inline_or_file(
            self.endpoint_sd_config.as_deref(),
            self.endpoint_sd_config_file.as_deref(),
            "endpoint.sd-config",
            "endpoint.sd-config-file",
        )?;
        match text {
            Some((text, origin)) => crate::endpoint_config::EndpointConfig::parse(
                &text,
                &origin,
                &self.grpc_client.spec(),
            ),
            None => Ok(crate::endpoint_config::EndpointConfig::default()),
        }
    }

    pub fn partial_response_default(&self) -> bool {
        self.query_partial_response && !self.no_query_partial_response
    }

    /// The per-store response timeout, `None` when disabled (0).
    pub fn store_timeout(&self) -> Option<Duration> {
        let d = self.store_response_timeout.0;
        (!d.is_zero()).then_some(d)
    }

    /// Replica labels, trimmed, without empties and duplicates.
    pub fn replica_labels(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for l in &self.query_replica_label {
            let l = l.trim();
            if !l.is_empty() && !out.iter().any(|o| o == l) {
                out.push(l.to_owned());
            }
        }
        out
    }

    /// The route prefix normalised to `""` or `/x` (no trailing slash).
    pub fn route_prefix(&self) -> String {
        let p = self.web_route_prefix.trim_end_matches('/');
        if p.is_empty() {
            String::new()
        } else if p.starts_with('/') {
            p.to_owned()
        } else {
            format!("/{p}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(argv: &[&str]) -> Args {
        let mut v = vec!["query"];
        v.extend_from_slice(argv);
        Args::try_parse_from(v).unwrap()
    }

    #[test]
    fn defaults_match_thanos() {
        let a = parse(&[]);
        assert_eq!(a.http.http_address.to_string(), "0.0.0.0:10902");
        assert_eq!(a.grpc.grpc_address.to_string(), "0.0.0.0:10901");
        assert_eq!(a.store_sd_interval.0, Duration::from_secs(300));
        assert_eq!(a.store_sd_dns_interval.0, Duration::from_secs(30));
        assert_eq!(a.query_timeout.0, Duration::from_secs(120));
        assert_eq!(a.query_max_concurrent, 20);
        assert_eq!(a.query_lookback_delta.0, Duration::from_secs(300));
        assert_eq!(a.query_default_step.0, Duration::from_secs(1));
        assert_eq!(a.store_unhealthy_timeout.0, Duration::from_secs(300));
        assert_eq!(a.store_timeout(), None);
        assert!(a.partial_response_default());
        assert!(!a.query_auto_downsampling);
        assert_eq!(a.deduplication_func, DedupFunc::Penalty);
        assert!(a.endpoint.is_empty() && a.replica_labels().is_empty());
        assert_eq!(a.route_prefix(), "");
    }

    #[test]
    fn seed_command_with_two_stores_parses() {
        let a = parse(&[
            "--http-address",
            "0.0.0.0:19192",
            "--store",
            "1.2.3.4:19090",
            "--store",
            "1.2.3.5:19090",
        ]);
        assert_eq!(a.http.http_address.to_string(), "0.0.0.0:19192");
        assert_eq!(a.endpoint, ["1.2.3.4:19090", "1.2.3.5:19090"]);
        let a = parse(&["--endpoint=a:1", "--store=b:2", "--endpoint", "dns+c:3"]);
        assert_eq!(a.endpoint, ["a:1", "b:2", "dns+c:3"]);
    }

    #[test]
    fn kubernetes_discovery_flags() {
        let a = parse(&[]);
        assert!(a.endpoint_k8s.is_empty() && a.k8s_kubeconfig.is_none());
        let a = parse(&[
            "--endpoint.k8s=monitoring/aeon-store:grpc",
            "--endpoint.k8s",
            "*/sidecars:10901",
            "--endpoint.k8s-selector=ns/app=x:grpc",
            "--k8s.kubeconfig=/k/config",
        ]);
        assert_eq!(
            a.endpoint_k8s,
            ["monitoring/aeon-store:grpc", "*/sidecars:10901"]
        );
        assert_eq!(a.endpoint_k8s_selector, ["ns/app=x:grpc"]);
        assert_eq!(
            a.k8s_kubeconfig.as_deref(),
            Some(std::path::Path::new("/k/config"))
        );
    }

    #[test]
    fn replica_labels_repeatable_and_comma_lists() {
        let a = parse(&[
            "--query.replica-label=replica",
            "--query.replica-label",
            "rx,ry",
            "--query.replica-label=replica",
        ]);
        assert_eq!(a.replica_labels(), ["replica", "rx", "ry"]);
    }

    #[test]
    fn partial_response_flags() {
        assert!(!parse(&["--no-query.partial-response"]).partial_response_default());
        assert!(parse(&["--query.partial-response"]).partial_response_default());
        assert!(!parse(&["--query.partial-response=false"]).partial_response_default());
    }

    #[test]
    fn durations_and_enums() {
        let a = parse(&[
            "--store.response-timeout=250ms",
            "--deduplication.func=chain",
            "--web.route-prefix=thanos/",
        ]);
        assert_eq!(a.store_timeout(), Some(Duration::from_millis(250)));
        assert_eq!(a.deduplication_func, DedupFunc::Chain);
        assert_eq!(a.route_prefix(), "/thanos");
        assert!(Args::try_parse_from(["query", "--deduplication.func=quorum"]).is_err());
        assert!(Args::try_parse_from(["query", "--query.timeout=soon"]).is_err());
    }

    #[test]
    fn layered_config_accepts_the_args() {
        let m = <Args as clap::CommandFactory>::command()
            .try_get_matches_from(["query", "--store=x:1"])
            .unwrap();
        let a: Args = aeon_common::config::load_with_env(
            &m,
            None,
            [("AEON_QUERY_MAX_CONCURRENT".to_string(), "7".to_string())],
        )
        .unwrap();
        assert_eq!(a.endpoint, ["x:1"]);
        assert_eq!(a.query_max_concurrent, 7);
    }
}
