//! S3 backend against a real s3s-fs server started per test (SigV4-verified).

use std::sync::Arc;
use std::time::Duration;

use aeon_objstore::testutil::{ChaosProxy, S3Server, SECRET_KEY, find_files_named, yaml_for};
use aeon_objstore::{
    BackendConfig, Bucket, BucketConfig, BucketMetrics, Error, InstrumentedBucket, ListMode,
    MIN_PART_SIZE, RetryPolicy, S3Bucket, from_yaml,
};
use bytes::Bytes;
use prometheus_client::registry::Registry;

use crate::acceptance_suite;

fn server() -> S3Server {
    S3Server::start().unwrap_or_else(|e| panic!("{e}"))
}

async fn make() -> (Arc<dyn Bucket>, S3Server) {
    let s = server();
    let b = from_yaml(&s.yaml(), "s3s-fs", &mut Registry::default())
        .await
        .unwrap();
    (b, s)
}

acceptance_suite!(make());

/// ListObjects v1 (old Ceph) paginates with markers.
mod list_v1 {
    use super::*;

    async fn make() -> (Arc<dyn Bucket>, S3Server) {
        let s = server();
        let yaml = format!("{}  list_objects_version: v1\n", s.yaml());
        (
            from_yaml(&yaml, "s3s-fs", &mut Registry::default())
                .await
                .unwrap(),
            s,
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn listing_more_than_1000_keys_with_delimiter() {
        let (b, _s) = make().await;
        aeon_objstore::acceptance::listing_more_than_1000_keys_with_delimiter(b).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn listing_semantics() {
        let (b, _s) = make().await;
        aeon_objstore::acceptance::listing_semantics(b).await;
    }
}

fn s3_config(yaml: &str) -> aeon_objstore::S3Config {
    match BucketConfig::parse(yaml, "test").unwrap().backend {
        BackendConfig::S3(c) => *c,
        other => panic!("not S3: {other:?}"),
    }
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
    }
}

async fn instrumented(yaml: &str, registry: &mut Registry) -> Arc<dyn Bucket> {
    let raw = Arc::new(S3Bucket::new(&s3_config(yaml)).await.unwrap());
    Arc::new(InstrumentedBucket::new(
        raw,
        BucketMetrics::new(registry),
        fast_retries(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_give_an_auth_error_that_says_so() {
    let s = server();
    let mut registry = Registry::default();
    let b = instrumented(
        &yaml_for(&s.endpoint(), "not-the-secret", MIN_PART_SIZE),
        &mut registry,
    )
    .await;
    let get = b.get("any/key").await.unwrap_err();
    assert!(matches!(get, Error::Auth { .. }), "{get:?}");
    let msg = get.to_string();
    assert!(
        msg.contains("access denied") && msg.contains("credentials"),
        "{msg}"
    );
    assert!(
        msg.contains("SignatureDoesNotMatch")
            || msg.contains("AccessDenied")
            || msg.contains("403"),
        "{msg}"
    );
    // HEAD has no error body: the status alone must still classify as auth.
    assert!(b.attributes("any/key").await.unwrap_err().is_auth());
    assert!(
        b.upload("any/key", Bytes::from_static(b"x"))
            .await
            .unwrap_err()
            .is_auth()
    );
    assert!(b.list("", ListMode::Delimited).await.unwrap_err().is_auth());
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        !text.contains("aeon_objstore_bucket_operation_retries_total{"),
        "auth errors must not be retried:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_server_gives_bounded_retries_then_a_clear_error() {
    let mut s = server();
    let mut registry = Registry::default();
    let b = instrumented(&s.yaml(), &mut registry).await;
    b.upload("before/obj", Bytes::from_static(b"kept"))
        .await
        .unwrap();
    s.stop();

    let err = b.get("before/obj").await.unwrap_err();
    match &err {
        Error::RetriesExhausted {
            attempts: 3, last, ..
        } => assert!(last.is_transient(), "{last:?}"),
        other => panic!("want RetriesExhausted after 3 attempts, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("gave up after 3 attempts") && msg.contains("before/obj"),
        "{msg}"
    );
    let up = b
        .upload(
            "during/outage",
            aeon_objstore::acceptance::pattern(2 * MIN_PART_SIZE as usize, 1),
        )
        .await;
    assert!(matches!(up, Err(Error::RetriesExhausted { .. })), "{up:?}");
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(
            r#"aeon_objstore_bucket_operation_retries_total{bucket="aeon-test",operation="get"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"aeon_objstore_bucket_operation_failures_total{bucket="aeon-test",operation="upload"} 1"#), "{text}");

    s.restart().unwrap();
    assert_eq!(
        b.get("before/obj").await.unwrap(),
        Bytes::from_static(b"kept")
    );
    assert!(!b.exists("during/outage").await.unwrap());
    assert!(
        b.list("during/", ListMode::Recursive)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Cuts the connection to the server after `cut_after` bytes of an upload of `size` bytes and
/// checks that nothing appears under the key, through S3 and on the server's disk.
async fn cut_mid_upload(size: usize, cut_after: u64, from_file: bool) -> S3Server {
    let s = server();
    let target = format!("127.0.0.1:{}", s.port()).parse().unwrap();
    let proxy = ChaosProxy::start(target).await.unwrap();
    let through_proxy = instrumented(
        &yaml_for(&proxy.endpoint(), SECRET_KEY, MIN_PART_SIZE),
        &mut Registry::default(),
    )
    .await;
    let direct = from_yaml(&s.yaml(), "direct", &mut Registry::default())
        .await
        .unwrap();

    through_proxy
        .upload("cut/warmup", Bytes::from_static(b"w"))
        .await
        .unwrap();
    proxy.cut_after_upstream_bytes(proxy.upstream_bytes() + cut_after);
    let data = aeon_objstore::acceptance::pattern(size, 2);
    let tmp = tempfile::tempdir().unwrap();
    let result = if from_file {
        let src = tmp.path().join("src");
        std::fs::write(&src, &data).unwrap();
        through_proxy.upload_file("cut/big", &src).await.map(|_| ())
    } else {
        through_proxy.upload("cut/big", data).await
    };
    assert!(proxy.is_cut(), "the proxy should have cut the upload");
    match result {
        Err(Error::RetriesExhausted { attempts: 3, .. }) => {}
        other => panic!("want RetriesExhausted, got {other:?}"),
    }
    assert!(
        !direct.exists("cut/big").await.unwrap(),
        "a partial object is visible under the key"
    );
    assert_eq!(
        direct.list("cut/", ListMode::Recursive).await.unwrap(),
        ["cut/warmup"]
    );
    assert!(find_files_named(&s.bucket_dir(), "big").is_empty());
    s
}

/// Multipart uploads s3s-fs still tracks (the abort could not reach the server).
fn pending_multipart_uploads(s: &S3Server) -> usize {
    std::fs::read_dir(s.root_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".upload-")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_gone_mid_multipart_upload_leaves_no_partial_object() {
    let s = cut_mid_upload(
        3 * MIN_PART_SIZE as usize + 7,
        MIN_PART_SIZE + MIN_PART_SIZE / 2,
        true,
    )
    .await;
    // Proves the upload really was multipart: its state is on the server, invisible under the key.
    assert_eq!(pending_multipart_uploads(&s), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_gone_mid_single_put_leaves_no_partial_object() {
    let s = cut_mid_upload(MIN_PART_SIZE as usize - 1, 1024 * 1024, false).await;
    assert_eq!(
        pending_multipart_uploads(&s),
        0,
        "a single PUT must not start a multipart upload"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_prefix_and_yaml_config_round_trip() {
    let s = server();
    let yaml = format!("{}prefix: tenant-1\n", s.yaml());
    let b = from_yaml(&yaml, "s3s-fs", &mut Registry::default())
        .await
        .unwrap();
    b.upload("01/x", Bytes::from_static(b"p")).await.unwrap();
    assert!(s.bucket_dir().join("tenant-1/01/x").is_file());
    assert_eq!(b.list("", ListMode::Delimited).await.unwrap(), ["01/"]);
    let e = b.get("01/nope").await.unwrap_err();
    assert!(
        matches!(&e, Error::NotFound { key, .. } if key == "01/nope"),
        "{e:?}"
    );
}

#[test]
fn missing_s3s_fs_binary_fails_with_install_hint() {
    let e = S3Server::start_with_binary(std::path::Path::new("/nonexistent/s3s-fs")).unwrap_err();
    assert!(
        e.contains("cargo xtask peers install s3s-fs") && e.contains("/nonexistent/s3s-fs"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bucket_is_a_clear_permanent_error() {
    let s = server();
    let yaml = s
        .yaml()
        .replace("bucket: aeon-test", "bucket: no-such-bucket");
    let mut registry = Registry::default();
    let b = instrumented(&yaml, &mut registry).await;
    let e = b.list("", ListMode::Delimited).await.unwrap_err();
    assert!(matches!(e, Error::Backend { .. }), "{e:?}");
    assert!(
        e.to_string().contains("bucket does not exist") && e.to_string().contains("no-such-bucket"),
        "{e}"
    );
    // Not retried: a missing bucket is permanent.
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        !text.contains("aeon_objstore_bucket_operation_retries_total{"),
        "{text}"
    );
}
