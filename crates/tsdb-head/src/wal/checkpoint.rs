//! Checkpoints: `checkpoint.NNNNNNNN` directories (Prometheus's naming)
//! holding, in ordinary segment files, everything the head still needs from
//! WAL segments `..=N`, so those segments can be deleted. Written into
//! `checkpoint.N.tmp`, fsynced, then renamed: a crash leaves either the old
//! checkpoint plus all segments, or the new one.

use std::path::{Path, PathBuf};

use super::{Wal, WalOptions, sync_dir};
use crate::{Error, Result};

const PREFIX: &str = "checkpoint.";

fn name(dir: &Path, k: u64) -> PathBuf {
    dir.join(format!("{PREFIX}{k:08}"))
}

/// The completed checkpoints in `dir`, ascending.
pub(crate) fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::wal_io(dir, e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| Error::wal_io(dir, e))?;
        let n = e.file_name();
        let Some(n) = n.to_str() else { continue };
        if let Some(k) = n.strip_prefix(PREFIX)
            && k.bytes().all(|b| b.is_ascii_digit())
            && let Ok(k) = k.parse()
        {
            out.push((k, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Writes a checkpoint covering segments `..=k`.
#[derive(Debug)]
pub(crate) struct CheckpointWriter {
    wal: Option<Wal>,
    tmp: PathBuf,
    dst: PathBuf,
}

impl CheckpointWriter {
    pub(crate) fn create(dir: &Path, k: u64, mut opts: WalOptions) -> Result<Self> {
        let dst = name(dir, k);
        let tmp = dir.join(format!("{PREFIX}{k:08}.tmp"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::wal_io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| Error::wal_io(&tmp, e))?;
        opts.sync = super::SyncPolicy::OnSegmentClose;
        let wal = Wal::create(&tmp, 0, opts)?;
        Ok(Self {
            wal: Some(wal),
            tmp,
            dst,
        })
    }

    pub(crate) fn log(&mut self, recs: &[Vec<u8>]) -> Result<()> {
        match self.wal.as_mut() {
            Some(w) => w.log(recs),
            None => Err(Error::Broken("checkpoint already finished".into())),
        }
    }

    /// Makes the checkpoint durable and visible.
    pub(crate) fn finish(mut self) -> Result<PathBuf> {
        if let Some(mut w) = self.wal.take() {
            w.sync()?;
        }
        sync_dir(&self.tmp)?;
        if self.dst.exists() {
            std::fs::remove_dir_all(&self.dst).map_err(|e| Error::wal_io(&self.dst, e))?;
        }
        std::fs::rename(&self.tmp, &self.dst).map_err(|e| Error::wal_io(&self.dst, e))?;
        if let Some(parent) = self.dst.parent() {
            sync_dir(parent)?;
        }
        Ok(self.dst.clone())
    }
}

/// Deletes checkpoints older than `k` and leftover `.tmp` directories.
pub(crate) fn remove_before(dir: &Path, k: u64) -> Result<()> {
    for (i, p) in list(dir)? {
        if i < k {
            std::fs::remove_dir_all(&p).map_err(|e| Error::wal_io(&p, e))?;
        }
    }
    let rd = std::fs::read_dir(dir).map_err(|e| Error::wal_io(dir, e))?;
    for e in rd.flatten() {
        let n = e.file_name();
        if n.to_str()
            .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(".tmp"))
        {
            let p = e.path();
            std::fs::remove_dir_all(&p).map_err(|e| Error::wal_io(&p, e))?;
        }
    }
    Ok(())
}
