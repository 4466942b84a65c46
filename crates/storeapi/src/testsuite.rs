//! The Store API acceptance suite (feature `testsuite`): behaviour every
//! [`StoreApi`] implementation must show, run by the in-memory store, the
//! sidecar, the store gateway and the querier's proxy.
//!
//! The caller gives a factory that builds a store preloaded with a
//! [`Fixture`] (series with raw samples + external labels); the suite calls
//! it once with [`Fixture::standard_at`] and once with [`Fixture::empty`],
//! runs every case, and panics listing all failed cases. Chunks are compared
//! by decoded samples (XOR), so stores may cut chunks as they like, split a
//! series over consecutive frames, and return chunks overlapping the range.

use std::any::Any;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use aeon_model::{Labels, MatchType, Matcher, Sample, Timestamp};
use futures::StreamExt;

use crate::api::{SeriesFrame, StoreApi};
use crate::convert::{compare_labels, labels_from_pb, labels_to_pb, matchers_to_pb};
use crate::pb::thanos;
use crate::shard::shard_matches;
use crate::testutil::{Fixture, STANDARD_T0, decode_xor};

/// A store built for the suite, with anything that must live as long as it
/// (temp dirs, child processes...).
pub struct StoreUnderTest {
    pub store: Arc<dyn StoreApi>,
    guard: Option<Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for StoreUnderTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreUnderTest")
            .field("has_guard", &self.guard.is_some())
            .finish_non_exhaustive()
    }
}

impl StoreUnderTest {
    /// A store with nothing else to keep alive.
    pub fn new(store: Arc<dyn StoreApi>) -> Self {
        Self { store, guard: None }
    }

    /// A store plus a guard dropped after the suite is done with the store.
    pub fn with_guard(store: Arc<dyn StoreApi>, guard: impl Any + Send + Sync) -> Self {
        Self {
            store,
            guard: Some(Box::new(guard)),
        }
    }
}

type CaseResult = Result<(), String>;

/// Runs the suite with fixtures at [`STANDARD_T0`].
pub async fn run_acceptance<F, Fut>(make_store: F)
where
    F: FnMut(Fixture) -> Fut,
    Fut: Future<Output = StoreUnderTest>,
{
    run_acceptance_at(STANDARD_T0, make_store).await;
}

/// Runs the suite with the standard fixture starting at `t0` (for stores
/// that need recent data). Panics listing every failed case.
pub async fn run_acceptance_at<F, Fut>(t0: Timestamp, mut make_store: F)
where
    F: FnMut(Fixture) -> Fut,
    Fut: Future<Output = StoreUnderTest>,
{
    let failures = check_acceptance_at(t0, &mut make_store).await;
    if !failures.is_empty() {
        let list: Vec<String> = failures
            .iter()
            .map(|(c, e)| format!("- {c}: {e}"))
            .collect();
        panic!(
            "{} Store API acceptance case(s) failed:\n{}",
            failures.len(),
            list.join("\n")
        );
    }
}

/// Runs the suite and returns `(case, failure)` for every failed case.
pub async fn check_acceptance_at<F, Fut>(
    t0: Timestamp,
    make_store: &mut F,
) -> Vec<(&'static str, String)>
where
    F: FnMut(Fixture) -> Fut,
    Fut: Future<Output = StoreUnderTest>,
{
    let f = Fixture::standard_at(t0);
    let sut = make_store(f.clone()).await;
    let s = sut.store.as_ref();
    let mut failures = Vec::new();
    let mut record = |name: &'static str, r: CaseResult| {
        if let Err(e) = r {
            failures.push((name, e));
        }
    };
    record("info", case_info(s, &f).await);
    record("series_all", case_series_all(s, &f).await);
    record("series_matchers", case_series_matchers(s, &f).await);
    record(
        "external_labels_matchers",
        case_external_label_matchers(s, &f).await,
    );
    record("time_range", case_time_range(s, &f).await);
    record("skip_chunks", case_skip_chunks(s, &f).await);
    record("limit", case_limit(s, &f).await);
    record(
        "without_replica_labels",
        case_without_replica_labels(s, &f).await,
    );
    record("shard_info", case_shard_info(s, &f).await);
    record("label_names", case_label_names(s, &f).await);
    record("label_values", case_label_values(s, &f).await);
    record("invalid_matchers", case_invalid_matchers(s, &f).await);
    record("cancellation", case_cancellation(s, &f).await);
    drop(sut);
    let empty = Fixture::empty();
    let sut = make_store(empty.clone()).await;
    record(
        "empty_store",
        case_empty_store(sut.store.as_ref(), &empty).await,
    );
    failures
}

