//! Flag groups that several services declare, as Thanos registers them once
//! (`extkingpin.RegisterHTTPFlags`, `grpcConfig`,
//! `RegisterCommonObjStoreFlags`, `RegisterSelectorRelabelFlags`). A service
//! mounts one with `#[command(flatten)] #[serde(flatten)]`, so flag names,
//! config-file keys and `AEON_*` variables stay those of the single flags.

use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::flags::{GoDuration, ListenAddr, PromDuration};
use crate::relabel::Relabeler;

mod compat;

pub use crate::telemetry::TelemetryArgs;
pub use compat::{BlockDiscoveryArgs, BlockViewerArgs, HashFuncArgs, RequestLoggingArgs};

/// `--http-address`, `--http-grace-period`, `--http.config`.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct HttpArgs {
    /// Listen host:port for HTTP endpoints (`:port` = every interface).
    #[arg(long = "http-address", default_value = "0.0.0.0:10902")]
    pub http_address: ListenAddr,
    /// Time to wait after an interrupt received for HTTP Server.
    #[arg(long = "http-grace-period", default_value = "2m")]
    pub http_grace_period: PromDuration,
    /// [EXPERIMENTAL] Path to the configuration file that can enable TLS or
    /// authentication for all HTTP endpoints (Prometheus's web config:
    /// `tls_server_config`, `http_server_config`, `basic_auth_users`).
    #[arg(long = "http.config", default_value = "")]
    #[serde(default)]
    pub http_config: String,
}

impl HttpArgs {
    /// Binds `--http-address`.
    pub async fn bind(&self) -> Result<tokio::net::TcpListener> {
        self.http_address.bind("http server").await
    }

    /// `--http.config`, read and checked now (None when not given).
    pub fn web_config(&self) -> Result<Option<crate::web::WebConfig>> {
        if self.http_config.is_empty() {
            return Ok(None);
        }
        crate::web::WebConfig::load(std::path::Path::new(&self.http_config)).map(Some)
    }
}

/// `--grpc-address`, `--grpc-grace-period`,
/// `--grpc-server-max-connection-age` and the server TLS flags
/// ([`GrpcServerTlsArgs`]).
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct GrpcArgs {
    /// Listen ip:port address for gRPC endpoints (StoreAPI); `:port` = every
    /// interface.
    #[arg(long = "grpc-address", default_value = "0.0.0.0:10901")]
    pub grpc_address: ListenAddr,
    /// Time to wait after an interrupt received for GRPC Server.
    #[arg(long = "grpc-grace-period", default_value = "2m")]
    pub grpc_grace_period: GoDuration,
    /// The grpc server max connection age. This controls how often to
    /// re-establish connections and redo TLS handshakes.
    #[arg(long = "grpc-server-max-connection-age", default_value = "60m")]
    pub grpc_server_max_connection_age: GoDuration,
    /// `--grpc-server-tls-*`.
    #[command(flatten)]
    #[serde(flatten)]
    pub tls: GrpcServerTlsArgs,
}

impl GrpcArgs {
    /// Binds `--grpc-address`.
    pub async fn bind(&self) -> Result<tokio::net::TcpListener> {
        self.grpc_address.bind("grpc server").await
    }
}

pub use crate::tls::args::{GrpcClientTlsArgs, GrpcServerTlsArgs};

/// `--objstore.config-file`, `--objstore.config`.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
pub struct ObjstoreArgs {
    /// Path to YAML file that contains object store configuration
    /// (`$(VAR)` references are expanded).
    #[arg(long = "objstore.config-file")]
    pub objstore_config_file: Option<PathBuf>,
    /// Alternative to 'objstore.config-file' flag (mutually exclusive).
    /// Content of YAML file that contains object store configuration.
    #[arg(long = "objstore.config")]
    pub objstore_config: Option<String>,
}

impl ObjstoreArgs {
    /// The YAML text (variables expanded) and where it came from, or `None`
    /// when neither flag is given.
    pub fn yaml(&self) -> Result<Option<(String, String)>> {
        crate::config::inline_or_file(
            self.objstore_config.as_deref(),
            self.objstore_config_file.as_deref(),
            "objstore.config",
            "objstore.config-file",
        )
    }
}

