//! Test helpers for the service binaries (feature `testutil`): start one as
//! a child process, find its HTTP address in its logfmt log, wait for
//! `/-/ready`, stop it with SIGTERM; a logfmt parser to check log lines; an
//! OTLP tracing config; a real Prometheus 3.5 for the sidecar.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// A service binary running as a child process; killed on drop.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Child,
    lines: Receiver<String>,
    /// The stderr lines read so far.
    pub seen: Vec<String>,
}

impl Proc {
    /// Spawns `cmd` with stderr captured (stdout discarded).
    pub fn spawn(name: &str, cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Self {
            name: name.to_string(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads stderr until a line satisfies `f` (returning its value), for
    /// at most `timeout`; panics with everything seen when the process exits
    /// or time runs out.
    pub fn wait_line<T>(&mut self, timeout: Duration, f: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(l) => {
                    let hit = f(&l);
                    self.seen.push(l);
                    if let Some(v) = hit {
                        return v;
                    }
                }
                Err(_) if Instant::now() > deadline => {
                    panic!(
                        "{}: no expected log line in {timeout:?}: {:#?}",
                        self.name, self.seen
                    )
                }
                Err(_) => {
                    if let Some(st) = self.child.try_wait().unwrap() {
                        self.drain();
                        panic!("{} exited with {st}: {:#?}", self.name, self.seen);
                    }
                }
            }
        }
    }

    /// Waits for the `msg="serving http"` log line and returns the address
    /// it names (a wildcard host becomes 127.0.0.1).
    pub fn http_addr(&mut self) -> SocketAddr {
        let addr = self.wait_line(Duration::from_secs(60), |l| {
            let kv = parse_logfmt(l).ok()?;
            (kv.get("msg").map(String::as_str) == Some("serving http"))
                .then(|| kv.get("address").cloned())
                .flatten()
        });
        let mut addr: SocketAddr = addr.parse().unwrap();
        if addr.ip().is_unspecified() {
            addr.set_ip([127, 0, 0, 1].into());
        }
        addr
    }

    /// Polls `/-/ready` on `addr` until it answers 200.
    pub fn wait_ready(&mut self, addr: SocketAddr) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (code, body) = http_get(addr, "/-/ready");
            if code == 200 {
                return;
            }
            if let Some(st) = self.child.try_wait().unwrap() {
                self.drain();
                panic!("{} exited with {st}: {:#?}", self.name, self.seen);
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready: {code} {body}: {:#?}",
                self.name,
                self.seen
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends SIGTERM and waits (at most 60 s) for the exit; returns the
    /// status and every stderr line.
    pub fn stop(mut self) -> (ExitStatus, Vec<String>) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not stop after SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        self.drain();
        (status, std::mem::take(&mut self.seen))
    }

    fn drain(&mut self) {
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(l);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` to its end (at most 60 s is the caller's business); returns
/// success, stdout and stderr.
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("run command");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `GET path` over plain HTTP/1.1; `(0, error)` when the connection fails.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
        return (0, "connection refused".into());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return (0, "write failed".into());
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (code, body)
}

/// A free local TCP port.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Writes a Thanos OTLP tracing config exporting to `127.0.0.1:<port>`
/// into `dir` and returns its path.
pub fn otlp_config(dir: &Path, port: u16) -> PathBuf {
    let p = dir.join("tracing.yaml");
    std::fs::write(
        &p,
        format!(
            "type: OTLP\nconfig:\n  client_type: grpc\n  service_name: aeon-test\n  \
             endpoint: 127.0.0.1:{port}\n  insecure: true\n"
        ),
    )
    .unwrap();
    p
}

/// Parses one logfmt line (go-logfmt's grammar: `key=value`, `key="quoted
/// \"value\""`, `key=`, bare `key`) into its pairs; an error names what is
/// malformed. A key given twice keeps the last value.
pub fn parse_logfmt(line: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ' ' {
                break;
            }
            if c == '"' || c < ' ' {
                return Err(format!("bad character {c:?} in a key of {line:?}"));
            }
            key.push(c);
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        None => return Err(format!("unterminated quote in {line:?}")),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some('r') => value.push('\r'),
                            Some('t') => value.push('\t'),
                            Some('u') => {
                                let hex: String = chars.by_ref().take(4).collect();
                                let c = u32::from_str_radix(&hex, 16)
                                    .ok()
                                    .and_then(char::from_u32)
                                    .ok_or_else(|| format!("bad \\u escape in {line:?}"))?;
                                value.push(c);
                            }
                            Some(c @ ('"' | '\\' | '/')) => value.push(c),
                            other => return Err(format!("bad escape {other:?} in {line:?}")),
                        },
                        Some(c) => value.push(c),
                    }
                }
                if chars.peek().is_some_and(|c| *c != ' ') {
                    return Err(format!("text right after a quoted value in {line:?}"));
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ' ' {
                        break;
                    }
                    if c == '"' || c == '=' || c < ' ' {
                        return Err(format!("unquoted {c:?} in a value of {line:?}"));
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        if key.is_empty() {
            return Err(format!("empty key in {line:?}"));
        }
        out.insert(key, value);
    }
}

/// The start-up contract every service binary keeps, checked on one:
/// `cmd()` makes the command (binary and subcommand), `prefix` is how it
/// names itself in errors (`aeon: query`, `aeon-querier: query`), `args`
/// are the flags it needs besides the listen addresses.
///
/// 1. With OTLP tracing configured inline through `$(VAR)` and `:0`
///    listen addresses it serves `/-/ready`, logs only go-kit logfmt lines
///    and exits 0 on SIGTERM.
/// 2. A taken HTTP port fails start-up with `prefix: http server on
///    <address>: bind: <cause>`, and no backtrace although
///    `RUST_BACKTRACE=1`.
/// 3. A bad flag value and a reference to an unset variable each print one
///    clear message naming the flag or variable, without a backtrace.
pub fn check_service_binary(
    cmd: impl Fn() -> Command,
    prefix: &str,
    args: &[String],
    grpc: bool,
    dir: &Path,
) {
    let otlp = std::fs::read_to_string(otlp_config(dir, free_port())).unwrap();
    let mut listen = vec!["--http-address=:0".to_string()];
    if grpc {
        listen.push("--grpc-address=:0".into());
    }

    let mut c = cmd();
    c.args(args)
        .args(&listen)
        .args([
            "--log.format=logfmt",
            "--tracing.config=$(AEON_TEST_TRACING)",
        ])
        .env("AEON_TEST_TRACING", &otlp)
        .env("RUST_BACKTRACE", "1");
    let mut p = Proc::spawn(prefix, &mut c);
    let addr = p.http_addr();
    p.wait_ready(addr);
    let (status, lines) = p.stop();
    eprintln!("{prefix}: served /-/ready on {addr}; log: {lines:#?}");
    assert!(
        status.success(),
        "{prefix}: exit {status} after SIGTERM: {lines:#?}"
    );
    assert!(!lines.is_empty());
    for l in &lines {
        let kv = parse_logfmt(l).unwrap_or_else(|e| panic!("{prefix}: not logfmt: {e}"));
        assert!(l.starts_with("level="), "{prefix}: level first: {l}");
        for key in ["level", "ts", "caller", "msg"] {
            assert!(kv.contains_key(key), "{prefix}: no {key} in {l}");
        }
    }

    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = held.local_addr().unwrap();
    let mut listen = vec![format!("--http-address={taken}")];
    if grpc {
        listen.push("--grpc-address=127.0.0.1:0".into());
    }
    let (ok, _, err) = run(cmd().args(args).args(&listen).env("RUST_BACKTRACE", "1"));
    assert!(!ok, "{prefix}: started on a taken port: {err}");
    let want = format!("{prefix}: http server on {taken}: bind: ");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&want) && last.contains("in use"),
        "{prefix}: want {want:?}…in use, got {err}"
    );
    no_backtrace(prefix, &err);

