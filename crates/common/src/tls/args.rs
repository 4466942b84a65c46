//! The gRPC TLS flag groups, with Thanos's names, defaults and semantics
//! (`cmd/thanos/flags.go` `grpcConfig`/`grpcClientConfig`,
//! `pkg/tls.NewServerConfig`/`NewClientConfig`, `extgrpc.StoreClientTLSCredentials`).

use std::path::PathBuf;
use std::sync::Arc;

use clap::{ArgAction, Args};
use rustls::{ClientConfig, ServerConfig};
use serde::{Deserialize, Serialize};

use super::{
    ClientAuth, ClientSettings, ServerSettings, TlsVersion, client_config, server_config, tls_err,
};
use crate::Result;

/// ALPN of gRPC: grpc-go clients (Thanos ≥ 0.37) refuse a TLS server that
/// does not negotiate `h2`.
pub const ALPN_H2: &[u8] = b"h2";

fn some_path(s: &str) -> Option<PathBuf> {
    (!s.is_empty()).then(|| PathBuf::from(s))
}

/// `--grpc-server-tls-cert`, `-key`, `-client-ca`, `-min-version`,
/// `-ciphers`, `-curves` (every Store API server).
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct GrpcServerTlsArgs {
    /// TLS Certificate for gRPC server, leave blank to disable TLS. Read
    /// again at a handshake when it changed.
    #[arg(long = "grpc-server-tls-cert", default_value = "")]
    #[serde(default)]
    pub grpc_server_tls_cert: String,
    /// TLS Key for the gRPC server, leave blank to disable TLS.
    #[arg(long = "grpc-server-tls-key", default_value = "")]
    #[serde(default)]
    pub grpc_server_tls_key: String,
    /// TLS CA to verify clients against. If no client CA is specified, there
    /// is no client verification on server side. (tls.NoClientCert)
    #[arg(long = "grpc-server-tls-client-ca", default_value = "")]
    #[serde(default)]
    pub grpc_server_tls_client_ca: String,
    /// TLS supported minimum version for gRPC server. Allowed values: "1.0",
    /// "1.1", "1.2", "1.3" (1.0 and 1.1 mean 1.2: TLS below 1.2 is not
    /// spoken).
    #[arg(long = "grpc-server-tls-min-version", default_value = "1.3")]
    pub grpc_server_tls_min_version: TlsVersion,
    /// TLS cipher suites for gRPC server (repeatable), by Go name
    /// (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, …). If not specified, the
    /// default cipher suites are used. TLS 1.3 suites are always enabled.
    #[arg(long = "grpc-server-tls-ciphers", action = ArgAction::Append)]
    #[serde(default)]
    pub grpc_server_tls_ciphers: Vec<String>,
    /// TLS curves for gRPC server (repeatable). If not specified, the default
    /// curves are used. Valid values: CurveP256, CurveP384, X25519,
    /// X25519MLKEM768, SecP256r1MLKEM768.
    #[arg(long = "grpc-server-tls-curves", action = ArgAction::Append)]
    #[serde(default)]
    pub grpc_server_tls_curves: Vec<String>,
}

impl Default for GrpcServerTlsArgs {
    fn default() -> Self {
        Self {
            grpc_server_tls_cert: String::new(),
            grpc_server_tls_key: String::new(),
            grpc_server_tls_client_ca: String::new(),
            grpc_server_tls_min_version: TlsVersion::Tls13,
            grpc_server_tls_ciphers: Vec::new(),
            grpc_server_tls_curves: Vec::new(),
        }
    }
}

