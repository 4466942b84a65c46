//! A private CA generated per test (rcgen), and a TLS-terminating proxy in front of a
//! plain-HTTP server (s3s-fs has no TLS of its own).
//!
//! The server certificate names `localhost` and [`SERVER_NAME`], not `127.0.0.1`, so that a
//! test can check `tls_config.server_name`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::task::AbortHandle;
use tokio_rustls::TlsAcceptor;

use crate::http::tls::provider;

/// A DNS name in the server certificate that does not resolve.
pub const SERVER_NAME: &str = "s3.aeon.test";

/// CA, server and client certificates as PEM files in a temporary directory.
#[derive(Debug)]
pub struct TestPki {
    dir: tempfile::TempDir,
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    std::fs::write(dir.join(name), text).map_err(|e| format!("writing {name}: {e}"))
}

fn ca(name: &str) -> Result<CertifiedIssuer<'static, KeyPair>, String> {
    let key = KeyPair::generate().map_err(|e| format!("CA key: {e}"))?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, key).map_err(|e| format!("CA certificate: {e}"))
}

fn leaf(
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    issuer: &CertifiedIssuer<'static, KeyPair>,
) -> Result<(String, String), String> {
    let key = KeyPair::generate().map_err(|e| format!("leaf key: {e}"))?;
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names).map_err(|e| e.to_string())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "aeon test");
    params.extended_key_usages = vec![usage];
    let cert = params
        .signed_by(&key, issuer)
        .map_err(|e| format!("leaf certificate: {e}"))?;
    Ok((cert.pem(), key.serialize_pem()))
}

impl TestPki {
    /// Generates `ca.pem`, `server.pem`/`server-key.pem`, `client.pem`/`client-key.pem`, and
    /// `other-ca.pem` (a CA that signed nothing here).
    pub fn generate() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("PKI dir: {e}"))?;
        let ca = ca("aeon test CA")?;
        write(dir.path(), "ca.pem", &ca.pem())?;
        let (cert, key) = leaf(
            &["localhost", SERVER_NAME],
            ExtendedKeyUsagePurpose::ServerAuth,
            &ca,
        )?;
        write(dir.path(), "server.pem", &cert)?;
        write(dir.path(), "server-key.pem", &key)?;
        let (cert, key) = leaf(&["aeon-client"], ExtendedKeyUsagePurpose::ClientAuth, &ca)?;
        write(dir.path(), "client.pem", &cert)?;
        write(dir.path(), "client-key.pem", &key)?;
        write(dir.path(), "other-ca.pem", &self::ca("unrelated CA")?.pem())?;
        Ok(Self { dir })
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The CA that signed the server and client certificates.
    pub fn ca_file(&self) -> PathBuf {
        self.file("ca.pem")
    }

    /// A CA that did not sign the server certificate.
    pub fn other_ca_file(&self) -> PathBuf {
        self.file("other-ca.pem")
    }

    /// Client certificate (PEM).
    pub fn client_cert_file(&self) -> PathBuf {
        self.file("client.pem")
    }

    /// Client key (PEM).
    pub fn client_key_file(&self) -> PathBuf {
        self.file("client-key.pem")
    }

    fn server_config(&self, require_client_cert: bool) -> Result<ServerConfig, String> {
        let certs = CertificateDer::pem_file_iter(self.file("server.pem"))
            .and_then(|i| i.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("server cert: {e}"))?;
        let key = PrivateKeyDer::from_pem_file(self.file("server-key.pem"))
            .map_err(|e| format!("server key: {e}"))?;
        let provider = provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let builder = if require_client_cert {
            let mut roots = RootCertStore::empty();
            for c in
                CertificateDer::pem_file_iter(self.ca_file()).map_err(|e| format!("CA: {e}"))?
            {
                roots
                    .add(c.map_err(|e| format!("CA: {e}"))?)
                    .map_err(|e| format!("CA: {e}"))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("client verifier: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        builder
            .with_single_cert(certs, key)
            .map_err(|e| format!("server certificate: {e}"))
    }
}

/// Terminates TLS on a local port and forwards the plain bytes to `target`.
#[derive(Debug)]
pub struct TlsProxy {
    addr: SocketAddr,
    accept: AbortHandle,
}

impl TlsProxy {
    /// Starts the proxy (inside a tokio runtime); with `require_client_cert`, clients must
    /// present a certificate signed by the test CA.
    pub async fn start(
        pki: &TestPki,
        target: SocketAddr,
        require_client_cert: bool,
    ) -> Result<Self, String> {
        let acceptor = TlsAcceptor::from(Arc::new(pki.server_config(require_client_cert)?));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("TLS proxy bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let accept = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                });
            }
        });
        Ok(Self {
            addr,
            accept: accept.abort_handle(),
        })
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
