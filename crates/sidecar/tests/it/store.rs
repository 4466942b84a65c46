//! The Store API through the sidecar equals what Prometheus' own HTTP API
//! returns for the same matchers and time range (real Prometheus 3.5).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aeon_model::Labels;
use aeon_sidecar::prometheus::format_ts;
use aeon_sidecar::{Limits, Metrics, PromClient, PromState, PrometheusStore};
use aeon_storeapi::merge::{check_sorted, collect_series};
use aeon_storeapi::pb::thanos::{self, label_matcher::Type};
use aeon_storeapi::{ClientOptions, ServerOptions, StoreApi, StoreClient, convert};

use crate::common::*;

type SeriesMap = BTreeMap<Labels, Vec<(i64, f64)>>;

async fn store_for(prom: &Prom, limits: Limits) -> PrometheusStore {
    let client = PromClient::new(&prom.url, Duration::from_secs(30)).unwrap();
    let facts = aeon_sidecar::state::fetch_facts(&client).await.unwrap();
    PrometheusStore::new(
        client,
        PromState::with(facts),
        aeon_common::flags::TimeOrDuration::MIN,
        limits,
        Metrics::default(),
    )
}

fn m(kind: Type, n: &str, v: &str) -> thanos::LabelMatcher {
    thanos::LabelMatcher::new(kind, n, v)
}

fn req(matchers: Vec<thanos::LabelMatcher>, min: i64, max: i64) -> thanos::SeriesRequest {
    thanos::SeriesRequest {
        min_time: min,
        max_time: max,
        matchers,
        ..Default::default()
    }
}

fn ext_labels() -> Labels {
    Labels::from_pairs(EXT)
}

/// Raw samples in [start, end] per series from Prometheus' query API (a
/// range selector evaluated at `end`), external labels set as the sidecar
/// must set them.
async fn prom_samples(url: &str, selector: &str, start: i64, end: i64) -> SeriesMap {
    let q = format!("{selector}[{}ms]", end - start + 1);
    let data = prom_api(
        url,
        "/api/v1/query",
        &[("query", q), ("time", format_ts(end))],
    )
    .await;
    let mut out = SeriesMap::new();
    for r in data["result"].as_array().unwrap() {
        let pairs: Vec<(String, String)> = r["metric"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let labels = Labels::from_pairs(&pairs).merged_with(&ext_labels());
        let samples = r["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    (p[0].as_f64().unwrap() * 1000.0).round() as i64,
                    p[1].as_str().unwrap().parse::<f64>().unwrap(),
                )
            })
            .collect();
        out.insert(labels, samples);
    }
    out
}

