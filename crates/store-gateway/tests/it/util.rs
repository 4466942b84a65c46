//! Shared helpers: real promtool blocks, bucket upload, gateway setup,
//! decoding Series results into `promtool tsdb dump` lines.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use aeon_model::gofmt::format_g;
use aeon_model::{Labels, MatchType, Matcher};
use aeon_objstore::Bucket;
use aeon_store_gateway::{Args, Gateway};
use aeon_storeapi::StoreApi;
use aeon_storeapi::convert::{labels_from_pb, matchers_to_pb};
use aeon_storeapi::pb::thanos;
use aeon_tsdb_block::BlockMeta;
use aeon_tsdb_block::chunkenc::XorChunk;
use aeon_tsdb_block::gofmt::labels_string;
use clap::Parser;

/// The real promtool 3.5; panics with a clear message when missing.
/// The real promtool 3.5; panics with a clear message when missing.
pub fn promtool() -> PathBuf {
    aeon_testkit::peers::promtool()
}

pub fn run_promtool(args: &[&str]) -> String {
    let out = Command::new(promtool())
        .args(args)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 promtool output")
}

/// Tiny deterministic PRNG (splitmix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Start of generated data: 2023-11-14T00:00:00Z (2h aligned).
pub const T0: i64 = 1_699_920_000_000;

/// A realistic scrape-like OpenMetrics document: `targets` instances × a
/// few metric families (counters with resets, gauges, histogram-style
/// buckets), `hours` hours at `step_s` seconds, some series starting late or
/// ending early (churn).
pub fn gen_openmetrics(seed: u64, targets: usize, hours: i64, step_s: i64) -> String {
    let mut r = Rng::new(seed);
    let mut out = String::new();
    let end = T0 + hours * 3_600_000;
    let family =
        |out: &mut String, name: &str, kind: &str, series: Vec<(String, bool)>, r: &mut Rng| {
            let _ = writeln!(
                out,
                "# HELP {name} generated for tests\n# TYPE {name} {kind}"
            );
            let sample_name = if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_string()
            };
            for (labels, counter) in series {
                // Churn: a tenth of the series live only part of the day.
                let (from, to) = match r.below(10) {
                    0 => (T0 + (r.below(hours as u64) as i64) * 3_600_000, end),
                    1 => (T0, T0 + (1 + r.below(hours as u64) as i64) * 3_600_000),
                    _ => (T0, end),
                };
                let mut v = r.below(1000) as f64;
                let mut t = from + (r.below(step_s as u64 * 1000) as i64 / 1000) * 1000;
                while t < to {
                    if counter {
                        if r.below(500) == 0 {
                            v = 0.0;
                        } else {
                            v += r.below(20) as f64;
                        }
                    } else {
                        v = ((r.below(2_000_000) as f64) - 1_000_000.0) / 1000.0;
                    }
                    let _ = writeln!(out, "{sample_name}{{{labels}}} {} {}", fmt_val(v), t / 1000);
                    t += step_s * 1000;
                }
            }
        };
    let inst = |i: usize| format!("instance=\"node-{i:03}:9100\",job=\"node\"");
    family(
        &mut out,
        "http_requests",
        "counter",
        (0..targets)
            .flat_map(|i| {
                ["GET", "POST"].into_iter().flat_map(move |m| {
                    ["200", "500"]
                        .into_iter()
                        .map(move |c| (format!("code=\"{c}\",{},method=\"{m}\"", inst(i)), true))
                })
            })
            .collect(),
        &mut r,
    );
    family(
        &mut out,
        "node_load1",
        "gauge",
        (0..targets).map(|i| (inst(i), false)).collect(),
        &mut r,
    );
    family(
        &mut out,
        "node_memory_free_bytes",
        "gauge",
        (0..targets).map(|i| (inst(i), false)).collect(),
        &mut r,
    );
    family(
        &mut out,
        "request_duration_bucket",
        "gauge",
        (0..targets)
            .flat_map(|i| {
                ["0.1", "1", "+Inf"]
                    .into_iter()
                    .map(move |le| (format!("{},le=\"{le}\"", inst(i)), false))
            })
            .collect(),
        &mut r,
    );
    out.push_str("# EOF\n");
    out
}

