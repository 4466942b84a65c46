//! Downsampling end to end: a 30-day bucket (10 gauges, 10 counters and 2
//! native histogram counters, 60 s raw interval, written as 2d blocks) is compacted and downsampled by the real
//! `aeon compact`, served by a real `aeon store` and queried through a real
//! `aeon query` with `max_source_resolution=0s` (raw), auto-downsampling
//! (step 1h / 5 → the 5m blocks) and `max_source_resolution=1h`.
//!
//! Tolerances (also in the aeon-compactor crate docs), derived from how
//! the aggregates are built: windows end at `t - t % r + r - 1`, so at an
//! hour-aligned evaluation time `t` the downsampled windows cover exactly
//! `[t - w, t)` while the raw range is `(t - w, t]` — one sample of the
//! 60 in an hour differs at each edge. For a gauge of values 90..110 that
//! bounds `avg_over_time(g[1h])` and `max_over_time(g[1h])` to
//! `20 / 60 / 90 ≈ 0.4 %`; we allow **1 %**.
//!
//! `rate(c[w])` at resolution `r` sees the counter at window ends only:
//! (1) about the first `r` of the window's increase is missing and
//! extrapolated from the rest, an error of about `(r / w) · |m_r − m_w| / m`
//! (`m_x`: mean rate over `x`); our counters' per-minute increase is uniform
//! in 0..2m (relative SD 1/√3), so `m_r / m` has SD `(1/√3) / √(r / 1m)` —
//! for `w = 1d` an error SD of 0.015 % (5m) and 0.31 % (1h); (2) at an
//! aggregate chunk or block edge the extra raw samples Thanos keeps there
//! shorten the average sample interval, and Prometheus then extrapolates
//! only half an interval (less than `r / 2`) to the window start instead of
//! the whole gap (up to `r`): at most `r / w` low (0.35 % at 5m, 4.2 % at
//! 1h for `w = 1d`). With (1) at 5 SD on top of (2) we allow **1 %** at 5m
//! and **6 %** at 1h — for float counters and, through the float-histogram
//! counter aggregate, for `histogram_count(rate(h[1d]))` of native
//! histograms. (With `w = 6h`, (2) reaches 17 % at 1h — use long windows
//! on downsampled data, as Thanos advises.)
//! Latencies of both are printed, not asserted.
//!
//! The float counters restart every ~3 days at odd minutes, so `rate`
//! windows see resets inside aggregate windows and next to aggregate chunk
//! edges: the querier reads counter aggregates with Thanos's counter-reset
//! iterator (each counter sub-chunk ends with the true last raw value at
//! its last timestamp, used only for the reset check against the next
//! chunk).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use aeon_testkit::Procs;
use aeon_tsdb_block::chunkenc::{Histogram, Span};
use aeon_tsdb_block::meta::ThanosDownsample;
use aeon_tsdb_block::{BlockMeta, BlockWriter, BlockWriterOptions, ThanosMeta};
use serde_json::Value;

const MIN: i64 = 60_000;
const H: i64 = 60 * MIN;
const D: i64 = 24 * H;
const SERIES: usize = 10; // of each float kind: 10 gauges + 10 counters
const HIST_SERIES: usize = 2; // native histogram counters
/// Float counters restart (drop to 0) every this many minutes (~3 days).
const RESET_EVERY_MIN: i64 = 4337;

fn free_addr() -> String {
    format!("127.0.0.1:{}", aeon_testkit::free_port())
}

/// Starts `aeon <args>` as `name` in `procs` (output in its log).
fn spawn_aeon(procs: &mut Procs, name: &str, args: &[String]) {
    procs.spawn(name, Command::new(env!("CARGO_BIN_EXE_aeon")).args(args));
}

fn http_get(addr: &str, path: &str) -> Result<(u16, String), String> {
    aeon_testkit::process::http_get(addr, path, Duration::from_secs(60))
        .ok_or_else(|| format!("GET http://{addr}{path} failed"))
}

