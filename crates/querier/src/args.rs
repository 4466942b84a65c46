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
    /// [no effect in Aeon] The endpoint config is read at start-up. Thanos:
    /// interval between endpoint config refreshes.
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
    /// [no effect in Aeon] Aeon's PromQL engine runs the selects of a query
    /// one after another, so at most one is in flight (always within the
    /// bound). Thanos: maximum number of select requests made concurrently
    /// per a query.
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
    /// Prefix for API and UI endpoints (e.g. `/thanos`). Defaults to the
    /// value of --web.external-prefix.
    #[arg(long = "web.route-prefix", default_value = "")]
    #[serde(default)]
    pub web_route_prefix: String,
    /// Static prefix for all HTML links and redirect URLs in the UI (a path
    /// or a URL, whose path is used). Endpoints are still served on / or
    /// --web.route-prefix, so the UI can sit behind a reverse proxy that
    /// strips a sub-path.
    #[arg(long = "web.external-prefix", default_value = "")]
    #[serde(default)]
    pub web_external_prefix: String,
    /// Deduplication algorithm: penalty or chain.
    #[arg(long = "deduplication.func", value_enum, default_value = "penalty")]
    pub deduplication_func: DedupFunc,
    /// Query selector labels that will be exposed in info endpoint
    /// (`name="value"`, repeated): added to every label set the querier
    /// announces; Store API requests whose matchers contradict them get
    /// nothing, and matchers on them are dropped before fan-out.
    #[arg(long = "selector-label", action = ArgAction::Append)]
    #[serde(default)]
    pub selector_label: Vec<String>,
    /// Thanos's flags that Aeon accepts without implementing them.
    #[command(flatten)]
    #[serde(flatten)]
    pub compat: CompatArgs,
    /// `--request.logging-config-file`, `--request.logging-config`.
    #[command(flatten)]
    #[serde(flatten)]
    pub request_logging: aeon_common::args::RequestLoggingArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub telemetry: TelemetryArgs,
    /// YAML file with flag values (keys are flag names).
    #[arg(long = "config-file")]
    pub config_file: Option<PathBuf>,
}

