//! The crate's single error type: configuration only (a running cache never
//! fails its caller).

/// Errors of building a cache.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The YAML does not parse or has unknown fields.
    #[error("cache config {origin}: {source}")]
    Yaml {
        /// Where the YAML came from (a flag or file).
        origin: String,
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// A field has a value Aeon cannot use.
    #[error("cache config {origin}: {field}: {reason}")]
    Invalid {
        /// Where the YAML came from.
        origin: String,
        /// The field, e.g. `config.addresses`.
        field: &'static str,
        /// What was expected.
        reason: String,
    },
    /// A TLS file of the redis config cannot be read.
    #[error("cache config {origin}: cannot read {path}")]
    TlsFile {
        /// Where the YAML came from.
        origin: String,
        /// The file.
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The redis client rejected its connection settings.
    #[error("redis client for {addr}")]
    Redis {
        /// `addr` of the config.
        addr: String,
        #[source]
        source: ::redis::RedisError,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
