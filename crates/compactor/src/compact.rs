//! Executing one compaction: download the inputs, merge them into a new
//! block, upload it (`meta.json` last), verify the upload, and only then mark
//! the inputs for deletion.
//!
//! Crash safety, step by step (a SIGKILL may land anywhere):
//! - during download or merge: the bucket is untouched; the scratch
//!   directory is wiped by the next attempt;
//! - during upload, before `meta.json`: the output is a partial upload,
//!   invisible to every reader (no `meta.json`); the cleaner marks it for
//!   deletion once older than max(consistency delay, 48h) and deletes it
//!   after the delete delay;
//! - after `meta.json`, before or while marking the inputs: the inputs'
//!   sources are a subset of the output's, so the next iteration's garbage
//!   collection ([`crate::blocks::duplicates`]) marks them;
//! - while deleting: `meta.json` goes first, the deletion mark last, so a
//!   half-deleted block is a partial upload that still carries its mark and is
//!   finished by the next cleanup.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aeon_objstore::Bucket;
use aeon_objstore::block::{self, DeletionMark, INDEX_FILENAME, MARK_VERSION_1};
use aeon_tsdb_block::meta::{BlockDesc, ThanosDownsample, ThanosFile};
use aeon_tsdb_block::{BlockMeta, BlockReader, BlockWriterOptions, ThanosMeta};
use futures::{StreamExt, TryStreamExt};
use ulid::Ulid;

use crate::merge::{MergeInput, MergeOptions, MergeStats, merge_blocks};
use crate::planner::Group;
use crate::{DedupFunc, Error, Result};

/// Source written into `thanos.source` of our outputs.
pub const COMPACTOR_SOURCE: &str = "compactor";

/// Settings of a compaction.
#[derive(Debug, Clone)]
pub struct CompactSettings {
    pub data_dir: PathBuf,
    pub replica_labels: Vec<String>,
    pub dedup: DedupFunc,
    pub fetch_concurrency: usize,
    /// Block files moved at once per block (`--block-files-concurrency`).
    pub files_concurrency: usize,
}

/// Result of one compaction.
#[derive(Debug, Clone)]
pub struct Compacted {
    /// The new block (None when the inputs held no series at all).
    pub output: Option<BlockMeta>,
    pub stats: MergeStats,
}

/// A directory name for the group key.
fn scratch_name(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

async fn reset_dir(dir: &Path) -> Result<()> {
    if tokio::fs::try_exists(dir).await.unwrap_or(false) {
        tokio::fs::remove_dir_all(dir)
            .await
            .map_err(|e| Error::io(dir, e))?;
    }
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| Error::io(dir, e))
}

