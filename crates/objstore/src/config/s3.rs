//! `type: S3` with the fields, defaults and checks of Thanos's `s3.Config`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use super::http::HttpConfig;
use crate::error::{Error, Result};

/// `type: S3` settings, with the fields and defaults of Thanos's `s3.Config`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// Bucket name (required).
    pub bucket: String,
    /// `host[:port]` without scheme; empty = AWS's endpoint for the region.
    pub endpoint: String,
    /// Region; empty = taken from an AWS endpoint, then `us-east-1` for other endpoints.
    pub region: String,
    /// AWS endpoints are dual-stack (IPv4 and IPv6) unless this is set, as with minio-go.
    pub disable_dualstack: bool,
    /// Use the AWS SDK's default credential chain (environment, profile, web identity, ECS and
    /// instance metadata); excludes `access_key`. Without keys, the same chain is used anyway.
    pub aws_sdk_auth: bool,
    /// Static access key (with `secret_key`).
    pub access_key: String,
    /// Plain HTTP instead of HTTPS.
    pub insecure: bool,
    /// Signature V2 is not supported; `true` is rejected.
    pub signature_version2: bool,
    /// Static secret key (with `access_key`).
    pub secret_key: String,
    /// Optional session token for static credentials.
    pub session_token: String,
    /// Metadata on every upload; `X-Amz-Storage-Class` sets the storage class.
    pub put_user_metadata: BTreeMap<String, String>,
    /// HTTP transport: TLS (private CA, client certificate), timeouts, pool sizes.
    pub http_config: HttpConfig,
    /// Accepted for compatibility (request tracing goes through `tracing` at debug level).
    pub trace: TraceConfig,
    /// `""`/`v2` = ListObjectsV2, `v1` = ListObjects (old Ceph).
    pub list_objects_version: String,
    /// Addressing style.
    pub bucket_lookup_type: BucketLookupType,
    /// Send `Content-MD5` with every PUT and part upload (some S3-compatible stores with object
    /// lock require it); otherwise checksums are only sent where S3 requires them.
    pub send_content_md5: bool,
    /// Never use multipart uploads.
    pub disable_multipart: bool,
    /// Multipart part size in bytes (`0` = 128 MiB); at least 5 MiB.
    pub part_size: u64,
    /// Server-side encryption.
    pub sse_config: SseConfig,
    /// STS endpoint URL for the default credential chain (web identity / assume role);
    /// empty = AWS's.
    pub sts_endpoint: String,
    /// Retries of transient failures (`0` = default of the instrumentation wrapper).
    pub max_retries: u32,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            bucket: String::new(),
            endpoint: String::new(),
            region: String::new(),
            disable_dualstack: false,
            aws_sdk_auth: false,
            access_key: String::new(),
            insecure: false,
            signature_version2: false,
            secret_key: String::new(),
            session_token: String::new(),
            put_user_metadata: BTreeMap::new(),
            http_config: HttpConfig::default(),
            trace: TraceConfig::default(),
            list_objects_version: String::new(),
            bucket_lookup_type: BucketLookupType::Auto,
            send_content_md5: true,
            disable_multipart: false,
            part_size: DEFAULT_PART_SIZE,
            sse_config: SseConfig::default(),
            sts_endpoint: String::new(),
            max_retries: 0,
        }
    }
}

/// Thanos's default `part_size` (64 MiB).
pub const DEFAULT_PART_SIZE: u64 = 64 * 1024 * 1024;
/// Part size used when `part_size: 0`.
pub(crate) const ZERO_PART_SIZE_DEFAULT: u64 = 128 * 1024 * 1024;
/// S3's minimum part size (except the last part).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// `bucket_lookup_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum BucketLookupType {
    /// Virtual-hosted style for AWS endpoints, path style for any other endpoint.
    #[default]
    #[serde(rename = "auto")]
    Auto,
    /// `https://bucket.host/key`.
    #[serde(rename = "virtual-hosted")]
    VirtualHosted,
    /// `https://host/bucket/key`.
    #[serde(rename = "path")]
    Path,
}

/// `trace`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TraceConfig {
    /// Accepted, no effect.
    pub enable: bool,
}

/// `sse_config`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SseConfig {
    /// `""`, `SSE-S3`, `SSE-KMS` or `SSE-C`.
    #[serde(rename = "type")]
    pub kind: String,
    /// KMS key for `SSE-KMS` (required there).
    pub kms_key_id: String,
    /// Optional KMS encryption context.
    pub kms_encryption_context: BTreeMap<String, String>,
    /// Path to the file holding the raw 32-byte key for `SSE-C` (read at startup).
    pub encryption_key: String,
}

pub(crate) fn validate(cfg: &S3Config, origin: &str) -> Result<()> {
    let err = |m: &str| Err(Error::config(origin, m));
    if cfg.bucket.is_empty() {
        return err("config.bucket: missing or empty, the S3 bucket name is required");
    }
    if cfg.endpoint.contains("://") || cfg.endpoint.contains('/') {
        return err(
            "config.endpoint: must be host[:port] without scheme or path (set `insecure: true` for plain HTTP)",
        );
    }
    if cfg.aws_sdk_auth && !cfg.access_key.is_empty() {
        return err(
            "config.aws_sdk_auth/config.access_key: mutually exclusive, aws_sdk_auth uses the AWS SDK's credential chain",
        );
    }
    let sts = &cfg.sts_endpoint;
    if !(sts.is_empty() || sts.starts_with("https://") || sts.starts_with("http://")) {
        return err(
            "config.sts_endpoint: expected a URL such as https://sts.eu-west-1.amazonaws.com",
        );
    }
    if cfg.access_key.is_empty() != cfg.secret_key.is_empty() {
        return err(
            "config.access_key/config.secret_key: set both or neither (neither = AWS default credential chain)",
        );
    }
    if cfg.signature_version2 {
        return err("config.signature_version2: signature V2 is not supported, only SigV4");
    }
    if !matches!(cfg.list_objects_version.as_str(), "" | "v1" | "v2") {
        return err("config.list_objects_version: expected \"\", \"v1\" or \"v2\"");
    }
    if cfg.part_size != 0 && cfg.part_size < MIN_PART_SIZE {
        return err(
            "config.part_size: must be 0 (128 MiB) or at least 5242880 bytes (S3's minimum part size)",
        );
    }
    match cfg.sse_config.kind.as_str() {
        "" | "SSE-S3" => {}
        "SSE-KMS" if cfg.sse_config.kms_key_id.is_empty() => {
            return err("config.sse_config.kms_key_id: required for SSE-KMS");
        }
        "SSE-KMS" => {}
        "SSE-C" if cfg.sse_config.encryption_key.is_empty() => {
            return err(
                "config.sse_config.encryption_key: required for SSE-C (path to a 32-byte key file)",
            );
        }
        "SSE-C" if cfg.insecure => {
            return err("config.sse_config.type: SSE-C requires HTTPS, set `insecure: false`");
        }
        "SSE-C" => {}
        _ => {
            return err(
                "config.sse_config.type: expected \"\", \"SSE-S3\", \"SSE-KMS\" or \"SSE-C\"",
            );
        }
    }
    Ok(())
}

impl fmt::Display for BucketLookupType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BucketLookupType::Auto => "auto",
            BucketLookupType::VirtualHosted => "virtual-hosted",
            BucketLookupType::Path => "path",
        })
    }
}
