//! `FILESYSTEM` backend: objects are files below a root directory.
//!
//! Writes go to a temporary file in the target directory and are renamed into place, so a
//! reader never sees a partial object. Keys cannot escape the root: `..`, absolute keys and
//! symlinks resolving outside the root are rejected. Listing follows S3's rules (byte order,
//! `/` delimiter, no empty directories).
//!
//! Ranged reads keep the files they opened (up to [`MAX_OPEN_FILES`]) and read them with
//! `pread`: a store-gateway reading one chunk per series would otherwise resolve, open and
//! close the same segment file once per series. Before each reuse one `stat` of the key's
//! path checks it still names the same file (device, inode, size); a replaced, deleted or
//! re-linked object is opened afresh through the checked path.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;

use crate::bucket::{Bucket, ListMode, ObjectAttributes, TMP_PREFIX, temp_sibling, validate_key};
use crate::error::{Error, Operation, Result};

/// Thanos `type: FILESYSTEM` bucket.
#[derive(Debug, Clone)]
pub struct FilesystemBucket {
    inner: Arc<Inner>,
}

/// Most files kept open for ranged reads, per bucket.
pub(crate) const MAX_OPEN_FILES: usize = 512;

#[derive(Debug)]
struct Inner {
    name: String,
    /// Canonical root directory.
    root: PathBuf,
    /// Files opened by ranged reads, by key.
    open_files: Mutex<HashMap<String, Arc<OpenFile>>>,
}

/// A file kept open for ranged reads, with what identifies it on disk.
#[derive(Debug)]
struct OpenFile {
    file: fs::File,
    size: u64,
    id: (u64, u64),
}

