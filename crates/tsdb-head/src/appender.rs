//! Appenders: samples are checked when appended (so each one can be
//! refused with a typed error), then made durable and visible together by
//! [`Appender::commit`]: under the head's commit lock they are checked again
//! against what other commits stored meanwhile, written to the WAL, and
//! only then applied to the series. Dropping an appender rolls it back.

use std::sync::atomic::Ordering;

use aeon_model::Labels;
use aeon_tsdb_block::chunkenc::{CUSTOM_BUCKETS_SCHEMA, FloatHistogram, Histogram, Span};

use crate::hash::IdMap;
use crate::head::{Head, SeriesRef, stripe};
use crate::series::{Bounds, Value, Verdict, classify, same_value};
use crate::wal::record;
use crate::{Error, Result};

/// What a commit stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Samples appended in order.
    pub appended: usize,
    /// Samples stored out of order.
    pub out_of_order: usize,
    /// Samples that passed `append` but conflicted, at commit time, with
    /// samples another appender committed meanwhile; they were not stored.
    pub dropped: usize,
}

#[derive(Debug, Default)]
struct Pending {
    /// Index in `samples` of this appender's last in-order sample.
    last: Option<usize>,
}

/// A batch of samples for one head; see the module docs.
#[derive(Debug)]
pub struct Appender<'a> {
    head: &'a Head,
    bounds: Bounds,
    samples: Vec<(u64, i64, Value)>,
    pending: IdMap<u64, Pending>,
}

impl<'a> Appender<'a> {
    pub(crate) fn new(head: &'a Head, bounds: Bounds) -> Self {
        Self {
            head,
            bounds,
            samples: Vec::new(),
            pending: IdMap::default(),
        }
    }

