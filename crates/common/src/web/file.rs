//! The web config file's shape (exporter-toolkit v0.15 `web.Config`),
//! parsed strictly, and its checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::http::{HeaderName, HeaderValue};
use serde::Deserialize;

use super::{Loaded, config_err};
use crate::Result;
use crate::flags::GoDuration;
use crate::tls::{ClientAuth, ServerSettings, TlsVersion, server_config};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct File {
    tls_server_config: TlsServerConfig,
    http_server_config: HttpServerConfig,
    rate_limit: RateLimit,
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct TlsServerConfig {
    cert: String,
    key: String,
    client_ca: String,
    cert_file: String,
    key_file: String,
    client_auth_type: String,
    client_ca_file: String,
    cipher_suites: Vec<String>,
    curve_preferences: Vec<String>,
    min_version: TlsVersion,
    max_version: TlsVersion,
    prefer_server_cipher_suites: bool,
    client_allowed_sans: Vec<String>,
}

impl Default for TlsServerConfig {
    fn default() -> Self {
        Self {
            cert: String::new(),
            key: String::new(),
            client_ca: String::new(),
            cert_file: String::new(),
            key_file: String::new(),
            client_auth_type: String::new(),
            client_ca_file: String::new(),
            cipher_suites: Vec::new(),
            curve_preferences: Vec::new(),
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            prefer_server_cipher_suites: true,
            client_allowed_sans: Vec::new(),
        }
    }
}

impl TlsServerConfig {
    fn is_enabled(&self) -> bool {
        [
            &self.cert_file,
            &self.cert,
            &self.key_file,
            &self.key,
            &self.client_ca_file,
            &self.client_ca,
            &self.client_auth_type,
        ]
        .iter()
        .any(|s| !s.is_empty())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct HttpServerConfig {
    http2: bool,
    headers: BTreeMap<String, String>,
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        Self {
            http2: true,
            headers: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RateLimit {
    burst: u32,
    interval: Option<GoDuration>,
}

/// The headers exporter-toolkit lets a config set, with their allowed values
/// (empty = any).
const EXTRA_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// A path relative to the config file's directory (as exporter-toolkit's
/// `SetDirectory`).
fn join(dir: &Path, p: &str) -> Option<PathBuf> {
    if p.is_empty() {
        None
    } else {
        Some(dir.join(p))
    }
}

pub(super) fn load(path: &Path) -> Result<Loaded> {
    let err = |reason: String| config_err(path, reason);
    let text = std::fs::read_to_string(path).map_err(|source| crate::Error::ReadFile {
        what: "--http.config".into(),
        path: path.to_owned(),
        source,
    })?;
    let f: File = if text.trim().is_empty() {
        File::default()
    } else {
        serde_yaml_ng::from_str(&text).map_err(|source| crate::Error::Yaml {
            what: "web config",
            origin: format!("--http.config {}", path.display()),
            source,
        })?
    };

    let mut headers = Vec::new();
    for (k, v) in &f.http_server_config.headers {
        let Some((_, allowed)) = EXTRA_HEADERS.iter().find(|(n, _)| n == k) else {
            return Err(err(format!(
                "http_server_config.headers: HTTP header {k:?} can not be configured"
            )));
        };
        if !allowed.is_empty() && !allowed.contains(&v.as_str()) {
            return Err(err(format!(
                "http_server_config.headers: invalid value for {k}. Expected one of: {allowed:?}, but got: {v:?}"
            )));
        }
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| err(format!("http_server_config.headers: {k}: {e}")))?;
        let value = HeaderValue::from_str(v)
            .map_err(|e| err(format!("http_server_config.headers: {k}: {e}")))?;
        headers.push((name, value));
    }

    for (user, hash) in &f.basic_auth_users {
        hash.parse::<bcrypt::HashParts>().map_err(|e| {
            err(format!(
                "basic_auth_users: user {user:?}: not a bcrypt hash: {e}"
            ))
        })?;
    }

    let rate_limit = match f.rate_limit.interval {
        Some(i) if !i.0.is_zero() => Some((i.0, f.rate_limit.burst)),
        _ => None,
    };

    let t = &f.tls_server_config;
    let tls = if t.is_enabled() {
        for (inline, field) in [
            (&t.cert, "cert"),
            (&t.key, "key"),
            (&t.client_ca, "client_ca"),
        ] {
            if !inline.is_empty() {
                return Err(err(format!(
                    "tls_server_config.{field}: inline PEM is not supported, use {field}_file"
                )));
            }
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let cert = join(dir, &t.cert_file)
            .ok_or_else(|| err("tls_server_config: missing one of cert or cert_file".into()))?;
        let key = join(dir, &t.key_file)
            .ok_or_else(|| err("tls_server_config: missing one of key or key_file".into()))?;
        let client_auth: ClientAuth = t
            .client_auth_type
            .parse()
            .map_err(|e: String| err(format!("tls_server_config.client_auth_type: {e}")))?;
        let settings = ServerSettings {
            cert,
            key,
            client_ca: join(dir, &t.client_ca_file),
            client_auth,
            min_version: t.min_version,
            max_version: Some(t.max_version),
            cipher_suites: t.cipher_suites.clone(),
            curves: t.curve_preferences.clone(),
            client_allowed_sans: t.client_allowed_sans.clone(),
            prefer_server_cipher_suites: t.prefer_server_cipher_suites,
            alpn: if f.http_server_config.http2 {
                vec![b"h2".to_vec(), b"http/1.1".to_vec()]
            } else {
                vec![b"http/1.1".to_vec()]
            },
        };
        Some(server_config(
            &settings,
            &format!("--http.config {}: tls_server_config", path.display()),
        )?)
    } else {
        None
    };

    Ok(Loaded {
        tls,
        http2: f.http_server_config.http2,
        headers,
        users: f.basic_auth_users,
        rate_limit,
    })
}