/// Downloads blocks into `dir/<ulid>`.
pub async fn download_blocks(
    bucket: &dyn Bucket,
    ids: &[Ulid],
    dir: &Path,
    concurrency: usize,
    files_concurrency: usize,
) -> Result<Vec<PathBuf>> {
    futures::stream::iter(ids.iter().copied())
        .map(|id| async move {
            let p = dir.join(id.to_string());
            block::download_block_with(bucket, id, &p, files_concurrency)
                .await
                .map_err(|e| Error::bucket("download block", id, e))?;
            Ok::<_, Error>(p)
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await
}

/// Fills `thanos.files` (sorted, sizes for all but meta.json) and rewrites meta.json.
pub fn finalize_meta(dir: &Path, meta: &mut BlockMeta) -> Result<()> {
    let mut files = Vec::new();
    let chunks = dir.join("chunks");
    let mut segs: Vec<PathBuf> = std::fs::read_dir(&chunks)
        .map_err(|e| Error::io(&chunks, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    segs.sort();
    for p in segs {
        let size = std::fs::metadata(&p).map_err(|e| Error::io(&p, e))?.len();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        files.push(ThanosFile {
            rel_path: format!("chunks/{name}"),
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            hash: None,
        });
    }
    let index = dir.join(INDEX_FILENAME);
    let size = std::fs::metadata(&index)
        .map_err(|e| Error::io(&index, e))?
        .len();
    files.push(ThanosFile {
        rel_path: INDEX_FILENAME.into(),
        size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
        hash: None,
    });
    files.push(ThanosFile {
        rel_path: block::META_FILENAME.into(),
        size_bytes: 0,
        hash: None,
    });
    if let Some(t) = meta.thanos.as_mut() {
        t.files = files;
    }
    meta.write_to_dir(dir).map_err(|source| Error::ReadBlock {
        block: meta.ulid,
        source,
    })
}

/// Uploads a finished local block (meta.json last) and checks what landed:
/// meta.json parses to the same block, index and segment sizes match.
/// At most `files_concurrency` block files are uploaded at once.
pub async fn upload_and_verify(
    bucket: &dyn Bucket,
    dir: &Path,
    meta: &BlockMeta,
    files_concurrency: usize,
) -> Result<()> {
    let id = meta.ulid;
    block::upload_block_with(bucket, dir, files_concurrency)
        .await
        .map_err(|e| Error::bucket("upload block", id, e))?;
    let raw = block::read_meta(bucket, id)
        .await
        .map_err(|e| Error::bucket("read back meta.json of", id, e))?;
    let back = BlockMeta::parse(&raw, &format!("{id}/meta.json"))
        .map_err(|source| Error::ParseMeta { block: id, source })?;
    let fail = |reason: String| Error::VerifyUpload { block: id, reason };
    if back.ulid != id
        || back.stats != meta.stats
        || back.compaction.sources != meta.compaction.sources
    {
        return Err(fail(
            "meta.json read back differs from the one written".into(),
        ));
    }
    let files = meta
        .thanos
        .as_ref()
        .map(|t| t.files.clone())
        .unwrap_or_default();
    for f in files.iter().filter(|f| f.rel_path != block::META_FILENAME) {
        let key = format!("{id}/{}", f.rel_path);
        let attrs = bucket
            .attributes(&key)
            .await
            .map_err(|e| Error::bucket("stat uploaded", &key, e))?;
        if i64::try_from(attrs.size).ok() != Some(f.size_bytes) {
            return Err(fail(format!(
                "{key} has {} bytes, expected {}",
                attrs.size, f.size_bytes
            )));
        }
    }
    Ok(())
}

/// Marks blocks for deletion at `now_s` (unix seconds).
pub async fn mark_for_deletion(
    bucket: &dyn Bucket,
    ids: &[Ulid],
    details: &str,
    now_s: i64,
) -> Result<()> {
    for &id in ids {
        if block::read_mark::<DeletionMark>(bucket, id)
            .await
            .map_err(|e| Error::bucket("read deletion mark of", id, e))?
            .is_some()
        {
            continue;
        }
        let mark = DeletionMark {
            id,
            version: MARK_VERSION_1,
            details: Some(details.to_string()),
            deletion_time: now_s,
        };
        block::write_mark(bucket, &mark)
            .await
            .map_err(|e| Error::bucket("write deletion mark for", id, e))?;
    }
    Ok(())
}

/// The meta of a compaction output: level max+1, sorted union of sources,
/// the inputs as parents, the group's labels and resolution, source "compactor".
pub fn output_meta(mut meta: BlockMeta, inputs: &[BlockMeta], group: &Group) -> BlockMeta {
    let mut sources: Vec<Ulid> = inputs
        .iter()
        .flat_map(|m| m.compaction.sources.iter().copied())
        .collect();
    sources.sort();
    sources.dedup();
    meta.compaction.level = inputs.iter().map(|m| m.compaction.level).max().unwrap_or(0) + 1;
    meta.compaction.sources = sources;
    meta.compaction.parents = inputs
        .iter()
        .map(|m| BlockDesc {
            ulid: m.ulid,
            min_time: m.min_time,
            max_time: m.max_time,
        })
        .collect();
    meta.thanos = Some(ThanosMeta {
        version: 1,
        labels: group
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect(),
        downsample: ThanosDownsample {
            resolution: group.resolution,
        },
        source: COMPACTOR_SOURCE.into(),
        ..Default::default()
    });
    meta
}

/// Compacts `inputs` (blocks of `group`) into one block in the bucket and
/// marks the inputs for deletion.
pub async fn compact_blocks(
    bucket: Arc<dyn Bucket>,
    group: &Group,
    inputs: &[BlockMeta],
    settings: &CompactSettings,
    now_ms: i64,
) -> Result<Compacted> {
    let work = settings
        .data_dir
        .join("compact")
        .join(scratch_name(&group.key));
    reset_dir(&work).await?;
    let ids: Vec<Ulid> = inputs.iter().map(|m| m.ulid).collect();
    let dirs = download_blocks(
        bucket.as_ref(),
        &ids,
        &work,
        settings.fetch_concurrency,
        settings.files_concurrency,
    )
    .await?;

    let inputs_owned = inputs.to_vec();
    let group_owned = group.clone();
    let settings_owned = settings.clone();
    let work_owned = work.clone();
    let (meta, out_dir, stats) = tokio::task::spawn_blocking(move || {
        merge_local(
            &dirs,
            &inputs_owned,
            &group_owned,
            &settings_owned,
            &work_owned,
        )
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))??;

    let now_s = now_ms.div_euclid(1000);
    if meta.stats.num_series == 0 {
        tracing::info!(group = %group.key, blocks = ?ids, "compacted blocks hold no series; marking them for deletion");
        mark_for_deletion(bucket.as_ref(), &ids, "compaction found no series", now_s).await?;
        let _ = tokio::fs::remove_dir_all(&work).await;
        return Ok(Compacted {
            output: None,
            stats,
        });
    }
    upload_and_verify(bucket.as_ref(), &out_dir, &meta, settings.files_concurrency).await?;
    mark_for_deletion(
        bucket.as_ref(),
        &ids,
        &format!("source of compacted block {}", meta.ulid),
        now_s,
    )
    .await?;
    let _ = tokio::fs::remove_dir_all(&work).await;
    Ok(Compacted {
        output: Some(meta),
        stats,
    })
}

fn merge_local(
    dirs: &[PathBuf],
    inputs: &[BlockMeta],
    group: &Group,
    settings: &CompactSettings,
    work: &Path,
) -> Result<(BlockMeta, PathBuf, MergeStats)> {
    let readers: Vec<BlockReader> = dirs
        .iter()
        .zip(inputs)
        .map(|(d, m)| {
            BlockReader::open(d).map_err(|source| Error::ReadBlock {
                block: m.ulid,
                source,
            })
        })
        .collect::<Result<_>>()?;
    // Replica streams: blocks with identical full external labels.
    let mut streams: BTreeMap<BTreeMap<String, String>, usize> = BTreeMap::new();
    let merge_inputs: Vec<MergeInput<'_>> = readers
        .iter()
        .zip(inputs)
        .map(|(r, m)| {
            let labels = m
                .thanos
                .as_ref()
                .map(|t| t.labels.clone())
                .unwrap_or_default();
            let n = streams.len();
            let stream = *streams.entry(labels).or_insert(n);
            MergeInput { block: r, stream }
        })
        .collect();
    let min_time = inputs.iter().map(|m| m.min_time).min().unwrap_or(0);
    let max_time = inputs.iter().map(|m| m.max_time).max().unwrap_or(0);
    let out_parent = work.join("out");
    std::fs::create_dir_all(&out_parent).map_err(|e| Error::io(&out_parent, e))?;
    let (meta, dir, stats) = merge_blocks(
        &merge_inputs,
        &out_parent,
        BlockWriterOptions {
            ulid: Some(Ulid::new()),
            min_time: Some(min_time),
            max_time: Some(max_time),
            ..Default::default()
        },
        &MergeOptions {
            drop_labels: settings.replica_labels.clone(),
            dedup: settings.dedup,
            group: group.key.clone(),
        },
    )?;
    let mut meta = output_meta(meta, inputs, group);
    // The writer counts XOR headers; aggregate chunks count their windows.
    meta.stats.num_samples = stats.samples;
    finalize_meta(&dir, &mut meta)?;
    Ok((meta, dir, stats))
}
