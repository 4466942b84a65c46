//! The shipper: uploads every finished Prometheus block to the bucket once.
//!
//! A block qualifies when its directory name is a ULID (Prometheus writes
//! new blocks as `<ULID>.tmp-for-creation` and renames them when done, so
//! those are never touched), it has a readable `meta.json`, compaction level
//! 1 (any level with `--shipper.upload-compacted`) and at least one sample.
//! Prometheus' own files are never modified: the block is hard-linked (or
//! copied, across file systems) into `<tsdb>/thanos/upload/<ULID>`, the
//! `meta.json` there gets the `thanos` section, and that directory is
//! uploaded `chunks/*`, `index`, `meta.json` last — a block without
//! `meta.json` in the bucket is a partial upload that the next round
//! overwrites. Uploaded ULIDs are kept in `<tsdb>/thanos.shipper.json`
//! (`{"version":1,"uploaded":[...]}`, written atomically); a missing or
//! corrupt state file only costs an existence check in the bucket.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aeon_model::Labels;
use aeon_objstore::Bucket;
use aeon_tsdb_block::BlockMeta;
use aeon_tsdb_block::meta::{ThanosDownsample, ThanosFile, ThanosMeta};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::error::chain;
use crate::metrics::Metrics;
use crate::state::{PromFacts, now_secs};
use crate::{Error, Result};

/// Shipper state file format.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShipperState {
    /// Always 1.
    pub version: u32,
    /// Uploaded block ULIDs (only those still present locally are kept).
    #[serde(default)]
    pub uploaded: Vec<String>,
}

/// What one sync round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// Blocks uploaded this round.
    pub uploaded: Vec<Ulid>,
    /// Blocks whose upload failed (retried next round).
    pub failed: Vec<Ulid>,
}

/// Uploads the blocks of one TSDB directory.
#[derive(Debug, Clone)]
pub struct Shipper {
    dir: PathBuf,
    bucket: Arc<dyn Bucket>,
    meta_file_name: String,
    upload_compacted: bool,
    upload_concurrency: usize,
    metrics: Metrics,
}

impl Shipper {
    /// A shipper for `dir` (the Prometheus `--storage.tsdb.path`).
    pub fn new(
        dir: impl Into<PathBuf>,
        bucket: Arc<dyn Bucket>,
        meta_file_name: impl Into<String>,
        upload_compacted: bool,
        metrics: Metrics,
    ) -> Self {
        Self {
            dir: dir.into(),
            bucket,
            meta_file_name: meta_file_name.into(),
            upload_compacted,
            upload_concurrency: 1,
            metrics,
        }
    }

    /// Uploads at most `n` files of a block at once
    /// (`--shipper.upload-concurrency`; 0, Thanos's default, is one at a
    /// time).
    pub fn with_upload_concurrency(mut self, n: usize) -> Self {
        self.upload_concurrency = n.max(1);
        self
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join(&self.meta_file_name)
    }

    /// Reads the state file; missing or corrupt = nothing known.
    pub fn read_state(&self) -> ShipperState {
        let path = self.state_path();
        match std::fs::read(&path) {
            Ok(data) => match serde_json::from_slice::<ShipperState>(&data) {
                Ok(s) if s.version == 1 => s,
                Ok(s) => {
                    tracing::warn!(file = %path.display(), version = s.version, "unknown shipper state version; ignoring it");
                    ShipperState::default()
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "corrupt shipper state file; checking the bucket instead");
                    ShipperState::default()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ShipperState::default(),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot read shipper state file; checking the bucket instead");
                ShipperState::default()
            }
        }
    }

    /// Writes the state file atomically (tmp file, fsync, rename, fsync dir).
    fn write_state(&self, uploaded: &BTreeSet<Ulid>) -> Result<()> {
        let path = self.state_path();
        let state = ShipperState {
            version: 1,
            uploaded: uploaded.iter().map(Ulid::to_string).collect(),
        };
        let err = |source| Error::ShipperState {
            path: path.clone(),
            source,
        };
        let data = serde_json::to_vec_pretty(&state).map_err(|e| err(std::io::Error::other(e)))?;
        let tmp = self.dir.join(format!("{}.tmp", self.meta_file_name));
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(err)?;
            f.write_all(&data).map_err(err)?;
            f.sync_all().map_err(err)?;
        }
        std::fs::rename(&tmp, &path).map_err(err)?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Why uploading is refused for these Prometheus facts, if it is.
    pub fn precondition(facts: &PromFacts) -> Option<String> {
        if facts.external_labels.is_empty() {
            return Some(
                "prometheus has no external labels (global.external_labels); blocks without them cannot be told apart in the bucket".into(),
            );
        }
        match facts.block_durations {
            Some((min, max)) if min != max => Some(format!(
                "prometheus compaction is enabled (storage.tsdb.min-block-duration={} != storage.tsdb.max-block-duration={}); \
                 set both to the same value (2h recommended) so uploaded blocks are never compacted locally",
                aeon_common::flags::format_duration(min),
                aeon_common::flags::format_duration(max)
            )),
            Some(_) => None,
            None => {
                Some("prometheus block durations unknown (cannot read /api/v1/status/flags)".into())
            }
        }
    }