fn gauge(i: usize, t: i64) -> f64 {
    let phase = (t as f64 / D as f64) * std::f64::consts::TAU + i as f64;
    let noise = ((t / MIN) as usize * 7919 + i * 104_729) % 1000;
    100.0 + 9.0 * phase.sin() + noise as f64 / 1000.0 - 0.5
}

/// Per-minute increase of counter `i`: uniform-ish in 0..2×(i+1).
fn increment(i: usize, k: i64) -> f64 {
    let u = ((k as usize).wrapping_mul(2_654_435_761) ^ (i * 40_503)) % 1000;
    u as f64 / 1000.0 * 2.0 * (i as f64 + 1.0)
}

/// Samples of one series: floats (Ok) or integer histograms (Err).
type FloatsOrHistograms = Result<Vec<(i64, f64)>, Vec<(i64, Histogram)>>;

/// Per-minute increase of bucket `j` of histogram `i`: 0..=4.
fn hist_increment(i: usize, j: usize, k: i64) -> i64 {
    (((k as usize).wrapping_mul(2_654_435_761) ^ (j * 977 + i * 40_503)) % 5) as i64
}

/// Writes 2d raw blocks covering [start, start + days) into the bucket directory.
fn write_bucket(bucket: &Path, start: i64, days: i64) -> usize {
    let mut counters = [0.0f64; SERIES];
    // Native histogram counters: three buckets each.
    let mut hists = [[0i64; 3]; HIST_SERIES];
    let mut samples = 0;
    for b in 0..days / 2 {
        let (from, to) = (start + b * 2 * D, start + (b + 1) * 2 * D);
        let mut w = BlockWriter::new(
            bucket,
            BlockWriterOptions {
                thanos: Some(ThanosMeta {
                    version: 1,
                    labels: [("cluster".to_string(), "eu1".to_string())].into(),
                    downsample: ThanosDownsample { resolution: 0 },
                    source: "sidecar".into(),
                    ..Default::default()
                }),
                min_time: Some(from),
                max_time: Some(to),
                ..Default::default()
            },
        )
        .unwrap();
        // Label order: test_requests_total < test_temp; series="0".."9".
        let mut series: Vec<(aeon_model::Labels, Vec<(i64, f64)>)> = Vec::new();
        for (i, c) in counters.iter_mut().enumerate() {
            let mut s = Vec::new();
            let mut t = from;
            while t < to {
                // A restart every ~3 days, at an odd minute (inside windows,
                // sometimes next to aggregate chunk edges).
                if (t / MIN + i as i64 * 613) % RESET_EVERY_MIN == 0 {
                    *c = 0.0;
                }
                *c += increment(i, t / MIN);
                s.push((t, *c));
                t += MIN;
            }
            series.push((
                aeon_model::Labels::from_pairs(&[
                    ("__name__", "test_requests_total"),
                    ("series", &i.to_string()),
                ]),
                s,
            ));
        }
        for i in 0..SERIES {
            let s: Vec<(i64, f64)> = (0..(to - from) / MIN)
                .map(|k| (from + k * MIN, gauge(i, from + k * MIN)))
                .collect();
            series.push((
                aeon_model::Labels::from_pairs(&[
                    ("__name__", "test_temp"),
                    ("series", &i.to_string()),
                ]),
                s,
            ));
        }
        let mut all: Vec<(aeon_model::Labels, FloatsOrHistograms)> =
            series.into_iter().map(|(l, s)| (l, Ok(s))).collect();
        for (i, b) in hists.iter_mut().enumerate() {
            let mut s = Vec::new();
            let mut t = from;
            while t < to {
                for (j, x) in b.iter_mut().enumerate() {
                    *x += hist_increment(i, j, t / MIN);
                }
                s.push((
                    t,
                    Histogram {
                        schema: 0,
                        zero_threshold: 0.001,
                        count: b.iter().sum::<i64>() as u64,
                        sum: b[0] as f64 * 0.5 + b[1] as f64 * 1.5 + b[2] as f64 * 3.0,
                        positive_spans: vec![Span {
                            offset: 0,
                            length: 3,
                        }],
                        positive_buckets: vec![b[0], b[1] - b[0], b[2] - b[1]],
                        ..Default::default()
                    },
                ));
                t += MIN;
            }
            all.push((
                aeon_model::Labels::from_pairs(&[
                    ("__name__", "test_latency_seconds"),
                    ("series", &i.to_string()),
                ]),
                Err(s),
            ));
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        for (l, s) in all {
            match s {
                Ok(f) => {
                    samples += f.len();
                    w.add_float_series(l, &f).unwrap();
                }
                Err(h) => {
                    samples += h.len();
                    w.add_histogram_series(l, &h).unwrap();
                }
            }
        }
        w.finish().unwrap();
    }
    samples
}

fn bucket_resolutions(bucket: &Path) -> BTreeMap<i64, usize> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(bucket).unwrap() {
        let p = e.unwrap().path();
        if p.join("meta.json").is_file() && !p.join("deletion-mark.json").exists() {
            let m = BlockMeta::read_from_dir(&p).unwrap();
            let r = m.thanos.map_or(0, |t| t.downsample.resolution);
            *out.entry(r).or_default() += 1;
        }
    }
    out
}

