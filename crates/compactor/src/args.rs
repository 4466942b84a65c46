//! `aeon compact` flags: Thanos's `thanos compact` names and defaults.

use std::path::PathBuf;
use std::time::Duration;

use aeon_common::flags::{GoDuration, PromDuration, TimeOrDuration};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Offline deduplication algorithm (`--deduplication.func`).
pub const DEDUP_FUNC_PENALTY: &str = "penalty";

/// Flags of `aeon compact` / `aeon-compactor`.
#[derive(Debug, Clone, clap::Parser, Serialize, Deserialize)]
#[command(
    name = "aeon-compactor",
    about = "Continuously compacts blocks in an object store bucket"
)]
pub struct Args {
    /// Data directory in which to cache blocks and process compactions.
    #[arg(long = "data-dir", default_value = "./data")]
    pub data_dir: PathBuf,
    /// `--objstore.config-file`, `--objstore.config` (one is required).
    #[command(flatten)]
    #[serde(flatten)]
    pub objstore: aeon_common::args::ObjstoreArgs,
    /// `--http-address` (/metrics, /-/healthy, /-/ready), `--http-grace-period`.
    #[command(flatten)]
    #[serde(flatten)]
    pub http: aeon_common::args::HttpArgs,
    /// Do not exit after all compactions have been processed; wait for new work.
    #[arg(long = "wait", default_value_t = false)]
    pub wait: bool,
    /// Wait interval between consecutive compaction runs (only with --wait).
    #[arg(long = "wait-interval", default_value = "5m")]
    pub wait_interval: GoDuration,
    /// Minimum age of fresh (non-compacted) blocks before they are processed.
    #[arg(long = "consistency-delay", default_value = "30m")]
    pub consistency_delay: GoDuration,
    /// How long to retain raw samples in the bucket (0d = forever).
    #[arg(long = "retention.resolution-raw", default_value = "0d")]
    pub retention_raw: PromDuration,
    /// How long to retain samples of resolution 1 (5 minutes) (0d = forever).
    #[arg(long = "retention.resolution-5m", default_value = "0d")]
    pub retention_5m: PromDuration,
    /// How long to retain samples of resolution 2 (1 hour) (0d = forever).
    #[arg(long = "retention.resolution-1h", default_value = "0d")]
    pub retention_1h: PromDuration,
    /// Time before a block marked for deletion is deleted from the bucket.
    #[arg(long = "delete-delay", default_value = "48h")]
    pub delete_delay: PromDuration,
    /// Disable downsampling (not recommended for long-term querying).
    #[arg(long = "downsampling.disable", default_value_t = false)]
    pub downsampling_disable: bool,
    /// Number of groups compacted concurrently.
    #[arg(long = "compact.concurrency", default_value_t = 1)]
    pub compact_concurrency: usize,
    /// Number of blocks downloaded concurrently for one compaction.
    #[arg(long = "compact.blocks-fetch-concurrency", default_value_t = 1)]
    pub blocks_fetch_concurrency: usize,
    /// Number of blocks downsampled concurrently.
    #[arg(long = "downsample.concurrency", default_value_t = 1)]
    pub downsample_concurrency: usize,
    /// How often partial uploads and blocks past their delete delay are cleaned up.
    #[arg(long = "compact.cleanup-interval", default_value = "5m")]
    pub cleanup_interval: GoDuration,
    /// Number of block files (chunk segments) downloaded or uploaded at once
    /// per block.
    #[arg(long = "block-files-concurrency", default_value_t = 1)]
    pub block_files_concurrency: usize,
    /// `--selector.relabel-config-file`, `--selector.relabel-config`: the
    /// blocks to act on, by their external labels.
    #[command(flatten)]
    #[serde(flatten)]
    pub selector_relabel: aeon_common::args::SelectorRelabelArgs,
    /// Only blocks whose maxTime is after this time are processed (RFC3339 or relative, e.g. -2w).
    #[arg(long = "min-time", default_value = "0000-01-01T00:00:00Z")]
    pub min_time: TimeOrDuration,
    /// Only blocks whose minTime is at or before this time are processed.
    #[arg(long = "max-time", default_value = "9999-12-31T23:59:59Z")]
    pub max_time: TimeOrDuration,
    /// Label to treat as a replica indicator of blocks that can be deduplicated (repeatable);
    /// enables vertical compaction. Irreversible.
    #[arg(long = "deduplication.replica-label")]
    #[serde(default)]
    pub dedup_replica_labels: Vec<String>,
    /// Deduplication algorithm for merging overlapping blocks: "" (1:1, identical samples)
    /// or "penalty" (the querier's HA-pair algorithm).
    #[arg(long = "deduplication.func", default_value = "")]
    #[serde(default)]
    pub dedup_func: String,
    /// `--block-discovery-strategy`.
    #[command(flatten)]
    #[serde(flatten)]
    pub block_discovery: aeon_common::args::BlockDiscoveryArgs,
    /// Number of meta.json files fetched concurrently.
    #[arg(long = "block-meta-fetch-concurrency", default_value_t = 32)]
    pub block_meta_fetch_concurrency: usize,
    /// [no effect in Aeon] Aeon's compactor serves no block viewer UI (use
    /// `aeon tools bucket web`). Thanos: repeat interval for syncing the
    /// blocks between local and remote view for /global Block Viewer UI.
    #[arg(long = "block-viewer.global.sync-block-interval", default_value = "1m")]
    pub block_viewer_sync_interval: PromDuration,
    /// [no effect in Aeon] Aeon's compactor serves no block viewer UI.
    /// Thanos: maximum time for syncing the blocks between local and remote
    /// view for /global Block Viewer UI.
    #[arg(long = "block-viewer.global.sync-block-timeout", default_value = "5m")]
    pub block_viewer_sync_timeout: PromDuration,
    /// [no effect in Aeon] Aeon computes no background progress gauges.
    /// Thanos: frequency of calculating the compaction progress in the
    /// background when --wait has been enabled.
    #[arg(long = "compact.progress-interval", default_value = "5m")]
    pub compact_progress_interval: PromDuration,
    /// `--hash-func`.
    #[command(flatten)]
    #[serde(flatten)]
    pub hash_func: aeon_common::args::HashFuncArgs,
    /// [no effect in Aeon] Aeon's compactor serves no block viewer UI (use
    /// `aeon tools bucket web`). Thanos: prefix for API and UI endpoints.
    #[arg(long = "web.route-prefix", default_value = "")]
    #[serde(default)]
    pub web_route_prefix: String,
    /// `--web.*`, `--bucket-web-label`, `--disable-admin-operations`.
    #[command(flatten)]
    #[serde(flatten)]
    pub web: aeon_common::args::BlockViewerArgs,
    /// Merge overlapping blocks of the same stream instead of quarantining them.
    #[arg(long = "compact.enable-vertical-compaction", default_value_t = false)]
    pub enable_vertical_compaction: bool,
    #[command(flatten)]
    #[serde(flatten)]
    pub telemetry: aeon_common::telemetry::TelemetryArgs,
    /// YAML file with any of these flags (by long name).
    #[arg(long = "config-file")]
    pub config_file: Option<PathBuf>,
}

