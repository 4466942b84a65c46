//! The [`Bucket`] trait every backend implements, plus key rules, listing semantics shared by
//! the local backends, and directory upload/download helpers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use crate::error::{Error, Operation, Result};

/// Size and modification time of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectAttributes {
    /// Size in bytes.
    pub size: u64,
    /// Last modification time as reported by the backend.
    pub last_modified: SystemTime,
}

/// How [`Bucket::list`] treats `/` in keys below the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListMode {
    /// Delimiter `/`: keys directly below the prefix, and "directories" (common prefixes) ending
    /// in `/` for everything deeper, like S3 `ListObjectsV2` with `delimiter=/`.
    #[default]
    Delimited,
    /// Every key that starts with the prefix, no directories.
    Recursive,
}

/// An object storage bucket, sized for TSDB blocks. Use it as `Arc<dyn Bucket>`.
///
/// Keys are `/`-separated relative paths: non-empty, no leading or trailing `/`, no empty,
/// `.` or `..` components (see [`validate_key`]). Prefixes for [`Bucket::list`] are plain string
/// prefixes as in S3: `list("01H", ..)` matches `01HX.../`; pass `"01HX.../"` to list inside a
/// directory.
#[async_trait]
pub trait Bucket: Send + Sync + std::fmt::Debug + 'static {
    /// Name used in errors and the `bucket` metric label.
    fn name(&self) -> &str;

    /// The whole object.
    async fn get(&self, key: &str) -> Result<Bytes>;

    /// `len` bytes starting at `offset`, the store-gateway's hot path.
    ///
    /// Like an S3 ranged GET, a range reaching past the end returns the bytes that exist. A
    /// range starting exactly at the end (or `len == 0`) returns empty bytes; one starting
    /// beyond the end is [`Error::InvalidRange`]. A missing object is [`Error::NotFound`].
    async fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes>;

    /// Size and modification time; [`Error::NotFound`] when missing.
    async fn attributes(&self, key: &str) -> Result<ObjectAttributes>;

    /// Whether the object exists.
    async fn exists(&self, key: &str) -> Result<bool> {
        match self.attributes(key).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes the object atomically: readers see the old object or the whole new one.
    async fn upload(&self, key: &str, data: Bytes) -> Result<()>;

    /// Writes the object from a local file, streaming it (multipart on S3 for large files).
    /// Returns the number of bytes uploaded.
    async fn upload_file(&self, key: &str, path: &Path) -> Result<u64>;

    /// Streams the object into a local file (written to a temporary sibling, then renamed).
    /// Returns the number of bytes written.
    async fn download_file(&self, key: &str, path: &Path) -> Result<u64> {
        let data = self.get(key).await?;
        write_local_atomically(key, path, &data).await?;
        Ok(data.len() as u64)
    }

    /// Removes the object. Idempotent, like S3: deleting a missing key succeeds.
    async fn delete(&self, key: &str) -> Result<()>;

    /// Keys (and, in [`ListMode::Delimited`], directories ending in `/`) starting with
    /// `prefix`, in lexicographic byte order, paginated underneath.
    async fn list(&self, prefix: &str, mode: ListMode) -> Result<Vec<String>>;
}

/// Name prefix of temporary files; keys may not contain a component starting with it.
pub(crate) const TMP_PREFIX: &str = ".aeon-tmp-";

/// Checks that `key` is a clean relative object key.
pub fn validate_key(key: &str) -> Result<()> {
    let reject = |reason| {
        Err(Error::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return reject("key is empty");
    }
    if key.len() > 1024 {
        return reject("key is longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return reject("key is an absolute path");
    }
    if key.ends_with('/') {
        return reject("key ends with '/', which names a directory");
    }
    if key.contains('\0') || key.contains('\\') {
        return reject("key contains a NUL byte or a backslash");
    }
    for component in key.split('/') {
        match component {
            "" => return reject("key has an empty path component"),
            "." | ".." => return reject("key has a '.' or '..' component"),
            c if c.starts_with(TMP_PREFIX) => {
                return reject("key uses the reserved temporary-file name prefix");
            }
            _ => {}
        }
    }
    Ok(())
}

/// Applies S3 listing semantics to keys given in sorted order.
pub(crate) fn list_sorted_keys<'a>(
    keys: impl Iterator<Item = &'a str>,
    prefix: &str,
    mode: ListMode,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in keys {
        let Some(rest) = key.strip_prefix(prefix) else {
            continue;
        };
        match (mode, rest.find('/')) {
            (ListMode::Delimited, Some(idx)) => {
                let dir = &key[..prefix.len() + idx + 1];
                if out.last().map(String::as_str) != Some(dir) {
                    out.push(dir.to_owned());
                }
            }
            _ => out.push(key.to_owned()),
        }
    }
    out
}

/// Writes `data` to `path` through a temporary sibling file and a rename.
pub(crate) async fn write_local_atomically(key: &str, path: &Path, data: &[u8]) -> Result<()> {
    let io_err = |p: &Path, e| Error::local_io(Operation::Get, key, p, e);
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(parent)
        .await
        .map_err(|e| io_err(parent, e))?;
    let tmp = temp_sibling(path);
    if let Err(e) = tokio::fs::write(&tmp, data).await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(io_err(&tmp, e));
    }
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| io_err(path, e))
}

