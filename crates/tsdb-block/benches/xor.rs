//! XOR chunk encode/decode throughput and postings intersection.
//! Run: `cargo bench -p aeon-tsdb-block --bench xor`.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use aeon_tsdb_block::chunkenc::{XorChunk, XorEncoder};
use aeon_tsdb_block::index::intersect;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const N: usize = 120;
const CHUNKS: usize = 1000;

fn data(kind: &str) -> Vec<(i64, f64)> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut v = 0.0;
    (0..N)
        .map(|i| {
            let t = 1_700_000_000_000 + i as i64 * 15_000 + (rnd() % 3) as i64;
            let val = match kind {
                "constant" => 42.0,
                "counter" => {
                    v += (rnd() % 100) as f64;
                    v
                }
                _ => f64::from_bits(rnd() >> 2),
            };
            (t, val)
        })
        .collect()
}

fn encode(s: &[(i64, f64)]) -> Vec<u8> {
    let mut e = XorEncoder::new();
    for &(t, v) in s {
        e.append(t, v);
    }
    e.finish()
}

fn bench_xor(c: &mut Criterion) {
    for kind in ["constant", "counter", "random"] {
        let s = data(kind);
        let chunk = encode(&s);
        let mut g = c.benchmark_group(format!("xor/{kind}"));
        g.throughput(Throughput::Elements((N * CHUNKS) as u64));
        g.bench_function("decode", |b| {
            b.iter(|| {
                let mut acc = 0.0;
                for _ in 0..CHUNKS {
                    for (t, v) in XorChunk::new(black_box(&chunk)).unwrap().iter() {
                        acc += v + t as f64;
                    }
                }
                acc
            })
        });
        g.bench_function("encode", |b| {
            b.iter(|| {
                let mut n = 0;
                for _ in 0..CHUNKS {
                    n += encode(black_box(&s)).len();
                }
                n
            })
        });
        g.finish();
    }
}

fn bench_postings(c: &mut Criterion) {
    let a: Vec<u32> = (0..1_000_000).step_by(2).collect();
    let b: Vec<u32> = (0..1_000_000).step_by(3).collect();
    let small: Vec<u32> = (0..1_000_000).step_by(997).collect();
    let mut g = c.benchmark_group("postings");
    g.throughput(Throughput::Elements((a.len() + b.len()) as u64));
    g.bench_function("intersect_500k_333k", |bch| {
        bch.iter(|| intersect(&[black_box(&a), black_box(&b)]).len())
    });
    g.bench_function("intersect_1k_500k_333k", |bch| {
        bch.iter(|| intersect(&[black_box(&small), black_box(&a), black_box(&b)]).len())
    });
    g.finish();
}

criterion_group!(benches, bench_xor, bench_postings);
criterion_main!(benches);