    let (ok, _, err) = run(cmd()
        .args(args)
        .arg("--http-address=10902")
        .env("RUST_BACKTRACE", "1"));
    assert!(
        !ok && err.contains("--http-address") && err.contains("\"10902\""),
        "{err}"
    );
    no_backtrace(prefix, &err);

    let (ok, _, err) = run(cmd()
        .args(args)
        .args([
            "--http-address=127.0.0.1:0",
            "--tracing.config=$(AEON_TEST_UNSET)",
        ])
        .env_remove("AEON_TEST_UNSET")
        .env("RUST_BACKTRACE", "1"));
    assert!(!ok, "{prefix}: started with an unset variable");
    assert_eq!(
        err.trim_end(),
        format!(
            "{prefix}: --tracing.config references unset environment variable \"AEON_TEST_UNSET\" as $(AEON_TEST_UNSET)"
        ),
    );
}

fn no_backtrace(prefix: &str, err: &str) {
    for bad in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!err.contains(bad), "{prefix}: {bad:?} in {err}");
    }
}

/// A real Prometheus 3.5 (`$AEON_PEERS_DIR/prometheus3/bin/prometheus`)
/// with external labels, for the sidecar; killed on drop.
#[derive(Debug)]
pub struct Prometheus {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    child: Child,
}

impl Prometheus {
    /// Starts Prometheus with its data under `dir` and waits until ready.
    pub fn start(dir: &Path) -> Self {
        let bin = aeon_testkit::peers::prometheus();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            "global:\n  external_labels:\n    cluster: test\n    replica: \"0\"\n",
        )
        .unwrap();
        let port = free_port();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prom").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let p = Self {
            url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_get(addr, "/-/ready").0 != 200 {
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_kit_logfmt() {
        let kv = parse_logfmt(
            r#"level=info ts=2024-01-02T03:04:05.000000001Z caller=run.rs:1 msg="querier started" a= b="x=\"y\"\n" c"#,
        )
        .unwrap();
        assert_eq!(kv["level"], "info");
        assert_eq!(kv["msg"], "querier started");
        assert_eq!(kv["a"], "");
        assert_eq!(kv["b"], "x=\"y\"\n");
        assert_eq!(kv["c"], "");
        for bad in [
            "a=\"open",
            "a=b\"c",
            "=x",
            "a=\"x\"y",
            "2024-01-02T03:04:05Z  INFO querier: started a=1 b=\"x",
        ] {
            assert!(parse_logfmt(bad).is_err(), "{bad}");
        }
    }
}
