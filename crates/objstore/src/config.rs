//! Thanos's objstore YAML (`--objstore.config-file` / `--objstore.config`), parsed strictly.
//!
//! ```yaml
//! type: FILESYSTEM        # S3, GCS, AZURE, or COS/ALIYUNOSS/BOS/OBS (case-insensitive)
//! config:
//!   directory: "/data"
//! prefix: ""              # optional key prefix applied to every backend
//! ```
//!
//! Every field of Thanos's config for these types is accepted; unknown fields and wrong types
//! are errors naming the origin, the field and the line/column, and fields whose value aeon
//! cannot honour (`signature_version2: true`, `use_grpc: true`) are errors naming the field.
//! `SWIFT` and `OCI` are rejected by name. Only the first YAML document is used, like Thanos.

mod azure;
mod compat;
mod gcs;
mod http;
mod s3;

use std::path::Path;

use serde::Deserialize;

pub use self::azure::{
    AzureConfig, ConnectionString, DEFAULT_AZURE_ENDPOINT, PipelineConfig, ReaderConfig,
};
pub use self::compat::{BosConfig, CosConfig, ObsConfig, OssConfig};
pub use self::gcs::{DEFAULT_GCS_CHUNK_SIZE, GCS_CHUNK_GRANULARITY, GcsConfig};
pub use self::http::{GoDuration, HttpConfig, TlsConfig};
pub(crate) use self::s3::ZERO_PART_SIZE_DEFAULT;
pub use self::s3::{
    BucketLookupType, DEFAULT_PART_SIZE, MIN_PART_SIZE, S3Config, SseConfig, TraceConfig,
};
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
    /// `type: S3`, and the S3-compatible `COS`, `ALIYUNOSS`, `BOS`, `OBS` mapped onto it.
    S3(Box<S3Config>),
    /// `type: GCS`.
    Gcs(Box<GcsConfig>),
    /// `type: AZURE`.
    Azure(Box<AzureConfig>),
}

impl BackendConfig {
    /// Retries (not attempts) the backend's `max_retries` fields ask for; `0` = default.
    pub fn max_retries(&self) -> u32 {
        match self {
            BackendConfig::Filesystem(_) => 0,
            BackendConfig::S3(c) => c.max_retries,
            // GCS counts attempts: 1 = no retries.
            BackendConfig::Gcs(c) => c.max_retries.saturating_sub(1),
            BackendConfig::Azure(c) => c.request_retries().max(c.reader_config.max_retry_requests),
        }
    }
}

/// `type: FILESYSTEM` settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesystemConfig {
    /// Root directory of the bucket (required).
    pub directory: String,
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

