//! XOR decode throughput per CPU-second (not wall time), for shared or
//! loaded machines: `cargo run --release -p aeon-tsdb-block --example xor_cpu`.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use aeon_tsdb_block::chunkenc::{XorChunk, XorEncoder};

/// User+system CPU time of this process in seconds (Linux /proc).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = stat.rsplit_once(')').unwrap().1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn main() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for kind in ["constant", "counter", "random"] {
        let mut e = XorEncoder::new();
        let mut v = 0.0;
        for i in 0..120i64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let val = match kind {
                "constant" => 42.0,
                "counter" => {
                    v += (x % 100) as f64;
                    v
                }
                _ => f64::from_bits(x >> 2),
            };
            e.append(1_700_000_000_000 + i * 15_000 + (x % 3) as i64, val);
        }
        let chunk = e.finish();
        let rounds = 400_000;
        let (c0, w0) = (cpu_seconds(), Instant::now());
        let mut acc = 0.0;
        for _ in 0..rounds {
            for (t, v) in XorChunk::new(black_box(&chunk)).unwrap().iter() {
                acc += v + t as f64;
            }
        }
        let (cpu, wall) = (cpu_seconds() - c0, w0.elapsed().as_secs_f64());
        let n = (rounds * 120) as f64 / 1e6;
        println!(
            "xor decode {kind:8}: {:6.0} M samples/s per CPU-second ({:6.0} per wall-second) [{acc:e}]",
            n / cpu,
            n / wall
        );
    }
}
