//! Flag groups that Thanos registers on several components and that Aeon
//! accepts for drop-in command lines. Each flag either works, or its help
//! starts with [`crate::kingpin::NO_EFFECT`] (accepted, logged once at
//! start-up when set) or [`crate::kingpin::UNSUPPORTED`] (start-up error
//! when set to anything but its default).

use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};

/// `--request.logging-config-file`, `--request.logging-config` (sidecar,
/// store, query).
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
pub struct RequestLoggingArgs {
    /// [not supported by Aeon] Aeon has no per-request gRPC/HTTP logging
    /// middleware; use tracing. Thanos: path to YAML file with request
    /// logging configuration.
    #[arg(long = "request.logging-config-file")]
    pub request_logging_config_file: Option<PathBuf>,
    /// [not supported by Aeon] Aeon has no per-request gRPC/HTTP logging
    /// middleware; use tracing. Thanos: alternative to
    /// 'request.logging-config-file' flag (mutually exclusive).
    #[arg(long = "request.logging-config")]
    pub request_logging_config: Option<String>,
}

/// `--hash-func` (sidecar, compact).
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
pub struct HashFuncArgs {
    /// [not supported by Aeon] Aeon writes no file hashes into meta.json.
    /// Thanos: hash function (SHA256) to calculate hashes of produced files.
    #[arg(long = "hash-func", default_value = "")]
    #[serde(default)]
    pub hash_func: String,
}

/// `--block-discovery-strategy` (store, compact).
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct BlockDiscoveryArgs {
    /// [no effect in Aeon] Aeon discovers blocks with one listing of the
    /// bucket root; both strategies find the same blocks. Thanos: one of
    /// concurrent, recursive.
    #[arg(long = "block-discovery-strategy", default_value = "concurrent",
          value_parser = ["concurrent", "recursive"])]
    pub block_discovery_strategy: String,
}

/// The block viewer UI flags of `thanos store` and `thanos compact`, for a
/// component where Aeon serves no block viewer (use `aeon tools bucket
/// web`).
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
pub struct BlockViewerArgs {
    /// [no effect in Aeon] This component serves no block viewer UI (use
    /// `aeon tools bucket web`). Thanos: disable Block Viewer UI.
    #[arg(long = "web.disable")]
    #[serde(default)]
    pub web_disable: bool,
    /// [no effect in Aeon] This component serves no block viewer UI. Thanos:
    /// static prefix for all HTML links and redirect URLs in the bucket web
    /// UI interface.
    #[arg(long = "web.external-prefix", default_value = "")]
    #[serde(default)]
    pub web_external_prefix: String,
    /// [no effect in Aeon] This component serves no block viewer UI. Thanos:
    /// name of HTTP request header used for dynamic prefixing of UI links
    /// and redirects.
    #[arg(long = "web.prefix-header", default_value = "")]
    #[serde(default)]
    pub web_prefix_header: String,
    /// [no effect in Aeon] Aeon sets no CORS headers, so there are none to
    /// disable. Thanos: whether to disable CORS headers to be set by Thanos.
    #[arg(long = "web.disable-cors")]
    #[serde(default)]
    pub web_disable_cors: bool,
    /// [no effect in Aeon] This component serves no block viewer UI. Thanos:
    /// external block label to use as group title in the bucket web UI.
    #[arg(long = "bucket-web-label")]
    pub bucket_web_label: Option<String>,
    /// [no effect in Aeon] This component serves no UI/API admin operations.
    /// Thanos: disable UI/API admin operations like marking blocks for
    /// deletion and no compaction.
    #[arg(long = "disable-admin-operations")]
    #[serde(default)]
    pub disable_admin_operations: bool,
}
