//! A small, realistic, deterministic data set: an API's request counters and
//! a classic latency histogram, node CPU counters, memory gauges, `up`, and
//! queue gauges, one sample every 15 s. It has a counter reset in the old
//! and in the recent part, a target down for a while, a series that ends, one
//! that starts late, and one that goes stale (a staleness marker) and returns.

use std::collections::BTreeMap;
use std::fmt::Write as _;

pub const STEP_MS: i64 = 15_000;

#[derive(Debug, Clone)]
pub struct Series {
    /// Labels including `__name__`, without `cluster`/`replica`.
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<(i64, f64)>,
}

impl Series {
    pub fn name(&self) -> &str {
        &self.labels["__name__"]
    }

    /// The labels with `extra` added (e.g. the reference's `cluster`).
    pub fn labels_with(&self, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        for (k, v) in extra {
            l.insert((*k).into(), (*v).into());
        }
        l
    }
}

/// splitmix64: deterministic noise from (series, step).
fn noise(a: u64, b: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(a: u64, b: u64) -> f64 {
    (noise(a, b) >> 11) as f64 / (1u64 << 53) as f64
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// Every series from `start` to `end` (inclusive, both multiples of 15 s).
/// `resets` are two times at which instance `api-3` restarts (its counters
/// and histogram drop to zero); `down` is a window in which `api-2` is down.
pub fn generate(start: i64, end: i64, resets: [i64; 2], down: (i64, i64)) -> Vec<Series> {
    let steps: Vec<i64> = (0..=(end - start) / STEP_MS)
        .map(|i| start + i * STEP_MS)
        .collect();
    let restarted = |inst: &str, t: i64, prev: i64| {
        inst == "api-3" && resets.iter().any(|&r| prev < r && t >= r)
    };
    let mut out = Vec::new();
    let mut id = 0u64;
    let api = ["api-0", "api-1", "api-2", "api-3"];

    // http_requests_total{code,handler,instance,job,method}
    for inst in api {
        for (hi, handler) in ["/", "/api/v1/query", "/api/v1/series", "/metrics"]
            .into_iter()
            .enumerate()
        {
            for code in ["200", "500"] {
                id += 1;
                let weight = if code == "200" { 20.0 } else { 0.7 } / (hi + 1) as f64;
                let mut v = 0.0;
                let mut samples = Vec::new();
                let mut prev = i64::MIN;
                for (i, &t) in steps.iter().enumerate() {
                    if restarted(inst, t, prev) {
                        v = 0.0;
                    }
                    v += (unit(id, i as u64) * weight * 15.0).floor();
                    samples.push((t, v));
                    prev = t;
                }
                out.push(Series {
                    labels: labels(&[
                        ("__name__", "http_requests_total"),
                        ("code", code),
                        ("handler", handler),
                        ("instance", &format!("{inst}:8080")),
                        ("job", "api"),
                        ("method", "GET"),
                    ]),
                    samples,
                });
            }
        }
    }

    // http_request_duration_seconds{_bucket,_sum,_count}{handler,instance,job}
    let les = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
    let bounds = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, f64::INFINITY];
    for inst in api {
        for (hi, handler) in ["/api/v1/query", "/api/v1/series"].into_iter().enumerate() {
            id += 1;
            let mut buckets = vec![Vec::new(); les.len()];
            let mut sums = Vec::new();
            let mut counts = Vec::new();
            let (mut cum, mut sum, mut count) = (vec![0.0; les.len()], 0.0, 0.0);
            let mut prev = i64::MIN;
            for (i, &t) in steps.iter().enumerate() {
                if restarted(inst, t, prev) {
                    cum.iter_mut().for_each(|c| *c = 0.0);
                    sum = 0.0;
                    count = 0.0;
                }
                let n = (unit(id, i as u64) * 12.0) as u64;
                for k in 0..n {
                    // Latency in seconds, heavier for the second handler.
                    let u = unit(id ^ 0xABCD, i as u64 * 64 + k);
                    let lat = (u * u * u * 3.0 * (hi + 1) as f64 * 1000.0).round() / 1000.0;
                    sum += lat;
                    count += 1.0;
                    for (b, &ub) in bounds.iter().enumerate() {
                        if lat <= ub {
                            cum[b] += 1.0;
                        }
                    }
                }
                for (b, c) in cum.iter().enumerate() {
                    buckets[b].push((t, *c));
                }
                // Rounded so that the sum has an exact short decimal form.
                sum = (sum * 1000.0).round() / 1000.0;
                sums.push((t, sum));
                counts.push((t, count));
                prev = t;
            }
            let inst = format!("{inst}:8080");
            for (b, le) in les.iter().enumerate() {
                out.push(Series {
                    labels: labels(&[
                        ("__name__", "http_request_duration_seconds_bucket"),
                        ("handler", handler),
                        ("instance", &inst),
                        ("job", "api"),
                        ("le", le),
                    ]),
                    samples: std::mem::take(&mut buckets[b]),
                });
            }
            for (name, samples) in [
                ("http_request_duration_seconds_sum", sums),
                ("http_request_duration_seconds_count", counts),
            ] {
                out.push(Series {
                    labels: labels(&[
                        ("__name__", name),
                        ("handler", handler),
                        ("instance", &inst),
                        ("job", "api"),
                    ]),
                    samples,
                });
            }
        }
    }

    // process_resident_memory_bytes{instance,job}: a slow sawtooth with noise.
    for (k, inst) in api.iter().enumerate() {
        id += 1;
        let samples = steps
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let base = 200e6 + 50e6 * k as f64;
                let saw = ((i % 480) as f64) * 100_000.0;
                (t, (base + saw + (unit(id, i as u64) * 1e6).floor()).floor())
            })
            .collect();
        out.push(Series {
            labels: labels(&[
                ("__name__", "process_resident_memory_bytes"),
                ("instance", &format!("{inst}:8080")),
                ("job", "api"),
            ]),
            samples,
        });
    }

    // node_cpu_seconds_total{cpu,instance,job,mode}: fractional increments.
    for node in ["node-0", "node-1", "node-2"] {
        for cpu in ["0", "1"] {
            let mut left = 15.0;
            let mut series = Vec::new();
            for mode in ["user", "system"] {
                id += 1;
                let share = if mode == "user" { 0.45 } else { 0.15 };
                let mut v = 1000.0;
                let samples: Vec<(i64, f64)> = steps
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| {
                        v += (unit(id, i as u64) * share * 15.0 * 1000.0).round() / 1000.0;
                        v = (v * 1000.0).round() / 1000.0;
                        (t, v)
                    })
                    .collect();
                series.push((mode, samples));
            }
            // idle = wall clock minus the rest, so the three add up to 15 s per step.
            let idle: Vec<(i64, f64)> = (0..steps.len())
                .map(|i| {
                    let busy = series[0].1[i].1 + series[1].1[i].1 - 2000.0;
                    left += 15.0;
                    (steps[i], ((left - busy) * 1000.0).round() / 1000.0 + 5000.0)
                })
                .collect();
            series.push(("idle", idle));
            for (mode, samples) in series {
                out.push(Series {
                    labels: labels(&[
                        ("__name__", "node_cpu_seconds_total"),
                        ("cpu", cpu),
                        ("instance", &format!("{node}:9100")),
                        ("job", "node"),
                        ("mode", mode),
                    ]),
                    samples,
                });
            }
        }
    }

    // up{instance,job}: api-2 is down during `down`.
    for (job, inst) in api.iter().map(|i| ("api", format!("{i}:8080"))).chain(
        ["node-0", "node-1", "node-2"]
            .iter()
            .map(|n| ("node", format!("{n}:9100"))),
    ) {
        let samples = steps
            .iter()
            .map(|&t| {
                let is_down = inst == "api-2:8080" && t >= down.0 && t < down.1;
                (t, if is_down { 0.0 } else { 1.0 })
            })
            .collect();
        out.push(Series {
            labels: labels(&[("__name__", "up"), ("instance", &inst), ("job", job)]),
            samples,
        });
    }

    // queue_depth{instance,job,queue}: worker-1 goes away 4 h in, worker-2
    // appears 30 min into the last 2.5 h.
    let span = end - start;
    for (w, (from, to)) in [
        (start, end),
        (start, start + 4 * 3_600_000),
        (end - 2 * 3_600_000, end),
    ]
    .into_iter()
    .enumerate()
    {
        for queue in ["email", "billing"] {
            id += 1;
            let samples: Vec<(i64, f64)> = steps
                .iter()
                .enumerate()
                .filter(|(_, t)| **t >= from && **t <= to)
                .map(|(i, &t)| {
                    let phase = (t - start) as f64 / span as f64 * 12.0 + w as f64;
                    let v = (40.0 + 30.0 * phase.sin() + unit(id, i as u64) * 10.0).floor();
                    (t, v)
                })
                .collect();
            out.push(Series {
                labels: labels(&[
                    ("__name__", "queue_depth"),
                    ("instance", &format!("worker-{w}:9000")),
                    ("job", "worker"),
                    ("queue", queue),
                ]),
                samples,
            });
        }
    }
    // queue_depth{instance="worker-3:9000"}: only in the recent part, scraped
    // from end-2h, gone at end-1h (a staleness marker, as Prometheus writes
    // when a target disappears), back from end-40m.
    id += 1;
    let stale = aeon_model::stale_nan();
    let samples = steps
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            (**t >= end - 2 * 3_600_000 && **t <= end - 3_600_000 + STEP_MS)
                || **t >= end - 40 * 60_000
        })
        .map(|(i, &t)| {
            let v = if t == end - 3_600_000 + STEP_MS {
                stale
            } else {
                (unit(id, i as u64) * 25.0).floor()
            };
            (t, v)
        })
        .collect();
    out.push(Series {
        labels: labels(&[
            ("__name__", "queue_depth"),
            ("instance", "worker-3:9000"),
            ("job", "worker"),
            ("queue", "email"),
        ]),
        samples,
    });
    out
}

