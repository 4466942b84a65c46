//! [`PrometheusStore`]: the Thanos Store API answered from Prometheus.
//!
//! - Series: remote read (`STREAMED_XOR_CHUNKS`); chunk bytes are forwarded
//!   unchanged, only the encoding enum is converted (Prometheus' remote-read
//!   enum is Thanos' plus one). Remote-read encodings Thanos has no value for
//!   (`XOR2`, `*_ST`, Prometheus ≥ 3.11 opt-in) are rejected with a clear
//!   error rather than sent with a wrong type: transcoding would need an
//!   XOR2 decoder.
//! - `skip_chunks` Series, LabelNames, LabelValues: the HTTP API.
//! - Matchers on external labels are checked here and stripped before
//!   asking Prometheus (Prometheus would rewrite them); external labels are
//!   then set on every series (they win over series labels).
//! - Output is sorted after adding external labels and removing
//!   `without_replica_labels` (which can change the order Prometheus sent),
//!   so each answer is buffered before it is streamed out.

use std::cmp::Ordering;

use aeon_common::flags::TimeOrDuration;
use aeon_model::{Labels, Matcher};
use aeon_storeapi::pb::prometheus as prom;
use aeon_storeapi::pb::thanos::{self, info};
use aeon_storeapi::{
    Error as StoreError, Result as StoreResult, SeriesStream, ShardMatcher, StoreApi, convert,
};
use futures::StreamExt;

use crate::metrics::Metrics;
use crate::prometheus::PromClient;
use crate::state::{PromFacts, PromState};

/// Per-request limits (`--store.limits.*`, 0 = none).
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Max series per Series call.
    pub series: u64,
    /// Max samples per Series call (counted from chunk headers).
    pub samples: u64,
}

/// The Store API over one Prometheus.
#[derive(Debug, Clone)]
pub struct PrometheusStore {
    client: PromClient,
    state: PromState,
    min_time: TimeOrDuration,
    limits: Limits,
    metrics: Metrics,
}

impl PrometheusStore {
    /// A store over `client`, using the facts in `state` (filled by the
    /// poller), serving from `min_time` on.
    pub fn new(
        client: PromClient,
        state: PromState,
        min_time: TimeOrDuration,
        limits: Limits,
        metrics: Metrics,
    ) -> Self {
        Self {
            client,
            state,
            min_time,
            limits,
            metrics,
        }
    }

    fn facts(&self) -> StoreResult<PromFacts> {
        self.state.get().ok_or_else(|| StoreError::Unavailable {
            endpoint: self.client.url().to_string(),
            source: format!(
                "prometheus at {} has not answered yet (external labels unknown)",
                self.client.url()
            )
            .into(),
        })
    }

    /// Lowest time served: `max(--min-time, Prometheus' lowest timestamp)`.
    fn min_time(&self, facts: &PromFacts) -> i64 {
        let flag = self.min_time.resolve_now();
        facts.lowest_timestamp.map_or(flag, |t| t.max(flag))
    }
}

/// Checks matchers on external labels against their values and removes them.
/// `None` if one of them does not match (the answer is empty).
pub fn strip_external_matchers(matchers: Vec<Matcher>, ext: &Labels) -> Option<Vec<Matcher>> {
    let mut out = Vec::with_capacity(matchers.len());
    for m in matchers {
        match ext.get(&m.name) {
            Some(v) => {
                if !m.matches(v) {
                    return None;
                }
            }
            None => out.push(m),
        }
    }
    Some(out)
}

/// Names in `without_replica_labels` that are external labels (only those are
/// removed, as in Thanos).
fn replica_labels_to_remove(ext: &Labels, without: &[String]) -> Vec<String> {
    without
        .iter()
        .filter(|n| ext.contains(n))
        .cloned()
        .collect()
}

/// Final labels of a series: external labels set (they win), replica labels removed.
fn finalize_labels(
    labels: Vec<thanos::Label>,
    ext: &[thanos::Label],
    remove: &[String],
) -> Vec<thanos::Label> {
    let mut l = convert::merge_external_labels(labels, ext);
    convert::remove_labels(&mut l, remove);
    l
}

fn empty_stream() -> SeriesStream {
    futures::stream::empty().boxed()
}

/// Samples in a chunk: every TSDB chunk payload starts with a 2-byte
/// big-endian sample count.
fn chunk_samples(data: &[u8]) -> u64 {
    match data {
        [a, b, ..] => u64::from(u16::from_be_bytes([*a, *b])),
        _ => 0,
    }
}

