//! GCS backend against a real fake-gcs-server started per test (JSON API).

use std::sync::Arc;
use std::time::Duration;

use aeon_objstore::testutil::fake_gcs::FakeGcs;
use aeon_objstore::{
    Bucket, BucketMetrics, Error, GcsBucket, InstrumentedBucket, ListMode, RetryPolicy,
};
use bytes::Bytes;
use prometheus_client::registry::Registry;

use crate::acceptance_suite;

fn server() -> FakeGcs {
    FakeGcs::start().unwrap_or_else(|e| panic!("{e}"))
}

fn bucket(s: &FakeGcs, chunk_size_bytes: u64, registry: &mut Registry) -> Arc<dyn Bucket> {
    let raw = GcsBucket::with_endpoint(&s.config(chunk_size_bytes), Some(&s.base_url())).unwrap();
    Arc::new(InstrumentedBucket::new(
        Arc::new(raw),
        BucketMetrics::new(registry),
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
        },
    ))
}

/// 1 MiB chunks: the 5+ MiB acceptance objects go through resumable uploads.
async fn make() -> (Arc<dyn Bucket>, FakeGcs) {
    let s = server();
    let b = bucket(&s, 1024 * 1024, &mut Registry::default());
    (b, s)
}

acceptance_suite!(make());

/// The default 16 MiB chunk: every acceptance object is a single media upload.
mod single_request_uploads {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn larger_than_one_multipart_part() {
        let s = server();
        let b = bucket(&s, 0, &mut Registry::default());
        aeon_objstore::acceptance::larger_than_one_multipart_part(b).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_sizes_round_up_to_256_kib() {
    let s = server();
    // 100 KiB becomes one 256 KiB granule: a 600 KiB object takes three chunks.
    let b = bucket(&s, 100 * 1024, &mut Registry::default());
    let data = aeon_objstore::acceptance::pattern(600 * 1024, 3);
    b.upload("odd/chunks", data.clone()).await.unwrap();
    assert_eq!(b.get("odd/chunks").await.unwrap(), data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_server_gives_bounded_retries_then_a_clear_error() {
    let mut s = server();
    let b = bucket(&s, 0, &mut Registry::default());
    b.upload("before/obj", Bytes::from_static(b"kept"))
        .await
        .unwrap();
    s.stop();
    match b.get("before/obj").await.unwrap_err() {
        Error::RetriesExhausted {
            attempts: 3, last, ..
        } => assert!(last.is_transient(), "{last:?}"),
        other => panic!("want RetriesExhausted, got {other:?}"),
    }
    s.restart().unwrap();
    assert_eq!(
        b.get("before/obj").await.unwrap(),
        Bytes::from_static(b"kept")
    );
    assert_eq!(b.list("", ListMode::Delimited).await.unwrap(), ["before/"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bucket_is_a_clear_permanent_error() {
    let s = server();
    let mut cfg = s.config(0);
    cfg.bucket = "no-such-bucket".into();
    let b = GcsBucket::with_endpoint(&cfg, Some(&s.base_url())).unwrap();
    let e = b.list("", ListMode::Delimited).await.unwrap_err();
    assert!(matches!(e, Error::Backend { .. }), "{e:?}");
    assert!(e.to_string().contains("bucket does not exist"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_fake_gcs_fails_with_install_hint() {
    let e = FakeGcs::start_with_binary(std::path::Path::new("/nonexistent/fake-gcs-server"))
        .unwrap_err();
    assert!(
        e.contains("cargo xtask peers install fake-gcs-server") && e.contains("/nonexistent"),
        "{e}"
    );
}
