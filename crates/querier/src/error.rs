//! The crate's single error type.

/// Errors of the querier.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Endpoint discovery failed (an invalid `--endpoint` spec, ...).
    #[error(transparent)]
    Discovery(#[from] aeon_discovery::Error),
    /// A Store API call or the gRPC server failed (the storeapi error says
    /// which).
    #[error(transparent)]
    Store(#[from] aeon_storeapi::Error),
    /// Shared plumbing: binding or serving HTTP, configuration (the common
    /// error names the address or file).
    #[error(transparent)]
    Http(#[from] aeon_common::Error),
    /// Invalid flags.
    #[error("invalid flag {flag}: {reason}")]
    Flag { flag: &'static str, reason: String },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
