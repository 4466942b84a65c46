//! Child processes that die with the test, and waiting for them to serve.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::{Duration, Instant};

/// A child process killed (and reaped) when dropped, so a failing test never
/// leaves a server behind.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Whether the process has exited (and with what), without waiting.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.0.try_wait().ok().flatten()
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One plain HTTP/1.0 GET on `addr` (`host:port`): the status code and body,
/// or `None` when the connection or the read fails. No client library, so
/// every test crate can use it.
pub fn http_get(addr: &str, path: &str, timeout: Duration) -> Option<(u16, String)> {
    let sock = addr.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sock, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    // One write: a request split over several segments can be answered and
    // closed by a server after the first, resetting the connection.
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// Polls `GET path` on `addr` until it answers 200, for at most `timeout`.
///
/// # Panics
/// When it does not answer 200 in time, naming `what`, the URL and the last
/// answer.
pub fn wait_http_ok(what: &str, addr: &str, path: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    while Instant::now() < deadline {
        match http_get(addr, path, Duration::from_secs(2)) {
            Some((200, _)) => return,
            other => last = other,
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what} did not answer 200 on http://{addr}{path} within {timeout:?} (last answer: {last:?})"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn http_get_reads_status_and_body() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}")).to_string();
        let server = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap_or_else(|e| panic!("{e}"));
            let mut buf = [0u8; 512];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.0 503 Service Unavailable\r\n\r\nnot yet");
        });
        let got = http_get(&addr, "/-/ready", Duration::from_secs(5));
        server.join().unwrap_or_else(|_| panic!("server thread"));
        assert_eq!(got, Some((503, "not yet".to_string())));
    }

    #[test]
    fn kill_on_drop_kills() {
        let child = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let pid = child.id();
        drop(KillOnDrop(child));
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ");
        assert!(!alive, "process {pid} survived its guard");
    }
}
