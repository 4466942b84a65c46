//! AZURE backend against a real Azurite started per test (shared-key signatures verified).

use std::sync::Arc;
use std::time::Duration;

use aeon_objstore::testutil::azurite::{ACCOUNT_KEY, Azurite};
use aeon_objstore::{
    BackendConfig, Bucket, BucketConfig, BucketMetrics, Error, InstrumentedBucket, ListMode,
    RetryPolicy, from_yaml,
};
use bytes::Bytes;
use prometheus_client::registry::Registry;

use crate::acceptance_suite;

fn server() -> Azurite {
    Azurite::start().unwrap_or_else(|e| panic!("{e}"))
}

async fn make() -> (Arc<dyn Bucket>, Azurite) {
    let s = server();
    let b = from_yaml(&s.yaml(), "azurite", &mut Registry::default())
        .await
        .unwrap();
    (b, s)
}

acceptance_suite!(make());

async fn instrumented(yaml: &str, registry: &mut Registry) -> Arc<dyn Bucket> {
    let cfg = BucketConfig::parse(yaml, "test").unwrap();
    let BackendConfig::Azure(azure) = &cfg.backend else {
        panic!("not AZURE")
    };
    let raw = Arc::new(aeon_objstore::AzureBucket::new(azure).await.unwrap());
    Arc::new(InstrumentedBucket::new(
        raw,
        BucketMetrics::new(registry),
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
        },
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_container_is_created_and_prefix_applies() {
    let s = server();
    let yaml = format!(
        "{}prefix: tenant-1\n",
        s.yaml_for("fresh-container", ACCOUNT_KEY)
    );
    let b = from_yaml(&yaml, "azurite", &mut Registry::default())
        .await
        .unwrap();
    b.upload("01/x", Bytes::from_static(b"p")).await.unwrap();
    assert_eq!(b.list("", ListMode::Delimited).await.unwrap(), ["01/"]);
    // A second client finds the container already there.
    let again = from_yaml(
        &s.yaml_for("fresh-container", ACCOUNT_KEY),
        "azurite",
        &mut Registry::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        again.get("tenant-1/01/x").await.unwrap(),
        Bytes::from_static(b"p")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_create_container_a_missing_container_is_an_error() {
    let s = server();
    let yaml = format!(
        "{}  storage_create_container: false\n",
        s.yaml_for("never-created", ACCOUNT_KEY)
    );
    let b = from_yaml(&yaml, "azurite", &mut Registry::default())
        .await
        .unwrap();
    assert!(b.upload("k", Bytes::from_static(b"x")).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_account_key_is_an_auth_error_at_start_up() {
    let s = server();
    // A valid base64 key that is not Azurite's.
    let wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";
    let e = from_yaml(
        &s.yaml_for("wrong-key", wrong),
        "azurite",
        &mut Registry::default(),
    )
    .await
    .unwrap_err();
    assert!(e.is_auth(), "{e:?}");
    let yaml = format!(
        "{}  storage_create_container: false\n",
        s.yaml_for("wrong-key", wrong)
    );
    let b = from_yaml(&yaml, "azurite", &mut Registry::default())
        .await
        .unwrap();
    let e = b.get("any/key").await.unwrap_err();
    assert!(e.is_auth(), "{e:?}");
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
    let e = b.get("before/obj").await.unwrap_err();
    match &e {
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_azurite_fails_with_install_hint() {
    let e =
        Azurite::start_with_binary(std::path::Path::new("/nonexistent/azurite-blob")).unwrap_err();
    assert!(
        e.contains("cargo xtask peers install azurite") && e.contains("/nonexistent/azurite-blob"),
        "{e}"
    );
}
