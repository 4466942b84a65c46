//! Thanos's objstore YAML (`--objstore.config-file` / `--objstore.config`), parsed strictly.
//!
//! ```yaml
//! type: FILESYSTEM        # or S3 (case-insensitive, as in Thanos)
//! config:
//!   directory: "/data"
//! prefix: ""              # optional key prefix applied to every backend
//! ```
//!
//! Unknown fields and wrong types are errors naming the origin, the field and the line/column.
//! Only the first YAML document is used, like Thanos.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};

/// Parsed and validated objstore configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketConfig {
    /// Backend and its settings.
    pub backend: BackendConfig,
    /// Key prefix inside the bucket (`""` = none).
    pub prefix: String,
}

/// The configured backend.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendConfig {
    /// `type: FILESYSTEM`.
    Filesystem(FilesystemConfig),
    /// `type: S3`.
    S3(Box<S3Config>),
}

/// `type: FILESYSTEM` settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesystemConfig {
    /// Root directory of the bucket (required).
    pub directory: String,
}

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
    /// Accepted for compatibility; the SDK never uses dual-stack endpoints unless asked.
    pub disable_dualstack: bool,
    /// Use the AWS default credential chain (also used whenever no keys are given).
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
    /// HTTP client settings.
    pub http_config: HttpConfig,
    /// Accepted for compatibility (request tracing goes through `tracing` at debug level).
    pub trace: TraceConfig,
    /// `""`/`v2` = ListObjectsV2, `v1` = ListObjects (old Ceph).
    pub list_objects_version: String,
    /// Addressing style.
    pub bucket_lookup_type: BucketLookupType,
    /// Accepted for compatibility; checksums are only sent where S3 requires them.
    pub send_content_md5: bool,
    /// Never use multipart uploads.
    pub disable_multipart: bool,
    /// Multipart part size in bytes (`0` = 128 MiB); at least 5 MiB.
    pub part_size: u64,
    /// Server-side encryption.
    pub sse_config: SseConfig,
    /// Accepted for compatibility; the default chain picks its STS endpoint itself.
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
pub const ZERO_PART_SIZE_DEFAULT: u64 = 128 * 1024 * 1024;
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

/// `http_config` (only the timeouts are applied; pool sizes are accepted and left to the SDK).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)]
pub struct HttpConfig {
    pub idle_conn_timeout: GoDuration,
    pub response_header_timeout: GoDuration,
    pub insecure_skip_verify: bool,
    pub tls_handshake_timeout: GoDuration,
    pub expect_continue_timeout: GoDuration,
    pub max_idle_conns: u32,
    pub max_idle_conns_per_host: u32,
    pub max_conns_per_host: u32,
    pub tls_config: TlsConfig,
    pub disable_compression: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            idle_conn_timeout: GoDuration(Duration::from_secs(90)),
            response_header_timeout: GoDuration(Duration::from_secs(120)),
            insecure_skip_verify: false,
            tls_handshake_timeout: GoDuration(Duration::from_secs(10)),
            expect_continue_timeout: GoDuration(Duration::from_secs(1)),
            max_idle_conns: 100,
            max_idle_conns_per_host: 100,
            max_conns_per_host: 0,
            tls_config: TlsConfig::default(),
            disable_compression: false,
        }
    }
}

/// `http_config.tls_config` (custom CAs and client certificates are not supported yet).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)]
pub struct TlsConfig {
    pub ca_file: String,
    pub cert_file: String,
    pub key_file: String,
    pub server_name: String,
    pub insecure_skip_verify: bool,
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

/// A duration in Prometheus/Go notation (`1m30s`, `2m`, `500ms`, `1d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    /// Parses `1h30m`, `10s`, `250ms`, `0`, … (units y, w, d, h, m, s, ms, us/µs, ns).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s == "0" {
            return Some(Self(Duration::ZERO));
        }
        let mut total = Duration::ZERO;
        let mut rest = s;
        if rest.is_empty() {
            return None;
        }
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return None;
            }
            let n: u64 = rest[..digits].parse().ok()?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = match &rest[..unit_len] {
                "y" => Duration::from_secs(365 * 86_400),
                "w" => Duration::from_secs(7 * 86_400),
                "d" => Duration::from_secs(86_400),
                "h" => Duration::from_secs(3_600),
                "m" => Duration::from_secs(60),
                "s" => Duration::from_secs(1),
                "ms" => Duration::from_millis(1),
                "us" | "µs" => Duration::from_micros(1),
                "ns" => Duration::from_nanos(1),
                _ => return None,
            };
            rest = &rest[unit_len..];
            total = total.checked_add(unit.checked_mul(u32::try_from(n).ok()?)?)?;
        }
        Some(Self(total))
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        GoDuration::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid duration {s:?}, expected e.g. \"1m30s\", \"10s\" or \"500ms\""
            ))
        })
    }
}

/// First pass: only the type, to pick the typed second pass.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Second pass: the whole document with the backend's typed config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Typed<C> {
    #[serde(rename = "type")]
    _kind: String,
    config: Option<C>,
    #[serde(default)]
    prefix: Option<String>,
}