impl GrpcServerTlsArgs {
    /// The server config, or `None` for plaintext (no certificate and key).
    /// A client CA turns on mutual TLS (`RequireAndVerifyClientCert`).
    pub fn server_config(&self) -> Result<Option<Arc<ServerConfig>>> {
        const ORIGIN: &str = "gRPC server TLS (--grpc-server-tls-*)";
        let cert = some_path(&self.grpc_server_tls_cert);
        let key = some_path(&self.grpc_server_tls_key);
        let client_ca = some_path(&self.grpc_server_tls_client_ca);
        let (cert, key) = match (cert, key) {
            (None, None) => {
                if client_ca.is_some() {
                    return Err(tls_err(
                        ORIGIN,
                        "when a client CA is used a server key and certificate must also be provided",
                    ));
                }
                tracing::info!(
                    "gRPC server TLS disabled: --grpc-server-tls-cert and --grpc-server-tls-key must be set to enable it"
                );
                return Ok(None);
            }
            (Some(c), Some(k)) => (c, k),
            _ => {
                return Err(tls_err(
                    ORIGIN,
                    "both server key and certificate must be provided",
                ));
            }
        };
        let mtls = client_ca.is_some();
        let cfg = server_config(
            &ServerSettings {
                cert,
                key,
                client_auth: if mtls {
                    ClientAuth::RequireAndVerifyClientCert
                } else {
                    ClientAuth::NoClientCert
                },
                client_ca,
                min_version: self.grpc_server_tls_min_version,
                max_version: None,
                cipher_suites: self.grpc_server_tls_ciphers.clone(),
                curves: self.grpc_server_tls_curves.clone(),
                client_allowed_sans: Vec::new(),
                prefer_server_cipher_suites: false,
                alpn: vec![ALPN_H2.to_vec()],
            },
            ORIGIN,
        )?;
        tracing::info!(client_verification = mtls, "gRPC server TLS enabled");
        Ok(Some(cfg))
    }
}

/// A client TLS config and the name to verify the server as (None = the
/// endpoint's host).
#[derive(Debug, Clone)]
pub struct ClientTls {
    pub config: Arc<ClientConfig>,
    pub server_name: Option<String>,
}

/// `--grpc-client-tls-secure`, `-skip-verify`, `-cert`, `-key`, `-ca`,
/// `--grpc-client-server-name`, `--grpc-client-tls-min-version`: how the
/// querier dials Store API endpoints (Thanos ≥ 0.42 also takes these per
/// endpoint in `--endpoint.sd-config`).
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct GrpcClientTlsArgs {
    /// Use TLS when talking to the gRPC server.
    #[arg(long = "grpc-client-tls-secure", action = ArgAction::SetTrue, overrides_with = "no_grpc_client_tls_secure")]
    #[serde(default)]
    pub grpc_client_tls_secure: bool,
    /// Plaintext to the gRPC server (the default).
    #[arg(long = "no-grpc-client-tls-secure", action = ArgAction::SetTrue, overrides_with = "grpc_client_tls_secure", hide = true)]
    #[serde(default)]
    pub no_grpc_client_tls_secure: bool,
    /// Disable TLS certificate verification i.e self signed, signed by fake
    /// CA.
    #[arg(long = "grpc-client-tls-skip-verify", action = ArgAction::SetTrue, overrides_with = "no_grpc_client_tls_skip_verify")]
    #[serde(default)]
    pub grpc_client_tls_skip_verify: bool,
    /// Verify server certificates (the default).
    #[arg(long = "no-grpc-client-tls-skip-verify", action = ArgAction::SetTrue, overrides_with = "grpc_client_tls_skip_verify", hide = true)]
    #[serde(default)]
    pub no_grpc_client_tls_skip_verify: bool,
    /// TLS Certificates to use to identify this client to the server.
    #[arg(long = "grpc-client-tls-cert", default_value = "")]
    #[serde(default)]
    pub grpc_client_tls_cert: String,
    /// TLS Key for the client's certificate.
    #[arg(long = "grpc-client-tls-key", default_value = "")]
    #[serde(default)]
    pub grpc_client_tls_key: String,
    /// TLS CA Certificates to use to verify gRPC servers.
    #[arg(long = "grpc-client-tls-ca", default_value = "")]
    #[serde(default)]
    pub grpc_client_tls_ca: String,
    /// Server name to verify the hostname on the returned gRPC certificates.
    /// See https://tools.ietf.org/html/rfc4366#section-3.1
    #[arg(long = "grpc-client-server-name", default_value = "")]
    #[serde(default)]
    pub grpc_client_server_name: String,
    /// TLS supported minimum version for gRPC client. Allowed values: "1.0",
    /// "1.1", "1.2", "1.3".
    #[arg(long = "grpc-client-tls-min-version", default_value = "1.3")]
    pub grpc_client_tls_min_version: TlsVersion,
}

