//! Processes, HTTP, remote write and blocks for the end-to-end tests: real
//! `aeon` and Prometheus 3.5 processes on 127.0.0.1, killed on drop.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::data::NativeHist;

/// A Prometheus 3.5 peer binary (`prometheus` or `promtool`); fails loudly when missing.
/// A Prometheus 3.5 peer binary (`prometheus` or `promtool`); fails loudly when missing.
pub fn peer(name: &str) -> PathBuf {
    match name {
        "promtool" => aeon_testkit::peers::promtool(),
        _ => aeon_testkit::peers::prometheus(),
    }
}

pub fn aeon() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aeon"));
    c.env_remove("RUST_BACKTRACE");
    c
}

pub use aeon_testkit::free_port;

pub fn addr() -> String {
    format!("127.0.0.1:{}", free_port())
}

/// An address that accepts TCP connections and never answers (a hung
/// endpoint). The connections stay open until the test process ends.
pub fn hanging_endpoint() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming().flatten() {
            held.push(c);
        }
    });
    addr
}

struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

/// Child processes with their logs, killed when dropped.
pub struct Stack {
    logs: PathBuf,
    procs: Vec<Proc>,
}

impl Stack {
    pub fn new(logs: &Path) -> Self {
        std::fs::create_dir_all(logs).unwrap();
        Self {
            logs: logs.to_path_buf(),
            procs: Vec::new(),
        }
    }

