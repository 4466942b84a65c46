//! `cargo xtask bench`: dashboard query latency of Aeon (querier +
//! store-gateway over a filesystem bucket) against Prometheus 3.5 serving
//! the same blocks, measured in the same run.
//!
//! 1. builds `aeon` (`--release` by default; `--profile debug` to iterate);
//! 2. generates a dataset as OpenMetrics (the demo's writer): per instance
//!    `up`, 6 `http_requests_total` counters, 7 `http_request_duration_seconds`
//!    histogram buckets and a `process_cpu_usage` gauge, 15 s apart, turned
//!    into blocks by `promtool tsdb create-blocks-from openmetrics`
//!    (54 h blocks, which neither side compacts further);
//! 3. puts the blocks in a Prometheus data dir and, with a Thanos section,
//!    in a FILESYSTEM bucket; starts Prometheus, `aeon store` and `aeon query`;
//! 4. runs every query once on both and compares the answers (same series,
//!    values equal within 1e-6 relative): a mismatch is printed loudly and
//!    fails the run after the table;
//! 5. runs each query `--iterations` times, alternating targets, and prints
//!    median and p90 per target, the ratio aeon/prometheus of the medians and
//!    the geometric mean of the ratios (goal: ≤ 0.5).
//!
//! With `--frontend`, step 5 is replaced by the query frontend's bench
//! (`bench/frontend.rs`): cold vs warm refreshes of the 7-day dashboard
//! through `aeon query-frontend` with a memcached results cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::demo::{OmWriter, Stack, http_get, upload_blocks, wait_ready};

mod frontend;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// A small dataset (10 instances = 150 series, 1 day) and 3 iterations: a smoke run.
    #[arg(long)]
    quick: bool,
    /// Cargo profile `aeon` is built with: `release` (the default; honest timings, slow to
    /// build) or `debug` (quick to build, timings not representative).
    #[arg(long, default_value = "release", value_parser = ["release", "debug"])]
    profile: String,
    /// Timed runs per query and target (default 10; 3 with --quick).
    #[arg(long)]
    iterations: Option<usize>,
    /// Instances in the dataset, 15 series each (default 100; 10 with --quick).
    #[arg(long)]
    instances: Option<usize>,
    /// Days of data, 15 s apart (default 3; 1 with --quick).
    #[arg(long)]
    days: Option<i64>,
    /// Working directory for the dataset, Prometheus data, bucket and logs (wiped first).
    #[arg(long, default_value = ".aeon/bench")]
    dir: PathBuf,
    /// Use the already built binary of --profile instead of running cargo build.
    #[arg(long)]
    no_build: bool,
    /// Bench `aeon query-frontend` (memcached results cache) in front of the querier instead:
    /// cold vs warm refreshes of the 7-day dashboard and the cache hit ratio (goal: warm ≥ 10×
    /// faster). Needs memcached.
    #[arg(long)]
    frontend: bool,
}

/// Scrape interval of the dataset.
const STEP_MS: i64 = 15_000;
const DAY: i64 = 86_400;
const JOBS: [&str; 4] = ["api", "web", "db", "cache"];
const LE: [&str; 7] = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
const CODES: [&str; 3] = ["200", "404", "500"];
const METHODS: [&str; 2] = ["GET", "POST"];

