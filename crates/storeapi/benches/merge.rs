//! Merge throughput: k-way merge of N sorted Series streams (10 and 100
//! stores), each series present in 2 stores (replicas) with identical chunks
//! that the merge must drop, plus 2 distinct chunks per store.
//!
//! Run: `cargo bench -p aeon-storeapi --bench merge`

#![allow(clippy::unwrap_used)] // benchmark harness

use std::time::Duration;

use aeon_storeapi::pb::thanos::{AggrChunk, Chunk, Label, Series, SeriesResponse};
use aeon_storeapi::{MergeOptions, SeriesStream, merge_series};
use bytes::Bytes;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;

const SERIES_PER_STREAM: usize = 2_000;

fn chunk(min: i64, seed: u64) -> AggrChunk {
    let data = Bytes::from(seed.to_le_bytes().repeat(16));
    AggrChunk::raw(
        min,
        min + 7_200_000,
        Chunk {
            r#type: 0,
            data,
            hash: 0,
        },
    )
}

/// Stream `s` of `n` holds series ids `s, s+n/2, ...` interleaved so that
/// every id lives in exactly two streams (s and s + n/2).
fn inputs(n: usize) -> Vec<Vec<Series>> {
    let half = n / 2;
    (0..n)
        .map(|s| {
            let base = s % half;
            (0..SERIES_PER_STREAM)
                .map(|i| {
                    let id = i * half + base;
                    Series {
                        labels: vec![
                            Label::new("__name__", "metric"),
                            Label::new("id", format!("{id:09}")),
                            Label::new("job", "bench"),
                        ],
                        // One shared chunk (identical in both replicas) and one own chunk.
                        chunks: vec![
                            chunk(0, id as u64),
                            chunk(7_200_000, (id as u64) << 20 | s as u64),
                        ],
                    }
                })
                .collect()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("merge");
    g.measurement_time(Duration::from_secs(8)).sample_size(10);
    for n in [10usize, 100] {
        let data = inputs(n);
        let out_series = (n / 2) * SERIES_PER_STREAM;
        g.throughput(Throughput::Elements(out_series as u64));
        g.bench_with_input(BenchmarkId::new("series", n), &data, |b, data| {
            // Input cloning happens in the untimed setup.
            b.iter_batched(
                || {
                    data.iter()
                        .map(|v| {
                            futures::stream::iter(
                                v.clone().into_iter().map(|s| Ok(SeriesResponse::series(s))),
                            )
                            .boxed()
                        })
                        .collect::<Vec<SeriesStream>>()
                },
                |streams| {
                    let (count, chunks) = rt.block_on(async {
                        let mut m = merge_series(streams, MergeOptions::default());
                        let (mut count, mut chunks) = (0usize, 0usize);
                        while let Some(r) = m.next().await {
                            if let Some(s) = r.unwrap().as_series() {
                                count += 1;
                                chunks += s.chunks.len();
                            }
                        }
                        (count, chunks)
                    });
                    assert_eq!(count, out_series);
                    assert_eq!(chunks, out_series * 3);
                },
                BatchSize::LargeInput,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
