//! [`PrometheusScrape`]: the Thanos Metadata, Exemplars and Targets APIs
//! answered from Prometheus's own HTTP API, as Thanos's sidecar does
//! (`pkg/{metadata,exemplars,targets}/prometheus.go`): the request passes
//! through unchanged, external labels are set on exemplar series and on
//! targets' discovered and final labels (they win over a label of the same
//! name), metadata is passed as it is.

use aeon_storeapi::pb::thanos;
use aeon_storeapi::{
    Error as StoreError, ExemplarsApi, MetadataApi, Result as StoreResult, TargetsApi, convert,
};

use crate::prometheus::PromClient;
use crate::state::PromState;

/// Metadata, exemplars and targets of one Prometheus.
#[derive(Debug, Clone)]
pub struct PrometheusScrape {
    client: PromClient,
    state: PromState,
}

impl PrometheusScrape {
    /// Over `client`, with the external labels from `state`.
    pub fn new(client: PromClient, state: PromState) -> Self {
        Self { client, state }
    }

    fn external_labels(&self) -> StoreResult<Vec<thanos::Label>> {
        let facts = self.state.get().ok_or_else(|| StoreError::Unavailable {
            endpoint: self.client.url().to_string(),
            source: format!(
                "prometheus at {} has not answered yet (external labels unknown)",
                self.client.url()
            )
            .into(),
        })?;
        Ok(convert::labels_to_pb(&facts.external_labels))
    }
}

/// `set` with the external labels `ext` added (they win).
fn extend(set: Option<thanos::ZLabelSet>, ext: &[thanos::Label]) -> Option<thanos::ZLabelSet> {
    let labels = set.map(|s| s.labels).unwrap_or_default();
    Some(thanos::ZLabelSet {
        labels: convert::merge_external_labels(labels, ext),
    })
}

#[async_trait::async_trait]
impl MetadataApi for PrometheusScrape {
    async fn metric_metadata(
        &self,
        req: thanos::MetricMetadataRequest,
    ) -> StoreResult<Vec<thanos::MetricMetadataResponse>> {
        let m = self
            .client
            .metric_metadata(&req.metric, req.limit)
            .await
            .map_err(crate::Error::into_store)?;
        Ok(vec![thanos::MetricMetadataResponse::metadata(m)])
    }
}

#[async_trait::async_trait]
impl ExemplarsApi for PrometheusScrape {
    async fn exemplars(
        &self,
        req: thanos::ExemplarsRequest,
    ) -> StoreResult<Vec<thanos::ExemplarsResponse>> {
        let ext = self.external_labels()?;
        let data = self
            .client
            .exemplars(&req.query, req.start, req.end)
            .await
            .map_err(crate::Error::into_store)?;
        Ok(data
            .into_iter()
            .map(|mut d| {
                d.series_labels = extend(d.series_labels, &ext);
                thanos::ExemplarsResponse::data(d)
            })
            .collect())
    }
}

#[async_trait::async_trait]
impl TargetsApi for PrometheusScrape {
    async fn targets(
        &self,
        req: thanos::TargetsRequest,
    ) -> StoreResult<Vec<thanos::TargetsResponse>> {
        let ext = self.external_labels()?;
        let state = match req.state() {
            thanos::targets_request::State::Any => "",
            thanos::targets_request::State::Active => "active",
            thanos::targets_request::State::Dropped => "dropped",
        };
        let mut t = self
            .client
            .targets(state)
            .await
            .map_err(crate::Error::into_store)?;
        for a in &mut t.active_targets {
            a.discovered_labels = extend(a.discovered_labels.take(), &ext);
            a.labels = extend(a.labels.take(), &ext);
        }
        for d in &mut t.dropped_targets {
            d.discovered_labels = extend(d.discovered_labels.take(), &ext);
        }
        Ok(vec![thanos::TargetsResponse::targets(t)])
    }
}
