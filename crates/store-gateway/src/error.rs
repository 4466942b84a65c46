//! The crate's single error type.

use std::path::PathBuf;

use ulid::Ulid;

/// Errors of the store gateway: configuration, bucket access, bad blocks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Neither `--objstore.config` nor `--objstore.config-file` was given.
    #[error(
        "no object storage configured: pass --objstore.config-file=<bucket.yml> or --objstore.config=<yaml>"
    )]
    MissingObjstoreConfig,
    /// A flag or configuration document is invalid.
    #[error("invalid configuration: {reason}")]
    Config { reason: String },
    /// Shared service plumbing (config layering, HTTP server) failed.
    #[error(transparent)]
    Common(#[from] aeon_common::Error),
    /// A bucket operation failed.
    #[error("bucket operation failed while {operation}")]
    Bucket {
        operation: String,
        #[source]
        source: aeon_objstore::Error,
    },
    /// The bucket's blocks could not be listed.
    #[error(transparent)]
    BlockSync(#[from] aeon_block_sync::Error),
    /// One block could not be read (meta.json, index, chunks).
    #[error("block {block}: {operation} failed")]
    Block {
        block: Ulid,
        operation: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A local file (index-header cache) could not be read or written.
    #[error("local file {path}: {operation} failed")]
    Local {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The Store API layer (serving, request validation, limits).
    #[error(transparent)]
    StoreApi(#[from] aeon_storeapi::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn block(
        block: Ulid,
        operation: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Block {
            block,
            operation: operation.into(),
            source: source.into(),
        }
    }

    /// Full message with the chain of sources, `: `-separated (Aeon's one
    /// chain printer, [`aeon_common::error::chain`]).
    pub fn chain(&self) -> String {
        aeon_common::error::chain(self)
    }
}

impl From<Error> for aeon_storeapi::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::StoreApi(inner) => inner,
            other => {
                let msg = other.chain();
                aeon_storeapi::Error::storage("reading blocks", msg)
            }
        }
    }
}
