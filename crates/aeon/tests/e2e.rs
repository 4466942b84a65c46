//! End to end, as a user runs Aeon: real `aeon` processes next to real
//! Prometheus 3.5 servers on 127.0.0.1.
//!
//! - `global_view_equals_one_prometheus`: an HA pair of Prometheus servers
//!   (external labels `cluster="c1"`, `replica="a"|"b"`) each with an
//!   `aeon sidecar` holds the last 2.5 h; the 4.5 h before are blocks in a
//!   filesystem bucket (once per replica) served by `aeon store`; `aeon query`
//!   deduplicates on `replica`. A set of dashboard queries, instant and range,
//!   must answer exactly what ONE plain Prometheus holding all the data
//!   answers.
//! - `grafana_metadata_exemplars_targets_equal_prometheus` (`e2e/grafana.rs`):
//!   metadata, exemplars and targets of an HA pair through sidecars and the
//!   querier equal what Prometheus answers, the replica label removed.
//!   The range queries are then asked through `aeon query-frontend` (split
//!   by the hour, cached; and sharded vertically) and must equal the
//!   querier's answers.
//! - `seed_walkthrough_commands_serve`: the seed's three Thanos commands
//!   (sidecar, query with two `--store`, store with the seed's flags) with
//!   `aeon` in place of `thanos`, started and queried through.

//! - `thanos_mixin_metrics_are_exposed` (`e2e/mixin.rs`): every metric the
//!   Thanos mixin selects for sidecar, store, query and compact is exposed
//!   with its labels by the running services.

#![allow(clippy::unwrap_used)]

#[path = "e2e/compare.rs"]
mod compare;
#[path = "e2e/data.rs"]
mod data;
#[path = "e2e/grafana.rs"]
mod grafana;
#[path = "e2e/harness.rs"]
mod harness;
#[path = "e2e/mixin.rs"]
mod mixin;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use harness::{Stack, aeon, enc, get_json};

const HOUR: i64 = 3_600_000;
const MIN: i64 = 60_000;

