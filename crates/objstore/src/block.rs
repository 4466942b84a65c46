//! The block layout in a bucket: `<ULID>/{meta.json, index, chunks/NNNNNN, *-mark.json}`.
//!
//! Listing, raw `meta.json` reads (parsing belongs to the block crate), Thanos's marker files
//! and block upload (chunks and index first, `meta.json` last, so a block without `meta.json`
//! is a partial upload) and deletion (`meta.json` first, `deletion-mark.json` last).

use std::path::Path;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;

use crate::bucket::{Bucket, ListMode, upload_dir_with};
use crate::error::{Error, Operation, Result};

/// Block metadata file.
pub const META_FILENAME: &str = "meta.json";
/// Block index file.
pub const INDEX_FILENAME: &str = "index";
/// Directory of chunk segment files.
pub const CHUNKS_DIRNAME: &str = "chunks";
/// Deletion marker.
pub const DELETION_MARK_FILENAME: &str = "deletion-mark.json";
/// No-compact marker.
pub const NO_COMPACT_MARK_FILENAME: &str = "no-compact-mark.json";
/// No-downsample marker.
pub const NO_DOWNSAMPLE_MARK_FILENAME: &str = "no-downsample-mark.json";
/// Version written into markers.
pub const MARK_VERSION_1: i32 = 1;

/// `<id>/<file>`.
pub fn block_key(id: Ulid, file: &str) -> String {
    format!("{id}/{file}")
}

/// The block ULID of a top-level directory name (`01H…` or `01H…/`).
pub fn parse_block_dir(name: &str) -> Option<Ulid> {
    let name = name.strip_suffix('/').unwrap_or(name);
    if name.len() != 26 {
        return None;
    }
    Ulid::from_string(name).ok()
}

/// ULIDs of the top-level directories that look like blocks, sorted. Partial uploads (no
/// `meta.json`) are included; check [`read_meta`] for those.
pub async fn list_blocks(bucket: &dyn Bucket) -> Result<Vec<Ulid>> {
    let mut ids: Vec<Ulid> = bucket
        .list("", ListMode::Delimited)
        .await?
        .iter()
        .filter(|k| k.ends_with('/'))
        .filter_map(|k| parse_block_dir(k))
        .collect();
    ids.sort();
    Ok(ids)
}

/// Raw `meta.json` bytes of a block; [`Error::NotFound`] for partial or missing blocks.
pub async fn read_meta(bucket: &dyn Bucket, id: Ulid) -> Result<Bytes> {
    bucket.get(&block_key(id, META_FILENAME)).await
}

/// A marker file type.
pub trait Mark: Serialize + DeserializeOwned + Send + Sync {
    /// File name inside the block directory.
    const FILENAME: &'static str;
    /// Block the marker belongs to.
    fn block_id(&self) -> Ulid;
}

/// `deletion-mark.json`: the compactor deletes the block after the delay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionMark {
    /// Block ULID.
    #[serde(serialize_with = "ser_ulid", deserialize_with = "de_ulid")]
    pub id: Ulid,
    /// Always 1.
    pub version: i32,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Unix seconds when marked.
    pub deletion_time: i64,
}

/// `no-compact-mark.json`: the compactor leaves the block alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoCompactMark {
    /// Block ULID.
    #[serde(serialize_with = "ser_ulid", deserialize_with = "de_ulid")]
    pub id: Ulid,
    /// Always 1.
    pub version: i32,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Unix seconds when marked.
    pub no_compact_time: i64,
    /// Why.
    pub reason: MarkReason,
}

/// `no-downsample-mark.json`: the compactor does not downsample the block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoDownsampleMark {
    /// Block ULID.
    #[serde(serialize_with = "ser_ulid", deserialize_with = "de_ulid")]
    pub id: Ulid,
    /// Always 1.
    pub version: i32,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Unix seconds when marked.
    pub no_downsample_time: i64,
    /// Why.
    pub reason: MarkReason,
}

/// Marker `reason` strings Thanos writes; anything else is kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkReason {
    /// `manual`.
    Manual,
    /// `index-size-exceeding`.
    IndexSizeExceeding,
    /// `block-index-out-of-order-chunk`.
    OutOfOrderChunks,
    /// `downsample-vertical-compaction`.
    DownsampleVerticalCompaction,
    /// Any other string.
    Other(String),
}

impl MarkReason {
    /// The JSON string.
    pub fn as_str(&self) -> &str {
        match self {
            MarkReason::Manual => "manual",
            MarkReason::IndexSizeExceeding => "index-size-exceeding",
            MarkReason::OutOfOrderChunks => "block-index-out-of-order-chunk",
            MarkReason::DownsampleVerticalCompaction => "downsample-vertical-compaction",
            MarkReason::Other(s) => s,
        }
    }
}

