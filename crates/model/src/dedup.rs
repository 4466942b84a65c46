//! Deduplication of HA replicas (Thanos's `pkg/dedup`), for the querier
//! (replicas of one series at query time) and the compactor (vertical
//! compaction of overlapping blocks): pure functions over time-sorted
//! sample vectors.
//!
//! - [`penalty`] (Thanos's default): follow one replica; another replica's
//!   sample is only taken when the followed one has a gap: the replica not
//!   followed must be ahead by a penalty of twice the last observed sample
//!   interval (5 s before any interval is known). This keeps the sample rate
//!   of the output equal to one replica's, so `rate()` and `count_over_time()`
//!   do not double. As in Thanos, replicas are merged pairwise in order
//!   (`((r0 ⊕ r1) ⊕ r2) …`) and on equal timestamps the earlier side wins.
//! - [`chain`]: the 1:1 union of all samples (equal timestamps once, the
//!   earlier vector's sample kept).
//!
//! [`split_lanes`] separates overlapping chunks of one series into lanes
//! (Thanos's `NewOverlapSplit`): the chunks of one replica served by two
//! stores (sidecar and store gateway), or, for series whose replica labels a
//! store already stripped, Thanos's guess at the replicas.
//!
//! Counters (when the enclosing function is `rate`, `increase`, `irate` or
//! `resets`, see [`is_counter_func`]) need more care than Thanos gives them:
//! two replicas scrape at different moments, so when switching from one to
//! the other the new replica's value may be a little lower, which PromQL
//! would read as a counter reset and turn into a huge `rate()` spike. We
//! shift the new replica up by the difference (as Thanos does), but unlike
//! Thanos we
//! - recognise a real reset at the switch (the new replica itself dropped
//!   since the last emitted timestamp) and keep it a reset, and
//! - drop a replica's shift as soon as that replica resets itself, so a shift
//!   never inflates `increase()` after a later real reset.

use crate::Sample;

/// A sample the algorithms can merge: a timestamp and, for floats, a value
/// (counter adjustments only apply to floats).
pub trait Point: Clone {
    /// Timestamp in ms.
    fn t(&self) -> i64;
    /// The float value (None for histograms).
    fn float(&self) -> Option<f64>;
    /// A copy with another float value.
    fn with_float(&self, v: f64) -> Self;
}

/// The value half of a `(timestamp, value)` pair that is a [`Point`].
pub trait Value: Clone {
    /// The float value (None for histograms).
    fn float(&self) -> Option<f64>;
    /// A copy with another float value.
    fn with_float(&self, v: f64) -> Self;
}

impl Value for f64 {
    fn float(&self) -> Option<f64> {
        Some(*self)
    }
    fn with_float(&self, v: f64) -> Self {
        v
    }
}

impl<V: Value> Point for (i64, V) {
    fn t(&self) -> i64 {
        self.0
    }
    fn float(&self) -> Option<f64> {
        self.1.float()
    }
    fn with_float(&self, v: f64) -> Self {
        (self.0, self.1.with_float(v))
    }
}

impl Point for Sample {
    fn t(&self) -> i64 {
        self.t
    }
    fn float(&self) -> Option<f64> {
        Some(self.v)
    }
    fn with_float(&self, v: f64) -> Self {
        Sample { t: self.t, v }
    }
}

/// Whether `b` is lower than `a` (both floats): a counter drop.
fn drops<P: Point>(a: &P, b: &P) -> bool {
    matches!((a.float(), b.float()), (Some(x), Some(y)) if y < x)
}

/// Penalty before any sample interval is known (Thanos: 5000 ms).
pub const INITIAL_PENALTY_MS: i64 = 5_000;

/// Whether the enclosing PromQL function reads the series as a counter.
pub fn is_counter_func(func: Option<&str>) -> bool {
    matches!(
        func,
        Some("rate" | "increase" | "irate" | "resets" | "xrate" | "xincrease")
    )
}

/// Splits chunks sorted by `min_time` into lanes of non-overlapping chunks:
/// each chunk goes to the first lane whose last chunk ends before it starts.
/// `span` gives a chunk's inclusive `(min_time, max_time)`. Chunks of one
/// replica never overlap, so HA replicas end up in different lanes.
pub fn split_lanes<T>(chunks: Vec<T>, span: impl Fn(&T) -> (i64, i64)) -> Vec<Vec<T>> {
    let mut lanes: Vec<Vec<T>> = Vec::new();
    'outer: for c in chunks {
        let (min, _) = span(&c);
        for lane in &mut lanes {
            if lane.last().is_some_and(|l| span(l).1 < min) {
                lane.push(c);
                continue 'outer;
            }
        }
        lanes.push(vec![c]);
    }
    lanes
}

