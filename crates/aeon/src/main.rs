//! `aeon`: every Aeon component in one binary (layer L4). Subcommands carry
//! Thanos's names and flags, so a Thanos walkthrough works with `thanos`
//! replaced by `aeon`. Each component also ships its own small binary for its
//! container image; both start through `aeon_common::service`.

use std::process::ExitCode;

use aeon_common::service::{self, BoxError};
use aeon_common::telemetry::GlobalTelemetryArgs;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "aeon",
    version,
    propagate_version = true,
    about = "Long-term storage and a global, deduplicated query view for Prometheus",
    long_about = "Long-term storage and a global, deduplicated query view for Prometheus.\n\
                  A drop-in peer of Thanos: same Store API, bucket layout, flags and HTTP API."
)]
struct Cli {
    /// Logging and tracing flags given before the command (`aeon
    /// --log.level=debug store …`), as Thanos's application flags.
    #[command(flatten)]
    global: GlobalTelemetryArgs,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Sidecar for Prometheus: Store API over remote read, block shipper, config reloader.
    Sidecar(Box<aeon_sidecar::Args>),
    /// Store gateway: serves every block in the bucket through the Store API.
    Store(Box<aeon_store_gateway::Args>),
    /// Querier: Prometheus HTTP API over every Store API endpoint, deduplicated.
    Query(Box<aeon_querier::Args>),
    /// Query frontend: splits, caches and retries range queries in front of queriers.
    QueryFrontend(Box<aeon_query_frontend::Args>),
    /// Compactor: compaction, downsampling, retention and safe deletion in the bucket.
    Compact(Box<aeon_compactor::Args>),
    /// Offline tools.
    #[command(subcommand)]
    Tools(Tools),
}

#[derive(Debug, Subcommand)]
enum Tools {
    /// Prometheus TSDB tools (promtool-compatible output).
    #[command(subcommand)]
    Tsdb(aeon_tsdb_block::TsdbCommand),
    /// Bucket tools: ls, inspect, verify, mark, cleanup.
    Bucket(aeon_compactor::BucketArgs),
    /// Parse a Thanos time flag value (RFC3339 or relative like -2w) and print it as
    /// milliseconds since the epoch.
    ParseTime {
        /// The value, e.g. `-2w` or `2024-01-02T03:04:05Z`.
        #[arg(allow_hyphen_values = true)]
        value: aeon_common::flags::TimeOrDuration,
    },
}

fn main() -> ExitCode {
    // Kingpin's `--[no-]flag` booleans, as Thanos's command lines use them.
    let cmd = aeon_common::kingpin::command(Cli::command());
    let matches = cmd
        .clone()
        .get_matches_from(aeon_common::kingpin::args(&cmd, std::env::args_os()));
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let Some((name, sub)) = matches.subcommand() else {
        // clap requires a subcommand; nothing to run.
        return ExitCode::FAILURE;
    };
    let global = &cli.global;
    let (what, result) = match cli.cmd {
        Cmd::Sidecar(_) => (
            name,
            service::run_matches::<aeon_sidecar::Args>(sub, global),
        ),
        Cmd::Store(_) => (
            name,
            service::run_matches::<aeon_store_gateway::Args>(sub, global),
        ),
        Cmd::Query(_) => (
            name,
            service::run_matches::<aeon_querier::Args>(sub, global),
        ),
        Cmd::QueryFrontend(_) => (
            name,
            service::run_matches::<aeon_query_frontend::Args>(sub, global),
        ),
        Cmd::Compact(_) => (
            name,
            service::run_matches::<aeon_compactor::Args>(sub, global),
        ),
        Cmd::Tools(tool) => ("tools", run_tool(tool, global)),
    };
    service::report("aeon", what, result)
}

/// The offline tools: logging only when asked for with a flag before the
/// command (their output is on stdout).
fn run_tool(tool: Tools, global: &GlobalTelemetryArgs) -> Result<(), BoxError> {
    match tool {
        Tools::Bucket(cmd) => {
            let telemetry = global.any().then(|| global.to_args());
            service::block_on("tools", telemetry.as_ref(), |_shutdown| async move {
                let mut out = std::io::stdout();
                cmd.run(&mut out).await?;
                Ok(())
            })
        }
        Tools::Tsdb(cmd) => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            cmd.run(&mut out)?;
            std::io::Write::flush(&mut out)?;
            Ok(())
        }
        Tools::ParseTime { value } => {
            println!("{}", value.resolve_now());
            Ok(())
        }
    }
}
