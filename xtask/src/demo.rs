//! `cargo xtask demo`: the whole stack on loopback over a filesystem bucket.
//!
//! 1. builds `aeon`;
//! 2. generates a day of history for an HA pair (`cluster="demo"`,
//!    `replica="A"|"B"`) with `aeon tools tsdb create-blocks-from openmetrics`,
//!    adds the Thanos section to each block and puts it in the bucket;
//! 3. when Prometheus is installed, starts an HA pair of Prometheus servers
//!    with a sidecar each (the seed's walkthrough);
//! 4. starts a store-gateway and a compactor over the bucket and a querier
//!    over everything, deduplicating on `replica`, and prints the UI and
//!    Grafana URLs.
//!
//! `--check` runs a few queries against the stack, prints
//! `demo: N passed, N failed` and exits instead of waiting for Ctrl-C.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Working directory for the bucket, data and logs (wiped first).
    #[arg(long, default_value = ".aeon/demo")]
    dir: PathBuf,
    /// First port of the range the demo uses: Prometheus base+90.., sidecars base+100.. (gRPC)
    /// and base+110.. (HTTP), store-gateway base+120/121, compactor HTTP base+123, querier HTTP base+192 (19192, as in the
    /// Thanos tutorial) and gRPC base+122.
    #[arg(long, default_value_t = 19000)]
    base_port: u16,
    /// Do not start Prometheus even when it is installed.
    #[arg(long)]
    no_prometheus: bool,
    /// Query the stack, report, and exit (used by `cargo xtask test`).
    #[arg(long)]
    check: bool,
    /// Use the already built `target/debug/aeon` instead of building it (`cargo xtask test`
    /// runs the demo with the binary its test build made, to avoid a second build).
    #[arg(long, hide = true)]
    no_build: bool,
}

impl DemoArgs {
    /// Non-interactive run in `dir` (for `cargo xtask test`).
    pub fn for_check(dir: PathBuf) -> Self {
        Self {
            dir,
            base_port: 19000,
            no_prometheus: false,
            check: true,
            no_build: true,
        }
    }
}

/// Child processes, killed when dropped.
pub(crate) struct Stack {
    pub(crate) children: Vec<(String, Child)>,
    pub(crate) logs: PathBuf,
}

impl Stack {
    pub(crate) fn spawn(&mut self, name: &str, cmd: &mut Command) -> Result<()> {
        let log = std::fs::File::create(self.logs.join(format!("{name}.log")))?;
        let child = cmd
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        self.children.push((name.to_string(), child));
        Ok(())
    }

