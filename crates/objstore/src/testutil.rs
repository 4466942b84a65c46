//! Test support: real servers started per test — an S3-compatible server (s3s-fs), Azurite
//! ([`azurite`]), fake-gcs-server ([`fake_gcs`]) — a TLS-terminating proxy with a CA generated
//! per test ([`tls`]), and a TCP proxy that can cut connections mid-transfer to simulate a
//! server going away.
//!
//! Peers are looked up under `$AEON_PEERS_DIR` (default `/opt/peers`): `s3s/bin/s3s-fs`,
//! `azurite/node_modules/.bin/azurite-blob`, `fake-gcs/bin/fake-gcs-server`. A missing peer
//! fails the test with a message saying how to install it; tests must not skip.

pub mod azurite;
pub mod fake_gcs;
pub mod tls;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::AbortHandle;

use crate::config::{BucketConfig, MIN_PART_SIZE};

/// Access key the test server accepts.
pub const ACCESS_KEY: &str = "aeon-test-access";
/// Secret key the test server accepts.
pub const SECRET_KEY: &str = "aeon-test-secret-key";
/// Bucket created in every test server.
pub const BUCKET: &str = "aeon-test";

/// Path of the s3s-fs binary.
pub fn s3s_fs_binary() -> PathBuf {
    aeon_testkit::Peer::S3sFs.files().swap_remove(0)
}

/// Spawns `cmd` (a server that will listen on `port`) and waits until the port accepts
/// connections; `name` is used in errors.
pub(crate) fn spawn_listening(
    mut cmd: Command,
    port: u16,
    name: &str,
    within: Duration,
) -> Result<Child, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawning {name}: {e}"))?;
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{name} exited early with {status}"));
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            // Another process may have taken the port between `free_port` and our
            // server's bind: then the connection reached that process, and ours exits
            // at once on "address already in use". Give it the moment to do so.
            std::thread::sleep(Duration::from_millis(150));
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "{name} exited with {status} although port {port} accepts connections: \
                     another process holds the port"
                ));
            }
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{name} did not accept connections on port {port} within {within:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running s3s-fs with one bucket, killed on drop.
#[derive(Debug)]
pub struct S3Server {
    child: Option<Child>,
    bin: PathBuf,
    root: tempfile::TempDir,
    port: u16,
}

impl S3Server {
    /// Starts s3s-fs on a free port with bucket [`BUCKET`] and waits until it accepts
    /// connections.
    pub fn start() -> Result<Self, String> {
        Self::start_with_binary(&s3s_fs_binary())
    }

    /// Like [`S3Server::start`] with an explicit binary path.
    pub fn start_with_binary(bin: &Path) -> Result<Self, String> {
        let bin = bin.to_path_buf();
        if !bin.is_file() {
            return Err(format!(
                "s3s-fs not found at {} (install it with `cargo xtask peers install s3s-fs`, or point AEON_PEERS_DIR at the directory that holds it)",
                bin.display()
            ));
        }
        let root = tempfile::tempdir().map_err(|e| format!("creating s3s-fs root: {e}"))?;
        std::fs::create_dir_all(root.path().join(BUCKET))
            .map_err(|e| format!("creating bucket dir: {e}"))?;
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port()?;
            match spawn_server(&bin, root.path(), port) {
                Ok(child) => {
                    return Ok(Self {
                        child: Some(child),
                        bin,
                        root,
                        port,
                    });
                }
                Err(e) => last_err = e,
            }
        }
        Err(format!("s3s-fs did not start: {last_err}"))
    }

    /// Kills the server (the data directory stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and data directory.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match spawn_server(&self.bin, self.root.path(), self.port) {
                Ok(child) => {
                    self.child = Some(child);
                    return Ok(());
                }
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// `127.0.0.1:port`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's data root (buckets are directories in it; s3s-fs keeps multipart state here).
    pub fn root_dir(&self) -> &Path {
        self.root.path()
    }

    /// Directory holding the bucket's objects as files.
    pub fn bucket_dir(&self) -> PathBuf {
        self.root.path().join(BUCKET)
    }

    /// Objstore YAML for this server (path-style, plain HTTP, 5 MiB parts).
    pub fn yaml(&self) -> String {
        yaml_for(&self.endpoint(), SECRET_KEY, MIN_PART_SIZE)
    }

    /// Parsed config for this server.
    pub fn config(&self) -> BucketConfig {
        BucketConfig::parse(&self.yaml(), "s3s-fs test server")
            .unwrap_or_else(|e| panic!("test config: {e}"))
    }
}

