//! `thanos_mixin_metrics_are_exposed`: the Thanos mixin's alerts, recording
//! rules and dashboards work on Aeon unchanged. A sidecar (next to a real
//! Prometheus 3.5), a store, a query over both and a compactor run on one
//! filesystem bucket; the test queries through the querier, lets the
//! compactor run an iteration, scrapes every component's `/metrics` and
//! checks that every metric the mixin selects for that component
//! (`tests/data/thanos-mixin-metrics.txt`, our own list, compared with the
//! mixin by `cargo xtask mixin-metrics <thanos>/mixin`) has a series with
//! the labels the mixin uses.
//!
//! List entries marked `!component` are known gaps: reported, not failed,
//! and failed once they are exposed (so the mark is removed). Labels marked
//! `!label` are ones the mixin uses that Thanos does not export either.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::harness::{self, Stack, aeon, enc, get_json};
use crate::{HOUR, MIN, data, now_ms, secs};

/// The list, with the labels to check per metric.
struct Entry {
    name: String,
    /// Components that expose it.
    components: Vec<String>,
    /// Components that should and do not yet.
    gaps: Vec<String>,
    labels: Vec<String>,
}

fn list() -> Vec<Entry> {
    let text = include_str!("../data/thanos-mixin-metrics.txt");
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 4, "bad list line: {line}");
        let (mut components, mut gaps) = (Vec::new(), Vec::new());
        for c in f[0].split(',') {
            match c.strip_prefix('!') {
                Some(g) => gaps.push(g.to_owned()),
                None if c != "-" => components.push(c.to_owned()),
                None => {}
            }
        }
        let labels = if f[2] == "-" {
            Vec::new()
        } else {
            f[2].split(',')
                .filter(|l| !l.starts_with('!'))
                .map(str::to_owned)
                .collect()
        };
        out.push(Entry {
            name: f[1].to_owned(),
            components,
            gaps,
            labels,
        });
    }
    out
}

/// Series names of a text exposition, each with the label-name sets seen.
fn exposed(text: &str) -> BTreeMap<String, Vec<BTreeSet<String>>> {
    let mut out: BTreeMap<String, Vec<BTreeSet<String>>> = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (name, labels) = match line.split_once('{') {
            Some((n, rest)) => {
                let body = rest.rsplit_once('}').map_or(rest, |(b, _)| b);
                let mut names = BTreeSet::new();
                let mut in_str = false;
                let mut cur = String::new();
                let mut prev = ' ';
                for ch in body.chars() {
                    if in_str {
                        if ch == '"' && prev != '\\' {
                            in_str = false;
                        }
                    } else if ch == '"' {
                        in_str = true;
                    } else if ch == '=' {
                        names.insert(std::mem::take(&mut cur).trim().to_owned());
                    } else if ch != ',' {
                        cur.push(ch);
                    }
                    prev = ch;
                }
                (n.to_owned(), names)
            }
            None => (
                line.split_whitespace().next().unwrap_or("").to_owned(),
                BTreeSet::new(),
            ),
        };
        out.entry(name).or_default().push(labels);
    }
    out
}

fn scrape(addr: &str) -> String {
    let (code, body) = harness::http(addr, "GET", "/metrics", &[], b"").unwrap();
    assert_eq!(code, 200, "GET {addr}/metrics");
    String::from_utf8(body).unwrap()
}

