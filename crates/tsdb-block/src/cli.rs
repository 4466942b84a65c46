//! `aeon tools tsdb ...`: `dump`, `list`, `analyze` and
//! `create-blocks-from openmetrics`, with promtool's output formats.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::block::BlockReader;
use crate::dump::{dump_selectors, find_blocks, go_duration_ms, list, print_blocks};
use crate::openmetrics::create_blocks_from_openmetrics;
use crate::selector::parse_selector;
use crate::{Error, Result};

/// TSDB tools, mountable as a clap subcommand.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum TsdbCommand {
    /// Dump samples of a TSDB data directory (or one block) in `promtool tsdb dump` format.
    Dump {
        /// Database path (data directory or block directory).
        #[arg(default_value = "data/")]
        db_path: PathBuf,
        /// Minimum timestamp to dump, in milliseconds since the Unix epoch.
        #[arg(long = "min-time", default_value_t = i64::MIN, allow_hyphen_values = true)]
        min_time: i64,
        /// Maximum timestamp to dump, in milliseconds since the Unix epoch.
        #[arg(long = "max-time", default_value_t = i64::MAX, allow_hyphen_values = true)]
        max_time: i64,
        /// Series selector; can be given several times (union).
        #[arg(long = "match")]
        matchers: Vec<String>,
    },
    /// List blocks of a data directory.
    List {
        #[arg(default_value = "data/")]
        db_path: PathBuf,
    },
    /// Analyze churn, label pair cardinality and compaction efficiency of a block.
    Analyze {
        #[arg(default_value = "data/")]
        db_path: PathBuf,
        /// Block to analyze (default is the last block).
        block_id: Option<String>,
        /// How many items to show in each list.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Create blocks of data for new recording rules or from an input file.
    CreateBlocksFrom {
        #[command(subcommand)]
        source: CreateBlocksSource,
    },
}

/// Input formats of `create-blocks-from`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CreateBlocksSource {
    /// Import samples from an OpenMetrics input and produce TSDB blocks.
    Openmetrics {
        /// OpenMetrics file to read samples from.
        input: PathBuf,
        /// Output directory for generated blocks.
        #[arg(default_value = "data/")]
        output_dir: PathBuf,
        /// Maximum duration of created blocks, in milliseconds (default 2h).
        #[arg(long = "max-block-duration-ms")]
        max_block_duration_ms: Option<i64>,
    },
}

fn werr(source: std::io::Error) -> Error {
    Error::Write {
        file: "<output>".into(),
        source,
    }
}

impl TsdbCommand {
    pub fn run(self, out: &mut dyn Write) -> Result<()> {
        match self {
            Self::Dump {
                db_path,
                min_time,
                max_time,
                matchers,
            } => {
                let sets = matchers
                    .iter()
                    .map(|m| parse_selector(m))
                    .collect::<Result<Vec<_>>>()?;
                dump_selectors(&db_path, &sets, min_time, max_time, out)
            }
            Self::List { db_path } => list(&db_path, out),
            Self::Analyze {
                db_path,
                block_id,
                limit,
            } => analyze(&db_path, block_id.as_deref(), limit, out),
            Self::CreateBlocksFrom {
                source:
                    CreateBlocksSource::Openmetrics {
                        input,
                        output_dir,
                        max_block_duration_ms,
                    },
            } => {
                let metas =
                    create_blocks_from_openmetrics(&input, &output_dir, max_block_duration_ms)?;
                let dirs: Vec<PathBuf> = metas
                    .iter()
                    .map(|m| output_dir.join(m.ulid.to_string()))
                    .collect();
                print_blocks(&dirs, out)
            }
        }
    }
}

/// `promtool tsdb analyze` (without `--extended`).
pub fn analyze(db: &Path, block_id: Option<&str>, limit: usize, out: &mut dyn Write) -> Result<()> {
    let mut blocks = find_blocks(db)?;
    blocks.sort();
    let dir = match block_id {
        Some(id) => blocks
            .iter()
            .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy() == id))
            .cloned()
            .ok_or_else(|| Error::Invalid(format!("block id {id} not found")))?,
        None => blocks
            .last()
            .cloned()
            .ok_or_else(|| Error::Invalid("no blocks found".into()))?,
    };
    let b = BlockReader::open(&dir)?;
    let meta = b.meta();
    let ir = b.index();
    let span = (meta.max_time.wrapping_sub(meta.min_time)) as u64;
    writeln!(out, "Block ID: {}", meta.ulid).map_err(werr)?;
    writeln!(
        out,
        "Duration: {}",
        go_duration_ms(meta.max_time.wrapping_sub(meta.min_time))
    )
    .map_err(werr)?;
    writeln!(out, "Total Series: {}", meta.stats.num_series).map_err(werr)?;
    let mut labels_uncovered: BTreeMap<String, u64> = BTreeMap::new();
    let mut pairs_uncovered: BTreeMap<String, u64> = BTreeMap::new();
    let mut pairs_count: BTreeMap<String, u64> = BTreeMap::new();
    let mut entries = 0u64;
    for id in ir.all_postings()? {
        let s = ir.series(id)?;
        let (Some(first), Some(last)) = (s.chunks.first(), s.chunks.last()) else {
            continue;
        };
        let uncovered = span.wrapping_sub(last.max_time.wrapping_sub(first.min_time) as u64);
        for l in s.labels.iter() {
            let key = format!("{}={}", l.name, l.value);
            *labels_uncovered.entry(l.name.clone()).or_default() += uncovered;
            *pairs_uncovered.entry(key.clone()).or_default() += uncovered;
            *pairs_count.entry(key).or_default() += 1;
            entries += 1;
        }
    }
    writeln!(out, "Label names: {}", labels_uncovered.len()).map_err(werr)?;
    writeln!(
        out,
        "Postings (unique label pairs): {}",
        pairs_uncovered.len()
    )
    .map_err(werr)?;
    writeln!(out, "Postings entries (total label pairs): {entries}").map_err(werr)?;
    let print = |out: &mut dyn Write, title: &str, mut v: Vec<(String, u64)>| -> Result<()> {
        writeln!(out, "\n{title}:").map_err(werr)?;
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (k, m) in v.into_iter().take(limit) {
            writeln!(out, "{m} {k}").map_err(werr)?;
        }
        Ok(())
    };
    let churn = |m: &BTreeMap<String, u64>| -> Vec<(String, u64)> {
        m.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if span == 0 {
                        0
                    } else {
                        (*v as f64 / span as f64) as u64
                    },
                )
            })
            .collect()
    };
    print(
        out,
        "Label pairs most involved in churning",
        churn(&pairs_uncovered),
    )?;
    print(
        out,
        "Label names most involved in churning",
        churn(&labels_uncovered),
    )?;
    print(
        out,
        "Most common label pairs",
        pairs_count.into_iter().collect(),
    )?;
    let names = ir.label_names();
    let mut lengths = Vec::new();
    let mut cards = Vec::new();
    for n in &names {
        let vals = ir.label_values(n);
        lengths.push((n.clone(), vals.iter().map(|v| v.len() as u64).sum()));
        cards.push((n.clone(), vals.len() as u64));
    }
    print(
        out,
        "Label names with highest cumulative label value length",
        lengths,
    )?;
    print(out, "Highest cardinality labels", cards)?;
    let mut metrics = Vec::new();
    for v in ir.label_values(aeon_model::METRIC_NAME) {
        let n = ir.postings(aeon_model::METRIC_NAME, &v)?.len() as u64;
        metrics.push((v, n));
    }
    print(out, "Highest cardinality metric names", metrics)?;
    Ok(())
}