const SUPPORTED: &str = "FILESYSTEM, S3, GCS, AZURE, COS, ALIYUNOSS, BOS, OBS";
const UNSUPPORTED: [&str; 2] = ["SWIFT", "OCI"];

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
        fn typed<C: serde::de::DeserializeOwned + Default>(
            text: &str,
            origin: &str,
        ) -> Result<(C, Option<String>)> {
            let t: Typed<C> = first_document(text).map_err(|e| Error::config(origin, e))?;
            Ok((t.config.unwrap_or_default(), t.prefix))
        }
        let (backend, prefix) = match upper.as_str() {
            "FILESYSTEM" => {
                let (cfg, prefix) = typed::<FilesystemConfig>(text, origin)?;
                if cfg.directory.is_empty() {
                    return Err(Error::config(
                        origin,
                        "config.directory: missing or empty, the FILESYSTEM root directory is required",
                    ));
                }
                (BackendConfig::Filesystem(cfg), prefix)
            }
            "S3" => {
                let (cfg, prefix) = typed::<S3Config>(text, origin)?;
                s3::validate(&cfg, origin)?;
                (BackendConfig::S3(Box::new(cfg)), prefix)
            }
            "GCS" => {
                let (cfg, prefix) = typed::<GcsConfig>(text, origin)?;
                gcs::validate(&cfg, origin)?;
                (BackendConfig::Gcs(Box::new(cfg)), prefix)
            }
            "AZURE" => {
                let (cfg, prefix) = typed::<AzureConfig>(text, origin)?;
                azure::validate(&cfg, origin)?;
                (BackendConfig::Azure(Box::new(cfg)), prefix)
            }
            "COS" | "ALIYUNOSS" | "BOS" | "OBS" => {
                let (cfg, prefix) = match upper.as_str() {
                    "COS" => {
                        let (c, p) = typed::<CosConfig>(text, origin)?;
                        (compat::cos(&c, origin)?, p)
                    }
                    "ALIYUNOSS" => {
                        let (c, p) = typed::<OssConfig>(text, origin)?;
                        (compat::oss(&c, origin)?, p)
                    }
                    "BOS" => {
                        let (c, p) = typed::<BosConfig>(text, origin)?;
                        (compat::bos(&c, origin)?, p)
                    }
                    _ => {
                        let (c, p) = typed::<ObsConfig>(text, origin)?;
                        (compat::obs(&c, origin)?, p)
                    }
                };
                s3::validate(&cfg, origin)?;
                (BackendConfig::S3(Box::new(cfg)), prefix)
            }
            other if UNSUPPORTED.contains(&other) => {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
        assert!(err("type: SWIFT\nconfig: {container_name: b}\n").contains("does not support"));
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
    fn full_thanos_gcs_example_parses() {
        let text = r#"
type: GCS
config:
  bucket: "thanos"
  service_account: |-
    {"type": "service_account", "project_id": "p"}
  use_grpc: false
  grpc_conn_pool_size: 0
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
  chunk_size_bytes: 0
  max_retries: 0
prefix: ""
"#;
        let cfg = BucketConfig::parse(text, "x").unwrap();
        let BackendConfig::Gcs(g) = cfg.backend else {
            panic!("not gcs")
        };
        assert_eq!(g.bucket, "thanos");
        assert!(g.service_account.contains("service_account"));
        assert_eq!(g.effective_chunk_size(), DEFAULT_GCS_CHUNK_SIZE);
        let e = err("type: GCS\nconfig: {bucket: b, use_grpc: true}\n");
        assert!(
            e.contains("config.use_grpc") && e.contains("not supported"),
            "{e}"
        );
        let e = err("type: GCS\nconfig: {bucket: b, endpoint: x}\n");
        assert!(e.contains("unknown field `endpoint`"), "{e}");
        assert!(err("type: GCS\nconfig: {}\n").contains("config.bucket"));
        assert!(
            err("type: GCS\nconfig: {bucket: b, service_account: \"{oops\"}\n")
                .contains("service_account")
        );
    }

    #[test]
    fn full_thanos_azure_example_parses() {
        let text = r#"
type: AZURE
config:
  az_tenant_id: ""
  client_id: ""
  client_secret: ""
  storage_account: "acct"
  storage_account_key: "a2V5"
  storage_connection_string: ""
  storage_create_container: true
  container: "metrics"
  endpoint: blob.core.windows.net
  user_assigned_id: ""
  max_retries: 2
  reader_config:
    max_retry_requests: 0
  pipeline_config:
    max_tries: 0
    try_timeout: 0s
    retry_delay: 0s
    max_retry_delay: 0s
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
  msi_resource: ""
prefix: ""
"#;
        let cfg = BucketConfig::parse(text, "x").unwrap();
        assert_eq!(cfg.backend.max_retries(), 2);
        let BackendConfig::Azure(a) = cfg.backend else {
            panic!("not azure")
        };
        assert_eq!(a.container, "metrics");
        assert!(a.storage_create_container);
        assert_eq!(a.http_config.idle_conn_timeout.0, Duration::from_secs(90));
        let e = err("type: AZURE\nconfig: {container: c}\n");
        assert!(e.contains("config.storage_account"), "{e}");
        let e = err("type: AZURE\nconfig: {storage_account: a, container: c, client_id: x}\n");
        assert!(e.contains("must be set together"), "{e}");
        let e = err(
            "type: AZURE\nconfig: {storage_account: a, container: c, user_assigned_id: u, storage_account_key: k}\n",
        );
        assert!(e.contains("user_assigned_id"), "{e}");
        let e = err(
            "type: AZURE\nconfig: {storage_account: a, container: c, pipeline_config: {tries: 1}}\n",
        );
        assert!(e.contains("unknown field `tries`"), "{e}");
        let e = err(
            "type: AZURE\nconfig: {storage_account: a, container: c, storage_connection_string: \"AccountName=a\"}\n",
        );
        assert!(e.contains("AccountKey"), "{e}");
    }

    #[test]
    fn s3_compatible_types_map_onto_s3() {
        let cfg = BucketConfig::parse(
            "type: OBS\nconfig: {bucket: b, endpoint: obs.cn-north-4.myhuaweicloud.com, access_key: k, secret_key: s}\nprefix: p\n",
            "x",
        )
        .unwrap();
        assert_eq!(cfg.prefix, "p");
        let BackendConfig::S3(s3) = cfg.backend else {
            panic!("not s3")
        };
        assert_eq!(s3.endpoint, "obs.cn-north-4.myhuaweicloud.com");
        assert_eq!(s3.bucket_lookup_type, BucketLookupType::VirtualHosted);
        let e = err("type: ALIYUNOSS\nconfig: {bucket: b, endpoint: e, access_key: k}\n");
        assert!(e.contains("unknown field `access_key`"), "{e}");
        assert!(err("type: OCI\n").contains("does not support"));
    }

    #[test]
    fn s3_transport_fields_are_checked() {
        let e = err(
            "type: S3\nconfig: {bucket: b, aws_sdk_auth: true, access_key: a, secret_key: s}\n",
        );
        assert!(e.contains("mutually exclusive"), "{e}");
        let e = err("type: S3\nconfig: {bucket: b, sts_endpoint: sts.local}\n");
        assert!(e.contains("config.sts_endpoint"), "{e}");
        let e = err("type: S3\nconfig: {bucket: b, http_config: {tls_config: {ca: x}}}\n");
        assert!(e.contains("unknown field `ca`"), "{e}");
        let cfg = BucketConfig::parse(
            "type: S3\nconfig: {bucket: b, http_config: {insecure_skip_verify: true, tls_config: {ca_file: /ca.pem, server_name: s3.local}}}\n",
            "x",
        )
        .unwrap();
        let BackendConfig::S3(s3) = cfg.backend else {
            panic!("not s3")
        };
        assert!(s3.http_config.insecure_skip_verify);
        assert_eq!(s3.http_config.tls_config.ca_file, "/ca.pem");
    }
}
