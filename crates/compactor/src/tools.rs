//! `aeon tools bucket …`: inspect and repair a bucket by hand (Thanos's
//! `thanos tools bucket ls | inspect | verify | mark | cleanup`). Mount
//! [`BucketArgs`] as a clap subcommand and call [`BucketArgs::run`].

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aeon_common::flags::{GoDuration, ListenAddr};
use aeon_objstore::Bucket;
use aeon_objstore::block::{
    self, DELETION_MARK_FILENAME, DeletionMark, MARK_VERSION_1, MarkReason,
    NO_COMPACT_MARK_FILENAME, NO_DOWNSAMPLE_MARK_FILENAME, NoCompactMark, NoDownsampleMark,
};
use aeon_tsdb_block::BlockMeta;
use aeon_tsdb_block::dump::go_duration_ms;
use prometheus_client::registry::Registry;
use ulid::Ulid;

use crate::blocks::{self, Selection};
use crate::compactor::{Compactor, Config, IterationReport};
use crate::metrics::Metrics;
use crate::planner;
use crate::progress::Progress;
use crate::{Error, Result};
use aeon_block_sync::{BucketState, ConsistencyDelay, Fetcher};

/// `aeon tools bucket`: the objstore flags plus one subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct BucketArgs {
    /// Path to YAML file that contains object store configuration.
    #[arg(long = "objstore.config-file", global = true)]
    pub objstore_config_file: Option<PathBuf>,
    /// Object store configuration YAML (alternative to --objstore.config-file).
    #[arg(long = "objstore.config", global = true)]
    pub objstore_config: Option<String>,
    #[command(subcommand)]
    pub command: BucketCommand,
}

/// Output format of `ls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LsOutput {
    #[default]
    Text,
    Wide,
    Json,
}

/// Output format of `inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum InspectOutput {
    #[default]
    Table,
    Csv,
    Tsv,
}

/// Marker files `mark` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Marker {
    #[value(name = "deletion-mark.json")]
    Deletion,
    #[value(name = "no-compact-mark.json")]
    NoCompact,
    #[value(name = "no-downsample-mark.json")]
    NoDownsample,
}

impl Marker {
    fn filename(self) -> &'static str {
        match self {
            Marker::Deletion => DELETION_MARK_FILENAME,
            Marker::NoCompact => NO_COMPACT_MARK_FILENAME,
            Marker::NoDownsample => NO_DOWNSAMPLE_MARK_FILENAME,
        }
    }
}

/// The bucket subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum BucketCommand {
    /// List all blocks in the bucket.
    Ls {
        #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
        output: LsOutput,
    },
    /// Inspect all blocks in the bucket in a table.
    Inspect {
        /// Only blocks whose external labels match, as `name=value` (repeatable).
        #[arg(short = 'l', long = "selector")]
        selector: Vec<String>,
        /// Sort by columns (repeatable): FROM, UNTIL, RANGE, ULID, #SERIES, #SAMPLES, LABELS…
        #[arg(long = "sort-by")]
        sort_by: Vec<String>,
        #[arg(long = "output", value_enum, default_value = "table")]
        output: InspectOutput,
    },
    /// Check the bucket: overlapping blocks per stream and missing block files.
    Verify,
    /// Write (or remove) a marker file for blocks.
    Mark {
        /// Block ULID (repeatable).
        #[arg(long = "id", required = true)]
        id: Vec<String>,
        #[arg(long = "marker", value_enum)]
        marker: Marker,
        /// Why the block is marked (required unless --remove).
        #[arg(long = "details", default_value = "")]
        details: String,
        /// Remove the marker instead of writing it.
        #[arg(long = "remove", default_value_t = false)]
        remove: bool,
    },
    /// Serve a block timeline page (`/`) and `/api/v1/blocks` until SIGTERM/SIGINT.
    Web {
        #[arg(long = "http-address", default_value = "0.0.0.0:10902")]
        http_address: ListenAddr,
        /// Path to the configuration file that can enable TLS or
        /// authentication for all HTTP endpoints (Prometheus's web config).
        #[arg(long = "http.config", default_value = "")]
        http_config: String,
    },
    /// Delete blocks marked for deletion past the delay and mark aborted partial uploads.
    Cleanup {
        #[arg(long = "delete-delay", default_value = "48h")]
        delete_delay: GoDuration,
        #[arg(long = "consistency-delay", default_value = "30m")]
        consistency_delay: GoDuration,
    },
}