/// Spawns s3s-fs on `port` serving `root` and waits until it accepts connections.
fn spawn_server(bin: &Path, root: &Path, port: u16) -> Result<Child, String> {
    let mut cmd = Command::new(bin);
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(root);
    spawn_listening(cmd, port, "s3s-fs", Duration::from_secs(15))
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Objstore YAML pointing at `endpoint` with the test access key and the given secret.
pub fn yaml_for(endpoint: &str, secret_key: &str, part_size: u64) -> String {
    format!(
        "type: S3\nconfig:\n  bucket: {BUCKET}\n  endpoint: \"{endpoint}\"\n  region: us-east-1\n  access_key: {ACCESS_KEY}\n  \
         secret_key: {secret_key}\n  insecure: true\n  bucket_lookup_type: path\n  part_size: {part_size}\n"
    )
}

/// A port that was free a moment ago.
pub fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding a free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("reading the free port: {e}"))
}

/// A TCP proxy that forwards to a target and can be cut: all connections are dropped and the
/// listening port closes, as if the server died. It cuts itself after a byte budget of
/// client-to-server traffic when one is set.
#[derive(Debug)]
pub struct ChaosProxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
}

#[derive(Debug)]
struct ProxyState {
    target: SocketAddr,
    upstream_bytes: AtomicU64,
    cut_after: AtomicU64,
    cut: AtomicBool,
    tasks: Mutex<Vec<AbortHandle>>,
}

impl ProxyState {
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for t in tasks {
            t.abort();
        }
    }

    fn track(&self, handle: AbortHandle) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        if self.cut.load(Ordering::SeqCst) {
            handle.abort();
        } else {
            tasks.push(handle);
        }
    }
}

impl ChaosProxy {
    /// Starts forwarding `127.0.0.1:<new port>` to `target`. Call inside a tokio runtime.
    pub async fn start(target: SocketAddr) -> Result<Self, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("proxy bind: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("proxy addr: {e}"))?;
        let state = Arc::new(ProxyState {
            target,
            upstream_bytes: AtomicU64::new(0),
            cut_after: AtomicU64::new(u64::MAX),
            cut: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
        });
        let st = Arc::clone(&state);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let st2 = Arc::clone(&st);
                let conn = tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(st2.target).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let total =
                                st2.upstream_bytes.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                            if total > st2.cut_after.load(Ordering::SeqCst) {
                                st2.cut();
                                break;
                            }
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = sw.shutdown().await;
                    };
                    let down = async {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                        let _ = cw.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
                st.track(conn.abort_handle());
            }
        });
        state.track(accept.abort_handle());
        Ok(Self { addr, state })
    }

    /// `127.0.0.1:port` of the proxy.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Cuts once more than `bytes` have gone from clients to the server (counting from start).
    pub fn cut_after_upstream_bytes(&self, bytes: u64) {
        self.state.cut_after.store(bytes, Ordering::SeqCst);
    }

    /// Drops every connection and closes the port now.
    pub fn cut(&self) {
        self.state.cut();
    }

    /// Whether the proxy has been cut.
    pub fn is_cut(&self) -> bool {
        self.state.cut.load(Ordering::SeqCst)
    }

    /// Bytes forwarded from clients so far.
    pub fn upstream_bytes(&self) -> u64 {
        self.state.upstream_bytes.load(Ordering::SeqCst)
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.state.cut();
    }
}

/// Files below `dir` whose name is `name` (to prove no partial object landed on disk).
pub fn find_files_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name().to_str() == Some(name) {
                out.push(p);
            }
        }
    }
    out
}
