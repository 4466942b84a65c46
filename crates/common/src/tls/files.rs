//! PEM files: certificates, keys, CA bundles, and a certificate/key pair
//! that is read again when either file changes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::RootCertStore;
use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::tls_err;
use crate::Result;

/// The certificates of a PEM file (at least one).
pub fn load_certs(path: &Path) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| format!("reading {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// A CA bundle as trust roots; `what` names it in errors.
pub fn load_roots(path: &Path, what: &str) -> Result<RootCertStore> {
    let certs = load_certs(path).map_err(|e| tls_err(what, e))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(tls_err(
            what,
            format!("{} holds no usable CA certificate", path.display()),
        ));
    }
    Ok(roots)
}

/// A certificate and key file pair, read again at a handshake when either
/// file's modification time changed (Thanos's `serverTLSManager` and
/// `clientTLSManager`). When the files cannot be read or do not match, the
/// handshake fails and the reason is logged.
#[derive(Debug)]
pub struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    side: &'static str,
    cached: Mutex<Option<Cached>>,
}

#[derive(Debug)]
struct Cached {
    cert_mtime: Option<SystemTime>,
    key_mtime: Option<SystemTime>,
    key: Arc<CertifiedKey>,
}

fn mtime(p: &Path) -> std::result::Result<Option<SystemTime>, String> {
    std::fs::metadata(p)
        .map(|m| m.modified().ok())
        .map_err(|e| format!("{}: {e}", p.display()))
}

impl ReloadingCert {
    /// `side` (`server`, `client`) names the pair in log lines.
    pub fn new(
        cert: PathBuf,
        key: PathBuf,
        provider: Arc<CryptoProvider>,
        side: &'static str,
    ) -> Self {
        Self {
            cert,
            key,
            provider,
            side,
            cached: Mutex::new(None),
        }
    }

    /// The current pair, read from disk when it changed since the last call.
    pub fn load(&self) -> std::result::Result<Arc<CertifiedKey>, String> {
        let cert_mtime = mtime(&self.cert)?;
        let key_mtime = mtime(&self.key)?;
        let mut cached = self
            .cached
            .lock()
            .map_err(|_| "certificate cache poisoned".to_string())?;
        if let Some(c) = cached.as_ref()
            && c.cert_mtime == cert_mtime
            && c.key_mtime == key_mtime
        {
            return Ok(c.key.clone());
        }
        let certs = load_certs(&self.cert)?;
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| format!("reading key {}: {e}", self.key.display()))?;
        let key = CertifiedKey::from_der(certs, key, &self.provider)
            .map(Arc::new)
            .map_err(|e| {
                format!(
                    "certificate {} and key {} do not form a usable pair: {e}",
                    self.cert.display(),
                    self.key.display()
                )
            })?;
        if cached.is_some() {
            tracing::info!(cert = %self.cert.display(), side = self.side, "reloaded TLS certificate");
        }
        *cached = Some(Cached {
            cert_mtime,
            key_mtime,
            key: key.clone(),
        });
        Ok(key)
    }

    fn resolve_logged(&self) -> Option<Arc<CertifiedKey>> {
        match self.load() {
            Ok(k) => Some(k),
            Err(e) => {
                tracing::warn!(side = self.side, error = %e, "no TLS certificate for the handshake");
                None
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.resolve_logged()
    }
}

impl ResolvesClientCert for ReloadingCert {
    fn resolve(
        &self,
        _hints: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.resolve_logged()
    }

    fn has_certs(&self) -> bool {
        true
    }
}