/// One problem found by `verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// `overlapped_blocks`, `missing_files`, `corrupt_meta`.
    pub kind: &'static str,
    pub blocks: Vec<Ulid>,
    pub details: String,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl BucketArgs {
    /// Opens the configured bucket.
    pub async fn bucket(&self, registry: &mut Registry) -> Result<Arc<dyn Bucket>> {
        open_bucket(
            self.objstore_config.as_deref(),
            self.objstore_config_file.as_deref(),
            registry,
        )
        .await
    }

    /// Runs the subcommand, writing its output to `out`.
    pub async fn run(self, out: &mut (dyn Write + Send)) -> Result<()> {
        let bucket = self.bucket(&mut Registry::default()).await?;
        run_command(self.command, bucket, out).await
    }
}

/// Opens a bucket from the inline YAML or the YAML file.
pub async fn open_bucket(
    inline: Option<&str>,
    file: Option<&std::path::Path>,
    registry: &mut Registry,
) -> Result<Arc<dyn Bucket>> {
    let Some((text, origin)) = aeon_common::config::inline_or_file(
        inline,
        file,
        "objstore.config",
        "objstore.config-file",
    )?
    else {
        return Err(Error::Config(
            "one of --objstore.config or --objstore.config-file is required".into(),
        ));
    };
    aeon_objstore::from_yaml(&text, &origin, registry)
        .await
        .map_err(Error::OpenBucket)
}

fn werr(e: std::io::Error) -> Error {
    Error::io("<output>", e)
}

/// Runs a bucket subcommand against an already opened bucket.
pub async fn run_command(
    cmd: BucketCommand,
    bucket: Arc<dyn Bucket>,
    out: &mut (dyn Write + Send),
) -> Result<()> {
    match cmd {
        BucketCommand::Ls { output } => {
            let st = fetch_showing_progress(bucket.as_ref()).await?;
            write!(out, "{}", ls(&st, output)).map_err(werr)
        }
        BucketCommand::Inspect {
            selector,
            sort_by,
            output,
        } => {
            let sel = parse_selector(&selector)?;
            let st = fetch_showing_progress(bucket.as_ref()).await?;
            write!(out, "{}", inspect(&st, &sel, &sort_by, output)).map_err(werr)
        }
        BucketCommand::Verify => {
            let issues = verify_with_progress(
                bucket.as_ref(),
                &Progress::stderr("reading block metas"),
                &Progress::stderr("checking block files"),
            )
            .await?;
            for i in &issues {
                let ids: Vec<String> = i.blocks.iter().map(Ulid::to_string).collect();
                writeln!(
                    out,
                    "issue={} blocks={} details={:?}",
                    i.kind,
                    ids.join(","),
                    i.details
                )
                .map_err(werr)?;
            }
            if issues.is_empty() {
                writeln!(out, "verify: no issues found").map_err(werr)?;
                Ok(())
            } else {
                Err(Error::Task(format!(
                    "verify found {} issue(s)",
                    issues.len()
                )))
            }
        }
        BucketCommand::Mark {
            id,
            marker,
            details,
            remove,
        } => {
            let ids: Vec<Ulid> = id
                .iter()
                .map(|s| Ulid::from_string(s).map_err(|e| Error::Config(format!("--id={s}: {e}"))))
                .collect::<Result<_>>()?;
            mark(bucket.as_ref(), &ids, marker, &details, remove, now_ms()).await?;
            for i in &ids {
                let verb = if remove { "removed" } else { "wrote" };
                writeln!(out, "{verb} {} for block {i}", marker.filename()).map_err(werr)?;
            }
            Ok(())
        }
        BucketCommand::Web {
            http_address,
            http_config,
        } => {
            let web_config = if http_config.is_empty() {
                None
            } else {
                Some(aeon_common::web::WebConfig::load(std::path::Path::new(
                    &http_config,
                ))?)
            };
            let scheme = match &web_config {
                Some(w) if w.tls_enabled() => "https",
                _ => "http",
            };
            let listener = aeon_common::admin::bind(&http_address).await?;
            let addr = listener
                .local_addr()
                .map_err(|e| Error::io(http_address.to_string(), e))?;
            writeln!(out, "serving the bucket web UI on {scheme}://{addr}/").map_err(werr)?;
            let token = aeon_common::shutdown::on_signals();
            aeon_common::admin::serve_with(listener, web::router(bucket), web_config, token)
                .await?;
            Ok(())
        }
        BucketCommand::Cleanup {
            delete_delay,
            consistency_delay,
        } => {
            let rep = cleanup_with_progress(
                bucket,
                delete_delay.0,
                consistency_delay.0,
                now_ms(),
                Arc::new(Progress::stderr("deleting blocks")),
            )
            .await?;
            writeln!(
                out,
                "cleanup: deleted {} block(s), marked {} aborted partial upload(s)",
                rep.deleted.len(),
                rep.partial_marked.len()
            )
            .map_err(werr)
        }
    }
}