/// A unique temporary path next to `path`.
pub(crate) fn temp_sibling(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!("{TMP_PREFIX}{}-{n}-{nanos}", std::process::id());
    path.with_file_name(name)
}

/// How many files [`upload_dir`] and [`download_dir`] move at once.
pub const DIR_TRANSFER_CONCURRENCY: usize = 4;

/// Uploads every regular file below `local_dir` to `prefix` + relative path (with `/`).
/// `prefix` is used verbatim: pass `"blocks/"` to get `blocks/a/b`. Returns the uploaded keys.
pub async fn upload_dir(
    bucket: &dyn Bucket,
    local_dir: &Path,
    prefix: &str,
) -> Result<Vec<String>> {
    upload_dir_with(bucket, local_dir, prefix, DIR_TRANSFER_CONCURRENCY).await
}

/// [`upload_dir`] moving at most `concurrency` files at once (0 counts as 1).
pub async fn upload_dir_with(
    bucket: &dyn Bucket,
    local_dir: &Path,
    prefix: &str,
    concurrency: usize,
) -> Result<Vec<String>> {
    let files = local_files(local_dir, prefix).await?;
    let keys: Vec<String> = files.iter().map(|(k, _)| k.clone()).collect();
    futures::stream::iter(files)
        .map(|(key, path)| async move { bucket.upload_file(&key, &path).await })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<u64>>()
        .await?;
    Ok(keys)
}

/// Downloads every object below `prefix` into `local_dir` (key relative to the prefix becomes
/// the relative path). Returns the number of files written.
pub async fn download_dir(bucket: &dyn Bucket, prefix: &str, local_dir: &Path) -> Result<usize> {
    download_dir_with(bucket, prefix, local_dir, DIR_TRANSFER_CONCURRENCY).await
}

/// [`download_dir`] moving at most `concurrency` files at once (0 counts as
/// 1).
pub async fn download_dir_with(
    bucket: &dyn Bucket,
    prefix: &str,
    local_dir: &Path,
    concurrency: usize,
) -> Result<usize> {
    let keys = bucket.list(prefix, ListMode::Recursive).await?;
    let mut jobs = Vec::with_capacity(keys.len());
    for key in keys {
        let rel = key
            .strip_prefix(prefix)
            .unwrap_or(&key)
            .trim_start_matches('/')
            .to_owned();
        validate_key(&rel)?;
        let path = rel
            .split('/')
            .fold(local_dir.to_path_buf(), |p, c| p.join(c));
        jobs.push((key, path));
    }
    let n = jobs.len();
    futures::stream::iter(jobs)
        .map(|(key, path)| async move { bucket.download_file(&key, &path).await })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<u64>>()
        .await?;
    Ok(n)
}

/// Regular files below `dir` as (key, path), sorted by key.
pub(crate) async fn local_files(dir: &Path, prefix: &str) -> Result<Vec<(String, PathBuf)>> {
    let dir = dir.to_path_buf();
    let prefix = prefix.to_owned();
    let key_for_err = prefix.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let mut stack = vec![(dir.clone(), String::new())];
        while let Some((d, rel)) = stack.pop() {
            let entries = std::fs::read_dir(&d)
                .map_err(|e| Error::local_io(Operation::Upload, &prefix, &d, e))?;
            for entry in entries {
                let entry =
                    entry.map_err(|e| Error::local_io(Operation::Upload, &prefix, &d, e))?;
                let path = entry.path();
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let ty = std::fs::metadata(&path)
                    .map_err(|e| Error::local_io(Operation::Upload, &prefix, &path, e))?;
                let rel_name = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                if ty.is_dir() {
                    stack.push((path, rel_name));
                } else if ty.is_file() {
                    out.push((format!("{prefix}{rel_name}"), path));
                }
            }
        }
        out.sort();
        Ok(out)
    })
    .await
    .map_err(|e| {
        Error::backend(
            Operation::Upload,
            "local",
            &key_for_err,
            format!("listing task failed: {e}"),
        )
    })?
}

/// Shared handle type.
pub type DynBucket = Arc<dyn Bucket>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_validation() {
        for ok in [
            "a",
            "a/b",
            "01H/chunks/000001",
            "a.b",
            "..a",
            "a..",
            ".hidden",
        ] {
            assert!(validate_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            "a/../b",
            "..",
            "./a",
            "a/.",
            "a\\b",
            "x/.aeon-tmp-1",
        ] {
            assert!(
                matches!(validate_key(bad), Err(Error::InvalidKey { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn delimiter_groups_directories_in_byte_order() {
        let mut keys = ["a-b", "a.txt", "a/x", "a/y/z", "b", "a/"];
        keys.sort();
        let got = list_sorted_keys(keys.iter().copied(), "", ListMode::Delimited);
        assert_eq!(got, ["a-b", "a.txt", "a/", "b"]);
        let got = list_sorted_keys(keys.iter().copied(), "a/", ListMode::Delimited);
        assert_eq!(got, ["a/", "a/x", "a/y/"]);
        let got = list_sorted_keys(keys.iter().copied(), "a", ListMode::Recursive);
        assert_eq!(got, ["a-b", "a.txt", "a/", "a/x", "a/y/z"]);
    }
}
