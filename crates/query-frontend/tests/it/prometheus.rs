//! The frontend in front of a real Prometheus 3.5 (three days of samples
//! from promtool blocks): split, cached and proxied answers equal
//! Prometheus's own; retries, a downstream that is down, an over-long range
//! and bad input; memcached and redis caches, one going away mid-test.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

const MIN: i64 = 60_000;
const H: i64 = 60 * MIN;

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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Three days of 5 m samples ending an hour ago: counters (one resets) and
/// gauges for two instances.
fn openmetrics(start: i64, end: i64) -> String {
    let mut out = String::new();
    for (inst, rate) in [("i1", 1.5), ("i2", 0.25)] {
        for code in ["200", "500"] {
            let mut t = start;
            let mut v = 0.0;
            while t <= end {
                out.push_str(&format!(
                    "http_requests_total{{job=\"api\",instance=\"{inst}\",code=\"{code}\"}} {v} {}\n",
                    t / 1000
                ));
                v += if code == "200" {
                    300.0 * rate
                } else {
                    7.0 * rate
                };
                if inst == "i2" && t == start + 30 * H {
                    v = 0.0;
                }
                t += 5 * MIN;
            }
        }
        let mut t = start;
        let mut i = 0;
        while t <= end {
            out.push_str(&format!(
                "queue_depth{{job=\"api\",instance=\"{inst}\"}} {} {}\n",
                (i * 7 + if inst == "i1" { 0 } else { 3 }) % 11,
                t / 1000
            ));
            t += 5 * MIN;
            i += 1;
        }
    }
    out.push_str("# EOF\n");
    out
}

async fn wait_ready(url: &str) {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{url}/-/ready")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not become ready");
}

async fn start_prometheus(start: i64, end: i64) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let om = dir.path().join("data.om");
    std::fs::write(&om, openmetrics(start, end)).unwrap();
    let tsdb = dir.path().join("tsdb");
    let out = Command::new(aeon_testkit::peers::promtool())
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
    let port = aeon_testkit::free_port();
    let child = Command::new(aeon_testkit::peers::prometheus())
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
    wait_ready(&p.url).await;
    p
}

