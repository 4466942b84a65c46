//! The storage abstraction the engine reads from, and an in-memory implementation.

use std::collections::BTreeMap;

use aeon_model::{Labels, Matcher, Sample};

use crate::error::Result;

/// Hints passed with a select call.
#[derive(Debug, Clone, Default)]
pub struct SelectHints {
    /// Inclusive start of the time range needed, in milliseconds.
    pub start: i64,
    /// Inclusive end of the time range needed, in milliseconds.
    pub end: i64,
    /// The evaluation step of the query in milliseconds (0 for instant queries).
    pub step: i64,
    /// The range of a matrix selector in milliseconds (0 for instant selectors).
    pub range: i64,
    /// Name of the enclosing function, if any (e.g. `rate`).
    pub func: Option<String>,
}

/// A selected series: its labels and its samples delivered chunk by chunk.
pub struct SelectedSeries {
    /// The series labels.
    pub labels: Labels,
    /// Sample chunks in increasing time order; each chunk is time-ordered.
    pub chunks: Box<dyn Iterator<Item = Result<Vec<Sample>>> + Send>,
}

impl std::fmt::Debug for SelectedSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectedSeries")
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

/// Something series can be selected from (a TSDB, a store gateway client, ...).
pub trait Queryable: Send + Sync {
    /// Returns the series matching all `matchers`, with samples restricted to
    /// `[hints.start, hints.end]` (more samples are allowed; the engine filters).
    fn select(&self, matchers: &[Matcher], hints: &SelectHints) -> Result<Vec<SelectedSeries>>;
}

/// A simple in-memory [`Queryable`], used by tests and the promqltest runner.
#[derive(Debug, Default, Clone)]
pub struct MemStorage {
    series: BTreeMap<Labels, Vec<Sample>>,
}

impl MemStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a sample; samples of one series are kept sorted, a duplicate timestamp overwrites.
    pub fn append(&mut self, labels: Labels, t: i64, v: f64) {
        let s = self.series.entry(labels).or_default();
        match s.last() {
            Some(last) if last.t < t => s.push(Sample::new(t, v)),
            None => s.push(Sample::new(t, v)),
            _ => match s.binary_search_by_key(&t, |x| x.t) {
                Ok(i) => s[i].v = v,
                Err(i) => s.insert(i, Sample::new(t, v)),
            },
        }
    }

    /// Ensures the series exists (even without samples).
    pub fn add_series(&mut self, labels: Labels) {
        self.series.entry(labels).or_default();
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.series.clear();
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether there are no series.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

const CHUNK: usize = 120;

impl Queryable for MemStorage {
    fn select(&self, matchers: &[Matcher], hints: &SelectHints) -> Result<Vec<SelectedSeries>> {
        let mut out = Vec::new();
        for (labels, samples) in &self.series {
            if !matchers.iter().all(|m| m.matches_labels(labels)) {
                continue;
            }
            let lo = samples.partition_point(|s| s.t < hints.start);
            let hi = samples.partition_point(|s| s.t <= hints.end);
            let part: Vec<Sample> = samples[lo..hi].to_vec();
            if part.is_empty() {
                continue;
            }
            let chunks: Vec<Result<Vec<Sample>>> =
                part.chunks(CHUNK).map(|c| Ok(c.to_vec())).collect();
            out.push(SelectedSeries {
                labels: labels.clone(),
                chunks: Box::new(chunks.into_iter()),
            });
        }
        Ok(out)
    }
}
