//! Head benchmarks: ingestion (one commit of one sample per series, by
//! reference and by labels as a remote-write handler does) and WAL replay.
//! `cargo bench -p aeon-tsdb-head --bench head`; CPU-time figures and bytes
//! per series: `cargo run --release -p aeon-tsdb-head --example head_figures`.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use aeon_tsdb_head::{Head, HeadOptions};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "common/workload.rs"]
mod workload;
use workload::*;

fn ingest(c: &mut Criterion) {
    let ls = labels(100, 100);
    let n = ls.len() as u64;
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(n));
    g.sample_size(20);

    let d = tempfile::tempdir().unwrap();
    let h = Head::open(d.path(), HeadOptions::default()).unwrap();
    let refs = refs(&h, &ls);
    let mut k = 0;
    g.bench_function("commit_10k_by_ref", |b| {
        b.iter(|| {
            step(&h, &refs, k);
            k += 1;
        })
    });
    drop(h);

    let d = tempfile::tempdir().unwrap();
    let h = Head::open(d.path(), HeadOptions::default()).unwrap();
    let mut k = 0;
    g.bench_function("commit_10k_by_labels", |b| {
        b.iter(|| {
            let mut a = h.appender();
            let t = BASE + k * STEP;
            for (s, l) in ls.iter().enumerate() {
                let r = a.series(l).unwrap();
                a.append(r, t, value(s, k)).unwrap();
            }
            a.commit().unwrap();
            k += 1;
        })
    });
    g.finish();
}

fn replay(c: &mut Criterion) {
    let ls = labels(50, 100);
    let steps = 240;
    let d = tempfile::tempdir().unwrap();
    {
        let h = Head::open(d.path(), HeadOptions::default()).unwrap();
        let refs = refs(&h, &ls);
        for k in 0..steps {
            step(&h, &refs, k);
        }
    }
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(ls.len() as u64 * steps as u64));
    g.sample_size(10);
    g.bench_function("open_5k_series_1.2M_samples", |b| {
        b.iter(|| black_box(Head::open(d.path(), HeadOptions::default()).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, ingest, replay);
criterion_main!(benches);