/// Flags of `thanos query` that Aeon added for compatibility: most are
/// marked no effect (logged at start-up) or not supported (a start-up error
/// when set to anything but its default); `--web.prefix-header` works.
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
pub struct CompatArgs {
    /// Name of HTTP request header used for dynamic prefixing of UI links
    /// (the path of its value). Ignored if --web.external-prefix is set.
    /// Security risk: enable it only if a reverse proxy in front of Aeon
    /// resets the header (e.g. X-Forwarded-Prefix).
    #[arg(long = "web.prefix-header", default_value = "")]
    #[serde(default)]
    pub web_prefix_header: String,
    /// [no effect in Aeon] Aeon sets no CORS headers, so there are none to
    /// disable. Thanos: whether to disable CORS headers to be set by Thanos.
    #[arg(long = "web.disable-cors")]
    #[serde(default)]
    pub web_disable_cors: bool,
    /// [no effect in Aeon] Aeon has one PromQL engine of its own, used for
    /// both values. Thanos: default PromQL engine to use (prometheus,
    /// thanos).
    #[arg(long = "query.promql-engine", default_value = "prometheus",
          value_parser = ["prometheus", "thanos"])]
    pub query_promql_engine: String,
    /// [not supported by Aeon] Aeon has no xrate, xincrease, xdelta. Thanos:
    /// whether to enable extended rate functions.
    #[arg(long = "query.enable-x-functions")]
    #[serde(default)]
    pub query_enable_x_functions: bool,
    /// [not supported by Aeon] Only local query mode is implemented. Thanos:
    /// PromQL query mode. One of: local, distributed.
    #[arg(long = "query.mode", default_value = "local", value_parser = ["local", "distributed"])]
    pub query_mode: String,
    /// [no effect in Aeon] Aeon's endpoint metrics have fixed labels.
    /// Thanos: optional selection of query connection metric labels to be
    /// collected from endpoint set.
    #[arg(long = "query.conn-metric.label", action = ArgAction::Append,
          default_values = ["external_labels", "store_type"])]
    pub query_conn_metric_label: Vec<String>,
    /// [not supported by Aeon] Used by distributed query mode only. Thanos:
    /// labels that partition the leaf queriers.
    #[arg(long = "query.partition-label", action = ArgAction::Append)]
    #[serde(default)]
    pub query_partition_label: Vec<String>,
    /// [not supported by Aeon] Aeon's metadata APIs without start/end cover
    /// all time. Thanos: default metadata time range duration for
    /// retrieving labels through Labels and Series API.
    #[arg(long = "query.metadata.default-time-range", default_value = "0s")]
    pub query_metadata_default_time_range: PromDuration,
    /// [no effect in Aeon] Aeon keeps no active query log. Thanos: directory
    /// to log currently active queries in the queries.active file.
    #[arg(long = "query.active-query-path", default_value = "")]
    #[serde(default)]
    pub query_active_query_path: String,
    /// [not supported by Aeon] No experimental features. Thanos: comma
    /// separated feature names to enable (promql-experimental-functions).
    #[arg(long = "enable-feature", action = ArgAction::Append, value_delimiter = ',')]
    #[serde(default)]
    pub enable_feature: Vec<String>,
    /// [not supported by Aeon] The querier queries every endpoint. Thanos:
    /// path to YAML file with relabeling configuration that allows selecting
    /// blocks to query based on their external labels.
    #[arg(long = "selector.relabel-config-file")]
    pub selector_relabel_config_file: Option<PathBuf>,
    /// [not supported by Aeon] The querier queries every endpoint. Thanos:
    /// alternative to 'selector.relabel-config-file' flag.
    #[arg(long = "selector.relabel-config")]
    pub selector_relabel_config: Option<String>,
    /// [no effect in Aeon] Aeon's UI has no alerts page. Thanos: the
    /// external Thanos Query URL that would be set in all alerts 'Source'
    /// field.
    #[arg(long = "alert.query-url")]
    pub alert_query_url: Option<String>,
    /// [no effect in Aeon] Aeon exports histograms with fixed buckets.
    /// Thanos: the quantiles for exporting metrics about the request
    /// duration quantiles.
    #[arg(long = "query.telemetry.request-duration-seconds-quantiles", action = ArgAction::Append,
          default_values = ["0.1", "0.25", "0.75", "1.25", "1.75", "2.5", "3", "5", "10"])]
    pub query_telemetry_request_duration_seconds_quantiles: Vec<f64>,
    /// [no effect in Aeon] Aeon exports histograms with fixed buckets.
    /// Thanos: the quantiles for exporting metrics about the samples count
    /// quantiles.
    #[arg(long = "query.telemetry.request-samples-quantiles", action = ArgAction::Append,
          default_values = ["100", "1000", "10000", "100000", "1000000"])]
    pub query_telemetry_request_samples_quantiles: Vec<f64>,
    /// [no effect in Aeon] Aeon exports histograms with fixed buckets.
    /// Thanos: the quantiles for exporting metrics about the series count
    /// quantiles.
    #[arg(long = "query.telemetry.request-series-seconds-quantiles", action = ArgAction::Append,
          default_values = ["10", "100", "1000", "10000", "100000"])]
    pub query_telemetry_request_series_seconds_quantiles: Vec<f64>,
    /// [not supported by Aeon] Aeon has no tenancy. Thanos: HTTP header to
    /// determine tenant.
    #[arg(long = "query.tenant-header", default_value = "THANOS-TENANT")]
    pub query_tenant_header: String,
    /// [not supported by Aeon] Aeon has no tenancy. Thanos: default tenant
    /// ID to use if tenant header is not present.
    #[arg(long = "query.default-tenant-id", default_value = "default-tenant")]
    pub query_default_tenant_id: String,
    /// [not supported by Aeon] Aeon has no tenancy. Thanos: use TLS client's
    /// certificate field to determine tenant.
    #[arg(long = "query.tenant-certificate-field", default_value = "")]
    #[serde(default)]
    pub query_tenant_certificate_field: String,
    /// [not supported by Aeon] Aeon has no tenancy. Thanos: enforce tenancy
    /// on Query APIs.
    #[arg(long = "query.enforce-tenancy")]
    #[serde(default)]
    pub query_enforce_tenancy: bool,
    /// [not supported by Aeon] Aeon has no tenancy. Thanos: label name to
    /// use when enforcing tenancy.
    #[arg(long = "query.tenant-label-name", default_value = "tenant_id")]
    pub query_tenant_label_name: String,
    /// [not supported by Aeon] Aeon does not load-balance endpoint groups.
    /// Thanos: DNS name of statically configured Store API servers that are
    /// load-balanced (repeated).
    #[arg(long = "endpoint-group", action = ArgAction::Append)]
    #[serde(default)]
    pub endpoint_group: Vec<String>,
    /// [not supported by Aeon] Aeon does not load-balance endpoint groups.
    /// Thanos: like --endpoint-group, always used even when unhealthy.
    #[arg(long = "endpoint-group-strict", action = ArgAction::Append)]
    #[serde(default)]
    pub endpoint_group_strict: Vec<String>,
    /// [not supported by Aeon] The querier does not limit series per query.
    /// Thanos: the maximum series allowed for a single Series request. 0
    /// means no limit.
    #[arg(long = "store.limits.request-series", default_value_t = 0)]
    pub store_limits_request_series: u64,
    /// [not supported by Aeon] The querier does not limit samples per query.
    /// Thanos: the maximum samples allowed for a single Series request. 0
    /// means no limit.
    #[arg(long = "store.limits.request-samples", default_value_t = 0)]
    pub store_limits_request_samples: u64,
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

    /// The route prefix normalised to `""` or `/x` (no trailing slash);
    /// `--web.external-prefix` when not given, as in Thanos.
    pub fn route_prefix(&self) -> String {
        if self.web_route_prefix.is_empty() {
            self.external_prefix()
        } else {
            normalise_prefix(&self.web_route_prefix)
        }
    }

    /// The path prefix of the UI's links: `--web.external-prefix` (the path
    /// of a URL), else the route prefix.
    pub fn link_prefix(&self) -> String {
        if self.web_external_prefix.is_empty() {
            self.route_prefix()
        } else {
            self.external_prefix()
        }
    }

    /// `--web.prefix-header`, when set and `--web.external-prefix` is not.
    pub fn prefix_header(&self) -> Option<String> {
        let h = self.compat.web_prefix_header.trim();
        (!h.is_empty() && self.web_external_prefix.is_empty()).then(|| h.to_owned())
    }

    fn external_prefix(&self) -> String {
        let p = self.web_external_prefix.trim();
        // `http://host/x` → `/x`, as Thanos's SanitizePrefix keeps the path.
        let path = match p.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
            None => p,
        };
        normalise_prefix(path)
    }

    /// `--selector-label` as sorted `(name, value)` pairs; values are Go
    /// quoted strings (`cluster="eu"`), as Thanos parses them.
    pub fn selector_labels(&self) -> crate::Result<Vec<(String, String)>> {
        let bad = |l: &str, why: &str| crate::Error::Flag {
            flag: "selector-label",
            reason: format!("{l:?}: {why}"),
        };
        let mut out: Vec<(String, String)> = Vec::new();
        for l in &self.selector_label {
            let (name, quoted) = l
                .split_once('=')
                .ok_or_else(|| bad(l, "expected name=\"value\""))?;
            let valid_name = name
                .chars()
                .enumerate()
                .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
            if name.is_empty() || !valid_name {
                return Err(bad(l, "invalid label name"));
            }
            let value =
                if let Some(raw) = quoted.strip_prefix('`').and_then(|v| v.strip_suffix('`')) {
                    raw.to_owned()
                } else if quoted.starts_with('"') {
                    serde_json::from_str::<String>(quoted)
                        .map_err(|e| bad(l, &format!("unquote label value: {e}")))?
                } else {
                    return Err(bad(l, "the value must be quoted (name=\"value\")"));
                };
            out.retain(|(n, _)| n != name);
            out.push((name.to_owned(), value));
        }
        out.sort();
        Ok(out)
    }
}

/// `x`, `/x/` → `/x`; empty and `/` → empty.
fn normalise_prefix(p: &str) -> String {
    let p = p.trim().trim_end_matches('/');
    if p.is_empty() {
        String::new()
    } else if p.starts_with('/') {
        p.to_owned()
    } else {
        format!("/{p}")
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