/// 1:1 union of time-sorted sample vectors; on equal timestamps the sample
/// of the earlier vector wins.
pub fn chain<P: Point>(replicas: &[Vec<P>]) -> Vec<P> {
    match replicas {
        [] => Vec::new(),
        [one] => one.clone(),
        _ => {
            let mut pos = vec![0usize; replicas.len()];
            let mut out = Vec::with_capacity(replicas.iter().map(Vec::len).max().unwrap_or(0));
            loop {
                let mut best: Option<(usize, i64)> = None;
                for (i, r) in replicas.iter().enumerate() {
                    if let Some(s) = r.get(pos[i])
                        && best.is_none_or(|(_, t)| s.t() < t)
                    {
                        best = Some((i, s.t()));
                    }
                }
                let Some((i, t)) = best else { break };
                out.push(replicas[i][pos[i]].clone());
                for (j, r) in replicas.iter().enumerate() {
                    while r.get(pos[j]).is_some_and(|s| s.t() <= t) {
                        pos[j] += 1;
                    }
                }
            }
            out
        }
    }
}

/// Penalty-based deduplication of time-sorted replica sample vectors (see
/// the module docs): replicas merged pairwise in order, as Thanos chains its
/// dedup iterators. `counter` enables the counter adjustments.
pub fn penalty<P: Point>(replicas: &[Vec<P>], counter: bool) -> Vec<P> {
    match replicas {
        [] => Vec::new(),
        [one] => one.clone(),
        [a, b, rest @ ..] => rest.iter().fold(penalty_pair(a, b, counter), |acc, r| {
            penalty_pair(&acc, r, counter)
        }),
    }
}

/// Thanos's `dedupSeriesIterator` over two replicas `a` and `b`.
fn penalty_pair<P: Point>(a: &[P], b: &[P], counter: bool) -> Vec<P> {
    let r = [a, b];
    let mut pos = [0usize; 2];
    let mut pen = [0i64; 2];
    let mut adjust = CounterAdjust::default();
    let mut last_t: Option<i64> = None;
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    loop {
        // Seek both replicas to lastT + 1 + their penalty. As in the
        // vectors of Thanos's iterator tests, a seek may go back to samples
        // an earlier, larger penalty skipped (never to one at or before
        // lastT): a replica is only kept away from the last emitted sample.
        if let Some(lt) = last_t {
            for i in 0..2 {
                let min_t = lt.saturating_add(1).saturating_add(pen[i]);
                pos[i] = r[i].partition_point(|s| s.t() < min_t);
            }
        }
        // The earlier sample; `a` on equal timestamps (Thanos: `ta <= tb`).
        let i = match (a.get(pos[0]), b.get(pos[1])) {
            (None, None) => break,
            (Some(_), None) => 0,
            (None, Some(_)) => 1,
            (Some(x), Some(y)) => usize::from(x.t() > y.t()),
        };
        let t = r[i][pos[i]].t();
        // The replica not taken waits twice the last interval (5 s at first).
        pen[i] = 0;
        pen[1 - i] = match last_t {
            Some(lt) => 2 * (t - lt),
            None => INITIAL_PENALTY_MS,
        };
        out.push(if counter {
            adjust.emit(r[i], i, pos[i], last_t)
        } else {
            r[i][pos[i]].clone()
        });
        // The next seek (from lastT + 1) moves past this sample.
        last_t = Some(t);
    }
    out
}

/// The counter adjustments of [`penalty_pair`] (see the module docs).
#[derive(Debug, Default)]
struct CounterAdjust {
    /// Per-replica upward shift.
    shift: [f64; 2],
    /// How far each replica was scanned for its own resets.
    scanned: [usize; 2],
    /// The last emitted float value.
    last_v: Option<f64>,
    /// The replica followed.
    cur: Option<usize>,
}

