use std::io;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong reading or writing a block. `file` is the
/// path (or object key) of the file involved, so it names the block too.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("read {file} at offset {offset}: {source}")]
    Read {
        file: String,
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("corrupt {file} at offset {offset}: {reason}")]
    Corrupt {
        file: String,
        offset: u64,
        reason: String,
    },
    #[error(
        "checksum mismatch in {file} at offset {offset}: stored {stored:#010x}, computed {computed:#010x}"
    )]
    Checksum {
        file: String,
        offset: u64,
        stored: u32,
        computed: u32,
    },
    #[error("parse {file}: {source}")]
    ParseMeta {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid {file}: {reason}")]
    InvalidMeta { file: String, reason: String },
    #[error("decode {encoding} chunk at bit {bit}: {reason}")]
    DecodeChunk {
        encoding: &'static str,
        bit: u64,
        reason: String,
    },
    #[error("encode chunk: {0}")]
    EncodeChunk(String),
    #[error("write {file}: {source}")]
    Write {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("write block: {0}")]
    WriteBlock(String),
    #[error("parse {file} line {line}: {reason}")]
    ParseInput {
        file: String,
        line: usize,
        reason: String,
    },
    #[error("reference {reference:#x} out of range in {file}: {reason}")]
    OutOfRange {
        file: String,
        reference: u64,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn corrupt(file: &str, offset: u64, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            file: file.to_string(),
            offset,
            reason: reason.into(),
        }
    }

    pub(crate) fn write(file: impl AsRef<std::path::Path>, source: io::Error) -> Self {
        Error::Write {
            file: file.as_ref().display().to_string(),
            source,
        }
    }
}