/// Deduplication algorithm for vertical compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DedupFunc {
    /// Samples with the same timestamp collapse into one (Prometheus's merge).
    #[default]
    OneToOne,
    /// Thanos's penalty algorithm across replicas.
    Penalty,
}

impl Args {
    /// Vertical compaction is on when asked for, or implied by replica labels (as in Thanos).
    pub fn vertical_compaction(&self) -> bool {
        self.enable_vertical_compaction || !self.dedup_replica_labels.is_empty()
    }

    /// The validated deduplication function.
    pub fn dedup_func(&self) -> Result<DedupFunc> {
        match self.dedup_func.as_str() {
            "" => Ok(DedupFunc::OneToOne),
            DEDUP_FUNC_PENALTY => Ok(DedupFunc::Penalty),
            other => Err(Error::Config(format!(
                "--deduplication.func={other:?}: expected \"\" or \"penalty\""
            ))),
        }
    }

    /// Retention per resolution (raw, 5m, 1h); zero means forever.
    pub fn retentions(&self) -> [Duration; 3] {
        [
            self.retention_raw.0,
            self.retention_5m.0,
            self.retention_1h.0,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[test]
    fn thanos_defaults() {
        let a = Args::try_parse_from(["aeon-compactor"]).unwrap();
        assert_eq!(a.data_dir, PathBuf::from("./data"));
        assert_eq!(a.http.http_address.to_string(), "0.0.0.0:10902");
        assert!(!a.wait);
        assert_eq!(a.wait_interval.0, Duration::from_secs(300));
        assert_eq!(a.consistency_delay.0, Duration::from_secs(1800));
        assert_eq!(a.retentions(), [Duration::ZERO; 3]);
        assert_eq!(a.delete_delay.0, Duration::from_secs(48 * 3600));
        assert_eq!(a.cleanup_interval.0, Duration::from_secs(300));
        assert_eq!(
            (
                a.compact_concurrency,
                a.downsample_concurrency,
                a.block_files_concurrency
            ),
            (1, 1, 1)
        );
        assert_eq!(a.min_time, TimeOrDuration::MIN);
        assert_eq!(a.max_time, TimeOrDuration::MAX);
        assert!(!a.vertical_compaction());
        assert_eq!(a.dedup_func().unwrap(), DedupFunc::OneToOne);
        assert_eq!(a.block_meta_fetch_concurrency, 32);
        Args::command().debug_assert();
    }

    #[test]
    fn transfer_concurrency_reaches_the_compactor() {
        let a = Args::try_parse_from([
            "c",
            "--block-files-concurrency=5",
            "--block-meta-fetch-concurrency=7",
        ])
        .unwrap();
        let cfg = crate::Config::from_args(&a, 0).unwrap();
        assert_eq!((cfg.files_concurrency, cfg.meta_fetch_concurrency), (5, 7));
        let a = Args::try_parse_from(["c", "--block-files-concurrency=0"]).unwrap();
        assert_eq!(
            crate::Config::from_args(&a, 0).unwrap().files_concurrency,
            1
        );
    }

    #[test]
    fn replica_labels_repeat_and_imply_vertical_compaction() {
        let a = Args::try_parse_from([
            "c",
            "--deduplication.replica-label=replica",
            "--deduplication.replica-label",
            "rule_replica",
            "--deduplication.func=penalty",
            "--retention.resolution-raw=30d",
            "--min-time=-2w",
            "--max-time=2026-01-01T00:00:00Z",
        ])
        .unwrap();
        assert_eq!(a.dedup_replica_labels, ["replica", "rule_replica"]);
        assert!(a.vertical_compaction());
        assert_eq!(a.dedup_func().unwrap(), DedupFunc::Penalty);
        assert_eq!(a.retention_raw.0, Duration::from_secs(30 * 86400));
        assert_eq!(a.min_time, TimeOrDuration::Relative(-14 * 86_400_000));
        assert_eq!(a.max_time, TimeOrDuration::Time(1_767_225_600_000));
        let mut b = a.clone();
        b.dedup_func = "chain".into();
        assert!(b.dedup_func().unwrap_err().to_string().contains("chain"));
    }

    #[test]
    fn layered_config_round_trips_through_serde() {
        let m = Args::command()
            .try_get_matches_from(["c", "--wait", "--compact.concurrency=4"])
            .unwrap();
        let a: Args = aeon_common::config::load_with_env(
            &m,
            None,
            [("AEON_DELETE_DELAY".to_string(), "0s".to_string())],
        )
        .unwrap();
        assert!(a.wait);
        assert_eq!(a.compact_concurrency, 4);
        assert_eq!(a.delete_delay.0, Duration::ZERO);
    }
}
