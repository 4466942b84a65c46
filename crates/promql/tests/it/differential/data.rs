//! The data both engines query: a few hundred float series over three
//! hours (counters with resets, gauges, classic histograms, sparse series,
//! special values), generated deterministically.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use aeon_model::Labels;
use aeon_promql::MemStorage;

/// First sample (ms); a multiple of two hours, so blocks align.
pub const T0: i64 = 1_699_999_200_000;
/// Span of the data (ms).
pub const SPAN: i64 = 3 * 3_600_000;
const STEP: i64 = 15_000;

/// Label names and values the generator picks from.
pub const JOBS: &[&str] = &["api", "web", "batch"];
pub const INSTANCES: &[&str] = &["a:1", "b:2", "c:3"];
pub const CODES: &[&str] = &["200", "404", "500"];
pub const BUCKETS: &[&str] = &["0.1", "0.5", "1.0", "5.0", "+Inf"];
pub const LABELS: &[&str] = &[
    "job", "instance", "code", "le", "mode", "cpu", "queue", "__name__",
];

/// A series with its samples (ms, value).
pub struct Series {
    pub labels: Vec<(String, String)>,
    pub samples: Vec<(i64, f64)>,
}

/// xorshift64* (deterministic, seedable).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    pub fn float(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn series(name: &str, labels: &[(&str, &str)]) -> Series {
    let mut l: Vec<(String, String)> = vec![("__name__".into(), name.into())];
    l.extend(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    l.sort();
    Series {
        labels: l,
        samples: Vec::new(),
    }
}

/// The series (fixed seed: the data never changes).
pub fn generate() -> Vec<Series> {
    let mut r = Rng::new(42);
    let mut out = Vec::new();
    let times: Vec<i64> = (0..=SPAN / STEP).map(|i| T0 + i * STEP).collect();
    for job in JOBS {
        for inst in INSTANCES {
            for code in CODES {
                let mut s = series(
                    "http_requests_total",
                    &[("job", job), ("instance", inst), ("code", code)],
                );
                let mut v = r.below(100) as f64;
                let rate = 1.0 + r.below(20) as f64;
                for &t in &times {
                    v += rate * r.float() * 15.0;
                    if r.chance(1) {
                        v = r.float() * 10.0; // counter reset
                    }
                    s.samples.push((t, v.round()));
                }
                out.push(s);
            }
            let mut up = series("up", &[("job", job), ("instance", inst)]);
            for &t in &times {
                up.samples.push((t, if r.chance(3) { 0.0 } else { 1.0 }));
            }
            out.push(up);
            for queue in ["email", "sms"] {
                let mut q = series(
                    "queue_depth",
                    &[("job", job), ("instance", inst), ("queue", queue)],
                );
                let mut v = r.below(50) as f64;
                for &t in &times {
                    v += (r.float() - 0.5) * 10.0;
                    q.samples.push((t, (v * 4.0).round() / 4.0));
                }
                out.push(q);
            }
            // A classic histogram per job and instance.
            let mut counts = vec![0.0; BUCKETS.len()];
            let mut sum = 0.0;
            let mut hs: Vec<Series> = BUCKETS
                .iter()
                .map(|le| {
                    series(
                        "http_request_duration_seconds_bucket",
                        &[("job", job), ("instance", inst), ("le", le)],
                    )
                })
                .collect();
            let mut hsum = series(
                "http_request_duration_seconds_sum",
                &[("job", job), ("instance", inst)],
            );
            let mut hcount = series(
                "http_request_duration_seconds_count",
                &[("job", job), ("instance", inst)],
            );
            for &t in &times {
                let n = r.below(6);
                for _ in 0..n {
                    let obs = r.float() * r.float() * 8.0;
                    sum += obs;
                    for (i, le) in BUCKETS.iter().enumerate() {
                        let bound: f64 = if *le == "+Inf" {
                            f64::INFINITY
                        } else {
                            le.parse().unwrap()
                        };
                        if obs <= bound {
                            counts[i] += 1.0;
                        }
                    }
                }
                for (i, h) in hs.iter_mut().enumerate() {
                    h.samples.push((t, counts[i]));
                }
                hsum.samples.push((t, (sum * 1000.0).round() / 1000.0));
                hcount.samples.push((t, counts[BUCKETS.len() - 1]));
            }
            out.extend(hs);
            out.push(hsum);
            out.push(hcount);
        }
    }
    for cpu in ["0", "1"] {
        for mode in ["idle", "user", "system"] {
            let mut s = series(
                "node_cpu_seconds_total",
                &[("cpu", cpu), ("mode", mode), ("instance", "a:1")],
            );
            let mut v = 1000.0;
            for &t in &times {
                v += r.float() * 15.0;
                s.samples.push((t, (v * 100.0).round() / 100.0));
            }
            out.push(s);
        }
    }
    // Sparse and special series: gaps, a series that ends early, one that
    // starts late, special values.
    let mut sparse = series("sparse_gauge", &[("job", "batch")]);
    let mut late = series("sparse_gauge", &[("job", "api")]);
    let mut special = series("special_values", &[("job", "api")]);
    for (i, &t) in times.iter().enumerate() {
        if i % 13 < 4 {
            sparse.samples.push((t, i as f64 / 3.0));
        }
        if t > T0 + SPAN / 2 {
            late.samples.push((t, (i % 7) as f64 - 3.0));
        }
        let v = match i % 11 {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 => -0.0,
            4 => 1e-300,
            5 => 1.7976931348623157e308,
            _ => i as f64 * 0.1,
        };
        special.samples.push((t, v));
    }
    out.push(sparse);
    out.push(late);
    out.push(special);
    out
}

/// The series as OpenMetrics text for promtool's backfill (no `# TYPE`, so
/// label values stay exactly as generated).
pub fn openmetrics(all: &[Series]) -> String {
    let mut by_name: BTreeMap<&str, Vec<&Series>> = BTreeMap::new();
    for s in all {
        by_name
            .entry(&s.labels.iter().find(|l| l.0 == "__name__").unwrap().1)
            .or_default()
            .push(s);
    }
    let mut om = String::new();
    for (name, list) in by_name {
        for s in list {
            let sel: Vec<String> = s
                .labels
                .iter()
                .filter(|l| l.0 != "__name__")
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            for &(t, v) in &s.samples {
                let v = if v.is_nan() {
                    "NaN".to_string()
                } else if v.is_infinite() {
                    if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
                } else {
                    format!("{v:e}")
                };
                writeln!(om, "{name}{{{}}} {v} {}", sel.join(","), t / 1000).unwrap();
            }
        }
    }
    om.push_str("# EOF\n");
    om
}

/// The same series in the engine's in-memory storage.
pub fn storage(all: &[Series]) -> MemStorage {
    let mut m = MemStorage::new();
    for s in all {
        let pairs: Vec<(&str, &str)> = s
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let ls = Labels::from_pairs(&pairs);
        for &(t, v) in &s.samples {
            m.append(ls.clone(), t, v);
        }
    }
    m
}