impl Default for GrpcClientTlsArgs {
    fn default() -> Self {
        Self {
            grpc_client_tls_secure: false,
            no_grpc_client_tls_secure: false,
            grpc_client_tls_skip_verify: false,
            no_grpc_client_tls_skip_verify: false,
            grpc_client_tls_cert: String::new(),
            grpc_client_tls_key: String::new(),
            grpc_client_tls_ca: String::new(),
            grpc_client_server_name: String::new(),
            grpc_client_tls_min_version: TlsVersion::Tls13,
        }
    }
}

/// One endpoint's (or the default) client TLS settings in Thanos's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTlsSpec {
    pub enabled: bool,
    pub insecure_skip_verify: bool,
    pub cert_file: String,
    pub key_file: String,
    pub ca_file: String,
    pub min_version: String,
    pub server_name: String,
}

impl ClientTlsSpec {
    /// The client TLS, `None` for plaintext; `origin` names where the
    /// settings come from in errors.
    pub fn build(&self, origin: &str) -> Result<Option<ClientTls>> {
        if !self.enabled {
            return Ok(None);
        }
        let min_version = if self.min_version.is_empty() {
            None
        } else {
            Some(
                self.min_version
                    .parse::<TlsVersion>()
                    .map_err(|e| tls_err(origin, e))?,
            )
        };
        let config = client_config(
            &ClientSettings {
                ca: some_path(&self.ca_file),
                cert: some_path(&self.cert_file),
                key: some_path(&self.key_file),
                insecure_skip_verify: self.insecure_skip_verify,
                verify_name: None,
                min_version,
                alpn: vec![ALPN_H2.to_vec()],
            },
            origin,
        )?;
        Ok(Some(ClientTls {
            config,
            server_name: (!self.server_name.is_empty()).then(|| self.server_name.clone()),
        }))
    }
}

impl GrpcClientTlsArgs {
    /// Use TLS (`--grpc-client-tls-secure`, unless `--no-…` came last).
    pub fn secure(&self) -> bool {
        self.grpc_client_tls_secure && !self.no_grpc_client_tls_secure
    }

    /// The flags as Thanos's per-endpoint settings (the defaults of
    /// `--endpoint.sd-config`'s `client_config`).
    pub fn spec(&self) -> ClientTlsSpec {
        ClientTlsSpec {
            enabled: self.secure(),
            insecure_skip_verify: self.grpc_client_tls_skip_verify
                && !self.no_grpc_client_tls_skip_verify,
            cert_file: self.grpc_client_tls_cert.clone(),
            key_file: self.grpc_client_tls_key.clone(),
            ca_file: self.grpc_client_tls_ca.clone(),
            min_version: self.grpc_client_tls_min_version.to_string(),
            server_name: self.grpc_client_server_name.clone(),
        }
    }

    /// Whether any of these flags was changed from its default (Thanos
    /// warns that they are deprecated in favour of `--endpoint.sd-config`).
    pub fn any_set(&self) -> bool {
        let s = self.spec();
        s.enabled
            || s.insecure_skip_verify
            || !s.cert_file.is_empty()
            || !s.key_file.is_empty()
            || !s.ca_file.is_empty()
            || !s.server_name.is_empty()
    }

    /// The client TLS of every endpoint without its own settings; `None`
    /// (plaintext) unless `--grpc-client-tls-secure`.
    pub fn client_tls(&self) -> Result<Option<ClientTls>> {
        self.spec().build("gRPC client TLS (--grpc-client-tls-*)")
    }
}
