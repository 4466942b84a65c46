//! The sidecar's single error type.

use std::path::PathBuf;

/// Everything that can fail in the sidecar: talking to Prometheus, shipping
/// blocks, reloading config, serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Prometheus could not be reached (connection refused, timeout, DNS).
    #[error("request to prometheus {url} failed")]
    PrometheusRequest {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// Prometheus answered with a non-success HTTP status.
    #[error("prometheus {url} answered HTTP {status}: {body}")]
    PrometheusStatus {
        url: String,
        status: u16,
        body: String,
    },
    /// Prometheus answered something we cannot understand.
    #[error("unexpected answer from prometheus {url}: {reason}")]
    PrometheusResponse { url: String, reason: String },
    /// The configured Prometheus URL is not usable.
    #[error("invalid --prometheus.url {url:?}: {reason}")]
    PrometheusUrl { url: String, reason: String },
    /// The Prometheus HTTP client config (`--prometheus.http-client`) could
    /// not be applied (TLS files, credentials files).
    #[error("prometheus http client: {what}")]
    PrometheusClient {
        what: String,
        #[source]
        source: aeon_common::Error,
    },
    /// Reading a local block directory failed.
    #[error("reading block {dir}")]
    ReadBlock {
        dir: PathBuf,
        #[source]
        source: aeon_tsdb_block::Error,
    },
    /// Preparing the upload copy of a block failed.
    #[error("preparing block {block} for upload in {dir}")]
    PrepareUpload {
        block: ulid::Ulid,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing the meta.json with the thanos section failed.
    #[error("writing meta.json of block {block}")]
    WriteMeta {
        block: ulid::Ulid,
        #[source]
        source: aeon_tsdb_block::Error,
    },
    /// Uploading a block to the bucket failed.
    #[error("uploading block {block}")]
    UploadBlock {
        block: ulid::Ulid,
        #[source]
        source: aeon_objstore::Error,
    },
    /// Checking the bucket failed.
    #[error("checking block {block} in the bucket")]
    CheckBucket {
        block: ulid::Ulid,
        #[source]
        source: aeon_objstore::Error,
    },
    /// Reading or writing the shipper state file failed.
    #[error("shipper state file {path}")]
    ShipperState {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Listing the TSDB directory failed.
    #[error("listing tsdb directory {dir}")]
    ListTsdb {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The shipper refuses to upload (missing external labels, compaction on).
    #[error("shipper will not upload: {reason}")]
    ShipperPrecondition { reason: String },
    /// Reading a watched file or rule directory failed.
    #[error("reloader reading {path}")]
    ReloaderRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing the env-substituted config failed.
    #[error("reloader writing {path}")]
    ReloaderWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The config references an environment variable that is not set.
    #[error("config file {path} references unset environment variable {var:?}")]
    Envsubst { path: PathBuf, var: String },
    /// Building the bucket from `--objstore.config[-file]` failed.
    #[error("object storage configuration")]
    Bucket(#[source] aeon_objstore::Error),
    /// Config layering / flags / admin HTTP.
    #[error(transparent)]
    Common(#[from] aeon_common::Error),
    /// The gRPC server.
    #[error(transparent)]
    Store(#[from] aeon_storeapi::Error),
    /// A flag value that makes no sense.
    #[error("invalid flag {flag}: {reason}")]
    InvalidFlag { flag: &'static str, reason: String },
}

/// `Result` with the sidecar's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The Store API error this failure becomes when it happens while
    /// answering a gRPC call.
    pub fn into_store(self) -> aeon_storeapi::Error {
        match self {
            Error::PrometheusRequest { ref url, .. } => aeon_storeapi::Error::Unavailable {
                endpoint: url.clone(),
                source: Box::new(self),
            },
            Error::PrometheusStatus { status, .. } if status == 400 || status == 422 => {
                aeon_storeapi::Error::invalid(chain(&self))
            }
            Error::PrometheusStatus { ref url, .. } => aeon_storeapi::Error::Unavailable {
                endpoint: url.clone(),
                source: Box::new(self),
            },
            Error::Store(e) => e,
            other => aeon_storeapi::Error::storage("querying prometheus", other),
        }
    }
}

/// The message with its chain of sources, `: `-separated (Aeon's one chain
/// printer, [`aeon_common::error::chain`]).
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    aeon_common::error::chain(err)
}