    pub fn spawn(&mut self, name: &str, cmd: &mut Command) {
        let log = self.logs.join(format!("{name}.log"));
        let f = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(f.try_clone().unwrap()))
            .stderr(Stdio::from(f))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.procs.push(Proc {
            name: name.into(),
            child,
            log,
        });
    }

    /// The last lines of every process's log.
    pub fn tails(&self) -> String {
        let mut out = String::new();
        for p in &self.procs {
            let text = std::fs::read_to_string(&p.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(12);
            out.push_str(&format!("--- {} ({}):\n", p.name, p.log.display()));
            for l in &lines[from..] {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    /// Panics (with the logs) when a process has exited.
    pub fn check_alive(&mut self) {
        let mut dead = Vec::new();
        for p in &mut self.procs {
            if let Ok(Some(st)) = p.child.try_wait() {
                dead.push(format!("{} exited with {st}", p.name));
            }
        }
        assert!(dead.is_empty(), "{}\n{}", dead.join("; "), self.tails());
    }

    /// Polls `f` every 200 ms until it gives a value; panics with `what`,
    /// the last reason and the logs after `timeout`.
    pub fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut() -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive();
            match f() {
                Ok(v) => return v,
                Err(e) if Instant::now() > deadline => {
                    panic!(
                        "timed out after {timeout:?} waiting for {what}: {e}\n{}",
                        self.tails()
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Waits until `GET /-/ready` on `addr` answers 200.
    pub fn wait_ready(&mut self, what: &str, addr: &str) {
        self.wait_for(what, Duration::from_secs(60), || {
            match http(addr, "GET", "/-/ready", &[], b"") {
                Ok((200, _)) => Ok(()),
                Ok((code, body)) => Err(format!("{code}: {}", String::from_utf8_lossy(&body))),
                Err(e) => Err(e.to_string()),
            }
        });
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

/// One HTTP/1.0 exchange (the server closes the connection, no chunking).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let head_end = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers in the response"))?;
    let head = String::from_utf8_lossy(&resp[..head_end]);
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "chunked answer to an HTTP/1.0 request from {addr}{path}"
    );
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, resp[head_end + 4..].to_vec()))
}

/// `GET path` answered with JSON (any status).
pub fn get_json(addr: &str, path: &str) -> Result<(u16, Value), String> {
    let (code, body) =
        http(addr, "GET", path, &[], b"").map_err(|e| format!("{addr}{path}: {e}"))?;
    let v = serde_json::from_slice(&body).map_err(|e| {
        format!(
            "{addr}{path}: HTTP {code}, not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    })?;
    Ok((code, v))
}

/// Percent-encodes a query parameter value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// --- Prometheus ---

/// Starts Prometheus 3.5 on `dir/data` (blocks may already be there) with
/// the remote-write receiver and the given external labels, and waits until
/// it is ready. Returns its address.
pub fn start_prometheus(
    stack: &mut Stack,
    name: &str,
    dir: &Path,
    external_labels: &[(&str, &str)],
) -> String {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let mut cfg = String::from("global:\n  scrape_interval: 15s\n");
    if !external_labels.is_empty() {
        cfg.push_str("  external_labels:\n");
        for (k, v) in external_labels {
            cfg.push_str(&format!("    {k}: {v:?}\n"));
        }
    }
    let cfg_path = dir.join("prometheus.yml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let addr = addr();
    stack.spawn(
        name,
        Command::new(peer("prometheus"))
            .arg(format!("--config.file={}", cfg_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-remote-write-receiver")
            .arg("--enable-feature=native-histograms"),
    );
    addr
}

// --- remote write (prometheus.WriteRequest, protocol 1.0) ---

#[derive(Clone, PartialEq, prost::Message)]
struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    histograms: Vec<Histogram>,
}

/// An integer native histogram (the `count_int`/`zero_count_int` arms of
/// the oneofs; positive buckets only).
#[derive(Clone, PartialEq, prost::Message)]
struct Histogram {
    #[prost(uint64, tag = "1")]
    count_int: u64,
    #[prost(double, tag = "3")]
    sum: f64,
    #[prost(sint32, tag = "4")]
    schema: i32,
    #[prost(double, tag = "5")]
    zero_threshold: f64,
    #[prost(uint64, tag = "6")]
    zero_count_int: u64,
    #[prost(message, repeated, tag = "11")]
    positive_spans: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "12")]
    positive_deltas: Vec<i64>,
    #[prost(int64, tag = "15")]
    timestamp: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct BucketSpan {
    #[prost(sint32, tag = "1")]
    offset: i32,
    #[prost(uint32, tag = "2")]
    length: u32,
}

fn histogram(t: i64, h: &NativeHist) -> Histogram {
    let mut prev = 0i64;
    Histogram {
        count_int: h.count,
        sum: h.sum,
        schema: 0,
        zero_threshold: 1e-128,
        zero_count_int: h.zero_count,
        positive_spans: vec![BucketSpan {
            offset: h.offset,
            length: h.buckets.len() as u32,
        }],
        positive_deltas: h
            .buckets
            .iter()
            .map(|&c| {
                let d = c as i64 - prev;
                prev = c as i64;
                d
            })
            .collect(),
        timestamp: t,
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct Label {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Sample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp: i64,
}

/// One series to push: its labels and float samples.
pub type WriteSeries<'a> = (&'a BTreeMap<String, String>, &'a [(i64, f64)]);
/// One series to push: its labels and native histogram samples.
pub type WriteHistograms<'a> = (&'a BTreeMap<String, String>, &'a [(i64, NativeHist)]);

fn pb_labels(labels: &BTreeMap<String, String>) -> Vec<Label> {
    labels
        .iter()
        .map(|(n, v)| Label {
            name: n.clone(),
            value: v.clone(),
        })
        .collect()
}

/// Pushes float samples and native histograms (labels sorted by name,
/// `__name__` included) with remote write 1.0; panics unless Prometheus
/// accepts them.
pub fn remote_write(addr: &str, series: &[WriteSeries<'_>], hists: &[WriteHistograms<'_>]) {
    let floats = series
        .iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|(labels, samples)| TimeSeries {
            labels: pb_labels(labels),
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
            histograms: Vec::new(),
        });
    let natives = hists
        .iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|(labels, samples)| TimeSeries {
            labels: pb_labels(labels),
            samples: Vec::new(),
            histograms: samples.iter().map(|(t, h)| histogram(*t, h)).collect(),
        });
    let req = WriteRequest {
        timeseries: floats.chain(natives).collect(),
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&prost::Message::encode_to_vec(&req))
        .unwrap();
    let (code, resp) = http(
        addr,
        "POST",
        "/api/v1/write",
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ],
        &body,
    )
    .unwrap();
    assert!(
        code == 204 || code == 200,
        "remote write to {addr} failed: {code} {}",
        String::from_utf8_lossy(&resp)
    );
}

// --- blocks ---

/// Runs `promtool tsdb create-blocks-from openmetrics` and returns the block
/// directories it wrote.
pub fn create_blocks(om: &Path, out: &Path) -> Vec<PathBuf> {
    let o = Command::new(peer("promtool"))
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(om)
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "promtool create-blocks-from openmetrics {}: {}{}",
        om.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let mut blocks: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").is_file())
        .collect();
    blocks.sort();
    assert!(
        !blocks.is_empty(),
        "promtool wrote no block into {}",
        out.display()
    );
    blocks
}

/// Copies a block into `dst_root/<ulid>/`, meta.json last (as an upload
/// does), adding a Thanos section with `labels` when given.
pub fn place_block(block: &Path, dst_root: &Path, labels: Option<&[(&str, &str)]>) {
    let id = block.file_name().unwrap();
    let dst = dst_root.join(id);
    std::fs::create_dir_all(dst.join("chunks")).unwrap();
    for c in std::fs::read_dir(block.join("chunks")).unwrap() {
        let c = c.unwrap().path();
        std::fs::copy(&c, dst.join("chunks").join(c.file_name().unwrap())).unwrap();
    }
    std::fs::copy(block.join("index"), dst.join("index")).unwrap();
    let mut meta: Value =
        serde_json::from_str(&std::fs::read_to_string(block.join("meta.json")).unwrap()).unwrap();
    if let Some(labels) = labels {
        let l: serde_json::Map<String, Value> = labels
            .iter()
            .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
            .collect();
        meta["thanos"] = serde_json::json!({
            "version": 1,
            "labels": l,
            "downsample": {"resolution": 0},
            "source": "bucket.upload",
        });
    }
    std::fs::write(
        dst.join("meta.json"),
        serde_json::to_vec_pretty(&meta).unwrap(),
    )
    .unwrap();
}

/// A FILESYSTEM bucket config for `dir`.
pub fn bucket_config(dir: &Path) -> String {
    format!(
        "type: FILESYSTEM\nconfig:\n  directory: {:?}\n",
        dir.display().to_string()
    )
}

/// `/api/v1/stores` of a querier: (name, healthy, label sets, minTime, maxTime).
pub type StoreRow = (String, bool, Vec<BTreeMap<String, String>>, i64, i64);

pub fn stores(querier: &str) -> Result<Vec<StoreRow>, String> {
    let (code, v) = get_json(querier, "/api/v1/stores")?;
    if code != 200 {
        return Err(format!("/api/v1/stores: HTTP {code}: {v}"));
    }
    let mut rows = Vec::new();
    for group in v["data"].as_object().into_iter().flat_map(|o| o.values()) {
        for s in group.as_array().into_iter().flatten() {
            let sets = s["labelSets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|ls| {
                    ls.as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .collect();
            rows.push((
                s["name"].as_str().unwrap_or_default().to_string(),
                s["healthy"].as_bool().unwrap_or(false),
                sets,
                s["minTime"].as_i64().unwrap_or(i64::MAX),
                s["maxTime"].as_i64().unwrap_or(i64::MIN),
            ));
        }
    }
    Ok(rows)
}