// ---------------------------------------------------------------- helpers

const HOUR: i64 = 3_600_000;

fn m(kind: MatchType, name: &str, value: &str) -> Result<Matcher, String> {
    Matcher::new(kind, name, value).map_err(|e| format!("building matcher: {e}"))
}

fn all_series() -> Result<Vec<Matcher>, String> {
    Ok(vec![m(MatchType::RegexMatch, "__name__", ".+")?])
}

fn series_req(matchers: &[Matcher], mint: Timestamp, maxt: Timestamp) -> thanos::SeriesRequest {
    thanos::SeriesRequest {
        min_time: mint,
        max_time: maxt,
        matchers: matchers_to_pb(matchers),
        ..Default::default()
    }
}

/// A returned series: final labels and decoded samples within the range.
#[derive(Debug, Clone, PartialEq)]
struct Got {
    labels: Labels,
    samples: Vec<(i64, u64)>,
    chunks: usize,
}

fn samples_key(s: &[Sample]) -> Vec<(i64, u64)> {
    s.iter().map(|s| (s.t, s.v.to_bits())).collect()
}

/// What the store must return: series matching (on labels with external
/// labels), with samples in range, labels after replica removal, sorted.
fn expected(
    f: &Fixture,
    matchers: &[Matcher],
    mint: Timestamp,
    maxt: Timestamp,
    without: &[&str],
) -> Vec<Got> {
    let ext = f.external_labels.without(without);
    let mut out: Vec<Got> = f
        .series
        .iter()
        .filter(|s| {
            matchers
                .iter()
                .all(|m| m.matches_labels(&f.final_labels(s)))
        })
        .filter_map(|s| {
            let in_range: Vec<Sample> = s
                .samples
                .iter()
                .copied()
                .filter(|x| x.t >= mint && x.t <= maxt)
                .collect();
            (!in_range.is_empty()).then(|| Got {
                labels: s.labels.merged_with(&ext),
                samples: samples_key(&in_range),
                chunks: 0,
            })
        })
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

/// Runs a Series call and checks the streaming rules: valid sorted label
/// sets, series ascending (consecutive frames of one series allowed), chunks
/// by min_time, XOR data decodable.
async fn run_series(s: &dyn StoreApi, req: thanos::SeriesRequest) -> Result<Vec<Got>, String> {
    let (mint, maxt) = (req.min_time, req.max_time);
    let mut stream = s
        .series(req)
        .await
        .map_err(|e| format!("series call failed: {}", tonic::Status::from(e)))?;
    let mut frames: Vec<thanos::Series> = Vec::new();
    while let Some(item) = stream.next().await {
        let item = item.map_err(|e| format!("series stream failed: {}", tonic::Status::from(e)))?;
        match item.result {
            Some(SeriesFrame::Series(x)) => frames.push(x),
            Some(SeriesFrame::Batch(b)) => frames.extend(b.series),
            Some(SeriesFrame::Warning(w)) => return Err(format!("unexpected warning: {w}")),
            Some(SeriesFrame::Hints(_)) | None => {}
        }
    }
    let mut out: Vec<Got> = Vec::new();
    let mut prev: Option<Vec<thanos::Label>> = None;
    for fr in frames {
        if !fr.labels.windows(2).all(|w| w[0].name < w[1].name) {
            return Err(format!("labels not sorted/unique by name: {:?}", fr.labels));
        }
        if fr.labels.iter().any(|l| l.value.is_empty()) {
            return Err(format!("label with empty value: {:?}", fr.labels));
        }
        if !fr.chunks.windows(2).all(|w| w[0].min_time <= w[1].min_time) {
            return Err(format!("chunks not sorted by min_time in {:?}", fr.labels));
        }
        let mut samples = Vec::new();
        for c in &fr.chunks {
            let raw = c
                .raw
                .as_ref()
                .ok_or_else(|| format!("chunk without raw data in {:?}", fr.labels))?;
            if raw.r#type != thanos::chunk::Encoding::Xor as i32 {
                return Err(format!(
                    "chunk encoding {} (want XOR) in {:?}",
                    raw.r#type, fr.labels
                ));
            }
            let dec = decode_xor(&raw.data)
                .ok_or_else(|| format!("undecodable XOR chunk in {:?}", fr.labels))?;
            samples.extend(dec);
        }
        let same = match &prev {
            Some(p) => match compare_labels(p, &fr.labels) {
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Equal => true,
                std::cmp::Ordering::Greater => {
                    return Err(format!("series out of order: {p:?} before {:?}", fr.labels));
                }
            },
            None => false,
        };
        let n = fr.chunks.len();
        if same {
            if let Some(last) = out.last_mut() {
                last.samples.extend(samples_key(&samples));
                last.chunks += n;
            }
        } else {
            out.push(Got {
                labels: labels_from_pb(&fr.labels),
                samples: samples_key(&samples),
                chunks: n,
            });
        }
        prev = Some(fr.labels);
    }
    for g in &mut out {
        g.samples.sort_by_key(|x| x.0);
        g.samples.dedup_by_key(|x| x.0);
        g.samples.retain(|x| x.0 >= mint && x.0 <= maxt);
    }
    Ok(out)
}