/// Decodes our series' XOR chunks, keeping samples in [start, end].
fn decode(series: &[thanos::Series], start: i64, end: i64) -> SeriesMap {
    let mut out = SeriesMap::new();
    for s in series {
        let mut samples = Vec::new();
        for c in &s.chunks {
            let raw = c.raw.as_ref().unwrap();
            assert_eq!(raw.r#type, thanos::chunk::Encoding::Xor as i32);
            assert_eq!(raw.hash, convert::chunk_hash(&raw.data));
            let chunk = aeon_tsdb_block::chunkenc::XorChunk::new(&raw.data).unwrap();
            let decoded = chunk.samples().unwrap();
            assert_eq!(decoded.first().unwrap().t, c.min_time);
            assert_eq!(decoded.last().unwrap().t, c.max_time);
            samples.extend(
                decoded
                    .into_iter()
                    .filter(|x| x.t >= start && x.t <= end)
                    .map(|x| (x.t, x.v)),
            );
        }
        samples.sort_by_key(|x| x.0);
        samples.dedup_by_key(|x| x.0);
        if !samples.is_empty() {
            out.insert(convert::labels_from_pb(&s.labels), samples);
        }
    }
    out
}

async fn series_of(store: &dyn StoreApi, r: thanos::SeriesRequest) -> Vec<thanos::Series> {
    let (series, warnings) = collect_series(store.series(r).await.unwrap())
        .await
        .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    check_sorted(&series).unwrap();
    series
}

#[tokio::test]
async fn series_equal_prometheus_query_api_direct_and_over_grpc() {
    let prom = start_prometheus(PromOptions::default()).await;
    let store = Arc::new(store_for(&prom, Limits::default()).await);
    let token = tokio_util::sync::CancellationToken::new();
    let (addr, _srv) = aeon_storeapi::spawn_server(
        store.clone(),
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions::default(),
        token.clone().cancelled_owned(),
    )
    .await
    .unwrap();
    let client = StoreClient::connect(&addr.to_string(), ClientOptions::default())
        .await
        .unwrap();

    let s = prom.start_ms;
    let end = s + 5 * 3600 * 1000;
    let cases: Vec<(Vec<thanos::LabelMatcher>, &str, i64, i64)> = vec![
        (
            vec![
                m(Type::Eq, "__name__", "http_requests_total"),
                m(Type::Eq, "job", "api"),
            ],
            r#"http_requests_total{job="api"}"#,
            s,
            end,
        ),
        (
            vec![m(Type::Re, "__name__", "temperature|conflict")],
            r#"{__name__=~"temperature|conflict"}"#,
            s + 3_600_000 + 1234,
            s + 3 * 3_600_000,
        ),
        (
            vec![
                m(Type::Re, "job", "a.*"),
                m(Type::Neq, "code", "500"),
                m(Type::Eq, "cluster", "eu1"),
            ],
            r#"{job=~"a.*",code!="500"}"#,
            s + 7_000_000,
            s + 9_000_000,
        ),
        (
            vec![
                m(Type::Eq, "__name__", "http_requests_total"),
                m(Type::Re, "instance", "host-[12]"),
                m(Type::Nre, "replica", "9"),
            ],
            r#"http_requests_total{instance=~"host-[12]"}"#,
            s + 60_000,
            s + 120_000,
        ),
    ];
    for (matchers, selector, min, max) in cases {
        let want = prom_samples(&prom.url, selector, min, max).await;
        assert!(!want.is_empty(), "{selector}: prometheus returned nothing");
        let direct = series_of(store.as_ref(), req(matchers.clone(), min, max)).await;
        let got = decode(&direct, min, max);
        assert_eq!(got, want, "{selector} [{min}, {max}] direct");
        let wire = series_of(&client, req(matchers, min, max)).await;
        assert_eq!(wire, direct, "{selector}: over gRPC");
    }
    // The colliding series label lost to the external label.
    let got = series_of(
        store.as_ref(),
        req(vec![m(Type::Eq, "__name__", "conflict")], s, end),
    )
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        convert::labels_from_pb(&got[0].labels).get("cluster"),
        Some("eu1")
    );
    // Every series spans several chunks and several blocks.
    let temp = series_of(
        store.as_ref(),
        req(vec![m(Type::Eq, "room", "attic")], s, end),
    )
    .await;
    assert!(temp[0].chunks.len() >= 5, "{}", temp[0].chunks.len());
    token.cancel();
}

