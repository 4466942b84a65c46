//! The evaluation engine: instant and range queries over a [`Queryable`].
//!
//! Evaluation is step-wise in the Prometheus way: each selector's series are
//! selected once for the whole time range the query needs (computed from
//! offsets, `@`, ranges, lookback and enclosing subqueries), then each node is
//! evaluated at each step. See the crate docs for what is held in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aeon_model::{Labels, METRIC_NAME, is_stale_nan};

use crate::aggregate;
use crate::ast::{AtModifier, Expr, Pos, VectorSelector};
use crate::binary;
use crate::error::{Error, Result};
use crate::functions;
use crate::parser::parse;
use crate::storage::{Chunk, Point};
use crate::storage::{Queryable, SelectHints};
use crate::value::{
    Annotation, AnnotationKind, FPoint, HPoint, Matrix, Sample, Series, Value, Vector,
};

/// Engine options.
#[derive(Debug, Clone)]
pub struct EngineOpts {
    /// How far back an instant selector looks for a sample (ms). Default 5m.
    pub lookback_delta: i64,
    /// Maximum number of samples a query may hold in memory at once.
    pub max_samples: usize,
    /// Maximum wall-clock duration of a query.
    pub timeout: Duration,
    /// Step of subqueries without an explicit step (ms). Default 1m.
    pub default_subquery_step: i64,
    /// Remove `__name__` only from the final result (Prometheus's
    /// `promql-delayed-name-removal` feature, on in its test engine). Off by
    /// default, as in a Prometheus server: every function or operator that
    /// drops the name drops it at once, and a result that then holds two
    /// series with the same labels is an error there.
    pub delayed_name_removal: bool,
}

impl Default for EngineOpts {
    fn default() -> Self {
        EngineOpts {
            lookback_delta: 5 * 60 * 1000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step: 60 * 1000,
            delayed_name_removal: false,
        }
    }
}

/// The result of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The value: a vector/scalar/string/matrix for instant queries, a matrix for range queries.
    pub value: Value,
    /// Warnings and infos, sorted and de-duplicated.
    pub annotations: Vec<Annotation>,
}

/// Parameters of one query execution.
#[derive(Debug, Clone, Default)]
pub struct QueryParams {
    /// Start (ms); equal to `end` for instant queries.
    pub start: i64,
    /// End (ms).
    pub end: i64,
    /// Step (ms); 0 for instant queries.
    pub step: i64,
    /// Set to true from another thread to cancel the query.
    pub cancel: Option<Arc<AtomicBool>>,
}

/// A PromQL engine.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOpts,
}

impl Engine {
    /// Creates an engine.
    pub fn new(opts: EngineOpts) -> Self {
        Engine { opts }
    }

    /// The options.
    pub fn opts(&self) -> &EngineOpts {
        &self.opts
    }

    /// Parses and evaluates an instant query at `t` (ms).
    pub fn instant_query(&self, q: &dyn Queryable, query: &str, t: i64) -> Result<QueryResult> {
        let expr = parse(query)?;
        self.exec(
            q,
            &expr,
            &QueryParams {
                start: t,
                end: t,
                step: 0,
                cancel: None,
            },
        )
    }