/// `--selector.relabel-config-file`, `--selector.relabel-config`.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
pub struct SelectorRelabelArgs {
    /// Path to YAML file with relabeling configuration that selects the
    /// blocks to act on by their external labels (and `__block_id`).
    #[arg(long = "selector.relabel-config-file")]
    pub selector_relabel_config_file: Option<PathBuf>,
    /// Alternative to 'selector.relabel-config-file' flag (mutually
    /// exclusive). Content of the relabeling YAML.
    #[arg(long = "selector.relabel-config")]
    pub selector_relabel_config: Option<String>,
}

impl SelectorRelabelArgs {
    /// The relabel YAML (variables expanded) and its origin, if given.
    pub fn yaml(&self) -> Result<Option<(String, String)>> {
        crate::config::inline_or_file(
            self.selector_relabel_config.as_deref(),
            self.selector_relabel_config_file.as_deref(),
            "selector.relabel-config",
            "selector.relabel-config-file",
        )
    }

    /// The parsed relabeller; keeps every block when no config is given.
    pub fn relabeler(&self) -> Result<Relabeler> {
        match self.yaml()? {
            Some((text, origin)) => Relabeler::parse(&text, &origin),
            None => Ok(Relabeler::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser, Serialize, Deserialize)]
    struct Svc {
        #[command(flatten)]
        #[serde(flatten)]
        http: HttpArgs,
        #[command(flatten)]
        #[serde(flatten)]
        grpc: GrpcArgs,
        #[command(flatten)]
        #[serde(flatten)]
        objstore: ObjstoreArgs,
        #[command(flatten)]
        #[serde(flatten)]
        relabel: SelectorRelabelArgs,
    }

    #[test]
    fn groups_keep_thanos_names_and_defaults() {
        let a = Svc::try_parse_from(["svc"]).unwrap();
        assert_eq!(a.http.http_address.to_string(), "0.0.0.0:10902");
        assert_eq!(a.http.http_grace_period.to_string(), "2m");
        assert_eq!(a.grpc.grpc_address.to_string(), "0.0.0.0:10901");
        assert_eq!(a.grpc.grpc_grace_period.0.as_secs(), 120);
        assert_eq!(a.grpc.grpc_server_max_connection_age.0.as_secs(), 3600);
        assert!(a.objstore.yaml().unwrap().is_none());
        assert!(a.relabel.yaml().unwrap().is_none());
        let a = Svc::try_parse_from([
            "svc",
            "--http-address=:10902",
            "--grpc-address=[::]:10901",
            "--grpc-grace-period=1.5m",
            "--objstore.config=type: FILESYSTEM",
        ])
        .unwrap();
        assert_eq!(a.http.http_address.port(), 10902);
        assert_eq!(a.grpc.grpc_address.host(), "::");
        assert_eq!(a.grpc.grpc_grace_period.0.as_secs(), 90);
        assert_eq!(
            a.objstore.yaml().unwrap().unwrap(),
            (
                "type: FILESYSTEM".to_string(),
                "--objstore.config".to_string()
            )
        );
        let e = Svc::try_parse_from(["svc", "--grpc-address=10901"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--grpc-address") && e.contains("10901"), "{e}");
    }

    #[test]
    fn groups_layer_through_config_file_and_env() {
        use clap::CommandFactory;
        let m = Svc::command()
            .try_get_matches_from(["svc", "--grpc-grace-period=10s"])
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.yaml");
        std::fs::write(
            &file,
            "http-address: \":19191\"\ngrpc-grace-period: 1m\nobjstore.config: \"type: $(KIND)\"\n",
        )
        .unwrap();
        let env = [("AEON_GRPC_ADDRESS".to_string(), "localhost:0".to_string())];
        let a: Svc = crate::config::load_with_env(&m, Some(&file), env).unwrap();
        assert_eq!(a.http.http_address.to_string(), ":19191");
        assert_eq!(a.grpc.grpc_address.to_string(), "localhost:0");
        assert_eq!(a.grpc.grpc_grace_period.0.as_secs(), 10, "flag wins");
        assert_eq!(a.objstore.objstore_config.as_deref(), Some("type: $(KIND)"));
    }
}
