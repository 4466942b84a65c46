//! The querier against a real Prometheus 3.5: the same samples are written
//! into Prometheus's TSDB (blocks made by promtool from OpenMetrics) and
//! served to the querier by two HA replica stores; a set of dashboard
//! queries must give the same answers from both.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aeon_model::{Labels, Sample};
use aeon_storeapi::pb::thanos;
use aeon_storeapi::testutil::MemStore;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Querier, serve, store};

fn peer_bin(name: &str) -> PathBuf {
    match name {
        "promtool" => aeon_testkit::peers::promtool(),
        _ => aeon_testkit::peers::prometheus(),
    }
}

struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Test data: minute-aligned start 3 h ago, 2 h of 15 s scrapes.
struct Data {
    start: i64,
    series: Vec<(Labels, Vec<Sample>)>,
}

fn data() -> Data {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let start = (now - 3 * 3_600_000) / 60_000 * 60_000;
    let n = 2 * 3_600_000 / 15_000;
    let mut series = Vec::new();
    let ts = |i: i64| start + i * 15_000;
    for (inst, rate) in [("i1", 1.5), ("i2", 0.25)] {
        for code in ["200", "500"] {
            let l = Labels::from_pairs(&[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("instance", inst),
                ("code", code),
            ]);
            let k = if code == "200" { 1.0 } else { 0.1 };
            // A counter with a reset in the middle for i2.
            let s = (0..n)
                .map(|i| {
                    let v = (i as f64 * 15.0 * rate * k).floor();
                    let v = if inst == "i2" && i >= n / 2 {
                        v - ((n / 2) as f64 * 15.0 * rate * k).floor()
                    } else {
                        v
                    };
                    Sample::new(ts(i), v)
                })
                .collect();
            series.push((l, s));
        }
        let l = Labels::from_pairs(&[
            ("__name__", "temperature"),
            ("job", "api"),
            ("instance", inst),
        ]);
        series.push((
            l,
            (0..n)
                .map(|i| {
                    Sample::new(
                        ts(i),
                        20.0 + ((i * 7 + if inst == "i1" { 0 } else { 3 }) % 11) as f64 * 0.5,
                    )
                })
                .collect(),
        ));
        let l = Labels::from_pairs(&[("__name__", "up"), ("job", "api"), ("instance", inst)]);
        series.push((
            l,
            (0..n)
                .map(|i| {
                    Sample::new(
                        ts(i),
                        if inst == "i2" && (200..230).contains(&i) {
                            0.0
                        } else {
                            1.0
                        },
                    )
                })
                .collect(),
        ));
        for (le, frac) in [("0.1", 0.5), ("0.5", 0.8), ("1", 0.95), ("+Inf", 1.0)] {
            let l = Labels::from_pairs(&[
                ("__name__", "request_duration_seconds_bucket"),
                ("job", "api"),
                ("instance", inst),
                ("le", le),
            ]);
            series.push((
                l,
                (0..n)
                    .map(|i| Sample::new(ts(i), (i as f64 * 10.0 * rate * frac).floor()))
                    .collect(),
            ));
        }
    }
    Data { start, series }
}

fn openmetrics(d: &Data) -> String {
    let mut out = String::new();
    for (l, samples) in &d.series {
        let name = l.get("__name__").unwrap();
        let rest: Vec<String> = l
            .iter()
            .filter(|x| x.name != "__name__")
            .map(|x| format!("{}=\"{}\"", x.name, x.value))
            .collect();
        for s in samples {
            out.push_str(&format!(
                "{name}{{{}}} {} {}\n",
                rest.join(","),
                s.v,
                s.t as f64 / 1000.0
            ));
        }
    }
    out.push_str("# EOF\n");
    out
}

async fn start_prometheus(d: &Data) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let om = dir.path().join("data.om");
    std::fs::write(&om, openmetrics(d)).unwrap();
    let tsdb = dir.path().join("tsdb");
    let out = Command::new(peer_bin("promtool"))
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&tsdb)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 15s\n").unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = Command::new(peer_bin("prometheus"))
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", tsdb.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=30d")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let p = Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{}/-/ready", p.url)).send().await
            && r.status().is_success()
        {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("prometheus did not become ready");
}