#[cfg(unix)]
fn file_id(m: &fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn file_id(_: &fs::Metadata) -> (u64, u64) {
    (0, 0)
}

#[cfg(unix)]
fn read_at(file: &fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_at(file: &fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::io::{Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    f.read(buf)
}

impl FilesystemBucket {
    /// Opens (creating it if needed) the bucket rooted at `directory`.
    pub fn new(directory: impl AsRef<Path>) -> Result<Self> {
        let dir = directory.as_ref();
        let name = dir.display().to_string();
        fs::create_dir_all(dir).map_err(|e| {
            Error::backend(
                Operation::Upload,
                &name,
                "",
                format!("creating root directory: {e}"),
            )
        })?;
        let root = fs::canonicalize(dir).map_err(|e| {
            Error::backend(
                Operation::Upload,
                &name,
                "",
                format!("resolving root directory: {e}"),
            )
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                name,
                root,
                open_files: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    async fn blocking<T, F>(&self, op: Operation, key: &str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| {
                Error::backend(
                    op,
                    &self.inner.name,
                    key,
                    format!("blocking task failed: {e}"),
                )
            })?
    }
}

impl Inner {
    fn io_error(&self, op: Operation, key: &str, e: std::io::Error) -> Error {
        match e.kind() {
            std::io::ErrorKind::NotFound => Error::not_found(&self.name, key),
            std::io::ErrorKind::PermissionDenied => Error::auth(op, &self.name, key, e),
            _ => Error::backend(op, &self.name, key, e),
        }
    }

    fn path_of(&self, key: &str) -> PathBuf {
        key.split('/').fold(self.root.clone(), |p, c| p.join(c))
    }

    /// Path of an existing object, after checking symlinks keep it inside the root.
    fn resolve_existing(&self, op: Operation, key: &str) -> Result<PathBuf> {
        validate_key(key)?;
        let path = fs::canonicalize(self.path_of(key)).map_err(|e| self.io_error(op, key, e))?;
        if !path.starts_with(&self.root) {
            return Err(Error::InvalidKey {
                key: key.to_owned(),
                reason: "key resolves outside the bucket root",
            });
        }
        Ok(path)
    }

    /// Opens an existing regular file for reading.
    fn open(&self, op: Operation, key: &str) -> Result<(fs::File, u64, fs::Metadata)> {
        let path = self.resolve_existing(op, key)?;
        let file = fs::File::open(&path).map_err(|e| self.io_error(op, key, e))?;
        let meta = file.metadata().map_err(|e| self.io_error(op, key, e))?;
        if !meta.is_file() {
            return Err(Error::not_found(&self.name, key));
        }
        Ok((file, meta.len(), meta))
    }

    /// The open file of `key` for ranged reads: the kept one when the key's path still names
    /// it, else a fresh one opened through [`Inner::open`] (and kept).
    fn open_for_range(&self, op: Operation, key: &str) -> Result<Arc<OpenFile>> {
        validate_key(key)?;
        let kept = self
            .open_files
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned();
        if let Some(f) = kept {
            match fs::metadata(self.path_of(key)) {
                Ok(m) if m.is_file() && file_id(&m) == f.id && m.len() == f.size => return Ok(f),
                _ => self.forget(key),
            }
        }
        let (file, size, meta) = self.open(op, key)?;
        let f = Arc::new(OpenFile {
            file,
            size,
            id: file_id(&meta),
        });
        let mut files = self
            .open_files
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if files.len() >= MAX_OPEN_FILES {
            files.clear();
        }
        files.insert(key.to_owned(), Arc::clone(&f));
        Ok(f)
    }

    /// Drops the kept file of `key` (it was written or deleted through this bucket).
    fn forget(&self, key: &str) {
        self.open_files
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// Creates the parent directories of `key` one by one, refusing symlinks leading outside.
    fn prepare_parent(&self, op: Operation, key: &str) -> Result<PathBuf> {
        validate_key(key)?;
        let mut dir = self.root.clone();
        let components: Vec<&str> = key.split('/').collect();
        for c in &components[..components.len() - 1] {
            dir.push(c);
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.file_type().is_symlink() => {
                    let target = fs::canonicalize(&dir).map_err(|e| self.io_error(op, key, e))?;
                    if !target.starts_with(&self.root) || !target.is_dir() {
                        return Err(Error::InvalidKey {
                            key: key.to_owned(),
                            reason: "key resolves outside the bucket root",
                        });
                    }
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(Error::backend(
                        op,
                        &self.name,
                        key,
                        format!("{} is a file, not a directory", dir.display()),
                    ));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => match fs::create_dir(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(self.io_error(op, key, e)),
                },
                Err(e) => return Err(self.io_error(op, key, e)),
            }
        }
        Ok(self.path_of(key))
    }

    /// Writes through a temporary sibling and renames it into place.
    fn write_atomic(
        &self,
        key: &str,
        fill: impl FnOnce(&mut fs::File) -> std::io::Result<u64>,
    ) -> Result<u64> {
        let op = Operation::Upload;
        let write_err = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::PermissionDenied => Error::auth(op, &self.name, key, e),
            _ => Error::backend(op, &self.name, key, e),
        };
        // A concurrent delete may prune the freshly created parent before the temporary file
        // exists in it; create the directories again in that case.
        const ATTEMPTS: u32 = 10;
        let mut attempt = 0;
        let (path, tmp, mut file) = loop {
            // The prune may also remove an ancestor while the parents are being created.
            let path = match self.prepare_parent(op, key) {
                Ok(p) => p,
                Err(e) if e.is_not_found() && attempt < ATTEMPTS => {
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                return Err(Error::backend(
                    op,
                    &self.name,
                    key,
                    "a directory exists at this key",
                ));
            }
            let tmp = temp_sibling(&path);
            match fs::File::create_new(&tmp) {
                Ok(f) => break (path, tmp, f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < ATTEMPTS => {
                    attempt += 1
                }
                Err(e) => return Err(write_err(e)),
            }
        };
        let result = (|| {
            let n = fill(&mut file)?;
            file.flush()?;
            file.sync_all()?;
            drop(file);
            fs::rename(&tmp, &path)?;
            Ok(n)
        })();
        result.map_err(|e: std::io::Error| {
            let _ = fs::remove_file(&tmp);
            write_err(e)
        })
    }

    /// Removes now-empty directories between `path`'s parent and the root.
    fn prune_empty_parents(&self, path: &Path) {
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.root || !d.starts_with(&self.root) || fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }

    fn list(&self, prefix: &str, mode: ListMode) -> Result<Vec<String>> {
        let op = Operation::Iter;
        let (dir_part, name_prefix) = match prefix.rfind('/') {
            Some(i) => (&prefix[..=i], &prefix[i + 1..]),
            None => ("", prefix),
        };
        let mut dir = self.root.clone();
        if !dir_part.is_empty() {
            let trimmed = dir_part.strip_suffix('/').unwrap_or(dir_part);
            if validate_key(trimmed).is_err() {
                // No valid key can start with this prefix (S3 would list nothing either).
                return Ok(Vec::new());
            }
            dir = self.path_of(trimmed);
            dir = match fs::canonicalize(&dir) {
                Ok(d) if d.starts_with(&self.root) && d.is_dir() => d,
                Ok(_) => return Ok(Vec::new()),
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        || e.kind() == std::io::ErrorKind::NotADirectory =>
                {
                    return Ok(Vec::new());
                }
                Err(e) => return Err(self.io_error(op, prefix, e)),
            };
        }
        let mut out = Vec::new();
        for (name, path, is_dir) in self.read_dir(op, prefix, &dir)? {
            if !name.starts_with(name_prefix) {
                continue;
            }
            let key = format!("{dir_part}{name}");
            match (is_dir, mode) {
                (false, _) => out.push(key),
                (true, ListMode::Delimited) => {
                    if self.has_file(op, prefix, &path)? {
                        out.push(key + "/");
                    }
                }
                (true, ListMode::Recursive) => self.walk(op, prefix, &path, &key, &mut out)?,
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Entries of `dir` as (name, resolved path, is_dir), skipping temporaries, non-UTF-8
    /// names, symlinks leading outside the root and anything that is neither file nor directory.
    fn read_dir(
        &self,
        op: Operation,
        prefix: &str,
        dir: &Path,
    ) -> Result<Vec<(String, PathBuf, bool)>> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io_error(op, prefix, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.io_error(op, prefix, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with(TMP_PREFIX) {
                continue;
            }
            let mut path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            let is_dir = if ft.is_symlink() {
                match fs::canonicalize(&path) {
                    Ok(target) if target.starts_with(&self.root) => {
                        // Symlinked directories are not followed (no cycles); symlinked files are.
                        if !target.is_file() {
                            continue;
                        }
                        path = target;
                        false
                    }
                    _ => continue,
                }
            } else if ft.is_dir() {
                true
            } else if ft.is_file() {
                false
            } else {
                continue;
            };
            out.push((name, path, is_dir));
        }
        Ok(out)
    }

    fn has_file(&self, op: Operation, prefix: &str, dir: &Path) -> Result<bool> {
        for (_, path, is_dir) in self.read_dir(op, prefix, dir)? {
            if !is_dir || self.has_file(op, prefix, &path)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn walk(
        &self,
        op: Operation,
        prefix: &str,
        dir: &Path,
        key: &str,
        out: &mut Vec<String>,
    ) -> Result<()> {
        for (name, path, is_dir) in self.read_dir(op, prefix, dir)? {
            let child = format!("{key}/{name}");
            if is_dir {
                self.walk(op, prefix, &path, &child, out)?;
            } else {
                out.push(child);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Bucket for FilesystemBucket {
    fn name(&self) -> &str {
        &self.inner.name
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let k = key.to_owned();
        self.blocking(Operation::Get, key, move |b| {
            let (mut file, size, _) = b.open(Operation::Get, &k)?;
            let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            file.read_to_end(&mut buf)
                .map_err(|e| b.io_error(Operation::Get, &k, e))?;
            Ok(Bytes::from(buf))
        })
        .await
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes> {
        let k = key.to_owned();
        self.blocking(Operation::GetRange, key, move |b| {
            let op = Operation::GetRange;
            let f = b.open_for_range(op, &k)?;
            let size = f.size;
            if offset > size {
                return Err(Error::InvalidRange {
                    bucket: b.name.clone(),
                    key: k,
                    offset,
                    size,
                });
            }
            let n = len.min(size - offset);
            let mut buf = vec![0u8; usize::try_from(n).unwrap_or(0)];
            let mut filled = 0;
            while filled < buf.len() {
                match read_at(&f.file, &mut buf[filled..], offset + filled as u64) {
                    Ok(0) => break,
                    Ok(r) => filled += r,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(b.io_error(op, &k, e)),
                }
            }
            buf.truncate(filled);
            Ok(Bytes::from(buf))
        })
        .await
    }

    async fn attributes(&self, key: &str) -> Result<ObjectAttributes> {
        let k = key.to_owned();
        self.blocking(Operation::Attributes, key, move |b| {
            let (_, size, meta) = b.open(Operation::Attributes, &k)?;
            let last_modified = meta
                .modified()
                .map_err(|e| b.io_error(Operation::Attributes, &k, e))?;
            Ok(ObjectAttributes {
                size,
                last_modified,
            })
        })
        .await
    }

    async fn upload(&self, key: &str, data: Bytes) -> Result<()> {
        let k = key.to_owned();
        self.blocking(Operation::Upload, key, move |b| {
            b.forget(&k);
            b.write_atomic(&k, |f| {
                f.write_all(&data)?;
                Ok(data.len() as u64)
            })
        })
        .await
        .map(|_| ())
    }

    async fn upload_file(&self, key: &str, path: &Path) -> Result<u64> {
        let k = key.to_owned();
        let src = path.to_path_buf();
        self.blocking(Operation::Upload, key, move |b| {
            b.forget(&k);
            let mut input = fs::File::open(&src)
                .map_err(|e| Error::local_io(Operation::Upload, &k, &src, e))?;
            b.write_atomic(&k, |f| std::io::copy(&mut input, f))
        })
        .await
    }

    async fn download_file(&self, key: &str, path: &Path) -> Result<u64> {
        let k = key.to_owned();
        let dst = path.to_path_buf();
        self.blocking(Operation::Get, key, move |b| {
            let op = Operation::Get;
            let (mut file, _, _) = b.open(op, &k)?;
            let parent = dst
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            fs::create_dir_all(parent).map_err(|e| Error::local_io(op, &k, parent, e))?;
            let tmp = temp_sibling(&dst);
            let copied = (|| {
                let mut out = fs::File::create_new(&tmp)?;
                let n = std::io::copy(&mut file, &mut out)?;
                out.flush()?;
                drop(out);
                fs::rename(&tmp, &dst)?;
                Ok(n)
            })();
            copied.map_err(|e: std::io::Error| {
                let _ = fs::remove_file(&tmp);
                Error::local_io(op, &k, &dst, e)
            })
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let k = key.to_owned();
        self.blocking(Operation::Delete, key, move |b| {
            validate_key(&k)?;
            b.forget(&k);
            let path = b.path_of(&k);
            // Check the parent (not the object: a symlinked object is removed as a link).
            if let Some(parent) = path.parent() {
                let parent = match fs::canonicalize(parent) {
                    Ok(p) => p,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(b.io_error(Operation::Delete, &k, e)),
                };
                if !parent.starts_with(&b.root) {
                    return Err(Error::InvalidKey {
                        key: k,
                        reason: "key resolves outside the bucket root",
                    });
                }
            }
            match fs::symlink_metadata(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Ok(m) if m.is_dir() => return Ok(()),
                _ => {}
            }
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(b.io_error(Operation::Delete, &k, e)),
            }
            b.prune_empty_parents(&path);
            Ok(())
        })
        .await
    }

    async fn list(&self, prefix: &str, mode: ListMode) -> Result<Vec<String>> {
        let p = prefix.to_owned();
        self.blocking(Operation::Iter, prefix, move |b| b.list(&p, mode))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_cannot_escape_root() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("secret"), b"s").unwrap();
        let b = FilesystemBucket::new(tmp.path().join("root")).unwrap();
        std::os::unix::fs::symlink(&outside, b.root().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), b.root().join("filelink")).unwrap();

        for key in ["../outside/secret", "/etc/passwd", "a/../../x"] {
            assert!(
                matches!(b.get(key).await, Err(Error::InvalidKey { .. })),
                "{key}"
            );
        }
        let err = b.get("link/secret").await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidKey { reason, .. } if reason.contains("outside")),
            "{err}"
        );
        assert!(matches!(
            b.get("filelink").await,
            Err(Error::InvalidKey { .. })
        ));
        assert!(matches!(
            b.upload("link/new", Bytes::from_static(b"x")).await,
            Err(Error::InvalidKey { .. })
        ));
        assert!(!outside.join("new").exists());
        assert!(b.list("", ListMode::Delimited).await.unwrap().is_empty());
        assert!(
            b.list("link/", ListMode::Recursive)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn kept_open_files_never_serve_stale_or_escaped_content() {
        let tmp = tempfile::tempdir().unwrap();
        let b = FilesystemBucket::new(tmp.path().join("root")).unwrap();
        // Another process (a second bucket over the same directory) changes things.
        let other = FilesystemBucket::new(tmp.path().join("root")).unwrap();
        b.upload("blk/chunks/000001", Bytes::from_static(b"0123456789"))
            .await
            .unwrap();
        assert_eq!(
            &b.get_range("blk/chunks/000001", 2, 3).await.unwrap()[..],
            b"234"
        );
        assert_eq!(
            b.inner.open_files.lock().unwrap().len(),
            1,
            "file kept open"
        );
        assert_eq!(
            &b.get_range("blk/chunks/000001", 8, 9).await.unwrap()[..],
            b"89"
        );

        // Replaced elsewhere with the same size: a new inode, read afresh.
        other
            .upload("blk/chunks/000001", Bytes::from_static(b"abcdefghij"))
            .await
            .unwrap();
        assert_eq!(
            &b.get_range("blk/chunks/000001", 2, 3).await.unwrap()[..],
            b"cde"
        );

        // Deleted elsewhere: not found, although the old handle could still read.
        other.delete("blk/chunks/000001").await.unwrap();
        assert!(
            b.get_range("blk/chunks/000001", 0, 1)
                .await
                .unwrap_err()
                .is_not_found()
        );

        // A directory swapped for a symlink leading outside the root is refused.
        let outside = tmp.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("seg"), b"secret-data").unwrap();
        b.upload("d/seg", Bytes::from_static(b"inside-data"))
            .await
            .unwrap();
        assert_eq!(&b.get_range("d/seg", 0, 6).await.unwrap()[..], b"inside");
        fs::remove_dir_all(b.root().join("d")).unwrap();
        std::os::unix::fs::symlink(&outside, b.root().join("d")).unwrap();
        assert!(matches!(
            b.get_range("d/seg", 0, 6).await,
            Err(Error::InvalidKey { .. })
        ));

        // Past the end is still a typed error, from the kept size.
        b.upload("e", Bytes::from_static(b"xy")).await.unwrap();
        assert!(matches!(
            b.get_range("e", 3, 1).await,
            Err(Error::InvalidRange {
                offset: 3,
                size: 2,
                ..
            })
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn uploads_survive_concurrent_pruning_deletes() {
        let tmp = tempfile::tempdir().unwrap();
        let b = FilesystemBucket::new(tmp.path()).unwrap();
        for i in 0..200 {
            let (b1, b2) = (b.clone(), b.clone());
            let up =
                tokio::spawn(async move { b1.upload("race/d/a", Bytes::from(vec![1u8; i])).await });
            let del = tokio::spawn(async move { b2.delete("race/d/b").await });
            b.upload("race/d/b", Bytes::from_static(b"b"))
                .await
                .unwrap();
            up.await.unwrap().unwrap();
            del.await.unwrap().unwrap();
            b.delete("race/d/a").await.unwrap();
        }
    }

    #[tokio::test]
    async fn writes_leave_no_temporaries_and_prune_empty_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let b = FilesystemBucket::new(tmp.path()).unwrap();
        b.upload("a/b/c", Bytes::from_static(b"1")).await.unwrap();
        b.upload("a/b/c", Bytes::from_static(b"22")).await.unwrap();
        assert_eq!(b.get("a/b/c").await.unwrap(), Bytes::from_static(b"22"));
        let names: Vec<_> = fs::read_dir(tmp.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["c"]);
        // An empty directory is not listed (S3 has none).
        fs::create_dir_all(tmp.path().join("empty/deeper")).unwrap();
        assert_eq!(b.list("", ListMode::Delimited).await.unwrap(), ["a/"]);
        // A doubled slash matches no key (found by the listing model test).
        assert!(b.list("a//", ListMode::Delimited).await.unwrap().is_empty());
        assert!(
            b.list("a/b//", ListMode::Recursive)
                .await
                .unwrap()
                .is_empty()
        );
        b.delete("a/b/c").await.unwrap();
        assert!(!tmp.path().join("a").exists());
        b.delete("a/b/c").await.unwrap();
    }
}