impl From<&str> for MarkReason {
    fn from(s: &str) -> Self {
        match s {
            "manual" => MarkReason::Manual,
            "index-size-exceeding" => MarkReason::IndexSizeExceeding,
            "block-index-out-of-order-chunk" => MarkReason::OutOfOrderChunks,
            "downsample-vertical-compaction" => MarkReason::DownsampleVerticalCompaction,
            other => MarkReason::Other(other.to_owned()),
        }
    }
}

impl Serialize for MarkReason {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MarkReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(MarkReason::from(String::deserialize(d)?.as_str()))
    }
}

fn ser_ulid<S: Serializer>(id: &Ulid, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&id.to_string())
}

fn de_ulid<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Ulid, D::Error> {
    let s = String::deserialize(d)?;
    Ulid::from_string(&s).map_err(|e| serde::de::Error::custom(format!("invalid ULID {s:?}: {e}")))
}

impl Mark for DeletionMark {
    const FILENAME: &'static str = DELETION_MARK_FILENAME;
    fn block_id(&self) -> Ulid {
        self.id
    }
}

impl Mark for NoCompactMark {
    const FILENAME: &'static str = NO_COMPACT_MARK_FILENAME;
    fn block_id(&self) -> Ulid {
        self.id
    }
}

impl Mark for NoDownsampleMark {
    const FILENAME: &'static str = NO_DOWNSAMPLE_MARK_FILENAME;
    fn block_id(&self) -> Ulid {
        self.id
    }
}

/// Tab-indented JSON, like Thanos's block files.
pub fn encode_mark<M: Mark>(mark: &M) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"\t"),
    );
    // Serializing plain structs of strings and integers into a Vec cannot fail.
    if mark.serialize(&mut ser).is_err() {
        out.clear();
    }
    out
}

/// Reads a block's marker; `None` when absent.
pub async fn read_mark<M: Mark>(bucket: &dyn Bucket, id: Ulid) -> Result<Option<M>> {
    let key = block_key(id, M::FILENAME);
    match bucket.get(&key).await {
        Ok(data) => serde_json::from_slice(&data).map(Some).map_err(|e| {
            Error::backend(
                Operation::Get,
                bucket.name(),
                &key,
                format!("decoding marker: {e}"),
            )
        }),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes a marker into its block's directory.
pub async fn write_mark<M: Mark>(bucket: &dyn Bucket, mark: &M) -> Result<()> {
    bucket
        .upload(
            &block_key(mark.block_id(), M::FILENAME),
            Bytes::from(encode_mark(mark)),
        )
        .await
}

/// Uploads a local block directory named by its ULID: `chunks/*`, then `index`, then
/// `meta.json` last. Tombstones and other files are not uploaded. Returns the block ULID.
pub async fn upload_block(bucket: &dyn Bucket, dir: &Path) -> Result<Ulid> {
    upload_block_with(bucket, dir, crate::bucket::DIR_TRANSFER_CONCURRENCY).await
}

/// [`upload_block`] uploading at most `concurrency` chunk files at once
/// (Thanos's `--block-files-concurrency`; 0 counts as 1).
pub async fn upload_block_with(
    bucket: &dyn Bucket,
    dir: &Path,
    concurrency: usize,
) -> Result<Ulid> {
    let op = Operation::Upload;
    let invalid = |what: String| {
        Error::local_io(
            op,
            "",
            dir,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, what),
        )
    };
    let Some(id) = dir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_block_dir)
    else {
        return Err(invalid("block directory name is not a ULID".to_owned()));
    };
    for required in [META_FILENAME, INDEX_FILENAME, CHUNKS_DIRNAME] {
        if !dir.join(required).exists() {
            return Err(invalid(format!("block directory has no {required}")));
        }
    }
    upload_dir_with(
        bucket,
        &dir.join(CHUNKS_DIRNAME),
        &format!("{id}/{CHUNKS_DIRNAME}/"),
        concurrency,
    )
    .await?;
    bucket
        .upload_file(&block_key(id, INDEX_FILENAME), &dir.join(INDEX_FILENAME))
        .await?;
    bucket
        .upload_file(&block_key(id, META_FILENAME), &dir.join(META_FILENAME))
        .await?;
    Ok(id)
}

/// Downloads `meta.json`, `index` and `chunks/*` of a block into `dir`.
pub async fn download_block(bucket: &dyn Bucket, id: Ulid, dir: &Path) -> Result<()> {
    download_block_with(bucket, id, dir, crate::bucket::DIR_TRANSFER_CONCURRENCY).await
}

/// [`download_block`] downloading at most `concurrency` chunk files at once
/// (0 counts as 1).
pub async fn download_block_with(
    bucket: &dyn Bucket,
    id: Ulid,
    dir: &Path,
    concurrency: usize,
) -> Result<()> {
    crate::bucket::download_dir_with(
        bucket,
        &format!("{id}/{CHUNKS_DIRNAME}/"),
        &dir.join(CHUNKS_DIRNAME),
        concurrency,
    )
    .await?;
    bucket
        .download_file(&block_key(id, INDEX_FILENAME), &dir.join(INDEX_FILENAME))
        .await?;
    bucket
        .download_file(&block_key(id, META_FILENAME), &dir.join(META_FILENAME))
        .await?;
    Ok(())
}

