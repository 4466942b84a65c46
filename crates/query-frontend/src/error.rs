//! The crate's error type (start-up and configuration; request failures are
//! Prometheus-style answers, see `api`).

/// Errors of the query frontend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Binding or serving HTTP, reading a config file.
    #[error(transparent)]
    Common(#[from] aeon_common::Error),
    /// The results cache configuration.
    #[error("results cache (--query-range.response-cache-config)")]
    Cache(#[source] aeon_cache::Error),
    /// An invalid flag value.
    #[error("invalid flag --{flag}: {reason}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// Why.
        reason: String,
    },
    /// The HTTP client for the downstream could not be built.
    #[error("downstream http client")]
    Client(#[source] reqwest::Error),
    /// The server task ended abnormally.
    #[error("http server task")]
    Task(#[source] tokio::task::JoinError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
