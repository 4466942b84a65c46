//! Thanos's counter-reset iterator (`downsample.ApplyCounterResetsSeriesIterator`)
//! over the counter sub-chunks of downsampled aggregate chunks. The compactor
//! uses it when it downsamples 5m to 1h, the querier when `rate()` and
//! friends read downsampled counters.
//!
//! Each counter sub-chunk starts with the batch's first raw value and ends
//! with the true last raw value repeated at the chunk's last timestamp. That
//! repeated sample is not emitted; it is what the next chunk's first value
//! is compared with, so a reset between two chunks is seen as one and no
//! false reset appears. NaN samples (stale markers) are dropped, and a
//! sample older than the last one (overlapping chunks) is skipped.

/// The running state: feed raw counter samples in chunk order with
/// [`CounterResets::push`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CounterResets {
    /// `(timestamp, raw value)` of the last sample seen.
    last: Option<(i64, f64)>,
    /// The running total, resets compensated.
    total: f64,
}

impl CounterResets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next sample; returns the monotonic value to emit at `t`,
    /// or `None` when nothing is emitted (a NaN, the repeated true last value
    /// of a chunk, or a sample older than the last one).
    pub fn push(&mut self, t: i64, v: f64) -> Option<f64> {
        if v.is_nan() {
            return None;
        }
        match self.last {
            None => {
                self.total = v;
                self.last = Some((t, v));
                Some(self.total)
            }
            Some((lt, lv)) if t > lt => {
                self.total += if v >= lv { v - lv } else { v };
                self.last = Some((t, v));
                Some(self.total)
            }
            // The true last raw value of the chunk just read.
            Some((lt, _)) if t == lt => {
                self.last = Some((lt, v));
                None
            }
            // Older than what was emitted (overlap): skipped.
            Some(_) => None,
        }
    }

    /// The last raw value seen (after a chunk: its true last value).
    pub fn last_value(&self) -> Option<f64> {
        self.last.map(|(_, v)| v)
    }
}

/// Applies [`CounterResets`] to samples in chunk order: the emitted
/// monotonic samples and the true last raw value (`None` without samples).
pub fn apply_counter_resets(
    samples: impl IntoIterator<Item = (i64, f64)>,
) -> (Vec<(i64, f64)>, Option<f64>) {
    let mut it = CounterResets::new();
    let out = samples
        .into_iter()
        .filter_map(|(t, v)| it.push(t, v).map(|total| (t, total)))
        .collect();
    (out, it.last_value())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two counter sub-chunks as the compactor writes them: a reset inside
    /// the first (raw 10, 20, 2, 12 → 10, 20, 22, 32, true last value 12),
    /// the next starting from raw 17.
    #[test]
    fn true_last_value_carries_across_chunks() {
        let c1 = [
            (0, 10.0),
            (299, 20.0),
            (599, 22.0),
            (899, 32.0),
            (899, 12.0),
        ];
        let c2 = [(900, 17.0), (1199, 27.0), (1499, 30.0), (1499, 30.0)];
        let (out, last) = apply_counter_resets(c1.into_iter().chain(c2));
        assert_eq!(
            out,
            [
                (0, 10.0),
                (299, 20.0),
                (599, 22.0),
                (899, 32.0),
                (900, 37.0),
                (1199, 47.0),
                (1499, 50.0)
            ]
        );
        assert_eq!(last, Some(30.0));
        // A real reset at the edge (12 → 4) counts 4; NaN and older samples are dropped.
        let c3 = [(900, f64::NAN), (900, 4.0), (100, 99.0), (1199, 9.0)];
        let (out, _) = apply_counter_resets(c1.into_iter().chain(c3));
        assert_eq!(out[4..], [(900, 36.0), (1199, 41.0)]);
        assert_eq!(apply_counter_resets([]), (Vec::new(), None));
    }
}
