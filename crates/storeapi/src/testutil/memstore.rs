//! An in-memory reference [`StoreApi`]: the executable specification of what
//! a store must answer, used to validate the acceptance suite and in tests of
//! consumers (querier).

use std::collections::BTreeSet;

use aeon_model::{Labels, Matcher, Sample, Timestamp};
use bytes::Bytes;
use futures::StreamExt;

use super::fixture::Fixture;
use super::xor::encode_xor;
use crate::api::{SeriesStream, StoreApi};
use crate::convert::{labels_to_pb, matchers_from_pb};
use crate::pb::thanos::{self, info};
use crate::shard::ShardMatcher;
use crate::{Error, Result};

/// Samples per XOR chunk, as Prometheus cuts them.
const SAMPLES_PER_CHUNK: usize = 120;

#[derive(Debug, Clone)]
struct StoredChunk {
    min_time: Timestamp,
    max_time: Timestamp,
    encoding: thanos::chunk::Encoding,
    data: Bytes,
}

#[derive(Debug, Clone)]
struct StoredSeries {
    labels: Labels,
    chunks: Vec<StoredChunk>,
}

impl StoredSeries {
    fn overlaps(&self, mint: Timestamp, maxt: Timestamp) -> bool {
        self.chunks
            .iter()
            .any(|c| c.min_time <= maxt && c.max_time >= mint)
    }
}

/// In-memory store holding chunks (XOR, or any encoding given as bytes)
/// and external labels.
#[derive(Debug, Clone)]
pub struct MemStore {
    external_labels: Labels,
    component: String,
    series: Vec<StoredSeries>,
}

impl MemStore {
    /// An empty store with these external labels.
    pub fn new(external_labels: Labels) -> Self {
        Self {
            external_labels,
            component: "store".into(),
            series: Vec::new(),
        }
    }

    /// A store loaded with a fixture (samples cut into 120-sample XOR chunks).
    pub fn from_fixture(f: &Fixture) -> Self {
        let mut s = Self::new(f.external_labels.clone());
        for fs in &f.series {
            s.add_samples(fs.labels.clone(), &fs.samples);
        }
        s
    }

    /// Sets the `ComponentType` reported by Info (default `store`).
    pub fn with_component(mut self, component: impl Into<String>) -> Self {
        self.component = component.into();
        self
    }

    /// Adds a series from float samples (sorted by time).
    pub fn add_samples(&mut self, labels: Labels, samples: &[Sample]) {
        let chunks = samples
            .chunks(SAMPLES_PER_CHUNK)
            .filter_map(|c| {
                Some(StoredChunk {
                    min_time: c.first()?.t,
                    max_time: c.last()?.t,
                    encoding: thanos::chunk::Encoding::Xor,
                    data: encode_xor(c),
                })
            })
            .collect();
        self.series.push(StoredSeries { labels, chunks });
    }

    /// Adds a series with opaque XOR chunk bytes and their time ranges.
    pub fn add_chunks(&mut self, labels: Labels, chunks: Vec<(Timestamp, Timestamp, Bytes)>) {
        self.add_encoded_chunks(labels, thanos::chunk::Encoding::Xor, chunks);
    }

    /// Adds a series with opaque chunk bytes of `encoding` (e.g. native
    /// histogram chunks cut by the caller) and their time ranges, sorted.
    pub fn add_encoded_chunks(
        &mut self,
        labels: Labels,
        encoding: thanos::chunk::Encoding,
        chunks: Vec<(Timestamp, Timestamp, Bytes)>,
    ) {
        let chunks = chunks
            .into_iter()
            .map(|(min_time, max_time, data)| StoredChunk {
                min_time,
                max_time,
                encoding,
                data,
            })
            .collect();
        self.series.push(StoredSeries { labels, chunks });
    }

    fn time_range(&self) -> (Timestamp, Timestamp) {
        let mint = self
            .series
            .iter()
            .flat_map(|s| s.chunks.iter().map(|c| c.min_time))
            .min();
        let maxt = self
            .series
            .iter()
            .flat_map(|s| s.chunks.iter().map(|c| c.max_time))
            .max();
        (mint.unwrap_or(i64::MAX), maxt.unwrap_or(i64::MIN))
    }

    /// External labels with `without` removed (Thanos removes replica labels
    /// from the external labels only).
    fn ext_without(&self, without: &[String]) -> Labels {
        self.external_labels.without(without)
    }

