//! The Store API over a set of endpoints: fan-out to the endpoints that can
//! match, k-way merge of their sorted streams, replica-label stripping,
//! sharding for stores that cannot shard, partial response and per-store
//! response timeouts. As Thanos's proxy (`pkg/store/proxy.go`): when no
//! endpoint can match a request the answer is empty, without a warning
//! (Thanos logs `ErrorNoStoresMatched` at debug level).
//!
//! The Metadata, Exemplars and Targets APIs fan out over the same endpoints
//! (`fanout/`).

use std::sync::Arc;
use std::time::Duration;

use aeon_model::Matcher;
use aeon_storeapi::merge::errors_as_warnings;
use aeon_storeapi::pb::thanos::{self, info};
use aeon_storeapi::{
    MergeOptions, SeriesFrame, SeriesStream, ShardMatcher, StoreApi, convert, merge_series,
};
use futures::StreamExt;

use crate::endpoints::{Endpoint, EndpointSet};

/// The querier's own Store API: everything behind its endpoints.
#[derive(Debug, Clone)]
pub struct Proxy {
    endpoints: Arc<EndpointSet>,
    store_timeout: Option<Duration>,
    /// Thanos's `storeMatch[]`: only endpoints whose `__address__` matches
    /// one of these matcher sets are asked (None = all).
    store_match: Option<Arc<Vec<Vec<Matcher>>>>,
    /// `--selector-label`: added to the announced label sets; requests
    /// contradicting them get nothing.
    selector: Arc<aeon_model::Labels>,
}

/// Whether a request asks for the WARN strategy (partial response allowed).
pub(crate) fn warn_strategy(disabled: bool, strategy: i32) -> bool {
    !disabled && strategy == thanos::PartialResponseStrategy::Warn as i32
}

pub(crate) fn store_err_msg(ep: &str, e: aeon_storeapi::Error) -> String {
    format!("store {ep}: {}", tonic::Status::from(e).message())
}

/// Ends the stream with `DeadlineExceeded` if no frame arrives within `idle`.
fn with_idle_timeout(stream: SeriesStream, idle: Duration) -> SeriesStream {
    futures::stream::unfold(Some(stream), move |state| async move {
        let mut s = state?;
        match tokio::time::timeout(idle, s.next()).await {
            Ok(Some(item)) => Some((item, Some(s))),
            Ok(None) => None,
            Err(_) => Some((
                Err(aeon_storeapi::Error::DeadlineExceeded { deadline: idle }),
                None,
            )),
        }
    })
    .boxed()
}

/// Collects a stream of a store that does not strip replica labels itself,
/// strips them and re-sorts, so the merge sees correctly sorted input.
async fn strip_and_sort(stream: SeriesStream, strip: Vec<String>) -> SeriesStream {
    let items: Vec<_> = stream.collect().await;
    let mut series = Vec::new();
    let mut rest = Vec::new();
    for item in items {
        match item {
            Ok(thanos::SeriesResponse {
                result: Some(SeriesFrame::Series(mut s)),
            }) => {
                convert::remove_labels(&mut s.labels, &strip);
                series.push(s);
            }
            Ok(thanos::SeriesResponse {
                result: Some(SeriesFrame::Batch(b)),
            }) => {
                for mut s in b.series {
                    convert::remove_labels(&mut s.labels, &strip);
                    series.push(s);
                }
            }
            other => rest.push(other),
        }
    }
    series.sort_by(|a, b| convert::compare_labels(&a.labels, &b.labels));
    let out: Vec<_> = series
        .into_iter()
        .map(|s| Ok(thanos::SeriesResponse::series(s)))
        .chain(rest)
        .collect();
    futures::stream::iter(out).boxed()
}

impl Proxy {
    /// A proxy over `endpoints`; `store_timeout` is `--store.response-timeout`.
    pub fn new(endpoints: Arc<EndpointSet>, store_timeout: Option<Duration>) -> Self {
        Self {
            endpoints,
            store_timeout,
            store_match: None,
            selector: Arc::new(aeon_model::Labels::empty()),
        }
    }

    /// Thanos's selector labels (`--selector-label`).
    pub fn with_selector_labels(mut self, labels: &[(String, String)]) -> Self {
        self.selector = Arc::new(aeon_model::Labels::from_pairs(labels));
        self
    }

    /// Thanos's `matchesExternalLabels` for the selector labels: `None` when
    /// a matcher on a selector label does not match its value, else the
    /// matchers without those on selector labels.
    fn apply_selector(
        &self,
        matchers: &[thanos::LabelMatcher],
    ) -> aeon_storeapi::Result<Option<Vec<thanos::LabelMatcher>>> {
        if self.selector.is_empty() {
            return Ok(Some(matchers.to_vec()));
        }
        let mut keep = Vec::with_capacity(matchers.len());
        for pb in matchers {
            match self.selector.get(&pb.name) {
                None => keep.push(pb.clone()),
                Some(v) => {
                    let m = convert::matchers_from_pb(std::slice::from_ref(pb))?;
                    if !m.iter().all(|m| m.matches(v)) {
                        return Ok(None);
                    }
                }
            }
        }
        Ok(Some(keep))
    }