fn parse_selector(sel: &[String]) -> Result<BTreeMap<String, String>> {
    sel.iter()
        .map(|s| {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| Error::Config(format!("--selector {s:?}: expected name=value")))?;
            Ok((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

fn labels_of(m: &BlockMeta) -> String {
    m.thanos
        .as_ref()
        .map(|t| {
            t.labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn time_str(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// `ls` output.
pub fn ls(st: &BucketState, output: LsOutput) -> String {
    let mut s = String::new();
    for m in &st.metas {
        match output {
            LsOutput::Text => s.push_str(&format!("{}\n", m.ulid)),
            LsOutput::Wide => s.push_str(&format!(
                "{} -- {} - {} Diff: {}, Compaction: {}, Downsample: {}, Source: {}\n",
                m.ulid,
                time_str(m.min_time),
                time_str(m.max_time),
                go_duration_ms(m.max_time - m.min_time),
                m.compaction.level,
                planner::resolution(m),
                m.thanos.as_ref().map_or("", |t| t.source.as_str()),
            )),
            LsOutput::Json => {
                let v = serde_json::to_string(&**m).unwrap_or_default();
                s.push_str(&v);
                s.push('\n');
            }
        }
    }
    s
}

/// The `inspect` columns, in order.
pub const INSPECT_COLUMNS: [&str; 11] = [
    "ULID",
    "FROM",
    "UNTIL",
    "RANGE",
    "#SERIES",
    "#SAMPLES",
    "#CHUNKS",
    "COMP-LEVEL",
    "LABELS",
    "RESOLUTION",
    "SOURCE",
];

fn inspect_row(m: &BlockMeta) -> Vec<String> {
    vec![
        m.ulid.to_string(),
        time_str(m.min_time),
        time_str(m.max_time),
        go_duration_ms(m.max_time - m.min_time),
        m.stats.num_series.to_string(),
        m.stats.num_samples.to_string(),
        m.stats.num_chunks.to_string(),
        m.compaction.level.to_string(),
        labels_of(m),
        go_duration_ms(planner::resolution(m)),
        m.thanos
            .as_ref()
            .map(|t| t.source.clone())
            .unwrap_or_default(),
    ]
}

/// `inspect` output.
pub fn inspect(
    st: &BucketState,
    selector: &BTreeMap<String, String>,
    sort_by: &[String],
    output: InspectOutput,
) -> String {
    let mut metas: Vec<&BlockMeta> = st
        .metas
        .iter()
        .map(|m| &**m)
        .filter(|m| {
            let labels = m.thanos.as_ref().map(|t| &t.labels);
            selector
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        })
        .collect();
    let sort_cols: Vec<usize> = if sort_by.is_empty() {
        vec![1, 0]
    } else {
        sort_by
            .iter()
            .filter_map(|c| {
                INSPECT_COLUMNS
                    .iter()
                    .position(|x| x.eq_ignore_ascii_case(c))
            })
            .collect()
    };
    metas.sort_by(|a, b| {
        for &c in &sort_cols {
            let o = match c {
                1 => a.min_time.cmp(&b.min_time),
                2 => a.max_time.cmp(&b.max_time),
                3 => (a.max_time - a.min_time).cmp(&(b.max_time - b.min_time)),
                4 => a.stats.num_series.cmp(&b.stats.num_series),
                5 => a.stats.num_samples.cmp(&b.stats.num_samples),
                6 => a.stats.num_chunks.cmp(&b.stats.num_chunks),
                7 => a.compaction.level.cmp(&b.compaction.level),
                9 => planner::resolution(a).cmp(&planner::resolution(b)),
                c => inspect_row(a)[c].cmp(&inspect_row(b)[c]),
            };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        a.ulid.cmp(&b.ulid)
    });
    let rows: Vec<Vec<String>> = metas.iter().map(|m| inspect_row(m)).collect();
    match output {
        InspectOutput::Csv | InspectOutput::Tsv => {
            let sep = if output == InspectOutput::Csv {
                ","
            } else {
                "\t"
            };
            let quote = |s: &str| {
                if output == InspectOutput::Csv && (s.contains(',') || s.contains('"')) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.to_string()
                }
            };
            let mut s = INSPECT_COLUMNS.join(sep);
            s.push('\n');
            for r in rows {
                s.push_str(&r.iter().map(|c| quote(c)).collect::<Vec<_>>().join(sep));
                s.push('\n');
            }
            s
        }
        InspectOutput::Table => {
            let widths: Vec<usize> = (0..INSPECT_COLUMNS.len())
                .map(|c| {
                    rows.iter()
                        .map(|r| r[c].len())
                        .chain([INSPECT_COLUMNS[c].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |cells: &[String]| {
                let v: Vec<String> = cells
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!(" {c:<w$} "))
                    .collect();
                format!("|{}|\n", v.join("|"))
            };
            let header: Vec<String> = INSPECT_COLUMNS.iter().map(|s| s.to_string()).collect();
            let mut s = line(&header);
            let sep: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
            s.push_str(&format!("|{}|\n", sep.join("|")));
            for r in &rows {
                s.push_str(&line(r));
            }
            s
        }
    }
}

/// Reads every block meta, with progress on stderr.
async fn fetch_showing_progress(bucket: &dyn Bucket) -> Result<BucketState> {
    let p = Progress::stderr("reading block metas");
    blocks::fetch(&Fetcher::default(), bucket, &p).await
}

/// Finds overlapping blocks within a stream and blocks with missing files.
pub async fn verify(bucket: &dyn Bucket) -> Result<Vec<Issue>> {
    verify_with_progress(bucket, &Progress::hidden(), &Progress::hidden()).await
}

/// [`verify`], counting blocks read on `reading` and blocks checked on `checking`.
pub async fn verify_with_progress(
    bucket: &dyn Bucket,
    reading: &Progress,
    checking: &Progress,
) -> Result<Vec<Issue>> {
    let st = blocks::fetch(&Fetcher::default(), bucket, reading).await?;
    let mut issues = Vec::new();
    for (id, why) in &st.corrupt {
        issues.push(Issue {
            kind: "corrupt_meta",
            blocks: vec![*id],
            details: why.clone(),
        });
    }
    let live: Vec<&BlockMeta> = st
        .metas
        .iter()
        .filter(|m| !st.deletion_marks.contains_key(&m.ulid))
        .map(|m| &**m)
        .collect();
    for g in planner::group_blocks(&live, &[]) {
        let refs: Vec<&BlockMeta> = g.blocks.iter().collect();
        let mut rest: &[&BlockMeta] = &refs;
        while !rest.is_empty() {
            let ov = planner::select_overlapping(rest);
            if ov.is_empty() {
                break;
            }
            issues.push(Issue {
                kind: "overlapped_blocks",
                blocks: ov.iter().map(|m| m.ulid).collect(),
                details: format!(
                    "group {}: {}",
                    g.key,
                    ov.iter()
                        .map(|m| format!("{} [{}, {})", m.ulid, m.min_time, m.max_time))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
            let last = ov.last().map(|m| m.ulid);
            let pos = rest
                .iter()
                .position(|m| Some(m.ulid) == last)
                .unwrap_or(rest.len() - 1);
            rest = &rest[pos + 1..];
        }
    }
    checking.set_total(live.len() as u64);
    for m in &live {
        checking.inc();
        let id = m.ulid;
        let keys = bucket
            .list(&format!("{id}/"), aeon_objstore::ListMode::Recursive)
            .await
            .map_err(|e| Error::bucket("list", id, e))?;
        let mut missing = Vec::new();
        if !keys.iter().any(|k| k == &format!("{id}/index")) {
            missing.push("index".to_string());
        }
        if !keys.iter().any(|k| k.starts_with(&format!("{id}/chunks/"))) && m.stats.num_chunks > 0 {
            missing.push("chunks/".to_string());
        }
        for f in m
            .thanos
            .as_ref()
            .map(|t| t.files.as_slice())
            .unwrap_or_default()
        {
            if f.rel_path != block::META_FILENAME
                && !keys.iter().any(|k| k == &format!("{id}/{}", f.rel_path))
            {
                missing.push(f.rel_path.clone());
            }
        }
        missing.sort();
        missing.dedup();
        if !missing.is_empty() {
            issues.push(Issue {
                kind: "missing_files",
                blocks: vec![id],
                details: format!("block {id} misses {}", missing.join(", ")),
            });
        }
    }
    checking.finish();
    Ok(issues)
}

/// Writes or removes a marker for `ids`.
pub async fn mark(
    bucket: &dyn Bucket,
    ids: &[Ulid],
    marker: Marker,
    details: &str,
    remove: bool,
    now_ms: i64,
) -> Result<()> {
    if !remove && details.is_empty() {
        return Err(Error::Config(
            "--details is required when writing a marker".into(),
        ));
    }
    let now_s = now_ms.div_euclid(1000);
    for &id in ids {
        if remove {
            bucket
                .delete(&block::block_key(id, marker.filename()))
                .await
                .map_err(|e| Error::bucket("remove marker of", id, e))?;
            continue;
        }
        if !bucket
            .exists(&block::block_key(id, block::META_FILENAME))
            .await
            .map_err(|e| Error::bucket("check", id, e))?
        {
            return Err(Error::Config(format!(
                "block {id} does not exist (no meta.json)"
            )));
        }
        let details = Some(details.to_string());
        let r = match marker {
            Marker::Deletion => {
                block::write_mark(
                    bucket,
                    &DeletionMark {
                        id,
                        version: MARK_VERSION_1,
                        details,
                        deletion_time: now_s,
                    },
                )
                .await
            }
            Marker::NoCompact => {
                block::write_mark(
                    bucket,
                    &NoCompactMark {
                        id,
                        version: MARK_VERSION_1,
                        details,
                        no_compact_time: now_s,
                        reason: MarkReason::Manual,
                    },
                )
                .await
            }
            Marker::NoDownsample => {
                block::write_mark(
                    bucket,
                    &NoDownsampleMark {
                        id,
                        version: MARK_VERSION_1,
                        details,
                        no_downsample_time: now_s,
                        reason: MarkReason::Manual,
                    },
                )
                .await
            }
        };
        r.map_err(|e| Error::bucket("write marker for", id, e))?;
    }
    Ok(())
}

/// Deletes blocks past the delete delay and marks aborted partial uploads.
pub async fn cleanup(
    bucket: Arc<dyn Bucket>,
    delete_delay: Duration,
    consistency_delay: Duration,
    now_ms: i64,
) -> Result<IterationReport> {
    let p = Arc::new(Progress::hidden());
    cleanup_with_progress(bucket, delete_delay, consistency_delay, now_ms, p).await
}

/// [`cleanup`], counting deleted blocks on `progress`.
pub async fn cleanup_with_progress(
    bucket: Arc<dyn Bucket>,
    delete_delay: Duration,
    consistency_delay: Duration,
    now_ms: i64,
    progress: Arc<Progress>,
) -> Result<IterationReport> {
    let cfg = Config {
        data_dir: std::env::temp_dir(),
        selection: Selection {
            consistency: ConsistencyDelay::new(consistency_delay),
            ..Default::default()
        },
        vertical: false,
        dedup: crate::DedupFunc::OneToOne,
        replica_labels: vec![],
        retentions: [Duration::ZERO; 3],
        delete_delay,
        downsampling: false,
        compact_concurrency: 1,
        downsample_concurrency: 1,
        fetch_concurrency: 1,
        files_concurrency: 1,
        meta_fetch_concurrency: 1,
        ranges: planner::DEFAULT_RANGES.to_vec(),
    };
    let c = Compactor::new(bucket, cfg, Metrics::default()).with_delete_progress(progress);
    let mut rep = IterationReport::default();
    c.cleanup(now_ms, &mut rep).await?;
    Ok(rep)
}

pub mod web;

#[cfg(test)]
mod tests;