/// Dashboard queries. Every one is asked as instant queries at several times
/// (old blocks, across the boundary, recent) and as range queries over the
/// whole span.
const QUERIES: &[&str] = &[
    // raw selectors
    r#"http_requests_total{handler=~"/api/.*",code!="200"}"#,
    r#"{__name__=~"up|process_resident_memory_bytes",job="api"}"#,
    "queue_depth",
    // counters
    "sum by (handler) (rate(http_requests_total[5m]))",
    r#"sum by (code) (irate(http_requests_total{job="api"}[2m]))"#,
    r#"increase(http_requests_total{code="500"}[1h])"#,
    "sum without (instance, code) (rate(http_requests_total[5m]))",
    "sum(rate(http_requests_total[5m]))",
    "sum(rate(http_requests_total[5m])) * 1e-9",
    r#"sum by (instance) (rate(http_requests_total{code="500"}[5m])) / sum by (instance) (rate(http_requests_total[5m]))"#,
    "topk(3, sum by (instance, handler) (rate(http_requests_total[5m])))",
    "bottomk(2, sum by (instance) (increase(http_requests_total[30m])))",
    "resets(http_requests_total[2h])",
    "rate(http_requests_total[5m] offset 1h)",
    r#"1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))"#,
    r#"sum by (instance, mode) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))"#,
    // histograms
    "histogram_quantile(0.9, sum by (le, handler) (rate(http_request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.5, rate(http_request_duration_seconds_bucket[10m]))",
    "rate(http_request_duration_seconds_sum[5m]) / rate(http_request_duration_seconds_count[5m])",
    // gauges
    "avg_over_time(process_resident_memory_bytes[30m])",
    "max_over_time(queue_depth[1h])",
    "quantile_over_time(0.95, queue_depth[30m])",
    "deriv(process_resident_memory_bytes[15m])",
    // a rate over a gauge (a common mistake; Prometheus answers with an info)
    "sum(rate(queue_depth[5m]))",
    "predict_linear(queue_depth[30m], 3600)",
    "stddev by (job) (process_resident_memory_bytes)",
    "last_over_time(queue_depth[10m])",
    "timestamp(queue_depth)",
    // native histograms (recent part only)
    "http_native_duration_seconds",
    "sum by (handler) (rate(http_native_duration_seconds[5m]))",
    "histogram_quantile(0.9, sum by (handler) (rate(http_native_duration_seconds[5m])))",
    "histogram_count(rate(http_native_duration_seconds[5m]))",
    "histogram_sum(increase(http_native_duration_seconds[1h]))",
    "histogram_fraction(0, 0.25, sum(rate(http_native_duration_seconds[5m])))",
    "histogram_avg(sum by (instance) (rate(http_native_duration_seconds[5m])))",
    "histogram_stddev(rate(http_native_duration_seconds[10m]))",
    // up, counting, labels
    "count by (job) (up)",
    "count(up == 1)",
    "sum(up) / count(up)",
    "changes(up[1h])",
    r#"count_values("state", up)"#,
    r#"label_replace(up, "host", "$1", "instance", "([^:]+):.*")"#,
    r#"sum by (instance, job) (rate(http_requests_total[5m])) * on (instance, job) group_left () up"#,
    r#"sum by (instance) (rate(http_requests_total{code="200"}[5m])) and on (instance) up == 1"#,
    r#"absent(nonexistent_metric{job="api"})"#,
    r#"absent(up{job="api"})"#,
    "scalar(sum(up))",
    // subqueries, modifiers
    "max_over_time(sum by (job) (rate(http_requests_total[5m]))[30m:1m])",
    "avg_over_time(rate(http_requests_total[5m])[1h:5m] offset 10m)",
    "rate(http_requests_total[5m] offset -5m)",
    "sum(increase(http_requests_total[7h]))",
    // more Grafana-panel shapes
    "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[1h])))",
    r#"sort_desc(sum by (handler) (increase(http_requests_total[1h])))"#,
    r#"quantile by (handler) (0.9, rate(http_requests_total[5m]))"#,
    "count_over_time(up[1h])",
    "sum_over_time(queue_depth[15m])",
    "min_over_time(queue_depth[20m])",
    "stdvar_over_time(process_resident_memory_bytes[1h])",
    "delta(queue_depth[30m])",
    "idelta(queue_depth[5m])",
    r#"absent_over_time(queue_depth{instance="worker-1:9000"}[10m])"#,
    r#"present_over_time(queue_depth{instance="worker-1:9000"}[10m])"#,
    r#"group by (job) (up)"#,
    r#"label_join(up, "where", "/", "job", "instance")"#,
    "round(rate(http_requests_total[5m]), 0.1) > bool 3",
    "clamp_min(deriv(queue_depth[10m]), 0)",
    r#"up{instance!~"api-[01].*"} == 0 or up{job="node"}"#,
    r#"http_requests_total unless on (instance) up == 0"#,
    r#"rate(http_requests_total[5m]) / ignoring (code) group_left sum by (cluster, instance, handler, job, method) (rate(http_requests_total[5m]))"#,
    r#"topk by (handler) (1, rate(http_requests_total{code="200"}[5m]))"#,
    "count without (cpu, mode) (node_cpu_seconds_total)",
    "vector(1) + on () group_left sum(up)",
    "time() - timestamp(queue_depth)",
    "sum by (handler) (rate(http_requests_total[5m] @ end()))",
    r#"count_over_time(queue_depth{instance="worker-3:9000"}[30m])"#,
    r#"{__name__=~"http_.*"}"#,
];