fn fmt_val(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// Runs `promtool tsdb create-blocks-from openmetrics` and returns the block dirs.
pub fn promtool_blocks(om: &str, dir: &Path) -> Vec<PathBuf> {
    let input = dir.join("in.om");
    std::fs::write(&input, om).unwrap();
    let out = dir.join("blocks");
    run_promtool(&[
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        input.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").is_file())
        .collect();
    v.sort();
    v
}

/// Adds a Thanos section (external labels, resolution, source) to a block's meta.json.
pub fn add_thanos(block: &Path, labels: &[(&str, &str)], resolution: i64) -> BlockMeta {
    let mut m = BlockMeta::read_from_dir(block).unwrap();
    let t = m.thanos.get_or_insert_with(Default::default);
    t.version = 1;
    t.labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    t.downsample.resolution = resolution;
    t.source = "test".into();
    m.write_to_dir(block).unwrap();
    m
}

/// Uploads block directories (meta.json last).
pub async fn upload(bucket: &dyn Bucket, blocks: &[PathBuf]) {
    for b in blocks {
        aeon_objstore::block::upload_block(bucket, b).await.unwrap();
    }
}

/// Args for a gateway with `data_dir` and extra flags.
pub fn args(data_dir: &Path, extra: &[&str]) -> Args {
    let mut argv = vec![
        "store".to_string(),
        format!("--data-dir={}", data_dir.display()),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    Args::try_parse_from(argv).unwrap()
}

/// A gateway over `bucket`, synced and loaded.
pub async fn gateway(bucket: Arc<dyn Bucket>, data_dir: &Path, extra: &[&str]) -> Gateway {
    let mut reg = aeon_common::Registry::default();
    let gw = Gateway::with_bucket(bucket, &args(data_dir, extra), &mut reg).unwrap();
    gw.sync_and_load().await.unwrap();
    gw
}

pub fn m(kind: MatchType, name: &str, value: &str) -> Matcher {
    Matcher::new(kind, name, value).unwrap()
}

pub fn req(ms: &[Matcher], mint: i64, maxt: i64) -> thanos::SeriesRequest {
    thanos::SeriesRequest {
        min_time: mint,
        max_time: maxt,
        matchers: matchers_to_pb(ms),
        ..Default::default()
    }
}

/// Series and warnings of a request.
pub async fn series(
    store: &dyn StoreApi,
    r: thanos::SeriesRequest,
) -> (Vec<thanos::Series>, Vec<String>) {
    let stream = store.series(r).await.unwrap();
    aeon_storeapi::merge::collect_series(stream).await.unwrap()
}

/// `promtool tsdb dump` lines of Series results: labels without `strip`,
/// samples decoded from XOR chunks and kept within `[mint, maxt]`.
pub fn dump_lines(series: &[thanos::Series], strip: &[&str], mint: i64, maxt: i64) -> String {
    let mut out = String::new();
    for s in series {
        let labels: Labels = labels_from_pb(&s.labels).without(strip);
        let ls = labels_string(&labels);
        let mut last = i64::MIN;
        for c in &s.chunks {
            let raw = c.raw.as_ref().expect("raw chunk");
            assert_eq!(raw.r#type, 0, "XOR chunk");
            for smp in XorChunk::new(&raw.data).unwrap().samples().unwrap() {
                if smp.t < mint || smp.t > maxt || smp.t <= last {
                    continue;
                }
                last = smp.t;
                let _ = writeln!(out, "{ls} {} {}", format_g(smp.v), smp.t);
            }
        }
    }
    out
}

/// `promtool tsdb dump` of the blocks under `dir` (promtool wants a `wal` dir).
pub fn promtool_dump(dir: &Path, extra: &[&str]) -> String {
    std::fs::create_dir_all(dir.join("wal")).unwrap();
    let mut a = vec!["tsdb", "dump"];
    a.extend_from_slice(extra);
    a.push(dir.to_str().unwrap());
    run_promtool(&a)
}

/// First differing line of two dumps, for assertion messages.
pub fn first_diff(a: &str, b: &str) -> String {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    for (i, (x, y)) in la.iter().zip(&lb).enumerate() {
        if x != y {
            return format!("line {i}: ours {x:?} vs promtool {y:?}");
        }
    }
    format!("lengths {} vs {} lines", la.len(), lb.len())
}
