//! The compactor's one error type.

use std::path::PathBuf;

use ulid::Ulid;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can fail in the compactor. Variants name the operation and
/// carry the block, group, object key or file involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Common(#[from] aeon_common::Error),
    #[error(transparent)]
    BlockSync(#[from] aeon_block_sync::Error),
    #[error("open bucket: {0}")]
    OpenBucket(#[source] aeon_objstore::Error),
    #[error("{op} {what}: {source}")]
    Bucket {
        op: &'static str,
        what: String,
        #[source]
        source: aeon_objstore::Error,
    },
    #[error("parse meta.json of block {block}: {source}")]
    ParseMeta {
        block: Ulid,
        #[source]
        source: aeon_tsdb_block::Error,
    },
    #[error("read block {block}: {source}")]
    ReadBlock {
        block: Ulid,
        #[source]
        source: aeon_tsdb_block::Error,
    },
    #[error("write block for group {group}: {source}")]
    WriteBlock {
        group: String,
        #[source]
        source: aeon_tsdb_block::Error,
    },
    #[error("merge series {series} in group {group}: {reason}")]
    MergeSeries {
        group: String,
        series: String,
        reason: String,
    },
    #[error("verify uploaded block {block}: {reason}")]
    VerifyUpload { block: Ulid, reason: String },
    #[error("local file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("downsample block {block}: {reason}")]
    Downsample { block: Ulid, reason: String },
    #[error("task failed: {0}")]
    Task(String),
}

impl Error {
    pub(crate) fn bucket(
        op: &'static str,
        what: impl ToString,
        source: aeon_objstore::Error,
    ) -> Self {
        Error::Bucket {
            op,
            what: what.to_string(),
            source,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether the error is about the data of a block (corrupt, undecodable,
    /// unmergeable) rather than a transient bucket or disk problem; such
    /// blocks are quarantined with a no-compact mark instead of retried.
    pub fn is_data_error(&self) -> bool {
        matches!(
            self,
            Error::ParseMeta { .. }
                | Error::ReadBlock { .. }
                | Error::MergeSeries { .. }
                | Error::Downsample { .. }
        )
    }
}