    /// One round: upload every qualifying block not yet uploaded. Per-block
    /// failures are logged, counted and retried next round; the round itself
    /// fails only when the directory cannot be listed or the preconditions
    /// are not met.
    pub async fn sync(&self, external_labels: &Labels) -> Result<SyncOutcome> {
        self.metrics.shipper_dir_syncs.inc();
        if external_labels.is_empty() {
            self.metrics.shipper_dir_sync_failures.inc();
            return Err(Error::ShipperPrecondition {
                reason: "external labels are empty".into(),
            });
        }
        let blocks = match self.local_blocks() {
            Ok(b) => b,
            Err(e) => {
                self.metrics.shipper_dir_sync_failures.inc();
                return Err(e);
            }
        };
        let known: BTreeSet<Ulid> = self
            .read_state()
            .uploaded
            .iter()
            .filter_map(|s| Ulid::from_string(s).ok())
            .collect();
        let present: BTreeSet<Ulid> = blocks.iter().map(|(id, _)| *id).collect();
        // Only blocks still present locally are remembered (as Thanos does).
        let mut uploaded: BTreeSet<Ulid> = known.intersection(&present).copied().collect();
        let mut out = SyncOutcome::default();
        let mut dirty = uploaded.len() != known.len();
        for (id, meta) in blocks {
            if uploaded.contains(&id) {
                continue;
            }
            if meta.stats.num_samples == 0 {
                continue;
            }
            if meta.compaction.level > 1 && !self.upload_compacted {
                continue;
            }
            match self
                .bucket
                .exists(&aeon_objstore::block::block_key(
                    id,
                    aeon_objstore::block::META_FILENAME,
                ))
                .await
            {
                Ok(true) => {
                    tracing::info!(block = %id, "block already in the bucket; recording it as uploaded");
                    uploaded.insert(id);
                    dirty = true;
                    continue;
                }
                Ok(false) => {}
                Err(source) => {
                    let e = Error::CheckBucket { block: id, source };
                    tracing::warn!(block = %id, error = %chain(&e), "cannot check the bucket; will retry");
                    self.metrics.shipper_upload_failures.inc();
                    out.failed.push(id);
                    continue;
                }
            }
            match self.upload(id, meta, external_labels).await {
                Ok(()) => {
                    tracing::info!(block = %id, "uploaded block");
                    self.metrics.shipper_uploads.inc();
                    self.metrics.shipper_last_upload.set(now_secs());
                    uploaded.insert(id);
                    out.uploaded.push(id);
                    // Persist after every block so a crash forgets at most one.
                    self.write_state(&uploaded)?;
                    dirty = false;
                }
                Err(e) => {
                    tracing::error!(block = %id, error = %chain(&e), "block upload failed; will retry next round");
                    self.metrics.shipper_upload_failures.inc();
                    out.failed.push(id);
                }
            }
        }
        if dirty || !self.state_path().exists() {
            self.write_state(&uploaded)?;
        }
        Ok(out)
    }

