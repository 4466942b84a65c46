//! The crate's single error type.

/// Errors of the querier.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Endpoint discovery failed (an invalid `--endpoint` spec, ...).
    #[error(transparent)]
    Discovery(#[from] aeon_discovery::Error),
    /// A Store API call failed.
    #[error("store API")]
    Store(#[from] aeon_storeapi::Error),
    /// Binding or serving HTTP failed.
    #[error("http server")]
    Http(#[from] aeon_common::Error),
    /// Invalid flags.
    #[error("invalid flag {flag}: {reason}")]
    Flag { flag: &'static str, reason: String },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