fn names(v: &[Got]) -> Vec<String> {
    v.iter().map(|g| g.labels.to_string()).collect()
}

fn compare(what: &str, got: &[Got], want: &[Got], check_samples: bool) -> CaseResult {
    if names(got) != names(want) {
        return Err(format!(
            "{what}: got series {:?}, want {:?}",
            names(got),
            names(want)
        ));
    }
    if check_samples {
        for (g, w) in got.iter().zip(want) {
            if g.samples != w.samples {
                return Err(format!(
                    "{what}: samples of {} differ: got {} samples (first {:?}), want {} (first {:?})",
                    g.labels,
                    g.samples.len(),
                    g.samples.first(),
                    w.samples.len(),
                    w.samples.first()
                ));
            }
        }
    }
    Ok(())
}

async fn check_series(
    s: &dyn StoreApi,
    f: &Fixture,
    what: &str,
    ms: &[Matcher],
    mint: i64,
    maxt: i64,
) -> CaseResult {
    let got = run_series(s, series_req(ms, mint, maxt))
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    compare(what, &got, &expected(f, ms, mint, maxt, &[]), true)
}

fn full_range(f: &Fixture) -> (i64, i64) {
    (f.min_time(), f.max_time())
}

// ---------------------------------------------------------------- cases

async fn case_info(s: &dyn StoreApi, f: &Fixture) -> CaseResult {
    let info = s
        .info()
        .await
        .map_err(|e| format!("info failed: {}", tonic::Status::from(e)))?;
    let want = labels_to_pb(&f.external_labels);
    if !info.label_sets.iter().any(|ls| ls.labels == want) {
        return Err(format!(
            "label_sets {:?} lack the external labels {want:?}",
            info.label_sets
        ));
    }
    let st = info
        .store
        .ok_or("no StoreInfo: endpoint would not be used as a store")?;
    if !st.supports_sharding || !st.supports_without_replica_labels {
        return Err(format!(
            "must support sharding and without_replica_labels (got {} / {})",
            st.supports_sharding, st.supports_without_replica_labels
        ));
    }
    if st.min_time > f.min_time() || st.max_time < f.max_time() {
        return Err(format!(
            "time range [{}, {}] does not cover data [{}, {}]",
            st.min_time,
            st.max_time,
            f.min_time(),
            f.max_time()
        ));
    }
    Ok(())
}

async fn case_series_all(s: &dyn StoreApi, f: &Fixture) -> CaseResult {
    let (mint, maxt) = full_range(f);
    check_series(s, f, "all series", &all_series()?, mint, maxt).await?;
    // Sub-millisecond edges: exactly the first and last sample are inclusive.
    check_series(
        s,
        f,
        "inclusive edges",
        &all_series()?,
        f.max_time(),
        f.max_time(),
    )
    .await
}