const SUPPORTED: &str = "FILESYSTEM, S3";
const THANOS_ONLY: [&str; 8] = [
    "GCS",
    "AZURE",
    "SWIFT",
    "COS",
    "ALIYUNOSS",
    "BOS",
    "OCI",
    "OBS",
];

fn first_document<T: serde::de::DeserializeOwned>(
    text: &str,
) -> std::result::Result<T, serde_yaml_ng::Error> {
    match serde_yaml_ng::Deserializer::from_str(text).next() {
        Some(doc) => T::deserialize(doc),
        None => serde_yaml_ng::from_str(""),
    }
}

impl BucketConfig {
    /// Parses and validates objstore YAML; `origin` names the file or flag in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        if text.trim().is_empty() {
            return Err(Error::config(
                origin,
                "the objstore config is empty; expected `type:` and `config:`",
            ));
        }
        let head: Head = first_document(text).map_err(|e| Error::config(origin, e))?;
        let Some(kind) = head.kind else {
            return Err(Error::config(
                origin,
                format!("missing field `type` (one of {SUPPORTED})"),
            ));
        };
        let upper = kind.to_ascii_uppercase();
        let (backend, prefix) = match upper.as_str() {
            "FILESYSTEM" => {
                let t: Typed<FilesystemConfig> =
                    first_document(text).map_err(|e| Error::config(origin, e))?;
                let cfg = t.config.unwrap_or_default();
                if cfg.directory.is_empty() {
                    return Err(Error::config(
                        origin,
                        "config.directory: missing or empty, the FILESYSTEM root directory is required",
                    ));
                }
                (BackendConfig::Filesystem(cfg), t.prefix)
            }
            "S3" => {
                let t: Typed<S3Config> =
                    first_document(text).map_err(|e| Error::config(origin, e))?;
                let cfg = t.config.unwrap_or_default();
                validate_s3(&cfg, origin)?;
                (BackendConfig::S3(Box::new(cfg)), t.prefix)
            }
            other if THANOS_ONLY.contains(&other) => {
                return Err(Error::config(
                    origin,
                    format!(
                        "type: {kind} is a Thanos bucket type aeon does not support (supported: {SUPPORTED})"
                    ),
                ));
            }
            _ => {
                return Err(Error::config(
                    origin,
                    format!("type: unknown bucket type {kind:?} (supported: {SUPPORTED})"),
                ));
            }
        };
        let prefix = prefix.unwrap_or_default().trim_matches('/').to_owned();
        if !prefix.is_empty()
            && let Err(e) = crate::bucket::validate_key(&prefix)
        {
            return Err(Error::config(origin, format!("prefix: {e}")));
        }
        Ok(Self { backend, prefix })
    }

    /// Reads and parses `--objstore.config-file`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(&origin, format!("reading the file: {e}")))?;
        Self::parse(&text, &origin)
    }
}

