//! `type: GCS` with the fields and defaults of Thanos's `gcs.Config`.

use serde::Deserialize;

use super::http::HttpConfig;
use crate::error::{Error, Result};

/// `type: GCS` settings.
///
/// Credentials: `service_account` (the JSON key inline), else Google's application default
/// credentials (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's file, then the metadata server, which
/// covers GKE workload identity). `STORAGE_EMULATOR_HOST` (`host:port` or a URL) points the
/// client at an emulator without authentication, as with Google's client libraries.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcsConfig {
    /// Bucket name (required).
    pub bucket: String,
    /// Service account key JSON, inline.
    pub service_account: String,
    /// The gRPC API is not supported; `true` is rejected.
    pub use_grpc: bool,
    /// Only meaningful with `use_grpc`; accepted and unused.
    pub grpc_conn_pool_size: u32,
    /// HTTP transport.
    pub http_config: HttpConfig,
    /// Resumable upload chunk size (`0` = 16 MiB, Google's client default); objects up to one
    /// chunk go in a single request.
    pub chunk_size_bytes: u64,
    /// Attempts of a failing request, retries included (`0` = default, `1` = no retries), as in
    /// Thanos's GCS client.
    pub max_retries: u32,
}

/// Google's default resumable upload chunk size.
pub const DEFAULT_GCS_CHUNK_SIZE: u64 = 16 * 1024 * 1024;
/// Resumable upload chunks are multiples of this.
pub const GCS_CHUNK_GRANULARITY: u64 = 256 * 1024;

pub(crate) fn validate(cfg: &GcsConfig, origin: &str) -> Result<()> {
    let err = |m: &str| Err(Error::config(origin, m));
    if cfg.bucket.is_empty() {
        return err("config.bucket: missing or empty, the GCS bucket name is required");
    }
    if cfg.use_grpc {
        return err(
            "config.use_grpc: the gRPC API is not supported, only the JSON API (use_grpc: false)",
        );
    }
    if !cfg.service_account.is_empty()
        && serde_json::from_str::<serde_json::Value>(&cfg.service_account).is_err()
    {
        return err(
            "config.service_account: not valid JSON; expected the service account key file's content",
        );
    }
    Ok(())
}

impl GcsConfig {
    /// The chunk size actually used: a multiple of 256 KiB, at least one granule.
    pub fn effective_chunk_size(&self) -> u64 {
        let size = if self.chunk_size_bytes == 0 {
            DEFAULT_GCS_CHUNK_SIZE
        } else {
            self.chunk_size_bytes
        };
        size.div_ceil(GCS_CHUNK_GRANULARITY).max(1) * GCS_CHUNK_GRANULARITY
    }
}
