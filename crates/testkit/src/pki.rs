//! Certificates generated per test (rcgen): a CA, a server certificate for
//! `localhost` and `127.0.0.1`, a client certificate, and a second CA with a
//! client certificate of its own (the "wrong CA" of mutual-TLS tests), all
//! as PEM files in a directory that lives as long as the [`TestPki`].

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// The PEM files of one test's PKI.
#[derive(Debug)]
pub struct TestPki {
    dir: PathBuf,
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type Issuer = CertifiedIssuer<'static, KeyPair>;

fn ca(name: &str) -> Result<Issuer, String> {
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
    issuer: &Issuer,
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
    /// Generates, in a fresh temporary directory: `ca.pem`;
    /// `server.pem`/`server-key.pem` (names `localhost`, `127.0.0.1`, `::1`,
    /// `aeon.test`); `client.pem`/`client-key.pem` (`aeon-client`); and
    /// `other-ca.pem` with `other-client.pem`/`other-client-key.pem`, a CA
    /// and client the others do not trust.
    pub fn generate() -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!(
            "aeon-pki-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("PKI dir {}: {e}", dir.display()))?;
        let pki = Self { dir };
        let ca = ca("aeon test CA")?;
        pki.write("ca.pem", &ca.pem())?;
        let (c, k) = leaf(
            &["localhost", "127.0.0.1", "::1", "aeon.test"],
            ExtendedKeyUsagePurpose::ServerAuth,
            &ca,
        )?;
        pki.write("server.pem", &c)?;
        pki.write("server-key.pem", &k)?;
        let (c, k) = leaf(&["aeon-client"], ExtendedKeyUsagePurpose::ClientAuth, &ca)?;
        pki.write("client.pem", &c)?;
        pki.write("client-key.pem", &k)?;
        let other = self::ca("unrelated CA")?;
        pki.write("other-ca.pem", &other.pem())?;
        let (c, k) = leaf(&["intruder"], ExtendedKeyUsagePurpose::ClientAuth, &other)?;
        pki.write("other-client.pem", &c)?;
        pki.write("other-client-key.pem", &k)?;
        Ok(pki)
    }

    fn write(&self, name: &str, text: &str) -> Result<(), String> {
        std::fs::write(self.dir.join(name), text).map_err(|e| format!("writing {name}: {e}"))
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A file of the PKI by name (`ca.pem`, `server-key.pem`, …).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `file(name)` as a string, for command lines and YAML.
    pub fn path(&self, name: &str) -> String {
        self.file(name).display().to_string()
    }
}