    /// Finished blocks in the TSDB directory with their meta, sorted by ULID.
    fn local_blocks(&self) -> Result<Vec<(Ulid, BlockMeta)>> {
        let rd = std::fs::read_dir(&self.dir).map_err(|source| Error::ListTsdb {
            dir: self.dir.clone(),
            source,
        })?;
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|source| Error::ListTsdb {
                dir: self.dir.clone(),
                source,
            })?;
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .filter(|n| n.len() == 26)
                .and_then(|n| Ulid::from_string(n).ok())
            else {
                continue;
            };
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let path = entry.path();
            if !path.join("meta.json").exists() {
                continue; // still being written
            }
            match BlockMeta::read_from_dir(&path) {
                Ok(meta) => out.push((id, meta)),
                Err(e) => {
                    tracing::warn!(block = %id, error = %chain(&e), "cannot read block meta.json; skipping")
                }
            }
        }
        out.sort_by_key(|(id, _)| *id);
        Ok(out)
    }

    async fn upload(&self, id: Ulid, meta: BlockMeta, external_labels: &Labels) -> Result<()> {
        let src = self.dir.join(id.to_string());
        let staging = self.dir.join("thanos").join("upload").join(id.to_string());
        let (dir, staging2) = (src.clone(), staging.clone());
        let meta = tokio::task::spawn_blocking(move || stage_block(id, &dir, &staging2, meta))
            .await
            .map_err(|e| Error::PrepareUpload {
                block: id,
                dir: staging.clone(),
                source: std::io::Error::other(e),
            })??;
        let mut meta = meta;
        meta.thanos = Some(ThanosMeta {
            version: 1,
            labels: external_labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect(),
            downsample: ThanosDownsample { resolution: 0 },
            source: "sidecar".into(),
            files: block_files(&staging).map_err(|source| Error::PrepareUpload {
                block: id,
                dir: staging.clone(),
                source,
            })?,
            ..Default::default()
        });
        meta.write_to_dir(&staging)
            .map_err(|source| Error::WriteMeta { block: id, source })?;
        let res = aeon_objstore::block::upload_block_with(
            self.bucket.as_ref(),
            &staging,
            self.upload_concurrency,
        )
        .await;
        let _ = tokio::fs::remove_dir_all(&staging).await;
        res.map(|_| ())
            .map_err(|source| Error::UploadBlock { block: id, source })
    }

    /// Runs [`Shipper::sync`] every `interval` until `shutdown`, with the
    /// latest Prometheus facts.
    pub async fn run(
        self,
        state: crate::state::PromState,
        interval: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let mut warned: Option<String> = None;
        loop {
            if let Some(facts) = state.get() {
                match Self::precondition(&facts) {
                    Some(reason) => {
                        self.metrics.shipper_blocked.set(1);
                        if warned.as_deref() != Some(&reason) {
                            tracing::error!(reason = %reason, "shipper will not upload blocks");
                            warned = Some(reason);
                        }
                    }
                    None => {
                        self.metrics.shipper_blocked.set(0);
                        warned = None;
                        if let Err(e) = self.sync(&facts.external_labels).await {
                            tracing::error!(error = %chain(&e), "shipper sync failed");
                        }
                    }
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}

/// Hard-links (or copies) `chunks/*` and `index` of `src` into a fresh
/// `staging` directory; returns the meta to write there.
fn stage_block(id: Ulid, src: &Path, staging: &Path, meta: BlockMeta) -> Result<BlockMeta> {
    let err = |source| Error::PrepareUpload {
        block: id,
        dir: staging.to_path_buf(),
        source,
    };
    if staging.exists() {
        std::fs::remove_dir_all(staging).map_err(err)?;
    }
    std::fs::create_dir_all(staging.join("chunks")).map_err(err)?;
    link_or_copy(&src.join("index"), &staging.join("index")).map_err(err)?;
    for entry in std::fs::read_dir(src.join("chunks")).map_err(err)? {
        let entry = entry.map_err(err)?;
        if entry.file_type().map_err(err)?.is_file() {
            link_or_copy(
                &entry.path(),
                &staging.join("chunks").join(entry.file_name()),
            )
            .map_err(err)?;
        }
    }
    Ok(meta)
}

fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(_) => std::fs::copy(from, to).map(|_| ()),
    }
}

/// `thanos.files`: every file of the staged block sorted by path, sizes
/// included except for `meta.json` (which is listed without size).
fn block_files(dir: &Path) -> std::io::Result<Vec<ThanosFile>> {
    let mut files = vec![ThanosFile {
        rel_path: "index".into(),
        size_bytes: file_size(&dir.join("index"))?,
        hash: None,
    }];
    for entry in std::fs::read_dir(dir.join("chunks"))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            files.push(ThanosFile {
                rel_path: format!("chunks/{}", entry.file_name().to_string_lossy()),
                size_bytes: file_size(&entry.path())?,
                hash: None,
            });
        }
    }
    files.push(ThanosFile {
        rel_path: "meta.json".into(),
        size_bytes: 0,
        hash: None,
    });
    files.sort_by(|a, b| a.rel_path.cmp(&b.rel_path));
    Ok(files)
}

fn file_size(p: &Path) -> std::io::Result<i64> {
    Ok(i64::try_from(std::fs::metadata(p)?.len()).unwrap_or(i64::MAX))
}