/// OpenMetrics text of every sample before `before` (ms), each series'
/// labels extended by `extra`. Samples of one metric name stay together.
pub fn openmetrics(series: &[Series], before: i64, extra: &[(&str, &str)]) -> String {
    let mut by_name: BTreeMap<&str, Vec<&Series>> = BTreeMap::new();
    for s in series {
        by_name.entry(s.name()).or_default().push(s);
    }
    let mut om = String::new();
    for (name, list) in by_name {
        for s in list {
            let mut sel = String::new();
            for (k, v) in s.labels_with(extra) {
                if k == "__name__" {
                    continue;
                }
                if !sel.is_empty() {
                    sel.push(',');
                }
                write!(sel, "{k}=\"{v}\"").unwrap();
            }
            for &(t, v) in s.samples.iter().filter(|(t, _)| *t < before) {
                assert!(
                    !aeon_model::is_stale_nan(v),
                    "OpenMetrics cannot carry staleness markers"
                );
                // Whole seconds (every timestamp is a multiple of 15 s); `{v}` is
                // the shortest exact form, so the blocks hold exactly `v`.
                writeln!(om, "{name}{{{sel}}} {v} {}", t / 1000).unwrap();
            }
        }
    }
    om.push_str("# EOF\n");
    om
}

/// An integer native histogram sample (schema 0: bucket `i` is
/// (2^(i-1), 2^i]), one positive span from `offset`.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeHist {
    pub count: u64,
    pub sum: f64,
    pub zero_count: u64,
    pub offset: i32,
    /// Absolute (not cumulative) bucket counts.
    pub buckets: Vec<u64>,
}

