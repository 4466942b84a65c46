//! `http_config.tls_config` (and `http_config.insecure_skip_verify`) as a rustls client config,
//! following Thanos's `exthttp.NewTLSConfig`:
//!
//! - `ca_file`: the only trusted roots (PEM, one or more certificates); without it, the
//!   system's roots.
//! - `cert_file` + `key_file`: client certificate, both or neither; checked at start-up and
//!   read again at every handshake so that rotated files are picked up.
//! - `server_name`: the name sent as SNI and verified in the server certificate.
//! - `insecure_skip_verify` (in `http_config` or `tls_config`): no verification of the server
//!   certificate. Thanos applies only `http_config.insecure_skip_verify`; either one works here.
//!
//! The crypto provider is always aws-lc-rs, passed explicitly, so the process-wide default
//! provider never matters.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::HttpConfig;
use crate::error::{Error, Result};

/// The crypto provider of every objstore TLS connection.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Builds the client TLS config; files are read now so that mistakes fail at start-up.
pub(crate) fn client_config(cfg: &HttpConfig, origin: &str) -> Result<ClientConfig> {
    let tls = &cfg.tls_config;
    let err = |field: &str, msg: String| {
        Error::config(origin, format!("http_config.tls_config.{field}: {msg}"))
    };
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(origin, format!("http_config.tls_config: {e}")))?;
    let builder = if cfg.insecure_skip_verify || tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider.clone())))
    } else if !tls.ca_file.is_empty() {
        let certs = CertificateDer::pem_file_iter(&tls.ca_file)
            .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| err("ca_file", format!("reading {:?}: {e}", tls.ca_file)))?;
        let mut roots = RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(err(
                "ca_file",
                format!("{:?} holds no usable PEM certificate", tls.ca_file),
            ));
        }
        builder.with_root_certificates(roots)
    } else {
        builder.with_root_certificates(system_roots())
    };
    let config = match (tls.cert_file.is_empty(), tls.key_file.is_empty()) {
        (true, true) => builder.with_no_client_auth(),
        (false, true) => {
            return Err(err(
                "cert_file",
                format!(
                    "client cert file {:?} specified without key_file",
                    tls.cert_file
                ),
            ));
        }
        (true, false) => {
            return Err(err(
                "key_file",
                format!(
                    "client key file {:?} specified without cert_file",
                    tls.key_file
                ),
            ));
        }
        (false, false) => {
            let resolver = ClientCertFiles {
                cert: PathBuf::from(&tls.cert_file),
                key: PathBuf::from(&tls.key_file),
                provider,
            };
            resolver.load().map_err(|e| err("cert_file", e))?;
            builder.with_client_cert_resolver(Arc::new(resolver))
        }
    };
    Ok(config)
}

/// The platform's trusted roots (empty, with a warning, when none can be read).
fn system_roots() -> RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::warn!(error = %e, "reading a system CA certificate failed");
    }
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        tracing::warn!("no system CA certificates found; set http_config.tls_config.ca_file");
    }
    roots
}

/// `cert_file` + `key_file`, read at every handshake like Go's `GetClientCertificate`.
#[derive(Debug)]
struct ClientCertFiles {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
}

impl ClientCertFiles {
    fn load(&self) -> std::result::Result<Arc<CertifiedKey>, String> {
        let certs = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| format!("reading client certificate {}: {e}", self.cert.display()))?;
        if certs.is_empty() {
            return Err(format!("{} holds no PEM certificate", self.cert.display()));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| format!("reading client key {}: {e}", self.key.display()))?;
        CertifiedKey::from_der(certs, key, &self.provider)
            .map(Arc::new)
            .map_err(|e| {
                format!(
                    "client certificate {} and key {} do not form a usable pair: {e}",
                    self.cert.display(),
                    self.key.display()
                )
            })
    }
}

impl ResolvesClientCert for ClientCertFiles {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        match self.load() {
            Ok(k) => Some(k),
            Err(e) => {
                tracing::warn!(error = %e, "no client certificate for the TLS handshake");
                None
            }
        }
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// `insecure_skip_verify`: any server certificate is accepted (signatures are still checked,
/// which proves the server holds the key of the certificate it sent).
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TlsConfig;

    fn cfg(tls: TlsConfig) -> HttpConfig {
        HttpConfig {
            tls_config: tls,
            ..HttpConfig::default()
        }
    }

    fn e(c: &HttpConfig) -> String {
        client_config(c, "bucket.yml").unwrap_err().to_string()
    }

    #[test]
    fn file_errors_name_the_field_and_file() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope.pem").display().to_string();
        let m = e(&cfg(TlsConfig {
            ca_file: missing.clone(),
            ..TlsConfig::default()
        }));
        assert!(
            m.contains("bucket.yml") && m.contains("ca_file") && m.contains("nope.pem"),
            "{m}"
        );
        let junk = tmp.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let m = e(&cfg(TlsConfig {
            ca_file: junk.display().to_string(),
            ..TlsConfig::default()
        }));
        assert!(m.contains("no usable PEM certificate"), "{m}");
        let m = e(&cfg(TlsConfig {
            cert_file: "/c.pem".into(),
            ..TlsConfig::default()
        }));
        assert!(m.contains("without key_file"), "{m}");
        let m = e(&cfg(TlsConfig {
            key_file: "/k.pem".into(),
            ..TlsConfig::default()
        }));
        assert!(m.contains("without cert_file"), "{m}");
        let m = e(&cfg(TlsConfig {
            cert_file: missing.clone(),
            key_file: missing,
            ..TlsConfig::default()
        }));
        assert!(
            m.contains("cert_file") && m.contains("reading client certificate"),
            "{m}"
        );
    }

    #[test]
    fn defaults_and_skip_verify_build() {
        client_config(&HttpConfig::default(), "x").unwrap();
        client_config(
            &HttpConfig {
                insecure_skip_verify: true,
                ..HttpConfig::default()
            },
            "x",
        )
        .unwrap();
    }
}
