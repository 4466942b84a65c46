//! `cargo xtask <command>`: the project's automation.
//!
//! - `test`  installs the peers the tests need when missing (Prometheus 3.5 +
//!   promtool, an S3-compatible server, helm, Chromium) and runs the whole suite with
//!   cargo-nextest.
//! - `lint`  rustfmt check, clippy with `-D warnings`, and the layering rule.
//! - `demo`  the whole stack on loopback over a filesystem bucket.
//! - `bench` dashboard query latency, Aeon (querier + store-gateway) against
//!   Prometheus 3.5 on the same blocks (builds `aeon --release`).
//! - `images` static binaries and a `FROM scratch` image per component (deploy/docker/).

mod bench;
mod demo;
mod images;
mod layers;
mod peers;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "xtask", about = "Aeon project automation")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Install missing test peers, then run every test with cargo-nextest.
    Test {
        /// Extra arguments passed to `cargo nextest run` (e.g. a filter).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        nextest_args: Vec<String>,
    },
    /// rustfmt check, clippy -D warnings, and the crate layering rule.
    Lint,
    /// Check only the layering rule (no L3 crate depends on another; no upward edges).
    Layers,
    /// Run the whole stack locally on a filesystem bucket (README's first command).
    Demo(demo::DemoArgs),
    /// Dashboard queries on querier + store-gateway vs Prometheus 3.5 on the same blocks:
    /// latency ratio per query and overall. Builds `aeon` with --release (see --profile).
    Bench(bench::BenchArgs),
    /// Build static binaries and the container image of every component (needs docker).
    Images(images::ImagesArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root()?;
    match cli.cmd {
        Cmd::Test { nextest_args } => test(&root, &nextest_args),
        Cmd::Lint => lint(&root),
        Cmd::Layers => layers::check_workspace(&root),
        Cmd::Demo(args) => demo::run(&root, args),
        Cmd::Bench(args) => bench::run(&root, args),
        Cmd::Images(args) => images::run(&root, args),
    }
}

fn workspace_root() -> Result<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.parent()
        .map(Path::to_path_buf)
        .context("xtask has no parent directory")
}

/// Runs `cmd`, failing with its command line when it does not succeed.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {}", show(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {}", show(cmd)))?;
    if !status.success() {
        bail!("{} failed with {status}", show(cmd));
    }
    Ok(())
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

pub(crate) fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn test(root: &Path, extra: &[String]) -> Result<()> {
    let peers = peers::ensure(root)?;
    let mut cmd = cargo();
    cmd.current_dir(root)
        .args([
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "--no-fail-fast",
        ])
        .args(extra)
        .env("AEON_PEERS_DIR", &peers.peers_dir)
        .env("AEON_HELM_BIN_DIR", &peers.helm_dir)
        .env("AEON_CHROMIUM", &peers.chromium);
    if let Some(dir) = peers::promql_testdata(root) {
        cmd.env("AEON_PROMQL_TESTDATA", dir);
    }
    let tests = run(&mut cmd);
    // The README's demo, end to end: the real binaries on loopback, checked by queries.
    let demo = if extra.is_empty() {
        demo::run(
            root,
            demo::DemoArgs::for_check(std::env::temp_dir().join("aeon-demo-check")),
        )
    } else {
        Ok(())
    };
    tests.and(demo)
}

fn lint(root: &Path) -> Result<()> {
    run(cargo().current_dir(root).args(["fmt", "--all", "--check"]))?;
    run(cargo().current_dir(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))?;
    layers::check_workspace(root)
}