fn convert_chunk(c: prom::Chunk, labels: &[thanos::Label]) -> StoreResult<thanos::AggrChunk> {
    let Some(enc) = convert::chunk_encoding_from_prom(c.r#type) else {
        let name = prom::chunk::Encoding::try_from(c.r#type)
            .map_or_else(|_| c.r#type.to_string(), |e| e.as_str_name().to_string());
        let series = convert::labels_from_pb(labels);
        return Err(StoreError::storage(
            format!("converting a chunk of series {series}"),
            format!(
                "prometheus sent chunk encoding {name}, which the Thanos Store API cannot carry (it knows XOR, HISTOGRAM, FLOAT_HISTOGRAM); \
                 keep Prometheus on the default float/histogram chunk encodings"
            ),
        ));
    };
    let hash = convert::chunk_hash(&c.data);
    Ok(thanos::AggrChunk::raw(
        c.min_time_ms,
        c.max_time_ms,
        thanos::Chunk {
            r#type: enc as i32,
            data: c.data,
            hash,
        },
    ))
}

/// Sorts by labels and merges series whose final labels are equal (chunks
/// concatenated, then sorted by time).
fn sort_and_merge(mut series: Vec<thanos::Series>) -> Vec<thanos::Series> {
    series.sort_by(|a, b| convert::compare_labels(&a.labels, &b.labels));
    let mut out: Vec<thanos::Series> = Vec::with_capacity(series.len());
    for s in series {
        match out.last_mut() {
            Some(last) if convert::compare_labels(&last.labels, &s.labels) == Ordering::Equal => {
                last.chunks.extend(s.chunks);
                last.chunks.sort_by_key(|c| (c.min_time, c.max_time));
            }
            _ => out.push(s),
        }
    }
    out
}

#[async_trait::async_trait]
impl StoreApi for PrometheusStore {
    async fn info(&self) -> StoreResult<info::InfoResponse> {
        let facts = self.facts()?;
        let labels = convert::labels_to_pb(&facts.external_labels);
        let min_time = self.min_time(&facts);
        let set = thanos::ZLabelSet { labels };
        Ok(info::InfoResponse {
            label_sets: vec![set.clone()],
            component_type: "sidecar".to_string(),
            store: Some(info::StoreInfo {
                min_time,
                max_time: i64::MAX,
                supports_sharding: true,
                supports_without_replica_labels: true,
                tsdb_infos: vec![info::TsdbInfo {
                    labels: Some(set),
                    min_time,
                    max_time: i64::MAX,
                }],
                supports_projections: false,
            }),
            ..Default::default()
        })
    }

    async fn series(&self, req: thanos::SeriesRequest) -> StoreResult<SeriesStream> {
        let facts = self.facts()?;
        let ext = &facts.external_labels;
        let matchers = convert::matchers_from_pb(&req.matchers)?;
        let Some(matchers) = strip_external_matchers(matchers, ext) else {
            return Ok(empty_stream());
        };
        if matchers.is_empty() {
            return Err(StoreError::invalid(
                "no matchers specified (excluding external labels)",
            ));
        }
        let remove = replica_labels_to_remove(ext, &req.without_replica_labels);
        let ext_pb = convert::labels_to_pb(ext);
        let min_t = req.min_time.max(self.min_time(&facts));
        let max_t = req.max_time;
        if min_t > max_t {
            return Ok(empty_stream());
        }
        let shard = ShardMatcher::new(req.shard_info.as_ref());

        let mut out: Vec<thanos::Series> = Vec::new();
        if req.skip_chunks {
            let sets = self
                .client
                .series(&matchers, min_t, max_t)
                .await
                .map_err(crate::Error::into_store)?;
            for ls in sets {
                let labels = finalize_labels(convert::labels_to_pb(&ls), &ext_pb, &remove);
                out.push(thanos::Series {
                    labels,
                    chunks: vec![],
                });
            }
        } else {
            let query = prom::Query {
                start_timestamp_ms: min_t,
                end_timestamp_ms: max_t,
                matchers: matchers.iter().map(convert::matcher_to_prom).collect(),
                hints: Some(prom::ReadHints {
                    start_ms: min_t,
                    end_ms: max_t,
                    ..Default::default()
                }),
            };
            self.metrics.remote_reads.inc();
            let mut stream = match self.client.remote_read(query).await {
                Ok(s) => s,
                Err(e) => {
                    self.metrics.remote_read_failures.inc();
                    return Err(e.into_store());
                }
            };
            let mut samples: u64 = 0;
            let mut distinct: u64 = 0;
            let mut last_raw: Option<Vec<prom::Label>> = None;
            while let Some(item) = stream.next().await {
                let cs = match item {
                    Ok(cs) => cs,
                    Err(e) => {
                        self.metrics.remote_read_failures.inc();
                        return Err(e.into_store());
                    }
                };
                let pb_labels = convert::labels_from_prom(cs.labels.clone());
                let mut chunks = Vec::with_capacity(cs.chunks.len());
                for c in cs.chunks {
                    samples += chunk_samples(&c.data);
                    chunks.push(convert_chunk(c, &pb_labels)?);
                }
                if self.limits.samples > 0 && samples > self.limits.samples {
                    return Err(StoreError::limit(
                        "samples of the series request (--store.limits.request-samples)",
                        self.limits.samples,
                    ));
                }
                // Consecutive frames of one series (big series are split).
                if last_raw.as_ref() == Some(&cs.labels)
                    && let Some(prev) = out.last_mut()
                {
                    prev.chunks.extend(chunks);
                    continue;
                }
                distinct += 1;
                if self.limits.series > 0 && distinct > self.limits.series {
                    return Err(StoreError::limit(
                        "series of the series request (--store.limits.request-series)",
                        self.limits.series,
                    ));
                }
                last_raw = Some(cs.labels);
                out.push(thanos::Series {
                    labels: finalize_labels(pb_labels, &ext_pb, &remove),
                    chunks,
                });
            }
        }
        if req.skip_chunks && self.limits.series > 0 && out.len() as u64 > self.limits.series {
            return Err(StoreError::limit(
                "series of the series request (--store.limits.request-series)",
                self.limits.series,
            ));
        }
        let mut out = sort_and_merge(out);
        if shard.is_sharded() {
            out.retain(|s| shard.matches(&s.labels));
        }
        if req.limit > 0 {
            out.truncate(usize::try_from(req.limit).unwrap_or(usize::MAX));
        }
        Ok(futures::stream::iter(
            out.into_iter()
                .map(|s| Ok(thanos::SeriesResponse::series(s))),
        )
        .boxed())
    }

    async fn label_names(
        &self,
        req: thanos::LabelNamesRequest,
    ) -> StoreResult<thanos::LabelNamesResponse> {
        let facts = self.facts()?;
        let ext = &facts.external_labels;
        let matchers = convert::matchers_from_pb(&req.matchers)?;
        let Some(matchers) = strip_external_matchers(matchers, ext) else {
            return Ok(thanos::LabelNamesResponse::default());
        };
        let remove = replica_labels_to_remove(ext, &req.without_replica_labels);
        let start = req.start.max(self.min_time(&facts));
        let mut names = self
            .client
            .label_names(&matchers, start, req.end)
            .await
            .map_err(crate::Error::into_store)?;
        if !names.is_empty() {
            names.extend(ext.iter().map(|l| l.name.clone()));
        }
        names.retain(|n| !remove.contains(n));
        names.sort();
        names.dedup();
        if req.limit > 0 {
            names.truncate(usize::try_from(req.limit).unwrap_or(usize::MAX));
        }
        Ok(thanos::LabelNamesResponse {
            names,
            ..Default::default()
        })
    }

    async fn label_values(
        &self,
        req: thanos::LabelValuesRequest,
    ) -> StoreResult<thanos::LabelValuesResponse> {
        if req.label.is_empty() {
            return Err(StoreError::invalid("label name parameter cannot be empty"));
        }
        let facts = self.facts()?;
        let ext = &facts.external_labels;
        let matchers = convert::matchers_from_pb(&req.matchers)?;
        let Some(matchers) = strip_external_matchers(matchers, ext) else {
            return Ok(thanos::LabelValuesResponse::default());
        };
        if req.without_replica_labels.contains(&req.label) && ext.contains(&req.label) {
            return Ok(thanos::LabelValuesResponse::default());
        }
        let start = req.start.max(self.min_time(&facts));
        if let Some(v) = ext.get(&req.label) {
            // Every series carries the external label; answer only if some
            // series matches at all.
            let any = if matchers.is_empty() {
                !self
                    .client
                    .label_names(&[], start, req.end)
                    .await
                    .map_err(crate::Error::into_store)?
                    .is_empty()
            } else {
                !self
                    .client
                    .series(&matchers, start, req.end)
                    .await
                    .map_err(crate::Error::into_store)?
                    .is_empty()
            };
            let values = if any { vec![v.to_string()] } else { vec![] };
            return Ok(thanos::LabelValuesResponse {
                values,
                ..Default::default()
            });
        }
        let mut values = self
            .client
            .label_values(&req.label, &matchers, start, req.end)
            .await
            .map_err(crate::Error::into_store)?;
        values.sort();
        values.dedup();
        if req.limit > 0 {
            values.truncate(usize::try_from(req.limit).unwrap_or(usize::MAX));
        }
        Ok(thanos::LabelValuesResponse {
            values,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aeon_model::MatchType;

    fn l(n: &str, v: &str) -> thanos::Label {
        thanos::Label::new(n, v)
    }

    #[test]
    fn external_matchers_are_checked_and_stripped() {
        let ext = Labels::from_pairs(&[("cluster", "eu"), ("replica", "0")]);
        let ms = vec![
            Matcher::new(MatchType::Equal, "cluster", "eu").unwrap(),
            Matcher::new(MatchType::RegexMatch, "__name__", "up").unwrap(),
        ];
        let got = strip_external_matchers(ms, &ext).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "__name__");
        let ms = vec![Matcher::new(MatchType::Equal, "cluster", "us").unwrap()];
        assert!(strip_external_matchers(ms, &ext).is_none());
        let ms = vec![Matcher::new(MatchType::NotEqual, "replica", "1").unwrap()];
        assert_eq!(strip_external_matchers(ms, &ext).unwrap().len(), 0);
    }

    #[test]
    fn external_labels_win_and_replica_labels_go() {
        let ext =
            convert::labels_to_pb(&Labels::from_pairs(&[("cluster", "eu"), ("replica", "0")]));
        let got = finalize_labels(
            vec![l("__name__", "up"), l("cluster", "mine")],
            &ext,
            &["replica".to_string()],
        );
        assert_eq!(got, vec![l("__name__", "up"), l("cluster", "eu")]);
    }

    #[test]
    fn sorting_merges_series_that_became_equal() {
        let chunk = |t: i64| thanos::AggrChunk::raw(t, t + 1, thanos::Chunk::default());
        let s = |labels: Vec<thanos::Label>, t: i64| thanos::Series {
            labels,
            chunks: vec![chunk(t)],
        };
        let got = sort_and_merge(vec![
            s(vec![l("a", "2")], 0),
            s(vec![l("a", "1"), l("c", "1")], 10),
            s(vec![l("a", "1")], 5),
            s(vec![l("a", "1"), l("c", "1")], 1),
        ]);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].labels, vec![l("a", "1")]);
        assert_eq!(
            got[1].chunks.iter().map(|c| c.min_time).collect::<Vec<_>>(),
            vec![1, 10]
        );
        assert_eq!(got[2].labels, vec![l("a", "2")]);
    }

    #[test]
    fn encodings_are_shifted_and_xor2_is_refused() {
        let c = |t: i32| prom::Chunk {
            min_time_ms: 1,
            max_time_ms: 2,
            r#type: t,
            data: bytes::Bytes::from_static(b"\x00\x02xyz"),
        };
        let x = convert_chunk(c(1), &[]).unwrap();
        let raw = x.raw.unwrap();
        assert_eq!(raw.r#type, thanos::chunk::Encoding::Xor as i32);
        assert_eq!(raw.data.as_ref(), b"\x00\x02xyz");
        assert_eq!(raw.hash, convert::chunk_hash(b"\x00\x02xyz"));
        assert_eq!(convert_chunk(c(2), &[]).unwrap().raw.unwrap().r#type, 1);
        assert_eq!(convert_chunk(c(3), &[]).unwrap().raw.unwrap().r#type, 2);
        let e = convert_chunk(c(4), &[l("__name__", "up")]).unwrap_err();
        let msg = tonic_free_chain(&e);
        assert!(msg.contains("XOR2") && msg.contains("up"), "{msg}");
        assert!(convert_chunk(c(0), &[]).is_err());
        assert_eq!(chunk_samples(b"\x01\x02"), 258);
    }

    fn tonic_free_chain(e: &StoreError) -> String {
        crate::error::chain(e)
    }
}