    /// A copy asking only the endpoints whose `__address__` matches one of
    /// `sets` (Thanos's `storeMatch[]`; other label names never match).
    pub(crate) fn with_store_match(&self, sets: Vec<Vec<Matcher>>) -> Self {
        Self {
            store_match: Some(Arc::new(sets)),
            ..self.clone()
        }
    }

    /// `--store.response-timeout`.
    pub(crate) fn store_timeout(&self) -> Option<Duration> {
        self.store_timeout
    }

    pub(crate) fn store_allowed(&self, address: &str) -> bool {
        let Some(sets) = &self.store_match else {
            return true;
        };
        let labels = aeon_model::Labels::from_pairs(&[("__address__", address)]);
        sets.iter()
            .any(|ms| ms.iter().all(|m| m.matches_labels(&labels)))
    }

    /// The endpoints behind this proxy.
    pub(crate) fn endpoints(&self) -> &Arc<EndpointSet> {
        &self.endpoints
    }

    fn select(
        &self,
        min: i64,
        max: i64,
        pb_matchers: &[thanos::LabelMatcher],
    ) -> aeon_storeapi::Result<Vec<Arc<Endpoint>>> {
        let matchers: Vec<Matcher> = convert::matchers_from_pb(pb_matchers)?;
        Ok(self
            .endpoints
            .matching(min, max, &matchers)
            .into_iter()
            .filter(|e| self.store_allowed(e.address()))
            .collect())
    }

    async fn open(
        &self,
        ep: &Endpoint,
        req: thanos::SeriesRequest,
    ) -> aeon_storeapi::Result<SeriesStream> {
        let strip = req.without_replica_labels.clone();
        let advertised = ep.advertised();
        let shard = ShardMatcher::new(req.shard_info.as_ref());
        let apply_sharding =
            shard.is_sharded() && !advertised.as_ref().is_some_and(|a| a.supports_sharding);
        let call = ep.client().series(req);
        let mut stream = match self.store_timeout {
            Some(t) => match tokio::time::timeout(t, call).await {
                Ok(r) => r?,
                Err(_) => return Err(aeon_storeapi::Error::DeadlineExceeded { deadline: t }),
            },
            None => call.await?,
        };
        if let Some(t) = self.store_timeout {
            stream = with_idle_timeout(stream, t);
        }
        // After the idle timeout, so the reader task ends when a store stalls.
        stream = drain_eagerly(stream);
        if apply_sharding {
            // As Thanos: on the labels the store sent, before any stripping.
            stream = stream
                .filter(move |item| {
                    let keep = match item {
                        Ok(thanos::SeriesResponse {
                            result: Some(SeriesFrame::Series(s)),
                        }) => shard.matches(&s.labels),
                        _ => true,
                    };
                    futures::future::ready(keep)
                })
                .boxed();
        }
        let strips_itself = advertised.is_some_and(|a| a.supports_without_replica_labels);
        if !strip.is_empty() && !strips_itself {
            stream = strip_and_sort(stream, strip).await;
        }
        Ok(stream)
    }
}

/// Reads a store's stream on its own task as fast as the store sends.
///
/// h2 gives connection-level flow-control credit back only when a stream's
/// data is read. A k-way merge reads one store at a time, so without this,
/// two concurrent queries sharing the connections to two stores could each
/// wait for one store while its unread data from the other exhausted that
/// connection's window: both hang, and so do the Info calls on those
/// connections (every endpoint turns unhealthy). Thanos' proxy reads every
/// store eagerly too; `fetch` buffers the whole answer anyway.
fn drain_eagerly(mut stream: SeriesStream) -> SeriesStream {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            if tx.send(item).is_err() {
                break;
            }
        }
    });
    tokio_stream::wrappers::UnboundedReceiverStream::new(rx).boxed()
}

#[async_trait::async_trait]
impl StoreApi for Proxy {
    async fn info(&self) -> aeon_storeapi::Result<info::InfoResponse> {
        let mut label_sets: Vec<thanos::ZLabelSet> = Vec::new();
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        for ep in self.endpoints.all().into_iter().filter(|e| e.usable()) {
            if let Some(a) = ep.advertised() {
                min = min.min(a.min_time);
                max = max.max(a.max_time);
                for ls in a.label_sets {
                    let z = thanos::ZLabelSet {
                        labels: convert::labels_to_pb(&ls.merged_with(&self.selector)),
                    };
                    if !label_sets.contains(&z) {
                        label_sets.push(z);
                    }
                }
            }
        }
        if min > max {
            (min, max) = (i64::MAX, i64::MIN);
        }
        // As Thanos's query: sharding is applied here for stores that cannot
        // shard; the Metadata, Exemplars and Targets APIs are fanned out.
        // The subset of data the selector labels stand for is announced
        // even when no endpoint announces anything (as Thanos does).
        if label_sets.is_empty() && !self.selector.is_empty() {
            label_sets.push(thanos::ZLabelSet {
                labels: convert::labels_to_pb(&self.selector),
            });
        }
        Ok(info::InfoResponse {
            label_sets,
            component_type: "query".into(),
            store: Some(info::StoreInfo {
                min_time: min,
                max_time: max,
                supports_sharding: true,
                supports_without_replica_labels: true,
                ..Default::default()
            }),
            query: Some(info::QueryApiInfo {}),
            metric_metadata: Some(info::MetricMetadataInfo {}),
            targets: Some(info::TargetsInfo {}),
            exemplars: Some(info::ExemplarsInfo::default()),
            ..Default::default()
        })
    }