/// series labels → (t → value) of a range query; plus the latency.
type Matrix = BTreeMap<String, BTreeMap<i64, f64>>;

fn query_range(addr: &str, q: &str, start: i64, end: i64, extra: &str) -> (Matrix, Duration) {
    let enc: String = q
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let path = format!(
        "/api/v1/query_range?query={enc}&start={}&end={}&step=3600{extra}",
        start / 1000,
        end / 1000
    );
    let t = Instant::now();
    let (code, body) = http_get(addr, &path).unwrap();
    let took = t.elapsed();
    assert_eq!(code, 200, "{path}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let mut out = Matrix::new();
    for s in v["data"]["result"].as_array().unwrap() {
        let key = s["metric"].to_string();
        let pts = s["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let t = (p[0].as_f64().unwrap() * 1000.0) as i64;
                (t, p[1].as_str().unwrap().parse::<f64>().unwrap())
            })
            .collect();
        out.insert(key, pts);
    }
    (out, took)
}

/// Compares `got` with `raw`: same series, ≥ 95 % of the raw points present,
/// every common point within `tol` relative error. Returns (max error, points
/// that differ at all).
fn compare(what: &str, raw: &Matrix, got: &Matrix, tol: f64) -> (f64, usize) {
    assert_eq!(
        raw.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "{what}: series differ"
    );
    let (mut worst, mut differ, mut total, mut common) = (0.0f64, 0, 0, 0);
    let mut bad = Vec::new();
    for (k, rs) in raw {
        let gs = &got[k];
        for (t, rv) in rs {
            total += 1;
            let Some(gv) = gs.get(t) else { continue };
            common += 1;
            let err = (gv - rv).abs() / rv.abs().max(1e-9);
            if gv != rv {
                differ += 1;
            }
            if err > tol {
                bad.push(format!(
                    "{k} at {t}: raw {rv}, downsampled {gv} ({:.3} %)",
                    err * 100.0
                ));
            }
            worst = worst.max(err);
        }
    }
    assert!(
        bad.is_empty(),
        "{what}: {} of {common} points beyond {:.1} %:\n{}",
        bad.len(),
        tol * 100.0,
        bad[..bad.len().min(12)].join("\n")
    );
    assert!(
        common * 100 >= total * 95,
        "{what}: only {common} of {total} raw points have a downsampled value"
    );
    (worst, differ)
}

