//! What Grafana's Prometheus data source relies on: metadata, exemplars and
//! targets through the querier (fanned out over gRPC stores that serve the
//! Thanos Metadata, Exemplars and Targets APIs, deduplicated by replica
//! label), compressed answers, form bodies winning over the URL, buildinfo,
//! the 405s and 200s its fallbacks test for, and a client that goes away
//! cancelling its query.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aeon_model::Labels;
use aeon_storeapi::pb::thanos;
use aeon_storeapi::testutil::MemStore;
use aeon_storeapi::{
    ExemplarsApi, MetadataApi, SeriesStream, ServerOptions, StoreApi, StoreServer, TargetsApi,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

fn set(pairs: &[(&str, &str)]) -> Option<thanos::ZLabelSet> {
    Some(thanos::ZLabelSet {
        labels: pairs
            .iter()
            .map(|(n, v)| thanos::Label::new(*n, *v))
            .collect(),
    })
}

/// What one replica of cluster `eu` knows from scraping (external labels
/// included, as a sidecar sends them), or a broken store.
#[derive(Debug)]
struct Scraped {
    replica: &'static str,
    broken: bool,
}

impl Scraped {
    fn check(&self) -> aeon_storeapi::Result<()> {
        if self.broken {
            return Err(aeon_storeapi::Error::storage("asking prometheus", "down"));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl MetadataApi for Scraped {
    async fn metric_metadata(
        &self,
        req: thanos::MetricMetadataRequest,
    ) -> aeon_storeapi::Result<Vec<thanos::MetricMetadataResponse>> {
        self.check()?;
        let meta = |t: &str, h: &str| thanos::Meta {
            r#type: t.into(),
            help: h.into(),
            unit: String::new(),
        };
        let mut all = vec![
            ("up", vec![meta("gauge", "Target up.")]),
            ("http_requests_total", vec![meta("counter", "Requests.")]),
            // The replicas disagree: both texts are kept.
            (
                "temperature",
                vec![meta("gauge", &format!("Temperature ({}).", self.replica))],
            ),
        ];
        if !req.metric.is_empty() {
            all.retain(|(n, _)| *n == req.metric);
        }
        if req.limit >= 0 {
            all.truncate(req.limit as usize);
        }
        let metadata = all
            .into_iter()
            .map(|(n, metas)| (n.to_string(), thanos::MetricMetadataEntry { metas }))
            .collect();
        Ok(vec![thanos::MetricMetadataResponse::metadata(
            thanos::MetricMetadata { metadata },
        )])
    }
}

#[async_trait::async_trait]
impl ExemplarsApi for Scraped {
    async fn exemplars(
        &self,
        req: thanos::ExemplarsRequest,
    ) -> aeon_storeapi::Result<Vec<thanos::ExemplarsResponse>> {
        self.check()?;
        // The querier asks without the matchers on external labels.
        assert!(!req.query.contains("cluster"), "{}", req.query);
        let ex = |ts: i64, trace: &str| thanos::Exemplar {
            labels: set(&[("trace_id", trace)]),
            value: 0.25,
            ts,
        };
        let mut exemplars = vec![ex(T0 + 1_000, "shared")];
        exemplars.push(ex(
            T0 + if self.replica == "a" { 2_000 } else { 3_000 },
            self.replica,
        ));
        exemplars.retain(|e| e.ts >= req.start && e.ts <= req.end);
        Ok(vec![thanos::ExemplarsResponse::data(
            thanos::ExemplarData {
                series_labels: set(&[
                    ("__name__", "http_request_duration_seconds_bucket"),
                    ("cluster", "eu"),
                    ("le", "0.5"),
                    ("replica", self.replica),
                ]),
                exemplars,
            },
        )])
    }
}

#[async_trait::async_trait]
impl TargetsApi for Scraped {
    async fn targets(
        &self,
        req: thanos::TargetsRequest,
    ) -> aeon_storeapi::Result<Vec<thanos::TargetsResponse>> {
        self.check()?;
        let state = req.state();
        let active = |pool: &str, host: &str| thanos::ActiveTarget {
            discovered_labels: set(&[
                ("__address__", host),
                ("cluster", "eu"),
                ("replica", self.replica),
            ]),
            labels: set(&[
                ("cluster", "eu"),
                ("instance", host),
                ("job", pool),
                ("replica", self.replica),
            ]),
            scrape_pool: pool.into(),
            scrape_url: format!("http://{host}/metrics"),
            global_url: format!("http://{host}/metrics"),
            last_scrape: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 500_000_000,
            }),
            last_scrape_duration: 0.002,
            health: thanos::TargetHealth::Up as i32,
            scrape_interval: "15s".into(),
            scrape_timeout: "10s".into(),
            ..Default::default()
        };
        let mut t = thanos::TargetDiscovery::default();
        if state != thanos::targets_request::State::Dropped {
            t.active_targets = vec![active("node", "n1:9100"), active("api", "a1:8080")];
        }
        if state != thanos::targets_request::State::Active {
            t.dropped_targets = vec![thanos::DroppedTarget {
                discovered_labels: set(&[("__address__", "gone:1"), ("replica", self.replica)]),
                scrape_pool: "api".into(),
            }];
            t.dropped_target_counts = [("api".to_string(), 1)].into_iter().collect();
        }
        Ok(vec![thanos::TargetsResponse::targets(t)])
    }
}

/// Serves a replica's series store together with its scrape APIs.
async fn serve_scraped(replica: &'static str, broken: bool, stop: &CancellationToken) -> String {
    let store: Arc<dyn StoreApi> = Arc::new(crate::helpers::replica(replica, 0.0));
    let scraped = Arc::new(Scraped { replica, broken });
    let stop = stop.clone();
    let (addr, _task) = StoreServer::new(store)
        .with_metadata(scraped.clone())
        .with_exemplars(scraped.clone())
        .with_targets(scraped)
        .spawn(
            "127.0.0.1:0".parse().unwrap(),
            ServerOptions::default(),
            async move { stop.cancelled().await },
        )
        .await
        .unwrap();
    addr.to_string()
}

/// A querier over replicas a and b (and, if `broken`, a third store whose
/// scrape APIs fail), plus a store without the scrape APIs.
async fn scraped_querier(broken: bool) -> Querier {
    let stop = CancellationToken::new();
    let mut flags = vec![
        format!("--endpoint={}", serve_scraped("a", false, &stop).await),
        format!("--endpoint={}", serve_scraped("b", false, &stop).await),
        format!("--endpoint={}", serve(other_cluster(), &stop).await),
        "--query.replica-label=replica".to_string(),
    ];
    if broken {
        flags.push(format!(
            "--endpoint={}",
            serve_scraped("c", true, &stop).await
        ));
    }
    Querier::start(&flags, stop).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_through_the_querier() {
    let q = scraped_querier(false).await;
    let (code, v) = q.get("/api/v1/metadata", &[]).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["data"],
        json!({
            "http_requests_total": [{"type": "counter", "help": "Requests.", "unit": ""}],
            "temperature": [
                {"type": "gauge", "help": "Temperature (a).", "unit": ""},
                {"type": "gauge", "help": "Temperature (b).", "unit": ""},
            ],
            "up": [{"type": "gauge", "help": "Target up.", "unit": ""}],
        })
    );
    let (_, v) = q.get("/api/v1/metadata", &[("metric", "up")]).await;
    assert_eq!(v["data"].as_object().unwrap().len(), 1, "{v}");
    let (_, v) = q.get("/api/v1/metadata", &[("limit", "2")]).await;
    assert_eq!(v["data"].as_object().unwrap().len(), 2, "{v}");
    let (_, v) = q.get("/api/v1/metadata", &[("limit", "0")]).await;
    assert_eq!(v["data"], json!({}));
    let (_, v) = q
        .get("/api/v1/metadata", &[("limit_per_metric", "1")])
        .await;
    assert_eq!(v["data"]["temperature"].as_array().unwrap().len(), 1, "{v}");
    for (param, text) in [
        ("limit", "limit must be a number"),
        ("limit_per_metric", "limit_per_metric must be a number"),
    ] {
        let (code, v) = q.get("/api/v1/metadata", &[(param, "x")]).await;
        assert_eq!(
            (code, &v["errorType"], &v["error"]),
            (400, &json!("bad_data"), &json!(text))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exemplars_through_the_querier() {
    let q = scraped_querier(false).await;
    let (code, v) = q
        .get(
            "/api/v1/query_exemplars",
            &[
                (
                    "query",
                    r#"histogram_quantile(0.9, rate(http_request_duration_seconds_bucket{cluster="eu"}[5m]))"#,
                ),
                ("start", &secs(T0)),
                ("end", &secs(T0 + 10_000)),
            ],
        )
        .await;
    assert_eq!(code, 200, "{v}");
    // Timestamps as the API writes them: integral seconds without decimals.
    let ts = |t: i64| {
        if t % 1000 == 0 {
            json!(t / 1000)
        } else {
            json!(t as f64 / 1000.0)
        }
    };
    let ex = |t: i64, trace: &str| json!({"labels": {"trace_id": trace}, "value": "0.25", "timestamp": ts(t)});
    assert_eq!(
        v["data"],
        json!([{
            "seriesLabels": {"__name__": "http_request_duration_seconds_bucket", "cluster": "eu", "le": "0.5"},
            "exemplars": [ex(T0 + 1_000, "shared"), ex(T0 + 2_000, "a"), ex(T0 + 3_000, "b")],
        }])
    );
    // A POST form works too; the time range is passed on.
    let (code, v) = q
        .post_form(
            "/api/v1/query_exemplars",
            &[
                ("query", "http_request_duration_seconds_bucket"),
                ("start", &secs(T0 + 2_500)),
                ("end", &secs(T0 + 10_000)),
            ],
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"][0]["exemplars"], json!([ex(T0 + 3_000, "b")]));
    // Prometheus's input checks and errors.
    let bad = [
        (
            vec![("query", "up"), ("start", "x")],
            "invalid parameter \"start\": invalid time value for 'start': cannot parse \"x\" to a valid timestamp",
        ),
        (
            vec![("query", "up"), ("end", "y")],
            "invalid parameter \"end\": invalid time value for 'end': cannot parse \"y\" to a valid timestamp",
        ),
        (
            vec![("query", "up"), ("start", "20"), ("end", "10")],
            "end timestamp must not be before start timestamp",
        ),
    ];
    for (params, text) in bad {
        let (code, v) = q.get("/api/v1/query_exemplars", &params).await;
        assert_eq!(
            (code, &v["errorType"], &v["error"]),
            (400, &json!("bad_data"), &json!(text))
        );
    }
    let (code, v) = q.get("/api/v1/query_exemplars", &[("query", "up{")]).await;
    assert_eq!((code, &v["errorType"]), (400, &json!("bad_data")), "{v}");
    // No selector: Prometheus answers 204 without a body.
    let r = q
        .http
        .get(q.url("/api/v1/query_exemplars?query=1%2B1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(r.text().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_through_the_querier() {
    let q = scraped_querier(false).await;
    let (code, v) = q.get("/api/v1/targets", &[]).await;
    assert_eq!(code, 200, "{v}");
    let active = |pool: &str, host: &str| {
        json!({
            "discoveredLabels": {"__address__": host, "cluster": "eu"},
            "labels": {"cluster": "eu", "instance": host, "job": pool},
            "scrapePool": pool,
            "scrapeUrl": format!("http://{host}/metrics"),
            "globalUrl": format!("http://{host}/metrics"),
            "lastError": "",
            "lastScrape": "2023-11-14T22:13:20.5Z",
            "lastScrapeDuration": 0.002,
            "health": "up",
            "scrapeInterval": "15s",
            "scrapeTimeout": "10s",
        })
    };
    assert_eq!(
        v["data"],
        json!({
            "activeTargets": [active("api", "a1:8080"), active("node", "n1:9100")],
            "droppedTargets": [{"discoveredLabels": {"__address__": "gone:1"}, "scrapePool": "api"}],
            "droppedTargetCounts": {"api": 1},
        })
    );
    let (_, v) = q
        .get(
            "/api/v1/targets",
            &[("state", "Active"), ("scrapePool", "node")],
        )
        .await;
    assert_eq!(
        v["data"],
        json!({"activeTargets": [active("node", "n1:9100")], "droppedTargets": [], "droppedTargetCounts": null})
    );
    let (_, v) = q.get("/api/v1/targets", &[("state", "dropped")]).await;
    assert_eq!(v["data"]["activeTargets"], json!([]));
    assert_eq!(v["data"]["droppedTargetCounts"], json!({"api": 1}));
    let (code, v) = q.get("/api/v1/targets", &[("state", "sleeping")]).await;
    assert_eq!(code, 200);
    assert_eq!(
        v["data"],
        json!({"activeTargets": [], "droppedTargets": [], "droppedTargetCounts": null})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_is_a_warning_or_an_error() {
    let q = scraped_querier(true).await;
    for path in ["/api/v1/metadata", "/api/v1/targets"] {
        let (code, v) = q.get(path, &[]).await;
        assert_eq!(code, 200, "{v}");
        let w = v["warnings"][0].as_str().unwrap();
        assert!(w.contains("down"), "{path}: {w}");
        let (code, v) = q.get(path, &[("partial_response", "false")]).await;
        assert_eq!(code, 500, "{path}: {v}");
        assert!(v["error"].as_str().unwrap().contains("down"), "{v}");
    }
    let (code, v) = q
        .get(
            "/api/v1/query_exemplars",
            &[("query", "http_request_duration_seconds_bucket")],
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert!(v["warnings"][0].as_str().unwrap().contains("down"), "{v}");
}

/// Grafana tells Prometheus versions apart by buildinfo, and falls back on
/// 405 (not 404) for endpoints that do not take POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_fallbacks_get_what_they_expect() {
    let stop = CancellationToken::new();
    let a = serve(replica("a", 0.0), &stop).await;
    let q = Querier::start(&[format!("--endpoint={a}")], stop).await;
    for path in [
        "/api/v1/label/job/values",
        "/api/v1/status/buildinfo",
        "/api/v1/rules",
        "/api/v1/alerts",
        "/api/v1/metadata",
        "/api/v1/targets",
    ] {
        let r = q.http.post(q.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 405, "POST {path}");
    }
    for path in ["/api/v1/rules", "/api/v1/alerts"] {
        let (code, v) = q.get(path, &[]).await;
        assert_eq!((code, &v["status"]), (200, &json!("success")), "{path}");
    }
    let (code, v) = q.get("/api/v1/status/buildinfo", &[]).await;
    assert_eq!(code, 200);
    let data = v["data"].as_object().unwrap();
    let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "branch",
            "buildDate",
            "buildUser",
            "goVersion",
            "revision",
            "version"
        ]
    );
    assert_eq!(data["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        data["goVersion"].as_str().unwrap().starts_with("rustc "),
        "{v}"
    );
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn inflate(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_compressed_as_prometheus_negotiates() {
    let stop = CancellationToken::new();
    let a = serve(replica("a", 0.0), &stop).await;
    let q = Querier::start(&[format!("--endpoint={a}")], stop).await;
    let t = secs(T0 + 600_000);
    let paths = [
        format!("/api/v1/query?query=up&time={t}"),
        format!("/api/v1/query_range?query=up&start={t}&end={t}&step=15"),
        "/api/v1/labels".to_string(),
        "/api/v1/label/job/values".to_string(),
        "/api/v1/series?match[]=up".to_string(),
        "/api/v1/metadata".to_string(),
        "/api/v1/targets".to_string(),
        "/api/v1/status/buildinfo".to_string(),
        "/api/v1/query?query=up[".to_string(),
    ];
    for path in &paths {
        let get = |enc: Option<&str>| {
            let mut r = q.http.get(q.url(path));
            if let Some(e) = enc {
                r = r.header("Accept-Encoding", e);
            }
            async move {
                let r = r.send().await.unwrap();
                let ce = r
                    .headers()
                    .get("content-encoding")
                    .map(|v| v.to_str().unwrap().to_owned());
                (r.status().as_u16(), ce, r.bytes().await.unwrap().to_vec())
            }
        };
        let (code, ce, plain) = get(None).await;
        assert_eq!(ce, None, "{path}");
        let (gcode, gce, gz) = get(Some("gzip")).await;
        assert_eq!((gcode, gce.as_deref()), (code, Some("gzip")), "{path}");
        assert_eq!(gunzip(&gz), plain, "{path}");
        let (_, dce, z) = get(Some("br, deflate, gzip")).await;
        assert_eq!(dce.as_deref(), Some("deflate"), "{path}");
        assert_eq!(inflate(&z), plain, "{path}");
        // Exact tokens only, as Prometheus compares them.
        let (_, qce, _) = get(Some("gzip;q=1.0")).await;
        assert_eq!(qce, None, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_body_values_win_over_the_url() {
    let stop = CancellationToken::new();
    let a = serve(replica("a", 0.0), &stop).await;
    let q = Querier::start(&[format!("--endpoint={a}")], stop).await;
    let t = secs(T0 + 600_000);
    let r = q
        .http
        .post(q.url(&format!("/api/v1/query?query=up&time={t}")))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("query=temperature&time={t}"))
        .send()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(result(&v)[0]["metric"]["__name__"], "temperature", "{v}");
    // `match[]` of both count, the body's first.
    let r = q
        .http
        .post(q.url("/api/v1/series?match[]=up"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("match%5B%5D=temperature")
        .send()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2, "{v}");
}

/// A store whose Series calls never answer, and that records when the
/// querier gives up on one (the gRPC call is dropped).
#[derive(Debug)]
struct Hanging {
    inner: MemStore,
    dropped: Arc<AtomicBool>,
}

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl StoreApi for Hanging {
    async fn info(&self) -> aeon_storeapi::Result<thanos::info::InfoResponse> {
        self.inner.info().await
    }
    async fn series(&self, _req: thanos::SeriesRequest) -> aeon_storeapi::Result<SeriesStream> {
        let _guard = SetOnDrop(self.dropped.clone());
        std::future::pending::<()>().await;
        unreachable!("pending never completes")
    }
    async fn label_names(
        &self,
        req: thanos::LabelNamesRequest,
    ) -> aeon_storeapi::Result<thanos::LabelNamesResponse> {
        self.inner.label_names(req).await
    }
    async fn label_values(
        &self,
        req: thanos::LabelValuesRequest,
    ) -> aeon_storeapi::Result<thanos::LabelValuesResponse> {
        self.inner.label_values(req).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_cancels_its_query() {
    let stop = CancellationToken::new();
    let dropped = Arc::new(AtomicBool::new(false));
    let store = Hanging {
        inner: crate::helpers::store(
            Labels::from_pairs(&[("cluster", "eu")]),
            &replica_series("a", 0.0),
        ),
        dropped: dropped.clone(),
    };
    let addr = serve(store, &stop).await;
    let q = Querier::start(&[format!("--endpoint={addr}")], stop).await;
    let http_addr = q.running.http_addr;
    let t = secs(T0 + 600_000);
    // Send a query, wait until the store is asked, then hang up.
    let client = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(http_addr).unwrap();
        write!(
            s,
            "GET /api/v1/query?query=up&time={t} HTTP/1.1\r\nHost: q\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        drop(s);
    });
    client.join().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !dropped.load(Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "the store's Series call was never cancelled after the client left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
