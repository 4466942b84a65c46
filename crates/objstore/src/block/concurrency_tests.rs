//! `upload_block_with` / `download_block_with` move at most the given
//! number of block files at once (`--block-files-concurrency`,
//! `--shipper.upload-concurrency`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::*;
use crate::bucket::ObjectAttributes;
use crate::filesystem::FilesystemBucket;

/// A filesystem bucket that records the peak number of file transfers in
/// flight (each one held for a moment so that overlaps happen).
#[derive(Debug)]
struct PeakBucket {
    inner: FilesystemBucket,
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl PeakBucket {
    async fn transfer<T>(&self, f: impl Future<Output = Result<T>>) -> Result<T> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(n, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(30)).await;
        let r = f.await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        r
    }

    fn take_peak(&self) -> usize {
        self.peak.swap(0, Ordering::SeqCst)
    }
}

#[async_trait]
impl Bucket for PeakBucket {
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
    async fn upload(&self, key: &str, data: Bytes) -> Result<()> {
        self.inner.upload(key, data).await
    }
    async fn upload_file(&self, key: &str, path: &Path) -> Result<u64> {
        self.transfer(self.inner.upload_file(key, path)).await
    }
    async fn download_file(&self, key: &str, path: &Path) -> Result<u64> {
        self.transfer(self.inner.download_file(key, path)).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str, mode: ListMode) -> Result<Vec<String>> {
        self.inner.list(prefix, mode).await
    }
}

#[tokio::test]
async fn block_file_transfers_are_bounded() {
    const ID: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("local").join(ID);
    std::fs::create_dir_all(dir.join("chunks")).unwrap();
    for i in 1..=6 {
        std::fs::write(dir.join(format!("chunks/{i:06}")), format!("c{i}")).unwrap();
    }
    std::fs::write(dir.join("index"), b"idx").unwrap();
    std::fs::write(dir.join("meta.json"), b"{}").unwrap();
    let bucket = Arc::new(PeakBucket {
        inner: FilesystemBucket::new(tmp.path().join("bucket")).unwrap(),
        now: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
    });

    for (n, want) in [(1, 1), (3, 3), (0, 1)] {
        let id = upload_block_with(bucket.as_ref(), &dir, n).await.unwrap();
        assert_eq!(bucket.take_peak(), want, "upload with concurrency {n}");
        let out = tmp.path().join(format!("out{n}"));
        download_block_with(bucket.as_ref(), id, &out, n)
            .await
            .unwrap();
        assert_eq!(bucket.take_peak(), want, "download with concurrency {n}");
        assert_eq!(std::fs::read(out.join("chunks/000006")).unwrap(), b"c6");
    }
}
