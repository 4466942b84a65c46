//! Object storage buckets for Aeon: where every TSDB block lives.
//!
//! Layer: storage foundation (depends on nothing of ours). Entry points: the [`Bucket`] trait
//! (use as `Arc<dyn Bucket>`), the backends [`FilesystemBucket`], [`S3Bucket`] (also Thanos's
//! S3-compatible `COS`, `ALIYUNOSS`, `BOS`, `OBS`), [`GcsBucket`], [`AzureBucket`] and
//! [`InMemoryBucket`], and [`from_yaml`] / [`from_config_file`], which read Thanos's objstore
//! YAML (`--objstore.config` / `--objstore.config-file`) and return an instrumented bucket
//! (metrics plus retries of transient errors). [`block`] knows the block layout and markers.
//! The cloud backends share one HTTP transport built from Thanos's `http_config` (private CAs,
//! client certificates, timeouts, pool sizes).
//!
//! Errors are one [`Error`] enum; match [`Error::NotFound`] or call [`Error::is_not_found`].

#![warn(unreachable_pub)]

mod azure;
pub mod block;
mod bucket;
mod config;
mod error;
mod filesystem;
mod gcs;
mod http;
mod instrumented;
mod memory;
mod prefixed;
mod s3;

#[cfg(any(test, feature = "testutil"))]
pub mod acceptance;
#[cfg(any(test, feature = "testutil"))]
pub mod testutil;

use std::path::Path;
use std::sync::Arc;

use prometheus_client::registry::Registry;

pub use azure::AzureBucket;
pub use bucket::{
    Bucket, DIR_TRANSFER_CONCURRENCY, DynBucket, ListMode, ObjectAttributes, download_dir,
    download_dir_with, upload_dir, upload_dir_with, validate_key,
};
pub use config::{
    AzureConfig, BackendConfig, BosConfig, BucketConfig, BucketLookupType, ConnectionString,
    CosConfig, DEFAULT_AZURE_ENDPOINT, DEFAULT_GCS_CHUNK_SIZE, DEFAULT_PART_SIZE, FilesystemConfig,
    GCS_CHUNK_GRANULARITY, GcsConfig, GoDuration, HttpConfig, MIN_PART_SIZE, ObsConfig, OssConfig,
    PipelineConfig, ReaderConfig, S3Config, SseConfig, TlsConfig, TraceConfig,
};
pub use error::{Error, Operation, Result};
pub use filesystem::FilesystemBucket;
pub use gcs::GcsBucket;
pub use instrumented::{BucketMetrics, InstrumentedBucket, RetryPolicy};
pub use memory::InMemoryBucket;
pub use prefixed::PrefixedBucket;
pub use s3::S3Bucket;

/// Builds the uninstrumented backend of a config, with its prefix applied.
pub async fn backend_from_config(config: &BucketConfig) -> Result<Arc<dyn Bucket>> {
    let backend: Arc<dyn Bucket> = match &config.backend {
        BackendConfig::Filesystem(fs) => Arc::new(FilesystemBucket::new(&fs.directory)?),
        BackendConfig::S3(s3) => Arc::new(S3Bucket::new(s3).await?),
        BackendConfig::Gcs(gcs) => Arc::new(GcsBucket::new(gcs).await?),
        BackendConfig::Azure(azure) => Arc::new(AzureBucket::new(azure).await?),
    };
    if config.prefix.is_empty() {
        Ok(backend)
    } else {
        Ok(Arc::new(PrefixedBucket::new(backend, &config.prefix)?))
    }
}

/// The retry policy of a backend's config: Thanos's `max_retries` (attempts for GCS), and for
/// Azure `pipeline_config`'s tries and delays.
pub(crate) fn retry_policy(backend: &BackendConfig) -> RetryPolicy {
    match backend {
        BackendConfig::Gcs(gcs) if gcs.max_retries > 0 => RetryPolicy {
            max_attempts: gcs.max_retries,
            ..RetryPolicy::default()
        },
        BackendConfig::Azure(azure) => {
            let mut policy = RetryPolicy::with_max_retries(backend.max_retries());
            let (initial, max) = azure.retry_delays();
            policy.initial_backoff = initial.unwrap_or(policy.initial_backoff);
            policy.max_backoff = max
                .unwrap_or(policy.max_backoff)
                .max(policy.initial_backoff);
            policy
        }
        other => RetryPolicy::with_max_retries(other.max_retries()),
    }
}

