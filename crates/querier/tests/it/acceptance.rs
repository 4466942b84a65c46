//! The storeapi acceptance suite against the querier's `Proxy` (it serves
//! the Store API too, as `thanos query` does): over an in-process store, and
//! over gRPC through a started querier whose endpoint is a gRPC store.
//!
//! The proxy fails some cases today, each a known divergence from Thanos's
//! proxy listed in [`KNOWN_DIVERGENCES`] with its reason; the tests fail when
//! any other case fails, and when a listed case starts passing (then take it
//! off the list).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use aeon_querier::{Endpoint, EndpointSet, Proxy, grpc_connector};
use aeon_storeapi::pb::thanos;
use aeon_storeapi::testsuite::{StoreUnderTest, check_acceptance_at};
use aeon_storeapi::testutil::{Fixture, MemStore, STANDARD_T0};
use aeon_storeapi::{ClientOptions, SeriesStream, StoreApi, StoreClient};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Querier, serve};

/// Acceptance cases the proxy fails, and why (behaviour kept on purpose
/// until decided otherwise; see the querier's `proxy.rs`).
const KNOWN_DIVERGENCES: &[(&str, &str)] = &[(
    "without_replica_labels",
    "the merge removes without_replica_labels from all labels, not only from the \
     external ones (the querier's deduplication relies on this; Thanos strips them \
     in its dedup layer)",
)];

/// A store that cannot shard (an old Thanos component): it advertises
/// `supports_sharding: false` and ignores `shard_info`.
struct NoSharding(MemStore);

#[async_trait::async_trait]
impl StoreApi for NoSharding {
    async fn info(&self) -> aeon_storeapi::Result<thanos::info::InfoResponse> {
        let mut i = self.0.info().await?;
        if let Some(s) = &mut i.store {
            s.supports_sharding = false;
        }
        Ok(i)
    }
    async fn series(&self, mut req: thanos::SeriesRequest) -> aeon_storeapi::Result<SeriesStream> {
        req.shard_info = None;
        self.0.series(req).await
    }
    async fn label_names(
        &self,
        req: thanos::LabelNamesRequest,
    ) -> aeon_storeapi::Result<thanos::LabelNamesResponse> {
        self.0.label_names(req).await
    }
    async fn label_values(
        &self,
        req: thanos::LabelValuesRequest,
    ) -> aeon_storeapi::Result<thanos::LabelValuesResponse> {
        self.0.label_values(req).await
    }
}

async fn check<F, Fut>(mut make_store: F)
where
    F: FnMut(Fixture) -> Fut,
    Fut: Future<Output = StoreUnderTest>,
{
    let failed: BTreeMap<&str, String> = check_acceptance_at(STANDARD_T0, &mut make_store)
        .await
        .into_iter()
        .collect();
    let unexpected: Vec<String> = failed
        .iter()
        .filter(|(c, _)| !KNOWN_DIVERGENCES.iter().any(|(k, _)| k == *c))
        .map(|(c, e)| format!("- {c}: {e}"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "acceptance cases failed:\n{}",
        unexpected.join("\n")
    );
    let fixed: Vec<&str> = KNOWN_DIVERGENCES
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| !failed.contains_key(c))
        .collect();
    assert!(
        fixed.is_empty(),
        "cases listed as known divergences pass now, take them off KNOWN_DIVERGENCES: {fixed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_runs_the_acceptance_suite() {
    check(|f| async move {
        let endpoints = Arc::new(EndpointSet::new(
            grpc_connector(None, Default::default(), Default::default()),
            std::time::Duration::from_secs(300),
        ));
        endpoints.insert(Endpoint::new(
            "in-process",
            Arc::new(MemStore::from_fixture(&f)),
            false,
        ));
        endpoints.check_all().await;
        StoreUnderTest::new(Arc::new(Proxy::new(endpoints, None)))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn querier_runs_the_acceptance_suite_over_grpc() {
    check(|f| async move {
        let stop = CancellationToken::new();
        let backend = serve(MemStore::from_fixture(&f), &stop).await;
        let q = Querier::start(&[format!("--store={backend}")], stop).await;
        let client: Arc<dyn StoreApi> = Arc::new(
            StoreClient::connect(&q.running.grpc_addr.to_string(), ClientOptions::default())
                .await
                .unwrap(),
        );
        StoreUnderTest::with_guard(client, q)
    })
    .await;
}

/// Sharding through the proxy over a store that cannot shard: the proxy
/// advertises sharding and applies the shard matcher itself, as Thanos's does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_shards_for_stores_that_cannot() {
    check(|f| async move {
        let endpoints = Arc::new(EndpointSet::new(
            grpc_connector(None, Default::default(), Default::default()),
            std::time::Duration::from_secs(300),
        ));
        endpoints.insert(Endpoint::new(
            "cannot-shard",
            Arc::new(NoSharding(MemStore::from_fixture(&f))),
            false,
        ));
        endpoints.check_all().await;
        StoreUnderTest::new(Arc::new(Proxy::new(endpoints, None)))
    })
    .await;
}
