use std::path::PathBuf;

/// Errors from the shared service plumbing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A layered configuration did not resolve; the message names the source
    /// (file, environment variable or flag) and the field.
    #[error("invalid configuration: {0}")]
    Config(#[source] Box<figment::Error>),

    /// A configuration file could not be read.
    #[error("cannot read {what} file {path}: {source}")]
    ReadFile {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A YAML document did not match the expected shape.
    #[error("invalid {what} in {origin}: {source}")]
    Yaml {
        what: &'static str,
        origin: String,
        #[source]
        source: serde_yaml_ng::Error,
    },

    /// Both the inline and the file form of a flag were given.
    #[error("flags --{inline} and --{file} are mutually exclusive")]
    ConflictingFlags {
        inline: &'static str,
        file: &'static str,
    },

    /// A relabel configuration is invalid; `origin` names the flag or file.
    #[error("invalid relabel config in {origin}: {reason}")]
    Relabel { origin: String, reason: String },

    /// Tracing could not be set up.
    #[error("cannot set up tracing: {0}")]
    Tracing(String),

    /// Binding or serving an HTTP listener failed.
    #[error("http server on {addr}: {source}")]
    Http {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
