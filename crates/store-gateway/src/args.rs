//! Command-line flags of `aeon store`, named and defaulted as Thanos's
//! `thanos store`.

use std::path::PathBuf;
use std::time::Duration;

use aeon_common::flags::{ByteSize, GoDuration, PromDuration, TimeOrDuration};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Flags of the store gateway.
#[derive(Debug, Clone, clap::Parser, Serialize, Deserialize)]
#[command(
    name = "store",
    about = "Store node giving access to blocks in a bucket provider (Thanos Store API)"
)]
pub struct Args {
    /// Local data directory used for caching purposes (index-headers, meta.jsons).
    #[arg(long = "data-dir", default_value = "./data")]
    pub data_dir: PathBuf,
    /// `--objstore.config-file`, `--objstore.config` (one is required).
    #[command(flatten)]
    #[serde(flatten)]
    pub objstore: aeon_common::args::ObjstoreArgs,
    /// `--http-address`, `--http-grace-period`.
    #[command(flatten)]
    #[serde(flatten)]
    pub http: aeon_common::args::HttpArgs,
    /// `--grpc-address` (Store API), `--grpc-grace-period`,
    /// `--grpc-server-max-connection-age`.
    #[command(flatten)]
    #[serde(flatten)]
    pub grpc: aeon_common::args::GrpcArgs,
    /// Maximum size of items held in the in-memory index cache.
    #[arg(long = "index-cache-size", default_value = "250MB")]
    pub index_cache_size: ByteSize,
    /// Maximum size of concurrently allocatable bytes reserved for chunks.
    #[arg(long = "chunk-pool-size", default_value = "2GB")]
    pub chunk_pool_size: ByteSize,
    /// Repeat interval for syncing the blocks between local and remote view.
    #[arg(long = "sync-block-duration", default_value = "15m")]
    pub sync_block_duration: GoDuration,
    /// Number of blocks loaded (index-headers built) concurrently.
    #[arg(long = "block-sync-concurrency", default_value_t = 20)]
    pub block_sync_concurrency: usize,
    /// Number of meta.json files fetched concurrently.
    #[arg(long = "block-meta-fetch-concurrency", default_value_t = 32)]
    pub block_meta_fetch_concurrency: usize,
    /// Start of time range limit to serve (RFC3339 or relative such as -2w).
    #[arg(
        long = "min-time",
        default_value = "0000-01-01T00:00:00Z",
        allow_hyphen_values = true
    )]
    pub min_time: TimeOrDuration,
    /// End of time range limit to serve (RFC3339 or relative such as -1h).
    #[arg(
        long = "max-time",
        default_value = "9999-12-31T23:59:59Z",
        allow_hyphen_values = true
    )]
    pub max_time: TimeOrDuration,
    /// `--selector.relabel-config-file`, `--selector.relabel-config`:
    /// relabeling selecting blocks by external labels.
    #[command(flatten)]
    #[serde(flatten)]
    pub selector_relabel: aeon_common::args::SelectorRelabelArgs,
    /// Minimum age of all blocks before they are being read.
    #[arg(long = "consistency-delay", default_value = "0s")]
    pub consistency_delay: PromDuration,
    /// Duration after which blocks marked for deletion are filtered out.
    #[arg(long = "ignore-deletion-marks-delay", default_value = "24h")]
    pub ignore_deletion_marks_delay: PromDuration,
    /// The maximum series allowed for a single Series request (0 = no limit).
    #[arg(long = "store.limits.request-series", default_value_t = 0)]
    pub request_series_limit: u64,
    /// The maximum samples allowed for a single Series request (0 = no limit),
    /// counted as chunks × 120.
    #[arg(long = "store.limits.request-samples", default_value_t = 0)]
    pub request_samples_limit: u64,
    /// Drop an index-header from memory after it was not used for this long
    /// (it is re-read from --data-dir on the next query); 0s keeps them.
    #[arg(
        long = "store.index-header-lazy-reader-idle-timeout",
        default_value = "5m"
    )]
    pub index_header_idle_timeout: GoDuration,
    /// [no effect in Aeon] Aeon always keeps index-headers in --data-dir.
    /// Thanos: cache TSDB index-headers on disk to reduce startup time.
    #[arg(long = "cache-index-header", default_value_t = true)]
    pub cache_index_header: bool,
    /// [not supported by Aeon] Only the in-memory index cache
    /// (--index-cache-size) is implemented. Thanos: path to YAML file that
    /// contains index cache configuration.
    #[arg(long = "index-cache.config-file")]
    pub index_cache_config_file: Option<PathBuf>,
    /// [not supported by Aeon] Only the in-memory index cache
    /// (--index-cache-size) is implemented. Thanos: alternative to
    /// 'index-cache.config-file' flag (mutually exclusive).
    #[arg(long = "index-cache.config")]
    pub index_cache_config: Option<String>,
    /// DEPRECATED: use store.limits.request-series (used when that one is 0).
    #[arg(long = "store.grpc.touched-series-limit", default_value_t = 0)]
    pub grpc_touched_series_limit: u64,
    /// DEPRECATED: use store.limits.request-samples (used when that one is 0).
    #[arg(long = "store.grpc.series-sample-limit", default_value_t = 0)]
    pub grpc_series_sample_limit: u64,
    /// [not supported by Aeon] Aeon does not count downloaded bytes per call.
    /// Thanos: maximum amount of downloaded (either fetched or touched)
    /// bytes in a single Series/LabelNames/LabelValues call. 0 means no
    /// limit.
    #[arg(long = "store.grpc.downloaded-bytes-limit", default_value = "0")]
    pub grpc_downloaded_bytes_limit: ByteSize,
    /// Maximum number of concurrent Series calls (more wait for a slot; 0:
    /// no bound).
    #[arg(long = "store.grpc.series-max-concurrency", default_value_t = 20)]
    pub grpc_series_max_concurrency: usize,
    /// [not supported by Aeon] Aeon reads TSDB blocks only, no Parquet.
    /// Thanos: path to YAML file that contains object store-parquet
    /// configuration.
    #[arg(long = "objstore-parquet.config-file")]
    pub objstore_parquet_config_file: Option<PathBuf>,
    /// [not supported by Aeon] Aeon reads TSDB blocks only, no Parquet.
    /// Thanos: alternative to 'objstore-parquet.config-file' flag.
    #[arg(long = "objstore-parquet.config")]
    pub objstore_parquet_config: Option<String>,
    /// `--block-discovery-strategy`.
    #[command(flatten)]
    #[serde(flatten)]
    pub block_discovery: aeon_common::args::BlockDiscoveryArgs,
    /// [no effect in Aeon] Aeon always loads index-headers lazily and drops
    /// idle ones (--store.index-header-lazy-reader-idle-timeout). Thanos:
    /// lazy memory map index-header only once the block is required by a
    /// query.
    #[arg(long = "store.enable-index-header-lazy-reader")]
    #[serde(default)]
    pub enable_index_header_lazy_reader: bool,
    /// [no effect in Aeon] A postings fetch optimisation of Thanos's bucket
    /// store; results are the same. Thanos: estimate postings size and try
    /// to lazily expand postings.
    #[arg(long = "store.enable-lazy-expanded-postings")]
    #[serde(default)]
    pub enable_lazy_expanded_postings: bool,
    /// [no effect in Aeon] Tunes Thanos's lazy postings
    /// (--store.enable-lazy-expanded-postings). Thanos: mark posting group
    /// as lazy if it fetches more keys than R * max series the query should
    /// fetch.
    #[arg(
        long = "store.posting-group-max-key-series-ratio",
        default_value_t = 100.0
    )]
    pub posting_group_max_key_series_ratio: f64,
    /// [no effect in Aeon] Aeon builds each index-header when its block is
    /// loaded. Thanos: strategy of how to download index headers lazily
    /// (eager, lazy).
    #[arg(long = "store.index-header-lazy-download-strategy", default_value = "eager",
          value_parser = ["eager", "lazy"])]
    pub index_header_lazy_download_strategy: String,
    /// `--web.*`, `--bucket-web-label`, `--disable-admin-operations` (no
    /// block viewer in the store).
    #[command(flatten)]
    #[serde(flatten)]
    pub web: aeon_common::args::BlockViewerArgs,
    /// [no effect in Aeon] Aeon keeps no matcher cache. Thanos: max number of
    /// cached matchers items. Using 0 disables caching.
    #[arg(long = "matcher-cache-size", default_value_t = 0)]
    pub matcher_cache_size: usize,
    /// `--request.logging-config-file`, `--request.logging-config`.
    #[command(flatten)]
    #[serde(flatten)]
    pub request_logging: aeon_common::args::RequestLoggingArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub telemetry: aeon_common::telemetry::TelemetryArgs,
    /// YAML file setting any of these flags (by long name).
    #[arg(long = "config-file")]
    pub config_file: Option<PathBuf>,
}

