//! This crate's errors and the one way Aeon prints an error.
//!
//! The convention, for every crate: a message says what failed and where
//! (the address, file, flag or block), lowercase, and leaves its cause to
//! `source()`; [`chain`] joins the two as `what: cause: cause`. So a cause is
//! printed once, by whoever prints the error — the service skeleton on exit,
//! log lines through [`Chain`].

use std::fmt;
use std::path::PathBuf;

/// Errors from the shared service plumbing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A layered configuration did not resolve; the message names the source
    /// (file, environment variable or flag) and the field.
    #[error("invalid configuration")]
    Config(#[source] Box<figment::Error>),

    /// A configuration file could not be read; `what` names the flag or
    /// the kind of file.
    #[error("cannot read {what} {path}")]
    ReadFile {
        what: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A YAML document did not match the expected shape.
    #[error("invalid {what} in {origin}")]
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

    /// A config references `$(VAR)` and `VAR` is not set (Thanos's
    /// environment substitution).
    #[error("{origin} references unset environment variable {var:?} as $({var})")]
    UnsetVariable { origin: String, var: String },

    /// A relabel configuration is invalid; `origin` names the flag or file.
    #[error("invalid relabel config in {origin}: {reason}")]
    Relabel { origin: String, reason: String },

    /// A flag Aeon does not implement was set (its help starts with
    /// [`crate::kingpin::UNSUPPORTED`]).
    #[error("flag {flag} is not supported by Aeon: {why}")]
    Unsupported { flag: String, why: String },

    /// Tracing could not be set up.
    #[error("cannot set up tracing: {0}")]
    Tracing(String),

    /// The tokio runtime could not be built.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),

    /// A listen address could not be bound.
    #[error("{what} on {addr}: bind")]
    Bind {
        what: &'static str,
        addr: String,
        #[source]
        source: std::io::Error,
    },

    /// A listen address's host could not be looked up.
    #[error("listen address {addr}: resolve")]
    Resolve {
        addr: String,
        #[source]
        source: std::io::Error,
    },

    /// A TLS setting is invalid or its files unusable; `what` names the
    /// flag or file and the part (`--grpc-server-tls-cert: server
    /// credentials`).
    #[error("{what}: {reason}")]
    Tls { what: String, reason: String },

    /// Serving an HTTP listener failed after it was bound.
    #[error("http server on {addr}: serve")]
    Http {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and its causes, displayed as `what: cause: cause`.
///
/// A cause whose text the message before it already ends with is skipped,
/// so an error that still writes its source into its own message (older
/// variants in other crates) is not printed twice.
#[derive(Clone, Copy)]
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut printed = self.0.to_string();
        f.write_str(&printed)?;
        let mut cur = self.0.source();
        while let Some(cause) = cur {
            let text = cause.to_string();
            if !text.is_empty() && !printed.ends_with(&text) {
                write!(f, ": {text}")?;
                printed = text;
            }
            cur = cause.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `err` with its causes, `: `-separated (see [`Chain`]).
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    Chain(err).to_string()
}

/// `.chain()` on any error: the message with its causes (see [`Chain`]),
/// for log lines (`error = %e.chain()`) and assertions.
pub trait ChainExt {
    /// The message with its causes, `: `-separated.
    fn chain(&self) -> String;
}

impl<E: std::error::Error + 'static> ChainExt for E {
    fn chain(&self) -> String {
        Chain(self).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("query")]
        Clean(#[source] Error),
        #[error("open bucket: {0}")]
        Repeats(#[source] Error),
    }

    fn bind_error() -> Error {
        Error::Bind {
            what: "http server",
            addr: "127.0.0.1:10902".into(),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        }
    }

    #[test]
    fn chain_prints_every_cause_once() {
        let e = Outer::Clean(bind_error());
        assert_eq!(
            chain(&e),
            "query: http server on 127.0.0.1:10902: bind: address in use"
        );
        let e = Outer::Repeats(bind_error());
        assert_eq!(
            chain(&e),
            "open bucket: http server on 127.0.0.1:10902: bind: address in use"
        );
    }
}
