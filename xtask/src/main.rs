//! `cargo xtask <command>`: the project's automation.
//!
//! - `test`  installs the peers the tests need when missing (Prometheus 3.5 +
//!   promtool and its PromQL test scripts, an S3-compatible server, helm,
//!   Chromium; see [`peers`]) and runs the whole suite with cargo-nextest,
//!   then the demo with `--check`.
//! - `peers` shows or installs the real peers (`cargo xtask peers install alertmanager`).
//! - `lint`  rustfmt check, clippy with `-D warnings`, the layering rule and unused dependencies.
//! - `demo`  the whole stack on loopback over a filesystem bucket.
//! - `bench` dashboard query latency, Aeon (querier + store-gateway) against
//!   Prometheus 3.5 on the same blocks (builds `aeon --release`).
//! - `mixin-metrics <dir>` compares a Thanos mixin's metric selectors with
//!   our list of the metrics it needs (see [`mixin`]).
//! - `images` static binaries and a `FROM scratch` image per component (deploy/docker/).
//! - `flags` checks docs/flags.md against Thanos's `--help` texts
//!   (`--thanos-docs DIR`).

mod bench;
mod demo;
mod deps;
mod flags;
mod images;
mod layers;
mod mixin;
mod peers;
mod visibility;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use aeon_testkit::Peer;
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
    /// Install missing test peers, then run every test with cargo-nextest and the demo check.
    Test {
        /// Prove the set-up from nothing: install every peer into a new, empty peers
        /// directory (target/fresh-peers, wiped first), ignoring AEON_PEERS_DIR and the
        /// other peer overrides, then run the suite against it.
        #[arg(long)]
        fresh_check: bool,
        /// Extra arguments passed to `cargo nextest run` (e.g. a filter).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        nextest_args: Vec<String>,
    },
    /// Show the real peers the tests run against, or install them.
    #[command(subcommand)]
    Peers(PeersCmd),
    /// rustfmt check, clippy -D warnings, and the crate layering rule.
    Lint,
    /// Check only the layering rule (no L3 crate depends on another; no upward edges).
    Layers,
    /// Check only that every declared dependency is used.
    Deps,
    /// Run the whole stack locally on a filesystem bucket (README's first command).
    Demo(demo::DemoArgs),
    /// Dashboard queries on querier + store-gateway vs Prometheus 3.5 on the same blocks:
    /// latency ratio per query and overall. Builds `aeon` with --release (see --profile).
    Bench(bench::BenchArgs),
    /// Build static binaries and the container image of every component (needs docker).
    Images(images::ImagesArgs),
    /// Compare docs/flags.md with Thanos's --help texts (`--thanos-docs DIR`, Thanos's
    /// components/*.md): every Thanos flag accounted for, same defaults.
    Flags(flags::FlagsArgs),
    /// Compare the metric selectors of a Thanos mixin (its `mixin/` directory) with
    /// crates/aeon/tests/data/thanos-mixin-metrics.txt; fails on any name or label missing.
    MixinMetrics {
        /// The mixin directory (alerts.yaml, rules.yaml, dashboards/).
        dir: PathBuf,
        /// Print the mixin's selectors in the list's format instead.
        #[arg(long)]
        print: bool,
    },
}

#[derive(Debug, Subcommand)]
enum PeersCmd {
    /// Where each peer is and whether it is installed.
    Status,
    /// Install the named peers (default: those the test suite needs) when missing.
    Install {
        /// Peer names: prometheus, promql-testdata, s3s-fs, helm, chromium, alertmanager,
        /// memcached, redis; or `all`.
        names: Vec<String>,
    },
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A plain message with its causes, never a backtrace: these are user-facing
            // failures (a missing tool, a failed step), not bugs.
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root()?;
    match cli.cmd {
        Cmd::Test {
            fresh_check,
            nextest_args,
        } => test(&root, fresh_check, &nextest_args),
        Cmd::Peers(PeersCmd::Status) => {
            peers_status();
            Ok(())
        }
        Cmd::Peers(PeersCmd::Install { names }) => peers::ensure(&peer_list(&names)?),
        Cmd::Lint => lint(&root),
        Cmd::Layers => layers::check_workspace(&root),
        Cmd::Deps => deps::check_workspace(&root),
        Cmd::Demo(args) => demo::run(&root, args),
        Cmd::Bench(args) => bench::run(&root, args),
        Cmd::Images(args) => images::run(&root, args),
        Cmd::Flags(args) => flags::run(&root, &args),
        Cmd::MixinMetrics { dir, print } => mixin::run(&root, &dir, print),
    }
}

fn peer_list(names: &[String]) -> Result<Vec<Peer>> {
    if names.is_empty() {
        return Ok(peers::FOR_TESTS.to_vec());
    }
    if names.iter().any(|n| n == "all") {
        return Ok(Peer::ALL.to_vec());
    }
    names
        .iter()
        .map(|n| {
            Peer::from_name(n).with_context(|| {
                let known: Vec<&str> = Peer::ALL.iter().map(|p| p.name()).collect();
                format!("unknown peer {n:?}: the peers are {}", known.join(", "))
            })
        })
        .collect()
}

fn peers_status() {
    for p in Peer::ALL {
        let used = if peers::FOR_TESTS.contains(&p) {
            "tests"
        } else {
            "on demand"
        };
        match p.missing() {
            None => println!(
                "{:<16} installed   ({used}) {}",
                p.name(),
                p.files()[0].display()
            ),
            Some(f) => println!("{:<16} missing     ({used}) {}", p.name(), f.display()),
        }
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

/// The environment variables that point tests at peers elsewhere.
const PEER_OVERRIDES: [&str; 4] = [
    "AEON_PEERS_DIR",
    "AEON_PROMQL_TESTDATA",
    "AEON_HELM_BIN_DIR",
    "AEON_CHROMIUM",
];

fn test(root: &Path, fresh_check: bool, extra: &[String]) -> Result<()> {
    if fresh_check {
        return fresh(root, extra);
    }
    peers::ensure(&peers::FOR_TESTS)?;
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
        .env("AEON_PEERS_DIR", aeon_testkit::peers::peers_dir())
        .env(
            "AEON_PROMQL_TESTDATA",
            aeon_testkit::peers::promql_testdata_dir(),
        )
        .env("AEON_HELM_BIN_DIR", aeon_testkit::peers::helm_bin_dir())
        .env("AEON_CHROMIUM", aeon_testkit::peers::chromium_path());
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

/// `test --fresh-check`: the same run, as xtask again with a new, empty peers
/// directory and none of the peer overrides, so every peer goes through its
/// install path.
fn fresh(root: &Path, extra: &[String]) -> Result<()> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("fresh-peers");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("wiping {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    eprintln!(
        "fresh check: every peer goes into the empty {}",
        dir.display()
    );
    let exe = std::env::current_exe().context("cannot find the xtask binary")?;
    let mut cmd = Command::new(exe);
    for var in PEER_OVERRIDES {
        cmd.env_remove(var);
    }
    run(cmd
        .current_dir(root)
        .env("AEON_PEERS_DIR", &dir)
        .arg("test")
        .arg("--")
        .args(extra))
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
    layers::check_workspace(root)?;
    visibility::check_workspace(root)?;
    deps::check_workspace(root)
}
