//! The crate's single error type and its one mapping to gRPC status codes.

use std::time::Duration;

/// Errors of the Store API layer: request validation, limits, transport and
/// remote failures. Converted to a [`tonic::Status`] in exactly one place
/// (`impl From<Error> for tonic::Status`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A label matcher whose regular expression does not compile.
    #[error("invalid matcher for label {name:?}")]
    InvalidMatcher {
        name: String,
        #[source]
        source: aeon_model::Error,
    },
    /// A label matcher with a type outside EQ/NEQ/RE/NRE.
    #[error("unknown matcher type {kind} for label {name:?}")]
    UnknownMatcherType { name: String, kind: i32 },
    /// A request that is malformed in some other way (bad hints, time range...).
    #[error("invalid request: {reason}")]
    InvalidRequest { reason: String },
    /// A limit (series, chunks, samples, bytes) was exceeded.
    #[error("limit exceeded: {what} over limit {limit}")]
    LimitExceeded { what: String, limit: u64 },
    /// A store could not be reached or refused the connection.
    #[error("store {endpoint} unavailable")]
    Unavailable {
        endpoint: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A storage-side failure while answering (I/O, bucket, corrupt data).
    #[error("store failed while {operation}")]
    Storage {
        operation: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The caller went away.
    #[error("request cancelled")]
    Cancelled,
    /// The call did not finish within its deadline.
    #[error("deadline of {deadline:?} exceeded")]
    DeadlineExceeded { deadline: Duration },
    /// A gRPC call to a remote store failed with this status.
    #[error("gRPC call {method} to {endpoint} failed")]
    Rpc {
        endpoint: String,
        method: &'static str,
        #[source]
        status: tonic::Status,
    },
    /// The gRPC server could not bind or serve.
    #[error("serving gRPC on {address} failed")]
    Serve {
        address: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A bug or broken invariant.
    #[error("internal error: {reason}")]
    Internal { reason: String },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::InvalidRequest`].
    pub fn invalid(reason: impl Into<String>) -> Self {
        Error::InvalidRequest {
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::LimitExceeded`].
    pub fn limit(what: impl Into<String>, limit: u64) -> Self {
        Error::LimitExceeded {
            what: what.into(),
            limit,
        }
    }

    /// Shorthand for [`Error::Storage`].
    pub fn storage(
        operation: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Storage {
            operation: operation.into(),
            source: source.into(),
        }
    }

    /// The gRPC code this error maps to.
    pub fn code(&self) -> tonic::Code {
        match self {
            Error::InvalidMatcher { .. }
            | Error::UnknownMatcherType { .. }
            | Error::InvalidRequest { .. } => tonic::Code::InvalidArgument,
            Error::LimitExceeded { .. } => tonic::Code::ResourceExhausted,
            Error::Unavailable { .. } => tonic::Code::Unavailable,
            Error::Storage { .. } => tonic::Code::Aborted,
            Error::Cancelled => tonic::Code::Cancelled,
            Error::DeadlineExceeded { .. } => tonic::Code::DeadlineExceeded,
            Error::Rpc { status, .. } => status.code(),
            Error::Serve { .. } | Error::Internal { .. } => tonic::Code::Internal,
        }
    }
}

/// Full message with the chain of sources, `: `-separated.
fn chain(err: &Error) -> String {
    use std::error::Error as _;
    let mut msg = err.to_string();
    let mut cur = err.source();
    while let Some(s) = cur {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        cur = s.source();
    }
    msg
}

impl From<Error> for tonic::Status {
    fn from(err: Error) -> Self {
        match err {
            // A remote status passes through unchanged (code and message), so a
            // proxy does not wrap the store's answer in layers of text.
            Error::Rpc { status, .. } => status,
            other => tonic::Status::new(other.code(), chain(&other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let cases: Vec<(Error, tonic::Code)> = vec![
            (Error::invalid("x"), tonic::Code::InvalidArgument),
            (
                Error::UnknownMatcherType {
                    name: "a".into(),
                    kind: 9,
                },
                tonic::Code::InvalidArgument,
            ),
            (Error::limit("series", 3), tonic::Code::ResourceExhausted),
            (
                Error::Unavailable {
                    endpoint: "e".into(),
                    source: "down".into(),
                },
                tonic::Code::Unavailable,
            ),
            (
                Error::storage("reading chunks", "eof"),
                tonic::Code::Aborted,
            ),
            (Error::Cancelled, tonic::Code::Cancelled),
            (
                Error::DeadlineExceeded {
                    deadline: Duration::from_secs(1),
                },
                tonic::Code::DeadlineExceeded,
            ),
            (
                Error::Internal {
                    reason: "bug".into(),
                },
                tonic::Code::Internal,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(tonic::Status::from(err).code(), code);
        }
    }

    #[test]
    fn status_message_has_source_chain() {
        let st = tonic::Status::from(Error::storage("reading chunks", "unexpected eof"));
        assert_eq!(
            st.message(),
            "store failed while reading chunks: unexpected eof"
        );
    }

    #[test]
    fn rpc_status_passes_through() {
        let st = tonic::Status::resource_exhausted("too many series");
        let err = Error::Rpc {
            endpoint: "e".into(),
            method: "Series",
            status: st,
        };
        let back = tonic::Status::from(err);
        assert_eq!(back.code(), tonic::Code::ResourceExhausted);
        assert_eq!(back.message(), "too many series");
    }
}