/// A frontend in this process with `flags`; stops when the token is
/// cancelled.
async fn frontend(downstream: &str, flags: &[&str]) -> (String, CancellationToken) {
    use clap::Parser;
    let mut argv = vec![
        "query-frontend".to_string(),
        "--http-address=127.0.0.1:0".into(),
        format!("--query-frontend.downstream-url={downstream}"),
    ];
    argv.extend(flags.iter().map(|s| s.to_string()));
    let args = aeon_query_frontend::Args::try_parse_from(argv).unwrap();
    let token = CancellationToken::new();
    let running = aeon_query_frontend::start(args, token.clone())
        .await
        .unwrap();
    (format!("http://{}", running.http_addr), token)
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = r.status().as_u16();
    let body = r.bytes().await.unwrap();
    let v = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{base}{path}: HTTP {status}, not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, v)
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A metric's value summed over its series on `/metrics`.
async fn metric(base: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

const QUERIES: &[&str] = &[
    "http_requests_total",
    "sum by (instance) (rate(http_requests_total[15m]))",
    r#"increase(http_requests_total{code="500"}[1h])"#,
    "max_over_time(queue_depth[2h])",
    "topk(1, queue_depth)",
    "rate(http_requests_total[10m] offset 3h)",
    "sum(rate(queue_depth[10m]))",
    "sum by (instance) (rate(http_requests_total[10m] @ end()))",
    "avg_over_time(rate(http_requests_total[10m])[1h:5m])",
    "timestamp(queue_depth)",
];

/// Range paths over the data: two steps, the whole span and a day inside.
fn range_paths(start: i64, end: i64) -> Vec<String> {
    let mut out = Vec::new();
    for q in QUERIES {
        for (s, e, step) in [
            (start + 30 * MIN, end, 15 * MIN),
            (start + 20 * H, start + 45 * H, 5 * MIN),
        ] {
            out.push(format!(
                "/api/v1/query_range?query={}&start={}&end={}&step={}",
                enc(q),
                s / 1000,
                e / 1000,
                step / 1000
            ));
        }
    }
    out
}

/// Asserts equal answers; returns how many had series.
async fn assert_same(fe: &str, prom: &str, paths: &[String]) -> usize {
    let mut with_data = 0;
    for p in paths {
        let (want_code, want) = get(prom, p).await;
        let (got_code, got) = get(fe, p).await;
        assert_eq!(got_code, want_code, "{p}: {got}");
        assert_eq!(got, want, "{p}");
        if want["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            with_data += 1;
        }
    }
    with_data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answers_equal_prometheus_split_cached_and_proxied() {
    let end = now_ms() / H * H - H;
    let start = end - 72 * H;
    let prom = start_prometheus(start, end).await;
    let paths = range_paths(start, end);

    // Split by 6 h, cached in memory.
    let (fe, stop) = frontend(
        &prom.url,
        &[
            "--query-range.split-interval=6h",
            "--query-range.response-cache-config=type: IN-MEMORY\nconfig:\n  max_size: 64MB",
        ],
    )
    .await;
    assert!(assert_same(&fe, &prom.url, &paths).await * 2 >= paths.len());
    let split = metric(&fe, "cortex_frontend_split_queries_total").await;
    assert!(split >= 10.0 * paths.len() as f64 / 2.0, "{split}");
    let hits = metric(&fe, "cortex_cache_hits_total").await;
    // Again: the same answers, now from the cache.
    assert_same(&fe, &prom.url, &paths).await;
    let hits2 = metric(&fe, "cortex_cache_hits_total").await;
    assert!(hits2 - hits >= paths.len() as f64, "{hits} → {hits2}");

    // A range that moved by a step: cached extents plus the new step.
    let moved: Vec<String> = QUERIES
        .iter()
        .map(|q| {
            format!(
                "/api/v1/query_range?query={}&start={}&end={}&step=900",
                enc(q),
                (start + 45 * MIN) / 1000,
                (end - 15 * MIN) / 1000
            )
        })
        .collect();
    assert_same(&fe, &prom.url, &moved).await;

    // Unaligned start and end: aligned down to the step, as Thanos does.
    let (code, v) = get(
        &fe,
        &format!(
            "/api/v1/query_range?query=queue_depth&start={}&end={}&step=3600",
            (start + 2 * H + 17_000) / 1000,
            (start + 9 * H + 5_000) / 1000
        ),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    let first = &v["data"]["result"][0]["values"][0][0];
    assert_eq!(first.as_i64(), Some((start + 2 * H) / 1000), "{v}");

    // Proxied paths and bad input: Prometheus's own answers.
    let mut other = vec![
        "/api/v1/labels".to_string(),
        "/api/v1/label/instance/values".into(),
        format!(
            "/api/v1/series?match[]=queue_depth&start={}&end={}",
            start / 1000,
            end / 1000
        ),
        format!(
            "/api/v1/query?query={}&time={}",
            enc("sum(queue_depth)"),
            (end - H) / 1000
        ),
        "/api/v1/query_range?query=up&start=10&end=5&step=1".into(),
        "/api/v1/query_range?query=up&start=0&end=5&step=0".into(),
        "/api/v1/query_range?query=sum(&start=0&end=5&step=1".into(),
        "/api/v1/query_range?query=up&start=x&end=5&step=1".into(),
        "/api/v1/query_range?query=up&start=0&end=100000&step=1".into(),
        "/api/v1/query?query=sum(".into(),
    ];
    other.push("/api/v1/status/buildinfo".into());
    assert_same(&fe, &prom.url, &other).await;
    // POST forms are read like GETs.
    let form = format!(
        "query={}&start={}&end={}&step=900",
        enc("sum(queue_depth)"),
        start / 1000,
        end / 1000
    );
    let post = |base: String| {
        let form = form.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/api/v1/query_range"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .map(|b| serde_json::from_slice::<Value>(&b).unwrap())
                .unwrap()
        }
    };
    assert_eq!(post(fe.clone()).await, post(prom.url.clone()).await);
    stop.cancel();

    // Splitting off, no cache: still the same answers.
    let (fe, stop) = frontend(&prom.url, &["--query-range.split-interval=0"]).await;
    assert_same(&fe, &prom.url, &paths[..4]).await;
    assert_eq!(
        metric(&fe, "cortex_frontend_split_queries_total").await,
        4.0
    );

    // An over-long range is rejected before anything is asked.
    stop.cancel();
    let (fe, stop) = frontend(&prom.url, &["--query-range.max-query-length=24h"]).await;
    let (code, v) = get(&fe, &paths[0]).await;
    assert_eq!(code, 400, "{v}");
    assert_eq!(v["errorType"], "bad_data");
    assert!(
        v["error"].as_str().unwrap().starts_with(
            "the query time range exceeds the limit (query length: 71h30m0s, limit: 24h0m0s)"
        ),
        "{v}"
    );
    stop.cancel();
}

/// Forwards to `target`, answering the first `fail` requests with a 503.
async fn flaky(target: String, fail: usize) -> (String, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (counter, client, target) = (counter.clone(), client.clone(), target.clone());
        async move {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            if n < fail {
                return (
                    http::StatusCode::SERVICE_UNAVAILABLE,
                    r#"{"status":"error","errorType":"unavailable","error":"injected"}"#
                        .to_string(),
                );
            }
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let url = format!("{target}{}", parts.uri.path_and_query().unwrap());
            let r = client
                .request(parts.method, url)
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    (format!("http://{addr}"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_are_retried_or_reported_like_prometheus() {
    let end = now_ms() / H * H - H;
    let start = end - 72 * H;
    let prom = start_prometheus(start, end).await;
    let path = format!(
        "/api/v1/query_range?query={}&start={}&end={}&step=900",
        enc("sum(rate(http_requests_total[15m]))"),
        start / 1000,
        end / 1000
    );

    // A downstream that fails twice: retried, the answer is Prometheus's.
    let (flaky_url, seen) = flaky(prom.url.clone(), 2).await;
    let (fe, stop) = frontend(&flaky_url, &["--query-range.split-interval=24h"]).await;
    let (_, want) = get(&prom.url, &path).await;
    let (code, got) = get(&fe, &path).await;
    assert_eq!(code, 200, "{got}");
    assert_eq!(got, want);
    assert!(seen.load(Ordering::SeqCst) >= 5);
    assert_eq!(metric(&fe, "aeon_query_frontend_retries_total").await, 2.0);
    stop.cancel();

    // Failing more often than the attempts: the downstream's error.
    let (flaky_url, _) = flaky(prom.url.clone(), 100).await;
    let (fe, stop) = frontend(&flaky_url, &["--query-range.max-retries-per-request=2"]).await;
    let (code, v) = get(&fe, &path).await;
    assert_eq!(
        (code, v["errorType"].as_str()),
        (503, Some("unavailable")),
        "{v}"
    );
    stop.cancel();

    // A downstream that is down: Prometheus-style errors on every path.
    let down = format!("http://127.0.0.1:{}", aeon_testkit::free_port());
    let (fe, stop) = frontend(&down, &["--query-range.max-retries-per-request=2"]).await;
    for p in [path.as_str(), "/api/v1/query?query=up", "/api/v1/labels"] {
        let (code, v) = get(&fe, p).await;
        assert_eq!(code, 503, "{p}: {v}");
        assert_eq!(v["status"], "error");
        assert_eq!(v["errorType"], "unavailable");
        assert!(v["error"].as_str().unwrap().contains(&down), "{v}");
    }
    assert!(metric(&fe, "aeon_query_frontend_downstream_failures_total").await >= 3.0);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memcached_and_redis_caches_and_a_cache_that_goes_away() {
    let end = now_ms() / H * H - H;
    let start = end - 72 * H;
    let prom = start_prometheus(start, end).await;
    let paths = range_paths(start, end);

    let redis = aeon_cache::testutil::redis();
    let cfg = format!("type: REDIS\nconfig:\n  addr: {}", redis.addr);
    let (fe, stop) = frontend(
        &prom.url,
        &[
            "--query-range.split-interval=24h",
            &format!("--query-range.response-cache-config={cfg}"),
        ],
    )
    .await;
    assert_same(&fe, &prom.url, &paths[..6]).await;
    // Writes are queued: give them a moment before asking again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hits = metric(&fe, "cortex_cache_hits_total").await;
    assert_same(&fe, &prom.url, &paths[..6]).await;
    assert!(metric(&fe, "cortex_cache_hits_total").await > hits);
    stop.cancel();

    let memcached = aeon_cache::testutil::memcached();
    let cfg = format!(
        "type: MEMCACHED\nconfig:\n  addresses: [{}]\n  timeout: 500ms",
        memcached.addr
    );
    let (fe, stop) = frontend(
        &prom.url,
        &[
            "--query-range.split-interval=12h",
            &format!("--query-range.response-cache-config={cfg}"),
        ],
    )
    .await;
    assert_same(&fe, &prom.url, &paths).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hits = metric(&fe, "cortex_cache_hits_total").await;
    assert_same(&fe, &prom.url, &paths).await;
    assert!(metric(&fe, "cortex_cache_hits_total").await > hits);
    // memcached goes away: answers from the downstream, no error, failures
    // counted.
    memcached.stop();
    assert_same(&fe, &prom.url, &paths).await;
    assert!(metric(&fe, "aeon_cache_operation_failures_total").await > 0.0);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_queries_are_logged_with_tenant_and_parameters() {
    use aeon_common::testutil::{Proc, parse_logfmt};
    let end = now_ms() / H * H - H;
    let start = end - 72 * H;
    let prom = start_prometheus(start, end).await;
    let mut p = Proc::spawn(
        "aeon-query-frontend",
        Command::new(env!("CARGO_BIN_EXE_aeon-query-frontend")).args([
            "--http-address=127.0.0.1:0",
            &format!("--query-frontend.downstream-url={}", prom.url),
            // Negative: every query is slow.
            "--query-frontend.log-queries-longer-than=-1ms",
            "--query-frontend.org-id-header=X-Org",
            "--query-frontend.slow-query-logs-user-header=X-User",
            "--log.format=logfmt",
        ]),
    );
    let addr = p.http_addr();
    p.wait_ready(addr);
    let path = format!(
        "/api/v1/query_range?query={}&start={}&end={}&step=900",
        enc("sum(queue_depth)"),
        start / 1000,
        end / 1000
    );
    let r = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .header("X-Org", "team-a")
        .header("X-User", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Not a query: never logged as one.
    reqwest::get(format!("http://{addr}/api/v1/labels"))
        .await
        .unwrap();
    let (_, lines) = p.stop();
    let slow: Vec<_> = lines
        .iter()
        .filter_map(|l| parse_logfmt(l).ok())
        .filter(|kv| kv.get("msg").map(String::as_str) == Some("slow query detected"))
        .collect();
    assert_eq!(slow.len(), 1, "{lines:#?}");
    let kv = &slow[0];
    assert_eq!(kv["org_id"], "team-a");
    assert_eq!(kv["remote_user"], "alice");
    assert_eq!(kv["param_query"], "sum(queue_depth)");
    assert_eq!(kv["param_step"], "900");
    assert_eq!(kv["path"], "/api/v1/query_range");
    assert_eq!(kv["status"], "200");
    assert!(kv.contains_key("time_taken"), "{kv:?}");
}
