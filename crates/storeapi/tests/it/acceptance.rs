//! The acceptance suite passes on the reference store, and catches stores
//! that break the contract (mutants).

use std::sync::Arc;

use aeon_model::Labels;
use aeon_storeapi::pb::thanos::{self, info};
use aeon_storeapi::testsuite::{StoreUnderTest, check_acceptance_at, run_acceptance};
use aeon_storeapi::testutil::{Fixture, MemStore, STANDARD_T0};
use aeon_storeapi::{SeriesStream, StoreApi};
use futures::StreamExt;

#[tokio::test]
async fn memstore_passes_acceptance() {
    run_acceptance(|f| async move { StoreUnderTest::new(Arc::new(MemStore::from_fixture(&f))) })
        .await;
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Bug {
    IgnoreLimit,
    IgnoreShard,
    IgnoreWithoutReplica,
    IgnoreSkipChunks,
    ReverseOrder,
    NoExternalLabels,
    DropLastSeries,
    SeriesLabelsWinOverExternal,
}

/// A reference store with one deliberate bug.
#[derive(Debug)]
struct Mutant {
    inner: MemStore,
    bug: Bug,
}

#[async_trait::async_trait]
impl StoreApi for Mutant {
    async fn info(&self) -> aeon_storeapi::Result<info::InfoResponse> {
        self.inner.info().await
    }

    async fn series(&self, mut req: thanos::SeriesRequest) -> aeon_storeapi::Result<SeriesStream> {
        match self.bug {
            Bug::IgnoreLimit => req.limit = 0,
            Bug::IgnoreShard => req.shard_info = None,
            Bug::IgnoreWithoutReplica => req.without_replica_labels.clear(),
            Bug::IgnoreSkipChunks => req.skip_chunks = false,
            _ => {}
        }
        let items: Vec<_> = self.inner.series(req).await?.collect().await;
        let mut items: Vec<_> = items;
        match self.bug {
            Bug::ReverseOrder => items.reverse(),
            Bug::DropLastSeries => {
                items.pop();
            }
            _ => {}
        }
        Ok(futures::stream::iter(items).boxed())
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

fn build(bug: Bug, f: &Fixture) -> MemStore {
    match bug {
        Bug::NoExternalLabels => {
            let mut g = f.clone();
            g.external_labels = Labels::empty();
            MemStore::from_fixture(&g)
        }
        Bug::SeriesLabelsWinOverExternal => {
            // Bake external labels into series the wrong way round (series win).
            let mut g = f.clone();
            for s in &mut g.series {
                s.labels = g.external_labels.merged_with(&s.labels);
            }
            g.external_labels = Labels::empty();
            MemStore::from_fixture(&g)
        }
        _ => MemStore::from_fixture(f),
    }
}

#[tokio::test]
async fn suite_catches_broken_stores() {
    let cases = [
        (Bug::IgnoreLimit, "limit"),
        (Bug::IgnoreShard, "shard_info"),
        (Bug::IgnoreWithoutReplica, "without_replica_labels"),
        (Bug::IgnoreSkipChunks, "skip_chunks"),
        (Bug::ReverseOrder, "series_all"),
        (Bug::NoExternalLabels, "external_labels_matchers"),
        (Bug::NoExternalLabels, "info"),
        (Bug::DropLastSeries, "series_all"),
        (Bug::SeriesLabelsWinOverExternal, "series_all"),
    ];
    for (bug, case) in cases {
        let mut make = |f: Fixture| async move {
            StoreUnderTest::new(Arc::new(Mutant {
                inner: build(bug, &f),
                bug,
            }))
        };
        let failures = check_acceptance_at(STANDARD_T0, &mut make).await;
        assert!(
            failures.iter().any(|(c, _)| *c == case),
            "{bug:?} not caught by case {case}; failures: {failures:?}"
        );
    }
}
