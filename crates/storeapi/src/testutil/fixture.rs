//! Store fixtures: series with raw samples plus the store's external labels,
//! so every implementation (in-memory store, sidecar over a real Prometheus,
//! store gateway over written blocks) can load the same data its own way.

use std::fmt::Write as _;

use aeon_model::{Labels, Sample, Timestamp};

/// One series of a fixture: labels as ingested (without external labels) and
/// float samples sorted by time.
#[derive(Debug, Clone, PartialEq)]
pub struct FixtureSeries {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// The data a store under test must serve.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixture {
    /// External labels of the store (Prometheus `global.external_labels`,
    /// block `thanos.labels`). They win over series labels on conflict.
    pub external_labels: Labels,
    /// Series with samples, in no particular order.
    pub series: Vec<FixtureSeries>,
}

/// Start of the standard fixture: 2023-11-14T22:00:00Z, 2h-aligned.
pub const STANDARD_T0: Timestamp = 1_699_999_200_000;
/// Scrape interval of the standard fixture.
pub const STANDARD_STEP: i64 = 15_000;
const HOUR: i64 = 3_600_000;

fn gen_samples(from: Timestamp, to: Timestamp, seed: u32, counter: bool) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut i: i64 = 0;
    let mut acc = f64::from(seed);
    loop {
        // A little jitter so the delta-of-delta encoding is exercised.
        let t = from + i * STANDARD_STEP + (i % 3) * 7;
        if t >= to {
            break;
        }
        let v = if counter {
            acc += f64::from((seed + i as u32) % 5);
            acc
        } else {
            f64::from(seed) * 10.0 + ((i % 17) as f64) * 0.25 - 2.0
        };
        out.push(Sample { t, v });
        i += 1;
    }
    out
}

impl Fixture {
    /// The standard data set of the acceptance suite, starting at `t0`
    /// (use [`STANDARD_T0`] unless the store needs recent data).
    ///
    /// External labels `{region="eu", replica="A"}`; eight series over two
    /// hours, 15 s apart (240 samples per hour): `up` ×3, `http_requests_total`
    /// ×2 (counters), `early_metric` (first 30 min only), `late_metric` (second
    /// hour only) and `conflict_metric` whose own `region` label loses to the
    /// external one.
    pub fn standard_at(t0: Timestamp) -> Self {
        let s =
            |pairs: &[(&str, &str)], from: i64, to: i64, seed: u32, counter: bool| FixtureSeries {
                labels: Labels::from_pairs(pairs),
                samples: gen_samples(t0 + from, t0 + to, seed, counter),
            };
        Fixture {
            external_labels: Labels::from_pairs(&[("region", "eu"), ("replica", "A")]),
            series: vec![
                s(
                    &[("__name__", "up"), ("job", "api"), ("instance", "a:9090")],
                    0,
                    2 * HOUR,
                    1,
                    false,
                ),
                s(
                    &[("__name__", "up"), ("job", "api"), ("instance", "b:9090")],
                    0,
                    2 * HOUR,
                    2,
                    false,
                ),
                s(
                    &[("__name__", "up"), ("job", "db"), ("instance", "c:9090")],
                    0,
                    2 * HOUR,
                    3,
                    false,
                ),
                s(
                    &[
                        ("__name__", "http_requests_total"),
                        ("job", "api"),
                        ("instance", "a:9090"),
                        ("code", "200"),
                    ],
                    0,
                    2 * HOUR,
                    4,
                    true,
                ),
                s(
                    &[
                        ("__name__", "http_requests_total"),
                        ("job", "api"),
                        ("instance", "a:9090"),
                        ("code", "500"),
                    ],
                    0,
                    2 * HOUR,
                    5,
                    true,
                ),
                s(
                    &[("__name__", "early_metric"), ("job", "batch")],
                    0,
                    HOUR / 2,
                    6,
                    false,
                ),
                s(
                    &[("__name__", "late_metric"), ("job", "batch")],
                    HOUR,
                    2 * HOUR,
                    7,
                    false,
                ),
                s(
                    &[
                        ("__name__", "conflict_metric"),
                        ("job", "api"),
                        ("region", "series-own"),
                    ],
                    0,
                    2 * HOUR,
                    8,
                    false,
                ),
            ],
        }
    }