    /// Fails when a child exited early, pointing at its log.
    pub(crate) fn check_alive(&mut self) -> Result<()> {
        for (name, c) in &mut self.children {
            if let Some(status) = c.try_wait()? {
                let log = self.logs.join(format!("{name}.log"));
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = tail.lines().rev().take(15).collect();
                bail!(
                    "{name} exited with {status}; log {}:\n{}",
                    log.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
        }
        Ok(())
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn run(root: &Path, args: DemoArgs) -> Result<()> {
    crate::run(
        crate::cargo()
            .current_dir(root)
            .args(["build", "-p", "aeon"]),
    )?;
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let aeon = target.join("debug/aeon");

    let dir = if args.dir.is_absolute() {
        args.dir.clone()
    } else {
        root.join(&args.dir)
    };
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot wipe {}", dir.display()))?;
    }
    let bucket = dir.join("bucket");
    let logs = dir.join("logs");
    for d in [&bucket, &logs] {
        std::fs::create_dir_all(d)?;
    }
    let bucket_yml = dir.join("bucket.yml");
    std::fs::write(
        &bucket_yml,
        format!("type: FILESYSTEM\nconfig:\n  directory: {:?}\n", bucket),
    )?;

    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    // History ends three hours ago so the store-gateway, not Prometheus, serves it.
    let hist_end = now_ms - 3 * 3_600_000;
    for replica in ["A", "B"] {
        generate_history(&aeon, &dir, &bucket, replica, hist_end)?;
    }
    eprintln!(
        "demo: history for replicas A and B is in {}",
        bucket.display()
    );

    let p = args.base_port;
    let mut stack = Stack {
        children: Vec::new(),
        logs: logs.clone(),
    };
    let mut endpoints = Vec::new();

    let prometheus = if args.no_prometheus {
        None
    } else {
        match crate::peers::ensure(&[aeon_testkit::Peer::Prometheus]) {
            Ok(()) => Some(aeon_testkit::peers::prometheus()),
            // `--check` proves the whole walkthrough: without Prometheus it must fail.
            Err(e) if args.check => {
                return Err(e.context("demo --check needs Prometheus 3.5 for the HA pair"));
            }
            Err(e) => {
                eprintln!("demo: no Prometheus ({e:#}); the generated history still serves");
                None
            }
        }
    };
    let with_prometheus = prometheus.is_some();
    if let Some(prom) = prometheus {
        for (i, replica) in ["A", "B"].into_iter().enumerate() {
            let i = i as u16;
            let (prom_port, sc_grpc, sc_http) = (p + 90 + i, p + 100 + i, p + 110 + i);
            let data = dir.join(format!("prometheus-{replica}"));
            std::fs::create_dir_all(&data)?;
            let cfg = dir.join(format!("prometheus-{replica}.yml"));
            std::fs::write(
                &cfg,
                format!(
                    "global:\n  scrape_interval: 5s\n  external_labels:\n    cluster: demo\n    replica: {replica}\n\
                     scrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{}', '127.0.0.1:{}']\n\
                     \x20 - job_name: aeon\n    static_configs:\n      - targets: ['127.0.0.1:{}', '127.0.0.1:{}', '127.0.0.1:{}']\n",
                    p + 90,
                    p + 91,
                    p + 120,
                    p + 192,
                    sc_http
                ),
            )?;
            stack.spawn(
                &format!("prometheus-{replica}"),
                Command::new(&prom)
                    .arg(format!("--config.file={}", cfg.display()))
                    .arg(format!("--storage.tsdb.path={}", data.display()))
                    .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
                    .args([
                        "--storage.tsdb.min-block-duration=2h",
                        "--storage.tsdb.max-block-duration=2h",
                    ])
                    .arg("--web.enable-lifecycle"),
            )?;
            stack.spawn(
                &format!("sidecar-{replica}"),
                Command::new(&aeon)
                    .arg("sidecar")
                    .arg(format!("--tsdb.path={}", data.display()))
                    .arg(format!("--prometheus.url=http://127.0.0.1:{prom_port}"))
                    .arg(format!("--objstore.config-file={}", bucket_yml.display()))
                    .arg(format!("--http-address=127.0.0.1:{sc_http}"))
                    .arg(format!("--grpc-address=127.0.0.1:{sc_grpc}")),
            )?;
            endpoints.push(format!("127.0.0.1:{sc_grpc}"));
        }
    }

    let (sg_http, sg_grpc, q_http, q_grpc) = (p + 120, p + 121, p + 192, p + 122);
    stack.spawn(
        "store",
        &mut store_command(&aeon, &dir, &bucket_yml, sg_http, sg_grpc),
    )?;
    endpoints.push(format!("127.0.0.1:{sg_grpc}"));
    stack.spawn(
        "compact",
        Command::new(&aeon)
            .arg("compact")
            .arg("--wait")
            .arg(format!("--data-dir={}", dir.join("compact").display()))
            .arg(format!("--objstore.config-file={}", bucket_yml.display()))
            .arg(format!("--http-address=127.0.0.1:{}", p + 123)),
    )?;

    let mut q = Command::new(&aeon);
    q.arg("query")
        .arg(format!("--http-address=127.0.0.1:{q_http}"))
        .arg(format!("--grpc-address=127.0.0.1:{q_grpc}"))
        .arg("--query.replica-label=replica");
    for e in &endpoints {
        q.arg(format!("--store={e}"));
    }
    stack.spawn("query", &mut q)?;

    wait_ready(&mut stack, sg_http, "store-gateway")?;
    wait_ready(&mut stack, p + 123, "compactor")?;
    wait_ready(&mut stack, q_http, "querier")?;
    let ui = format!("http://127.0.0.1:{q_http}/");
    println!("\nAeon demo is up.");
    println!("  querier UI:                {ui}");
    println!("  Grafana datasource (type Prometheus): http://127.0.0.1:{q_http}");
    println!("  stores:                    {ui}api/v1/stores");
    println!("  logs:                      {}", logs.display());
    println!(
        "  try: curl '{ui}api/v1/query?query=sum(rate(demo_http_requests_total[5m]))&time={}'",
        hist_end / 1000
    );

    if args.check {
        return check(&mut stack, q_http, hist_end, with_prometheus);
    }
    println!("\nPress Ctrl-C to stop.");
    loop {
        std::thread::sleep(Duration::from_secs(2));
        stack.check_alive()?;
    }
}

/// Writes `hours` of 60 s samples for one replica as OpenMetrics, turns them
/// into blocks with `aeon tools tsdb`, and uploads them with a Thanos section.
fn generate_history(
    aeon: &Path,
    dir: &Path,
    bucket: &Path,
    replica: &str,
    end_ms: i64,
) -> Result<()> {
    const HOURS: i64 = 24;
    let start_ms = end_ms - HOURS * 3_600_000;
    let input = dir.join(format!("history-{replica}.om"));
    let mut om = OmWriter::create(&input)?;
    om.family("demo_http_requests", "counter", "Requests served.")?;
    for inst in 0..3 {
        for (ci, code) in ["200", "404", "500"].into_iter().enumerate() {
            let mut v = 0.0f64;
            om.series(
                &format!("demo_http_requests_total{{code=\"{code}\",instance=\"app-{inst}:8080\",job=\"app\"}}"),
                (start_ms..end_ms).step_by(60_000).map(|t| {
                    // Deterministic, replica-independent traffic: dedup must yield one series.
                    v += ((t / 60_000) % 7 + 1) as f64 * (3 - ci) as f64 * (inst + 1) as f64;
                    (t, v)
                }),
            )?;
        }
    }
    om.family("demo_cpu_usage", "gauge", "CPU in use.")?;
    for inst in 0..3 {
        om.series(
            &format!("demo_cpu_usage{{instance=\"app-{inst}:8080\",job=\"app\"}}"),
            (start_ms..end_ms).step_by(60_000).map(|t| {
                let v = 0.5 + 0.4 * (((t / 60_000) as f64) / 30.0 + inst as f64).sin();
                (t, (v * 10_000.0).round() / 10_000.0)
            }),
        )?;
    }
    om.finish()?;
    let out = dir.join(format!("blocks-{replica}"));
    crate::run(
        Command::new(aeon)
            .args(["tools", "tsdb", "create-blocks-from", "openmetrics"])
            .arg(&input)
            .arg(&out),
    )?;
    upload_blocks(
        &out,
        bucket,
        &serde_json::json!({"cluster": "demo", "replica": replica}),
        false,
    )?;
    Ok(())
}

/// Streams OpenMetrics text to a file: metric families, then each series'
/// samples in time order (what `create-blocks-from openmetrics` reads).
pub(crate) struct OmWriter {
    out: std::io::BufWriter<std::fs::File>,
    samples: u64,
}

impl OmWriter {
    pub(crate) fn create(path: &Path) -> Result<Self> {
        let f = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self {
            out: std::io::BufWriter::with_capacity(1 << 20, f),
            samples: 0,
        })
    }

    /// Starts a metric family (`name` without `_total`/`_bucket`).
    pub(crate) fn family(&mut self, name: &str, kind: &str, help: &str) -> Result<()> {
        writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}")?;
        Ok(())
    }

    /// One series: `selector` is `name{labels}`; samples are (ms, value), ms
    /// on whole seconds.
    pub(crate) fn series(
        &mut self,
        selector: &str,
        samples: impl IntoIterator<Item = (i64, f64)>,
    ) -> Result<()> {
        for (t, v) in samples {
            writeln!(self.out, "{selector} {v} {}", t / 1000)?;
            self.samples += 1;
        }
        Ok(())
    }

    /// Ends the exposition; returns the number of samples written.
    pub(crate) fn finish(mut self) -> Result<u64> {
        self.out.write_all(b"# EOF\n")?;
        self.out.flush()?;
        Ok(self.samples)
    }
}

/// Puts every block of `blocks` into the filesystem `bucket` as Thanos
/// uploads it (chunks, index, then `meta.json` with a Thanos section carrying
/// `labels`). With `link`, block files are hard-linked instead of copied
/// (large datasets; falls back to copying across file systems). Returns the
/// number of blocks.
pub(crate) fn upload_blocks(
    blocks: &Path,
    bucket: &Path,
    labels: &serde_json::Value,
    link: bool,
) -> Result<usize> {
    let put = |src: &Path, dst: &Path| -> Result<()> {
        if !(link && std::fs::hard_link(src, dst).is_ok()) {
            std::fs::copy(src, dst)
                .with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
        }
        Ok(())
    };
    let mut n = 0;
    for entry in std::fs::read_dir(blocks)? {
        let block = entry?.path();
        let meta_path = block.join("meta.json");
        if !meta_path.is_file() {
            continue;
        }
        let mut meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&meta_path)?)?;
        meta["thanos"] = serde_json::json!({
            "version": 1,
            "labels": labels,
            "downsample": {"resolution": 0},
            "source": "bucket.upload",
        });
        let id = block.file_name().context("block without name")?;
        let dst = bucket.join(id);
        std::fs::create_dir_all(dst.join("chunks"))?;
        // Upload order as Thanos: chunks, index, then meta.json last.
        for c in std::fs::read_dir(block.join("chunks"))? {
            let c = c?.path();
            put(
                &c,
                &dst.join("chunks")
                    .join(c.file_name().context("chunk file")?),
            )?;
        }
        put(&block.join("index"), &dst.join("index"))?;
        std::fs::write(dst.join("meta.json"), serde_json::to_string_pretty(&meta)?)?;
        n += 1;
    }
    Ok(n)
}

