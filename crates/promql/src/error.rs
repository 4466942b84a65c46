//! The crate's error type.

/// Everything that can go wrong parsing or evaluating a query.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum Error {
    /// The query text is not valid PromQL (syntax or static type error).
    #[error("{}", parse_text(pos, msg))]
    Parse {
        /// `line:column` (1-based) of the problem, as Prometheus prints it;
        /// empty for the errors Prometheus reports without a position (a
        /// duration expression out of range, its parser's "unexpected error").
        pos: String,
        /// What is wrong.
        msg: String,
    },
    /// Evaluation failed (e.g. duplicate series, bad label names).
    #[error("{0}")]
    Execution(String),
    /// The query would need more samples in memory than allowed.
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// The query ran past its deadline.
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query was cancelled by the caller.
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// The storage failed to select series.
    #[error("select series: {0}")]
    Storage(String),
}

fn parse_text(pos: &str, msg: &str) -> String {
    if pos.is_empty() {
        msg.to_string()
    } else {
        format!("{pos}: parse error: {msg}")
    }
}

impl Error {
    /// The `errorType` Prometheus's HTTP API reports for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::Parse { .. } => "bad_data",
            Error::Timeout(_) => "timeout",
            Error::Canceled(_) => "canceled",
            Error::Execution(_) | Error::TooManySamples(_) | Error::Storage(_) => "execution",
        }
    }

    pub(crate) fn exec(msg: impl Into<String>) -> Self {
        Error::Execution(msg.into())
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
