//! Shared test fixtures: a real Prometheus 3.5 with deterministic
//! historical blocks made by promtool, started on a free port and killed on
//! drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// External labels every test Prometheus has.
pub const EXT: &[(&str, &str)] = &[("cluster", "eu1"), ("replica", "0")];

/// Sample spacing of the generated data (ms).
pub const STEP_MS: i64 = 30_000;

pub fn peers_bin(name: &str) -> PathBuf {
    match name {
        "promtool" => aeon_testkit::peers::promtool(),
        _ => aeon_testkit::peers::prometheus(),
    }
}

pub use aeon_testkit::free_port;

/// Deterministic OpenMetrics text: counters, a gauge with fractional
/// values, and a series whose own `cluster` label collides with an external
/// label. Samples every 30 s over 5 h, starting at `start_ms`.
pub fn openmetrics(start_ms: i64) -> String {
    let mut s = String::new();
    let n = 5 * 3600 * 1000 / STEP_MS;
    s.push_str("# TYPE http_requests counter\n");
    for job in ["api", "web"] {
        for inst in 0..3 {
            for code in ["200", "500"] {
                for i in 0..n {
                    let t = start_ms + i * STEP_MS;
                    let v = (i * (inst + 1)) as f64 + if code == "500" { 0.5 } else { 0.0 };
                    s.push_str(&format!(
                        "http_requests_total{{job=\"{job}\",instance=\"host-{inst}\",code=\"{code}\"}} {v} {}.{:03}\n",
                        t / 1000,
                        t % 1000
                    ));
                }
            }
        }
    }
    s.push_str("# TYPE temperature gauge\n");
    for room in ["kitchen", "attic"] {
        for i in 0..n {
            let t = start_ms + i * STEP_MS;
            let v = 20.0 + ((i as f64) / 7.0).sin() * 3.3;
            s.push_str(&format!(
                "temperature{{room=\"{room}\"}} {v} {}.{:03}\n",
                t / 1000,
                t % 1000
            ));
        }
    }
    s.push_str("# TYPE conflict gauge\n");
    for i in 0..n {
        let t = start_ms + i * STEP_MS;
        s.push_str(&format!(
            "conflict{{cluster=\"local\",job=\"api\"}} {i} {}.{:03}\n",
            t / 1000,
            t % 1000
        ));
    }
    s.push_str("# EOF\n");
    s
}

/// A running Prometheus; killed on drop.
pub struct Prom {
    pub child: Child,
    pub url: String,
    pub data: PathBuf,
    pub config: PathBuf,
    pub start_ms: i64,
    pub _tmp: tempfile::TempDir,
}

impl Drop for Prom {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn config_yaml(ext: &[(&str, &str)]) -> String {
    let mut y = String::from("global:\n  scrape_interval: 15s\n");
    if !ext.is_empty() {
        y.push_str("  external_labels:\n");
        for (n, v) in ext {
            y.push_str(&format!("    {n}: \"{v}\"\n"));
        }
    }
    y
}

/// Now minus 6 h, rounded down to a minute (so blocks are in the past).
pub fn data_start() -> i64 {
    let now = chrono_now_ms();
    (now - 6 * 3600 * 1000) / 60_000 * 60_000
}

pub fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub struct PromOptions<'a> {
    pub ext: &'a [(&'a str, &'a str)],
    pub with_blocks: bool,
    pub extra_flags: Vec<String>,
    /// Port to listen on (None = a free one).
    pub port: Option<u16>,
    /// OpenMetrics to backfill instead of [`openmetrics`] (with_blocks).
    pub data: Option<String>,
    /// Serve through Prometheus's `--web.config.file`: (file, basic auth
    /// user, password); the URL is then `https://localhost:<port>`.
    pub web_config: Option<(PathBuf, String, String)>,
}

impl Default for PromOptions<'_> {
    fn default() -> Self {
        Self {
            ext: EXT,
            with_blocks: true,
            extra_flags: vec![],
            port: None,
            data: None,
            web_config: None,
        }
    }
}

/// Creates blocks with promtool in a fresh data dir and starts Prometheus
/// on it with compaction disabled (min = max block duration = 2h).
pub async fn start_prometheus(opts: PromOptions<'_>) -> Prom {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let start_ms = data_start();
    if opts.with_blocks {
        let om = tmp.path().join("in.om");
        std::fs::write(
            &om,
            opts.data.clone().unwrap_or_else(|| openmetrics(start_ms)),
        )
        .unwrap();
        let out = Command::new(peers_bin("promtool"))
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&om)
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let config = tmp.path().join("prometheus.yml");
    std::fs::write(&config, config_yaml(opts.ext)).unwrap();
    let port = opts.port.unwrap_or_else(free_port);
    let child = Command::new(peers_bin("prometheus"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.min-block-duration=2h")
        .arg("--storage.tsdb.max-block-duration=2h")
        .arg("--storage.tsdb.retention.time=30d")
        .arg("--web.enable-lifecycle")
        .arg("--log.level=warn")
        .args(&opts.extra_flags)
        .args(
            opts.web_config
                .iter()
                .map(|(f, _, _)| format!("--web.config.file={}", f.display())),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = match &opts.web_config {
        Some(_) => format!("https://localhost:{port}"),
        None => format!("http://127.0.0.1:{port}"),
    };
    let prom = Prom {
        child,
        url,
        data,
        config,
        start_ms,
        _tmp: tmp,
    };
    match &opts.web_config {
        None => wait_ready(&prom.url).await,
        Some((_, user, pass)) => wait_ready_as(&prom.url, Some((user, pass))).await,
    }
    prom
}

pub async fn wait_ready(url: &str) {
    wait_ready_as(url, None).await;
}

/// [`wait_ready`] over TLS without verification, with basic auth.
async fn wait_ready_as(url: &str, auth: Option<(&String, &String)>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let skip = aeon_common::tls::client_config(
        &aeon_common::tls::ClientSettings {
            insecure_skip_verify: true,
            alpn: vec![b"http/1.1".to_vec()],
            ..Default::default()
        },
        "test",
    )
    .unwrap();
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured((*skip).clone())
        .build()
        .unwrap();
    loop {
        let mut req = http.get(format!("{url}/-/ready"));
        if let Some((u, p)) = auth {
            req = req.basic_auth(u, Some(p));
        }
        if let Ok(r) = req.send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus at {url} did not become ready within 60s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// GET a Prometheus API path and return `data`.
pub async fn prom_api(url: &str, path: &str, query: &[(&str, String)]) -> serde_json::Value {
    let r = reqwest::Client::new()
        .get(format!("{url}{path}"))
        .query(query)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert!(status.is_success(), "{path}: {v}");
    v["data"].clone()
}

/// Polls `cond` until true (max 30 s).
pub async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