    /// [`Fixture::standard_at`] at [`STANDARD_T0`].
    pub fn standard() -> Self {
        Self::standard_at(STANDARD_T0)
    }

    /// A store with external labels but no series.
    pub fn empty() -> Self {
        Fixture {
            external_labels: Labels::from_pairs(&[("region", "eu"), ("replica", "A")]),
            series: vec![],
        }
    }

    /// Earliest sample time (`i64::MAX` when empty).
    pub fn min_time(&self) -> Timestamp {
        self.series
            .iter()
            .filter_map(|s| s.samples.first())
            .map(|s| s.t)
            .min()
            .unwrap_or(i64::MAX)
    }

    /// Latest sample time (`i64::MIN` when empty).
    pub fn max_time(&self) -> Timestamp {
        self.series
            .iter()
            .filter_map(|s| s.samples.last())
            .map(|s| s.t)
            .max()
            .unwrap_or(i64::MIN)
    }

    /// The labels a store must return for a series: series labels with the
    /// external labels set on top (external wins).
    pub fn final_labels(&self, s: &FixtureSeries) -> Labels {
        s.labels.merged_with(&self.external_labels)
    }

    /// The series as OpenMetrics text (without external labels), e.g. for
    /// `promtool tsdb create-blocks-from openmetrics`. Timestamps in seconds
    /// with millisecond precision.
    pub fn to_openmetrics(&self) -> String {
        let mut out = String::new();
        let mut series: Vec<&FixtureSeries> = self.series.iter().collect();
        // OpenMetrics requires the samples of one metric family to be contiguous.
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        for s in series {
            let name = s.labels.get_or_empty(aeon_model::METRIC_NAME);
            let mut lbls = String::new();
            for l in s
                .labels
                .iter()
                .filter(|l| l.name != aeon_model::METRIC_NAME)
            {
                if !lbls.is_empty() {
                    lbls.push(',');
                }
                let v = l
                    .value
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(lbls, "{}=\"{}\"", l.name, v);
            }
            for smp in &s.samples {
                let ts = format!("{}.{:03}", smp.t.div_euclid(1000), smp.t.rem_euclid(1000));
                let _ = writeln!(out, "{name}{{{lbls}}} {} {ts}", smp.v);
            }
        }
        out.push_str("# EOF\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_shape() {
        let f = Fixture::standard();
        assert_eq!(f.series.len(), 8);
        assert_eq!(f.min_time(), STANDARD_T0);
        assert!(f.max_time() < STANDARD_T0 + 2 * HOUR);
        let late = f
            .series
            .iter()
            .find(|s| s.labels.get("__name__") == Some("late_metric"))
            .unwrap();
        assert!(late.samples.iter().all(|s| s.t >= STANDARD_T0 + HOUR));
        assert_eq!(late.samples.len(), 240);
        let c = f
            .series
            .iter()
            .find(|s| s.labels.get("__name__") == Some("conflict_metric"))
            .unwrap();
        assert_eq!(f.final_labels(c).get("region"), Some("eu"));
    }

    #[test]
    fn openmetrics_lines() {
        let f = Fixture {
            external_labels: Labels::empty(),
            series: vec![FixtureSeries {
                labels: Labels::from_pairs(&[("__name__", "m"), ("a", "x\"y")]),
                samples: vec![Sample { t: 1_500, v: 2.5 }],
            }],
        };
        assert_eq!(f.to_openmetrics(), "m{a=\"x\\\"y\"} 2.5 1.500\n# EOF\n");
    }
}