impl CounterAdjust {
    /// Sample `k` of replica `i` (samples `ri`) as emitted after the sample
    /// at `last_t`.
    fn emit<P: Point>(&mut self, ri: &[P], i: usize, k: usize, last_t: Option<i64>) -> P {
        let raw = &ri[k];
        let mut emitted = raw.clone();
        if let Some(rv) = raw.float().filter(|v| !v.is_nan()) {
            // Any own reset of this replica since we last looked voids its shift.
            let from = self.scanned[i].max(1);
            if (from..=k).any(|j| drops(&ri[j - 1], &ri[j])) {
                self.shift[i] = 0.0;
            }
            self.scanned[i] = self.scanned[i].max(k);
            if self.cur != Some(i)
                && let Some(prev) = self.last_v
            {
                // Did this replica itself reset since the last emitted timestamp?
                let lt = last_t.unwrap_or(i64::MIN);
                let j0 = ri[..k].partition_point(|s| s.t() <= lt).saturating_sub(1);
                let own_reset = (j0 + 1..=k).any(|j| drops(&ri[j - 1], &ri[j]));
                if own_reset {
                    self.shift[i] = 0.0;
                } else if rv + self.shift[i] < prev {
                    self.shift[i] = prev - rv;
                }
            }
            let v = rv + self.shift[i];
            self.last_v = Some(v);
            if self.shift[i] != 0.0 {
                emitted = raw.with_float(v);
            }
        }
        self.cur = Some(i);
        emitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: i64, v: f64) -> Sample {
        Sample { t, v }
    }

    /// Samples every `step` ms in `[from, to)` with value `f(t)`.
    fn series(from: i64, to: i64, step: i64, f: impl Fn(i64) -> f64) -> Vec<Sample> {
        (0..)
            .map(|i| from + i * step)
            .take_while(|&t| t < to)
            .map(|t| s(t, f(t)))
            .collect()
    }

    fn ts(v: &[Sample]) -> Vec<i64> {
        v.iter().map(|s| s.t).collect()
    }

    /// PromQL's counter increase over a whole series (resets compensated).
    fn increase(v: &[Sample]) -> f64 {
        let mut total = 0.0;
        for w in v.windows(2) {
            total += if w[1].v < w[0].v {
                w[1].v
            } else {
                w[1].v - w[0].v
            };
        }
        total
    }

    fn resets(v: &[Sample]) -> usize {
        v.windows(2).filter(|w| w[1].v < w[0].v).count()
    }

    #[test]
    fn identical_replicas_give_one_copy() {
        let a = series(0, 150_000, 15_000, |t| t as f64);
        for out in [
            penalty(&[a.clone(), a.clone()], false),
            penalty(&[a.clone(), a.clone(), a.clone()], true),
            chain(&[a.clone(), a.clone()]),
        ] {
            assert_eq!(out, a);
        }
    }

    #[test]
    fn offset_replicas_keep_one_sample_rate() {
        // B scrapes 5 s after A: penalty must follow A only.
        let a = series(0, 300_000, 15_000, |_| 1.0);
        let b = series(5_000, 300_000, 15_000, |_| 2.0);
        let out = penalty(&[a.clone(), b.clone()], false);
        assert_eq!(out, a);
        // Order of replicas does not matter for which samples are taken
        // except that the earliest start wins.
        let out = penalty(&[b.clone(), a.clone()], false);
        assert_eq!(out, a);
        // Chain takes everything.
        assert_eq!(chain(&[a.clone(), b.clone()]).len(), a.len() + b.len());
    }

    #[test]
    fn gap_in_first_replica_is_filled_from_second() {
        let a: Vec<Sample> = series(0, 600_000, 15_000, |_| 1.0)
            .into_iter()
            .filter(|s| !(150_000..300_000).contains(&s.t))
            .collect();
        let b = series(3_000, 600_000, 15_000, |_| 2.0);
        let out = penalty(&[a.clone(), b.clone()], false);
        // Before the gap only A, inside the gap B, and after it stays on B (sticky).
        assert!(out.iter().filter(|s| s.t < 150_000).all(|s| s.v == 1.0));
        let in_gap: Vec<&Sample> = out
            .iter()
            .filter(|s| (150_000..300_000).contains(&s.t))
            .collect();
        assert!(
            !in_gap.is_empty() && in_gap.iter().all(|s| s.v == 2.0),
            "{in_gap:?}"
        );
        // No two output samples closer than the scrape interval minus the offset.
        assert!(
            out.windows(2).all(|w| w[1].t - w[0].t >= 12_000),
            "{:?}",
            ts(&out)
        );
        // The gap is bridged: the largest hole is at most penalty (2 intervals) + offset.
        let max_gap = out.windows(2).map(|w| w[1].t - w[0].t).max().unwrap();
        assert!(max_gap <= 2 * 15_000 + 3_000, "{max_gap}");
        // Sticky: after switching to B, stays on B even when A is back.
        assert!(out.iter().filter(|s| s.t >= 300_000).all(|s| s.v == 2.0));
    }

