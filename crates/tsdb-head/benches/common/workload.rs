//! A node-exporter-like workload shared by the benchmark and the figures
//! example: `metrics × hosts` series with 6 labels, counters with jitter.
#![allow(clippy::unwrap_used)]

use aeon_model::Labels;
use aeon_tsdb_head::{Head, SeriesRef};

pub const STEP: i64 = 15_000;
pub const BASE: i64 = 1_700_006_400_000;

pub fn labels(metrics: usize, hosts: usize) -> Vec<Labels> {
    let mut out = Vec::with_capacity(metrics * hosts);
    for m in 0..metrics {
        for h in 0..hosts {
            out.push(Labels::from_pairs(&[
                ("__name__", format!("node_metric_{m}_total")),
                ("instance", format!("10.0.{}.{}:9100", h / 250, h % 250)),
                ("job", "node".to_string()),
                ("cluster", "eu-west-1".to_string()),
                ("env", "prod".to_string()),
                ("device", format!("dev{}", m % 8)),
            ]));
        }
    }
    out
}

pub fn refs(h: &Head, ls: &[Labels]) -> Vec<SeriesRef> {
    let mut a = h.appender();
    let r = ls.iter().map(|l| a.series(l).unwrap()).collect();
    a.commit().unwrap();
    r
}

/// The value of series `s` at step `k` (a counter with uneven increments).
pub fn value(s: usize, k: i64) -> f64 {
    let x = (s as u64)
        .wrapping_mul(0x9e37_79b9)
        .wrapping_add(k as u64 * 7919);
    (k * 100 + (x % 37) as i64) as f64 * 0.5
}

/// Appends step `k` for every series in one commit.
pub fn step(h: &Head, refs: &[SeriesRef], k: i64) {
    let mut a = h.appender();
    let t = BASE + k * STEP;
    for (s, r) in refs.iter().enumerate() {
        a.append(*r, t + (s % 5) as i64, value(s, k)).unwrap();
    }
    a.commit().unwrap();
}
