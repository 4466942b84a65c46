//! [`StoreClient`] as a [`MetadataApi`], [`ExemplarsApi`] and
//! [`TargetsApi`]: each call collects the remote stream (within the
//! client's deadline).

use futures::StreamExt;

use super::StoreClient;
use crate::pb::thanos;
use crate::scrape::{ExemplarsApi, MetadataApi, TargetsApi};
use crate::{Error, Result};

impl StoreClient {
    /// Collects a server stream; a failing frame fails the call.
    async fn collect<T>(
        &self,
        method: &'static str,
        call: impl std::future::Future<
            Output = std::result::Result<
                tonic::Response<tonic::codec::Streaming<T>>,
                tonic::Status,
            >,
        >,
    ) -> Result<Vec<T>> {
        let work = async {
            let mut stream = call
                .await
                .map_err(|s| self.rpc_err(method, s))?
                .into_inner();
            let mut out = Vec::new();
            while let Some(item) = stream.next().await {
                out.push(item.map_err(|s| self.rpc_err(method, s))?);
            }
            Ok(out)
        };
        match self.timeout {
            Some(t) => tokio::time::timeout(t, work)
                .await
                .unwrap_or(Err(Error::DeadlineExceeded { deadline: t })),
            None => work.await,
        }
    }
}

#[async_trait::async_trait]
impl MetadataApi for StoreClient {
    async fn metric_metadata(
        &self,
        req: thanos::MetricMetadataRequest,
    ) -> Result<Vec<thanos::MetricMetadataResponse>> {
        let mut c = self.metadata.clone();
        let req = self.request(req, self.timeout);
        self.collect("MetricMetadata", c.metric_metadata(req)).await
    }
}

#[async_trait::async_trait]
impl ExemplarsApi for StoreClient {
    async fn exemplars(
        &self,
        req: thanos::ExemplarsRequest,
    ) -> Result<Vec<thanos::ExemplarsResponse>> {
        let mut c = self.exemplars.clone();
        let req = self.request(req, self.timeout);
        self.collect("Exemplars", c.exemplars(req)).await
    }
}

#[async_trait::async_trait]
impl TargetsApi for StoreClient {
    async fn targets(&self, req: thanos::TargetsRequest) -> Result<Vec<thanos::TargetsResponse>> {
        let mut c = self.targets.clone();
        let req = self.request(req, self.timeout);
        self.collect("Targets", c.targets(req)).await
    }
}
