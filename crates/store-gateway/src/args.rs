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
