//! The crate's single error type and its classification helpers.

use std::fmt;
use std::path::PathBuf;

/// Result alias for bucket operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The bucket operation that failed; rendered with Thanos's `operation` label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// Whole-object read (also used for downloads to a local file).
    Get,
    /// Ranged read.
    GetRange,
    /// Existence check.
    Exists,
    /// Size and modification time.
    Attributes,
    /// Write (from bytes or a local file).
    Upload,
    /// Removal.
    Delete,
    /// Listing.
    Iter,
}

impl Operation {
    /// All operations, in label order.
    pub const ALL: [Operation; 7] = [
        Operation::Get,
        Operation::GetRange,
        Operation::Exists,
        Operation::Attributes,
        Operation::Upload,
        Operation::Delete,
        Operation::Iter,
    ];

    /// The label value Thanos uses for this operation.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Get => "get",
            Operation::GetRange => "get_range",
            Operation::Exists => "exists",
            Operation::Attributes => "attributes",
            Operation::Upload => "upload",
            Operation::Delete => "delete",
            Operation::Iter => "iter",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every failure of this crate. Match [`Error::NotFound`] (or call [`Error::is_not_found`]) to
/// tell a missing object from a broken bucket.
///
/// Messages name the bucket and key and include the underlying cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object does not exist.
    #[error("object {key:?} not found in bucket {bucket:?}")]
    NotFound {
        /// Bucket name (S3 bucket or filesystem root).
        bucket: String,
        /// Object key.
        key: String,
    },
    /// The server refused the credentials (wrong key, bad signature, expired token, no permission).
    #[error(
        "{op} {key:?} in bucket {bucket:?}: access denied, the credentials are wrong or lack permission: {message}"
    )]
    Auth {
        /// Failed operation.
        op: Operation,
        /// Bucket name.
        bucket: String,
        /// Object key or listing prefix.
        key: String,
        /// Server's explanation.
        message: String,
    },
    /// A ranged read started beyond the end of the object.
    #[error(
        "get_range {key:?} in bucket {bucket:?}: offset {offset} is beyond the end of the object ({size} bytes)"
    )]
    InvalidRange {
        /// Bucket name.
        bucket: String,
        /// Object key.
        key: String,
        /// Requested start offset.
        offset: u64,
        /// Actual object size.
        size: u64,
    },
    /// The key is not a clean relative path (empty component, `.`/`..`, absolute, escapes the root).
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey {
        /// Offending key.
        key: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A failure worth retrying (network, timeout, throttling, 5xx).
    #[error("{op} {key:?} in bucket {bucket:?} failed (transient): {message}")]
    Transient {
        /// Failed operation.
        op: Operation,
        /// Bucket name.
        bucket: String,
        /// Object key or listing prefix.
        key: String,
        /// Cause, with its whole chain.
        message: String,
    },
    /// A permanent backend failure (bad request, missing bucket, local I/O on the bucket).
    #[error("{op} {key:?} in bucket {bucket:?} failed: {message}")]
    Backend {
        /// Failed operation.
        op: Operation,
        /// Bucket name.
        bucket: String,
        /// Object key or listing prefix.
        key: String,
        /// Cause, with its whole chain.
        message: String,
    },
    /// Transient failures persisted through every retry.
    #[error("{op} {key:?} in bucket {bucket:?} gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// Failed operation.
        op: Operation,
        /// Bucket name.
        bucket: String,
        /// Object key or listing prefix.
        key: String,
        /// Attempts made.
        attempts: u32,
        /// The last transient error.
        last: Box<Error>,
    },
    /// Reading or writing a local file (upload source, download target) failed.
    #[error("{op} {key:?}: local file {path}: {source}", path = path.display())]
    LocalIo {
        /// Operation that touched the local file.
        op: Operation,
        /// Object key involved.
        key: String,
        /// Local path.
        path: PathBuf,
        /// I/O cause.
        source: std::io::Error,
    },
    /// The objstore YAML (or a value in it) is invalid.
    #[error("invalid objstore config from {origin}: {message}")]
    Config {
        /// File path or `--objstore.config` flag.
        origin: String,
        /// What is wrong, with field and line/column where known.
        message: String,
    },
}

impl Error {
    /// Whether the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Whether the credentials were rejected.
    pub fn is_auth(&self) -> bool {
        match self {
            Error::Auth { .. } => true,
            Error::RetriesExhausted { last, .. } => last.is_auth(),
            _ => false,
        }
    }

    /// Whether retrying the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transient { .. })
    }

    pub(crate) fn not_found(bucket: &str, key: &str) -> Self {
        Error::NotFound {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        }
    }

    pub(crate) fn backend(
        op: Operation,
        bucket: &str,
        key: &str,
        message: impl fmt::Display,
    ) -> Self {
        Error::Backend {
            op,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            message: message.to_string(),
        }
    }

    pub(crate) fn transient(
        op: Operation,
        bucket: &str,
        key: &str,
        message: impl fmt::Display,
    ) -> Self {
        Error::Transient {
            op,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            message: message.to_string(),
        }
    }

    pub(crate) fn auth(op: Operation, bucket: &str, key: &str, message: impl fmt::Display) -> Self {
        Error::Auth {
            op,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            message: message.to_string(),
        }
    }

    pub(crate) fn local_io(
        op: Operation,
        key: &str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::LocalIo {
            op,
            key: key.to_owned(),
            path: path.into(),
            source,
        }
    }

    pub(crate) fn config(origin: &str, message: impl fmt::Display) -> Self {
        Error::Config {
            origin: origin.to_owned(),
            message: message.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_bucket_key_and_cause() {
        let e = Error::not_found("b", "k/x");
        assert!(e.is_not_found());
        assert_eq!(e.to_string(), "object \"k/x\" not found in bucket \"b\"");
        let e = Error::auth(Operation::Get, "b", "k", "SignatureDoesNotMatch");
        assert!(e.is_auth() && !e.is_transient() && !e.is_not_found());
        assert!(e.to_string().contains("credentials are wrong"));
        let e = Error::RetriesExhausted {
            op: Operation::Upload,
            bucket: "b".into(),
            key: "k".into(),
            attempts: 3,
            last: Box::new(Error::transient(
                Operation::Upload,
                "b",
                "k",
                "connection refused",
            )),
        };
        assert!(!e.is_transient());
        assert_eq!(
            e.to_string(),
            "upload \"k\" in bucket \"b\" gave up after 3 attempts: upload \"k\" in bucket \"b\" failed (transient): connection refused"
        );
    }
}