/// One benchmarked request.
struct Case {
    name: String,
    kind: &'static str,
    /// Path and query string.
    path: String,
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The dashboard: instant queries, range queries over 1 d (step 1 m) and 7 d
/// (step 5 m) as Grafana asks for them, label values, labels and series.
fn cases(end: i64) -> Vec<Case> {
    let rate_by_job = "sum by (job) (rate(http_requests_total[5m]))";
    let p99 = "histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))";
    let top = "topk(5, sum by (instance) (rate(http_requests_total{code=\"500\"}[5m])))";
    let errors = "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m])) / sum by (job) (rate(http_requests_total[5m]))";
    let count = "count by (job) (up)";
    let cpu = "avg by (job) (avg_over_time(process_cpu_usage[10m]))";
    let raw = "process_cpu_usage{job=\"api\"}";
    let mut out = Vec::new();
    let at = end - 600;
    for q in [rate_by_job, p99, top, errors, count, cpu] {
        out.push(Case {
            name: q.into(),
            kind: "instant",
            path: format!("/api/v1/query?query={}&time={at}", enc(q)),
        });
    }
    for (label, range, step, qs) in [
        (
            "range 1d",
            DAY,
            60,
            vec![rate_by_job, p99, top, errors, cpu, raw],
        ),
        ("range 7d", 7 * DAY, 300, vec![rate_by_job, p99, count, cpu]),
    ] {
        for q in qs {
            out.push(Case {
                name: q.into(),
                kind: label,
                path: format!(
                    "/api/v1/query_range?query={}&start={}&end={end}&step={step}",
                    enc(q),
                    end - range
                ),
            });
        }
    }
    let day = format!("start={}&end={end}", end - DAY);
    let week = format!("start={}&end={end}", end - 7 * DAY);
    out.push(Case {
        name: "label values: instance (1d)".into(),
        kind: "meta",
        path: format!("/api/v1/label/instance/values?{day}"),
    });
    out.push(Case {
        name: "label values: job of up (7d)".into(),
        kind: "meta",
        path: format!("/api/v1/label/job/values?match[]=up&{week}"),
    });
    out.push(Case {
        name: "label names (1d)".into(),
        kind: "meta",
        path: format!("/api/v1/labels?{day}"),
    });
    out.push(Case {
        name: "series: up{job=\"api\"} (1d)".into(),
        kind: "meta",
        path: format!("/api/v1/series?match[]={}&{day}", enc("up{job=\"api\"}")),
    });
    out
}

/// Writes the dataset as OpenMetrics; returns the number of samples.
fn write_dataset(path: &Path, instances: usize, start_ms: i64, end_ms: i64) -> Result<u64> {
    let mut om = OmWriter::create(path)?;
    let times = move || (start_ms..end_ms).step_by(STEP_MS as usize);
    let inst = |i: usize| {
        format!(
            "cluster=\"bench\",instance=\"app-{i}:9090\",job=\"{}\"",
            JOBS[i % JOBS.len()]
        )
    };
    // A per-instance load factor (distinct for every instance, so that topk
    // has no ties to break) and a slow daily wave, deterministic.
    let load = |i: usize, t: i64| {
        let day = ((t / 1000) % DAY) as f64 / DAY as f64;
        let factor = 1.0 + 6.0 * (i as f64 * 0.618_033_988_75).fract();
        10.0 * factor * (1.5 + (day * std::f64::consts::TAU).sin())
    };
    om.family("up", "gauge", "Target up.")?;
    for i in 0..instances {
        om.series(&format!("up{{{}}}", inst(i)), times().map(|t| (t, 1.0)))?;
    }
    om.family("http_requests", "counter", "Requests served.")?;
    for i in 0..instances {
        for (ci, code) in CODES.iter().enumerate() {
            for (mi, method) in METHODS.iter().enumerate() {
                let share = [20.0, 2.0, 0.5][ci] / (mi + 1) as f64;
                let mut v = 0.0f64;
                om.series(
                    &format!(
                        "http_requests_total{{{},code=\"{code}\",method=\"{method}\"}}",
                        inst(i)
                    ),
                    times().map(|t| {
                        v += (share * load(i, t)).round();
                        (t, v)
                    }),
                )?;
            }
        }
    }
    om.family(
        "http_request_duration_seconds",
        "histogram",
        "Request latency.",
    )?;
    for i in 0..instances {
        let mut cumulative = 0.0f64;
        for (bi, le) in LE.iter().enumerate() {
            // Bucket bi gets a share of the requests that shifts with the instance.
            cumulative += [10.0, 8.0, 6.0, 3.0, 1.0, 0.5, 0.25][bi] * (1.0 + (i % 3) as f64 * 0.2);
            let per_step = cumulative;
            let mut v = 0.0f64;
            om.series(
                &format!(
                    "http_request_duration_seconds_bucket{{{},le=\"{le}\"}}",
                    inst(i)
                ),
                times().map(|t| {
                    v += (per_step * load(i, t)).round();
                    (t, v)
                }),
            )?;
        }
    }
    om.family("process_cpu_usage", "gauge", "CPU in use.")?;
    for i in 0..instances {
        om.series(
            &format!("process_cpu_usage{{{}}}", inst(i)),
            times().map(|t| {
                let x = 0.5 + 0.4 * ((t / STEP_MS) as f64 / 40.0 + i as f64).sin();
                (t, (x * 1000.0).round() / 1000.0)
            }),
        )?;
    }
    om.finish()
}

/// `n` distinct free loopback ports (all held until chosen).
fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let listeners = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut ports = [0; N];
    for (p, l) in ports.iter_mut().zip(&listeners) {
        *p = l.local_addr()?.port();
    }
    Ok(ports)
}

