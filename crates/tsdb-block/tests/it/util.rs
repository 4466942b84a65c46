use std::path::{Path, PathBuf};
use std::process::Command;

/// The real promtool; fails loudly when missing.
/// The real promtool; fails loudly when missing.
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
        "promtool {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 promtool output")
}

/// `promtool tsdb dump` of a data dir (promtool wants a `wal` directory).
pub fn promtool_dump(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("wal")).unwrap();
    run_promtool(&["tsdb", "dump", dir.to_str().unwrap()])
}

/// Small deterministic PRNG (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn float(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// An OpenMetrics document with `n` series (counters and gauges) over
/// about `hours` hours, with float edge cases and irregular timestamps.
pub fn gen_openmetrics(seed: u64, n: usize, hours: u64) -> String {
    let mut r = Rng::new(seed);
    let mut out = String::new();
    let start_ms: i64 = 1_700_000_000_000 + r.below(3_600_000) as i64;
    let edge = [
        "NaN",
        "+Inf",
        "-Inf",
        "-0",
        "0",
        "1e-300",
        "1.7976931348623157e+308",
        "5e-324",
        "123456789012345678",
        "0.1",
        "-42.125",
    ];
    let metrics = n / 10;
    for m in 0..metrics {
        let counter = m % 2 == 0;
        let name = if counter {
            format!("test_metric_{m}")
        } else {
            format!("gauge_metric_{m}")
        };
        out.push_str(&format!(
            "# HELP {name} generated\n# TYPE {name} {}\n",
            if counter { "counter" } else { "gauge" }
        ));
        let sample_name = if counter {
            format!("{name}_total")
        } else {
            name.clone()
        };
        for s in 0..10 {
            let interval = [15_000i64, 30_000, 60_000, 10_000, 7_000][s % 5];
            let mut t = start_ms + (s as i64) * 1000;
            let end = start_ms + (hours as i64) * 3_600_000;
            let mut v = (r.below(1000)) as f64;
            let labels = format!(
                "{{instance=\"host-{s}\",job=\"j{}\",path=\"/a\\\"b\\\\c\\nd\"}}",
                m % 3
            );
            while t < end {
                let val = if !counter && r.below(50) == 0 {
                    edge[r.below(edge.len() as u64) as usize].to_string()
                } else if counter {
                    if r.below(200) == 0 {
                        v = 0.0; // reset
                    } else {
                        v += (r.below(100)) as f64 * if s % 2 == 0 { 1.0 } else { 0.25 };
                    }
                    format!("{v}")
                } else {
                    format!("{}", (r.float() - 0.5) * 1e6)
                };
                let secs = t / 1000;
                let ms = t % 1000;
                let ts = if ms == 0 {
                    format!("{secs}")
                } else {
                    format!("{secs}.{ms:03}")
                };
                out.push_str(&format!("{sample_name}{labels} {val} {ts}\n"));
                let jitter = r.below(5) as i64 * 1000 * i64::from(s == 3);
                t += interval + jitter;
                if s == 4 && r.below(100) == 0 {
                    t += 40 * 60_000; // big gap
                }
            }
        }
    }
    out.push_str("# EOF\n");
    out
}