impl Args {
    /// The objstore YAML text and where it came from; a clear error when
    /// neither flag is given.
    pub fn objstore_yaml(&self) -> Result<(String, String)> {
        self.objstore.yaml()?.ok_or(Error::MissingObjstoreConfig)
    }

    /// The relabel config text and origin, if any.
    pub fn relabel_yaml(&self) -> Result<Option<(String, String)>> {
        Ok(self.selector_relabel.yaml()?)
    }

    /// `--store.limits.request-series`, else the deprecated
    /// `--store.grpc.touched-series-limit` (Thanos's precedence).
    pub(crate) fn series_limit(&self) -> u64 {
        if self.request_series_limit != 0 {
            self.request_series_limit
        } else {
            self.grpc_touched_series_limit
        }
    }

    /// `--store.limits.request-samples`, else the deprecated
    /// `--store.grpc.series-sample-limit`.
    pub(crate) fn samples_limit(&self) -> u64 {
        if self.request_samples_limit != 0 {
            self.request_samples_limit
        } else {
            self.grpc_series_sample_limit
        }
    }

    pub(crate) fn sync_interval(&self) -> Duration {
        let d = self.sync_block_duration.0;
        if d.is_zero() {
            Duration::from_secs(1)
        } else {
            d
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[test]
    fn defaults_match_thanos() {
        let a = Args::try_parse_from(["store"]).unwrap();
        assert_eq!(a.data_dir, PathBuf::from("./data"));
        assert_eq!(a.http.http_address.to_string(), "0.0.0.0:10902");
        assert_eq!(a.grpc.grpc_address.to_string(), "0.0.0.0:10901");
        assert_eq!(a.index_cache_size, ByteSize(250 << 20));
        assert_eq!(a.chunk_pool_size, ByteSize(2 << 30));
        assert_eq!(a.sync_block_duration.0, Duration::from_secs(900));
        assert_eq!(a.block_sync_concurrency, 20);
        assert_eq!(a.block_meta_fetch_concurrency, 32);
        assert_eq!(a.min_time, TimeOrDuration::MIN);
        assert_eq!(a.max_time, TimeOrDuration::MAX);
        assert_eq!(a.consistency_delay.0, Duration::ZERO);
        assert_eq!(a.ignore_deletion_marks_delay.0, Duration::from_secs(86400));
        assert_eq!((a.request_series_limit, a.request_samples_limit), (0, 0));
        assert_eq!(a.index_header_idle_timeout.0, Duration::from_secs(300));
        assert_eq!((a.series_limit(), a.samples_limit()), (0, 0));
        let a = Args::try_parse_from([
            "store",
            "--store.grpc.touched-series-limit=7",
            "--store.grpc.series-sample-limit=9",
        ])
        .unwrap();
        assert_eq!((a.series_limit(), a.samples_limit()), (7, 9));
        let a = Args::try_parse_from([
            "store",
            "--store.grpc.touched-series-limit=7",
            "--store.limits.request-series=3",
        ])
        .unwrap();
        assert_eq!(a.series_limit(), 3, "the new flag wins");
        assert!(a.objstore.objstore_config.is_none() && a.objstore.objstore_config_file.is_none());
        Args::command().debug_assert();
    }

    #[test]
    fn seed_command_parses() {
        let argv = "store --data-dir /var/aeon/store --objstore.config-file bucket.yml \
                    --http-address 0.0.0.0:19191 --grpc-address 0.0.0.0:19090 \
                    --index-cache-size=250MB --sync-block-duration=5m --min-time=-2w --max-time=-1h";
        let a = Args::try_parse_from(argv.split_whitespace()).unwrap();
        assert_eq!(a.data_dir, PathBuf::from("/var/aeon/store"));
        assert_eq!(
            a.objstore.objstore_config_file,
            Some(PathBuf::from("bucket.yml"))
        );
        assert_eq!(a.http.http_address.to_string(), "0.0.0.0:19191");
        assert_eq!(a.grpc.grpc_address.to_string(), "0.0.0.0:19090");
        assert_eq!(a.sync_block_duration.0, Duration::from_secs(300));
        assert_eq!(a.min_time, TimeOrDuration::Relative(-14 * 86_400_000));
        assert_eq!(a.max_time, TimeOrDuration::Relative(-3_600_000));
        // Space-separated negative durations work too.
        let a = Args::try_parse_from(["store", "--min-time", "-2w"]).unwrap();
        assert_eq!(a.min_time, TimeOrDuration::Relative(-14 * 86_400_000));
    }

    #[test]
    fn objstore_config_is_required_with_a_clear_error() {
        let a = Args::try_parse_from(["store"]).unwrap();
        let e = a.objstore_yaml().unwrap_err().to_string();
        assert!(e.contains("--objstore.config-file"), "{e}");
        let a = Args::try_parse_from(["store", "--objstore.config=type: FILESYSTEM"]).unwrap();
        assert_eq!(a.objstore_yaml().unwrap().0, "type: FILESYSTEM");
        let a = Args::try_parse_from(["store", "--objstore.config=x", "--objstore.config-file=y"])
            .unwrap();
        assert!(
            a.objstore_yaml()
                .unwrap_err()
                .to_string()
                .contains("mutually exclusive")
        );
    }

    #[test]
    fn bad_values_name_the_flag() {
        let e = Args::try_parse_from(["store", "--min-time=yesterday"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--min-time"), "{e}");
        let e = Args::try_parse_from(["store", "--index-cache-size=lots"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--index-cache-size"), "{e}");
    }
}
