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

/// Child processes of a test, each with its output in `<dir>/<name>.log`,
/// all killed (and reaped) when the group is dropped.
#[derive(Debug)]
pub struct Procs {
    dir: std::path::PathBuf,
    children: Vec<(String, KillOnDrop, std::path::PathBuf)>,
}

impl Procs {
    /// A group whose logs go to `dir` (created if missing).
    ///
    /// # Panics
    /// When `dir` cannot be created.
    pub fn new(dir: &std::path::Path) -> Self {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create log dir {}: {e}", dir.display()));
        Self {
            dir: dir.to_path_buf(),
            children: Vec::new(),
        }
    }

    /// Starts `cmd` as `name`, stdin closed, stdout and stderr to its log.
    ///
    /// # Panics
    /// When the log cannot be created or the process cannot start.
    pub fn spawn(&mut self, name: &str, cmd: &mut std::process::Command) {
        use std::process::Stdio;
        let log = self.dir.join(format!("{name}.log"));
        let f = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let out = f
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot clone {}: {e}", log.display()));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(f))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.children
            .push((name.to_string(), KillOnDrop(child), log));
    }

    /// The last `lines` lines of every child's log, for failure messages.
    pub fn logs(&self, lines: usize) -> String {
        let mut out = String::new();
        for (name, _, log) in &self.children {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- {name} ({}):\n", log.display()));
            for l in &all[all.len().saturating_sub(lines)..] {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    /// Which children have exited, and how.
    pub fn exited(&mut self) -> Vec<String> {
        self.children
            .iter_mut()
            .filter_map(|(name, child, _)| {
                child.exited().map(|st| format!("{name} exited with {st}"))
            })
            .collect()
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
            // Read the whole request first: closing a socket with unread
            // input resets the connection, and the client may lose the answer.
            let mut req = Vec::new();
            let mut buf = [0u8; 512];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
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
