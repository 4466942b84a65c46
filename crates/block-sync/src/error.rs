//! The crate's one error type.

use ulid::Ulid;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can fail in block discovery. A single unreadable block is not an
/// error of the fetch (it is recorded in the [`crate::BucketState`]); only
/// a bucket that cannot be listed is, and an incomplete view when the caller
/// asks for a complete one ([`crate::BucketState::ensure_complete`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bucket's top-level block directories could not be listed.
    #[error("listing the blocks of bucket {bucket:?}: {cause}")]
    List {
        bucket: String,
        /// The bucket's error, in the message (not a `source`, so chain
        /// printers show it once).
        cause: aeon_objstore::Error,
    },
    /// Some blocks could not be read (Thanos's "incomplete view").
    #[error(
        "incomplete view of the bucket: {count} block(s) could not be read, first {block}: {reason}"
    )]
    Incomplete {
        count: usize,
        block: Ulid,
        reason: String,
    },
}
