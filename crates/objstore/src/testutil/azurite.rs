//! Azurite (Microsoft's Azure Storage emulator, npm package `azurite`) started per test.
//!
//! Install: `npm install --prefix $AEON_PEERS_DIR/azurite azurite@3.35.0`; the blob service is
//! `$AEON_PEERS_DIR/azurite/node_modules/.bin/azurite-blob`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use super::{free_port, spawn_listening};
use crate::config::BucketConfig;

/// Azurite's well-known development account.
pub const ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known development account key.
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// Container used by the tests (created by the backend: `storage_create_container`).
pub const CONTAINER: &str = "aeon-test";

/// Path of the `azurite-blob` launcher.
pub fn azurite_binary() -> PathBuf {
    aeon_testkit::Peer::Azurite.files().swap_remove(0)
}

/// A running Azurite blob service, killed on drop.
#[derive(Debug)]
pub struct Azurite {
    child: Option<Child>,
    bin: PathBuf,
    data: tempfile::TempDir,
    port: u16,
}

impl Azurite {
    /// Starts Azurite's blob service on a free port with its data in a temporary directory.
    pub fn start() -> Result<Self, String> {
        Self::start_with_binary(&azurite_binary())
    }

    /// Like [`Azurite::start`] with an explicit launcher path.
    pub fn start_with_binary(bin: &Path) -> Result<Self, String> {
        if !bin.is_file() {
            return Err(format!(
                "azurite-blob not found at {} (install it with `cargo xtask peers install azurite`, or point AEON_PEERS_DIR at the directory that holds it)",
                bin.display()
            ));
        }
        let data = tempfile::tempdir().map_err(|e| format!("creating Azurite's data dir: {e}"))?;
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port()?;
            match spawn(bin, data.path(), port) {
                Ok(child) => {
                    return Ok(Self {
                        child: Some(child),
                        bin: bin.to_path_buf(),
                        data,
                        port,
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(format!("Azurite did not start: {last}"))
    }

    /// Stops the server with SIGTERM, so that Azurite saves its metadata (the data stays);
    /// SIGKILL after 10 s.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port and data.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        self.child = Some(spawn(&self.bin, self.data.path(), self.port)?);
        Ok(())
    }

    /// Blob endpoint, `http://127.0.0.1:<port>/devstoreaccount1`.
    pub fn blob_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// The account's connection string with `key` as the account key.
    pub fn connection_string_with_key(&self, key: &str) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={key};BlobEndpoint={};",
            self.blob_endpoint()
        )
    }

    /// Objstore YAML for container [`CONTAINER`] (created on first use).
    pub fn yaml(&self) -> String {
        self.yaml_for(CONTAINER, ACCOUNT_KEY)
    }

    /// Objstore YAML for `container`, authenticating with `key`.
    pub fn yaml_for(&self, container: &str, key: &str) -> String {
        format!(
            "type: AZURE\nconfig:\n  storage_account: {ACCOUNT}\n  storage_connection_string: \"{}\"\n  container: {container}\n",
            self.connection_string_with_key(key)
        )
    }

    /// Parsed config for this server.
    pub fn config(&self) -> BucketConfig {
        BucketConfig::parse(&self.yaml(), "Azurite test server")
            .unwrap_or_else(|e| panic!("test config: {e}"))
    }
}

fn spawn(bin: &Path, data: &Path, port: u16) -> Result<Child, String> {
    let mut cmd = Command::new(bin);
    cmd.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
        .arg("--location")
        .arg(data)
        .args(["--silent", "--skipApiVersionCheck"]);
    spawn_listening(cmd, port, "Azurite", Duration::from_secs(30))
}

impl Drop for Azurite {
    fn drop(&mut self) {
        self.stop();
    }
}
