//! Running what a request asks for: PromQL queries (the engine on a
//! blocking thread over a [`StoreQueryable`], limited by the concurrency gate
//! and the query timeout) and the metadata queries (`series`, `labels`,
//! `label/<name>/values`) through the proxy, with Thanos's parameters
//! (`dedup`, `replicaLabels[]`, `partial_response`, `max_source_resolution`,
//! `storeMatch[]`).

use std::sync::Arc;
use std::time::Duration;

use aeon_model::{Labels, Matcher};
use aeon_promql::{Engine, EngineOpts, Expr, QueryParams, Value};
use aeon_storeapi::pb::thanos;
use aeon_storeapi::{SeriesFrame, StoreApi, convert};
use futures::StreamExt;

use super::Api;
use super::error::ApiError;
use super::params::{Params, bool_or, limit_param, match_sets, parse_duration, range_params};
use crate::proxy::Proxy;
use crate::queryable::{QueryOptions, StoreQueryable};

/// Cancels a query when dropped: the engine's flag and the selects' token.
#[derive(Debug, Default)]
struct CancelOnDrop {
    flag: Arc<std::sync::atomic::AtomicBool>,
    token: tokio_util::sync::CancellationToken,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.flag.store(true, std::sync::atomic::Ordering::Relaxed);
        self.token.cancel();
    }
}

/// The warning when a result is cut to `limit`.
const TRUNCATED: &str = "results truncated due to limit";

/// A query's result and its annotations.
#[derive(Debug)]
pub(crate) struct QueryOutput {
    pub(crate) value: Value,
    pub(crate) warnings: Vec<String>,
    pub(crate) infos: Vec<String>,
}

/// Thanos's `shard_info` parameter: a `storepb.ShardInfo` as JSON
/// (`{"shard_index":0,"total_shards":3,"by":true,"labels":["job"]}`), as a
/// query-frontend with vertical sharding sends it.
fn parse_shard_info(s: &str) -> Result<thanos::ShardInfo, ApiError> {
    #[derive(serde::Deserialize)]
    struct Wire {
        #[serde(default)]
        shard_index: i64,
        #[serde(default)]
        total_shards: i64,
        #[serde(default)]
        by: bool,
        #[serde(default)]
        labels: Option<Vec<String>>,
    }
    let w: Wire = serde_json::from_str(s).map_err(|e| {
        ApiError::bad_data(format!("could not unmarshal parameter shard_info: {e}"))
    })?;
    Ok(thanos::ShardInfo {
        shard_index: w.shard_index,
        total_shards: w.total_shards,
        by: w.by,
        labels: w.labels.unwrap_or_default(),
    })
}

impl Api {
    /// Thanos's query parameters with the flags as defaults.
    fn query_options(&self, p: &Params, step_ms: i64) -> Result<QueryOptions, ApiError> {
        let dedup = bool_or(p, "dedup", true)?;
        let partial_response = bool_or(p, "partial_response", self.cfg.partial_response)?;
        let mut replica_labels: Vec<String> = p
            .all("replicaLabels[]")
            .into_iter()
            .chain(p.all("replicaLabels"))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if replica_labels.is_empty() {
            replica_labels = self.cfg.replica_labels.clone();
        }
        let max_source_resolution = match p.get_nonempty("max_source_resolution") {
            Some("auto") => step_ms / 5,
            Some(s) => {
                let ms = parse_duration("max_source_resolution", s)?;
                if ms < 0 {
                    return Err(ApiError::bad_data(
                        "negative max_source_resolution is not accepted. Try a positive integer",
                    ));
                }
                ms
            }
            None if self.cfg.auto_downsampling => step_ms / 5,
            None => 0,
        };
        let shard = match p.get_nonempty("shard_info") {
            None => None,
            Some(s) => Some(parse_shard_info(s)?),
        };
        let shard = QueryOptions::effective_shard(
            shard,
            dedup && !replica_labels.is_empty(),
            &replica_labels,
        );
        Ok(QueryOptions {
            dedup,
            replica_labels,
            dedup_func: self.cfg.dedup_func,
            partial_response,
            max_source_resolution,
            deadline: None,
            cancel: None,
            shard,
        })
    }

