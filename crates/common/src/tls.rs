//! TLS for every Aeon server and client, as Thanos configures Go's
//! `crypto/tls` (`pkg/tls`, exporter-toolkit's web config): rustls on
//! aws-lc-rs, the workspace's only crypto provider, passed explicitly so the
//! process-wide default never matters.
//!
//! - [`ServerSettings`] → [`server_config`]: certificate and key (read again
//!   at a handshake when either file's modification time changed, as
//!   Thanos's `serverTLSManager` does), client authentication
//!   ([`ClientAuth`], Go's `tls.ClientAuthType`), versions, cipher suites and
//!   curves by their Go names ([`names`]).
//! - [`ClientSettings`] → [`client_config`]: CA (else the system's roots),
//!   client certificate and key (reloaded like the server's), server name,
//!   `insecure_skip_verify`, minimum version.
//! - [`TlsListener`]: accepts TCP connections and runs their handshakes
//!   concurrently, for axum (`axum::serve`) and tonic (`into_stream`).
//!
//! rustls speaks TLS 1.2 and 1.3 only: a minimum of `1.0` or `1.1` allows
//! 1.2 and 1.3 (with a warning), which is what Go negotiates with any
//! current client anyway.

pub mod args;
mod files;
mod listener;
pub mod names;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};

pub use args::ClientTls;
pub use files::{ReloadingCert, load_certs, load_roots};
pub use listener::{ConfigSource, HANDSHAKE_TIMEOUT, TlsListener, TlsStream};
pub use names::TlsVersion;

use crate::{Error, Result};

/// The crypto provider of every TLS connection Aeon makes or accepts.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Go's `tls.ClientAuthType`, by the names the web config uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No client certificate is asked for.
    #[default]
    NoClientCert,
    /// A certificate is asked for, not required, not verified.
    RequestClientCert,
    /// A certificate is required, not verified.
    RequireAnyClientCert,
    /// A certificate is optional; one that is sent must verify.
    VerifyClientCertIfGiven,
    /// A certificate is required and must verify against the client CA.
    RequireAndVerifyClientCert,
}

impl std::str::FromStr for ClientAuth {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s {
            "" | "NoClientCert" => Self::NoClientCert,
            "RequestClientCert" => Self::RequestClientCert,
            "RequireAnyClientCert" | "RequireClientCert" => Self::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => Self::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => Self::RequireAndVerifyClientCert,
            other => return Err(format!("invalid ClientAuth: {other}")),
        })
    }
}

/// What a TLS server needs; `origin` in the builders names the flags or
/// file these came from.
#[derive(Debug, Clone, Default)]
pub struct ServerSettings {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// CA(s) that client certificates must chain to.
    pub client_ca: Option<PathBuf>,
    /// Client certificate policy.
    pub client_auth: ClientAuth,
    /// Lowest version accepted.
    pub min_version: TlsVersion,
    /// Highest version accepted (None = 1.3).
    pub max_version: Option<TlsVersion>,
    /// Go names of the TLS 1.2 cipher suites allowed (empty = defaults; TLS
    /// 1.3 suites are not configurable, as in Go).
    pub cipher_suites: Vec<String>,
    /// Go names of the key exchange groups, in preference order (empty =
    /// defaults).
    pub curves: Vec<String>,
    /// Subject alternative names of which a client certificate must hold one
    /// (DNS names or IP addresses; empty = any).
    pub client_allowed_sans: Vec<String>,
    /// Pick the cipher suite by the server's order rather than the
    /// client's.
    pub prefer_server_cipher_suites: bool,
    /// ALPN protocols offered (`h2` for gRPC).
    pub alpn: Vec<Vec<u8>>,
}

/// What a TLS client needs (Thanos's `NewClientConfig`).
#[derive(Debug, Clone, Default)]
pub struct ClientSettings {
    /// CA(s) that the server certificate must chain to; None = the system's.
    pub ca: Option<PathBuf>,
    /// Client certificate and key for mutual TLS.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Accept any server certificate.
    pub insecure_skip_verify: bool,
    /// Verify the server certificate for this name rather than the host
    /// connected to (the name sent as SNI stays the host; for clients that
    /// cannot set it, like reqwest).
    pub verify_name: Option<String>,
    /// Lowest version accepted (None = 1.2).
    pub min_version: Option<TlsVersion>,
    /// ALPN protocols offered.
    pub alpn: Vec<Vec<u8>>,
}

pub(crate) fn tls_err(what: impl Into<String>, reason: impl std::fmt::Display) -> Error {
    Error::Tls {
        what: what.into(),
        reason: reason.to_string(),
    }
}

fn versions(
    min: TlsVersion,
    max: Option<TlsVersion>,
    origin: &str,
) -> Result<Vec<&'static SupportedProtocolVersion>> {
    if min < TlsVersion::Tls12 {
        tracing::warn!(
            origin,
            min_version = %min,
            "TLS 1.0 and 1.1 are not supported; TLS 1.2 is the lowest version accepted"
        );
    }
    let max = max.unwrap_or(TlsVersion::Tls13);
    let mut out = Vec::new();
    if min <= TlsVersion::Tls13 && max >= TlsVersion::Tls13 {
        out.push(&rustls::version::TLS13);
    }
    if max >= TlsVersion::Tls12 {
        out.push(&rustls::version::TLS12);
    }
    if out.is_empty() {
        return Err(tls_err(
            origin,
            format!("no TLS version between {min} and {max} is supported (TLS 1.2 and 1.3 are)"),
        ));
    }
    Ok(out)
}

