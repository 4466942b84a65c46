//! The sidecar's Metadata, Exemplars and Targets APIs against a real
//! Prometheus 3.5 scraping itself: advertised in Info, and answering what
//! Prometheus's HTTP API answers with the external labels added.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aeon_sidecar::{Args, start};
use aeon_storeapi::pb::thanos;
use aeon_storeapi::scrape::{ExemplarsFrame, MetadataFrame, TargetsFrame};
use aeon_storeapi::{ClientOptions, ExemplarsApi, MetadataApi, StoreApi, StoreClient, TargetsApi};
use clap::Parser;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::common::*;

fn labels(set: &Option<thanos::ZLabelSet>) -> BTreeMap<String, String> {
    set.iter()
        .flat_map(|s| &s.labels)
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

fn json_labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

fn with_ext(mut l: BTreeMap<String, String>) -> BTreeMap<String, String> {
    for (k, v) in EXT {
        l.insert((*k).into(), (*v).into());
    }
    l
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_exemplars_and_targets_come_from_prometheus() {
    let prom = start_prometheus(PromOptions {
        with_blocks: false,
        ..Default::default()
    })
    .await;
    let host = prom.url.trim_start_matches("http://").to_owned();
    let mut cfg = config_yaml(EXT);
    cfg.push_str(&format!(
        "scrape_configs:\n  - job_name: self\n    scrape_interval: 1s\n    static_configs:\n      - targets: [\"{host}\"]\n    relabel_configs:\n      - source_labels: [__address__]\n        regex: nothing\n        action: drop\n  - job_name: gone\n    static_configs:\n      - targets: [\"127.0.0.1:1\"]\n    relabel_configs:\n      - action: drop\n        source_labels: [__address__]\n"
    ));
    std::fs::write(&prom.config, cfg).unwrap();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/-/reload", prom.url))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let tsdb = tempfile::tempdir().unwrap();
    let args = Args::try_parse_from([
        "sidecar".to_string(),
        "--http-address=127.0.0.1:0".into(),
        "--grpc-address=127.0.0.1:0".into(),
        format!("--prometheus.url={}", prom.url),
        format!("--tsdb.path={}", tsdb.path().display()),
        "--prometheus.get_config_interval=200ms".into(),
    ])
    .unwrap();
    let stop = CancellationToken::new();
    let running = start(args, stop.clone()).await.unwrap();
    let c = StoreClient::connect(&running.grpc_addr.to_string(), ClientOptions::default())
        .await
        .unwrap();

    // Info advertises the three APIs, as Thanos's sidecar does.
    let deadline = Instant::now() + Duration::from_secs(30);
    let info = loop {
        match c.info().await {
            Ok(i) => break i,
            Err(e) => {
                assert!(Instant::now() < deadline, "info: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert!(info.metric_metadata.is_some() && info.targets.is_some());
    assert!(info.exemplars.is_some());

    // Targets: wait for the first scrape, then compare with Prometheus.
    let (sidecar, prom_json) = loop {
        let t = c.targets(thanos::TargetsRequest::default()).await.unwrap();
        let Some(TargetsFrame::Targets(td)) = t.into_iter().next().and_then(|r| r.result) else {
            panic!("no targets frame")
        };
        let v: Value = http
            .get(format!("{}/api/v1/targets", prom.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap();
        if td
            .active_targets
            .first()
            .is_some_and(|a| a.health() == thanos::TargetHealth::Up)
        {
            break (td, v);
        }
        assert!(Instant::now() < deadline, "self target never up: {td:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let want = &prom_json["data"]["activeTargets"][0];
    let got = &sidecar.active_targets[0];
    assert_eq!(labels(&got.labels), with_ext(json_labels(&want["labels"])));
    assert_eq!(
        labels(&got.discovered_labels),
        with_ext(json_labels(&want["discoveredLabels"]))
    );
    assert_eq!(got.scrape_pool, "self");
    assert_eq!(got.scrape_url, want["scrapeUrl"].as_str().unwrap());
    assert_eq!(got.global_url, want["globalUrl"].as_str().unwrap());
    assert_eq!(got.scrape_interval, "1s");
    assert_eq!(got.scrape_timeout, want["scrapeTimeout"].as_str().unwrap());
    assert!(got.last_scrape.is_some_and(|t| t.seconds > 1_600_000_000));
    assert_eq!(sidecar.dropped_targets.len(), 1);
    assert_eq!(sidecar.dropped_targets[0].scrape_pool, "gone");
    assert_eq!(
        labels(&sidecar.dropped_targets[0].discovered_labels)["__address__"],
        "127.0.0.1:1"
    );
    assert_eq!(sidecar.dropped_target_counts.get("gone"), Some(&1));
    // state=dropped asks Prometheus for dropped targets only.
    let t = c
        .targets(thanos::TargetsRequest {
            state: thanos::targets_request::State::Dropped as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let Some(TargetsFrame::Targets(td)) = &t[0].result else {
        panic!("{t:?}")
    };
    assert!(td.active_targets.is_empty() && td.dropped_targets.len() == 1);

    // Metadata: as Prometheus's /api/v1/metadata.
    let m = c
        .metric_metadata(thanos::MetricMetadataRequest {
            metric: "prometheus_build_info".into(),
            limit: -1,
            ..Default::default()
        })
        .await
        .unwrap();
    let Some(MetadataFrame::Metadata(md)) = &m[0].result else {
        panic!("{m:?}")
    };
    let v: Value = http
        .get(format!(
            "{}/api/v1/metadata?metric=prometheus_build_info",
            prom.url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    let want = &v["data"]["prometheus_build_info"][0];
    let got = &md.metadata["prometheus_build_info"].metas[0];
    assert_eq!(got.r#type, want["type"].as_str().unwrap());
    assert_eq!(got.help, want["help"].as_str().unwrap());
    let m = c
        .metric_metadata(thanos::MetricMetadataRequest {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    let Some(MetadataFrame::Metadata(md)) = &m[0].result else {
        panic!("{m:?}")
    };
    assert_eq!(md.metadata.len(), 2);

    // Exemplars: Prometheus's own metrics carry none; a query without
    // selectors (Prometheus: 204) gives nothing; a bad one is InvalidArgument.
    for query in ["up", "1 + 1"] {
        let e = c
            .exemplars(thanos::ExemplarsRequest {
                query: query.into(),
                start: 0,
                end: chrono_now_ms(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(
            e.iter().all(
                |r| !matches!(&r.result, Some(ExemplarsFrame::Data(d)) if !d.exemplars.is_empty())
            ),
            "{query}: {e:?}"
        );
    }
    let err = c
        .exemplars(thanos::ExemplarsRequest {
            query: "up{".into(),
            start: 0,
            end: 1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        tonic::Status::from(err).code(),
        tonic::Code::InvalidArgument
    );

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(20), running.wait())
        .await
        .unwrap()
        .unwrap();
}