    #[test]
    fn gap_in_second_replica_changes_nothing() {
        let a = series(0, 600_000, 15_000, |_| 1.0);
        let b: Vec<Sample> = series(3_000, 600_000, 15_000, |_| 2.0)
            .into_iter()
            .filter(|s| !(150_000..300_000).contains(&s.t))
            .collect();
        assert_eq!(penalty(&[a.clone(), b], false), a);
    }

    #[test]
    fn gaps_in_both_replicas_alternate() {
        let a: Vec<Sample> = series(0, 900_000, 15_000, |_| 1.0)
            .into_iter()
            .filter(|s| !(200_000..400_000).contains(&s.t))
            .collect();
        let b: Vec<Sample> = series(7_000, 900_000, 15_000, |_| 2.0)
            .into_iter()
            .filter(|s| !(500_000..700_000).contains(&s.t))
            .collect();
        let out = penalty(&[a, b], false);
        let max_gap = out.windows(2).map(|w| w[1].t - w[0].t).max().unwrap();
        // At most the penalty (two intervals) plus the replicas' offset (7 s or 8 s).
        assert!(max_gap <= 2 * 15_000 + 8_000, "{max_gap}");
        assert!(out.windows(2).all(|w| w[1].t - w[0].t >= 7_000));
        assert!(
            out.iter()
                .any(|s| s.v == 2.0 && (200_000..400_000).contains(&s.t))
        );
        assert!(
            out.iter()
                .any(|s| s.v == 1.0 && (500_000..700_000).contains(&s.t))
        );
    }

    #[test]
    fn initial_penalty_is_five_seconds() {
        // B's first sample is 4 s after A's: within the 5 s initial penalty.
        let a = vec![s(0, 1.0), s(60_000, 1.0)];
        let b = vec![s(4_000, 2.0), s(10_000, 2.0), s(20_000, 2.0)];
        let out = penalty(&[a, b], false);
        // After t=0 (A), B must be > 0+1+5000 → 10_000 is taken (A has nothing before 60s).
        assert_eq!(ts(&out), vec![0, 10_000, 20_000, 60_000]);
    }

    #[test]
    fn one_replica_exhausted() {
        let a = series(0, 60_000, 15_000, |_| 1.0);
        let b = series(2_000, 180_000, 15_000, |_| 2.0);
        let out = penalty(&[a, b], false);
        assert_eq!(out.last().unwrap().v, 2.0);
        assert!(out.iter().filter(|s| s.t > 100_000).count() >= 5);
    }

    #[test]
    fn counter_switch_to_lagging_replica_has_no_false_reset() {
        // Same counter (1/s) seen by two replicas; B scrapes 5 s later but
        // missed some increments, so it reads 40 lower. A has a gap.
        let f = |t: i64| 100.0 + t as f64 / 1000.0;
        let a: Vec<Sample> = series(0, 900_000, 15_000, f)
            .into_iter()
            .filter(|s| !(300_000..450_000).contains(&s.t))
            .collect();
        let b = series(5_000, 900_000, 15_000, |t| f(t) - 40.0);
        let plain = penalty(&[a.clone(), b.clone()], false);
        let out = penalty(&[a, b], true);
        assert_eq!(ts(&plain), ts(&out));
        assert!(
            resets(&plain) > 0,
            "the scenario must be a trap without the adjustment"
        );
        assert_eq!(resets(&out), 0, "{out:?}");
        // The increase over the whole output is close to the true increase
        // (the switch itself contributes 0 instead of the ~35 s it spans).
        let true_inc = f(out.last().unwrap().t) - f(out[0].t);
        assert!(
            (increase(&out) - true_inc).abs() <= 36.0,
            "{} vs {true_inc}",
            increase(&out)
        );
        assert!(
            increase(&plain) > true_inc + 50.0,
            "a false reset inflates increase()"
        );
    }