    /// Parses and evaluates a range query.
    pub fn range_query(
        &self,
        q: &dyn Queryable,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult> {
        let expr = parse(query)?;
        self.exec(
            q,
            &expr,
            &QueryParams {
                start,
                end,
                step,
                cancel: None,
            },
        )
    }

    /// Evaluates a parsed expression. `params.step == 0` means an instant query.
    pub fn exec(
        &self,
        q: &dyn Queryable,
        expr: &Expr,
        params: &QueryParams,
    ) -> Result<QueryResult> {
        let is_range = params.step > 0;
        if is_range {
            let t = expr.value_type();
            if t != crate::ValueType::Scalar && t != crate::ValueType::Vector {
                return Err(Error::exec(format!(
                    "invalid expression type {:?} for range query, must be Scalar or instant Vector",
                    t.name()
                )));
            }
            if params.end < params.start {
                return Err(Error::exec("end timestamp must not be before start time"));
            }
        }
        let mut ev = Evaluator {
            q,
            opts: &self.opts,
            start: params.start,
            end: params.end,
            interval: if is_range { params.step } else { 1 },
            data: HashMap::new(),
            annos: BTreeMap::new(),
            anno_seq: 0,
            param_stats: HashMap::new(),
            deadline: Instant::now() + self.opts.timeout,
            cancel: params.cancel.clone(),
            cursors: HashMap::new(),
            pre: HashMap::new(),
            group_cache: HashMap::new(),
            info_sel: HashMap::new(),
            held: 0,
            range_mode: is_range,
        };
        ev.prefetch(expr, &PathCtx::default())?;
        if is_range {
            ev.precompute(expr, params.start, params.end)?;
        }
        ev.check_limits()?;
        let value = if !is_range {
            let v = ev.eval(expr, params.start)?;
            check_paren_step_invariant(expr, &v)?;
            finish_instant(v)?
        } else if let Some(mut out) = ev.take_precomputed_matrix(expr) {
            let total: usize = out.iter().map(|s| s.floats.len()).sum();
            if ev.held + total > self.opts.max_samples {
                return Err(Error::TooManySamples("query execution"));
            }
            check_unique_sorted(&mut out)?;
            Value::Matrix(out)
        } else {
            let mut out: Vec<Series> = Vec::new();
            let mut index: HashMap<Labels, usize> = HashMap::new();
            let mut hints: Vec<usize> = Vec::new();
            let mut total = 0usize;
            let mut ts = params.start;
            while ts <= params.end {
                ev.check_limits()?;
                match ev.eval(expr, ts)? {
                    Value::Scalar { v, .. } => {
                        let i = *index.entry(Labels::empty()).or_insert_with(|| {
                            out.push(Series {
                                histograms: vec![],
                                metric: Labels::empty(),
                                floats: vec![],
                                drop_name: false,
                            });
                            out.len() - 1
                        });
                        out[i].floats.push(FPoint { t: ts, f: v });
                        total += 1;
                    }
                    Value::Vector(vec) => {
                        total += vec.len();
                        for (k, s) in vec.into_iter().enumerate() {
                            // Results usually come in the same order at every step:
                            // try the series of the previous step first.
                            let hinted = hints
                                .get(k)
                                .copied()
                                .filter(|&i| same_labels(&out[i].metric, &s.metric));
                            let i = match hinted.or_else(|| index.get(&s.metric).copied()) {
                                Some(i) => i,
                                None => {
                                    out.push(Series {
                                        histograms: vec![],
                                        metric: s.metric.clone(),
                                        floats: vec![],
                                        drop_name: false,
                                    });
                                    index.insert(s.metric, out.len() - 1);
                                    out.len() - 1
                                }
                            };
                            if k < hints.len() {
                                hints[k] = i;
                            } else {
                                hints.push(i);
                            }
                            if out[i].floats.last().is_some_and(|p| p.t == ts)
                                || out[i].histograms.last().is_some_and(|p| p.t == ts)
                            {
                                return Err(Error::exec(
                                    "vector cannot contain metrics with the same labelset",
                                ));
                            }
                            out[i].drop_name |= s.drop_name;
                            match s.h {
                                Some(h) => out[i].histograms.push(HPoint { t: ts, h }),
                                None => out[i].floats.push(FPoint { t: ts, f: s.f }),
                            }
                        }
                    }
                    other => {
                        return Err(Error::exec(format!(
                            "unexpected value type {} in range query",
                            other.type_name()
                        )));
                    }
                }
                if ev.held + total > self.opts.max_samples {
                    return Err(Error::TooManySamples("query execution"));
                }
                ts += params.step;
            }
            // Delayed name removal happens once per series, as in Prometheus.
            for s in &mut out {
                if s.drop_name {
                    s.metric = s.metric.without(&NAME_LABELS);
                    s.drop_name = false;
                }
            }
            check_unique_sorted(&mut out)?;
            Value::Matrix(out)
        };
        // An aggregation's parameter warnings count as raised when it was
        // last evaluated: a later annotation with the same text wins.
        for stats in std::mem::take(&mut ev.param_stats).into_values() {
            for w in stats.warnings() {
                let key = (AnnotationKind::Warning, w);
                if ev.annos.get(&key).is_none_or(|&(_, seq)| seq < stats.seq) {
                    ev.annos.insert(key, (stats.pos, stats.seq));
                }
            }
        }
        Ok(QueryResult {
            value,
            annotations: ev
                .annos
                .into_iter()
                .map(|((kind, msg), (pos, _))| Annotation { kind, msg, pos })
                .collect(),
        })
    }
}

/// Prometheus evaluates a query that does not depend on the step (a range
/// selector or subquery with `@`) once and copies its single sample per
/// series to every step; in parentheses it does not recognise the range, and
/// fails unless every series has exactly one sample in it. Reproduced.
fn check_paren_step_invariant(expr: &Expr, v: &Value) -> Result<()> {
    let Expr::Paren(..) = expr else {
        return Ok(());
    };
    let invariant = match expr.unparen() {
        Expr::Matrix { vs, .. } => vs.at.is_some(),
        Expr::Subquery { at, .. } => at.is_some(),
        _ => false,
    };
    if let (true, Value::Matrix(m)) = (invariant, v)
        && m.iter().any(|s| s.floats.len() + s.histograms.len() != 1)
    {
        return Err(Error::exec("unexpected number of samples"));
    }
    Ok(())
}

/// Sorts a range-query result by labels; series that became identical
/// (e.g. by name removal) are an error.
fn check_unique_sorted(out: &mut [Series]) -> Result<()> {
    out.sort_by(|a, b| a.metric.cmp(&b.metric));
    if out.windows(2).any(|w| w[0].metric == w[1].metric) {
        return Err(Error::exec(
            "vector cannot contain metrics with the same labelset",
        ));
    }
    Ok(())
}

fn finish_instant(v: Value) -> Result<Value> {
    Ok(match v {
        Value::Vector(vec) => {
            let mut out = Vec::with_capacity(vec.len());
            let mut any_drop = false;
            for mut s in vec {
                if s.drop_name {
                    s.metric = s.metric.without(&NAME_LABELS);
                    s.drop_name = false;
                    any_drop = true;
                }
                out.push(s);
            }
            if any_drop {
                check_duplicates(&out)?;
            }
            Value::Vector(out)
        }
        Value::Matrix(m) => {
            let mut out = Vec::with_capacity(m.len());
            for mut s in m {
                if s.drop_name {
                    s.metric = s.metric.without(&NAME_LABELS);
                    s.drop_name = false;
                }
                out.push(s);
            }
            let mut seen = std::collections::HashSet::new();
            for s in &out {
                if !seen.insert(s.metric.clone()) {
                    return Err(Error::exec(
                        "vector cannot contain metrics with the same labelset",
                    ));
                }
            }
            Value::Matrix(out)
        }
        v => v,
    })
}

/// Label sets that share storage are equal without comparing strings.
fn same_labels(a: &Labels, b: &Labels) -> bool {
    let (x, y) = (a.as_slice(), b.as_slice());
    (std::ptr::eq(x.as_ptr(), y.as_ptr()) && x.len() == y.len()) || a == b
}

/// Labels removed together with the metric name (`__type__`/`__unit__` of the type-and-unit feature).
pub(crate) const NAME_LABELS: [&str; 3] = [METRIC_NAME, "__type__", "__unit__"];

/// Errors when two samples of `v` have the same labels.
pub(crate) fn check_duplicates(v: &[Sample]) -> Result<()> {
    if v.len() < 2 {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::with_capacity(v.len());
    for s in v {
        if !seen.insert(&s.metric) {
            return Err(Error::exec(
                "vector cannot contain metrics with the same labelset",
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, Default)]
struct PathCtx {
    /// Sum of enclosing subquery offsets.
    offset: i64,
    /// Sum of enclosing subquery ranges.
    range: i64,
    /// `@` of the innermost enclosing subquery that has one.
    at: Option<i64>,
}

/// Fetched data of one selector.
pub(crate) struct SeriesData {
    pub labels: Labels,
    pub samples: Vec<Point>,
}

pub(crate) struct Evaluator<'a> {
    q: &'a dyn Queryable,
    pub(crate) opts: &'a EngineOpts,
    pub(crate) start: i64,
    pub(crate) end: i64,
    interval: i64,
    data: HashMap<usize, Arc<Vec<SeriesData>>>,
    /// Annotations by kind and message; as in Prometheus, one message is
    /// kept once, with the position of the last expression that raised it.
    annos: BTreeMap<(AnnotationKind, String), (Pos, u64)>,
    /// Counts annotations raised, so that the last one raised wins.
    anno_seq: u64,
    /// Parameters of aggregations, by node, warned about at the end.
    pub(crate) param_stats: HashMap<usize, aggregate::ParamStats>,
    deadline: Instant,
    cancel: Option<Arc<AtomicBool>>,
    /// Per selector and series: positions found at the previous step, so that
    /// step-wise evaluation scans forward instead of binary searching.
    cursors: HashMap<usize, Vec<(usize, usize)>>,
    /// Range-function results computed series by series for all steps.
    pre: HashMap<usize, Precomputed>,
    /// Grouping keys of aggregations by input label set (identified by its
    /// storage, which the cached clone keeps alive) and grouping clause.
    group_cache: HashMap<(usize, usize, usize, bool), (Labels, Labels)>,
    /// Selectors of the info series of `info` calls, by call node.
    info_sel: HashMap<usize, VectorSelector>,
    /// Samples currently held: loaded selector data and precomputed results.
    held: usize,
    /// Whether this is a range query (range functions are then streamed).
    range_mode: bool,
}

/// Results of a range function over a plain range selector for every step of
/// a range query, computed series by series (cache friendly) and read step by step.
struct Precomputed {
    labels: Vec<Labels>,
    /// `values[series * steps + step]`; `ABSENT` bits where there is no value.
    values: Vec<f64>,
    steps: usize,
    keep_name: bool,
    /// Number of present values (held samples).
    present: usize,
}

const ABSENT: u64 = 0x7ff8_dead_beef_0001;

/// The samples of one selected series, decoded one chunk at a time.
pub(crate) struct PointStream {
    chunks: Box<dyn Iterator<Item = Result<Chunk>> + Send>,
    floats: std::vec::IntoIter<aeon_model::Sample>,
    hists: std::vec::IntoIter<(i64, Arc<crate::nativehist::FloatHistogram>)>,
}

impl PointStream {
    pub(crate) fn new(chunks: Box<dyn Iterator<Item = Result<Chunk>> + Send>) -> Self {
        PointStream {
            chunks,
            floats: Vec::new().into_iter(),
            hists: Vec::new().into_iter(),
        }
    }

    /// The next sample, or `None` at the end of the series.
    pub(crate) fn next(&mut self) -> Result<Option<Point>> {
        loop {
            if let Some(x) = self.floats.next() {
                return Ok(Some(Point {
                    t: x.t,
                    f: x.v,
                    h: None,
                }));
            }
            if let Some((t, h)) = self.hists.next() {
                return Ok(Some(Point {
                    t,
                    f: 0.0,
                    h: Some(h),
                }));
            }
            match self.chunks.next() {
                None => return Ok(None),
                Some(c) => match c? {
                    Chunk::Floats(v) => self.floats = v.into_iter(),
                    Chunk::Histograms(v) => self.hists = v.into_iter(),
                },
            }
        }
    }
}

/// Index of the first sample with `t > target`, starting from a hint.
fn seek(samples: &[Point], hint: &mut usize, target: i64) -> usize {
    let mut i = *hint;
    if i > samples.len() || (i > 0 && samples[i - 1].t > target) {
        i = samples.partition_point(|x| x.t <= target);
    } else {
        let mut n = 0;
        while i < samples.len() && samples[i].t <= target {
            i += 1;
            n += 1;
            if n == 16 {
                i += samples[i..].partition_point(|x| x.t <= target);
                break;
            }
        }
    }
    *hint = i;
    i
}

fn key(vs: &VectorSelector) -> usize {
    vs as *const VectorSelector as usize
}

impl Evaluator<'_> {
    /// A place in the order annotations are raised in.
    pub(crate) fn next_anno_seq(&mut self) -> u64 {
        self.anno_seq += 1;
        self.anno_seq
    }

    /// Records a warning about the expression starting at `pos`.
    pub(crate) fn warn(&mut self, msg: String, pos: Pos) {
        self.anno_seq += 1;
        self.annos
            .insert((AnnotationKind::Warning, msg), (pos, self.anno_seq));
    }

    /// Records an info annotation about the expression starting at `pos`.
    pub(crate) fn info(&mut self, msg: String, pos: Pos) {
        self.anno_seq += 1;
        self.annos
            .insert((AnnotationKind::Info, msg), (pos, self.anno_seq));
    }

    fn check_limits(&self) -> Result<()> {
        if self
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(Error::Canceled("query execution"));
        }
        if Instant::now() > self.deadline {
            return Err(Error::Timeout("query execution"));
        }
        Ok(())
    }

    pub(crate) fn resolve_at(&self, at: Option<AtModifier>) -> Option<i64> {
        at.map(|a| match a {
            AtModifier::At(t) => t,
            AtModifier::Start => self.start,
            AtModifier::End => self.end,
        })
    }

    fn prefetch(&mut self, e: &Expr, ctx: &PathCtx) -> Result<()> {
        match e {
            Expr::Vector(vs) => self.fetch(vs, 0, ctx, None),
            Expr::Matrix { vs, range } => self.fetch(vs, *range, ctx, None),
            Expr::Subquery {
                expr,
                range,
                offset,
                at,
                ..
            } => {
                let sub = match self.resolve_at(*at) {
                    // An `@` pins the subquery: enclosing offsets no longer matter.
                    Some(t) => PathCtx {
                        offset: *offset,
                        range: *range,
                        at: Some(t),
                    },
                    None => PathCtx {
                        offset: ctx.offset + offset,
                        range: ctx.range + range,
                        at: ctx.at,
                    },
                };
                self.prefetch(expr, &sub)
            }
            Expr::Neg(e, _) | Expr::Plus(e, _) | Expr::Paren(e, _) => self.prefetch(e, ctx),
            Expr::Binary { lhs, rhs, .. } => {
                self.prefetch(lhs, ctx)?;
                self.prefetch(rhs, ctx)
            }
            Expr::Aggregate { expr, param, .. } => {
                if let Some(p) = param {
                    self.prefetch(p, ctx)?;
                }
                self.prefetch(expr, ctx)
            }
            Expr::Call { func, args, .. } if func.name == "info" => {
                // The second argument only selects info series and data labels.
                if let Some(a) = args.first() {
                    match a {
                        Expr::Vector(vs) => self.fetch(vs, 0, ctx, Some(func.name))?,
                        a => self.prefetch(a, ctx)?,
                    }
                }
                let sel = crate::info::info_selector(args);
                let loaded = self.load(&sel, 0, ctx, Some(func.name))?;
                let k = e as *const Expr as usize;
                self.data.insert(k, Arc::new(loaded));
                self.info_sel.insert(k, sel);
                Ok(())
            }
            Expr::Call { func, args, .. }
                if self.range_mode
                    && ctx.range == 0
                    && ctx.offset == 0
                    && ctx.at.is_none()
                    && Self::precomputable(func, args).is_some() =>
            {
                // Streamed series by series by `precompute`.
                Ok(())
            }
            Expr::Call { func, args, .. } => {
                for a in args {
                    match a {
                        Expr::Matrix { vs, range } => {
                            self.fetch(vs, *range, ctx, Some(func.name))?
                        }
                        Expr::Vector(vs) => self.fetch(vs, 0, ctx, Some(func.name))?,
                        a => self.prefetch(a, ctx)?,
                    }
                }
                Ok(())
            }
            Expr::Number(..) | Expr::String(..) => Ok(()),
        }
    }

    fn fetch(
        &mut self,
        vs: &VectorSelector,
        range: i64,
        ctx: &PathCtx,
        func: Option<&str>,
    ) -> Result<()> {
        let out = self.load(vs, range, ctx, func)?;
        self.data.insert(key(vs), Arc::new(out));
        Ok(())
    }

    /// The select hints for `vs` (with `range` for range selectors) under `ctx`.
    fn hints_for(
        &self,
        vs: &VectorSelector,
        range: i64,
        ctx: &PathCtx,
        func: Option<&str>,
    ) -> SelectHints {
        let (mut start, mut end) = (self.start, self.end);
        if let Some(t) = ctx.at {
            start = t;
            end = t;
        }
        if let Some(t) = self.resolve_at(vs.at) {
            start = t;
            end = t;
        }
        start -= if range == 0 {
            self.opts.lookback_delta
        } else {
            range
        };
        if vs.at.is_none() {
            // The selector's own `@` overrides everything of enclosing subqueries.
            start -= ctx.offset + ctx.range;
            end -= ctx.offset;
        }
        start -= vs.offset;
        end -= vs.offset;
        SelectHints {
            start,
            end,
            step: self.interval,
            range,
            func: func.map(str::to_string),
        }
    }

    /// Counts `n` more samples held in memory; errors past `max_samples`.
    pub(crate) fn hold(&mut self, n: usize) -> Result<()> {
        self.held += n;
        if self.held > self.opts.max_samples {
            return Err(Error::TooManySamples("query execution"));
        }
        Ok(())
    }

    /// Selects and decodes the series of `vs` for the time range the query
    /// needs. Samples are decoded chunk by chunk; an instant selector that is
    /// only evaluated at the query's own steps (not inside a subquery) keeps
    /// just the samples some step will read (at most one per step and series).
    fn load(
        &mut self,
        vs: &VectorSelector,
        range: i64,
        ctx: &PathCtx,
        func: Option<&str>,
    ) -> Result<Vec<SeriesData>> {
        let hints = self.hints_for(vs, range, ctx, func);
        let selected = self.q.select(&vs.matchers, &hints)?;
        let thin = range == 0 && ctx.range == 0 && ctx.offset == 0 && ctx.at.is_none();
        let at = self.resolve_at(vs.at);
        let steps = if at.is_some() {
            1
        } else {
            ((self.end - self.start) / self.interval + 1) as usize
        };
        let (q_start, interval, offset) = (self.start, self.interval, vs.offset);
        let step_t = |k: usize| at.unwrap_or(q_start + k as i64 * interval) - offset;
        let lookback = self.opts.lookback_delta;
        let mut out = Vec::with_capacity(selected.len());
        for (i, s) in selected.into_iter().enumerate() {
            if i % 256 == 255 {
                self.check_limits()?;
            }
            let mut stream = PointStream::new(s.chunks);
            let mut samples = Vec::new();
            if thin {
                // For each step, the last sample at or before it (kept even
                // when stale, so that no older sample is picked instead).
                let keep = |q: &Point, t: i64, kept: &Vec<Point>| {
                    kept.last().is_none_or(|l| l.t != q.t)
                        && (q.t > t - lookback || (q.h.is_none() && is_stale_nan(q.f)))
                };
                let mut pending: Option<Point> = None;
                let mut k = 0;
                while let Some(p) = stream.next()? {
                    while k < steps && step_t(k) < p.t {
                        if let Some(q) = pending.take() {
                            if keep(&q, step_t(k), &samples) {
                                samples.push(q.clone());
                            }
                            pending = Some(q);
                        }
                        k += 1;
                    }
                    if k >= steps {
                        break;
                    }
                    pending = Some(p);
                }
                if let Some(q) = pending {
                    if (k..steps).any(|k| keep(&q, step_t(k), &samples)) {
                        samples.push(q);
                    }
                }
            } else {
                while let Some(p) = stream.next()? {
                    samples.push(p);
                }
            }
            self.hold(samples.len())?;
            out.push(SeriesData {
                labels: s.labels,
                samples,
            });
        }
        if !out.is_sorted_by(|a, b| a.labels <= b.labels) {
            out.sort_by(|a, b| a.labels.cmp(&b.labels));
        }
        Ok(out)
    }

    /// The info series of an `info` call (loaded by prefetch) and the
    /// synthetic selector they were selected with; at `ts`, the latest
    /// sample of each within the lookback delta, valued by its timestamp.
    pub(crate) fn info_samples(&mut self, call: &Expr, ts: i64) -> Result<Vec<(Labels, i64)>> {
        let k = call as *const Expr as usize;
        let (Some(data), Some(sel)) = (self.data.get(&k).cloned(), self.info_sel.get(&k)) else {
            return Ok(Vec::new());
        };
        let t = self.resolve_at(sel.at).unwrap_or(ts) - sel.offset;
        let lb = t - self.opts.lookback_delta;
        let cur = self
            .cursors
            .entry(k)
            .or_insert_with(|| vec![(0, 0); data.len()]);
        let mut out = Vec::new();
        for (s, c) in data.iter().zip(cur.iter_mut()) {
            let idx = seek(&s.samples, &mut c.1, t);
            if idx == 0 {
                continue;
            }
            let smp = &s.samples[idx - 1];
            if smp.t <= lb || (smp.h.is_none() && is_stale_nan(smp.f)) {
                continue;
            }
            if smp.h.is_some() {
                return Err(Error::exec("info sample should be float"));
            }
            out.push((s.labels.clone(), smp.t));
        }
        Ok(out)
    }

    fn series_for(&mut self, vs: &VectorSelector) -> Result<Arc<Vec<SeriesData>>> {
        if !self.data.contains_key(&key(vs)) {
            // Not prefetched (should not happen); fetch the widest range.
            let ctx = PathCtx {
                offset: 0,
                range: i64::MAX / 4,
                at: None,
            };
            self.fetch(vs, 0, &ctx, None)?;
        }
        Ok(self.data.get(&key(vs)).cloned().unwrap_or_default())
    }

    /// Evaluates an instant vector selector; `keep_ts` keeps sample timestamps (for `timestamp()`).
    pub(crate) fn eval_vector_selector(
        &mut self,
        vs: &VectorSelector,
        ts: i64,
        keep_ts: bool,
    ) -> Result<Vector> {
        let data = self.series_for(vs)?;
        let t = self.resolve_at(vs.at).unwrap_or(ts) - vs.offset;
        let lb = t - self.opts.lookback_delta;
        let mut out = Vec::new();
        let cur = self
            .cursors
            .entry(key(vs))
            .or_insert_with(|| vec![(0, 0); data.len()]);
        for (s, c) in data.iter().zip(cur.iter_mut()) {
            let idx = seek(&s.samples, &mut c.1, t);
            if idx == 0 {
                continue;
            }
            let smp = &s.samples[idx - 1];
            if smp.t <= lb || (smp.h.is_none() && is_stale_nan(smp.f)) {
                continue;
            }
            out.push(Sample {
                h: smp.h.clone(),
                metric: s.labels.clone(),
                t: if keep_ts { smp.t } else { ts },
                f: smp.f,
                drop_name: false,
            });
        }
        if self.held + out.len() > self.opts.max_samples {
            return Err(Error::TooManySamples("query execution"));
        }
        Ok(out)
    }

    /// Evaluates a range selector: samples in `(t-range, t]`.
    pub(crate) fn eval_matrix_selector(
        &mut self,
        vs: &VectorSelector,
        range: i64,
        ts: i64,
    ) -> Result<Matrix> {
        let data = self.series_for(vs)?;
        let t = self.resolve_at(vs.at).unwrap_or(ts) - vs.offset;
        let lo = t - range;
        let mut out = Vec::new();
        let mut total = 0;
        let cur = self
            .cursors
            .entry(key(vs))
            .or_insert_with(|| vec![(0, 0); data.len()]);
        for (s, c) in data.iter().zip(cur.iter_mut()) {
            let a = seek(&s.samples, &mut c.0, lo);
            let b = seek(&s.samples, &mut c.1, t);
            let mut floats = Vec::new();
            let mut histograms = Vec::new();
            for x in &s.samples[a..b] {
                match &x.h {
                    Some(h) => histograms.push(HPoint {
                        t: x.t,
                        h: h.clone(),
                    }),
                    None if !is_stale_nan(x.f) => floats.push(FPoint { t: x.t, f: x.f }),
                    None => {}
                }
            }
            if floats.is_empty() && histograms.is_empty() {
                continue;
            }
            total += floats.len() + histograms.len();
            out.push(Series {
                histograms,
                metric: s.labels.clone(),
                floats,
                drop_name: false,
            });
        }
        if self.held + total > self.opts.max_samples {
            return Err(Error::TooManySamples("query execution"));
        }
        Ok(out)
    }

    fn eval_subquery(&mut self, e: &Expr, ts: i64) -> Result<Matrix> {
        let Expr::Subquery {
            expr,
            range,
            step,
            offset,
            at,
        } = e
        else {
            return Ok(vec![]);
        };
        let step = if *step == 0 {
            self.opts.default_subquery_step
        } else {
            *step
        };
        let end = self.resolve_at(*at).unwrap_or(ts) - offset;
        let lo = end - range;
        let mut first = lo.div_euclid(step) * step;
        if first <= lo {
            first += step;
        }
        let mut out: Vec<Series> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut total = 0usize;
        let mut t = first;
        while t <= end {
            self.check_limits()?;
            match self.eval(expr, t)? {
                Value::Vector(v) => {
                    total += v.len();
                    for s in v {
                        let i = match index.get(&s.metric) {
                            Some(&i) => i,
                            None => {
                                out.push(Series {
                                    histograms: vec![],
                                    metric: s.metric.clone(),
                                    floats: vec![],
                                    drop_name: s.drop_name,
                                });
                                index.insert(s.metric, out.len() - 1);
                                out.len() - 1
                            }
                        };
                        match s.h {
                            Some(h) => out[i].histograms.push(HPoint { t, h }),
                            None => out[i].floats.push(FPoint { t, f: s.f }),
                        }
                    }
                }
                Value::Scalar { v, .. } => {
                    let i = *index.entry(Labels::empty()).or_insert_with(|| {
                        out.push(Series {
                            histograms: vec![],
                            metric: Labels::empty(),
                            floats: vec![],
                            drop_name: false,
                        });
                        out.len() - 1
                    });
                    out[i].floats.push(FPoint { t, f: v });
                    total += 1;
                }
                _ => {}
            }
            if self.held + total > self.opts.max_samples {
                return Err(Error::TooManySamples("query execution"));
            }
            t += step;
        }
        Ok(out)
    }

    /// Evaluates an expression to a matrix (range selector or subquery).
    pub(crate) fn eval_matrix(&mut self, e: &Expr, ts: i64) -> Result<Matrix> {
        match e {
            Expr::Matrix { vs, range } => self.eval_matrix_selector(vs, *range, ts),
            Expr::Subquery { .. } => self.eval_subquery(e, ts),
            Expr::Paren(e, _) => self.eval_matrix(e, ts),
            other => match self.eval(other, ts)? {
                Value::Matrix(m) => Ok(m),
                v => Err(Error::exec(format!(
                    "expected range vector, got {}",
                    v.type_name()
                ))),
            },
        }
    }

    /// Evaluates an expression that must yield an instant vector.
    pub(crate) fn eval_vector(&mut self, e: &Expr, ts: i64) -> Result<Vector> {
        match self.eval(e, ts)? {
            Value::Vector(v) => Ok(v),
            v => Err(Error::exec(format!(
                "expected instant vector, got {}",
                v.type_name()
            ))),
        }
    }

    /// Evaluates an expression that must yield a scalar.
    pub(crate) fn eval_scalar(&mut self, e: &Expr, ts: i64) -> Result<f64> {
        match self.eval(e, ts)? {
            Value::Scalar { v, .. } => Ok(v),
            v => Err(Error::exec(format!(
                "expected scalar, got {}",
                v.type_name()
            ))),
        }
    }

    /// The grouping key of `m` for an aggregation, cached across steps.
    pub(crate) fn group_key(&mut self, m: &Labels, grouping: &[String], without: bool) -> Labels {
        let k = (
            m.as_slice().as_ptr() as usize,
            grouping.as_ptr() as usize,
            grouping.len(),
            without,
        );
        if let Some((orig, key)) = self.group_cache.get(&k) {
            if same_labels(orig, m) {
                return key.clone();
            }
        }
        let key = crate::aggregate::group_labels(m, grouping, without);
        if self.group_cache.len() < 1_000_000 {
            self.group_cache.insert(k, (m.clone(), key.clone()));
        }
        key
    }

    fn precompute(&mut self, e: &Expr, start: i64, end: i64) -> Result<()> {
        match e {
            Expr::Call { func, args, .. } => {
                if !self.try_precompute(e, func, args, start, end)? {
                    for a in args {
                        self.precompute(a, start, end)?;
                    }
                }
                Ok(())
            }
            Expr::Neg(x, _) | Expr::Plus(x, _) | Expr::Paren(x, _) => {
                self.precompute(x, start, end)
            }
            Expr::Binary { lhs, rhs, .. } => {
                self.precompute(lhs, start, end)?;
                self.precompute(rhs, start, end)
            }
            Expr::Aggregate {
                op,
                expr,
                param,
                grouping,
                without,
                ..
            } => {
                if let Some(p) = param {
                    self.precompute(p, start, end)?;
                }
                self.precompute(expr, start, end)?;
                if param.is_none() {
                    self.precompute_aggregate(e, *op, expr, grouping, *without)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Whether `func(args)` is a range function over a plain range selector
    /// with literal scalar arguments, which range queries compute series by
    /// series; returns the selector, its range and the scalar arguments.
    fn precomputable<'e>(
        func: &crate::functions::FunctionDef,
        args: &'e [Expr],
    ) -> Option<(&'e VectorSelector, i64, Vec<f64>)> {
        let name = func.name;
        if func.args.first() != Some(&crate::ValueType::Matrix) && name != "quantile_over_time" {
            return None;
        }
        if matches!(name, "absent_over_time" | "double_exponential_smoothing") {
            return None;
        }
        let mi = usize::from(name == "quantile_over_time");
        let Some(Expr::Matrix { vs, range }) = args.get(mi).map(Expr::unparen) else {
            return None;
        };
        let mut scalars = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if i == mi {
                continue;
            }
            match a.unparen() {
                Expr::Number(n, _) => scalars.push(*n),
                _ => return None,
            }
        }
        if name == "quantile_over_time" && !(0.0..=1.0).contains(&scalars[0]) {
            return None;
        }
        Some((vs, *range, scalars))
    }

    /// Computes a range function over a range selector for every step of the
    /// range query, streaming each series' samples through a window: only the
    /// samples of one window of one series are in memory at a time, plus the
    /// results. Falls back (loading the selector, returning false) for
    /// histograms or results too large to hold.
    fn try_precompute(
        &mut self,
        e: &Expr,
        func: &crate::functions::FunctionDef,
        args: &[Expr],
        start: i64,
        end: i64,
    ) -> Result<bool> {
        let name = func.name;
        let Some((vs, range, scalars)) = Self::precomputable(func, args) else {
            return Ok(false);
        };
        let top = PathCtx::default();
        let fallback = |ev: &mut Self| -> Result<bool> {
            if !ev.data.contains_key(&key(vs)) {
                ev.fetch(vs, range, &top, Some(name))?;
            }
            Ok(false)
        };
        let steps = ((end - start) / self.interval + 1) as usize;
        let hints = self.hints_for(vs, range, &top, Some(name));
        let selected = self.q.select(&vs.matchers, &hints)?;
        let n = selected.len();
        if n.saturating_mul(steps) > self.opts.max_samples {
            return fallback(self);
        }
        let mut values = vec![f64::from_bits(ABSENT); n * steps];
        let mut had_points = vec![false; n];
        let at = self.resolve_at(vs.at);
        let mut labels = Vec::with_capacity(n);
        // The window is `window[head..]`; consumed samples are dropped in batches.
        let mut window: Vec<FPoint> = Vec::new();
        let mut present = 0usize;
        let mut peak_window = 0usize;
        for (i, sd) in selected.into_iter().enumerate() {
            labels.push(sd.labels);
            let mut chunks = sd.chunks;
            // The current chunk's samples from `ci` on.
            let mut cur: Vec<aeon_model::Sample> = Vec::new();
            let mut ci = 0;
            let mut exhausted = false;
            window.clear();
            let mut head = 0;
            // Index in `window` of the last sample lower than its predecessor.
            let mut last_drop = 0usize;
            for k in 0..steps {
                let ts = start + k as i64 * self.interval;
                let t = at.unwrap_or(ts) - vs.offset;
                loop {
                    if ci == cur.len() {
                        if exhausted {
                            break;
                        }
                        match chunks.next().transpose()? {
                            None => {
                                exhausted = true;
                                break;
                            }
                            Some(Chunk::Floats(v)) => {
                                cur = v;
                                ci = 0;
                                continue;
                            }
                            Some(Chunk::Histograms(_)) => return fallback(self),
                        }
                    }
                    let p = cur[ci];
                    if p.t > t {
                        break;
                    }
                    ci += 1;
                    if !is_stale_nan(p.v) {
                        if head > 64 && head * 2 > window.len() {
                            window.drain(..head);
                            last_drop = last_drop.saturating_sub(head);
                            head = 0;
                        }
                        if window.last().is_some_and(|l| p.v < l.f) {
                            last_drop = window.len();
                        }
                        window.push(FPoint { t: p.t, f: p.v });
                    }
                }
                while head < window.len() && window[head].t <= t - range {
                    head += 1;
                }
                let w = &window[head..];
                if w.is_empty() {
                    continue;
                }
                peak_window = peak_window.max(w.len());
                // Without a drop after the window's first sample there is no
                // counter reset to look for.
                let value = if last_drop <= head {
                    crate::functions::range::float_value_without_drops
                } else {
                    crate::functions::range::float_value
                };
                if let Some(v) = value(name, w, t, range, ts, &scalars)? {
                    had_points[i] = true;
                    values[i * steps + k] = v;
                    present += 1;
                }
            }
            if self.held + present + peak_window > self.opts.max_samples {
                return Err(Error::TooManySamples("query execution"));
            }
            if i % 256 == 255 {
                self.check_limits()?;
            }
        }
        self.hold(present)?;
        // Keep the label order of the storage's series set (sorted).
        if !labels.is_sorted() {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| labels[a].cmp(&labels[b]));
            let mut sorted = Vec::with_capacity(n * steps);
            for &i in &order {
                sorted.extend_from_slice(&values[i * steps..(i + 1) * steps]);
            }
            values = sorted;
            labels = order.iter().map(|&i| labels[i].clone()).collect();
        }
        // As Prometheus: each series with float samples in a window, by its
        // own metric name.
        if matches!(name, "rate" | "increase") {
            for (l, had) in labels.iter().zip(&had_points) {
                if let Some(m) = l.get(aeon_model::METRIC_NAME)
                    && *had
                    && !crate::functions::counter_like_name(m)
                {
                    self.info(crate::functions::possible_non_counter(m), vs.pos);
                }
            }
        }
        // As Prometheus (without delayed name removal): the function's whole
        // result, all steps, must not hold two series with the same labels
        // once the name is dropped.
        if !self.opts.delayed_name_removal && name != "last_over_time" {
            let mut seen = std::collections::HashSet::new();
            for (i, l) in labels.iter().enumerate() {
                let col = &values[i * steps..(i + 1) * steps];
                if col.iter().any(|f| f.to_bits() != ABSENT)
                    && !seen.insert(l.without(&NAME_LABELS))
                {
                    return Err(Error::exec(
                        "vector cannot contain metrics with the same labelset",
                    ));
                }
            }
        }
        self.pre.insert(
            e as *const Expr as usize,
            Precomputed {
                labels,
                values,
                steps,
                keep_name: name == "last_over_time",
                present,
            },
        );
        Ok(true)
    }

    /// Aggregates a precomputed range-function result for all steps at once:
    /// each input series' group is found once, not at every step.
    fn precompute_aggregate(
        &mut self,
        e: &Expr,
        op: crate::ast::AggOp,
        expr: &Expr,
        grouping: &[String],
        without: bool,
    ) -> Result<()> {
        use crate::ast::AggOp;
        if !matches!(
            op,
            AggOp::Sum
                | AggOp::Avg
                | AggOp::Count
                | AggOp::Min
                | AggOp::Max
                | AggOp::Group
                | AggOp::Stddev
                | AggOp::Stdvar
        ) || (!without && grouping.iter().any(|g| g == METRIC_NAME))
        {
            return Ok(());
        }
        let inner_key = expr.unparen() as *const Expr as usize;
        let Some(inner) = self.pre.remove(&inner_key) else {
            return Ok(());
        };
        let n = inner.labels.len();
        let steps = inner.steps;
        let mut groups: Vec<Labels> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut group_of = Vec::with_capacity(n);
        for l in &inner.labels {
            let k = crate::aggregate::group_labels(l, grouping, without);
            let gi = *index.entry(k.clone()).or_insert_with(|| {
                groups.push(k);
                groups.len() - 1
            });
            group_of.push(gi);
        }
        let g = groups.len();
        let mut values = vec![f64::from_bits(ABSENT); g * steps];
        // Accumulators per group and step, fed series by series (in series
        // order, as step-wise aggregation does).
        let mut accs = vec![crate::aggregate::FloatAcc::default(); g * steps];
        let mut counts = vec![0u32; g * steps];
        for (i, &gi) in group_of.iter().enumerate() {
            let col = &inner.values[i * steps..(i + 1) * steps];
            let accs = &mut accs[gi * steps..(gi + 1) * steps];
            let counts = &mut counts[gi * steps..(gi + 1) * steps];
            for ((v, acc), c) in col.iter().zip(accs.iter_mut()).zip(counts.iter_mut()) {
                if v.to_bits() == ABSENT {
                    continue;
                }
                *c += 1;
                acc.add(op, *v);
            }
        }
        let mut present = 0;
        for ((o, c), acc) in values.iter_mut().zip(&counts).zip(&accs) {
            if *c == 0 {
                continue;
            }
            present += 1;
            *o = match op {
                AggOp::Count => f64::from(*c),
                AggOp::Group => 1.0,
                _ => acc.result(op),
            };
        }
        self.held = self.held.saturating_sub(inner.present);
        self.hold(present)?;
        self.pre.insert(
            e as *const Expr as usize,
            Precomputed {
                labels: groups,
                values,
                steps,
                keep_name: true,
                present,
            },
        );
        Ok(())
    }

    /// The whole result of a range query whose expression was precomputed.
    fn take_precomputed_matrix(&mut self, e: &Expr) -> Option<Vec<Series>> {
        let pre = self.pre.remove(&(e.unparen() as *const Expr as usize))?;
        let mut out = Vec::new();
        for (i, l) in pre.labels.into_iter().enumerate() {
            let col = &pre.values[i * pre.steps..(i + 1) * pre.steps];
            let present = col.iter().filter(|f| f.to_bits() != ABSENT).count();
            let mut floats = Vec::with_capacity(present);
            for (k, &f) in col.iter().enumerate() {
                if f.to_bits() != ABSENT {
                    floats.push(FPoint {
                        t: self.start + k as i64 * self.interval,
                        f,
                    });
                }
            }
            if floats.is_empty() {
                continue;
            }
            out.push(Series {
                metric: if pre.keep_name {
                    l
                } else {
                    l.without(&NAME_LABELS)
                },
                floats,
                histograms: vec![],
                drop_name: false,
            });
        }
        Some(out)
    }

    fn precomputed_at(&self, e: &Expr, ts: i64) -> Option<Vector> {
        let pre = self.pre.get(&(e as *const Expr as usize))?;
        if ts < self.start || (ts - self.start) % self.interval != 0 {
            return None;
        }
        let k = ((ts - self.start) / self.interval) as usize;
        if k >= pre.steps {
            return None;
        }
        let mut out = Vec::new();
        for (i, l) in pre.labels.iter().enumerate() {
            let v = pre.values[i * pre.steps + k];
            if v.to_bits() == ABSENT {
                continue;
            }
            out.push(Sample {
                h: None,
                metric: l.clone(),
                t: ts,
                f: v,
                drop_name: !pre.keep_name,
            });
        }
        Some(out)
    }

    /// Evaluates `e` at time `ts` (ms). Without delayed name removal, a
    /// node that drops the metric name drops it here, and its result must not
    /// hold two series with the same labels (as Prometheus checks after each
    /// function, operator and unary minus).
    pub(crate) fn eval(&mut self, e: &Expr, ts: i64) -> Result<Value> {
        let mut v = self.eval_node(e, ts)?;
        if self.opts.delayed_name_removal {
            return Ok(v);
        }
        if let Value::Vector(vec) = &mut v {
            let mut dropped = false;
            for s in vec.iter_mut() {
                if s.drop_name {
                    s.metric = s.metric.without(&NAME_LABELS);
                    s.drop_name = false;
                    dropped = true;
                }
            }
            let relabels = matches!(e, Expr::Call { func, .. }
                if func.name == "label_replace" || func.name == "label_join");
            if (dropped || relabels)
                && matches!(e, Expr::Neg(..) | Expr::Binary { .. } | Expr::Call { .. })
            {
                check_duplicates(vec)?;
            }
        }
        Ok(v)
    }

    fn eval_node(&mut self, e: &Expr, ts: i64) -> Result<Value> {
        if let Expr::Call { .. } | Expr::Aggregate { .. } = e {
            if let Some(v) = self.precomputed_at(e, ts) {
                return Ok(Value::Vector(v));
            }
        }
        match e {
            Expr::Number(n, _) => Ok(Value::Scalar { t: ts, v: *n }),
            Expr::String(s, _) => Ok(Value::String {
                t: ts,
                v: s.clone(),
            }),
            Expr::Paren(e, _) => self.eval(e, ts),
            Expr::Vector(vs) => Ok(Value::Vector(self.eval_vector_selector(vs, ts, false)?)),
            Expr::Matrix { .. } | Expr::Subquery { .. } => {
                Ok(Value::Matrix(self.eval_matrix(e, ts)?))
            }
            Expr::Plus(inner, _) => self.eval(inner, ts),
            Expr::Neg(inner, _) => Ok(match self.eval(inner, ts)? {
                Value::Scalar { t, v } => Value::Scalar { t, v: -v },
                Value::Vector(mut v) => {
                    for s in &mut v {
                        s.f = -s.f;
                        if let Some(h) = &mut s.h {
                            Arc::make_mut(h).mul(-1.0);
                        }
                        s.drop_name = true;
                    }
                    Value::Vector(v)
                }
                v => v,
            }),
            Expr::Binary {
                op,
                lhs,
                rhs,
                return_bool,
                matching,
            } => {
                let l = self.eval(lhs, ts)?;
                let r = self.eval(rhs, ts)?;
                binary::eval_binary(
                    self,
                    *op,
                    l,
                    r,
                    *return_bool,
                    matching.as_ref(),
                    ts,
                    e.pos(),
                )
            }
            Expr::Aggregate {
                op,
                expr,
                param,
                grouping,
                without,
                pos,
            } => {
                let p = match param {
                    Some(p) => Some(self.eval(p, ts)?),
                    None => None,
                };
                let v = self.eval_vector(expr, ts)?;
                let at = aggregate::AggPos {
                    agg: *pos,
                    param: param
                        .as_deref()
                        .map(|p| p.unparen().pos())
                        .unwrap_or_default(),
                    expr: expr.pos(),
                    node: e as *const Expr as usize,
                };
                aggregate::aggregate(self, *op, p, v, grouping, *without, ts, at).map(Value::Vector)
            }
            Expr::Call { func, args, .. } if func.name == "info" => {
                crate::info::eval_info(self, e, args, ts).map(Value::Vector)
            }
            Expr::Call { func, args, .. } => functions::call(self, func, args, ts),
        }
    }
}
