//! In-memory bucket for unit tests; same semantics as the other backends.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{PoisonError, RwLock};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;

use crate::bucket::{Bucket, ListMode, ObjectAttributes, list_sorted_keys, validate_key};
use crate::error::{Error, Operation, Result};

/// A bucket held in a `BTreeMap`. Cloning the `Arc` around it shares the objects.
#[derive(Debug)]
pub struct InMemoryBucket {
    name: String,
    objects: RwLock<BTreeMap<String, (Bytes, SystemTime)>>,
}

impl Default for InMemoryBucket {
    fn default() -> Self {
        Self::new("in-memory")
    }
}

impl InMemoryBucket {
    /// An empty bucket named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            objects: RwLock::new(BTreeMap::new()),
        }
    }

    /// Number of objects stored.
    pub fn len(&self) -> usize {
        self.objects
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no object is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lookup(&self, key: &str) -> Result<(Bytes, SystemTime)> {
        validate_key(key)?;
        let objects = self.objects.read().unwrap_or_else(PoisonError::into_inner);
        objects
            .get(key)
            .cloned()
            .ok_or_else(|| Error::not_found(&self.name, key))
    }
}

/// Slices `data` the way a ranged GET does (see [`Bucket::get_range`]).
pub(crate) fn slice_range(
    bucket: &str,
    key: &str,
    data: &Bytes,
    offset: u64,
    len: u64,
) -> Result<Bytes> {
    let size = data.len() as u64;
    if offset > size {
        return Err(Error::InvalidRange {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            offset,
            size,
        });
    }
    let end = offset.saturating_add(len).min(size);
    // Both bounds are <= size, which came from a usize.
    Ok(data.slice(offset as usize..end as usize))
}

#[async_trait]
impl Bucket for InMemoryBucket {
    fn name(&self) -> &str {
        &self.name
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        Ok(self.lookup(key)?.0)
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes> {
        let (data, _) = self.lookup(key)?;
        slice_range(&self.name, key, &data, offset, len)
    }

    async fn attributes(&self, key: &str) -> Result<ObjectAttributes> {
        let (data, last_modified) = self.lookup(key)?;
        Ok(ObjectAttributes {
            size: data.len() as u64,
            last_modified,
        })
    }

    async fn upload(&self, key: &str, data: Bytes) -> Result<()> {
        validate_key(key)?;
        let mut objects = self.objects.write().unwrap_or_else(PoisonError::into_inner);
        objects.insert(key.to_owned(), (data, SystemTime::now()));
        Ok(())
    }

    async fn upload_file(&self, key: &str, path: &Path) -> Result<u64> {
        validate_key(key)?;
        let data = tokio::fs::read(path)
            .await
            .map_err(|e| Error::local_io(Operation::Upload, key, path, e))?;
        let n = data.len() as u64;
        self.upload(key, Bytes::from(data)).await?;
        Ok(n)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        let mut objects = self.objects.write().unwrap_or_else(PoisonError::into_inner);
        objects.remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str, mode: ListMode) -> Result<Vec<String>> {
        let objects = self.objects.read().unwrap_or_else(PoisonError::into_inner);
        let keys = objects.range::<str, _>((
            std::ops::Bound::Included(prefix),
            std::ops::Bound::Unbounded,
        ));
        Ok(list_sorted_keys(
            keys.map(|(k, _)| k.as_str())
                .take_while(|k| k.starts_with(prefix)),
            prefix,
            mode,
        ))
    }
}