    #[test]
    fn counter_real_reset_at_switch_stays_a_reset() {
        // The target restarted at 300 s: both replicas see the counter reset.
        // A is down from 250 s to 500 s, so the output switches to B across the reset.
        let f = |t: i64| {
            if t < 300_000 {
                1000.0 + t as f64 / 1000.0
            } else {
                (t - 300_000) as f64 / 1000.0
            }
        };
        let a: Vec<Sample> = series(0, 900_000, 15_000, f)
            .into_iter()
            .filter(|s| !(250_000..500_000).contains(&s.t))
            .collect();
        let b = series(4_000, 900_000, 15_000, f);
        let out = penalty(&[a, b], true);
        assert_eq!(resets(&out), 1, "{out:?}");
        // After the reset the values are the raw ones (no inflated shift).
        let after: Vec<&Sample> = out.iter().filter(|s| s.t > 300_000).collect();
        assert!(
            after.iter().all(|s| (s.v - f(s.t)).abs() < 1e-9),
            "{after:?}"
        );
    }

    #[test]
    fn counter_shift_dropped_after_own_reset() {
        // B reads 30 lower than A (skewed replica); A gaps at 100-200 s so we
        // switch to B and shift it up; later the target restarts at 600 s,
        // which B (still followed) sees as its own reset.
        let f = |t: i64| {
            if t < 600_000 {
                500.0 + t as f64 / 1000.0
            } else {
                (t - 600_000) as f64 / 1000.0
            }
        };
        let g = move |t: i64| if t < 600_000 { f(t) - 30.0 } else { f(t) };
        let a: Vec<Sample> = series(0, 900_000, 15_000, f)
            .into_iter()
            .filter(|s| !(100_000..200_000).contains(&s.t))
            .collect();
        let b = series(3_000, 900_000, 15_000, g);
        let out = penalty(&[a, b], true);
        // The switch happened (B's timestamps appear) without a false reset...
        assert!(out.iter().any(|s| s.t % 15_000 == 3_000));
        assert_eq!(resets(&out), 1, "{out:?}");
        // ...and the shift did not survive B's own reset.
        let after: Vec<&Sample> = out.iter().filter(|s| s.t > 600_000).collect();
        assert!(
            !after.is_empty() && after.iter().all(|s| (s.v - g(s.t)).abs() < 1e-9),
            "shift survived the reset: {after:?}"
        );
        // Before the reset the output never decreases.
        assert!(
            out.iter()
                .filter(|s| s.t < 600_000)
                .collect::<Vec<_>>()
                .windows(2)
                .all(|w| w[1].v >= w[0].v)
        );
    }

    #[test]
    fn gauge_is_not_adjusted() {
        let a = vec![s(0, 10.0), s(15_000, 10.0)];
        let b = vec![
            s(1_000, 3.0),
            s(16_000, 3.0),
            s(31_000, 3.0),
            s(46_000, 3.0),
        ];
        // After A ends at 15 s, B must wait out the penalty 2×15 s: 31 s is skipped.
        let out = penalty(&[a, b], false);
        assert_eq!(out, vec![s(0, 10.0), s(15_000, 10.0), s(46_000, 3.0)]);
    }

    #[test]
    fn chain_union_keeps_first_on_equal_timestamps() {
        let a = vec![s(0, 1.0), s(20, 1.0)];
        let b = vec![s(0, 2.0), s(10, 2.0), s(30, 2.0)];
        assert_eq!(
            chain(&[a, b]),
            vec![s(0, 1.0), s(10, 2.0), s(20, 1.0), s(30, 2.0)]
        );
    }

    #[test]
    fn lanes_separate_overlapping_spans() {
        let lanes = split_lanes(
            vec![(0, 100), (5, 105), (101, 200), (106, 205), (300, 400)],
            |c| *c,
        );
        assert_eq!(
            lanes,
            vec![
                vec![(0, 100), (101, 200), (300, 400)],
                vec![(5, 105), (106, 205)]
            ]
        );
    }