async fn case_series_matchers(s: &dyn StoreApi, f: &Fixture) -> CaseResult {
    let (mint, maxt) = full_range(f);
    let sets = vec![
        vec![m(MatchType::Equal, "job", "api")?],
        vec![
            m(MatchType::RegexMatch, "job", "api|db")?,
            m(MatchType::Equal, "__name__", "up")?,
        ],
        vec![
            m(MatchType::RegexMatch, "__name__", ".+")?,
            m(MatchType::NotEqual, "instance", "a:9090")?,
        ],
        vec![
            m(MatchType::Equal, "__name__", "up")?,
            m(MatchType::RegexNoMatch, "job", "a.*")?,
        ],
        vec![
            m(MatchType::RegexMatch, "__name__", ".+")?,
            m(MatchType::Equal, "code", "")?,
        ],
        vec![
            m(MatchType::RegexMatch, "__name__", "http_.*")?,
            m(MatchType::RegexMatch, "code", "2..")?,
        ],
        vec![m(MatchType::Equal, "__name__", "no_such_metric")?],
    ];
    for ms in sets {
        let what = format!(
            "matchers {:?}",
            ms.iter().map(|m| m.to_string()).collect::<Vec<_>>()
        );
        check_series(s, f, &what, &ms, mint, maxt).await?;
    }
    Ok(())
}

async fn case_external_label_matchers(s: &dyn StoreApi, f: &Fixture) -> CaseResult {
    let (mint, maxt) = full_range(f);
    let any = m(MatchType::RegexMatch, "__name__", ".+")?;
    let sets = vec![
        vec![any.clone(), m(MatchType::Equal, "region", "eu")?],
        vec![any.clone(), m(MatchType::Equal, "region", "us")?],
        vec![any.clone(), m(MatchType::RegexMatch, "region", "e.*")?],
        vec![any.clone(), m(MatchType::NotEqual, "region", "eu")?],
        vec![
            any.clone(),
            m(MatchType::Equal, "replica", "A")?,
            m(MatchType::Equal, "job", "db")?,
        ],
        // The series' own value is hidden by the external label.
        vec![any.clone(), m(MatchType::Equal, "region", "series-own")?],
        vec![
            m(MatchType::Equal, "__name__", "conflict_metric")?,
            m(MatchType::Equal, "region", "eu")?,
        ],
    ];
    for ms in sets {
        let what = format!(
            "matchers {:?}",
            ms.iter().map(|m| m.to_string()).collect::<Vec<_>>()
        );
        check_series(s, f, &what, &ms, mint, maxt).await?;
    }
    Ok(())
}

async fn case_time_range(s: &dyn StoreApi, f: &Fixture) -> CaseResult {
    let t0 = f.min_time();
    let all = all_series()?;
    check_series(s, f, "second hour", &all, t0 + HOUR + 60_000, t0 + 2 * HOUR).await?;
    check_series(s, f, "first 10 minutes", &all, t0, t0 + 600_000).await?;
    check_series(
        s,
        f,
        "middle 40 minutes",
        &all,
        t0 + 40 * 60_000,
        t0 + 80 * 60_000,
    )
    .await?;
    check_series(
        s,
        f,
        "after all data",
        &all,
        f.max_time() + HOUR,
        f.max_time() + 2 * HOUR,
    )
    .await?;
    check_series(s, f, "before all data", &all, t0 - 2 * HOUR, t0 - HOUR).await
}

async fn case_skip_chunks(s: &dyn StoreApi, f: &Fixture) -> CaseResult {
    let (mint, maxt) = full_range(f);
    let mut req = series_req(&all_series()?, mint, maxt);
    req.skip_chunks = true;
    let got = run_series(s, req).await?;
    compare(
        "skip_chunks",
        &got,
        &expected(f, &all_series()?, mint, maxt, &[]),
        false,
    )?;
    if let Some(g) = got.iter().find(|g| g.chunks > 0) {
        return Err(format!(
            "skip_chunks: {} came with {} chunks",
            g.labels, g.chunks
        ));
    }
    Ok(())
}

async fn case_limit(s: &dyn StoreApi, f: &Fixture) -> CaseResult {
    let (mint, maxt) = full_range(f);
    let all = all_series()?;
    let want = expected(f, &all, mint, maxt, &[]);
    for limit in [1usize, 3, want.len(), want.len() + 5] {
        let mut req = series_req(&all, mint, maxt);
        req.limit = limit as i64;
        let got = run_series(s, req).await?;
        let w: Vec<Got> = want.iter().take(limit).cloned().collect();
        compare(&format!("limit {limit}"), &got, &w, true)?;
    }
    Ok(())
}

