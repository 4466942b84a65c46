/// Errors from building model values out of user input.
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
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