    /// Thanos's `TestDedupSeriesIterator` vectors (thanos 0.42
    /// `pkg/dedup/iter_test.go`): `(a, b, expected)`.
    #[test]
    fn two_replicas_like_thanos() {
        type V = Vec<(i64, f64)>;
        let cases: [(V, V, V); 5] = [
            // Generally prefer the first series (equal timestamps: a wins).
            (
                vec![(10000, 10.0), (20000, 11.0), (30000, 12.0), (40000, 13.0)],
                vec![(10000, 20.0), (20000, 21.0), (30000, 22.0), (40000, 23.0)],
                vec![(10000, 10.0), (20000, 11.0), (30000, 12.0), (40000, 13.0)],
            ),
            // Prefer b if it starts earlier.
            (
                vec![(10100, 1.0), (20100, 1.0), (30100, 1.0), (40100, 1.0)],
                vec![(10000, 2.0), (20000, 2.0), (30000, 2.0), (40000, 2.0)],
                vec![(10000, 2.0), (20000, 2.0), (30000, 2.0), (40000, 2.0)],
            ),
            // Don't switch series on a single delta sized gap.
            (
                vec![(10000, 1.0), (20000, 1.0), (40000, 1.0)],
                vec![(10000, 2.0), (20000, 2.0), (30000, 2.0), (40000, 2.0)],
                vec![(10000, 1.0), (20000, 1.0), (40000, 1.0)],
            ),
            (
                vec![(10000, 1.0), (20000, 1.0), (40000, 1.0)],
                vec![(15000, 2.0), (25000, 2.0), (35000, 2.0), (45000, 2.0)],
                vec![(10000, 1.0), (20000, 1.0), (40000, 1.0)],
            ),
            // Once the gap gets bigger than 2 deltas, switch and stay with the new series.
            (
                vec![
                    (10000, 1.0),
                    (20000, 1.0),
                    (30000, 1.0),
                    (60000, 1.0),
                    (70000, 1.0),
                ],
                vec![
                    (10100, 2.0),
                    (20100, 2.0),
                    (30100, 2.0),
                    (40100, 2.0),
                    (50100, 2.0),
                    (60100, 2.0),
                ],
                vec![
                    (10000, 1.0),
                    (20000, 1.0),
                    (30000, 1.0),
                    (50100, 2.0),
                    (60100, 2.0),
                ],
            ),
        ];
        for (i, (a, b, want)) in cases.into_iter().enumerate() {
            assert_eq!(penalty(&[a, b], false), want, "case {i}");
        }
    }

    /// After switching to b, a sample of a at the same timestamp as b's
    /// next one wins (Thanos's `ta <= tb`), not the followed replica.
    #[test]
    fn equal_timestamps_go_to_the_first_replica() {
        let a = vec![s(0, 1.0), s(110_001, 1.0), s(120_001, 1.0)];
        let mut b = series(20_000, 90_000, 10_000, |_| 2.0);
        b.insert(0, s(1_000, 2.0));
        b.extend([s(110_001, 2.0), s(120_001, 2.0)]);
        let mut want = vec![s(0, 1.0)];
        want.extend(series(20_000, 90_000, 10_000, |_| 2.0));
        want.extend([s(110_001, 1.0), s(120_001, 1.0)]);
        assert_eq!(penalty(&[a, b], false), want);
    }

    /// Replica a scrapes at 0, 15 s, 30 s, … with a gap between 60 s and
    /// 120 s; replica b scrapes 5 s later.
    #[test]
    fn penalty_prefers_one_replica_and_fills_gaps_from_the_other() {
        let a: Vec<(i64, f64)> = [0, 15, 30, 45, 60, 120, 135]
            .iter()
            .map(|s| (s * 1000, 1.0))
            .collect();
        let b: Vec<(i64, f64)> = (0..10).map(|i| ((i * 15 + 5) * 1000, 2.0)).collect();
        let m = penalty(&[a.clone(), b.clone()], false);
        let ts: Vec<i64> = m.iter().map(|s| s.0 / 1000).collect();
        // Stays on a until its gap. b was penalised by 2×15s after a's sample
        // at 60s, so the switch happens at 95s; then a is penalised by
        // 2×(95-60)s and b continues.
        assert_eq!(ts, vec![0, 15, 30, 45, 60, 95, 110, 125, 140]);
        assert_eq!(penalty(&[a.clone(), Vec::new()], false), a);
        assert_eq!(penalty(&[Vec::new(), b.clone()], false), b);
    }

    #[test]
    fn counter_funcs() {
        assert!(is_counter_func(Some("rate")) && is_counter_func(Some("increase")));
        assert!(!is_counter_func(Some("avg_over_time")) && !is_counter_func(None));
    }
}
