//! Shared fixtures: HA replica data, store servers, a started querier.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aeon_model::{Labels, Sample};
use aeon_querier::{Args, Running};
use aeon_storeapi::pb::thanos;
use aeon_storeapi::testutil::MemStore;
use aeon_storeapi::{SeriesStream, ServerOptions, StoreApi, spawn_server};
use clap::Parser;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Start of the test data (2h-aligned, 2023-11-14T22:00:00Z).
pub const T0: i64 = 1_699_999_200_000;
/// Scrape interval.
pub const STEP: i64 = 15_000;
/// Length of the data.
pub const SPAN: i64 = 3_600_000;
/// Replica B scrapes this much later than A.
pub const B_OFFSET: i64 = 5_000;
/// Replica A is down for `[GAP_FROM, GAP_TO)`.
pub const GAP_FROM: i64 = T0 + 1_200_000;
pub const GAP_TO: i64 = T0 + 1_500_000;

/// The true counter: 1 per second since T0, plus 1000.
pub fn counter(t: i64) -> f64 {
    1000.0 + (t - T0) as f64 / 1000.0
}

/// The gauge `temperature`: a pure function of the scrape index.
pub fn gauge(t: i64) -> f64 {
    20.0 + ((t - T0) / STEP % 7) as f64
}

fn samples(offset: i64, f: impl Fn(i64) -> f64, gap: bool) -> Vec<Sample> {
    (0..SPAN / STEP)
        .map(|i| T0 + offset + i * STEP)
        .filter(|t| !gap || !(GAP_FROM..GAP_TO).contains(t))
        .map(|t| Sample::new(t, f(t)))
        .collect()
}

/// A store (aeon-storeapi's in-memory reference store, component
/// `sidecar`) with these external labels and float series.
pub fn store(external_labels: Labels, series: &[(Labels, Vec<Sample>)]) -> MemStore {
    let mut s = MemStore::new(external_labels).with_component("sidecar");
    for (l, samples) in series {
        s.add_samples(l.clone(), samples);
    }
    s
}

/// The series of one replica: `up`, `temperature`, `http_requests_total`
/// (counter). Replica "a" has a gap; replica "b" scrapes 5 s later and its
/// counter reads `skew` lower (a replica that missed a few increments).
pub fn replica_series(name: &str, skew: f64) -> Vec<(Labels, Vec<Sample>)> {
    let (offset, gap) = if name == "a" {
        (0, true)
    } else {
        (B_OFFSET, false)
    };
    let job = |n: &str| Labels::from_pairs(&[("__name__", n), ("job", "api"), ("instance", "i1")]);
    vec![
        (job("up"), samples(offset, |_| 1.0, gap)),
        (job("temperature"), samples(offset, gauge, gap)),
        (
            job("http_requests_total"),
            samples(offset, move |t| counter(t) - skew, gap),
        ),
    ]
}

/// One replica's store: [`replica_series`] with external labels
/// `{cluster="eu", replica=<name>}`.
pub fn replica(name: &str, skew: f64) -> MemStore {
    let ext = Labels::from_pairs(&[("cluster", "eu"), ("replica", name)]);
    store(ext, &replica_series(name, skew))
}

/// A store of another cluster without replicas.
pub fn other_cluster() -> MemStore {
    let ext = Labels::from_pairs(&[("cluster", "us")]);
    let l = Labels::from_pairs(&[("__name__", "up"), ("job", "api"), ("instance", "i9")]);
    store(ext, &[(l, samples(0, |_| 0.0, false))])
}

/// A store whose Series calls wait `delay` first (a slow store) or fail
/// with `fail` (a broken store); Info and label calls pass through.
#[derive(Debug)]
pub struct Faulty {
    pub inner: MemStore,
    pub delay: Option<Duration>,
    pub fail: Option<String>,
}

#[async_trait::async_trait]
impl StoreApi for Faulty {
    async fn info(&self) -> aeon_storeapi::Result<thanos::info::InfoResponse> {
        self.inner.info().await
    }
    async fn series(&self, req: thanos::SeriesRequest) -> aeon_storeapi::Result<SeriesStream> {
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
        if let Some(e) = &self.fail {
            return Err(aeon_storeapi::Error::storage("serving series", e.clone()));
        }
        self.inner.series(req).await
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

/// Serves a store over real gRPC; returns its address.
pub async fn serve(store: impl StoreApi, stop: &CancellationToken) -> SocketAddr {
    let stop = stop.clone();
    let (addr, _task) = spawn_server(
        Arc::new(store),
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions::default(),
        async move { stop.cancelled().await },
    )
    .await
    .unwrap();
    addr
}

/// A port nobody listens on.
pub fn dead_address() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    a.to_string()
}

/// A started querier and the token that stops it and the stores.
pub struct Querier {
    pub running: Running,
    pub stop: CancellationToken,
    pub http: reqwest::Client,
}

impl Drop for Querier {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Querier {
    /// Starts the querier with `flags` (plus loopback addresses).
    pub async fn start(flags: &[String], stop: CancellationToken) -> Self {
        let mut argv: Vec<String> = vec![
            "query".into(),
            "--http-address=127.0.0.1:0".into(),
            "--grpc-address=127.0.0.1:0".into(),
        ];
        argv.extend_from_slice(flags);
        let args = Args::try_parse_from(argv).unwrap();
        let running = aeon_querier::start(args, stop.clone()).await.unwrap();
        Self {
            running,
            stop,
            http: reqwest::Client::new(),
        }
    }

    /// Takes the server task (to await shutdown).
    pub fn take_task(&mut self) -> tokio::task::JoinHandle<aeon_querier::Result<()>> {
        std::mem::replace(&mut self.running.task, tokio::spawn(async { Ok(()) }))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.running.http_addr, path)
    }

    /// GET `path` with query pairs; status and parsed JSON.
    pub async fn get(&self, path: &str, q: &[(&str, &str)]) -> (u16, Value) {
        let url = reqwest::Url::parse_with_params(&self.url(path), q).unwrap();
        let r = self.http.get(url).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("non-JSON body {text:?}: {e}")),
        )
    }

    /// POST a form.
    pub async fn post_form(&self, path: &str, q: &[(&str, &str)]) -> (u16, Value) {
        let body: String = q
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let r = self
            .http
            .post(self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.text().await.unwrap()).unwrap(),
        )
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Seconds string of a ms timestamp, as the API takes it.
pub fn secs(t: i64) -> String {
    format!("{}", t as f64 / 1000.0)
}

/// `data.result` of a success response.
pub fn result(v: &Value) -> &Vec<Value> {
    assert_eq!(v["status"], "success", "{v}");
    v["data"]["result"].as_array().unwrap()
}

/// A value string as f64.
pub fn num(v: &Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}