#[test]
fn thanos_mixin_metrics_are_exposed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut stack = Stack::new(&dir.join("logs"));
    let end = now_ms() / data::STEP_MS * data::STEP_MS - data::STEP_MS;

    // Six hours of history, 20 h ago, as 2 h blocks in the bucket: the
    // store serves them and the compactor plans (and runs) a compaction.
    let old: Vec<data::Series> = vec![data::Series {
        labels: [("__name__", "mixin_requests_total"), ("job", "mixin")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        samples: (0..=(6 * HOUR / data::STEP_MS))
            .map(|i| (end - 26 * HOUR + i * data::STEP_MS, i as f64))
            .collect(),
    }];
    let om = dir.join("old.om");
    std::fs::write(&om, data::openmetrics(&old, end - 19 * HOUR, &[])).unwrap();
    let bucket = dir.join("bucket");
    for b in harness::create_blocks(&om, &dir.join("blocks")) {
        harness::place_block(&b, &bucket, Some(&[("cluster", "mixin"), ("replica", "0")]));
    }
    let bucket_yml = dir.join("bucket.yml");
    std::fs::write(&bucket_yml, harness::bucket_config(&bucket)).unwrap();

    let prom = harness::start_prometheus(
        &mut stack,
        "prometheus",
        &dir.join("prom"),
        &[("cluster", "mixin"), ("replica", "0")],
    );
    stack.wait_ready("prometheus", &prom);
    let recent: Vec<(i64, f64)> = (0..=(30 * MIN / data::STEP_MS))
        .map(|i| (end - 30 * MIN + i * data::STEP_MS, i as f64))
        .collect();
    harness::remote_write(&prom, &[(&old[0].labels, &recent)], &[]);

    let path = |p: &str| dir.join(p).display().to_string();
    let bucket_arg = bucket_yml.display().to_string();
    let (sc_http, sc_grpc) = (harness::addr(), harness::addr());
    stack.spawn(
        "sidecar",
        aeon().args([
            "sidecar",
            "--tsdb.path",
            &path("prom/data"),
            "--objstore.config-file",
            &bucket_arg,
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
            &path("store"),
            "--objstore.config-file",
            &bucket_arg,
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
            "--grpc-address",
            &q_grpc,
            "--store",
            &sc_grpc,
            "--store",
            &sg_grpc,
            "--query.replica-label",
            "replica",
        ]),
    );
    let c_http = harness::addr();
    stack.spawn(
        "compact",
        aeon().args([
            "compact",
            "--data-dir",
            &path("compact"),
            "--objstore.config-file",
            &bucket_arg,
            "--http-address",
            &c_http,
            "--wait",
            "--wait-interval=5s",
            "--consistency-delay=0s",
        ]),
    );
    for (what, a) in [
        ("sidecar", &sc_http),
        ("store", &sg_http),
        ("query", &q_http),
        ("compact", &c_http),
    ] {
        stack.wait_ready(what, a);
    }
    stack.wait_for("both stores healthy", Duration::from_secs(60), || {
        let rows = harness::stores(&q_http)?;
        let healthy = rows.iter().filter(|r| r.1 && !r.2.is_empty()).count();
        if healthy == 2 {
            Ok(())
        } else {
            Err(format!("{rows:?}"))
        }
    });

    // The queries a dashboard sends, through both stores.
    let q = enc("sum by (job) (rate(mixin_requests_total[5m]))");
    for p in [
        format!("/api/v1/query?query={q}&time={}", secs(end - 22 * HOUR)),
        format!("/api/v1/query?query={q}&time={}", secs(end)),
        format!(
            "/api/v1/query_range?query={q}&start={}&end={}&step=60",
            secs(end - 26 * HOUR),
            secs(end)
        ),
        format!(
            "/api/v1/series?match[]=mixin_requests_total&start={}&end={}",
            secs(end - 26 * HOUR),
            secs(end)
        ),
        "/api/v1/labels".to_owned(),
        "/api/v1/label/job/values".to_owned(),
    ] {
        let (code, v) = get_json(&q_http, &p).unwrap();
        assert_eq!(code, 200, "{p}: {v}");
    }
    // One compactor iteration done.
    stack.wait_for("a compactor iteration", Duration::from_secs(60), || {
        let text = scrape(&c_http);
        if text
            .lines()
            .any(|l| l.starts_with("thanos_compact_iterations_total ") && !l.ends_with(" 0"))
        {
            Ok(())
        } else {
            Err("thanos_compact_iterations_total still 0".to_owned())
        }
    });

    let scrapes: BTreeMap<&str, BTreeMap<String, Vec<BTreeSet<String>>>> = [
        ("sidecar", &sc_http),
        ("store", &sg_http),
        ("query", &q_http),
        ("compact", &c_http),
    ]
    .into_iter()
    .map(|(c, a)| (c, exposed(&scrape(a))))
    .collect();

    let mut missing = Vec::new();
    let mut gaps = Vec::new();
    let mut checked = 0;
    for e in list() {
        for c in &e.components {
            let series = scrapes
                .get(c.as_str())
                .unwrap_or_else(|| panic!("{}: unknown component {c}", e.name));
            checked += 1;
            match series.get(&e.name) {
                None => missing.push(format!("{c}: {} (no series)", e.name)),
                Some(sets) => {
                    let want: BTreeSet<String> = e.labels.iter().cloned().collect();
                    if !sets.iter().any(|s| want.is_subset(s)) {
                        missing.push(format!(
                            "{c}: {} without labels {want:?} (has {sets:?})",
                            e.name
                        ));
                    }
                }
            }
        }
        for c in &e.gaps {
            let series = &scrapes[c.as_str()];
            if series.contains_key(&e.name) {
                missing.push(format!(
                    "{c}: {} is exposed now; remove its `!` in the list",
                    e.name
                ));
            } else {
                gaps.push(format!("{c}: {}", e.name));
            }
        }
    }
    println!(
        "{checked} (component, metric) pairs checked; known gaps ({}):\n{}",
        gaps.len(),
        gaps.join("\n")
    );
    assert!(
        missing.is_empty(),
        "{} of the mixin's metrics are not exposed as listed:\n{}",
        missing.len(),
        missing.join("\n")
    );
    assert!(checked >= 60, "only {checked} pairs checked");
}