fn get(port: u16, path: &str) -> Result<(Duration, Value)> {
    let t = Instant::now();
    let (status, body) = http_get(port, path)?;
    let took = t.elapsed();
    let v: Value = serde_json::from_str(&body)
        .with_context(|| format!("{path}: HTTP {status}, not JSON: {body:.300}"))?;
    if status != 200 || v["status"] != "success" {
        bail!("{path}: HTTP {status}: {body:.500}");
    }
    Ok((took, v))
}

fn labels_key(m: &Value) -> String {
    // serde_json's maps are sorted, so this is canonical.
    m.to_string()
}

fn close(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1e-9),
        _ => false,
    }
}

/// Compares two successful API answers; `Err` describes the first difference.
fn compare(aeon: &Value, prom: &Value) -> std::result::Result<String, String> {
    let (a, p) = (&aeon["data"], &prom["data"]);
    match a["resultType"].as_str() {
        Some(kind @ ("vector" | "matrix")) => {
            if p["resultType"] != kind {
                return Err(format!("result type {kind} vs {}", p["resultType"]));
            }
            let index = |v: &Value| -> BTreeMap<String, Vec<(f64, String)>> {
                v["result"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| {
                        let points: Vec<(f64, String)> = if kind == "vector" {
                            vec![point(&s["value"])]
                        } else {
                            s["values"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(point)
                                .collect()
                        };
                        (labels_key(&s["metric"]), points)
                    })
                    .collect()
            };
            let (ia, ip) = (index(a), index(p));
            if ia.len() != ip.len() {
                return Err(format!("{} series vs {}", ia.len(), ip.len()));
            }
            let mut points = 0;
            for (k, pa) in &ia {
                let Some(pp) = ip.get(k) else {
                    return Err(format!("series {k} only in aeon"));
                };
                if pa.len() != pp.len() {
                    return Err(format!("{k}: {} points vs {}", pa.len(), pp.len()));
                }
                for ((ta, va), (tp, vp)) in pa.iter().zip(pp) {
                    if ta != tp || !close(va, vp) {
                        return Err(format!("{k} at {ta}/{tp}: {va} vs {vp}"));
                    }
                }
                points += pa.len();
            }
            Ok(format!("{} series, {points} points", ia.len()))
        }
        Some(other) => Err(format!("unexpected result type {other}")),
        None => {
            // label names/values (strings) or series (label sets): compare as sets.
            let set = |v: &Value| -> Vec<String> {
                let mut s: Vec<String> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| x.as_str().map_or_else(|| labels_key(x), str::to_string))
                    .collect();
                s.sort();
                s
            };
            let (sa, sp) = (set(a), set(p));
            if sa != sp {
                let only_a: Vec<_> = sa.iter().filter(|x| !sp.contains(x)).take(3).collect();
                let only_p: Vec<_> = sp.iter().filter(|x| !sa.contains(x)).take(3).collect();
                return Err(format!(
                    "{} items vs {}; only aeon: {only_a:?}; only prometheus: {only_p:?}",
                    sa.len(),
                    sp.len()
                ));
            }
            Ok(format!("{} items", sa.len()))
        }
    }
}

