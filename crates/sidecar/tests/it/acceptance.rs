//! The storeapi acceptance suite against the sidecar over a real
//! Prometheus 3.5 (fixture backfilled with promtool), directly and over gRPC.

use std::sync::Arc;
use std::time::Duration;

use aeon_sidecar::{Limits, Metrics, PromClient, PromState, PrometheusStore};
use aeon_storeapi::testsuite::{StoreUnderTest, run_acceptance_at};
use aeon_storeapi::testutil::Fixture;
use aeon_storeapi::{ClientOptions, ServerOptions, StoreApi, StoreClient};

use crate::common::*;

/// Recent, 2h-aligned start so Prometheus' retention keeps the data.
fn recent_t0() -> i64 {
    let two_h = 2 * 3_600_000;
    (chrono_now_ms() - 3 * two_h) / two_h * two_h
}

async fn sidecar_over(f: Fixture) -> (PrometheusStore, Prom) {
    let ext: Vec<(String, String)> = f
        .external_labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    let ext_ref: Vec<(&str, &str)> = ext.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let prom = start_prometheus(PromOptions {
        ext: &ext_ref,
        with_blocks: !f.series.is_empty(),
        data: Some(f.to_openmetrics()),
        ..Default::default()
    })
    .await;
    let client = PromClient::new(&prom.url, Duration::from_secs(30)).unwrap();
    let facts = aeon_sidecar::state::fetch_facts(&client).await.unwrap();
    let store = PrometheusStore::new(
        client,
        PromState::with(facts),
        aeon_common::flags::TimeOrDuration::MIN,
        Limits::default(),
        Metrics::default(),
    );
    (store, prom)
}

#[tokio::test]
async fn acceptance_suite_direct() {
    run_acceptance_at(recent_t0(), |f| async move {
        let (store, prom) = sidecar_over(f).await;
        StoreUnderTest::with_guard(Arc::new(store), prom)
    })
    .await;
}

#[tokio::test]
async fn acceptance_suite_over_grpc() {
    run_acceptance_at(recent_t0(), |f| async move {
        let (store, prom) = sidecar_over(f).await;
        let token = tokio_util::sync::CancellationToken::new();
        let (addr, _task) = aeon_storeapi::spawn_server(
            Arc::new(store),
            "127.0.0.1:0".parse().unwrap(),
            ServerOptions::default(),
            token.clone().cancelled_owned(),
        )
        .await
        .unwrap();
        let client: Arc<dyn StoreApi> = Arc::new(
            StoreClient::connect(&addr.to_string(), ClientOptions::default())
                .await
                .unwrap(),
        );
        StoreUnderTest::with_guard(client, (prom, token.drop_guard()))
    })
    .await;
}