/// Result series as (metric without `cluster`, [(t, value)]) sorted by metric.
fn normalise(v: &Value) -> Vec<(String, Vec<(f64, String)>)> {
    assert_eq!(v["status"], "success", "{v}");
    let mut out: Vec<(String, Vec<(f64, String)>)> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let mut m = s["metric"].as_object().unwrap().clone();
            m.remove("cluster");
            let values = match s.get("values") {
                Some(vs) => vs
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p[0].as_f64().unwrap(), p[1].as_str().unwrap().to_owned()))
                    .collect(),
                None => vec![(
                    s["value"][0].as_f64().unwrap(),
                    s["value"][1].as_str().unwrap().to_owned(),
                )],
            };
            (serde_json::to_string(&m).unwrap(), values)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn close(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_and_instant_queries_equal_prometheus() {
    let d = data();
    let prom = start_prometheus(&d).await;
    let stop = CancellationToken::new();
    let mut addrs = Vec::new();
    for r in ["a", "b"] {
        let s = store(
            Labels::from_pairs(&[("cluster", "eu"), ("replica", r)]),
            &d.series,
        );
        addrs.push(serve(s, &stop).await);
    }
    let flags: Vec<String> = addrs
        .iter()
        .map(|a| format!("--store={a}"))
        .chain(["--query.replica-label=replica".to_string()])
        .collect();
    let q = Querier::start(&flags, stop).await;

    let queries = [
        "up",
        "temperature",
        "rate(http_requests_total[5m])",
        "sum by (job) (rate(http_requests_total[5m]))",
        "sum by (code) (increase(http_requests_total[10m]))",
        "irate(http_requests_total{code=\"200\"}[1m])",
        "avg_over_time(temperature[10m])",
        "max by (instance) (max_over_time(temperature[5m]))",
        "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
        "count(up == 1)",
        "temperature offset 10m",
        "deriv(temperature[10m])",
        "sum(rate(http_requests_total{code=\"500\"}[5m])) / sum(rate(http_requests_total[5m]))",
        "resets(http_requests_total[30m])",
        "topk(1, temperature)",
    ];
    let client = reqwest::Client::new();
    // format_query and parse_query agree with Prometheus's.
    for query in queries {
        for path in ["/api/v1/format_query", "/api/v1/parse_query"] {
            let (code, ours) = q.get(path, &[("query", query)]).await;
            assert_eq!(code, 200, "{query}: {ours}");
            let theirs = client
                .get(format!("{}{path}", prom.url))
                .query(&[("query", query)])
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let theirs: Value = serde_json::from_str(&theirs).unwrap();
            assert_eq!(ours["data"], theirs["data"], "{path} {query}");
        }
    }
    // Instant queries at a few times, including inside the gap of `up` for i2.
    for t in [
        d.start + 1_800_000,
        d.start + 3_000_000 + 7_000,
        d.start + 7_199_000,
    ] {
        for query in queries {
            let params = [
                ("query", query.to_string()),
                ("time", (t as f64 / 1000.0).to_string()),
            ];
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (code, ours) = q.get("/api/v1/query", &p).await;
            assert_eq!(code, 200, "{query}: {ours}");
            let theirs = client
                .get(format!("{}/api/v1/query", prom.url))
                .query(&params)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let theirs: Value = serde_json::from_str(&theirs).unwrap();
            let (a, b) = (normalise(&ours), normalise(&theirs));
            assert!(
                !b.is_empty(),
                "{query}: prometheus returned nothing: {theirs}"
            );
            assert_eq!(
                a.len(),
                b.len(),
                "{query} at {t}: series count differs\nours {ours}\ntheirs {theirs}"
            );
            for ((ma, va), (mb, vb)) in a.iter().zip(&b) {
                assert_eq!(ma, mb, "{query}: labels differ");
                assert_eq!(va[0].0, vb[0].0);
                assert!(
                    close(&va[0].1, &vb[0].1),
                    "{query} {ma} at {t}: ours {} theirs {}",
                    va[0].1,
                    vb[0].1
                );
            }
        }
    }
    let (start, end) = (
        (d.start + 600_000) as f64 / 1000.0,
        (d.start + 7_500_000) as f64 / 1000.0,
    );
    for query in queries {
        let params = [
            ("query", query.to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", "60".to_string()),
        ];
        let ours = {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (code, v) = q.get("/api/v1/query_range", &p).await;
            assert_eq!(code, 200, "{query}: {v}");
            v
        };
        let theirs = client
            .get(format!("{}/api/v1/query_range", prom.url))
            .query(&params)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let theirs: Value = serde_json::from_str(&theirs).unwrap();
        let (a, b) = (normalise(&ours), normalise(&theirs));
        assert!(
            !b.is_empty(),
            "{query}: prometheus returned nothing: {theirs}"
        );
        assert_eq!(
            a.len(),
            b.len(),
            "{query}: series count differs\nours {ours}\ntheirs {theirs}"
        );
        for ((ma, va), (mb, vb)) in a.iter().zip(&b) {
            assert_eq!(ma, mb, "{query}: labels differ");
            assert_eq!(va.len(), vb.len(), "{query} {ma}: point count differs");
            for (pa, pb) in va.iter().zip(vb) {
                assert_eq!(pa.0, pb.0, "{query} {ma}: timestamps differ");
                assert!(
                    close(&pa.1, &pb.1),
                    "{query} {ma} at {}: ours {} theirs {}",
                    pa.0,
                    pa.1,
                    pb.1
                );
            }
        }
    }
}

/// JSON equality with numeric strings compared with a relative tolerance.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => close(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// `data.result` with `cluster` removed from metrics, sorted by metric.
fn result_without_cluster(v: &Value) -> Vec<Value> {
    assert_eq!(v["status"], "success", "{v}");
    let mut out: Vec<Value> = v["data"]["result"].as_array().unwrap().clone();
    for s in &mut out {
        s["metric"].as_object_mut().unwrap().remove("cluster");
    }
    out.sort_by_key(|s| s["metric"].to_string());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_histogram_queries_equal_prometheus() {
    use aeon_tsdb_block::chunkenc::{Histogram, Span};
    use aeon_tsdb_block::{BlockWriter, BlockWriterOptions};

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let start = (now - 3 * 3_600_000) / 60_000 * 60_000;
    let hist = |i: i64, inst: i64| {
        let (c0, c1, c2) = (3 * i * inst, 2 * i, i);
        Histogram {
            schema: 0,
            zero_threshold: 2f64.powi(-128),
            zero_count: i as u64,
            count: (i + c0 + c1 + c2) as u64,
            sum: i as f64 * 4.5 * inst as f64,
            positive_spans: vec![
                Span {
                    offset: -1,
                    length: 2,
                },
                Span {
                    offset: 1,
                    length: 1,
                },
            ],
            positive_buckets: vec![c0, c1 - c0, c2 - c1],
            ..Default::default()
        }
    };
    let mut series = Vec::new();
    for inst in [1i64, 2] {
        let l = Labels::from_pairs(&[
            ("__name__", "req_hist"),
            ("job", "api"),
            ("instance", &format!("i{inst}")),
        ]);
        series.push((
            l,
            (0..480)
                .map(|i| (start + i * 15_000, hist(i, inst)))
                .collect::<Vec<_>>(),
        ));
    }

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tsdb");
    std::fs::create_dir_all(&data).unwrap();
    let mut w = BlockWriter::new(&data, BlockWriterOptions::default()).unwrap();
    for (l, h) in &series {
        w.add_histogram_series(l.clone(), h).unwrap();
    }
    w.finish().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 15s\n").unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = Command::new(peer_bin("prometheus"))
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=30d")
        .arg("--enable-feature=native-histograms")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let prom = Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..300 {
        if client
            .get(format!("{}/-/ready", prom.url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "prometheus did not become ready");

    let stop = CancellationToken::new();
    let mut flags = vec!["--query.replica-label=replica".to_string()];
    for r in ["a", "b"] {
        let mut store = MemStore::new(Labels::from_pairs(&[("cluster", "eu"), ("replica", r)]))
            .with_component("sidecar");
        for (l, h) in &series {
            let chunks = aeon_tsdb_block::writer::cut_histogram_chunks(h)
                .unwrap()
                .into_iter()
                .filter(|c| c.encoding == aeon_tsdb_block::chunkenc::Encoding::Histogram)
                .map(|c| (c.min_time, c.max_time, c.data.into()))
                .collect();
            store.add_encoded_chunks(l.clone(), thanos::chunk::Encoding::Histogram, chunks);
        }
        flags.push(format!("--store={}", serve(store, &stop).await));
    }
    let q = Querier::start(&flags, stop).await;

    let queries = [
        "req_hist",
        "rate(req_hist[5m])",
        "sum(rate(req_hist[5m]))",
        "histogram_quantile(0.9, rate(req_hist[5m]))",
        "histogram_count(rate(req_hist[5m]))",
        "histogram_sum(req_hist)",
        "histogram_fraction(0, 1, req_hist)",
    ];
    let (s, e) = (
        (start + 600_000) as f64 / 1000.0,
        (start + 7_000_000) as f64 / 1000.0,
    );
    for query in queries {
        for (path, params) in [
            (
                "/api/v1/query_range",
                vec![
                    ("query", query.to_string()),
                    ("start", s.to_string()),
                    ("end", e.to_string()),
                    ("step", "120".to_string()),
                ],
            ),
            (
                "/api/v1/query",
                vec![
                    ("query", query.to_string()),
                    ("time", (s + 1234.5).to_string()),
                ],
            ),
        ] {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (code, ours) = q.get(path, &p).await;
            assert_eq!(code, 200, "{query}: {ours}");
            let theirs = client
                .get(format!("{}{path}", prom.url))
                .query(&params)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let theirs: Value = serde_json::from_str(&theirs).unwrap();
            let (a, b) = (
                result_without_cluster(&ours),
                result_without_cluster(&theirs),
            );
            assert!(
                !b.is_empty(),
                "{query}: prometheus returned nothing: {theirs}"
            );
            assert!(
                same(&Value::Array(a.clone()), &Value::Array(b.clone())),
                "{path} {query}:\nours   {}\ntheirs {}",
                Value::Array(a),
                Value::Array(b)
            );
        }
    }
}
