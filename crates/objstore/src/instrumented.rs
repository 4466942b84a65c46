//! Metrics and retries around any backend.
//!
//! Metrics (prefix `aeon_objstore_`, labels `bucket` and Thanos's `operation` values):
//! `bucket_operations_total`, `bucket_operation_failures_total` (NotFound is an expected
//! outcome and not counted), `bucket_operation_duration_seconds`,
//! `bucket_operation_fetched_bytes_total`, `bucket_operation_transferred_bytes_total`,
//! `bucket_operation_retries_total` and `bucket_last_successful_upload_time` (unix seconds).
//!
//! Retries: only [`Error::Transient`] failures, with exponential backoff, at most
//! [`RetryPolicy::max_attempts`] attempts; never NotFound, auth or other permanent errors.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::bucket::{Bucket, ListMode, ObjectAttributes};
use crate::error::{Error, Operation, Result};

/// Bounded exponential backoff for transient errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first (1 = no retries).
    pub max_attempts: u32,
    /// Wait before the first retry.
    pub initial_backoff: Duration,
    /// Upper bound of a single wait (doubling stops there).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Policy for Thanos's `max_retries` (0 = default).
    pub fn with_max_retries(max_retries: u32) -> Self {
        let default = Self::default();
        if max_retries == 0 {
            default
        } else {
            Self {
                max_attempts: max_retries.saturating_add(1),
                ..default
            }
        }
    }

    fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OpLabels {
    bucket: String,
    operation: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BucketLabels {
    bucket: String,
}

/// Metric families shared by every instrumented bucket registered on one registry.
#[derive(Debug, Clone)]
pub struct BucketMetrics {
    operations: Family<OpLabels, Counter>,
    failures: Family<OpLabels, Counter>,
    retries: Family<OpLabels, Counter>,
    fetched_bytes: Family<OpLabels, Counter>,
    transferred_bytes: Family<OpLabels, Counter>,
    duration: Family<OpLabels, Histogram>,
    last_upload: Family<BucketLabels, Gauge<f64, AtomicU64>>,
}

impl BucketMetrics {
    /// Registers the families under `aeon_objstore_` on `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self {
            operations: Family::default(),
            failures: Family::default(),
            retries: Family::default(),
            fetched_bytes: Family::default(),
            transferred_bytes: Family::default(),
            duration: Family::new_with_constructor(|| {
                Histogram::new([
                    0.001, 0.01, 0.1, 0.3, 0.6, 1.0, 3.0, 6.0, 9.0, 20.0, 30.0, 60.0, 90.0, 120.0,
                ])
            }),
            last_upload: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("aeon_objstore");
        r.register(
            "bucket_operations",
            "Total number of bucket operations",
            m.operations.clone(),
        );
        r.register(
            "bucket_operation_failures",
            "Bucket operations that failed (not found is not a failure)",
            m.failures.clone(),
        );
        r.register(
            "bucket_operation_retries",
            "Retries of transient bucket failures",
            m.retries.clone(),
        );
        r.register(
            "bucket_operation_fetched_bytes",
            "Bytes read from the bucket",
            m.fetched_bytes.clone(),
        );
        r.register(
            "bucket_operation_transferred_bytes",
            "Bytes written to the bucket",
            m.transferred_bytes.clone(),
        );
        r.register(
            "bucket_operation_duration_seconds",
            "Duration of bucket operations including retries",
            m.duration.clone(),
        );
        r.register(
            "bucket_last_successful_upload_time",
            "Unix time of the last successful upload",
            m.last_upload.clone(),
        );
        m.register_thanos_names(registry);
        m
    }

    /// Registers the families Thanos's `objstore` package exports, with
    /// Thanos's names, on the service's root registry, so that the Thanos
    /// mixin's bucket alerts and panels work: `thanos_objstore_bucket_`
    /// `operations_total`, `operation_failures_total`,
    /// `operation_duration_seconds` (labels `bucket`, `operation`) and
    /// `last_successful_upload_time{bucket}`. They share their values with
    /// the `aeon_objstore_*` families the chart uses.
    fn register_thanos_names(&self, registry: &mut Registry) {
        registry.register(
            "thanos_objstore_bucket_operations",
            "Total number of all attempted operations against a bucket",
            self.operations.clone(),
        );
        registry.register(
            "thanos_objstore_bucket_operation_failures",
            "Total number of operations against a bucket that failed, but were not expected to fail in certain way from caller perspective",
            self.failures.clone(),
        );
        registry.register(
            "thanos_objstore_bucket_operation_duration_seconds",
            "Duration of successful operations against the bucket per operation",
            self.duration.clone(),
        );
        registry.register(
            "thanos_objstore_bucket_last_successful_upload_time",
            "Second timestamp of the last successful upload to the bucket",
            self.last_upload.clone(),
        );
    }
}

