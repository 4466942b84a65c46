//! `cargo xtask flags --thanos-docs DIR`: compares the flag table in
//! `docs/flags.md` with Thanos's own `--help` texts (the `components/*.md`
//! pages of the Thanos docs in DIR). Every Thanos flag of each command must
//! have a row, every row but Aeon's own must be a Thanos flag, and the
//! defaults must agree (booleans and flags Thanos shows without a default
//! are not compared).

use std::path::{Path, PathBuf};

use aeon_testkit::flags_table::{parse_kingpin_help, parse_table};
use anyhow::{Context, Result, bail};

/// The commands of the table and the Thanos docs page of each.
const PAGES: &[(&str, &str)] = &[
    ("sidecar", "sidecar.md"),
    ("store", "store.md"),
    ("query", "query.md"),
    ("compact", "compact.md"),
];

#[derive(Debug, clap::Args)]
pub struct FlagsArgs {
    /// Directory holding Thanos's `components/*.md` (e.g. the Thanos
    /// repository's `docs/components`).
    #[arg(long = "thanos-docs", value_name = "DIR")]
    thanos_docs: PathBuf,
    /// The table to check (relative to the workspace root).
    #[arg(long, default_value = "docs/flags.md")]
    table: PathBuf,
}

pub fn run(root: &Path, args: &FlagsArgs) -> Result<()> {
    let table_path = root.join(&args.table);
    let md = std::fs::read_to_string(&table_path)
        .with_context(|| format!("cannot read {}", table_path.display()))?;
    let tables = parse_table(&md);
    let mut problems = Vec::new();
    for (cmd, page) in PAGES {
        let path = args.thanos_docs.join(page);
        let doc = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let thanos = parse_kingpin_help(&doc, cmd)
            .with_context(|| format!("{}: no `usage: thanos {cmd}` block", path.display()))?;
        let Some((_, rows)) = tables.iter().find(|(c, _)| c == cmd) else {
            bail!("{}: no `## {cmd}` table", table_path.display());
        };
        let mut counts: Vec<(&str, usize)> = Vec::new();
        let mut unaccounted = 0;
        for f in thanos
            .iter()
            .filter(|f| f.flag != "help" && f.flag != "version")
        {
            let Some(r) = rows.iter().find(|r| r.flag == f.flag) else {
                unaccounted += 1;
                problems.push(format!("{cmd}: --{} (Thanos) has no row", f.flag));
                continue;
            };
            match counts.iter_mut().find(|(s, _)| *s == r.status) {
                Some((_, n)) => *n += 1,
                None => counts.push((r.status.as_str(), 1)),
            }
            if r.status == "Aeon only" {
                problems.push(format!("{cmd}: --{} is Thanos's, not Aeon only", f.flag));
            }
            let compare = !f.negatable && !f.default.is_empty() && r.status != "TLS";
            // Kingpin shows only the first default of a repeated flag
            // (`--x=a... ...`).
            let first = r.default.split(' ').next().unwrap_or_default();
            if compare && f.default != r.default && f.default != first {
                problems.push(format!(
                    "{cmd}: --{}: default {:?} in Thanos, {:?} in the table",
                    f.flag, f.default, r.default
                ));
            }
        }
        for r in rows {
            let in_thanos = thanos.iter().any(|f| f.flag == r.flag);
            if !in_thanos && r.status != "Aeon only" {
                problems.push(format!(
                    "{cmd}: --{} ({}) is not a flag of thanos {cmd}",
                    r.flag, r.status
                ));
            }
        }
        let total = thanos
            .iter()
            .filter(|f| f.flag != "help" && f.flag != "version")
            .count();
        let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
        println!(
            "{cmd}: {total} Thanos flags: {}; {unaccounted} unaccounted for",
            summary.join(", ")
        );
    }
    if !problems.is_empty() {
        bail!(
            "{} does not match Thanos's help:\n{}",
            table_path.display(),
            problems.join("\n")
        );
    }
    Ok(())
}