#[derive(Debug, Clone)]
pub struct HistSeries {
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<(i64, NativeHist)>,
}

/// `http_native_duration_seconds{handler,instance,job}`: native histograms
/// (as an instrumented app exposes them), only from `from` on — they are
/// pushed with remote write, since OpenMetrics blocks cannot carry them.
/// Instance api-1 restarts at `reset`.
pub fn generate_native(from: i64, end: i64, reset: i64) -> Vec<HistSeries> {
    const LO: i32 = -10; // 2^-11 .. 2^-10 s
    const N: usize = 14; // up to 2^3 = 8 s
    let mut out = Vec::new();
    for (k, inst) in ["api-0", "api-1", "api-2", "api-3"].into_iter().enumerate() {
        for (hi, handler) in ["/api/v1/query", "/api/v1/query_range"]
            .into_iter()
            .enumerate()
        {
            let id = 10_000 + (k * 2 + hi) as u64;
            let mut h = NativeHist {
                count: 0,
                sum: 0.0,
                zero_count: 0,
                offset: LO,
                buckets: vec![0; N],
            };
            let mut samples = Vec::new();
            let mut t = from;
            let mut i = 0u64;
            while t <= end {
                if inst == "api-1" && t >= reset && t - STEP_MS < reset {
                    h = NativeHist {
                        buckets: vec![0; N],
                        count: 0,
                        sum: 0.0,
                        zero_count: 0,
                        offset: LO,
                    };
                }
                let n = (unit(id, i) * 9.0) as u64;
                for j in 0..n {
                    let u = unit(id ^ 0x5555, i * 64 + j);
                    let lat = (u * u * 2.5 * (hi + 1) as f64 * 1000.0).round() / 1000.0;
                    if lat == 0.0 {
                        h.zero_count += 1;
                    } else {
                        let idx = (lat.log2().ceil() as i32).clamp(LO, LO + N as i32 - 1);
                        h.buckets[(idx - LO) as usize] += 1;
                    }
                    h.count += 1;
                    h.sum = ((h.sum + lat) * 1000.0).round() / 1000.0;
                }
                samples.push((t, h.clone()));
                t += STEP_MS;
                i += 1;
            }
            out.push(HistSeries {
                labels: labels(&[
                    ("__name__", "http_native_duration_seconds"),
                    ("handler", handler),
                    ("instance", &format!("{inst}:8080")),
                    ("job", "api"),
                ]),
                samples,
            });
        }
    }
    out
}