/// Adds metrics and retries to a backend; [`crate::from_yaml`] always applies it.
#[derive(Debug)]
pub struct InstrumentedBucket {
    inner: Arc<dyn Bucket>,
    metrics: BucketMetrics,
    policy: RetryPolicy,
    name: String,
}

impl InstrumentedBucket {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Bucket>, metrics: BucketMetrics, policy: RetryPolicy) -> Self {
        let name = inner.name().to_owned();
        // Every operation's series exist from the start, as in Thanos.
        for op in Operation::ALL {
            let l = OpLabels {
                bucket: name.clone(),
                operation: op.as_str(),
            };
            let _ = metrics.operations.get_or_create(&l);
            let _ = metrics.failures.get_or_create(&l);
            let _ = metrics.duration.get_or_create(&l);
        }
        let _ = metrics.last_upload.get_or_create(&BucketLabels {
            bucket: name.clone(),
        });
        Self {
            inner,
            metrics,
            policy,
            name,
        }
    }

    fn labels(&self, op: Operation) -> OpLabels {
        OpLabels {
            bucket: self.name.clone(),
            operation: op.as_str(),
        }
    }

    async fn run<T, F, Fut>(&self, op: Operation, key: &str, f: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let labels = self.labels(op);
        self.metrics.operations.get_or_create(&labels).inc();
        let start = Instant::now();
        let mut attempt = 1;
        let result = loop {
            match f().await {
                Err(e) if e.is_transient() && attempt < self.policy.max_attempts => {
                    let wait = self.policy.backoff(attempt - 1);
                    tracing::debug!(bucket = %self.name, %op, key, attempt, ?wait, error = %e, "retrying transient bucket error");
                    self.metrics.retries.get_or_create(&labels).inc();
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) if e.is_transient() && attempt > 1 => {
                    break Err(Error::RetriesExhausted {
                        op,
                        bucket: self.name.clone(),
                        key: key.to_owned(),
                        attempts: attempt,
                        last: Box::new(e),
                    });
                }
                other => break other,
            }
        };
        self.metrics
            .duration
            .get_or_create(&labels)
            .observe(start.elapsed().as_secs_f64());
        if let Err(e) = &result
            && !e.is_not_found()
        {
            self.metrics.failures.get_or_create(&labels).inc();
        }
        result
    }

    fn uploaded(&self, bytes: u64) {
        self.metrics
            .transferred_bytes
            .get_or_create(&self.labels(Operation::Upload))
            .inc_by(bytes);
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.metrics
            .last_upload
            .get_or_create(&BucketLabels {
                bucket: self.name.clone(),
            })
            .set(now);
    }

    fn fetched(&self, op: Operation, bytes: u64) {
        self.metrics
            .fetched_bytes
            .get_or_create(&self.labels(op))
            .inc_by(bytes);
    }
}

