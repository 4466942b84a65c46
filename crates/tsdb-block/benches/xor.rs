//! XOR chunk encode/decode throughput, postings intersection, series
//! lookup and postings for matchers.
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

/// Series lookup: 20k series with 6 labels each (symbols resolved through
/// the sampled symbol table), 1000 series read by ID, and a matcher query.
fn bench_series(c: &mut Criterion) {
    use aeon_model::{Labels, MatchType, Matcher};
    use aeon_tsdb_block::{ChunkMeta, IndexReader, IndexWriter, MemSource};
    use std::sync::Arc;

    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("index");
    let mut sets: Vec<Labels> = (0..20_000)
        .map(|i| {
            Labels::from_pairs(&[
                ("__name__", &format!("metric_{}", i % 50)),
                ("instance", &format!("host-{:05}.example.org:9100", i / 7)),
                ("job", &format!("job-{}", i % 13)),
                ("pod", &format!("pod-{i:06}")),
                ("region", &["eu", "us", "ap"][i % 3].to_string()),
                ("zone", &format!("z{}", i % 9)),
            ])
        })
        .collect();
    sets.sort();
    let syms = sets
        .iter()
        .flat_map(|s| s.iter().flat_map(|l| [l.name.clone(), l.value.clone()]))
        .chain(std::iter::once(String::new()));
    let mut w = IndexWriter::create(&p, syms).unwrap();
    for (i, s) in sets.iter().enumerate() {
        let c = ChunkMeta {
            min_time: 0,
            max_time: 1,
            r#ref: 8 + i as u64 * 32,
        };
        w.add_series(s, &[c]).unwrap();
    }
    w.finish().unwrap();
    let r = IndexReader::open(Arc::new(MemSource::new(
        "index",
        std::fs::read(&p).unwrap(),
    )))
    .unwrap();
    let all = r.all_postings().unwrap();
    let ids: Vec<u32> = all.iter().step_by(20).copied().collect();
    let mut g = c.benchmark_group("series");
    g.throughput(Throughput::Elements(ids.len() as u64));
    g.bench_function("lookup_1000", |b| {
        b.iter(|| r.series_many(black_box(&ids)).unwrap().len())
    });
    g.finish();
    let ms = [
        Matcher::new(MatchType::Equal, "region", "eu").unwrap(),
        Matcher::new(MatchType::RegexMatch, "job", "job-1|job-2|job-3").unwrap(),
        Matcher::new(MatchType::NotEqual, "zone", "z1").unwrap(),
    ];
    c.bench_function("postings/for_matchers_20k", |b| {
        b.iter(|| r.postings_for_matchers(black_box(&ms)).unwrap().len())
    });
}

criterion_group!(benches, bench_xor, bench_postings, bench_series);
criterion_main!(benches);
