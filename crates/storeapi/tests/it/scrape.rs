//! The Metadata, Exemplars and Targets services over gRPC: served by
//! StoreServer when given, advertised in Info, called through StoreClient;
//! an endpoint without them answers `Unimplemented`.

use std::sync::Arc;

use aeon_storeapi::pb::thanos;
use aeon_storeapi::testutil::{Fixture, MemStore};
use aeon_storeapi::{
    ClientOptions, ExemplarsApi, MetadataApi, Result, ServerOptions, StoreApi, StoreClient,
    StoreServer, TargetsApi,
};

/// Answers every call with one data frame and one warning.
#[derive(Debug)]
struct Fixed;

#[async_trait::async_trait]
impl MetadataApi for Fixed {
    async fn metric_metadata(
        &self,
        req: thanos::MetricMetadataRequest,
    ) -> Result<Vec<thanos::MetricMetadataResponse>> {
        let meta = thanos::Meta {
            r#type: "counter".into(),
            help: format!("asked for {:?} limit {}", req.metric, req.limit),
            unit: String::new(),
        };
        let map = [(
            "up".to_string(),
            thanos::MetricMetadataEntry { metas: vec![meta] },
        )]
        .into_iter()
        .collect();
        Ok(vec![
            thanos::MetricMetadataResponse::metadata(thanos::MetricMetadata { metadata: map }),
            thanos::MetricMetadataResponse::warning("w"),
        ])
    }
}

#[async_trait::async_trait]
impl ExemplarsApi for Fixed {
    async fn exemplars(
        &self,
        req: thanos::ExemplarsRequest,
    ) -> Result<Vec<thanos::ExemplarsResponse>> {
        if req.query == "bad" {
            return Err(aeon_storeapi::Error::invalid("bad query"));
        }
        Ok(vec![thanos::ExemplarsResponse::data(
            thanos::ExemplarData {
                series_labels: Some(thanos::ZLabelSet {
                    labels: vec![thanos::Label::new("__name__", "x")],
                }),
                exemplars: vec![thanos::Exemplar {
                    labels: None,
                    value: 1.5,
                    ts: req.start,
                }],
            },
        )])
    }
}

#[async_trait::async_trait]
impl TargetsApi for Fixed {
    async fn targets(&self, req: thanos::TargetsRequest) -> Result<Vec<thanos::TargetsResponse>> {
        Ok(vec![thanos::TargetsResponse::targets(
            thanos::TargetDiscovery {
                active_targets: vec![thanos::ActiveTarget {
                    scrape_pool: format!("state {}", req.state),
                    health: thanos::TargetHealth::Up as i32,
                    scrape_interval: "15s".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )])
    }
}

#[tokio::test]
async fn scrape_apis_are_served_advertised_and_called() {
    let store = Arc::new(MemStore::from_fixture(&Fixture::standard()));
    let fixed = Arc::new(Fixed);
    let stop = shutdown_pair();
    let (addr, _task) = StoreServer::new(store.clone())
        .with_metadata(fixed.clone())
        .with_exemplars(fixed.clone())
        .with_targets(fixed)
        .spawn(
            "127.0.0.1:0".parse().unwrap(),
            ServerOptions::default(),
            stop.1,
        )
        .await
        .unwrap();
    let c = StoreClient::connect(&addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let info = c.info().await.unwrap();
    assert!(info.metric_metadata.is_some() && info.targets.is_some());
    assert_eq!(info.exemplars, Some(thanos::info::ExemplarsInfo::default()));

    let m = c
        .metric_metadata(thanos::MetricMetadataRequest {
            metric: "up".into(),
            limit: -1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(m.len(), 2);
    let thanos::MetricMetadataResponse {
        result: Some(aeon_storeapi::scrape::MetadataFrame::Metadata(md)),
    } = &m[0]
    else {
        panic!("{m:?}")
    };
    assert_eq!(md.metadata["up"].metas[0].help, "asked for \"up\" limit -1");

    let e = c
        .exemplars(thanos::ExemplarsRequest {
            query: "x".into(),
            start: 42,
            end: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(e.len(), 1);
    let err = c
        .exemplars(thanos::ExemplarsRequest {
            query: "bad".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        tonic::Status::from(err).code(),
        tonic::Code::InvalidArgument
    );

    let t = c
        .targets(thanos::TargetsRequest {
            state: thanos::targets_request::State::Dropped as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let Some(aeon_storeapi::scrape::TargetsFrame::Targets(td)) = &t[0].result else {
        panic!("{t:?}")
    };
    assert_eq!(td.active_targets[0].scrape_pool, "state 2");
    assert_eq!(td.active_targets[0].scrape_interval, "15s");
    drop(stop.0);
}

#[tokio::test]
async fn a_plain_store_does_not_advertise_or_serve_them() {
    let store = Arc::new(MemStore::from_fixture(&Fixture::standard()));
    let stop = shutdown_pair();
    let (addr, _task) = StoreServer::new(store)
        .spawn(
            "127.0.0.1:0".parse().unwrap(),
            ServerOptions::default(),
            stop.1,
        )
        .await
        .unwrap();
    let c = StoreClient::connect(&addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let info = c.info().await.unwrap();
    assert!(info.metric_metadata.is_none() && info.exemplars.is_none() && info.targets.is_none());
    let err = c
        .targets(thanos::TargetsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::Unimplemented);
    drop(stop.0);
}

/// A shutdown future and the sender that ends it when dropped.
fn shutdown_pair() -> (
    tokio::sync::oneshot::Sender<()>,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    (tx, async move {
        let _ = rx.await;
    })
}
