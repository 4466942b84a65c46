//! Thanos's HTTP client configuration (`pkg/clientconfig` `HTTPClientConfig`,
//! the format of the sidecar's `--prometheus.http-client(-file)`): TLS
//! (`tls_config`), basic auth, bearer token, proxy and transport settings.
//!
//! This module parses and checks the YAML (or JSON, its subset) and builds
//! the TLS config; the caller applies it to its HTTP client. Credentials in
//! files (`password_file`, `bearer_token_file`) are read again for every
//! request, as Prometheus's client does, so rotated tokens are picked up.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rustls::ClientConfig;
use serde::Deserialize;

use crate::tls::{ClientSettings, client_config};
use crate::{Error, Result};

/// `--x.http-client` / `--x.http-client-file` as parsed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpClientConfig {
    pub basic_auth: BasicAuth,
    pub bearer_token: String,
    pub bearer_token_file: String,
    pub proxy_url: String,
    pub tls_config: TlsConfig,
    pub transport_config: TransportConfig,
}

/// `basic_auth`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuth {
    pub username: String,
    pub password: String,
    pub password_file: String,
}

/// `tls_config`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    pub ca_file: String,
    pub cert_file: String,
    pub key_file: String,
    pub server_name: String,
    pub insecure_skip_verify: bool,
}

/// `transport_config` (Go's `http.Transport`; durations in nanoseconds as
/// Thanos's `exthttp.TransportConfig` has them). Applied by the sidecar:
/// `idle_conn_timeout` and `max_idle_conns_per_host`; the others are
/// accepted for compatibility and have no effect.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransportConfig {
    pub max_idle_conns: i64,
    pub max_idle_conns_per_host: i64,
    pub idle_conn_timeout: i64,
    pub response_header_timeout: i64,
    pub expect_continue_timeout: i64,
    pub max_conns_per_host: i64,
    pub disable_compression: bool,
    pub tls_handshake_timeout: i64,
}

impl TransportConfig {
    /// `idle_conn_timeout` when set.
    pub fn idle_conn_timeout(&self) -> Option<Duration> {
        nanos(self.idle_conn_timeout)
    }

    /// `max_idle_conns_per_host` when set.
    pub fn max_idle_conns_per_host(&self) -> Option<usize> {
        usize::try_from(self.max_idle_conns_per_host)
            .ok()
            .filter(|n| *n > 0)
    }
}

fn nanos(n: i64) -> Option<Duration> {
    u64::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .map(Duration::from_nanos)
}

fn some_path(s: &str) -> Option<PathBuf> {
    (!s.is_empty()).then(|| PathBuf::from(s))
}

