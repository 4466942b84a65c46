//! Ranged-read throughput (`get_range`, the store-gateway's hot path) from the in-memory,
//! filesystem and S3 (a local s3s-fs started by the bench) backends.
//!
//! `cargo bench -p aeon-objstore --features testutil --bench ranged_read`
//!
//! Note on the S3 figures: s3s-fs does not set `TCP_NODELAY` on accepted sockets, so every GET
//! with a body on a kept-alive connection waits for Linux's delayed ACK (~40 ms; HEAD requests
//! are unaffected). They measure the test server, not the client; real S3 and MinIO set it.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use aeon_objstore::testutil::S3Server;
use aeon_objstore::{Bucket, FilesystemBucket, InMemoryBucket, from_yaml};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use prometheus_client::registry::Registry;

const OBJECT_SIZE: usize = 64 * 1024 * 1024;
const KEY: &str = "01JAEQZ8S5R0000000000000AC/chunks/000001";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let data = aeon_objstore::acceptance::pattern(OBJECT_SIZE, 42);
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = S3Server::start().unwrap_or_else(|e| panic!("{e}"));

    let mut backends: Vec<(&str, Arc<dyn Bucket>)> = vec![
        ("memory", Arc::new(InMemoryBucket::new("mem"))),
        (
            "filesystem",
            Arc::new(FilesystemBucket::new(tmp.path()).expect("fs bucket")),
        ),
    ];
    let s3 = rt
        .block_on(from_yaml(&server.yaml(), "bench", &mut Registry::default()))
        .expect("s3 bucket");
    backends.push(("s3s-fs", s3));
    for (_, b) in &backends {
        rt.block_on(b.upload(KEY, data.clone())).expect("upload");
    }

    let mut group = c.benchmark_group("get_range");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for range in [16 * 1024u64, 1024 * 1024] {
        group.throughput(Throughput::Bytes(range));
        // Spread reads over the object so the page cache, not one hot range, is measured.
        let offsets: Vec<u64> = (0..64u64)
            .map(|i| (i * 1_048_573) % (OBJECT_SIZE as u64 - range))
            .collect();
        for (name, b) in &backends {
            group.bench_with_input(BenchmarkId::new(*name, range), &range, |bench, &len| {
                let mut i = 0;
                bench.iter(|| {
                    let off = offsets[i % offsets.len()];
                    i += 1;
                    let got = rt.block_on(b.get_range(KEY, off, len)).expect("get_range");
                    assert_eq!(got.len() as u64, len);
                    black_box(got)
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
