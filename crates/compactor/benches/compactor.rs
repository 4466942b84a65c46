//! Throughput of the compactor's hot paths, in samples per second (one core):
//! merging non-overlapping blocks (chunks copied), merging two identical
//! replicas (decode + penalty dedup + re-encode) and raw → 5m downsampling.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};

use aeon_compactor::DedupFunc;
use aeon_compactor::downsample::downsample_raw;
use aeon_compactor::downsample::histogram::downsample_raw_hist;
use aeon_compactor::merge::{MergeInput, MergeOptions, merge_blocks};
use aeon_model::Labels;
use aeon_tsdb_block::chunkenc::{FloatHistogram, Span};
use aeon_tsdb_block::{BlockReader, BlockWriter, BlockWriterOptions};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SERIES: usize = 1000;
const SAMPLES: i64 = 480; // 2h at 15s

fn series(i: usize) -> Labels {
    Labels::from_pairs(&[
        ("__name__", "bench_metric"),
        ("instance", &format!("host-{i:05}")),
    ])
}

fn write_block(dir: &Path, start: i64) -> PathBuf {
    let mut w = BlockWriter::new(dir, BlockWriterOptions::default()).unwrap();
    let mut all: Vec<(Labels, usize)> = (0..SERIES).map(|i| (series(i), i)).collect();
    all.sort();
    for (l, i) in all {
        let s: Vec<(i64, f64)> = (0..SAMPLES)
            .map(|k| (start + k * 15_000, (i as i64 * 7 + k) as f64))
            .collect();
        w.add_float_series(l, &s).unwrap();
    }
    w.finish().unwrap().1
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let h2 = 2 * 3_600_000;
    let dirs: Vec<PathBuf> = (0..4).map(|b| write_block(tmp.path(), b * h2)).collect();
    let readers: Vec<BlockReader> = dirs.iter().map(|d| BlockReader::open(d).unwrap()).collect();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();

    let mut g = c.benchmark_group("compaction");
    g.sample_size(10);
    g.throughput(Throughput::Elements(4 * SERIES as u64 * SAMPLES as u64));
    g.bench_function("merge_4_disjoint_blocks_copy_chunks", |b| {
        b.iter(|| {
            let inputs: Vec<MergeInput<'_>> = readers
                .iter()
                .map(|r| MergeInput {
                    block: r,
                    stream: 0,
                })
                .collect();
            let (m, dir, _) = merge_blocks(
                &inputs,
                &out,
                BlockWriterOptions::default(),
                &MergeOptions::default(),
            )
            .unwrap();
            std::fs::remove_dir_all(dir).unwrap();
            black_box(m)
        })
    });
    // Two identical replicas of one block: every chunk overlaps.
    let replica = BlockReader::open(&write_block(tmp.path(), 0)).unwrap();
    g.throughput(Throughput::Elements(2 * SERIES as u64 * SAMPLES as u64));
    g.bench_function("merge_2_replicas_penalty_reencode", |b| {
        b.iter(|| {
            let inputs = [
                MergeInput {
                    block: &readers[0],
                    stream: 0,
                },
                MergeInput {
                    block: &replica,
                    stream: 1,
                },
            ];
            let opts = MergeOptions {
                dedup: DedupFunc::Penalty,
                ..Default::default()
            };
            let (m, dir, _) =
                merge_blocks(&inputs, &out, BlockWriterOptions::default(), &opts).unwrap();
            std::fs::remove_dir_all(dir).unwrap();
            black_box(m)
        })
    });
    g.finish();

    let raw: Vec<(i64, f64)> = (0..48 * 240)
        .map(|k| (k * 15_000, (k % 1000) as f64))
        .collect();
    let mut g = c.benchmark_group("downsampling");
    g.throughput(Throughput::Elements(raw.len() as u64));
    g.bench_function("raw_to_5m_48h_series", |b| {
        b.iter(|| black_box(downsample_raw(black_box(&raw), 300_000)))
    });
    // A native histogram series (schema 3, 10 buckets) of the same length.
    let hist: Vec<(i64, FloatHistogram)> = (0..48 * 240)
        .map(|k| {
            let b: Vec<f64> = (0..10).map(|j| (k * (j + 1)) as f64).collect();
            (
                k * 15_000,
                FloatHistogram {
                    schema: 3,
                    count: b.iter().sum(),
                    sum: k as f64,
                    positive_spans: vec![Span {
                        offset: 0,
                        length: 10,
                    }],
                    positive_buckets: b,
                    ..Default::default()
                },
            )
        })
        .collect();
    g.throughput(Throughput::Elements(hist.len() as u64));
    g.bench_function("raw_histograms_to_5m_48h_series", |b| {
        b.iter(|| black_box(downsample_raw_hist(black_box(&hist), 300_000).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