/// Queries whose reference answer is empty on purpose.
const EMPTY_OK: &[&str] = &[r#"absent(up{job="api"})"#];

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn secs(ms: i64) -> String {
    if ms % 1000 == 0 {
        (ms / 1000).to_string()
    } else {
        format!("{}.{:03}", ms / 1000, ms % 1000)
    }
}

#[derive(Debug, Clone)]
enum Eval {
    Instant(i64),
    Range(i64, i64, i64),
}

impl Eval {
    fn path(&self, q: &str) -> String {
        match self {
            Eval::Instant(t) => format!("/api/v1/query?query={}&time={}", enc(q), secs(*t)),
            Eval::Range(s, e, step) => format!(
                "/api/v1/query_range?query={}&start={}&end={}&step={}",
                enc(q),
                secs(*s),
                secs(*e),
                secs(*step)
            ),
        }
    }
}

fn ask(addr: &str, path: &str) -> Result<compare::Answer, String> {
    let (code, v) = get_json(addr, path)?;
    if code != 200 {
        return Err(format!("HTTP {code}: {v}"));
    }
    compare::parse(&v)
}

/// Number of series whose latest sample in the 5 m lookback window before
/// `t` exists and is not a staleness marker.
fn live_series(all: &[data::Series], t: i64) -> usize {
    all.iter()
        .filter(|s| {
            s.samples
                .iter()
                .rev()
                .find(|(st, _)| *st <= t && *st > t - 5 * MIN)
                .is_some_and(|(_, v)| !aeon_model::is_stale_nan(*v))
        })
        .count()
}

fn count_all(addr: &str, t: i64, extra: &str) -> Result<String, String> {
    let path = format!(
        "/api/v1/query?query={}&time={}{extra}",
        enc(r#"count({__name__=~".+"})"#),
        secs(t)
    );
    let a = ask(addr, &path)?;
    Ok(a.series
        .values()
        .next()
        .and_then(|p| p.first())
        .map(|p| p.1.to_string())
        .unwrap_or_default())
}

/// Whether the reference had data, and the differences; or why there is no answer.
type Outcome = Result<(bool, Vec<String>), String>;

/// The `data` of a metadata answer with arrays sorted (label sets in a
/// series answer have no defined order).
fn sorted_data(v: &serde_json::Value) -> Vec<String> {
    let mut items: Vec<String> = v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| x.to_string())
        .collect();
    items.sort();
    items
}

#[test]
fn global_view_equals_one_prometheus() {
    // AEON_E2E_KEEP=1 keeps the directory (data, blocks, logs) for a look.
    let keep = std::env::var_os("AEON_E2E_KEEP").is_some();
    let tmp = tempfile::Builder::new()
        .prefix("aeon-e2e")
        .disable_cleanup(keep)
        .tempdir()
        .unwrap();
    if keep {
        eprintln!("keeping {}", tmp.path().display());
    }
    let dir = tmp.path();
    let mut stack = Stack::new(&dir.join("logs"));

    // Seven hours of data; the last 2.5 h come through the sidecars, the rest
    // through the store-gateway.
    let end = now_ms() / data::STEP_MS * data::STEP_MS - data::STEP_MS;
    let start = end - 7 * HOUR;
    let boundary = end - 150 * MIN;
    let series = data::generate(
        start,
        end,
        [start + 2 * HOUR + 3 * MIN, end - HOUR],
        (boundary - 20 * MIN, boundary + 10 * MIN),
    );

    let natives = data::generate_native(boundary, end, end - 50 * MIN);

    // The querier shows the external label `cluster="c1"` on every series
    // (and drops `replica`, the dedup label); Prometheus' query API never
    // adds external labels. So the reference Prometheus has `cluster="c1"`
    // in the series labels themselves and no external labels: both then
    // hold exactly the same label sets, and aggregations that drop or keep
    // `cluster` behave the same on both sides.
    let cluster = [("cluster", "c1")];
    std::fs::write(
        dir.join("old.om"),
        data::openmetrics(&series, boundary, &[]),
    )
    .unwrap();
    std::fs::write(
        dir.join("old-ref.om"),
        data::openmetrics(&series, boundary, &cluster),
    )
    .unwrap();
    // One promtool run per replica, so each copy has its own block ULIDs.
    let (blocks_a, blocks_b, blocks_ref) = std::thread::scope(|s| {
        let a = s.spawn(|| harness::create_blocks(&dir.join("old.om"), &dir.join("blocks-a")));
        let b = s.spawn(|| harness::create_blocks(&dir.join("old.om"), &dir.join("blocks-b")));
        let r =
            s.spawn(|| harness::create_blocks(&dir.join("old-ref.om"), &dir.join("blocks-ref")));
        (a.join().unwrap(), b.join().unwrap(), r.join().unwrap())
    });
    let bucket = dir.join("bucket");
    for b in &blocks_a {
        harness::place_block(b, &bucket, Some(&[("cluster", "c1"), ("replica", "a")]));
    }
    for b in &blocks_b {
        harness::place_block(b, &bucket, Some(&[("cluster", "c1"), ("replica", "b")]));
    }
    for b in &blocks_ref {
        harness::place_block(b, &dir.join("ref/data"), None);
    }
    let bucket_yml = dir.join("bucket.yml");
    std::fs::write(&bucket_yml, harness::bucket_config(&bucket)).unwrap();

    // Prometheus: the HA pair and the reference.
    let prom_a = harness::start_prometheus(
        &mut stack,
        "prometheus-a",
        &dir.join("a"),
        &[("cluster", "c1"), ("replica", "a")],
    );
    let prom_b = harness::start_prometheus(
        &mut stack,
        "prometheus-b",
        &dir.join("b"),
        &[("cluster", "c1"), ("replica", "b")],
    );
    let reference = harness::start_prometheus(&mut stack, "prometheus-ref", &dir.join("ref"), &[]);
    for (name, a) in [("a", &prom_a), ("b", &prom_b), ("ref", &reference)] {
        stack.wait_ready(&format!("prometheus-{name}"), a);
    }

    // Recent samples, identical in both replicas, in time order (Prometheus
    // rejects samples more than an hour older than its newest one).
    let labels_ha: Vec<BTreeMap<String, String>> =
        series.iter().map(|s| s.labels_with(&[])).collect();
    let labels_ref: Vec<BTreeMap<String, String>> =
        series.iter().map(|s| s.labels_with(&cluster)).collect();
    let hlabels_ha: Vec<BTreeMap<String, String>> =
        natives.iter().map(|s| s.labels.clone()).collect();
    let hlabels_ref: Vec<BTreeMap<String, String>> = natives
        .iter()
        .map(|s| {
            let mut l = s.labels.clone();
            l.insert("cluster".into(), "c1".into());
            l
        })
        .collect();
    let mut from = boundary;
    while from <= end {
        let to = from + 20 * MIN;
        let window: Vec<&[(i64, f64)]> = series
            .iter()
            .map(|s| {
                let lo = s.samples.partition_point(|(t, _)| *t < from);
                let hi = s.samples.partition_point(|(t, _)| *t < to);
                &s.samples[lo..hi]
            })
            .collect();
        let hwindow: Vec<&[(i64, data::NativeHist)]> = natives
            .iter()
            .map(|s| {
                let lo = s.samples.partition_point(|(t, _)| *t < from);
                let hi = s.samples.partition_point(|(t, _)| *t < to);
                &s.samples[lo..hi]
            })
            .collect();
        for (addr, labels, hlabels) in [
            (&prom_a, &labels_ha, &hlabels_ha),
            (&prom_b, &labels_ha, &hlabels_ha),
            (&reference, &labels_ref, &hlabels_ref),
        ] {
            let batch: Vec<_> = labels.iter().zip(window.iter().copied()).collect();
            let hbatch: Vec<_> = hlabels.iter().zip(hwindow.iter().copied()).collect();
            harness::remote_write(addr, &batch, &hbatch);
        }
        from = to;
    }

    // Aeon: a sidecar per replica, the store-gateway, the querier.
    let mut sidecars = Vec::new();
    for (r, prom) in [("a", &prom_a), ("b", &prom_b)] {
        let (grpc, http) = (harness::addr(), harness::addr());
        stack.spawn(
            &format!("sidecar-{r}"),
            aeon()
                .arg("sidecar")
                .arg(format!(
                    "--tsdb.path={}",
                    dir.join(r).join("data").display()
                ))
                .arg(format!("--prometheus.url=http://{prom}"))
                .arg(format!("--http-address={http}"))
                .arg(format!("--grpc-address={grpc}")),
        );
        sidecars.push((grpc, http));
    }
    let (sg_grpc, sg_http) = (harness::addr(), harness::addr());
    stack.spawn(
        "store",
        aeon()
            .arg("store")
            .arg(format!("--data-dir={}", dir.join("store").display()))
            .arg(format!("--objstore.config-file={}", bucket_yml.display()))
            .arg(format!("--http-address={sg_http}"))
            .arg(format!("--grpc-address={sg_grpc}"))
            .args([
                "--index-cache-size=250MB",
                "--sync-block-duration=5m",
                "--min-time=-2w",
                "--max-time=-1h",
            ]),
    );
    // A fourth endpoint that accepts connections and never answers: it must
    // not change any answer (no warnings, no delay), only show as unhealthy.
    let hanging = harness::hanging_endpoint();
    let (q_grpc, querier) = (harness::addr(), harness::addr());
    stack.spawn(
        "query",
        aeon()
            .arg("query")
            .arg(format!("--http-address={querier}"))
            .arg(format!("--grpc-address={q_grpc}"))
            .arg(format!("--store={}", sidecars[0].0))
            .arg(format!("--store={}", sidecars[1].0))
            .arg(format!("--store={sg_grpc}"))
            .arg(format!("--store={hanging}"))
            .arg("--query.replica-label=replica"),
    );
    for (i, (_, http)) in sidecars.iter().enumerate() {
        stack.wait_ready(&format!("sidecar {i}"), http);
    }
    stack.wait_ready("store-gateway", &sg_http);
    stack.wait_ready("querier", &querier);

    // Every store healthy, with the label sets and time ranges it must have.
    let want_set = |r: &str| -> BTreeMap<String, String> {
        [("cluster", "c1"), ("replica", r)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    stack.wait_for(
        "the querier to see all stores",
        Duration::from_secs(60),
        || {
            let rows = harness::stores(&querier)?;
            let find = |addr: &str| {
                rows.iter()
                    .find(|r| r.0 == addr)
                    .ok_or_else(|| format!("{addr} not listed: {rows:?}"))
            };
            for ((grpc, _), r) in sidecars.iter().zip(["a", "b"]) {
                let s = find(grpc)?;
                if !(s.1 && s.2 == vec![want_set(r)] && s.3 <= boundary) {
                    return Err(format!("sidecar {r} not ready: {s:?}"));
                }
            }
            let s = find(&sg_grpc)?;
            if !(s.1
                && s.2.contains(&want_set("a"))
                && s.2.contains(&want_set("b"))
                && s.3 <= start)
            {
                return Err(format!("store-gateway not ready: {s:?}"));
            }
            Ok(())
        },
    );

    // The data is really there, once per HA pair (and twice without dedup).
    let probes = [
        start + 3 * HOUR,
        boundary + 2 * MIN,
        end - HOUR + 2 * MIN,
        end,
    ];
    for &t in &probes {
        let live = live_series(&series, t)
            + natives
                .iter()
                .filter(|s| {
                    s.samples
                        .iter()
                        .any(|(st, _)| *st <= t && *st > t - 5 * MIN)
                })
                .count();
        let want = live.to_string();
        assert_eq!(
            count_all(&reference, t, "").unwrap(),
            want,
            "reference at {t}"
        );
        assert_eq!(count_all(&querier, t, "").unwrap(), want, "aeon at {t}");
        let doubled = (live * 2).to_string();
        assert_eq!(
            count_all(&querier, t, "&dedup=false").unwrap(),
            doubled,
            "aeon without dedup at {t}"
        );
    }

    let evals = [
        Eval::Instant(start + 3 * HOUR + 7_000),
        Eval::Instant(boundary + 2 * MIN),
        Eval::Instant(boundary + 30 * MIN + 3_000),
        Eval::Instant(end - HOUR + 2 * MIN),
        Eval::Instant(end - 20 * MIN + 11_000),
        Eval::Instant(end),
        Eval::Range(start + 5 * MIN, end, MIN),
        Eval::Range(start + 13_000, end, 5 * MIN),
        Eval::Range(boundary - 40 * MIN + 1_234, end - 7_000, 37_000),
    ];
    let jobs: Vec<(&str, Eval)> = QUERIES
        .iter()
        .flat_map(|q| evals.iter().map(move |e| (*q, e.clone())))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    // Three at a time, as a dashboard's panels load.
    let results: Vec<(&str, Eval, Outcome)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((q, e)) = jobs.get(i) else { break };
                        let path = e.path(q);
                        let r = ask(&reference, &path)
                            .map_err(|err| format!("reference: {err}"))
                            .and_then(|want| {
                                let got =
                                    ask(&querier, &path).map_err(|err| format!("aeon: {err}"))?;
                                Ok((!want.series.is_empty(), compare::diff(&want, &got, 8)))
                            });
                        out.push((*q, e.clone(), r));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });

    let mut failures = Vec::new();
    let mut non_empty: BTreeMap<&str, bool> = BTreeMap::new();
    for (q, e, r) in &results {
        match r {
            Err(err) => failures.push(format!("{q} {e:?}: {err}")),
            Ok((has_data, diffs)) => {
                *non_empty.entry(q).or_default() |= *has_data;
                if !diffs.is_empty() {
                    failures.push(format!("{q} {e:?}:\n    {}", diffs.join("\n    ")));
                }
            }
        }
    }
    for (q, has) in &non_empty {
        if !has && !EMPTY_OK.contains(q) {
            failures.push(format!(
                "{q}: the reference answered nothing; the query tests nothing"
            ));
        }
    }
    // Metadata as Grafana asks for it (label pickers, series browser), and
    // a range query as a form POST (Grafana's default method).
    let (from, to) = (secs(start), secs(end));
    let meta = [
        format!("/api/v1/labels?start={from}&end={to}"),
        format!("/api/v1/label/__name__/values?start={from}&end={to}"),
        format!("/api/v1/label/instance/values?start={from}&end={to}"),
        format!(
            "/api/v1/label/handler/values?match[]={}&start={from}&end={to}",
            enc(r#"http_requests_total{code="500"}"#)
        ),
        format!(
            "/api/v1/series?match[]=up&match[]={}&start={}&end={to}",
            enc(r#"queue_depth{queue="email"}"#),
            secs(boundary)
        ),
    ];
    for path in &meta {
        match (get_json(&reference, path), get_json(&querier, path)) {
            (Ok((200, want)), Ok((200, got))) => {
                let (w, g) = (sorted_data(&want), sorted_data(&got));
                if w.is_empty() || w != g || want.get("warnings") != got.get("warnings") {
                    failures.push(format!("{path}:\n    want {want}\n    got  {got}"));
                }
            }
            (w, g) => failures.push(format!("{path}: reference {w:?}, aeon {g:?}")),
        }
    }
    let q = "sum by (code) (rate(http_requests_total[5m]))";
    let form = format!(
        "query={}&start={}&end={to}&step=60",
        enc(q),
        secs(start + 10 * MIN)
    );
    let post = |addr: &str| -> Result<compare::Answer, String> {
        let (code, body) = harness::http(
            addr,
            "POST",
            "/api/v1/query_range",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form.as_bytes(),
        )
        .map_err(|e| e.to_string())?;
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        if code != 200 {
            return Err(format!("HTTP {code}: {v}"));
        }
        compare::parse(&v)
    };
    match (post(&reference), post(&querier)) {
        (Ok(want), Ok(got)) => {
            let d = compare::diff(&want, &got, 8);
            if !d.is_empty() || want.series.is_empty() {
                failures.push(format!("POST {form}:\n    {}", d.join("\n    ")));
            }
        }
        (w, g) => failures.push(format!("POST {form}: reference {w:?}, aeon {g:?}")),
    }

    // Bad input: the same status, errorType and error text as Prometheus.
    let t = secs(end);
    let bad = [
        format!("/api/v1/query?query={}&time={t}", enc("sum(")),
        format!("/api/v1/query?query={}&time={t}", enc("up{job=")),
        format!("/api/v1/query?query={}&time={t}", enc("rate(up[5m]")),
        format!(
            "/api/v1/query?query={}&time={t}",
            enc("no_such_function(up)")
        ),
        format!("/api/v1/query?query={}&time={t}", enc("rate(up)")),
        format!("/api/v1/query?query={}&time={t}", enc("up[5m] + 1")),
        format!("/api/v1/query?query={}&time={t}", enc("sum by (job) up")),
        format!("/api/v1/query?query={}&time={t}", enc("up{job=~\"(\"}")),
        format!("/api/v1/query?query={}&time={t}", enc(r#""a" + 1"#)),
        format!("/api/v1/query?query=&time={t}"),
        "/api/v1/query?query=up&time=yesterday".to_string(),
        format!("/api/v1/query?query=up&time={t}&unknown_param=1"),
        format!(
            "/api/v1/query_range?query=up&start={t}&end={}&step=60",
            secs(start)
        ),
        format!(
            "/api/v1/query_range?query=up&start={}&end={t}&step=0",
            secs(start)
        ),
        format!(
            "/api/v1/query_range?query=up&start={}&end={t}&step=-15",
            secs(start)
        ),
        format!(
            "/api/v1/query_range?query=up&start={}&end={t}&step=1",
            secs(start)
        ),
        format!("/api/v1/query_range?query=up&start=abc&end={t}&step=60"),
        format!("/api/v1/query_range?query=up&end={t}&step=60"),
        format!("/api/v1/series?start={}&end={t}", secs(start)),
        "/api/v1/label/job/values?start=abc".to_string(),
    ];
    for path in &bad {
        match (get_json(&reference, path), get_json(&querier, path)) {
            (Ok((wc, want)), Ok((gc, got))) => {
                // Status, error type and error text must match.
                let kind = |v: &serde_json::Value| (v["status"].clone(), v["errorType"].clone());
                if wc != gc || kind(&want) != kind(&got) {
                    failures.push(format!(
                        "{path}:\n    error: want HTTP {wc} {want}, got HTTP {gc} {got}"
                    ));
                } else if want["error"] != got["error"] {
                    failures.push(format!(
                        "{path}:\n    error text: want {}, got {}",
                        want["error"], got["error"]
                    ));
                }
            }
            (w, g) => failures.push(format!("{path}: reference {w:?}, aeon {g:?}")),
        }
    }

    // The range queries again through `aeon query-frontend` in front of the
    // querier, split by the hour (seven parts and more) and cached in
    // memory, asked twice (the second time from the cache): the answers
    // must be the querier's own. Ranges on the step grid (the frontend
    // aligns start and end to the step, as Thanos's does).
    let fe = harness::addr();
    stack.spawn(
        "query-frontend",
        aeon()
            .arg("query-frontend")
            .arg(format!("--http-address={fe}"))
            .arg(format!("--query-frontend.downstream-url=http://{querier}"))
            .arg("--query-range.split-interval=1h")
            .arg("--query-range.response-cache-config=type: IN-MEMORY\nconfig:\n  max_size: 256MB"),
    );
    // A second one shards aggregations vertically (three shards by the
    // grouping labels; the querier applies `shard_info`), split by 2 h.
    let fe_sharded = harness::addr();
    stack.spawn(
        "query-frontend-sharded",
        aeon()
            .arg("query-frontend")
            .arg(format!("--http-address={fe_sharded}"))
            .arg(format!("--query-frontend.downstream-url=http://{querier}"))
            .arg("--query-range.split-interval=2h")
            .arg("--query-frontend.vertical-shards=3"),
    );
    stack.wait_ready("query-frontend", &fe);
    stack.wait_ready("query-frontend-sharded", &fe_sharded);
    let aligned = |s: i64, e: i64, step: i64| Eval::Range(s / step * step, e / step * step, step);
    let fe_evals = [
        aligned(start + 5 * MIN, end, MIN),
        aligned(start + 13_000, end, 5 * MIN),
        aligned(boundary - 40 * MIN, end, 2 * MIN),
    ];
    let fe_paths: Vec<String> = QUERIES
        .iter()
        .flat_map(|q| fe_evals.iter().map(move |e| e.path(q)))
        .collect();
    for (pass, fe) in [
        ("split", &fe),
        ("cached", &fe),
        ("vertical shards", &fe_sharded),
    ] {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let diffs: Vec<String> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..3)
                .map(|_| {
                    s.spawn(|| {
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(path) = fe_paths.get(i) else { break };
                            match (ask(&querier, path), ask(fe, path)) {
                                (Ok(want), Ok(got)) => {
                                    let d = compare::diff(&want, &got, 8);
                                    if !d.is_empty() {
                                        out.push(format!(
                                            "query-frontend ({pass}) {path}:\n    {}",
                                            d.join("\n    ")
                                        ));
                                    }
                                }
                                (w, g) => out.push(format!(
                                    "query-frontend ({pass}) {path}: querier {w:?}, frontend {g:?}"
                                )),
                            }
                        }
                        out
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        failures.extend(diffs);
    }
    let metric = |fe: &str, name: &str| -> f64 {
        let (_, body) = harness::http(fe, "GET", "/metrics", &[], b"").unwrap();
        String::from_utf8_lossy(&body)
            .lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let (parts, hits) = (
        metric(&fe, "cortex_frontend_split_queries_total"),
        metric(&fe, "cortex_cache_hits_total"),
    );
    let n = fe_paths.len() as f64;
    // Two ranges of 7 h (8 parts each) and one of 3 h (4 or 5), twice.
    if parts < 2.0 * 6.0 * n || hits < n {
        failures.push(format!(
            "query-frontend: {parts} parts and {hits} cache hits for 2 × {n} range queries"
        ));
    }
    let sharded = metric(
        &fe_sharded,
        "thanos_frontend_sharding_middleware_queries_total{shardable=\"true\"}",
    );
    if sharded < 10.0 * fe_evals.len() as f64 {
        failures.push(format!(
            "query-frontend: only {sharded} range queries were sharded vertically"
        ));
    }

    // Concurrent queries left every store connection usable; the hanging
    // endpoint is listed as unhealthy.
    match harness::stores(&querier) {
        Ok(rows) if rows.len() == 4 && rows.iter().all(|r| r.1 == (r.0 != hanging)) => {}
        other => failures.push(format!("stores after the queries: {other:?}")),
    }

    assert!(
        failures.is_empty(),
        "{} of {} query evaluations differ from Prometheus 3.5 (reference first, Aeon second):\n{}\n\nlogs:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n"),
        stack.tails()
    );
    drop(stack);
}

#[test]
fn seed_walkthrough_commands_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut stack = Stack::new(&dir.join("logs"));
    let end = now_ms() / data::STEP_MS * data::STEP_MS - data::STEP_MS;

    // History 4 h .. 2 h ago as a block in the bucket (older than the
    // store's --max-time=-1h), the last 30 min in Prometheus.
    // A counter that grows by exactly one per 15 s step.
    let counter = |t: i64| ((t - (end - 5 * HOUR)) / data::STEP_MS) as f64;
    let old: Vec<data::Series> = vec![data::Series {
        labels: [("__name__", "seed_requests_total"), ("job", "seed")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        samples: (0..=(2 * HOUR / data::STEP_MS))
            .map(|i| end - 4 * HOUR + i * data::STEP_MS)
            .map(|t| (t, counter(t)))
            .collect(),
    }];
    let om = dir.join("old.om");
    std::fs::write(&om, data::openmetrics(&old, end - 2 * HOUR + 1, &[])).unwrap();
    let bucket = dir.join("bucket");
    for b in harness::create_blocks(&om, &dir.join("blocks")) {
        harness::place_block(&b, &bucket, Some(&[("cluster", "seed"), ("replica", "0")]));
    }
    let bucket_yml = dir.join("bucket.yml");
    std::fs::write(&bucket_yml, harness::bucket_config(&bucket)).unwrap();

    let prom = harness::start_prometheus(
        &mut stack,
        "prometheus",
        &dir.join("prom"),
        &[("cluster", "seed"), ("replica", "0")],
    );
    stack.wait_ready("prometheus", &prom);
    let recent: Vec<(i64, f64)> = (0..=(30 * MIN / data::STEP_MS))
        .map(|i| end - 30 * MIN + i * data::STEP_MS)
        .map(|t| (t, counter(t)))
        .collect();
    harness::remote_write(&prom, &[(&old[0].labels, &recent)], &[]);

    // The seed's commands with `aeon` for `thanos`; only paths and ports are
    // ours (loopback, free ports: tests run in parallel), and the query and
    // store get an explicit --grpc-address/--http-address for the same reason.
    let (sc_http, sc_grpc) = (harness::addr(), harness::addr());
    stack.spawn(
        "sidecar",
        aeon().args([
            "sidecar",
            "--tsdb.path",
            &dir.join("prom/data").display().to_string(),
            "--objstore.config-file",
            &bucket_yml.display().to_string(),
            "--prometheus.url",
            &format!("http://{prom}"),
            "--http-address",
            &sc_http,
            "--grpc-address",
            &sc_grpc,
        ]),
    );
    let (sg_http, sg_grpc) = (harness::addr(), harness::addr());
    stack.spawn(
        "store",
        aeon().args([
            "store",
            "--data-dir",
            &dir.join("store").display().to_string(),
            "--objstore.config-file",
            &bucket_yml.display().to_string(),
            "--index-cache-size=250MB",
            "--sync-block-duration=5m",
            "--min-time=-2w",
            "--max-time=-1h",
            "--http-address",
            &sg_http,
            "--grpc-address",
            &sg_grpc,
        ]),
    );
    let (q_http, q_grpc) = (harness::addr(), harness::addr());
    stack.spawn(
        "query",
        aeon().args([
            "query",
            "--http-address",
            &q_http,
            "--store",
            &sc_grpc,
            "--store",
            &sg_grpc,
            "--query.replica-label",
            "replica",
            "--grpc-address",
            &q_grpc,
        ]),
    );
    stack.wait_ready("sidecar", &sc_http);
    stack.wait_ready("store", &sg_http);
    stack.wait_ready("query", &q_http);
    stack.wait_for("both stores healthy", Duration::from_secs(60), || {
        let rows = harness::stores(&q_http)?;
        let healthy = rows.iter().filter(|r| r.1 && !r.2.is_empty()).count();
        if healthy == 2 {
            Ok(())
        } else {
            Err(format!("{rows:?}"))
        }
    });

    // Old data through the store, recent through the sidecar: the exact
    // sample values, one deduplicated series with the external labels.
    let want_metric =
        serde_json::json!({"__name__": "seed_requests_total", "cluster": "seed", "job": "seed"});
    for t in [end - 3 * HOUR, end - 10 * MIN, end] {
        let (code, v) = get_json(
            &q_http,
            &format!("/api/v1/query?query=seed_requests_total&time={}", secs(t)),
        )
        .unwrap();
        assert_eq!(code, 200, "{v}");
        let r = &v["data"]["result"];
        assert_eq!(r.as_array().map(Vec::len), Some(1), "at {t}: {v}");
        assert_eq!(r[0]["metric"], want_metric, "at {t}: {v}");
        assert_eq!(r[0]["value"][1], counter(t).to_string(), "at {t}: {v}");
    }
    // A range across both stores: a rate of exactly one per step, no gap
    // except the hour in between (no data) — 2 h of history, 30 min recent.
    let (code, v) = get_json(
        &q_http,
        &format!(
            "/api/v1/query_range?query={}&start={}&end={}&step=60",
            enc("rate(seed_requests_total[1m])"),
            secs(end - 4 * HOUR + 5 * MIN),
            secs(end)
        ),
    )
    .unwrap();
    assert_eq!(code, 200, "{v}");
    let values = v["data"]["result"][0]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Steps with two samples in their 1 m window: 116 over the history
    // (end-235m ..= end-120m) and 30 over the recent part (end-29m ..= end).
    assert_eq!(values.len(), 146, "{v}");
    for p in &values {
        let x: f64 = p[1]
            .as_str()
            .unwrap_or_default()
            .parse()
            .unwrap_or(f64::NAN);
        assert!((x - 1.0 / 15.0).abs() < 1e-12, "rate {p} is not 1/15: {v}");
    }
}

#[test]
fn grafana_metadata_exemplars_targets_equal_prometheus() {
    let tmp = tempfile::tempdir().unwrap();
    grafana::run(tmp.path());
}