/// The provider restricted to `cipher_suites` and `curves` (Go names).
fn tuned_provider(
    cipher_suites: &[String],
    curves: &[String],
    origin: &str,
) -> Result<CryptoProvider> {
    let mut p = rustls::crypto::aws_lc_rs::default_provider();
    if !cipher_suites.is_empty() {
        p.cipher_suites = names::cipher_suites(cipher_suites).map_err(|e| tls_err(origin, e))?;
    }
    if !curves.is_empty() {
        p.kx_groups = names::curves(curves).map_err(|e| tls_err(origin, e))?;
    }
    Ok(p)
}

/// Builds a server config; the certificate, key and CA files are read now so
/// that a mistake stops start-up.
pub fn server_config(s: &ServerSettings, origin: &str) -> Result<Arc<ServerConfig>> {
    let provider = Arc::new(tuned_provider(&s.cipher_suites, &s.curves, origin)?);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(s.min_version, s.max_version, origin)?)
        .map_err(|e| tls_err(origin, e))?;
    let roots = match &s.client_ca {
        Some(ca) => Some(Arc::new(load_roots(ca, &format!("{origin}: client CA"))?)),
        None => None,
    };
    if roots.is_some() && s.client_auth == ClientAuth::NoClientCert {
        return Err(tls_err(
            origin,
            "client CA's have been configured without a Client Auth Policy",
        ));
    }
    let verifier: Arc<dyn rustls::server::danger::ClientCertVerifier> = match s.client_auth {
        ClientAuth::NoClientCert => WebPkiClientVerifier::no_client_auth(),
        ClientAuth::RequestClientCert => Arc::new(verify::AnyClientCert::new(false, &provider)),
        ClientAuth::RequireAnyClientCert => Arc::new(verify::AnyClientCert::new(true, &provider)),
        auth @ (ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert) => {
            let roots = roots.ok_or_else(|| {
                tls_err(
                    origin,
                    "a client CA is needed to verify client certificates",
                )
            })?;
            let b = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
            let b = if auth == ClientAuth::VerifyClientCertIfGiven {
                b.allow_unauthenticated()
            } else {
                b
            };
            b.build()
                .map_err(|e| tls_err(format!("{origin}: client CA"), e))?
        }
    };
    let verifier = if s.client_allowed_sans.is_empty() {
        verifier
    } else {
        Arc::new(
            verify::AllowedSans::new(verifier, &s.client_allowed_sans)
                .map_err(|e| tls_err(origin, e))?,
        )
    };
    let resolver = ReloadingCert::new(s.cert.clone(), s.key.clone(), provider.clone(), "server");
    resolver
        .load()
        .map_err(|e| tls_err(format!("{origin}: server credentials"), e))?;
    let mut cfg = builder
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(resolver));
    cfg.alpn_protocols = s.alpn.clone();
    cfg.ignore_client_order = s.prefer_server_cipher_suites;
    Ok(Arc::new(cfg))
}

/// Builds a client config; files are read now so that a mistake stops
/// start-up, and the client certificate again when it changes.
pub fn client_config(s: &ClientSettings, origin: &str) -> Result<Arc<ClientConfig>> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(
            s.min_version.unwrap_or(TlsVersion::Tls12),
            None,
            origin,
        )?)
        .map_err(|e| tls_err(origin, e))?;
    let builder = if s.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verify::NoServerVerification(
                provider.clone(),
            )))
    } else {
        let roots = match &s.ca {
            Some(ca) => load_roots(ca, &format!("{origin}: CA"))?,
            None => system_roots(origin),
        };
        match &s.verify_name {
            None => builder.with_root_certificates(roots),
            Some(name) => {
                let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider.clone(),
                )
                .build()
                .map_err(|e| tls_err(format!("{origin}: CA"), e))?;
                let v = verify::VerifyAs::new(inner, name)
                    .map_err(|e| tls_err(format!("{origin}: server_name"), e))?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(v))
            }
        }
    };
    let mut cfg = match (&s.cert, &s.key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let r = ReloadingCert::new(cert.clone(), key.clone(), provider, "client");
            r.load()
                .map_err(|e| tls_err(format!("{origin}: client credentials"), e))?;
            builder.with_client_cert_resolver(Arc::new(r))
        }
        _ => {
            return Err(tls_err(
                origin,
                "both client key and certificate must be provided",
            ));
        }
    };
    cfg.alpn_protocols = s.alpn.clone();
    Ok(Arc::new(cfg))
}

/// The platform's trusted roots (empty, with a warning, when none can be
/// read).
pub fn system_roots(origin: &str) -> RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::warn!(origin, error = %e, "reading a system CA certificate failed");
    }
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        tracing::warn!(
            origin,
            "no system CA certificates found; configure a CA file"
        );
    }
    roots
}

#[cfg(test)]
mod tests;
