//! The storage abstraction the engine reads from, and an in-memory implementation.

use std::collections::BTreeMap;

use std::sync::Arc;

use aeon_model::{Labels, Matcher, Sample};

use crate::nativehist::FloatHistogram;

/// A run of samples of one series, all floats or all histograms, in time order.
#[derive(Debug, Clone)]
pub enum Chunk {
    /// Float samples (stale markers are `aeon_model::stale_nan()`).
    Floats(Vec<Sample>),
    /// Native histogram samples.
    Histograms(Vec<(i64, Arc<FloatHistogram>)>),
}

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
    pub chunks: Box<dyn Iterator<Item = Result<Chunk>> + Send>,
}

impl std::fmt::Debug for SelectedSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectedSeries")
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

/// Something series can be selected from (a TSDB, a store gateway client, ...).
///
/// The engine consumes each series' chunk iterator lazily and in order, one
/// series after another, and may drop it before its end; an implementation
/// that decodes or fetches chunks on demand therefore keeps the engine's
/// memory bounded by the window it evaluates (see the crate docs). Series
/// should come sorted by labels (the engine sorts them otherwise).
pub trait Queryable: Send + Sync {
    /// Returns the series matching all `matchers`, with samples restricted to
    /// `[hints.start, hints.end]` (more samples are allowed; the engine filters).
    fn select(&self, matchers: &[Matcher], hints: &SelectHints) -> Result<Vec<SelectedSeries>>;
}

/// A simple in-memory [`Queryable`], used by tests and the promqltest runner.
#[derive(Debug, Default, Clone)]
pub struct MemStorage {
    series: BTreeMap<Labels, Arc<Vec<Point>>>,
}

/// A stored sample: a float or a histogram.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    pub(crate) t: i64,
    pub(crate) f: f64,
    pub(crate) h: Option<Arc<FloatHistogram>>,
}

impl MemStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a sample; samples of one series are kept sorted, a duplicate timestamp overwrites.
    pub fn append(&mut self, labels: Labels, t: i64, v: f64) {
        self.insert(labels, Point { t, f: v, h: None });
    }

    /// Appends a native histogram sample.
    pub fn append_histogram(&mut self, labels: Labels, t: i64, h: FloatHistogram) {
        self.insert(
            labels,
            Point {
                t,
                f: 0.0,
                h: Some(Arc::new(h)),
            },
        );
    }

    fn insert(&mut self, labels: Labels, p: Point) {
        let s = Arc::make_mut(self.series.entry(labels).or_default());
        match s.last() {
            Some(last) if last.t < p.t => s.push(p),
            None => s.push(p),
            _ => match s.binary_search_by_key(&p.t, |x| x.t) {
                Ok(i) => s[i] = p,
                Err(i) => s.insert(i, p),
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
            if lo == hi {
                continue;
            }
            let chunks = MemChunks {
                points: Arc::clone(samples),
                pos: lo,
                end: hi,
            };
            out.push(SelectedSeries {
                labels: labels.clone(),
                chunks: Box::new(chunks),
            });
        }
        Ok(out)
    }
}

/// The chunks of one series of a [`MemStorage`], cut lazily (at most
/// `CHUNK` samples of one kind each) from the shared samples.
struct MemChunks {
    points: Arc<Vec<Point>>,
    pos: usize,
    end: usize,
}

impl Iterator for MemChunks {
    type Item = Result<Chunk>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.end {
            return None;
        }
        let hist = self.points[self.pos].h.is_some();
        let mut stop = self.pos;
        while stop < self.end && stop - self.pos < CHUNK && self.points[stop].h.is_some() == hist {
            stop += 1;
        }
        let run = &self.points[self.pos..stop];
        self.pos = stop;
        Some(Ok(if hist {
            Chunk::Histograms(
                run.iter()
                    .filter_map(|p| Some((p.t, p.h.clone()?)))
                    .collect(),
            )
        } else {
            Chunk::Floats(run.iter().map(|p| Sample::new(p.t, p.f)).collect())
        }))
    }
}
