//! The top-level `prefix:` of the objstore YAML: every key lives below `prefix/`.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::bucket::{Bucket, ListMode, ObjectAttributes, validate_key};
use crate::error::{Error, Result};

/// Wraps a bucket so that key `k` is stored as `prefix/k`.
#[derive(Debug)]
pub struct PrefixedBucket {
    inner: Arc<dyn Bucket>,
    /// Prefix with a trailing `/`.
    prefix: String,
}

impl PrefixedBucket {
    /// `prefix` is trimmed of `/`; it must itself be a valid key path.
    pub fn new(inner: Arc<dyn Bucket>, prefix: &str) -> Result<Self> {
        let trimmed = prefix.trim_matches('/');
        validate_key(trimmed)?;
        Ok(Self {
            inner,
            prefix: format!("{trimmed}/"),
        })
    }

    fn full(&self, key: &str) -> Result<String> {
        validate_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }

    fn strip(&self, e: Error) -> Error {
        match e {
            Error::NotFound { bucket, key } => Error::NotFound {
                key: key.strip_prefix(&self.prefix).unwrap_or(&key).to_owned(),
                bucket,
            },
            other => other,
        }
    }
}

#[async_trait]
impl Bucket for PrefixedBucket {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        self.inner
            .get(&self.full(key)?)
            .await
            .map_err(|e| self.strip(e))
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes> {
        self.inner
            .get_range(&self.full(key)?, offset, len)
            .await
            .map_err(|e| self.strip(e))
    }

    async fn attributes(&self, key: &str) -> Result<ObjectAttributes> {
        self.inner
            .attributes(&self.full(key)?)
            .await
            .map_err(|e| self.strip(e))
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        self.inner.exists(&self.full(key)?).await
    }

    async fn upload(&self, key: &str, data: Bytes) -> Result<()> {
        self.inner.upload(&self.full(key)?, data).await
    }

    async fn upload_file(&self, key: &str, path: &Path) -> Result<u64> {
        self.inner.upload_file(&self.full(key)?, path).await
    }

    async fn download_file(&self, key: &str, path: &Path) -> Result<u64> {
        self.inner
            .download_file(&self.full(key)?, path)
            .await
            .map_err(|e| self.strip(e))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(&self.full(key)?).await
    }

    async fn list(&self, prefix: &str, mode: ListMode) -> Result<Vec<String>> {
        let keys = self
            .inner
            .list(&format!("{}{prefix}", self.prefix), mode)
            .await?;
        Ok(keys
            .into_iter()
            .filter_map(|k| k.strip_prefix(&self.prefix).map(str::to_owned))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::InMemoryBucket;

    #[tokio::test]
    async fn keys_live_below_the_prefix() {
        let mem = Arc::new(InMemoryBucket::new("m"));
        let b = PrefixedBucket::new(mem.clone(), "/tenant/a/").unwrap();
        b.upload("x/y", Bytes::from_static(b"1")).await.unwrap();
        assert_eq!(
            mem.list("", ListMode::Recursive).await.unwrap(),
            ["tenant/a/x/y"]
        );
        assert_eq!(b.list("", ListMode::Delimited).await.unwrap(), ["x/"]);
        assert_eq!(b.list("x/", ListMode::Delimited).await.unwrap(), ["x/y"]);
        let e = b.get("nope").await.unwrap_err();
        assert!(
            matches!(&e, Error::NotFound { key, .. } if key == "nope"),
            "{e}"
        );
        assert!(PrefixedBucket::new(mem, "a/../b").is_err());
    }
}
