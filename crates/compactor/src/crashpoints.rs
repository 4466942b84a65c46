//! Crash injection for tests (cargo feature `crashpoints`, never enabled by
//! default, so a release build of the service carries none of this).
//!
//! With `AEON_COMPACTOR_CRASH_AT=<step>[:<nth>]` in the environment, the
//! compactor binary kills itself with SIGKILL at the `nth` (default 1st)
//! time it passes `step`. The steps are the bucket writes that matter for
//! crash safety, observed on the bucket the service opens:
//!
//! | step                  | the process dies …                                         |
//! |-----------------------|------------------------------------------------------------|
//! | `upload-chunks`       | right after a chunk segment of a new block was uploaded     |
//! | `upload-before-meta`  | with chunks and index uploaded, before `meta.json`          |
//! | `upload-after-meta`   | right after a new block's `meta.json` was uploaded          |
//! | `mark-deletion`       | right after a `deletion-mark.json` was written (while marking) |
//! | `delete`              | right after an object of a block was deleted (while deleting)  |
//!
//! New blocks are compaction outputs and downsampled blocks alike; `nth`
//! picks which one.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aeon_objstore::{Bucket, ListMode, ObjectAttributes, Result};
use async_trait::async_trait;
use bytes::Bytes;

/// The environment variable naming the crash point.
pub const ENV: &str = "AEON_COMPACTOR_CRASH_AT";
/// Every step a crash can be injected at.
pub const STEPS: [&str; 5] = [
    "upload-chunks",
    "upload-before-meta",
    "upload-after-meta",
    "mark-deletion",
    "delete",
];

/// A bucket that kills the process at the configured step.
#[derive(Debug)]
struct CrashBucket {
    inner: Arc<dyn Bucket>,
    step: String,
    nth: usize,
    seen: AtomicUsize,
}

/// Wraps `bucket` when [`ENV`] names a step; returns it unchanged otherwise.
pub fn wrap(bucket: Arc<dyn Bucket>) -> Arc<dyn Bucket> {
    let Ok(spec) = std::env::var(ENV) else {
        return bucket;
    };
    let (step, nth) = match spec.split_once(':') {
        Some((s, n)) => (s.to_string(), n.parse().unwrap_or(1)),
        None => (spec.clone(), 1),
    };
    if !STEPS.contains(&step.as_str()) {
        tracing::warn!(%spec, "unknown crash point; ignored");
        return bucket;
    }
    tracing::warn!(%step, nth, "crash point armed: this process will SIGKILL itself");
    Arc::new(CrashBucket {
        inner: bucket,
        step,
        nth: nth.max(1),
        seen: AtomicUsize::new(0),
    })
}

impl CrashBucket {
    fn pass(&self, step: &str, key: &str) {
        if step != self.step {
            return;
        }
        let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.nth {
            kill_self(step, key);
        }
    }

    fn before_upload(&self, key: &str) {
        if key.ends_with("/meta.json") {
            self.pass("upload-before-meta", key);
        }
    }

    fn after_upload(&self, key: &str) {
        if key.ends_with("/meta.json") {
            self.pass("upload-after-meta", key);
        } else if key.ends_with("/deletion-mark.json") {
            self.pass("mark-deletion", key);
        } else if key.contains("/chunks/") {
            self.pass("upload-chunks", key);
        }
    }
}

fn kill_self(step: &str, key: &str) -> ! {
    let pid = std::process::id().to_string();
    eprintln!("crash point {step} at {key}: killing process {pid} with SIGKILL");
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status();
    // Never reached once the signal lands; nothing else may run meanwhile.
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

#[async_trait]
impl Bucket for CrashBucket {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes> {
        self.inner.get_range(key, offset, len).await
    }
    async fn attributes(&self, key: &str) -> Result<ObjectAttributes> {
        self.inner.attributes(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool> {
        self.inner.exists(key).await
    }
    async fn upload(&self, key: &str, data: Bytes) -> Result<()> {
        self.before_upload(key);
        self.inner.upload(key, data).await?;
        self.after_upload(key);
        Ok(())
    }
    async fn upload_file(&self, key: &str, path: &Path) -> Result<u64> {
        self.before_upload(key);
        let n = self.inner.upload_file(key, path).await?;
        self.after_upload(key);
        Ok(n)
    }
    async fn download_file(&self, key: &str, path: &Path) -> Result<u64> {
        self.inner.download_file(key, path).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await?;
        self.pass("delete", key);
        Ok(())
    }
    async fn list(&self, prefix: &str, mode: ListMode) -> Result<Vec<String>> {
        self.inner.list(prefix, mode).await
    }
}
