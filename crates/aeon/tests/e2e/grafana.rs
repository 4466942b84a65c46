//! What Grafana shows besides query results, end to end: an HA pair of
//! Prometheus 3.5 servers (external labels `cluster="c1"`, `replica="a"|"b"`,
//! exemplar storage on) scrapes one small HTTP server that exposes
//! exemplars in OpenMetrics; an `aeon sidecar` next to each; `aeon query`
//! deduplicating on `replica`. Metadata, exemplars and targets through the
//! querier must equal what Prometheus answers, with the external labels
//! added as Thanos adds them and the replica label removed.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{self, Stack, aeon, enc, get_json};
use crate::{now_ms, secs};

/// The scraped server's exemplars are at fixed times, so both replicas
/// store the same ones (Prometheus keeps an exemplar once).
fn openmetrics(t: i64) -> String {
    let ts = |ms: i64| secs(ms);
    format!(
        "# TYPE app_requests counter\n\
         # HELP app_requests Requests handled.\n\
         app_requests_total{{path=\"/a\"}} 10 # {{trace_id=\"t1\"}} 1 {}\n\
         app_requests_total{{path=\"/b\"}} 3 # {{trace_id=\"t2\"}} 1 {}\n\
         # TYPE app_latency_seconds histogram\n\
         # HELP app_latency_seconds Request latency.\n\
         # UNIT app_latency_seconds seconds\n\
         app_latency_seconds_bucket{{le=\"0.1\"}} 5 # {{trace_id=\"t3\",span_id=\"s3\"}} 0.05 {}\n\
         app_latency_seconds_bucket{{le=\"1\"}} 8 # {{trace_id=\"t4\"}} 0.5 {}\n\
         app_latency_seconds_bucket{{le=\"+Inf\"}} 9\n\
         app_latency_seconds_sum 3.2\n\
         app_latency_seconds_count 9\n\
         # TYPE app_queue_depth gauge\n\
         # HELP app_queue_depth Items waiting.\n\
         app_queue_depth 4\n\
         # EOF\n",
        ts(t),
        ts(t + 1_000),
        ts(t + 2_000),
        ts(t + 3_500),
    )
}

/// Serves `body` as OpenMetrics on every request; returns the address.
fn exemplar_server(body: String) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let mut req = Vec::new();
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

fn start_prometheus(stack: &mut Stack, dir: &Path, replica: &str, target: &str) -> String {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 1s\n  external_labels:\n    cluster: c1\n    replica: {replica}\n\
         scrape_configs:\n\
         \x20 - job_name: app\n    static_configs:\n      - targets: [\"{target}\"]\n        labels:\n          team: t1\n\
         \x20 - job_name: dropped\n    static_configs:\n      - targets: [\"127.0.0.1:1\"]\n    relabel_configs:\n      - source_labels: [__address__]\n        action: drop\n"
    );
    let cfg_path = dir.join("prometheus.yml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let addr = harness::addr();
    stack.spawn(
        &format!("prometheus-{replica}"),
        Command::new(harness::peer("prometheus"))
            .arg(format!("--config.file={}", cfg_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--enable-feature=exemplar-storage"),
    );
    addr
}

/// `data` of a success answer.
fn data(addr: &str, path: &str) -> Result<Value, String> {
    let (code, v) = get_json(addr, path)?;
    if code != 200 || v["status"] != "success" {
        return Err(format!("{addr}{path}: HTTP {code}: {v}"));
    }
    Ok(v["data"].clone())
}

/// A label object with the external label `cluster="c1"` added, as Thanos's
/// sidecar adds it (the replica label it adds is removed by the querier).
fn with_cluster(labels: &Value) -> Value {
    let mut m = labels.as_object().cloned().unwrap_or_default();
    m.insert("cluster".into(), json!("c1"));
    Value::Object(m)
}

/// Exemplar answers sorted by series labels (both sides' order is Prometheus's
/// map order or the querier's sort), with `cluster` added to Prometheus's.
fn exemplars_keyed(v: &Value, add_cluster: bool) -> BTreeMap<String, Value> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let series = if add_cluster {
                with_cluster(&d["seriesLabels"])
            } else {
                d["seriesLabels"].clone()
            };
            let mut ex: Vec<Value> = d["exemplars"].as_array().cloned().unwrap_or_default();
            ex.sort_by(|a, b| a["timestamp"].to_string().cmp(&b["timestamp"].to_string()));
            (
                series.to_string(),
                json!({"seriesLabels": series, "exemplars": ex}),
            )
        })
        .collect()
}

/// Targets with the fields that change every scrape blanked, active
/// targets by (pool, URL), and `cluster` added to Prometheus's labels.
fn targets_normalized(v: &Value, add_cluster: bool) -> Value {
    let mut v = v.clone();
    let add = |t: &mut Value, key: &str| {
        if add_cluster {
            t[key] = with_cluster(&t[key]);
        }
    };
    if let Some(active) = v["activeTargets"].as_array_mut() {
        for t in active.iter_mut() {
            t["lastScrape"] = json!("");
            t["lastScrapeDuration"] = json!(0);
            add(t, "labels");
            add(t, "discoveredLabels");
        }
        active.sort_by_key(|t| format!("{}{}", t["scrapePool"], t["scrapeUrl"]));
    }
    if let Some(dropped) = v["droppedTargets"].as_array_mut() {
        for t in dropped.iter_mut() {
            add(t, "discoveredLabels");
        }
        dropped.sort_by_key(|t| t.to_string());
    }
    v
}