    async fn series(&self, mut req: thanos::SeriesRequest) -> aeon_storeapi::Result<SeriesStream> {
        let Some(matchers) = self.apply_selector(&req.matchers)? else {
            return Ok(futures::stream::empty().boxed());
        };
        if matchers.is_empty() && !self.selector.is_empty() {
            return Err(aeon_storeapi::Error::invalid(
                "no matchers specified (excluding selector labels)",
            ));
        }
        req.matchers = matchers;
        let warn = warn_strategy(req.partial_response_disabled, req.partial_response_strategy);
        let eps = self.select(req.min_time, req.max_time, &req.matchers)?;
        if eps.is_empty() {
            return Ok(futures::stream::empty().boxed());
        }
        let opened = futures::future::join_all(eps.iter().map(|ep| {
            let req = req.clone();
            async move { (ep.address().to_owned(), self.open(ep, req).await) }
        }))
        .await;
        let mut streams = Vec::with_capacity(opened.len());
        for (addr, res) in opened {
            match res {
                Ok(s) if warn => streams.push(errors_as_warnings(s, addr)),
                Ok(s) => streams.push(s),
                Err(e) if warn => {
                    streams.push(
                        futures::stream::iter([Ok(thanos::SeriesResponse::warning(
                            store_err_msg(&addr, e),
                        ))])
                        .boxed(),
                    );
                }
                Err(e) => return Err(e),
            }
        }
        Ok(merge_series(
            streams,
            MergeOptions {
                without_replica_labels: req.without_replica_labels.clone(),
            },
        ))
    }

    async fn label_names(
        &self,
        mut req: thanos::LabelNamesRequest,
    ) -> aeon_storeapi::Result<thanos::LabelNamesResponse> {
        let Some(matchers) = self.apply_selector(&req.matchers)? else {
            return Ok(thanos::LabelNamesResponse::default());
        };
        req.matchers = matchers;
        let warn = warn_strategy(req.partial_response_disabled, req.partial_response_strategy);
        let eps = self.select(req.start, req.end, &req.matchers)?;
        let strip = req.without_replica_labels.clone();
        let results = futures::future::join_all(eps.iter().map(|ep| {
            let req = req.clone();
            async move {
                let call = ep.client().label_names(req);
                let r = match self.store_timeout {
                    Some(t) => tokio::time::timeout(t, call)
                        .await
                        .unwrap_or(Err(aeon_storeapi::Error::DeadlineExceeded { deadline: t })),
                    None => call.await,
                };
                (ep.address().to_owned(), r)
            }
        }))
        .await;
        let mut out = thanos::LabelNamesResponse::default();
        for (addr, r) in results {
            match r {
                Ok(r) => {
                    out.names
                        .extend(r.names.into_iter().filter(|n| !strip.contains(n)));
                    out.warnings.extend(r.warnings);
                }
                Err(e) if warn => out.warnings.push(store_err_msg(&addr, e)),
                Err(e) => return Err(e),
            }
        }
        out.names.sort();
        out.names.dedup();
        Ok(out)
    }

    async fn label_values(
        &self,
        mut req: thanos::LabelValuesRequest,
    ) -> aeon_storeapi::Result<thanos::LabelValuesResponse> {
        let Some(matchers) = self.apply_selector(&req.matchers)? else {
            return Ok(thanos::LabelValuesResponse::default());
        };
        req.matchers = matchers;
        let warn = warn_strategy(req.partial_response_disabled, req.partial_response_strategy);
        let mut out = thanos::LabelValuesResponse::default();
        if req.without_replica_labels.contains(&req.label) {
            return Ok(out);
        }
        let eps = self.select(req.start, req.end, &req.matchers)?;
        let results = futures::future::join_all(eps.iter().map(|ep| {
            let req = req.clone();
            async move {
                let call = ep.client().label_values(req);
                let r = match self.store_timeout {
                    Some(t) => tokio::time::timeout(t, call)
                        .await
                        .unwrap_or(Err(aeon_storeapi::Error::DeadlineExceeded { deadline: t })),
                    None => call.await,
                };
                (ep.address().to_owned(), r)
            }
        }))
        .await;
        for (addr, r) in results {
            match r {
                Ok(r) => {
                    out.values.extend(r.values);
                    out.warnings.extend(r.warnings);
                }
                Err(e) if warn => out.warnings.push(store_err_msg(&addr, e)),
                Err(e) => return Err(e),
            }
        }
        out.values.sort();
        out.values.dedup();
        Ok(out)
    }
}