    /// The reference of series `labels`, creating the series (subject to
    /// the head's series limit) if it is new.
    pub fn series(&mut self, labels: &Labels) -> Result<SeriesRef> {
        let (r, _) = self.head.get_or_create(labels)?;
        // `get_or_create` pinned the series for us; keep one pin per series.
        match self.pending.entry(r) {
            std::collections::hash_map::Entry::Occupied(_) => self.unpin(r),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(Pending::default());
            }
        }
        Ok(SeriesRef(r))
    }

    /// Appends a float sample (a staleness marker is `aeon_model::stale_nan()`).
    pub fn append(&mut self, r: SeriesRef, t: i64, v: f64) -> Result<()> {
        self.add(r.0, t, Value::Float(v))
    }

    /// Appends an integer native histogram sample.
    pub fn append_histogram(&mut self, r: SeriesRef, t: i64, h: &Histogram) -> Result<()> {
        validate(
            t,
            &h.positive_spans,
            h.positive_buckets.len(),
            &h.negative_spans,
            h.negative_buckets.len(),
            h.schema,
            &h.custom_values,
        )?;
        let mut abs = 0i64;
        let neg = h
            .positive_buckets
            .iter()
            .chain(&h.negative_buckets)
            .enumerate()
            .any(|(i, d)| {
                if i == h.positive_buckets.len() {
                    abs = 0;
                }
                abs = abs.wrapping_add(*d);
                abs < 0
            });
        if neg {
            return Err(Error::InvalidHistogram {
                t,
                reason: "negative bucket count".into(),
            });
        }
        self.add(r.0, t, Value::Histogram(Box::new(h.clone())))
    }

    /// Appends a float native histogram sample.
    pub fn append_float_histogram(
        &mut self,
        r: SeriesRef,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<()> {
        validate(
            t,
            &h.positive_spans,
            h.positive_buckets.len(),
            &h.negative_spans,
            h.negative_buckets.len(),
            h.schema,
            &h.custom_values,
        )?;
        if h.positive_buckets
            .iter()
            .chain(&h.negative_buckets)
            .any(|b| *b < 0.0)
        {
            return Err(Error::InvalidHistogram {
                t,
                reason: "negative bucket count".into(),
            });
        }
        self.add(r.0, t, Value::FloatHistogram(Box::new(h.clone())))
    }

    /// Number of samples waiting for commit.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    fn add(&mut self, r: u64, t: i64, v: Value) -> Result<()> {
        let st = self.head.series[stripe(r)].read();
        let s = st.get(&r).ok_or(Error::UnknownSeries(r))?;
        let entry = match self.pending.entry(r) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                s.pending.fetch_add(1, Ordering::AcqRel);
                e.insert(Pending::default())
            }
        };
        let last = match entry.last {
            Some(i) => Some((self.samples[i].1, self.samples[i].2.as_last())),
            None => s.last(),
        };
        match classify(t, v.as_last(), last, &self.bounds)? {
            Verdict::Duplicate => return Ok(()),
            Verdict::OutOfOrder => {
                if let Some(have) = s.ooo_at(t) {
                    return if same_value(have.as_last(), v.as_last()) {
                        Ok(())
                    } else {
                        Err(Error::DuplicateSample { t })
                    };
                }
            }
            Verdict::Append => entry.last = Some(self.samples.len()),
        }
        drop(st);
        self.samples.push((r, t, v));
        Ok(())
    }

    fn unpin(&self, r: u64) {
        if let Some(s) = self.head.series[stripe(r)].read().get(&r) {
            s.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn release(&mut self) {
        for (r, _) in std::mem::take(&mut self.pending) {
            self.unpin(r);
        }
        self.samples.clear();
    }

    /// Discards everything appended.
    pub fn rollback(mut self) {
        self.release();
    }

    /// Makes the appended samples durable (WAL) and visible (memory).
    pub fn commit(mut self) -> Result<CommitStats> {
        let r = self.commit_inner();
        self.release();
        r
    }

    fn commit_inner(&mut self) -> Result<CommitStats> {
        let mut stats = CommitStats::default();
        if self.samples.is_empty() {
            // Series created by this appender are already logged; write
            // them out now like any commit would.
            return self.head.wal.lock().log(&[]).map(|()| stats);
        }
        let head = self.head;
        let mut wal = head.wal.lock();
        let bounds = head.bounds();
        // 1. Check again against what is stored now (other commits may
        //    have added to the same series since `append`).
        let mut verdicts = Vec::with_capacity(self.samples.len());
        let mut last_in_batch: IdMap<u64, usize> = IdMap::default();
        for (i, (r, t, v)) in self.samples.iter().enumerate() {
            let st = head.series[stripe(*r)].read();
            let Some(s) = st.get(r) else {
                verdicts.push(None);
                stats.dropped += 1;
                continue;
            };
            let last = match last_in_batch.get(r) {
                Some(&j) => Some((self.samples[j].1, self.samples[j].2.as_last())),
                None => s.last(),
            };
            let ok = match classify(*t, v.as_last(), last, &bounds) {
                Ok(Verdict::Append) => {
                    last_in_batch.insert(*r, i);
                    Some(Verdict::Append)
                }
                Ok(Verdict::OutOfOrder) => match s.ooo_at(*t) {
                    None => Some(Verdict::OutOfOrder),
                    Some(have) => {
                        if !same_value(have.as_last(), v.as_last()) {
                            stats.dropped += 1;
                        }
                        None
                    }
                },
                // Someone else committed this very sample meanwhile.
                Ok(Verdict::Duplicate) => None,
                Err(_) => {
                    stats.dropped += 1;
                    None
                }
            };
            verdicts.push(ok);
        }
        // 2. Log what will be applied.
        let recs = encode(&self.samples, &verdicts);
        wal.log(&recs)?;
        crate::crashpoints::pass("wal-written");
        // 3. Apply.
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        let mut first_err = None;
        for ((r, t, v), verdict) in self.samples.iter().zip(&verdicts) {
            let Some(verdict) = verdict else { continue };
            let mut st = head.series[stripe(*r)].write();
            let Some(s) = st.get_mut(r) else { continue };
            let res = match verdict {
                Verdict::Append => s.append(*r, *t, v, head.opts.block_range).map(|_| {
                    stats.appended += 1;
                }),
                // A second sample for the same time in this batch: the
                // first one stays (replay does the same).
                _ => match s.insert_ooo(*t, v.clone()) {
                    Ok(true) => {
                        stats.out_of_order += 1;
                        Ok(())
                    }
                    Ok(false) => Ok(()),
                    Err(_) => {
                        stats.dropped += 1;
                        Ok(())
                    }
                },
            };
            match res {
                Ok(()) => {
                    mint = mint.min(*t);
                    maxt = maxt.max(*t);
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if mint <= maxt {
            head.observe_times(mint, maxt);
        }
        drop(wal);
        match first_err {
            // Logged but not applied: only an encoder bug gets here.
            Some(e) => Err(e),
            None => Ok(stats),
        }
    }
}

impl Drop for Appender<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

/// WAL records for the accepted samples, in order: one record per run of
/// samples of the same kind.
fn encode(samples: &[(u64, i64, Value)], verdicts: &[Option<Verdict>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut floats: Vec<(u64, i64, f64)> = Vec::new();
    let mut hists: Vec<(u64, i64, &Histogram)> = Vec::new();
    let mut fhists: Vec<(u64, i64, &FloatHistogram)> = Vec::new();
    let flush = |out: &mut Vec<Vec<u8>>,
                 floats: &mut Vec<(u64, i64, f64)>,
                 hists: &mut Vec<(u64, i64, &Histogram)>,
                 fhists: &mut Vec<(u64, i64, &FloatHistogram)>| {
        if !floats.is_empty() {
            let mut b = Vec::with_capacity(17 + floats.len() * 14);
            record::encode_samples(&mut b, floats);
            out.push(b);
            floats.clear();
        }
        if !hists.is_empty() {
            record::encode_histograms(out, hists);
            hists.clear();
        }
        if !fhists.is_empty() {
            record::encode_float_histograms(out, fhists);
            fhists.clear();
        }
    };
    for ((r, t, v), ok) in samples.iter().zip(verdicts) {
        if ok.is_none() {
            continue;
        }
        let kind_changes = match v {
            Value::Float(_) => !hists.is_empty() || !fhists.is_empty(),
            Value::Histogram(_) => !floats.is_empty() || !fhists.is_empty(),
            Value::FloatHistogram(_) => !floats.is_empty() || !hists.is_empty(),
        };
        if kind_changes {
            flush(&mut out, &mut floats, &mut hists, &mut fhists);
        }
        match v {
            Value::Float(f) => floats.push((*r, *t, *f)),
            Value::Histogram(h) => hists.push((*r, *t, h)),
            Value::FloatHistogram(h) => fhists.push((*r, *t, h)),
        }
    }
    flush(&mut out, &mut floats, &mut hists, &mut fhists);
    out
}

/// Prometheus's structural histogram checks: spans match the buckets,
/// a known schema, custom bounds only (and sorted) for schema -53.
fn validate(
    t: i64,
    pos: &[Span],
    npos: usize,
    neg: &[Span],
    nneg: usize,
    schema: i32,
    custom: &[f64],
) -> Result<()> {
    let bad = |reason: String| Err(Error::InvalidHistogram { t, reason });
    let span_len = |s: &[Span]| s.iter().map(|s| s.length as usize).sum::<usize>();
    if span_len(pos) != npos {
        return bad(format!(
            "positive spans cover {} buckets but {npos} are given",
            span_len(pos)
        ));
    }
    if span_len(neg) != nneg {
        return bad(format!(
            "negative spans cover {} buckets but {nneg} are given",
            span_len(neg)
        ));
    }
    if schema == CUSTOM_BUCKETS_SCHEMA {
        if !neg.is_empty() {
            return bad("custom-bucket histograms have no negative buckets".into());
        }
        if custom.windows(2).any(|w| w[0] >= w[1]) {
            return bad("custom bucket bounds are not increasing".into());
        }
    } else if !(-4..=8).contains(&schema) {
        return bad(format!("unknown schema {schema}"));
    } else if !custom.is_empty() {
        return bad(format!("schema {schema} cannot have custom bucket bounds"));
    }
    Ok(())
}

/// The staleness-marker value check used by tests of this module.
#[cfg(test)]
pub(crate) fn is_same(a: &Value, b: &Value) -> bool {
    same_value(a.as_last(), b.as_last())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_runs_and_histogram_runs_become_separate_records_in_order() {
        let h = Histogram {
            count: 1,
            ..Default::default()
        };
        let samples = vec![
            (1, 10, Value::Float(1.0)),
            (2, 10, Value::Float(2.0)),
            (3, 10, Value::Histogram(Box::new(h.clone()))),
            (1, 20, Value::Float(3.0)),
        ];
        let v = vec![Some(Verdict::Append); 4];
        let recs = encode(&samples, &v);
        assert_eq!(
            recs.iter().map(|r| r[0]).collect::<Vec<_>>(),
            vec![record::SAMPLES, record::HISTOGRAMS, record::SAMPLES]
        );
        assert!(is_same(&samples[0].2, &Value::Float(1.0)));
    }

    #[test]
    fn histogram_structure_is_checked() {
        let sp = [Span {
            offset: 0,
            length: 2,
        }];
        assert!(validate(1, &sp, 2, &[], 0, 3, &[]).is_ok());
        assert!(validate(1, &sp, 1, &[], 0, 3, &[]).is_err());
        assert!(validate(1, &sp, 2, &[], 0, 9, &[]).is_err());
        assert!(validate(1, &sp, 2, &[], 0, CUSTOM_BUCKETS_SCHEMA, &[1.0, 0.5]).is_err());
        assert!(validate(1, &sp, 2, &[], 0, CUSTOM_BUCKETS_SCHEMA, &[0.5, 1.0]).is_ok());
    }
}