async fn case_without_replica_labels(s: &dyn StoreApi, f: &Fixture) -> CaseResult {
    let (mint, maxt) = full_range(f);
    let all = all_series()?;
    let mut req = series_req(&all, mint, maxt);
    req.without_replica_labels = vec!["replica".into()];
    let got = run_series(s, req).await?;
    compare(
        "without replica",
        &got,
        &expected(f, &all, mint, maxt, &["replica"]),
        true,
    )?;
    // Only external labels are removed; a series label of that name stays.
    let mut req = series_req(&all, mint, maxt);
    req.without_replica_labels = vec!["job".into(), "replica".into()];
    let got = run_series(s, req).await?;
    compare(
        "without job (not external)",
        &got,
        &expected(f, &all, mint, maxt, &["replica"]),
        true,
    )
}

async fn case_shard_info(s: &dyn StoreApi, f: &Fixture) -> CaseResult {
    let (mint, maxt) = full_range(f);
    let all = all_series()?;
    let want = expected(f, &all, mint, maxt, &[]);
    for (total, by, labels) in [
        (3i64, false, vec![]),
        (2, true, vec!["job".to_string()]),
        (4, false, vec!["instance".to_string()]),
    ] {
        let mut union: Vec<Got> = Vec::new();
        for idx in 0..total {
            let info = thanos::ShardInfo {
                shard_index: idx,
                total_shards: total,
                by,
                labels: labels.clone(),
            };
            let mut req = series_req(&all, mint, maxt);
            req.shard_info = Some(info.clone());
            let got = run_series(s, req).await?;
            for g in &got {
                if !shard_matches(Some(&info), &labels_to_pb(&g.labels)) {
                    return Err(format!(
                        "shard {idx}/{total} (by={by} {labels:?}) returned {} of another shard",
                        g.labels
                    ));
                }
            }
            union.extend(got);
        }
        union.sort_by(|a, b| a.labels.cmp(&b.labels));
        compare(
            &format!("union of {total} shards (by={by} {labels:?})"),
            &union,
            &want,
            true,
        )?;
    }
    Ok(())
}

fn label_names_of(series: &[Got]) -> BTreeSet<String> {
    series
        .iter()
        .flat_map(|g| g.labels.iter().map(|l| l.name.clone()))
        .collect()
}

async fn label_names(
    s: &dyn StoreApi,
    ms: &[Matcher],
    start: i64,
    end: i64,
    without: &[&str],
    limit: i64,
) -> Result<Vec<String>, String> {
    let req = thanos::LabelNamesRequest {
        start,
        end,
        matchers: matchers_to_pb(ms),
        without_replica_labels: without.iter().map(|s| s.to_string()).collect(),
        limit,
        ..Default::default()
    };
    let r = s
        .label_names(req)
        .await
        .map_err(|e| format!("label_names failed: {}", tonic::Status::from(e)))?;
    if !r.names.windows(2).all(|w| w[0] < w[1]) {
        return Err(format!("label names not sorted/unique: {:?}", r.names));
    }
    Ok(r.names)
}