fn point(v: &Value) -> (f64, String) {
    (
        v[0].as_f64().unwrap_or(f64::NAN),
        v[1].as_str().unwrap_or_default().to_string(),
    )
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

pub fn run(root: &Path, args: BenchArgs) -> Result<()> {
    let iterations = args
        .iterations
        .unwrap_or(if args.quick { 3 } else { 10 })
        .max(1);
    let instances = args.instances.unwrap_or(if args.quick { 10 } else { 100 });
    let days = args.days.unwrap_or(if args.quick { 1 } else { 3 });
    crate::peers::ensure(&[aeon_testkit::Peer::Prometheus])
        .context("the bench compares against Prometheus 3.5")?;
    if args.frontend {
        crate::peers::ensure(&[aeon_testkit::Peer::Memcached])
            .context("the query-frontend bench caches in memcached")?;
    }
    let (prometheus, promtool) = (
        aeon_testkit::peers::prometheus(),
        aeon_testkit::peers::promtool(),
    );

    let mut build = crate::cargo();
    build.current_dir(root).args(["build", "-p", "aeon"]);
    if args.profile == "release" {
        build.arg("--release");
    }
    if !args.no_build {
        crate::run(&mut build)?;
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let aeon = target.join(&args.profile).join("aeon");
    if !aeon.is_file() {
        bail!("{} not found (build it or drop --no-build)", aeon.display());
    }

    let dir = if args.dir.is_absolute() {
        args.dir.clone()
    } else {
        root.join(&args.dir)
    };
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot wipe {}", dir.display()))?;
    }
    let (bucket, prom_data, logs, blocks) = (
        dir.join("bucket"),
        dir.join("prometheus"),
        dir.join("logs"),
        dir.join("blocks"),
    );
    for d in [&bucket, &prom_data, &logs] {
        std::fs::create_dir_all(d)?;
    }

    // Data ends on a whole hour, an hour ago: all of it is in blocks, none in a head.
    let now_s = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let end = now_s / 3600 * 3600 - 3600;
    let start = end - days * DAY;
    let t = Instant::now();
    let om = dir.join("dataset.om");
    let samples = write_dataset(&om, instances, start * 1000, end * 1000)?;
    eprintln!(
        "bench: {} series, {samples} samples over {days} d written in {:.1} s",
        instances * 15,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    crate::run(
        Command::new(&promtool)
            .args([
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "--quiet",
                "--max-block-duration=54h",
            ])
            .arg(&om)
            .arg(&blocks),
    )?;
    std::fs::remove_file(&om)?;
    eprintln!("bench: blocks made in {:.1} s", t.elapsed().as_secs_f64());
    let n_blocks = upload_blocks(
        &blocks,
        &bucket,
        &serde_json::json!({"cluster": "bench"}),
        true,
    )?;
    // Prometheus gets the blocks as promtool wrote them (it moves nothing it did not make).
    for entry in std::fs::read_dir(&blocks)? {
        let entry = entry?;
        std::fs::rename(entry.path(), prom_data.join(entry.file_name()))?;
    }

    let [prom_port, sg_http, sg_grpc, q_http, q_grpc] = free_ports::<5>()?;
    let mut stack = Stack {
        children: Vec::new(),
        logs: logs.clone(),
    };
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 15s\n")?;
    stack.spawn(
        "prometheus",
        Command::new(&prometheus)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", prom_data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .args([
                "--storage.tsdb.retention.time=10y",
                // The 54 h blocks are the largest range: Prometheus leaves them as they are.
                "--storage.tsdb.min-block-duration=2h",
                "--storage.tsdb.max-block-duration=54h",
            ]),
    )?;
    let bucket_yml = dir.join("bucket.yml");
    std::fs::write(
        &bucket_yml,
        format!("type: FILESYSTEM\nconfig:\n  directory: {:?}\n", bucket),
    )?;
    stack.spawn(
        "store",
        &mut crate::demo::store_command(&aeon, &dir, &bucket_yml, sg_http, sg_grpc),
    )?;
    stack.spawn(
        "query",
        Command::new(&aeon)
            .arg("query")
            .arg(format!("--http-address=127.0.0.1:{q_http}"))
            .arg(format!("--grpc-address=127.0.0.1:{q_grpc}"))
            .arg(format!("--store=127.0.0.1:{sg_grpc}")),
    )?;
    wait_ready(&mut stack, prom_port, "prometheus")?;
    wait_ready(&mut stack, sg_http, "store-gateway")?;
    wait_ready(&mut stack, q_http, "querier")?;

    // The querier sees the data once it has polled the store-gateway's Info.
    let probe = format!(
        "/api/v1/query?query={}&time={}",
        enc("count(up)"),
        end - 600
    );
    let want = get(prom_port, &probe)?.1["data"]["result"][0]["value"][1].clone();
    if want != Value::String(instances.to_string()) {
        bail!("prometheus answers count(up) = {want}, want {instances}: are the blocks loaded?");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        stack.check_alive()?;
        let got = get(q_http, &probe).map(|(_, v)| v["data"]["result"][0]["value"][1].clone());
        if got.as_ref().is_ok_and(|g| *g == want) {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "aeon never answered count(up) = {want} (last: {got:?}); logs in {}",
                logs.display()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }

    let cases = cases(end);
    if args.frontend {
        return frontend::run(&mut stack, &aeon, q_http, &cases, iterations);
    }
    // Warm up both (caches, page cache) and check they agree.
    let mut verdicts = Vec::new();
    for c in &cases {
        let a = get(q_http, &c.path);
        let p = get(prom_port, &c.path);
        let v = match (a, p) {
            (Ok((_, a)), Ok((_, p))) => compare(&a, &p),
            (Err(e), _) => Err(format!("aeon failed: {e:#}")),
            (_, Err(e)) => Err(format!("prometheus failed: {e:#}")),
        };
        if let Err(e) = &v {
            eprintln!("\n!!! MISMATCH {} {}: {e}\n", c.kind, c.name);
        }
        verdicts.push(v);
    }

    let mut rows = Vec::new();
    for (ci, c) in cases.iter().enumerate() {
        let (mut ta, mut tp) = (Vec::new(), Vec::new());
        for i in 0..iterations {
            // Alternate which target goes first.
            let order = if (i + ci) % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for aeon_turn in order {
                if aeon_turn {
                    ta.push(get(q_http, &c.path)?.0);
                } else {
                    tp.push(get(prom_port, &c.path)?.0);
                }
            }
        }
        ta.sort();
        tp.sort();
        rows.push((
            quantile(&ta, 0.5),
            quantile(&ta, 0.9),
            quantile(&tp, 0.5),
            quantile(&tp, 0.9),
        ));
    }

    println!(
        "\nAeon vs Prometheus 3.5 on the same blocks: {} series ({instances} instances), {days} d at 15 s, \
         {samples} samples, {n_blocks} blocks; aeon {} build; {iterations} iterations; times in ms",
        instances * 15,
        args.profile
    );
    let w = cases
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(10)
        .min(100);
    println!(
        "{:<8}  {:<w$}  {:>9} {:>9}  {:>9} {:>9}  {:>6}  answers",
        "kind", "query", "aeon p50", "aeon p90", "prom p50", "prom p90", "ratio"
    );
    let mut log_sum = 0.0;
    for ((c, (a50, a90, p50, p90)), v) in cases.iter().zip(&rows).zip(&verdicts) {
        let ratio = a50.as_secs_f64() / p50.as_secs_f64().max(1e-9);
        log_sum += ratio.ln();
        let verdict = match v {
            Ok(s) => format!("same ({s})"),
            Err(e) => format!("MISMATCH: {e}"),
        };
        println!(
            "{:<8}  {:<w$}  {:>9} {:>9}  {:>9} {:>9}  {:>6.2}  {verdict}",
            c.kind,
            c.name,
            ms(*a50),
            ms(*a90),
            ms(*p50),
            ms(*p90),
            ratio
        );
    }
    let geo = (log_sum / cases.len() as f64).exp();
    println!(
        "\ngeometric mean of the ratios aeon/prometheus: {geo:.2} (goal ≤ 0.50: {})",
        if geo <= 0.5 { "met" } else { "not met" }
    );
    let bad = verdicts.iter().filter(|v| v.is_err()).count();
    if bad > 0 {
        bail!(
            "{bad} of {} queries answered differently: the timings of those are meaningless",
            cases.len()
        );
    }
    Ok(())
}
