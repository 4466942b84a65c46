/// Errors from building model values out of user input or decoded data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `=~` or `!~` matcher whose regular expression does not compile.
    #[error("invalid regular expression {regex:?} in matcher for label {label:?}: {source}")]
    InvalidRegex {
        label: String,
        regex: String,
        #[source]
        source: Box<regex::Error>,
    },
    /// A native histogram whose spans cover another number of buckets than it has.
    #[error("histogram spans cover {expected} buckets, the histogram has {got}")]
    HistogramSpans { expected: usize, got: usize },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
