//! A real Prometheus 3.5 over the test data: promtool backfills the data
//! into blocks in its data directory before it starts.

use std::process::{Command, Stdio};
use std::time::Duration;

use aeon_testkit::{KillOnDrop, free_port, peers};

use super::data;

/// A running Prometheus and the directory it lives in.
pub struct Prometheus {
    pub addr: String,
    _proc: KillOnDrop,
    _dir: tempfile::TempDir,
}

/// Feature flags matching what Aeon's engine always allows (experimental
/// functions and duration expressions).
const FEATURES: &str = "promql-experimental-functions,promql-duration-expr";

impl Prometheus {
    pub fn start(all: &[data::Series]) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let om = dir.path().join("data.om");
        std::fs::write(&om, data::openmetrics(all)).unwrap();
        let tsdb = dir.path().join("tsdb");
        let out = Command::new(peers::promtool())
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&om)
            .arg(&tsdb)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool backfill: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(&cfg, "global:\n  scrape_interval: 15s\n").unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(peers::prometheus())
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!("--enable-feature={FEATURES}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let proc = KillOnDrop(child);
        aeon_testkit::process::wait_http_ok(
            "prometheus",
            &addr,
            "/-/ready",
            Duration::from_secs(60),
        );
        Prometheus {
            addr,
            _proc: proc,
            _dir: dir,
        }
    }

    /// `GET path`: the JSON answer.
    pub fn get(&self, path: &str) -> serde_json::Value {
        for _ in 0..3 {
            if let Some((_, body)) =
                aeon_testkit::process::http_get(&self.addr, path, Duration::from_secs(60))
                && let Ok(v) = serde_json::from_str(&body)
            {
                return v;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no JSON answer from prometheus for {path}");
    }
}

/// Percent-encodes a query parameter value.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