async fn case_label_names(s: &dyn StoreApi, f: &Fixture) -> CaseResult {
    let (mint, maxt) = full_range(f);
    let want_all: Vec<String> = label_names_of(&expected(f, &[], mint, maxt, &[]))
        .into_iter()
        .collect();
    let got = label_names(s, &[], mint, maxt, &[], 0).await?;
    if got != want_all {
        return Err(format!("all names: got {got:?}, want {want_all:?}"));
    }
    let db = [m(MatchType::Equal, "job", "db")?];
    let want: Vec<String> = label_names_of(&expected(f, &db, mint, maxt, &[]))
        .into_iter()
        .collect();
    let got = label_names(s, &db, mint, maxt, &[], 0).await?;
    if got != want {
        return Err(format!("names for job=\"db\": got {got:?}, want {want:?}"));
    }
    let got = label_names(s, &[], mint, maxt, &["replica"], 0).await?;
    let want: Vec<String> = want_all
        .iter()
        .filter(|n| *n != "replica")
        .cloned()
        .collect();
    if got != want {
        return Err(format!("names without replica: got {got:?}, want {want:?}"));
    }
    let got = label_names(
        s,
        &[m(MatchType::Equal, "__name__", "nope")?],
        mint,
        maxt,
        &[],
        0,
    )
    .await?;
    if !got.is_empty() {
        return Err(format!("names for a matcher matching nothing: {got:?}"));
    }
    let got = label_names(s, &[], maxt + HOUR, maxt + 2 * HOUR, &[], 0).await?;
    if !got.is_empty() {
        return Err(format!("names for a range after all data: {got:?}"));
    }
    // Partial range: stores may answer at block granularity, so the answer
    // lies between the exact names in range and all names.
    let (a, b) = (mint + HOUR + 60_000, maxt);
    let exact = label_names_of(&expected(f, &[], a, b, &[]));
    let got: BTreeSet<String> = label_names(s, &[], a, b, &[], 0)
        .await?
        .into_iter()
        .collect();
    if !exact.is_subset(&got) || !got.iter().all(|n| want_all.contains(n)) {
        return Err(format!(
            "names in second hour: got {got:?}, want between {exact:?} and {want_all:?}"
        ));
    }
    let got = label_names(s, &[], mint, maxt, &[], 2).await?;
    if got != want_all[..2] {
        return Err(format!(
            "names with limit 2: got {got:?}, want {:?}",
            &want_all[..2]
        ));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn label_values(
    s: &dyn StoreApi,
    label: &str,
    ms: &[Matcher],
    start: i64,
    end: i64,
    without: &[&str],
    limit: i64,
) -> Result<Vec<String>, String> {
    let req = thanos::LabelValuesRequest {
        label: label.into(),
        start,
        end,
        matchers: matchers_to_pb(ms),
        without_replica_labels: without.iter().map(|s| s.to_string()).collect(),
        limit,
        ..Default::default()
    };
    let r = s
        .label_values(req)
        .await
        .map_err(|e| format!("label_values({label}) failed: {}", tonic::Status::from(e)))?;
    if !r.values.windows(2).all(|w| w[0] < w[1]) {
        return Err(format!(
            "label values of {label} not sorted/unique: {:?}",
            r.values
        ));
    }
    Ok(r.values)
}

fn values_of(series: &[Got], label: &str) -> Vec<String> {
    let set: BTreeSet<String> = series
        .iter()
        .filter_map(|g| g.labels.get(label).map(str::to_owned))
        .collect();
    set.into_iter().collect()
}

async fn case_label_values(s: &dyn StoreApi, f: &Fixture) -> CaseResult {
    let (mint, maxt) = full_range(f);
    let all = expected(f, &[], mint, maxt, &[]);
    let up = [m(MatchType::Equal, "__name__", "up")?];
    let cases: Vec<(&str, Vec<Matcher>, Vec<String>)> = vec![
        ("job", vec![], values_of(&all, "job")),
        (
            "job",
            up.to_vec(),
            values_of(&expected(f, &up, mint, maxt, &[]), "job"),
        ),
        ("region", vec![], vec!["eu".to_string()]),
        ("__name__", vec![], values_of(&all, "__name__")),
        ("no_such_label", vec![], vec![]),
        ("job", vec![m(MatchType::Equal, "region", "us")?], vec![]),
    ];
    for (label, ms, want) in cases {
        let got = label_values(s, label, &ms, mint, maxt, &[], 0).await?;
        if got != want {
            let ms: Vec<String> = ms.iter().map(|m| m.to_string()).collect();
            return Err(format!(
                "values of {label} with {ms:?}: got {got:?}, want {want:?}"
            ));
        }
    }
    let got = label_values(s, "replica", &[], mint, maxt, &["replica"], 0).await?;
    if !got.is_empty() {
        return Err(format!("values of a removed replica label: {got:?}"));
    }
    let got = label_values(s, "job", &[], maxt + HOUR, maxt + 2 * HOUR, &[], 0).await?;
    if !got.is_empty() {
        return Err(format!("values for a range after all data: {got:?}"));
    }
    let (a, b) = (mint + HOUR + 60_000, maxt);
    let exact: BTreeSet<String> = values_of(&expected(f, &[], a, b, &[]), "__name__")
        .into_iter()
        .collect();
    let all_names = values_of(&all, "__name__");
    let got: BTreeSet<String> = label_values(s, "__name__", &[], a, b, &[], 0)
        .await?
        .into_iter()
        .collect();
    if !exact.is_subset(&got) || !got.iter().all(|n| all_names.contains(n)) {
        return Err(format!(
            "names in second hour: got {got:?}, want between {exact:?} and {all_names:?}"
        ));
    }
    let got = label_values(s, "job", &[], mint, maxt, &[], 1).await?;
    let want = &values_of(&all, "job")[..1];
    if got != want {
        return Err(format!("values with limit 1: got {got:?}, want {want:?}"));
    }
    Ok(())
}

fn expect_invalid_argument<T>(what: &str, r: crate::Result<T>) -> CaseResult {
    match r {
        Ok(_) => Err(format!("{what}: succeeded, want InvalidArgument")),
        Err(e) => {
            let st = tonic::Status::from(e);
            if st.code() == tonic::Code::InvalidArgument {
                Ok(())
            } else {
                Err(format!("{what}: got {st}, want InvalidArgument"))
            }
        }
    }
}

async fn case_invalid_matchers(s: &dyn StoreApi, f: &Fixture) -> CaseResult {
    let (mint, maxt) = full_range(f);
    let bad = vec![thanos::LabelMatcher {
        r#type: 2,
        name: "job".into(),
        value: "(unclosed".into(),
    }];
    let req = thanos::SeriesRequest {
        min_time: mint,
        max_time: maxt,
        matchers: bad.clone(),
        ..Default::default()
    };
    // The error may come from the call or as the first stream item.
    let r = match s.series(req).await {
        Err(e) => Err(e),
        Ok(mut stream) => match stream.next().await {
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        },
    };
    expect_invalid_argument("series with a bad regex", r)?;
    let req = thanos::LabelNamesRequest {
        start: mint,
        end: maxt,
        matchers: bad.clone(),
        ..Default::default()
    };
    expect_invalid_argument("label_names with a bad regex", s.label_names(req).await)?;
    let req = thanos::LabelValuesRequest {
        label: "job".into(),
        start: mint,
        end: maxt,
        matchers: bad,
        ..Default::default()
    };
    expect_invalid_argument("label_values with a bad regex", s.label_values(req).await)
}

async fn case_cancellation(s: &dyn StoreApi, f: &Fixture) -> CaseResult {
    let (mint, maxt) = full_range(f);
    let all = all_series()?;
    // Abandon several streams after their first item, concurrently.
    let mut streams = Vec::new();
    for _ in 0..4 {
        let st = s
            .series(series_req(&all, mint, maxt))
            .await
            .map_err(|e| format!("series failed: {e}"))?;
        streams.push(st);
    }
    for st in &mut streams {
        match st.next().await {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("first item failed: {}", tonic::Status::from(e))),
            None => return Err("stream ended before its first item".into()),
        }
    }
    drop(streams);
    // Dropping before reading anything.
    drop(
        s.series(series_req(&all, mint, maxt))
            .await
            .map_err(|e| format!("series failed: {e}"))?,
    );
    // The store still answers fully and correctly afterwards.
    check_series(s, f, "after cancelled streams", &all, mint, maxt).await
}

async fn case_empty_store(s: &dyn StoreApi, f: &Fixture) -> CaseResult {
    let info = s
        .info()
        .await
        .map_err(|e| format!("info failed: {}", tonic::Status::from(e)))?;
    let want = labels_to_pb(&f.external_labels);
    if !info.label_sets.iter().any(|ls| ls.labels == want) {
        return Err(format!(
            "label_sets {:?} lack the external labels {want:?}",
            info.label_sets
        ));
    }
    let (mint, maxt) = (STANDARD_T0 - HOUR, STANDARD_T0 + 3 * HOUR);
    let got = run_series(s, series_req(&all_series()?, mint, maxt)).await?;
    if !got.is_empty() {
        return Err(format!("empty store returned series {:?}", names(&got)));
    }
    let got = label_names(s, &[], mint, maxt, &[], 0).await?;
    if !got.is_empty() {
        return Err(format!("empty store returned label names {got:?}"));
    }
    let got = label_values(s, "job", &[], mint, maxt, &[], 0).await?;
    if !got.is_empty() {
        return Err(format!("empty store returned label values {got:?}"));
    }
    Ok(())
}