/// Builds an instrumented bucket (metrics on `registry`, retries) from a parsed config.
pub async fn from_config(
    config: &BucketConfig,
    registry: &mut Registry,
) -> Result<Arc<dyn Bucket>> {
    let policy = retry_policy(&config.backend);
    let backend = backend_from_config(config).await?;
    Ok(Arc::new(InstrumentedBucket::new(
        backend,
        BucketMetrics::new(registry),
        policy,
    )))
}

/// Parses objstore YAML text (`origin` names the flag or file in errors) and builds the bucket.
pub async fn from_yaml(
    text: &str,
    origin: &str,
    registry: &mut Registry,
) -> Result<Arc<dyn Bucket>> {
    let config = BucketConfig::parse(text, origin)?;
    from_config(&config, registry).await
}

/// Reads `--objstore.config-file` and builds the bucket.
pub async fn from_config_file(path: &Path, registry: &mut Registry) -> Result<Arc<dyn Bucket>> {
    let config = BucketConfig::from_file(path)?;
    from_config(&config, registry).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_policies_follow_each_backends_max_retries() {
        let policy = |yaml: &str| retry_policy(&BucketConfig::parse(yaml, "x").unwrap().backend);
        // GCS counts attempts: 1 = no retries.
        assert_eq!(
            policy("type: GCS\nconfig: {bucket: b, max_retries: 1}\n").max_attempts,
            1
        );
        assert_eq!(
            policy("type: GCS\nconfig: {bucket: b, max_retries: 5}\n").max_attempts,
            5
        );
        assert_eq!(
            policy("type: GCS\nconfig: {bucket: b}\n"),
            RetryPolicy::default()
        );
        assert_eq!(
            policy("type: S3\nconfig: {bucket: b, max_retries: 2}\n").max_attempts,
            3
        );
        let azure = policy(
            "type: AZURE\nconfig: {storage_account: a, container: ccc, max_retries: 1, pipeline_config: {max_tries: 4, retry_delay: 50ms, max_retry_delay: 1s}}\n",
        );
        assert_eq!(azure.max_attempts, 5);
        assert_eq!(azure.initial_backoff, std::time::Duration::from_millis(50));
        assert_eq!(azure.max_backoff, std::time::Duration::from_secs(1));
    }

    #[tokio::test]
    async fn seed_yaml_builds_an_instrumented_filesystem_bucket() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let yaml = format!(
            "type: FILESYSTEM\nconfig:\n  directory: \"{}\"\n",
            dir.display()
        );
        let mut registry = Registry::default();
        let b = from_yaml(&yaml, "--objstore.config", &mut registry)
            .await
            .unwrap();
        b.upload("a/b", bytes::Bytes::from_static(b"hi"))
            .await
            .unwrap();
        assert_eq!(std::fs::read(dir.join("a/b")).unwrap(), b"hi");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("aeon_objstore_bucket_operations_total{bucket="),
            "{text}"
        );

        let file = tmp.path().join("bucket.yml");
        std::fs::write(&file, format!("{yaml}prefix: tenant\n")).unwrap();
        let b = from_config_file(&file, &mut Registry::default())
            .await
            .unwrap();
        b.upload("x", bytes::Bytes::from_static(b"1"))
            .await
            .unwrap();
        assert!(dir.join("tenant/x").exists());
        let e = from_config_file(&tmp.path().join("missing.yml"), &mut Registry::default())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("missing.yml"), "{e}");
    }
}

/// A plain `cargo test` / `cargo nextest run` without the `testutil` feature
/// would skip the bucket acceptance suite against every backend (tests/it) without a word: fail instead.
#[cfg(all(test, not(feature = "testutil")))]
#[test]
fn integration_tests_need_the_testutil_feature() {
    panic!(
        "without --features testutil, the bucket acceptance suite against every backend (tests/it) do not run; run the suite with --all-features (cargo xtask test does)"
    );
}