/// Deletes a block: `meta.json` first (the block turns partial), then everything else, the
/// deletion mark last.
pub async fn delete_block(bucket: &dyn Bucket, id: Ulid) -> Result<()> {
    bucket.delete(&block_key(id, META_FILENAME)).await?;
    let mark = block_key(id, DELETION_MARK_FILENAME);
    let keys = bucket.list(&format!("{id}/"), ListMode::Recursive).await?;
    for key in keys.iter().filter(|k| **k != mark) {
        bucket.delete(key).await?;
    }
    bucket.delete(&mark).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::memory::InMemoryBucket;

    const ID: &str = "01HQ3Z7M0000000000000000AB";

    #[test]
    fn marks_use_thanos_json_shapes() {
        let id = Ulid::from_string(ID).unwrap();
        let m = DeletionMark {
            id,
            version: 1,
            details: None,
            deletion_time: 1_700_000_000,
        };
        let v: serde_json::Value = serde_json::from_slice(&encode_mark(&m)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"id": ID, "version": 1, "deletion_time": 1_700_000_000})
        );
        let thanos = format!(
            r#"{{"id":"{ID}","version":1,"details":"too big","no_compact_time":1,"reason":"index-size-exceeding"}}"#
        );
        let m: NoCompactMark = serde_json::from_str(&thanos).unwrap();
        assert_eq!(m.reason, MarkReason::IndexSizeExceeding);
        assert_eq!(m.details.as_deref(), Some("too big"));
        let m: NoDownsampleMark = serde_json::from_str(&format!(
            r#"{{"id":"{ID}","version":1,"no_downsample_time":2,"reason":"custom"}}"#
        ))
        .unwrap();
        assert_eq!(m.reason, MarkReason::Other("custom".into()));
        assert!(
            serde_json::from_str::<DeletionMark>(r#"{"id":"nope","version":1,"deletion_time":1}"#)
                .is_err()
        );
    }

    #[tokio::test]
    async fn block_upload_order_listing_marks_and_delete() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(ID);
        std::fs::create_dir_all(dir.join("chunks")).unwrap();
        std::fs::write(dir.join("chunks/000001"), b"c1").unwrap();
        std::fs::write(dir.join("chunks/000002"), b"c2").unwrap();
        std::fs::write(dir.join("index"), b"idx").unwrap();
        std::fs::write(dir.join("meta.json"), b"{}").unwrap();
        std::fs::write(dir.join("tombstones"), b"t").unwrap();

        let mem = Arc::new(InMemoryBucket::new("m"));
        mem.upload("not-a-block/x", Bytes::from_static(b"x"))
            .await
            .unwrap();
        let id = upload_block(mem.as_ref(), &dir).await.unwrap();
        assert_eq!(id.to_string(), ID);
        let keys = mem
            .list(&format!("{ID}/"), ListMode::Recursive)
            .await
            .unwrap();
        assert_eq!(
            keys,
            [
                format!("{ID}/chunks/000001"),
                format!("{ID}/chunks/000002"),
                format!("{ID}/index"),
                format!("{ID}/meta.json")
            ]
        );
        assert_eq!(list_blocks(mem.as_ref()).await.unwrap(), [id]);
        assert_eq!(
            read_meta(mem.as_ref(), id).await.unwrap(),
            Bytes::from_static(b"{}")
        );

        assert!(
            read_mark::<DeletionMark>(mem.as_ref(), id)
                .await
                .unwrap()
                .is_none()
        );
        let mark = DeletionMark {
            id,
            version: MARK_VERSION_1,
            details: Some("x".into()),
            deletion_time: 5,
        };
        write_mark(mem.as_ref(), &mark).await.unwrap();
        assert_eq!(
            read_mark::<DeletionMark>(mem.as_ref(), id).await.unwrap(),
            Some(mark)
        );

        let out = tmp.path().join("out");
        download_block(mem.as_ref(), id, &out).await.unwrap();
        assert_eq!(std::fs::read(out.join("chunks/000002")).unwrap(), b"c2");
        assert_eq!(std::fs::read(out.join("meta.json")).unwrap(), b"{}");

        delete_block(mem.as_ref(), id).await.unwrap();
        assert!(list_blocks(mem.as_ref()).await.unwrap().is_empty());
        assert_eq!(mem.len(), 1);
    }

    #[tokio::test]
    async fn upload_block_rejects_incomplete_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let mem = InMemoryBucket::new("m");
        assert!(upload_block(&mem, tmp.path()).await.is_err());
        let dir = tmp.path().join(ID);
        std::fs::create_dir_all(dir.join("chunks")).unwrap();
        std::fs::write(dir.join("index"), b"idx").unwrap();
        let e = upload_block(&mem, &dir).await.unwrap_err();
        assert!(e.to_string().contains("meta.json"), "{e}");
        assert!(mem.is_empty());
    }
}

#[cfg(test)]
mod concurrency_tests;