#[test]
fn thirty_days_agree_between_raw_and_downsampled_within_documented_tolerance() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let bucket = dir.join("bucket");
    std::fs::create_dir_all(&bucket).unwrap();
    let now = chrono_now_ms();
    // 30 days ending 12 days ago, starting on a 14d boundary.
    let start = (now / (14 * D)) * 14 * D - 42 * D;
    println!("data from {start} to {}", start + 30 * D);
    let end = start + 30 * D;
    let samples = write_bucket(&bucket, start, 30);
    assert_eq!(samples, (2 * SERIES + HIST_SERIES) * 30 * 1440);
    let yml = dir.join("bucket.yml");
    std::fs::write(
        &yml,
        format!(
            "type: FILESYSTEM\nconfig:\n  directory: \"{}\"\n",
            bucket.display()
        ),
    )
    .unwrap();

    // Two compactor runs: the first compacts to 14d and downsamples raw → 5m,
    // the second downsamples the 14d 5m blocks → 1h.
    let t = Instant::now();
    for run in 0..2 {
        let out = Command::new(env!("CARGO_BIN_EXE_aeon"))
            .args([
                "compact".to_string(),
                format!("--data-dir={}", dir.join("compact").display()),
                format!("--objstore.config-file={}", yml.display()),
                "--http-address=127.0.0.1:0".into(),
                "--consistency-delay=0s".into(),
                "--delete-delay=0s".into(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "compactor run {run}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let res = bucket_resolutions(&bucket);
    println!(
        "compactor: 2 runs in {:?}; live blocks by resolution {res:?}",
        t.elapsed()
    );
    assert!(res.get(&300_000).is_some_and(|n| *n >= 2), "{res:?}");
    assert!(res.get(&3_600_000).is_some_and(|n| *n >= 2), "{res:?}");

    let mut procs = Procs::new(dir);
    let (sg_http, sg_grpc, q_http, q_grpc) = (free_addr(), free_addr(), free_addr(), free_addr());
    spawn_aeon(
        &mut procs,
        "store",
        &[
            "store".into(),
            format!("--data-dir={}", dir.join("store").display()),
            format!("--objstore.config-file={}", yml.display()),
            format!("--http-address={sg_http}"),
            format!("--grpc-address={sg_grpc}"),
        ],
    );
    spawn_aeon(
        &mut procs,
        "query",
        &[
            "query".into(),
            format!("--http-address={q_http}"),
            format!("--grpc-address={q_grpc}"),
            format!("--store={sg_grpc}"),
            "--query.auto-downsampling".into(),
        ],
    );
    // Wait until the querier answers with every series from the store.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let probe = format!(
            "/api/v1/query?query=count(test_temp)&time={}&max_source_resolution=0s",
            (start + D) / 1000
        );
        if let Ok((200, body)) = http_get(&q_http, &probe)
            && body.contains(&format!("\"{SERIES}\""))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stack not ready:\n{}",
            procs.logs(15)
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    let (qs, qe) = (start + D, end);
    let cases: [(&str, usize, f64, f64); 4] = [
        ("avg_over_time(test_temp[1h])", SERIES, 0.01, 0.01),
        ("max_over_time(test_temp[1h])", SERIES, 0.01, 0.01),
        ("rate(test_requests_total[1d])", SERIES, 0.01, 0.06),
        (
            "histogram_count(rate(test_latency_seconds[1d]))",
            HIST_SERIES,
            0.01,
            0.06,
        ),
    ];
    for (q, n, tol_5m, tol_1h) in cases {
        let (raw, t_raw) = query_range(&q_http, q, qs, qe, "&max_source_resolution=0s");
        let (auto, t_auto) = query_range(&q_http, q, qs, qe, "");
        let (h1, t_h1) = query_range(&q_http, q, qs, qe, "&max_source_resolution=1h");
        assert_eq!(raw.len(), n, "{q}: {}", procs.logs(15));
        let (w5, d5) = compare(&format!("{q} auto (5m)"), &raw, &auto, tol_5m);
        let (w1, d1) = compare(&format!("{q} 1h"), &raw, &h1, tol_1h);
        // Downsampled data was really used: values are not all bit-identical.
        assert!(
            d5 > 0 && d1 > 0,
            "{q}: downsampled answers equal raw ones exactly"
        );
        println!(
            "{q}: raw {t_raw:?}, auto/5m {t_auto:?} (max err {:.3} %), 1h {t_h1:?} (max err {:.3} %)",
            w5 * 100.0,
            w1 * 100.0
        );
    }
}

fn chrono_now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}
