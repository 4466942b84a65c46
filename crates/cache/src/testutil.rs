//! Real cache servers for tests and benches: `memcached` and `redis-server`
//! from the system (`aeon_testkit::peers`), each on a free loopback port,
//! killed when dropped. A missing binary fails loudly.

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aeon_testkit::KillOnDrop;

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// `127.0.0.1:port`.
    pub addr: String,
    /// The process; dropping it stops the server.
    pub process: KillOnDrop,
}

impl Server {
    /// Stops the server now (a cache that goes away).
    pub fn stop(self) {
        drop(self.process);
    }
}

fn wait_listening(addr: &str, process: &mut KillOnDrop, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if TcpStream::connect(addr).is_ok() {
            return;
        }
        if let Some(st) = process.exited() {
            panic!("{what} on {addr} exited with {st}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {addr} within 20s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start(what: &str, mut cmd: Command, addr: String) -> Server {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut process = KillOnDrop(child);
    wait_listening(&addr, &mut process, what);
    Server { addr, process }
}

/// Starts `memcached` (64 MiB, TCP only) on a free port.
pub fn memcached() -> Server {
    let port = aeon_testkit::free_port();
    let mut cmd = Command::new(aeon_testkit::peers::memcached());
    cmd.args(["-l", "127.0.0.1", "-U", "0", "-m", "64", "-p"])
        .arg(port.to_string());
    // memcached refuses to run as root without -u.
    #[cfg(unix)]
    cmd.args(["-u", "root"]);
    start("memcached", cmd, format!("127.0.0.1:{port}"))
}

/// Starts `redis-server` (no persistence) on a free port.
pub fn redis() -> Server {
    let port = aeon_testkit::free_port();
    let mut cmd = Command::new(aeon_testkit::peers::redis_server());
    cmd.args([
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--port",
    ])
    .arg(port.to_string());
    start("redis-server", cmd, format!("127.0.0.1:{port}"))
}