#[tokio::test]
async fn labels_and_info_equal_prometheus() {
    let prom = start_prometheus(PromOptions::default()).await;
    let store = store_for(&prom, Limits::default()).await;
    let s = prom.start_ms;
    let end = s + 5 * 3600 * 1000;

    let mut want: Vec<String> =
        serde_json::from_value(prom_api(&prom.url, "/api/v1/labels", &[]).await).unwrap();
    want.extend(["cluster".to_string(), "replica".to_string()]);
    want.sort();
    want.dedup();
    let got = store
        .label_names(thanos::LabelNamesRequest {
            start: s,
            end,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(got.names, want);

    let sel = r#"{room="attic"}"#;
    let mut want: Vec<String> = serde_json::from_value(
        prom_api(&prom.url, "/api/v1/labels", &[("match[]", sel.into())]).await,
    )
    .unwrap();
    want.extend(["cluster".to_string(), "replica".to_string()]);
    want.sort();
    let got = store
        .label_names(thanos::LabelNamesRequest {
            start: s,
            end,
            matchers: vec![m(Type::Eq, "room", "attic"), m(Type::Eq, "cluster", "eu1")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(got.names, want);
    let none = store
        .label_names(thanos::LabelNamesRequest {
            start: s,
            end,
            matchers: vec![m(Type::Eq, "cluster", "us")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.names.is_empty());
    let no_replica = store
        .label_names(thanos::LabelNamesRequest {
            start: s,
            end,
            without_replica_labels: vec!["replica".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        !no_replica.names.contains(&"replica".to_string())
            && no_replica.names.contains(&"cluster".to_string())
    );

    for (label, matchers, sel) in [
        ("job", vec![], None),
        (
            "instance",
            vec![m(Type::Eq, "code", "500")],
            Some(r#"{code="500"}"#),
        ),
        (
            "__name__",
            vec![m(Type::Re, "job", "api")],
            Some(r#"{job=~"api"}"#),
        ),
    ] {
        let q: Vec<(&str, String)> = sel
            .map(|s| vec![("match[]", s.to_string())])
            .unwrap_or_default();
        let want: Vec<String> = serde_json::from_value(
            prom_api(&prom.url, &format!("/api/v1/label/{label}/values"), &q).await,
        )
        .unwrap();
        assert!(!want.is_empty());
        let got = store
            .label_values(thanos::LabelValuesRequest {
                label: label.into(),
                start: s,
                end,
                matchers,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(got.values, want, "values of {label}");
    }
    let got = store
        .label_values(thanos::LabelValuesRequest {
            label: "cluster".into(),
            start: s,
            end,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(got.values, vec!["eu1"]);

    let info = store.info().await.unwrap();
    assert_eq!(info.component_type, "sidecar");
    assert_eq!(
        convert::labels_from_pb(&info.label_sets[0].labels),
        ext_labels()
    );
    let st = info.store.unwrap();
    assert_eq!(st.max_time, i64::MAX);
    assert!(st.supports_sharding && st.supports_without_replica_labels);
    // Lowest timestamp = first sample of the oldest block (Prometheus reports seconds).
    assert_eq!(st.min_time, s / 1000 * 1000);
}

#[tokio::test]
async fn request_semantics_external_labels_limits_and_errors() {
    let prom = start_prometheus(PromOptions::default()).await;
    let store = store_for(&prom, Limits::default()).await;
    let s = prom.start_ms;
    let end = s + 5 * 3600 * 1000;

    // Only external-label matchers: InvalidArgument, like Thanos.
    let e = store
        .series(req(vec![m(Type::Eq, "cluster", "eu1")], s, end))
        .await
        .err()
        .unwrap();
    assert_eq!(tonic::Status::from(e).code(), tonic::Code::InvalidArgument);
    // External-label matcher that does not match: empty.
    let got = series_of(
        &store,
        req(
            vec![m(Type::Eq, "cluster", "us"), m(Type::Eq, "job", "api")],
            s,
            end,
        ),
    )
    .await;
    assert!(got.is_empty());
    // Bad regex: InvalidArgument.
    let e = store
        .series(req(vec![m(Type::Re, "job", "(")], s, end))
        .await
        .err()
        .unwrap();
    assert_eq!(tonic::Status::from(e).code(), tonic::Code::InvalidArgument);

    // without_replica_labels drops the replica label and stays sorted.
    let mut r = req(vec![m(Type::Eq, "__name__", "http_requests_total")], s, end);
    r.without_replica_labels = vec!["replica".into(), "job".into()];
    let got = series_of(&store, r).await;
    assert_eq!(got.len(), 12);
    for x in &got {
        let l = convert::labels_from_pb(&x.labels);
        assert_eq!(l.get("replica"), None);
        assert!(l.get("job").is_some(), "only external labels are removed");
        assert_eq!(l.get("cluster"), Some("eu1"));
    }

    // skip_chunks through /api/v1/series: same label sets, no chunks.
    let mut r = req(
        vec![m(Type::Re, "__name__", "http_requests_total|temperature")],
        s,
        end,
    );
    let full = series_of(&store, r.clone()).await;
    r.skip_chunks = true;
    let skipped = series_of(&store, r).await;
    assert_eq!(skipped.len(), full.len());
    for (a, b) in skipped.iter().zip(&full) {
        assert_eq!(a.labels, b.labels);
        assert!(a.chunks.is_empty());
    }

    // limit field
    let mut r = req(vec![m(Type::Eq, "__name__", "http_requests_total")], s, end);
    r.limit = 3;
    assert_eq!(series_of(&store, r).await.len(), 3);

    // Sharding: the shards partition the series.
    let mut total = 0;
    for i in 0..3 {
        let mut r = req(vec![m(Type::Eq, "__name__", "http_requests_total")], s, end);
        r.shard_info = Some(thanos::ShardInfo {
            shard_index: i,
            total_shards: 3,
            by: true,
            labels: vec!["instance".into(), "code".into()],
        });
        total += series_of(&store, r).await.len();
    }
    assert_eq!(total, 12);

    // Limits: ResourceExhausted naming the flag.
    let limited = store_for(
        &prom,
        Limits {
            series: 5,
            samples: 0,
        },
    )
    .await;
    let e = limited
        .series(req(
            vec![m(Type::Eq, "__name__", "http_requests_total")],
            s,
            end,
        ))
        .await
        .err()
        .unwrap();
    let st = tonic::Status::from(e);
    assert_eq!(st.code(), tonic::Code::ResourceExhausted);
    assert!(st.message().contains("request-series"), "{}", st.message());
    assert_eq!(
        series_of(&limited, req(vec![m(Type::Eq, "room", "attic")], s, end))
            .await
            .len(),
        1
    );
    let limited = store_for(
        &prom,
        Limits {
            series: 0,
            samples: 100,
        },
    )
    .await;
    let e = limited
        .series(req(vec![m(Type::Eq, "room", "attic")], s, end))
        .await
        .err()
        .unwrap();
    let st = tonic::Status::from(e);
    assert_eq!(st.code(), tonic::Code::ResourceExhausted);
    assert!(st.message().contains("request-samples"), "{}", st.message());
}

/// An empty Prometheus reports the largest int64 as its lowest timestamp.
/// Advertising that would hide the first samples from every querier until
/// the next poll; the sidecar advertises the `--min-time` flag instead.
#[tokio::test]
async fn empty_prometheus_does_not_advertise_max_int_as_min_time() {
    let prom = start_prometheus(PromOptions {
        with_blocks: false,
        ..Default::default()
    })
    .await;
    let client = PromClient::new(&prom.url, Duration::from_secs(30)).unwrap();
    assert_eq!(client.lowest_timestamp().await.unwrap(), i64::MAX);
    let store = store_for(&prom, Limits::default()).await;
    let info = store.info().await.unwrap().store.unwrap();
    let flag = aeon_common::flags::TimeOrDuration::MIN.resolve_now();
    assert_eq!(info.min_time, flag, "{info:?}");
    assert_eq!(info.max_time, i64::MAX);

    // With blocks, the lowest timestamp is the data's.
    let prom = start_prometheus(PromOptions::default()).await;
    let store = store_for(&prom, Limits::default()).await;
    let info = store.info().await.unwrap().store.unwrap();
    assert!(
        info.min_time >= prom.start_ms && info.min_time < prom.start_ms + 60_000,
        "{info:?}"
    );
}
