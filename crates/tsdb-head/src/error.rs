use std::io;
use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a caller (the receive service) should answer a failed write: the
/// HTTP status family Thanos Receive uses for it and whether the client may
/// retry. Mapping to an actual status code happens in the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Malformed input (empty label set, invalid histogram): 400, never retry.
    Invalid,
    /// The sample conflicts with stored data (out of order, out of bounds,
    /// too old, duplicate timestamp with another value): 409, never retry.
    Conflict,
    /// A configured limit (max series) is reached: 429, retry later.
    LimitExceeded,
    /// Our own failure (disk, WAL, block write, closed head): 5xx, retry.
    Unavailable,
}

/// Everything the head, its WAL and its compaction can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `t` is below the head's minimum valid time (its max time minus half
    /// the block range, or the end of the last block written): Prometheus's
    /// `storage.ErrOutOfBounds`.
    #[error("out of bounds: sample at {t} is older than the head's minimum valid time {min_valid}")]
    OutOfBounds { t: i64, min_valid: i64 },
    /// `t` is before the series' last sample and no out-of-order window is
    /// configured: `storage.ErrOutOfOrderSample`.
    #[error("out of order sample: {t} is before the series' last sample at {last}")]
    OutOfOrder { t: i64, last: i64 },
    /// With an out-of-order window, `t` is older than the head's max time
    /// minus the window: `storage.ErrTooOldSample`.
    #[error(
        "too old sample: {t} is older than the head's max time {head_max} minus the out-of-order window {window}ms"
    )]
    TooOld { t: i64, head_max: i64, window: i64 },
    /// Same timestamp as the series' last sample with a different value (or
    /// sample type): `storage.ErrDuplicateSampleForTimestamp`.
    #[error("duplicate sample for timestamp {t} with a different value")]
    DuplicateSample { t: i64 },
    #[error("invalid series {labels}: {reason}")]
    InvalidSeries { labels: String, reason: String },
    #[error("invalid histogram at {t}: {reason}")]
    InvalidHistogram { t: i64, reason: String },
    #[error("unknown series reference {0}")]
    UnknownSeries(u64),
    /// The head holds `limit` series already; a new one was refused.
    #[error("too many series: the head holds the configured maximum of {limit} series")]
    TooManySeries { limit: usize },
    #[error("write-ahead log {path}: {source}")]
    WalIo {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A bad record with valid data after it (not a torn tail): the WAL is
    /// refused rather than silently cut short.
    #[error("corrupt write-ahead log segment {segment} at offset {offset}: {reason}")]
    WalCorrupt {
        segment: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("write block into {dir}: {source}")]
    WriteBlock {
        dir: PathBuf,
        #[source]
        source: aeon_tsdb_block::Error,
    },
    #[error("read block {dir}: {source}")]
    ReadBlock {
        dir: PathBuf,
        #[source]
        source: aeon_tsdb_block::Error,
    },
    #[error("chunk of series {series}: {source}")]
    Chunk {
        series: u64,
        #[source]
        source: aeon_tsdb_block::Error,
    },
    #[error("invalid head options: {0}")]
    Options(String),
    /// A previous WAL write failed part-way; the head refuses writes until
    /// it is reopened (and replays the WAL up to its last good record).
    #[error("the head's write-ahead log failed earlier ({0}); reopen the head")]
    Broken(String),
}

impl Error {
    /// How a write path should answer this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::OutOfBounds { .. }
            | Error::OutOfOrder { .. }
            | Error::TooOld { .. }
            | Error::DuplicateSample { .. } => ErrorClass::Conflict,
            Error::InvalidSeries { .. }
            | Error::InvalidHistogram { .. }
            | Error::UnknownSeries(_) => ErrorClass::Invalid,
            Error::TooManySeries { .. } => ErrorClass::LimitExceeded,
            Error::WalIo { .. }
            | Error::WalCorrupt { .. }
            | Error::Io { .. }
            | Error::WriteBlock { .. }
            | Error::ReadBlock { .. }
            | Error::Chunk { .. }
            | Error::Options(_)
            | Error::Broken(_) => ErrorClass::Unavailable,
        }
    }

    /// Whether a client may send the same data again later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.class(),
            ErrorClass::LimitExceeded | ErrorClass::Unavailable
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn wal_io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::WalIo {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_rejections_are_not_retryable_and_limits_are() {
        for e in [
            Error::OutOfBounds { t: 1, min_valid: 2 },
            Error::OutOfOrder { t: 1, last: 2 },
            Error::DuplicateSample { t: 1 },
            Error::TooOld {
                t: 1,
                head_max: 5,
                window: 1,
            },
        ] {
            assert_eq!(e.class(), ErrorClass::Conflict, "{e}");
            assert!(!e.is_retryable());
        }
        assert!(Error::TooManySeries { limit: 1 }.is_retryable());
        assert!(Error::wal_io("/x", io::Error::other("disk full")).is_retryable());
        assert_eq!(
            Error::OutOfOrder { t: 1, last: 2 }.to_string(),
            "out of order sample: 1 is before the series' last sample at 2"
        );
    }
}