pub(crate) fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let status = buf
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

pub(crate) fn wait_ready(stack: &mut Stack, port: u16, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        stack.check_alive()?;
        if let Ok((200, _)) = http_get(port, "/-/ready") {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{what} on port {port} not ready after 120 s; see logs in {}",
                stack.logs.display()
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn query(port: u16, q: &str, time_s: i64) -> Result<serde_json::Value> {
    let enc: String = q
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (status, body) = http_get(port, &format!("/api/v1/query?query={enc}&time={time_s}"))?;
    if status != 200 {
        bail!("query {q:?}: HTTP {status}: {body}");
    }
    Ok(serde_json::from_str(&body)?)
}

fn check(stack: &mut Stack, q_http: u16, hist_end_ms: i64, with_prometheus: bool) -> Result<()> {
    let at = hist_end_ms / 1000 - 3600;
    let mut results: Vec<(String, Result<()>)> = Vec::new();
    // The store-gateway may still be loading blocks right after it turns ready.
    let deadline = Instant::now() + Duration::from_secs(60);
    let series_count = loop {
        let v = query(q_http, "count(demo_http_requests_total)", at);
        let n = v.as_ref().ok().and_then(|v| {
            v["data"]["result"][0]["value"][1]
                .as_str()
                .map(str::to_string)
        });
        if n.is_some() || Instant::now() > deadline {
            break n;
        }
        stack.check_alive()?;
        std::thread::sleep(Duration::from_secs(1));
    };
    results.push((
        "history through the store-gateway, deduplicated: 9 series, not 18".into(),
        match series_count.as_deref() {
            Some("9") => Ok(()),
            other => Err(anyhow::anyhow!(
                "count(demo_http_requests_total) = {other:?}"
            )),
        },
    ));
    let no_dedup = query(q_http, "count(demo_http_requests_total)", at).and_then(|_| {
        let (status, body) = http_get(
            q_http,
            &format!(
                "/api/v1/query?query=count%28demo_http_requests_total%29&time={at}&dedup=false"
            ),
        )?;
        let v: serde_json::Value = serde_json::from_str(&body)?;
        match (status, v["data"]["result"][0]["value"][1].as_str()) {
            (200, Some("18")) => Ok(()),
            other => Err(anyhow::anyhow!("dedup=false gave {other:?}")),
        }
    });
    results.push((
        "dedup=false shows both replicas: 18 series".into(),
        no_dedup,
    ));
    let rate = query(q_http, "sum(rate(demo_http_requests_total[5m]))", at).and_then(|v| {
        let s = v["data"]["result"][0]["value"][1]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match s.parse::<f64>() {
            Ok(x) if x > 0.0 && x.is_finite() => Ok(()),
            _ => Err(anyhow::anyhow!("sum(rate(...)) = {s:?}")),
        }
    });
    results.push(("rate over deduplicated history is positive".into(), rate));
    if with_prometheus {
        // The sidecars advertise data only once Prometheus has some; allow a few config polls.
        let deadline = Instant::now() + Duration::from_secs(120);
        let up = loop {
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
            let r =
                query(q_http, "count(up{job=\"prometheus\"})", now).and_then(|v| {
                    match v["data"]["result"][0]["value"][1].as_str() {
                        Some("2") => Ok(()),
                        other => Err(anyhow::anyhow!("count(up) = {other:?}")),
                    }
                });
            if r.is_ok() || Instant::now() > deadline {
                break r;
            }
            std::thread::sleep(Duration::from_secs(2));
        };
        results.push((
            "recent data through the sidecars, deduplicated: 2 targets".into(),
            up,
        ));
    }
    let mut failed = 0;
    for (name, r) in &results {
        match r {
            Ok(()) => eprintln!("demo check ok:   {name}"),
            Err(e) => {
                failed += 1;
                eprintln!("demo check FAIL: {name}: {e}");
            }
        }
    }
    println!("demo: {} passed, {failed} failed", results.len() - failed);
    if failed > 0 {
        bail!("demo check failed; logs in {}", stack.logs.display());
    }
    Ok(())
}

/// `aeon store` on loopback over the bucket, with the seed's cache and sync flags.
pub(crate) fn store_command(
    aeon: &Path,
    dir: &Path,
    bucket_yml: &Path,
    http: u16,
    grpc: u16,
) -> Command {
    let mut cmd = Command::new(aeon);
    cmd.arg("store")
        .arg(format!("--data-dir={}", dir.join("store").display()))
        .arg(format!("--objstore.config-file={}", bucket_yml.display()))
        .arg(format!("--http-address=127.0.0.1:{http}"))
        .arg(format!("--grpc-address=127.0.0.1:{grpc}"))
        .args(["--index-cache-size=250MB", "--sync-block-duration=5m"]);
    cmd
}
