//! The HTTP API over real gRPC stores: dedup, partial response, timeouts,
//! metadata endpoints, bad input, route prefix, the gRPC side.

use std::time::{Duration, Instant};

use aeon_storeapi::pb::thanos;
use aeon_storeapi::{ClientOptions, StoreApi, StoreClient};
use futures::StreamExt;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

/// Querier over replicas a and b of cluster eu and one store of cluster us.
async fn ha_querier(skew: f64, extra: &[&str]) -> Querier {
    let stop = CancellationToken::new();
    let a = serve(replica("a", 0.0), &stop).await;
    let b = serve(replica("b", skew), &stop).await;
    let us = serve(other_cluster(), &stop).await;
    let mut flags = vec![
        format!("--store={a}"),
        format!("--store={b}"),
        format!("--endpoint={us}"),
        "--query.replica-label=replica".to_string(),
    ];
    flags.extend(extra.iter().map(|s| s.to_string()));
    Querier::start(&flags, stop).await
}

fn metric_of(s: &Value) -> Vec<(String, String)> {
    s["metric"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_query_deduplicates_replicas() {
    let q = ha_querier(0.0, &[]).await;
    let t = T0 + 600_000; // both replicas present
    let (code, v) = q
        .get("/api/v1/query", &[("query", "up"), ("time", &secs(t))])
        .await;
    assert_eq!(code, 200, "{v}");
    let mut metrics: Vec<Vec<(String, String)>> = result(&v).iter().map(metric_of).collect();
    metrics.sort();
    let want = |cluster: &str, inst: &str| {
        vec![
            ("__name__".into(), "up".into()),
            ("cluster".into(), cluster.into()),
            ("instance".into(), inst.into()),
            ("job".into(), "api".into()),
        ]
    };
    assert_eq!(metrics, vec![want("eu", "i1"), want("us", "i9")]);
    // The value comes from replica a (t is on a's scrape grid, b is 5 s later).
    let eu = result(&v)
        .iter()
        .find(|s| s["metric"]["cluster"] == "eu")
        .unwrap();
    assert_eq!(eu["value"][0].as_f64().unwrap(), t as f64 / 1000.0);
    assert_eq!(num(&eu["value"][1]), 1.0);

    // lookback_delta: replica b's last sample before t is 10 s old, a's 0 s;
    // 1 s after t with a 500 ms lookback nothing is found.
    let (_, v) = q
        .get(
            "/api/v1/query",
            &[
                ("query", "up{cluster=\"eu\"}"),
                ("time", &secs(t + 1_000)),
                ("lookback_delta", "0.5"),
            ],
        )
        .await;
    assert!(result(&v).is_empty(), "{v}");
    let (_, v) = q
        .get(
            "/api/v1/query",
            &[
                ("query", "up{cluster=\"eu\"}"),
                ("time", &secs(t + 1_000)),
                ("lookback_delta", "2s"),
            ],
        )
        .await;
    assert_eq!(result(&v).len(), 1, "{v}");

    // storeMatch[] restricts the stores asked (Thanos: `__address__` only).
    let addrs: Vec<String> = q
        .running
        .endpoints
        .all()
        .iter()
        .map(|e| e.address().to_owned())
        .collect();
    for a in &addrs {
        let (code, v) = q
            .get(
                "/api/v1/query",
                &[
                    ("query", "up"),
                    ("time", &secs(t)),
                    ("storeMatch[]", &format!("{{__address__=\"{a}\"}}")),
                ],
            )
            .await;
        assert_eq!(code, 200, "{v}");
        assert_eq!(result(&v).len(), 1, "only {a} asked: {v}");
    }
    let (_, v) = q
        .get(
            "/api/v1/query",
            &[
                ("query", "up"),
                ("time", &secs(t)),
                ("storeMatch[]", "{__address__=\"nowhere:1\"}"),
            ],
        )
        .await;
    // No store matches: an empty answer without a warning, as Thanos's
    // proxy gives (and Prometheus, which has no stores to match).
    assert!(result(&v).is_empty());
    assert!(v.get("warnings").is_none(), "{v}");
    let (code, v) = q
        .get(
            "/api/v1/series",
            &[("match[]", "up"), ("storeMatch[]", "up[")],
        )
        .await;
    assert_eq!((code, v["errorType"].as_str()), (400, Some("bad_data")));

    // dedup=false: both replicas, with their replica label.
    let (_, v) = q
        .get(
            "/api/v1/query",
            &[
                ("query", "up{cluster=\"eu\"}"),
                ("time", &secs(t)),
                ("dedup", "false"),
            ],
        )
        .await;
    let mut reps: Vec<String> = result(&v)
        .iter()
        .map(|s| s["metric"]["replica"].as_str().unwrap().to_owned())
        .collect();
    reps.sort();
    assert_eq!(reps, ["a", "b"]);

    // The counter's instant value at t equals the true counter at a's last scrape.
    let (_, v) = q
        .get(
            "/api/v1/query",
            &[
                ("query", "http_requests_total{cluster=\"eu\"}"),
                ("time", &secs(t + 3_000)),
            ],
        )
        .await;
    let r = result(&v);
    assert_eq!(r.len(), 1);
    assert_eq!(num(&r[0]["value"][1]), counter(t));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_query_fills_gap_from_other_replica() {
    let q = ha_querier(0.0, &[]).await;
    let (start, end) = (T0 + 600_000, T0 + 2_400_000);
    let params = [
        ("query", "temperature"),
        ("start", &secs(start)[..]),
        ("end", &secs(end)[..]),
        ("step", "15"),
    ];
    let (code, v) = q.get("/api/v1/query_range", &params).await;
    assert_eq!(code, 200, "{v}");
    let r = result(&v);
    assert_eq!(r.len(), 1, "one series per HA pair: {v}");
    assert!(r[0]["metric"].get("replica").is_none());
    let values = r[0]["values"].as_array().unwrap();
    // Every step has a value (the gap of replica a is filled from b within lookback).
    assert_eq!(values.len() as i64, (end - start) / 15_000 + 1);
    // Each value is one replica's sample from the last 45 s (the penalty may
    // keep an older sample of the followed replica for up to two intervals).
    let mut from_b = 0;
    for p in values {
        let ts = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
        let v = num(&p[1]);
        let a_t = ts - (ts - T0).rem_euclid(STEP);
        let b_t = ts - (ts - T0 - B_OFFSET).rem_euclid(STEP);
        let candidates: Vec<f64> = (0..3)
            .flat_map(|k| [a_t - k * STEP, b_t - k * STEP])
            .filter(|t| !(GAP_FROM..GAP_TO).contains(t) || (t - T0) % STEP != 0)
            .map(gauge)
            .collect();
        assert!(
            candidates.contains(&v),
            "at {ts}: {v} not in {candidates:?}"
        );
        if ts < GAP_FROM {
            assert_eq!(v, gauge(a_t), "before the gap replica a is followed");
        }
        if (GAP_FROM + 3 * STEP..GAP_TO).contains(&ts) {
            assert_eq!(v, gauge(b_t), "inside the gap replica b fills in");
            from_b += 1;
        }
    }
    assert!(from_b > 10);
    // POST form gives the same answer.
    let (code, v2) = q.post_form("/api/v1/query_range", &params).await;
    assert_eq!(code, 200);
    assert_eq!(v, v2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_has_no_spike_when_switching_to_a_lagging_replica() {
    // Replica b's counter reads 40 lower: a naive switch a→b at the gap is a
    // counter "reset" that makes rate() jump by ~40/60s·... on a 1/s counter.
    let q = ha_querier(40.0, &[]).await;
    let (start, end) = (T0 + 600_000, T0 + 3_000_000);
    let (code, v) = q
        .get(
            "/api/v1/query_range",
            &[
                ("query", "rate(http_requests_total{cluster=\"eu\"}[1m])"),
                ("start", &secs(start)),
                ("end", &secs(end)),
                ("step", "15"),
            ],
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let r = result(&v);
    assert_eq!(r.len(), 1);
    let rates: Vec<f64> = r[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| num(&p[1]))
        .collect();
    assert!(rates.len() > 100);
    let max = rates.iter().cloned().fold(f64::MIN, f64::max);
    // The true rate is 1/s; a false reset would add ~1000/60 ≈ 17/s.
    assert!(max < 2.0, "rate spike {max}: {rates:?}");
    assert!(rates.iter().all(|r| *r >= 0.0));
    // Without dedup the two replicas are separate and each rate is ~1.
    let (_, v) = q
        .get(
            "/api/v1/query_range",
            &[
                ("query", "rate(http_requests_total{cluster=\"eu\"}[1m])"),
                ("start", &secs(start)),
                ("end", &secs(end)),
                ("step", "60"),
                ("dedup", "false"),
            ],
        )
        .await;
    assert_eq!(result(&v).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_labels_parameter_overrides_the_flag() {
    let stop = CancellationToken::new();
    let a = serve(replica("a", 0.0), &stop).await;
    let b = serve(replica("b", 0.0), &stop).await;
    // No replica label flag: no dedup unless the request names one.
    let q = Querier::start(&[format!("--store={a}"), format!("--store={b}")], stop).await;
    let t = secs(T0 + 600_000);
    let (_, v) = q
        .get("/api/v1/query", &[("query", "up"), ("time", &t)])
        .await;
    assert_eq!(result(&v).len(), 2);
    let (_, v) = q
        .get(
            "/api/v1/query",
            &[
                ("query", "up"),
                ("time", &t),
                ("replicaLabels[]", "replica"),
            ],
        )
        .await;
    assert_eq!(result(&v).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_store_gives_warning_or_error() {
    let stop = CancellationToken::new();
    let a = serve(replica("a", 0.0), &stop).await;
    let broken = Faulty {
        inner: store(
            aeon_model::Labels::from_pairs(&[("cluster", "broken")]),
            &replica_series("b", 0.0),
        ),
        delay: None,
        fail: Some("disk on fire".into()),
    };
    let b = serve(broken, &stop).await;
    let q = Querier::start(
        &[
            format!("--store={a}"),
            format!("--store={b}"),
            "--query.replica-label=replica".into(),
        ],
        stop,
    )
    .await;
    let t = secs(T0 + 600_000);
    // Default partial response (WARN): data from a plus a warning naming b.
    let (code, v) = q
        .get("/api/v1/query", &[("query", "up"), ("time", &t)])
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(result(&v).len(), 1);
    let w = v["warnings"].as_array().unwrap();
    assert!(
        w.iter()
            .any(|w| w.as_str().unwrap().contains(&b.to_string())
                && w.as_str().unwrap().contains("disk on fire")),
        "{v}"
    );
    // ABORT: the query fails.
    let (code, v) = q
        .get(
            "/api/v1/query",
            &[("query", "up"), ("time", &t), ("partial_response", "false")],
        )
        .await;
    assert_eq!(code, 500, "{v}");
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "internal");
    assert!(v["error"].as_str().unwrap().contains("disk on fire"), "{v}");
    // A matcher that excludes the broken store's labels never asks it.
    let (code, v) = q
        .get(
            "/api/v1/query",
            &[
                ("query", "up{cluster=\"eu\"}"),
                ("time", &t),
                ("partial_response", "false"),
            ],
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert!(v.get("warnings").is_none(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_store_is_cut_by_the_response_timeout() {
    let stop = CancellationToken::new();
    let a = serve(replica("a", 0.0), &stop).await;
    let slow = Faulty {
        inner: store(
            aeon_model::Labels::from_pairs(&[("cluster", "slow")]),
            &replica_series("b", 0.0),
        ),
        delay: Some(Duration::from_secs(60)),
        fail: None,
    };
    let s = serve(slow, &stop).await;
    let q = Querier::start(
        &[
            format!("--store={a}"),
            format!("--store={s}"),
            "--store.response-timeout=500ms".into(),
        ],
        stop,
    )
    .await;
    let t = secs(T0 + 600_000);
    let started = Instant::now();
    let (code, v) = q
        .get("/api/v1/query", &[("query", "up"), ("time", &t)])
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(result(&v).len(), 1);
    assert!(
        v["warnings"][0].as_str().unwrap().contains(&s.to_string()),
        "{v}"
    );
    let (code, v) = q
        .get(
            "/api/v1/query",
            &[("query", "up"), ("time", &t), ("partial_response", "0")],
        )
        .await;
    assert_ne!(code, 200, "{v}");
    assert!(v["error"].as_str().unwrap().contains("deadline"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_timeout_is_a_503() {
    let stop = CancellationToken::new();
    let slow = Faulty {
        inner: replica("a", 0.0),
        delay: Some(Duration::from_secs(60)),
        fail: None,
    };
    let s = serve(slow, &stop).await;
    let q = Querier::start(&[format!("--store={s}"), "--query.timeout=1s".into()], stop).await;
    let (code, v) = q
        .get(
            "/api/v1/query",
            &[("query", "up"), ("time", &secs(T0 + 600_000))],
        )
        .await;
    assert_eq!(code, 503, "{v}");
    assert_eq!(v["errorType"], "timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_endpoint_is_skipped_and_listed() {
    let stop = CancellationToken::new();
    let a = serve(replica("a", 0.0), &stop).await;
    let dead = dead_address();
    let q = Querier::start(&[format!("--store={a}"), format!("--store={dead}")], stop).await;
    let (code, v) = q
        .get(
            "/api/v1/query",
            &[("query", "up"), ("time", &secs(T0 + 600_000))],
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(result(&v).len(), 1);
    assert!(
        v.get("warnings").is_none(),
        "unhealthy stores are not asked: {v}"
    );
    let (_, v) = q.get("/api/v1/stores", &[]).await;
    let sidecars = v["data"]["sidecar"].as_array().unwrap();
    assert_eq!(sidecars.len(), 1);
    assert_eq!(sidecars[0]["name"], a.to_string());
    assert_eq!(sidecars[0]["healthy"], true);
    assert_eq!(sidecars[0]["labelSets"][0]["replica"], "a");
    assert_eq!(sidecars[0]["minTime"].as_i64().unwrap(), T0);
    let unknown = v["data"]["unknown"].as_array().unwrap();
    assert_eq!(unknown[0]["name"], dead);
    assert_eq!(unknown[0]["healthy"], false);
    assert!(unknown[0]["lastError"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_labels_and_values() {
    let q = ha_querier(0.0, &[]).await;
    let (code, v) = q
        .get(
            "/api/v1/series",
            &[
                ("match[]", "up"),
                ("match[]", "temperature{cluster=\"eu\"}"),
            ],
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3, "{v}"); // up eu, up us, temperature eu — replicas merged
    assert!(data.iter().all(|s| s.get("replica").is_none()));
    let (_, v) = q
        .post_form("/api/v1/series", &[("match[]", "up"), ("dedup", "false")])
        .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 3); // a, b, us

    let (_, v) = q.get("/api/v1/labels", &[]).await;
    assert_eq!(
        v["data"],
        serde_json::json!(["__name__", "cluster", "instance", "job"])
    );
    let (_, v) = q.get("/api/v1/labels", &[("dedup", "false")]).await;
    assert_eq!(
        v["data"],
        serde_json::json!(["__name__", "cluster", "instance", "job", "replica"])
    );
    let (_, v) = q.get("/api/v1/label/__name__/values", &[]).await;
    assert_eq!(
        v["data"],
        serde_json::json!(["http_requests_total", "temperature", "up"])
    );
    let (_, v) = q
        .get(
            "/api/v1/label/instance/values",
            &[("match[]", "up{cluster=\"us\"}")],
        )
        .await;
    assert_eq!(v["data"], serde_json::json!(["i9"]));
    let (_, v) = q
        .get("/api/v1/label/cluster/values", &[("limit", "1")])
        .await;
    assert_eq!(v["data"], serde_json::json!(["eu"]));
    assert!(v["warnings"].is_array());
    let (_, v) = q.get("/api/v1/metadata", &[]).await;
    assert_eq!(v, serde_json::json!({"status": "success", "data": {}}));
    let (_, v) = q.get("/api/v1/query_exemplars", &[("query", "up")]).await;
    assert_eq!(v, serde_json::json!({"status": "success", "data": []}));
    for (path, key) in [
        ("/api/v1/rules", "groups"),
        ("/api/v1/alerts", "alerts"),
        ("/api/v1/targets", "activeTargets"),
    ] {
        let (code, v) = q.get(path, &[]).await;
        assert_eq!(code, 200);
        assert_eq!(v["data"][key], serde_json::json!([]), "{path}");
    }
    let (_, v) = q.get("/api/v1/status/buildinfo", &[]).await;
    assert!(v["data"]["version"].is_string());
    let (_, v) = q
        .get(
            "/api/v1/format_query",
            &[("query", "sum by(job)(rate(x[5m]))")],
        )
        .await;
    assert_eq!(v["data"], "sum by (job) (rate(x[5m]))");
    let (_, v) = q
        .post_form("/api/v1/parse_query", &[("query", "foo/bar")])
        .await;
    assert_eq!(v["data"]["type"], "binaryExpr");
    assert_eq!(v["data"]["lhs"]["name"], "foo");
    let (code, v) = q.get("/api/v1/parse_query", &[("query", "foo/")]).await;
    assert_eq!((code, v["errorType"].as_str()), (400, Some("bad_data")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_prometheus_errors() {
    let q = ha_querier(0.0, &[]).await;
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "/api/v1/query",
            vec![("query", "sum(up")],
            400,
            "bad_data",
            "invalid parameter \"query\": 1:7: parse error",
        ),
        (
            "/api/v1/query",
            vec![("query", "")],
            400,
            "bad_data",
            "invalid parameter \"query\"",
        ),
        (
            "/api/v1/query",
            vec![("query", "up"), ("time", "yesterday")],
            400,
            "bad_data",
            "invalid parameter \"time\": invalid time value for 'time': cannot parse \"yesterday\" to a valid timestamp",
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "up"),
                ("start", "100"),
                ("end", "50"),
                ("step", "1"),
            ],
            400,
            "bad_data",
            "invalid parameter \"end\": end timestamp must not be before start time",
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "up"),
                ("start", "0"),
                ("end", "50"),
                ("step", "0"),
            ],
            400,
            "bad_data",
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted",
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "up"),
                ("start", "0"),
                ("end", "50"),
                ("step", "soon"),
            ],
            400,
            "bad_data",
            "invalid parameter \"step\": cannot parse \"soon\" to a valid duration",
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "up"),
                ("start", "0"),
                ("end", "1000000"),
                ("step", "1"),
            ],
            400,
            "bad_data",
            "exceeded maximum resolution of 11,000 points",
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "up[5m]"),
                ("start", "0"),
                ("end", "50"),
                ("step", "1"),
            ],
            400,
            "bad_data",
            "invalid expression type \"range vector\" for range query",
        ),
        (
            "/api/v1/query",
            vec![("query", "up"), ("dedup", "maybe")],
            400,
            "bad_data",
            "invalid parameter \"dedup\"",
        ),
        (
            "/api/v1/query",
            vec![("query", "up"), ("max_source_resolution", "sometimes")],
            400,
            "bad_data",
            "max_source_resolution",
        ),
        (
            "/api/v1/series",
            vec![],
            400,
            "bad_data",
            "no match[] parameter provided",
        ),
        (
            "/api/v1/series",
            vec![("match[]", "up{")],
            400,
            "bad_data",
            "invalid parameter \"match[]\"",
        ),
        (
            "/api/v1/labels",
            vec![("start", "x")],
            400,
            "bad_data",
            "invalid parameter \"start\"",
        ),
        (
            "/api/v1/query",
            vec![("query", "label_replace(up, \"x\", \"$1\", \"job\", \"(\")")],
            422,
            "execution",
            // Prometheus 3.5's text (promql/functions.go, funcLabelReplace).
            "invalid regular expression in label_replace(): (",
        ),
    ];
    for (path, params, code, kind, msg) in cases {
        let (c, v) = q.get(path, &params).await;
        assert_eq!(c, code, "{path} {params:?}: {v}");
        assert_eq!(v["status"], "error", "{v}");
        assert_eq!(v["errorType"], kind, "{path} {params:?}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains(msg),
            "{path} {params:?}: {v}"
        );
    }
    // Unknown parameters are ignored, as Prometheus does.
    let (c, v) = q
        .get(
            "/api/v1/query",
            &[("query", "1+1"), ("time", "10"), ("frobnicate", "yes")],
        )
        .await;
    assert_eq!(c, 200);
    assert_eq!(
        v["data"],
        serde_json::json!({"resultType": "scalar", "result": [10, "2"]})
    );
    // Unknown API paths are 404.
    let r = q.http.get(q.url("/api/v1/nope")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_prefix_ui_and_admin() {
    let q = ha_querier(0.0, &["--web.route-prefix=/thanos"]).await;
    let (code, v) = q
        .get(
            "/thanos/api/v1/query",
            &[("query", "vector(1)"), ("time", "1")],
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["result"][0]["value"], serde_json::json!([1, "1"]));
    let r = q
        .http
        .get(q.url("/api/v1/query?query=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    for page in ["/thanos/", "/thanos/graph", "/thanos/stores"] {
        let r = q.http.get(q.url(page)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{page}");
        let body = r.text().await.unwrap();
        assert!(
            body.contains("const PREFIX = \"/thanos\";") && body.contains("<canvas"),
            "{page}"
        );
    }
    let metrics = q
        .http
        .get(q.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "http_requests_total{code=\"200\",handler=\"query\",method=\"get\",tenant=\"default-tenant\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("aeon_querier_endpoints{state=\"healthy\"} 3"),
        "{metrics}"
    );
    assert_eq!(
        q.http
            .get(q.url("/-/ready"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_info_and_series_through_the_querier() {
    let mut q = ha_querier(0.0, &[]).await;
    let c = StoreClient::connect(&q.running.grpc_addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let info = c.info().await.unwrap();
    assert_eq!(info.component_type, "query");
    assert_eq!(info.label_sets.len(), 3);
    assert_eq!(info.store.unwrap().min_time, T0);
    // A querier stacked on this one: Series with replica labels stripped.
    let req = thanos::SeriesRequest {
        min_time: T0,
        max_time: T0 + SPAN,
        matchers: vec![thanos::LabelMatcher::new(
            thanos::label_matcher::Type::Eq,
            "__name__",
            "up",
        )],
        without_replica_labels: vec!["replica".into()],
        ..Default::default()
    };
    let frames: Vec<_> = c.series(req).await.unwrap().collect().await;
    let series: Vec<&thanos::Series> = frames
        .iter()
        .filter_map(|f| f.as_ref().unwrap().as_series())
        .collect();
    assert_eq!(series.len(), 2, "eu (both replicas merged) and us");
    // The eu series carries the chunks of both replicas.
    assert!(
        series
            .iter()
            .any(|s| s.chunks.len() >= 2 * (SPAN / STEP / 120) as usize)
    );
    // Graceful shutdown stops both servers.
    q.stop.cancel();
    let task = q.take_task();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