    /// Series matching `matchers` (on labels with external labels) and having
    /// data in `[mint, maxt]`, with their final labels (after replica label
    /// removal), sorted.
    fn select(
        &self,
        matchers: &[Matcher],
        mint: Timestamp,
        maxt: Timestamp,
        without: &[String],
    ) -> Vec<(Labels, &StoredSeries)> {
        let ext_full = &self.external_labels;
        let ext = self.ext_without(without);
        let mut out: Vec<(Labels, &StoredSeries)> = self
            .series
            .iter()
            .filter(|s| s.overlaps(mint, maxt))
            .filter(|s| {
                let full = s.labels.merged_with(ext_full);
                matchers.iter().all(|m| m.matches_labels(&full))
            })
            .map(|s| (s.labels.merged_with(&ext), s))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

fn limit_of(limit: i64) -> usize {
    if limit > 0 {
        usize::try_from(limit).unwrap_or(usize::MAX)
    } else {
        usize::MAX
    }
}

#[async_trait::async_trait]
impl StoreApi for MemStore {
    async fn info(&self) -> Result<info::InfoResponse> {
        let (min_time, max_time) = self.time_range();
        let ext = thanos::ZLabelSet {
            labels: labels_to_pb(&self.external_labels),
        };
        Ok(info::InfoResponse {
            label_sets: vec![ext.clone()],
            component_type: self.component.clone(),
            store: Some(info::StoreInfo {
                min_time,
                max_time,
                supports_sharding: true,
                supports_without_replica_labels: true,
                tsdb_infos: vec![info::TsdbInfo {
                    labels: Some(ext),
                    min_time,
                    max_time,
                }],
                supports_projections: false,
            }),
            ..Default::default()
        })
    }

    async fn series(&self, req: thanos::SeriesRequest) -> Result<SeriesStream> {
        let matchers = matchers_from_pb(&req.matchers)?;
        if req.min_time > req.max_time {
            return Err(Error::invalid(format!(
                "min_time {} after max_time {}",
                req.min_time, req.max_time
            )));
        }
        let shard = ShardMatcher::new(req.shard_info.as_ref());
        let mut out = Vec::new();
        for (labels, s) in self.select(
            &matchers,
            req.min_time,
            req.max_time,
            &req.without_replica_labels,
        ) {
            let labels = labels_to_pb(&labels);
            if !shard.matches(&labels) {
                continue;
            }
            let chunks = if req.skip_chunks {
                vec![]
            } else {
                s.chunks
                    .iter()
                    .filter(|c| c.min_time <= req.max_time && c.max_time >= req.min_time)
                    .map(|c| {
                        thanos::AggrChunk::raw(
                            c.min_time,
                            c.max_time,
                            thanos::Chunk {
                                r#type: c.encoding as i32,
                                data: c.data.clone(),
                                hash: crate::convert::chunk_hash(&c.data),
                            },
                        )
                    })
                    .collect()
            };
            out.push(Ok(thanos::SeriesResponse::series(thanos::Series {
                labels,
                chunks,
            })));
            if out.len() >= limit_of(req.limit) {
                break;
            }
        }
        Ok(futures::stream::iter(out).boxed())
    }

    async fn label_names(
        &self,
        req: thanos::LabelNamesRequest,
    ) -> Result<thanos::LabelNamesResponse> {
        let matchers = matchers_from_pb(&req.matchers)?;
        let mut names = BTreeSet::new();
        for (labels, _) in self.select(&matchers, req.start, req.end, &req.without_replica_labels) {
            names.extend(labels.iter().map(|l| l.name.clone()));
        }
        Ok(thanos::LabelNamesResponse {
            names: names.into_iter().take(limit_of(req.limit)).collect(),
            ..Default::default()
        })
    }

    async fn label_values(
        &self,
        req: thanos::LabelValuesRequest,
    ) -> Result<thanos::LabelValuesResponse> {
        let matchers = matchers_from_pb(&req.matchers)?;
        if req.label.is_empty() {
            return Err(Error::invalid("label name is empty"));
        }
        let mut values = BTreeSet::new();
        for (labels, _) in self.select(&matchers, req.start, req.end, &req.without_replica_labels) {
            if let Some(v) = labels.get(&req.label) {
                values.insert(v.to_owned());
            }
        }
        Ok(thanos::LabelValuesResponse {
            values: values.into_iter().take(limit_of(req.limit)).collect(),
            ..Default::default()
        })
    }
}
