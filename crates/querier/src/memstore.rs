//! A small in-memory [`StoreApi`] (XOR chunks of up to 120 samples, external
//! labels, replica-label stripping), used by this crate's tests and by demos
//! to serve generated data over real gRPC.
//!
//! TODO(lead): aeon-storeapi's `testutil` store (feature, in progress) should
//! replace this once it is committed.

use std::time::Duration;

use aeon_model::{Labels, Sample};
use aeon_storeapi::pb::thanos::{self, info};
use aeon_storeapi::{Error, Result, SeriesStream, StoreApi, convert};
use aeon_tsdb_block::chunkenc::{Encoding, Histogram, XorEncoder};
use futures::StreamExt;

/// Samples per chunk, as Prometheus cuts them.
pub const SAMPLES_PER_CHUNK: usize = 120;

/// An in-memory store.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    /// External labels added to every series (they win on conflict).
    pub external_labels: Labels,
    /// Series (labels without external labels) and time-sorted samples.
    pub series: Vec<(Labels, Vec<Sample>)>,
    /// Native histogram series (integer counts), time-sorted.
    pub histograms: Vec<(Labels, Vec<(i64, Histogram)>)>,
    /// Component type reported by Info.
    pub component_type: String,
    /// Delay before answering Series (simulates a slow store).
    pub series_delay: Option<Duration>,
    /// Answer Series with this error (simulates a broken store).
    pub fail_series: Option<String>,
}

impl MemStore {
    /// A store with these external labels and series.
    pub fn new(external_labels: Labels, series: Vec<(Labels, Vec<Sample>)>) -> Self {
        Self {
            external_labels,
            series,
            component_type: "sidecar".into(),
            ..Default::default()
        }
    }

    fn full_labels(&self, l: &Labels) -> Labels {
        l.merged_with(&self.external_labels)
    }

    fn time_range(&self) -> (i64, i64) {
        let firsts = self
            .series
            .iter()
            .filter_map(|(_, s)| s.first().map(|s| s.t))
            .chain(
                self.histograms
                    .iter()
                    .filter_map(|(_, h)| h.first().map(|h| h.0)),
            );
        let lasts = self
            .series
            .iter()
            .filter_map(|(_, s)| s.last().map(|s| s.t))
            .chain(
                self.histograms
                    .iter()
                    .filter_map(|(_, h)| h.last().map(|h| h.0)),
            );
        let (min, max) = (firsts.min(), lasts.max());
        match (min, max) {
            (Some(a), Some(b)) => (a, b),
            _ => (i64::MAX, i64::MIN),
        }
    }

    fn selected(
        &self,
        matchers: &[thanos::LabelMatcher],
        min: i64,
        max: i64,
    ) -> Result<Vec<(Labels, Vec<thanos::AggrChunk>)>> {
        let ms = convert::matchers_from_pb(matchers)?;
        let floats = self
            .series
            .iter()
            .filter(|(_, s)| s.iter().any(|x| x.t >= min && x.t <= max))
            .map(|(l, s)| Ok((self.full_labels(l), encode_chunks(s, min, max))));
        let hists = self
            .histograms
            .iter()
            .filter(|(_, h)| h.iter().any(|x| x.0 >= min && x.0 <= max))
            .map(|(l, h)| Ok((self.full_labels(l), encode_histogram_chunks(h, min, max)?)));
        floats
            .chain(hists)
            .filter(|r: &Result<(Labels, Vec<thanos::AggrChunk>)>| {
                r.as_ref()
                    .map_or(true, |(l, _)| ms.iter().all(|m| m.matches_labels(l)))
            })
            .collect()
    }
}

fn encode_chunks(samples: &[Sample], min: i64, max: i64) -> Vec<thanos::AggrChunk> {
    let mut out = Vec::new();
    for part in samples.chunks(SAMPLES_PER_CHUNK) {
        let (Some(first), Some(last)) = (part.first(), part.last()) else {
            continue;
        };
        if last.t < min || first.t > max {
            continue;
        }
        let mut enc = XorEncoder::new();
        for s in part {
            enc.append(s.t, s.v);
        }
        let chunk = thanos::Chunk {
            r#type: thanos::chunk::Encoding::Xor as i32,
            data: enc.finish().into(),
            hash: 0,
        };
        out.push(thanos::AggrChunk::raw(first.t, last.t, chunk));
    }
    out
}

fn encode_histogram_chunks(
    samples: &[(i64, Histogram)],
    min: i64,
    max: i64,
) -> Result<Vec<thanos::AggrChunk>> {
    let chunks = aeon_tsdb_block::writer::cut_histogram_chunks(samples)
        .map_err(|e| Error::storage("encoding histograms", e.to_string()))?;
    Ok(chunks
        .into_iter()
        .filter(|c| c.max_time >= min && c.min_time <= max && c.encoding == Encoding::Histogram)
        .map(|c| {
            let chunk = thanos::Chunk {
                r#type: thanos::chunk::Encoding::Histogram as i32,
                data: c.data.into(),
                hash: 0,
            };
            thanos::AggrChunk::raw(c.min_time, c.max_time, chunk)
        })
        .collect())
}

#[async_trait::async_trait]
impl StoreApi for MemStore {
    async fn info(&self) -> Result<info::InfoResponse> {
        let (min_time, max_time) = self.time_range();
        Ok(info::InfoResponse {
            label_sets: vec![thanos::ZLabelSet {
                labels: convert::labels_to_pb(&self.external_labels),
            }],
            component_type: self.component_type.clone(),
            store: Some(info::StoreInfo {
                min_time,
                max_time,
                supports_without_replica_labels: true,
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    async fn series(&self, req: thanos::SeriesRequest) -> Result<SeriesStream> {
        if let Some(d) = self.series_delay {
            tokio::time::sleep(d).await;
        }
        if let Some(e) = &self.fail_series {
            return Err(Error::storage("serving series", e.clone()));
        }
        let mut out: Vec<thanos::Series> = self
            .selected(&req.matchers, req.min_time, req.max_time)?
            .into_iter()
            .map(|(l, chunks)| {
                let mut labels = convert::labels_to_pb(&l);
                convert::remove_labels(&mut labels, &req.without_replica_labels);
                let chunks = if req.skip_chunks { Vec::new() } else { chunks };
                thanos::Series { labels, chunks }
            })
            .collect();
        out.sort_by(|a, b| convert::compare_labels(&a.labels, &b.labels));
        Ok(futures::stream::iter(
            out.into_iter()
                .map(|s| Ok(thanos::SeriesResponse::series(s))),
        )
        .boxed())
    }

    async fn label_names(
        &self,
        req: thanos::LabelNamesRequest,
    ) -> Result<thanos::LabelNamesResponse> {
        let mut names: Vec<String> = self
            .selected(&req.matchers, req.start, req.end)?
            .iter()
            .flat_map(|(l, _)| l.iter().map(|x| x.name.clone()).collect::<Vec<_>>())
            .filter(|n| !req.without_replica_labels.contains(n))
            .collect();
        names.sort();
        names.dedup();
        Ok(thanos::LabelNamesResponse {
            names,
            ..Default::default()
        })
    }

    async fn label_values(
        &self,
        req: thanos::LabelValuesRequest,
    ) -> Result<thanos::LabelValuesResponse> {
        let mut values: Vec<String> = self
            .selected(&req.matchers, req.start, req.end)?
            .iter()
            .filter_map(|(l, _)| l.get(&req.label).map(str::to_owned))
            .collect();
        values.sort();
        values.dedup();
        Ok(thanos::LabelValuesResponse {
            values,
            ..Default::default()
        })
    }
}
