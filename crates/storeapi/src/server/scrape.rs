//! `thanos.Metadata`, `thanos.Exemplars` and `thanos.Targets` served by
//! [`StoreServer`] from the implementations it was given: each answer is
//! streamed frame by frame, as Thanos's servers do.

use std::pin::Pin;

use futures::Stream;
use tonic::{Request, Response, Status};

use super::{MAX_MESSAGE_SIZE, StoreServer};
use crate::pb::thanos::{self, exemplars_server, metadata_server, targets_server};
use crate::snappy::SnappyDecompress;

type FrameStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

fn frames<T: Send + 'static>(items: Vec<T>) -> FrameStream<T> {
    Box::pin(futures::stream::iter(items.into_iter().map(Ok)))
}

fn unimplemented(service: &str) -> Status {
    Status::unimplemented(format!("this endpoint does not serve {service}"))
}

/// The optional services of a [`StoreServer`], as given to tonic's router.
type Services = (
    Option<SnappyDecompress<metadata_server::MetadataServer<StoreServer>>>,
    Option<SnappyDecompress<exemplars_server::ExemplarsServer<StoreServer>>>,
    Option<SnappyDecompress<targets_server::TargetsServer<StoreServer>>>,
);

impl StoreServer {
    /// The Metadata, Exemplars and Targets services this server has an
    /// implementation for (raised message limits, snappy requests), each
    /// marked serving in `health`.
    pub(super) async fn scrape_services(
        &self,
        health: &tonic_health::server::HealthReporter,
    ) -> Services {
        let mut out: Services = (None, None, None);
        if self.metadata.is_some() {
            health
                .set_serving::<metadata_server::MetadataServer<StoreServer>>()
                .await;
            out.0 = Some(SnappyDecompress::new(
                metadata_server::MetadataServer::new(self.clone())
                    .max_decoding_message_size(MAX_MESSAGE_SIZE)
                    .max_encoding_message_size(MAX_MESSAGE_SIZE),
            ));
        }
        if self.exemplars.is_some() {
            health
                .set_serving::<exemplars_server::ExemplarsServer<StoreServer>>()
                .await;
            out.1 = Some(SnappyDecompress::new(
                exemplars_server::ExemplarsServer::new(self.clone())
                    .max_decoding_message_size(MAX_MESSAGE_SIZE)
                    .max_encoding_message_size(MAX_MESSAGE_SIZE),
            ));
        }
        if self.targets.is_some() {
            health
                .set_serving::<targets_server::TargetsServer<StoreServer>>()
                .await;
            out.2 = Some(SnappyDecompress::new(
                targets_server::TargetsServer::new(self.clone())
                    .max_decoding_message_size(MAX_MESSAGE_SIZE)
                    .max_encoding_message_size(MAX_MESSAGE_SIZE),
            ));
        }
        out
    }
}

#[async_trait::async_trait]
impl metadata_server::Metadata for StoreServer {
    type MetricMetadataStream = FrameStream<thanos::MetricMetadataResponse>;

    async fn metric_metadata(
        &self,
        req: Request<thanos::MetricMetadataRequest>,
    ) -> Result<Response<Self::MetricMetadataStream>, Status> {
        let api = self
            .metadata
            .as_ref()
            .ok_or_else(|| unimplemented("thanos.Metadata"))?;
        let r = api.metric_metadata(req.into_inner()).await?;
        Ok(Response::new(frames(r)))
    }
}

#[async_trait::async_trait]
impl exemplars_server::Exemplars for StoreServer {
    type ExemplarsStream = FrameStream<thanos::ExemplarsResponse>;

    async fn exemplars(
        &self,
        req: Request<thanos::ExemplarsRequest>,
    ) -> Result<Response<Self::ExemplarsStream>, Status> {
        let api = self
            .exemplars
            .as_ref()
            .ok_or_else(|| unimplemented("thanos.Exemplars"))?;
        let r = api.exemplars(req.into_inner()).await?;
        Ok(Response::new(frames(r)))
    }
}

#[async_trait::async_trait]
impl targets_server::Targets for StoreServer {
    type TargetsStream = FrameStream<thanos::TargetsResponse>;

    async fn targets(
        &self,
        req: Request<thanos::TargetsRequest>,
    ) -> Result<Response<Self::TargetsStream>, Status> {
        let api = self
            .targets
            .as_ref()
            .ok_or_else(|| unimplemented("thanos.Targets"))?;
        let r = api.targets(req.into_inner()).await?;
        Ok(Response::new(frames(r)))
    }
}