#[async_trait]
impl Bucket for InstrumentedBucket {
    fn name(&self) -> &str {
        &self.name
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let data = self
            .run(Operation::Get, key, || self.inner.get(key))
            .await?;
        self.fetched(Operation::Get, data.len() as u64);
        Ok(data)
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes> {
        let data = self
            .run(Operation::GetRange, key, || {
                self.inner.get_range(key, offset, len)
            })
            .await?;
        self.fetched(Operation::GetRange, data.len() as u64);
        Ok(data)
    }

    async fn attributes(&self, key: &str) -> Result<ObjectAttributes> {
        self.run(Operation::Attributes, key, || self.inner.attributes(key))
            .await
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        self.run(Operation::Exists, key, || self.inner.exists(key))
            .await
    }

    async fn upload(&self, key: &str, data: Bytes) -> Result<()> {
        let n = data.len() as u64;
        self.run(Operation::Upload, key, || {
            self.inner.upload(key, data.clone())
        })
        .await?;
        self.uploaded(n);
        Ok(())
    }

    async fn upload_file(&self, key: &str, path: &Path) -> Result<u64> {
        let n = self
            .run(Operation::Upload, key, || self.inner.upload_file(key, path))
            .await?;
        self.uploaded(n);
        Ok(n)
    }

    async fn download_file(&self, key: &str, path: &Path) -> Result<u64> {
        let n = self
            .run(Operation::Get, key, || self.inner.download_file(key, path))
            .await?;
        self.fetched(Operation::Get, n);
        Ok(n)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.run(Operation::Delete, key, || self.inner.delete(key))
            .await
    }

    async fn list(&self, prefix: &str, mode: ListMode) -> Result<Vec<String>> {
        self.run(Operation::Iter, prefix, || self.inner.list(prefix, mode))
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::memory::InMemoryBucket;

    /// Fails the first `failures` calls of every operation with `make_err`.
    #[derive(Debug)]
    struct Flaky {
        inner: InMemoryBucket,
        failures: u32,
        calls: AtomicU32,
        auth: bool,
    }

    impl Flaky {
        fn check(&self, key: &str) -> Result<()> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if n < self.failures {
                if self.auth {
                    return Err(Error::auth(
                        Operation::Get,
                        "flaky",
                        key,
                        "InvalidAccessKeyId",
                    ));
                }
                return Err(Error::transient(
                    Operation::Get,
                    "flaky",
                    key,
                    "connection reset",
                ));
            }
            Ok(())
        }
    }

    #[async_trait]
    impl Bucket for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }
        async fn get(&self, key: &str) -> Result<Bytes> {
            self.check(key)?;
            self.inner.get(key).await
        }
        async fn get_range(&self, key: &str, o: u64, l: u64) -> Result<Bytes> {
            self.check(key)?;
            self.inner.get_range(key, o, l).await
        }
        async fn attributes(&self, key: &str) -> Result<ObjectAttributes> {
            self.check(key)?;
            self.inner.attributes(key).await
        }
        async fn upload(&self, key: &str, data: Bytes) -> Result<()> {
            self.check(key)?;
            self.inner.upload(key, data).await
        }
        async fn upload_file(&self, key: &str, path: &Path) -> Result<u64> {
            self.check(key)?;
            self.inner.upload_file(key, path).await
        }
        async fn delete(&self, key: &str) -> Result<()> {
            self.check(key)?;
            self.inner.delete(key).await
        }
        async fn list(&self, prefix: &str, mode: ListMode) -> Result<Vec<String>> {
            self.check(prefix)?;
            self.inner.list(prefix, mode).await
        }
    }

    fn setup(failures: u32, auth: bool) -> (Arc<Flaky>, InstrumentedBucket, Registry) {
        let flaky = Arc::new(Flaky {
            inner: InMemoryBucket::new("flaky"),
            failures,
            calls: AtomicU32::new(0),
            auth,
        });
        let mut registry = Registry::default();
        let metrics = BucketMetrics::new(&mut registry);
        let policy = RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
        };
        (
            flaky.clone(),
            InstrumentedBucket::new(flaky, metrics, policy),
            registry,
        )
    }

    fn exposition(registry: &Registry) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, registry).unwrap();
        out
    }

    #[tokio::test]
    async fn transient_errors_are_retried_then_succeed() {
        let (flaky, b, registry) = setup(2, false);
        b.upload("k", Bytes::from_static(b"abc")).await.unwrap();
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
        let text = exposition(&registry);
        assert!(text.contains(r#"aeon_objstore_bucket_operation_retries_total{bucket="flaky",operation="upload"} 2"#), "{text}");
        assert!(
            text.contains(
                r#"aeon_objstore_bucket_operations_total{bucket="flaky",operation="upload"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"aeon_objstore_bucket_operation_transferred_bytes_total{bucket="flaky",operation="upload"} 3"#));
        // Every operation's failure series exists (as in Thanos), all at 0.
        assert!(
            text.contains(
                r#"aeon_objstore_bucket_operation_failures_total{bucket="flaky",operation="get"} 0"#
            ),
            "{text}"
        );
        assert!(
            text.lines()
                .filter(|l| l.starts_with("aeon_objstore_bucket_operation_failures_total{"))
                .all(|l| l.ends_with(" 0")),
            "{text}"
        );
    }

    #[tokio::test]
    async fn retries_are_bounded() {
        let (flaky, b, registry) = setup(100, false);
        let e = b.get("k").await.unwrap_err();
        assert!(
            matches!(e, Error::RetriesExhausted { attempts: 3, .. }),
            "{e}"
        );
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
        assert!(exposition(&registry).contains(
            r#"aeon_objstore_bucket_operation_failures_total{bucket="flaky",operation="get"} 1"#
        ));
    }

    #[tokio::test]
    async fn auth_and_not_found_are_never_retried() {
        let (flaky, b, _) = setup(100, true);
        assert!(b.get("k").await.unwrap_err().is_auth());
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 1);
        let (flaky, b, registry) = setup(0, false);
        assert!(b.get("missing").await.unwrap_err().is_not_found());
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 1);
        let text = exposition(&registry);
        // Every operation's failure series exists (as in Thanos), all at 0.
        assert!(
            text.contains(
                r#"aeon_objstore_bucket_operation_failures_total{bucket="flaky",operation="get"} 0"#
            ),
            "{text}"
        );
        assert!(
            text.lines()
                .filter(|l| l.starts_with("aeon_objstore_bucket_operation_failures_total{"))
                .all(|l| l.ends_with(" 0")),
            "{text}"
        );
        assert!(text.contains(r#"aeon_objstore_bucket_operation_duration_seconds_count{bucket="flaky",operation="get"} 1"#));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(0), Duration::from_millis(100));
        assert_eq!(p.backoff(1), Duration::from_millis(200));
        assert_eq!(p.backoff(10), Duration::from_secs(2));
        assert_eq!(RetryPolicy::with_max_retries(5).max_attempts, 6);
    }
}