pub(crate) fn run(dir: &Path) {
    let mut stack = Stack::new(&dir.join("logs"));
    let t = now_ms() / 1000 * 1000 - 60_000;
    let target = exemplar_server(openmetrics(t));
    let proms: Vec<String> = ["a", "b"]
        .iter()
        .map(|r| start_prometheus(&mut stack, &dir.join(r), r, &target))
        .collect();
    let mut sidecars = Vec::new();
    for (r, prom) in ["a", "b"].iter().zip(&proms) {
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
    let (q_grpc, querier) = (harness::addr(), harness::addr());
    stack.spawn(
        "query",
        aeon()
            .arg("query")
            .arg(format!("--http-address={querier}"))
            .arg(format!("--grpc-address={q_grpc}"))
            .arg(format!("--endpoint={}", sidecars[0].0))
            .arg(format!("--endpoint={}", sidecars[1].0))
            .arg("--query.replica-label=replica"),
    );
    for (i, p) in proms.iter().enumerate() {
        stack.wait_ready(&format!("prometheus {i}"), p);
    }
    for (i, (_, http)) in sidecars.iter().enumerate() {
        stack.wait_ready(&format!("sidecar {i}"), http);
    }
    stack.wait_ready("querier", &querier);
    let prom = &proms[0];
    let long = Duration::from_secs(90);

    // Both replicas scraped the exemplars.
    let range = format!(
        "&start={}&end={}",
        secs(t - 3_600_000),
        secs(now_ms() + 3_600_000)
    );
    let all = format!(
        "/api/v1/query_exemplars?query={}{range}",
        enc(r#"{__name__=~"app_.+"}"#)
    );
    stack.wait_for("exemplars in both replicas", long, || {
        for p in &proms {
            let n: usize = data(p, &all)?
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| d["exemplars"].as_array().map_or(0, Vec::len))
                .sum();
            if n != 4 {
                return Err(format!("{p}: {n} exemplars"));
            }
        }
        Ok(())
    });

    // Exemplars: the querier's answer is Prometheus's with `cluster` added;
    // a matcher on the external label is answered too (Prometheus itself has
    // no such label, the querier strips it before asking).
    for (through_querier, from_prometheus) in [
        (all.clone(), all.clone()),
        (
            format!(
                "/api/v1/query_exemplars?query={}{range}",
                enc(r#"rate(app_requests_total{cluster="c1"}[5m])"#)
            ),
            format!(
                "/api/v1/query_exemplars?query={}{range}",
                enc("rate(app_requests_total[5m])")
            ),
        ),
    ] {
        stack.wait_for(&format!("exemplars {through_querier}"), long, || {
            let want = exemplars_keyed(&data(prom, &from_prometheus)?, true);
            let got = exemplars_keyed(&data(&querier, &through_querier)?, false);
            if want.is_empty() || got != want {
                return Err(format!("querier {got:?}\nprometheus {want:?}"));
            }
            Ok(())
        });
    }

    // Metadata: equal, with and without parameters.
    for q in [
        "",
        "?metric=app_latency_seconds",
        "?metric=nope",
        "?limit=2",
        "?limit_per_metric=1",
    ] {
        let path = format!("/api/v1/metadata{q}");
        stack.wait_for(&format!("metadata {path}"), long, || {
            let want = data(prom, &path)?;
            let got = data(&querier, &path)?;
            let (w, g) = (want.as_object(), got.as_object());
            let equal = if q.starts_with("?limit=") {
                // Prometheus keeps `limit` arbitrary families; so does the
                // querier: as many, each as Prometheus has it.
                let full = data(prom, "/api/v1/metadata")?;
                w.map(|m| m.len()) == g.map(|m| m.len())
                    && g.into_iter().flatten().all(|(k, v)| full[k] == *v)
            } else {
                want == got
            };
            if !equal || (q.is_empty() && w.is_none_or(|m| m.len() < 3)) {
                return Err(format!("querier {got}\nprometheus {want}"));
            }
            Ok(())
        });
    }

    // Targets: equal once both replicas' target is up, for every state.
    for q in [
        "",
        "?state=active",
        "?state=dropped",
        "?state=any&scrapePool=app",
        "?scrapePool=dropped",
        "?state=other",
    ] {
        let path = format!("/api/v1/targets{q}");
        stack.wait_for(&format!("targets {path}"), long, || {
            for p in &proms {
                let v = data(p, "/api/v1/targets?state=active")?;
                if v["activeTargets"][0]["health"] != "up" {
                    return Err(format!("{p}: target not up yet: {v}"));
                }
            }
            let want = targets_normalized(&data(prom, &path)?, true);
            let got = targets_normalized(&data(&querier, &path)?, false);
            if got != want {
                return Err(format!("querier {got}\nprometheus {want}"));
            }
            Ok(())
        });
    }
}