    /// The proxy for a request: restricted by `storeMatch[]` if given.
    fn proxy_for(&self, p: &Params) -> Result<Arc<Proxy>, ApiError> {
        let raw = p.all("storeMatch[]");
        if raw.is_empty() {
            return Ok(self.proxy.clone());
        }
        let sets = raw
            .into_iter()
            .map(|s| match aeon_promql::parse(s) {
                Ok(Expr::Vector(vs)) => Ok(vs.matchers),
                Ok(_) => Err(ApiError::bad_data(format!(
                    "invalid parameter \"storeMatch[]\": {s:?} is not a series selector"
                ))),
                Err(e) => Err(ApiError::bad_data(format!(
                    "invalid parameter \"storeMatch[]\": {e}"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(self.proxy.with_store_match(sets)))
    }

    /// `--query.timeout`, shortened by a positive `timeout` parameter.
    fn timeout(&self, p: &Params) -> Result<Duration, ApiError> {
        let mut t = self.cfg.query_timeout;
        if let Some(s) = p.get_nonempty("timeout") {
            let ms = parse_duration("timeout", s)?;
            if ms > 0 {
                t = t.min(Duration::from_millis(ms as u64));
            }
        }
        Ok(t)
    }

    /// Evaluates `expr` over `[start, end]` every `step` ms (an instant
    /// query: `start == end`, `step` 0), at most `--query.max-concurrent` at
    /// once; the result cut to the `limit` parameter.
    pub(super) async fn run_query(
        &self,
        p: &Params,
        expr: Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryOutput, ApiError> {
        let timeout = self.timeout(p)?;
        let mut opts = self.query_options(p, step)?;
        let limit = limit_param(p)?;
        let proxy = self.proxy_for(p)?;
        // A client that goes away drops this future: the guard then cancels
        // the selects in flight and stops the engine at its next check.
        let cancel = CancelOnDrop::default();
        let Some(permit) = self.gate.enter().await else {
            return Err(ApiError::unavailable("query gate closed"));
        };
        opts.deadline = Some(tokio::time::Instant::now() + timeout);
        opts.cancel = Some(cancel.token.clone());
        let lookback = match p
            .get_nonempty("lookback_delta")
            .map(|s| parse_duration("lookback_delta", s))
        {
            Some(Err(e)) => return Err(e),
            Some(Ok(ms)) if ms > 0 => ms,
            _ => self.cfg.lookback_delta.as_millis() as i64,
        };
        let engine = Engine::new(EngineOpts {
            lookback_delta: lookback,
            timeout,
            default_subquery_step: self.cfg.default_evaluation_interval.as_millis() as i64,
            ..EngineOpts::default()
        });
        let q = StoreQueryable::new(proxy, opts, tokio::runtime::Handle::current());
        let flag = cancel.flag.clone();
        let res = tokio::task::spawn_blocking(move || {
            // Held until the engine stops, cancelled or not.
            let _permit = permit;
            let r = engine.exec(
                &q,
                &expr,
                &QueryParams {
                    start,
                    end,
                    step,
                    cancel: Some(flag),
                },
            );
            (r, q.warnings())
        })
        .await;
        let (result, mut warnings) =
            res.map_err(|e| ApiError::internal(format!("query panicked: {e}")))?;
        let mut r = result.map_err(ApiError::from_promql)?;
        if limit > 0 {
            match &mut r.value {
                Value::Vector(v) if v.len() > limit => v.truncate(limit),
                Value::Matrix(m) if m.len() > limit => m.truncate(limit),
                _ => {}
            }
        }
        let mut infos = Vec::new();
        for a in &r.annotations {
            match a.kind {
                aeon_promql::AnnotationKind::Warning => warnings.push(a.to_string()),
                aeon_promql::AnnotationKind::Info => infos.push(a.to_string()),
            }
        }
        Ok(QueryOutput {
            value: r.value,
            warnings,
            infos,
        })
    }
}

/// What `series`, `labels` and `label/<name>/values` read from their
/// parameters: the `match[]` sets, time range, limit, partial-response
/// strategy, replica labels to strip when deduplicating, and the stores to
/// ask.
pub(super) struct MetadataQuery {
    sets: Vec<Vec<Matcher>>,
    start: i64,
    end: i64,
    limit: usize,
    disabled: bool,
    strategy: i32,
    strip: Vec<String>,
    proxy: Arc<Proxy>,
}

impl MetadataQuery {
    /// For `series`: at least one `match[]` is required.
    pub(super) fn for_series(api: &Api, p: &Params) -> Result<Self, ApiError> {
        let sets = match_sets(p)?;
        if sets.is_empty() {
            return Err(ApiError::bad_data("no match[] parameter provided"));
        }
        Self::with_sets(api, p, sets)
    }

    /// For `labels` and label values: without `match[]`, everything.
    pub(super) fn for_labels(api: &Api, p: &Params) -> Result<Self, ApiError> {
        let mut sets = match_sets(p)?;
        if sets.is_empty() {
            sets.push(Vec::new());
        }
        Self::with_sets(api, p, sets)
    }

    fn with_sets(api: &Api, p: &Params, sets: Vec<Vec<Matcher>>) -> Result<Self, ApiError> {
        let (start, end) = range_params(p)?;
        let limit = limit_param(p)?;
        let opts = api.query_options(p, 0)?;
        let (disabled, strategy) = if opts.partial_response {
            (false, thanos::PartialResponseStrategy::Warn as i32)
        } else {
            (true, thanos::PartialResponseStrategy::Abort as i32)
        };
        let strip = if opts.dedup_active() {
            opts.replica_labels.clone()
        } else {
            Vec::new()
        };
        let proxy = api.proxy_for(p)?;
        Ok(Self {
            sets,
            start,
            end,
            limit,
            disabled,
            strategy,
            strip,
            proxy,
        })
    }

    /// The label sets of the matching series, sorted and unique, and the
    /// warnings (sorted and unique).
    pub(super) async fn series(&self) -> Result<(Vec<Labels>, Vec<String>), ApiError> {
        let mut out: Vec<Labels> = Vec::new();
        let mut warnings = Vec::new();
        for ms in &self.sets {
            let req = thanos::SeriesRequest {
                min_time: self.start,
                max_time: self.end,
                matchers: convert::matchers_to_pb(ms),
                skip_chunks: true,
                partial_response_disabled: self.disabled,
                partial_response_strategy: self.strategy,
                without_replica_labels: self.strip.clone(),
                ..Default::default()
            };
            let mut stream = self.proxy.series(req).await.map_err(ApiError::from_store)?;
            while let Some(item) = stream.next().await {
                match item.map_err(ApiError::from_store)?.result {
                    Some(SeriesFrame::Series(s)) => {
                        out.push(convert::labels_from_pb_owned(s.labels))
                    }
                    Some(SeriesFrame::Warning(w)) => warnings.push(w),
                    _ => {}
                }
            }
        }
        out.sort();
        out.dedup();
        if self.limit > 0 && out.len() > self.limit {
            out.truncate(self.limit);
            warnings.push(TRUNCATED.into());
        }
        warnings.sort();
        warnings.dedup();
        Ok((out, warnings))
    }

    /// The label names, sorted and unique, and the warnings.
    pub(super) async fn label_names(&self) -> Result<(Vec<String>, Vec<String>), ApiError> {
        let (mut names, mut warnings) = (Vec::new(), Vec::new());
        for ms in &self.sets {
            let r = self
                .proxy
                .label_names(thanos::LabelNamesRequest {
                    partial_response_disabled: self.disabled,
                    partial_response_strategy: self.strategy,
                    start: self.start,
                    end: self.end,
                    matchers: convert::matchers_to_pb(ms),
                    without_replica_labels: self.strip.clone(),
                    ..Default::default()
                })
                .await
                .map_err(ApiError::from_store)?;
            names.extend(r.names);
            warnings.extend(r.warnings);
        }
        let names = self.limited(names, &mut warnings);
        Ok((names, warnings))
    }

    /// The values of label `name`, sorted and unique, and the warnings.
    pub(super) async fn label_values(
        &self,
        name: &str,
    ) -> Result<(Vec<String>, Vec<String>), ApiError> {
        let (mut values, mut warnings) = (Vec::new(), Vec::new());
        for ms in &self.sets {
            let r = self
                .proxy
                .label_values(thanos::LabelValuesRequest {
                    label: name.to_owned(),
                    partial_response_disabled: self.disabled,
                    partial_response_strategy: self.strategy,
                    start: self.start,
                    end: self.end,
                    matchers: convert::matchers_to_pb(ms),
                    without_replica_labels: self.strip.clone(),
                    ..Default::default()
                })
                .await
                .map_err(ApiError::from_store)?;
            values.extend(r.values);
            warnings.extend(r.warnings);
        }
        let values = self.limited(values, &mut warnings);
        Ok((values, warnings))
    }

    /// Sorted, unique and cut to the limit (with a warning when cut).
    fn limited(&self, mut v: Vec<String>, warnings: &mut Vec<String>) -> Vec<String> {
        v.sort();
        v.dedup();
        if self.limit > 0 && v.len() > self.limit {
            v.truncate(self.limit);
            warnings.push(TRUNCATED.into());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_info_is_thanos_json_and_keeps_replicas_together() {
        let s = parse_shard_info(
            r#"{"shard_index":1,"total_shards":3,"by":true,"labels":["job","replica"]}"#,
        )
        .unwrap();
        assert_eq!((s.shard_index, s.total_shards, s.by), (1, 3, true));
        let r = vec!["replica".to_string()];
        // by: a replica label never counts.
        let by = QueryOptions::effective_shard(Some(s.clone()), true, &r).unwrap();
        assert_eq!(by.labels, ["job"]);
        // without: replica labels are left out of the hash too.
        let w = parse_shard_info(r#"{"shard_index":0,"total_shards":2,"labels":["instance"]}"#)
            .unwrap();
        let w = QueryOptions::effective_shard(Some(w), true, &r).unwrap();
        assert_eq!(w.labels, ["instance", "replica"]);
        // Without dedup, unchanged; no shards, no sharding.
        assert_eq!(
            QueryOptions::effective_shard(Some(s.clone()), false, &r)
                .unwrap()
                .labels,
            ["job", "replica"]
        );
        let none = thanos::ShardInfo::default();
        assert!(QueryOptions::effective_shard(Some(none), true, &r).is_none());
        assert!(parse_shard_info("{").is_err());
    }
}