impl HttpClientConfig {
    /// Parses and checks `text` (from `origin`, named in errors).
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let cfg: Self = if text.trim().is_empty() {
            Self::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|source| Error::Yaml {
                what: "http client config",
                origin: origin.to_owned(),
                source,
            })?
        };
        let err = |reason: &str| Error::Tls {
            what: format!("http client config in {origin}"),
            reason: reason.to_owned(),
        };
        let b = &cfg.basic_auth;
        if !b.password.is_empty() && !b.password_file.is_empty() {
            return Err(err(
                "at most one of basic_auth password & password_file must be configured",
            ));
        }
        let has_basic =
            !b.username.is_empty() || !b.password.is_empty() || !b.password_file.is_empty();
        if !cfg.bearer_token.is_empty() && !cfg.bearer_token_file.is_empty() {
            return Err(err(
                "at most one of bearer_token & bearer_token_file must be configured",
            ));
        }
        if has_basic && (!cfg.bearer_token.is_empty() || !cfg.bearer_token_file.is_empty()) {
            return Err(err(
                "at most one of basic_auth, bearer_token & bearer_token_file must be configured",
            ));
        }
        let t = &cfg.tls_config;
        if t.cert_file.is_empty() != t.key_file.is_empty() {
            return Err(err(
                "tls_config: client cert file and key file must both be set",
            ));
        }
        // Build once now so that a bad file stops the start.
        cfg.tls(origin)?;
        Ok(cfg)
    }

    /// The TLS config for `https://` URLs, with `alpn` offered.
    pub fn tls_with_alpn(&self, origin: &str, alpn: Vec<Vec<u8>>) -> Result<Arc<ClientConfig>> {
        let t = &self.tls_config;
        client_config(
            &ClientSettings {
                ca: some_path(&t.ca_file),
                cert: some_path(&t.cert_file),
                key: some_path(&t.key_file),
                insecure_skip_verify: t.insecure_skip_verify,
                verify_name: (!t.server_name.is_empty()).then(|| t.server_name.clone()),
                min_version: None,
                alpn,
            },
            &format!("http client config in {origin}: tls_config"),
        )
    }

    /// The TLS config for `https://` URLs (HTTP/1.1).
    pub fn tls(&self, origin: &str) -> Result<Arc<ClientConfig>> {
        self.tls_with_alpn(origin, vec![b"http/1.1".to_vec()])
    }

    /// The `Authorization` header value of the next request, credentials
    /// files read now; `None` without credentials.
    pub fn authorization(&self) -> Result<Option<String>> {
        let read = |path: &str, what: &str| {
            std::fs::read_to_string(Path::new(path))
                .map(|s| s.trim().to_owned())
                .map_err(|source| Error::ReadFile {
                    what: format!("http client {what}"),
                    path: PathBuf::from(path),
                    source,
                })
        };
        let b = &self.basic_auth;
        if !b.username.is_empty() || !b.password.is_empty() || !b.password_file.is_empty() {
            let password = if b.password_file.is_empty() {
                b.password.clone()
            } else {
                read(&b.password_file, "basic_auth.password_file")?
            };
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{password}", b.username));
            return Ok(Some(format!("Basic {token}")));
        }
        let token = if self.bearer_token_file.is_empty() {
            self.bearer_token.clone()
        } else {
            read(&self.bearer_token_file, "bearer_token_file")?
        };
        Ok((!token.is_empty()).then(|| format!("Bearer {token}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_thanos_forms() {
        // What prometheus-operator passes (JSON, a YAML subset).
        let c = HttpClientConfig::parse(r#"{"tls_config": {"insecure_skip_verify":true}}"#, "x")
            .unwrap();
        assert!(c.tls_config.insecure_skip_verify);
        assert_eq!(c.authorization().unwrap(), None);

        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret\n").unwrap();
        let c = HttpClientConfig::parse(
            &format!(
                "basic_auth:\n  username: alice\n  password_file: {}\ntransport_config:\n  idle_conn_timeout: 90000000000\n",
                pw.display()
            ),
            "x",
        )
        .unwrap();
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
        );
        assert_eq!(c.authorization().unwrap(), Some(expected));
        assert_eq!(
            c.transport_config.idle_conn_timeout(),
            Some(Duration::from_secs(90))
        );
        // The file is read for every request: a rotated password applies.
        std::fs::write(&pw, "rotated").unwrap();
        assert!(c.authorization().unwrap().unwrap().starts_with("Basic "));
        assert_ne!(
            c.authorization().unwrap(),
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
            ))
        );

        let c = HttpClientConfig::parse("bearer_token: abc\n", "x").unwrap();
        assert_eq!(c.authorization().unwrap().as_deref(), Some("Bearer abc"));
        assert!(HttpClientConfig::parse("", "x").is_ok());
    }

    #[test]
    fn mistakes_are_named() {
        let e = |t: &str| {
            crate::Chain(&HttpClientConfig::parse(t, "--prometheus.http-client").unwrap_err())
                .to_string()
        };
        let m = e("tls_config:\n  insecure_skip_verfy: true\n");
        assert!(
            m.contains("--prometheus.http-client") && m.contains("insecure_skip_verfy"),
            "{m}"
        );
        let m = e("bearer_token: a\nbearer_token_file: b\n");
        assert!(m.contains("at most one of bearer_token"), "{m}");
        let m = e("basic_auth:\n  username: a\nbearer_token: b\n");
        assert!(m.contains("at most one of basic_auth"), "{m}");
        let m = e("tls_config:\n  ca_file: /nonexistent/ca.pem\n");
        assert!(m.contains("/nonexistent/ca.pem"), "{m}");
        let m = e("tls_config:\n  cert_file: c.pem\n");
        assert!(m.contains("must both be set"), "{m}");
    }
}