fn validate_s3(cfg: &S3Config, origin: &str) -> Result<()> {
    let err = |m: &str| Err(Error::config(origin, m));
    if cfg.bucket.is_empty() {
        return err("config.bucket: missing or empty, the S3 bucket name is required");
    }
    if cfg.endpoint.contains("://") || cfg.endpoint.contains('/') {
        return err(
            "config.endpoint: must be host[:port] without scheme or path (set `insecure: true` for plain HTTP)",
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
    if cfg.http_config.insecure_skip_verify || cfg.http_config.tls_config.insecure_skip_verify {
        return err(
            "config.http_config.insecure_skip_verify: skipping TLS verification is not supported",
        );
    }
    let tls = &cfg.http_config.tls_config;
    if !tls.ca_file.is_empty() || !tls.cert_file.is_empty() || !tls.key_file.is_empty() {
        return err(
            "config.http_config.tls_config: custom CA and client certificates are not supported yet",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        BucketConfig::parse(text, "bucket.yml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn seed_filesystem_config_works_unchanged() {
        let cfg = BucketConfig::parse(
            "type: FILESYSTEM\nconfig:\n  directory: \"/data\"\n",
            "bucket.yml",
        )
        .unwrap();
        assert_eq!(
            cfg.backend,
            BackendConfig::Filesystem(FilesystemConfig {
                directory: "/data".into()
            })
        );
        assert_eq!(cfg.prefix, "");
        let cfg = BucketConfig::parse(
            "type: filesystem\nconfig: {directory: /d}\nprefix: /tenant-a/\n",
            "x",
        )
        .unwrap();
        assert_eq!(cfg.prefix, "tenant-a");
    }

    #[test]
    fn full_thanos_s3_example_parses() {
        let text = r#"
type: S3
config:
  bucket: "thanos"
  endpoint: "minio:9000"
  region: ""
  disable_dualstack: false
  aws_sdk_auth: false
  access_key: "a"
  insecure: true
  signature_version2: false
  secret_key: "s"
  session_token: ""
  put_user_metadata: {X-Amz-Storage-Class: STANDARD_IA}
  http_config:
    idle_conn_timeout: 1m30s
    response_header_timeout: 2m
    insecure_skip_verify: false
    tls_handshake_timeout: 10s
    expect_continue_timeout: 1s
    max_idle_conns: 100
    max_idle_conns_per_host: 100
    max_conns_per_host: 0
    tls_config:
      ca_file: ""
      cert_file: ""
      key_file: ""
      server_name: ""
      insecure_skip_verify: false
    disable_compression: false
  trace:
    enable: false
  list_objects_version: ""
  bucket_lookup_type: path
  send_content_md5: true
  disable_multipart: false
  part_size: 67108864
  sse_config:
    type: "SSE-KMS"
    kms_key_id: "k"
    kms_encryption_context: {a: b}
    encryption_key: ""
  sts_endpoint: ""
  max_retries: 3
prefix: "p"
"#;
        let cfg = BucketConfig::parse(text, "x").unwrap();
        let BackendConfig::S3(s3) = cfg.backend else {
            panic!("not s3")
        };
        assert_eq!(s3.bucket, "thanos");
        assert_eq!(s3.bucket_lookup_type, BucketLookupType::Path);
        assert_eq!(s3.http_config.idle_conn_timeout.0, Duration::from_secs(90));
        assert_eq!(
            s3.http_config.response_header_timeout.0,
            Duration::from_secs(120)
        );
        assert_eq!(s3.max_retries, 3);
        assert_eq!(s3.put_user_metadata["X-Amz-Storage-Class"], "STANDARD_IA");
        assert_eq!(cfg.prefix, "p");
    }

    #[test]
    fn errors_name_origin_field_and_position() {
        let e = err("type: FILESYSTEM\nconfig:\n  directory: /d\n  dir: /e\n");
        assert!(
            e.contains("bucket.yml") && e.contains("unknown field `dir`") && e.contains("line 4"),
            "{e}"
        );
        let e = err("type: S3\nconfig:\n  endpoint: x:1\n");
        assert!(e.contains("config.bucket") && e.contains("required"), "{e}");
        let e = err("type: S3\nconfig:\n  bucket: b\n  part_size: lots\n");
        assert!(e.contains("part_size") && e.contains("line 4"), "{e}");
        let e =
            err("type: S3\nconfig:\n  bucket: b\n  http_config: {idle_conn_timeout: forever}\n");
        assert!(e.contains("invalid duration"), "{e}");
        let e = err("type: FILESYSTEM\nconfig:\n  directory: /d\nprefixx: a\n");
        assert!(e.contains("prefixx"), "{e}");
        assert!(err("type: GCS\nconfig: {bucket: b}\n").contains("does not support"));
        assert!(err("type: NOPE\n").contains("unknown bucket type"));
        let e = err("type: FILESYSTEM\nconfig: {directory: /d}\nprefix: a/../b\n");
        assert!(e.contains("prefix:") && e.contains("bucket.yml"), "{e}");
        assert!(err("config: {directory: /d}\n").contains("missing field `type`"));
        assert!(err("").contains("empty"));
        assert!(err("type: FILESYSTEM\n").contains("config.directory"));
        assert!(
            err("type: S3\nconfig: {bucket: b, access_key: a}\n").contains("set both or neither")
        );
        assert!(
            err("type: S3\nconfig: {bucket: b, endpoint: \"http://x\"}\n")
                .contains("without scheme")
        );
        assert!(err("type: S3\nconfig: {bucket: b, part_size: 1024}\n").contains("5242880"));
        assert!(
            err("type: S3\nconfig: {bucket: b, sse_config: {type: SSE-KMS}}\n")
                .contains("kms_key_id")
        );
        assert!(
            err("type: S3\nconfig: {bucket: b, sse_config: {type: SSE-C}}\n")
                .contains("encryption_key")
        );
        let e = err(
            "type: S3\nconfig: {bucket: b, insecure: true, sse_config: {type: SSE-C, encryption_key: /k}}\n",
        );
        assert!(e.contains("HTTPS"), "{e}");
        assert!(err("type: S3\nconfig: {bucket: b, sse_config: {type: AES}}\n").contains("SSE-S3"));
    }

    #[test]
    fn only_first_document_is_used() {
        let cfg = BucketConfig::parse(
            "type: FILESYSTEM\nconfig: {directory: /a}\n---\ntype: S3\n",
            "x",
        )
        .unwrap();
        assert!(matches!(cfg.backend, BackendConfig::Filesystem(_)));
    }

    #[test]
    fn go_durations() {
        assert_eq!(
            GoDuration::parse("1m30s").unwrap().0,
            Duration::from_secs(90)
        );
        assert_eq!(
            GoDuration::parse("250ms").unwrap().0,
            Duration::from_millis(250)
        );
        assert_eq!(GoDuration::parse("0").unwrap().0, Duration::ZERO);
        assert_eq!(
            GoDuration::parse("1d").unwrap().0,
            Duration::from_secs(86_400)
        );
        for bad in ["", "1", "m", "1x", "1.5s", "-1s"] {
            assert!(GoDuration::parse(bad).is_none(), "{bad}");
        }
    }
}
