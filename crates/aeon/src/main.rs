//! `aeon`: every Aeon component in one binary (layer L4). Subcommands carry
//! Thanos's names and flags, so a Thanos walkthrough works with `thanos`
//! replaced by `aeon`. Each component also ships its own small binary for its
//! container image.

use anyhow::Context;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, Parser)]
#[command(
    name = "aeon",
    version,
    about = "Long-term storage and a global, deduplicated query view for Prometheus",
    long_about = "Long-term storage and a global, deduplicated query view for Prometheus.\n\
                  A drop-in peer of Thanos: same Store API, bucket layout, flags and HTTP API."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Sidecar for Prometheus: Store API over remote read, block shipper, config reloader.
    Sidecar(aeon_sidecar::Args),
    /// Store gateway: serves every block in the bucket through the Store API.
    Store(aeon_store_gateway::Args),
    /// Querier: Prometheus HTTP API over every Store API endpoint, deduplicated.
    Query(aeon_querier::Args),
    /// Compactor: compaction, downsampling, retention and safe deletion in the bucket.
    Compact(aeon_compactor::Args),
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

fn main() -> std::process::ExitCode {
    match real_main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Our errors carry their causes in their own message.
            eprintln!("aeon: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches)?;
    let sub = matches.subcommand().map(|(_, m)| m);
    match cli.cmd {
        Cmd::Sidecar(_) => {
            let args: aeon_sidecar::Args = layered(sub)?;
            serve("sidecar", &args.telemetry.clone(), |t| {
                aeon_sidecar::run(args, t)
            })
        }
        Cmd::Store(_) => {
            let args: aeon_store_gateway::Args = layered(sub)?;
            serve("store", &args.telemetry.clone(), |t| {
                aeon_store_gateway::run(args, t)
            })
        }
        Cmd::Query(_) => {
            let args: aeon_querier::Args = layered(sub)?;
            serve("query", &args.telemetry.clone(), |t| {
                aeon_querier::run(args, t)
            })
        }
        Cmd::Compact(_) => {
            let args: aeon_compactor::Args = layered(sub)?;
            serve("compact", &args.telemetry.clone(), |t| {
                aeon_compactor::run(args, t)
            })
        }
        Cmd::Tools(Tools::Bucket(cmd)) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let mut out = std::io::stdout();
                cmd.run(&mut out).await
            })?;
            Ok(())
        }
        Cmd::Tools(Tools::Tsdb(cmd)) => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            cmd.run(&mut out)?;
            std::io::Write::flush(&mut out)?;
            Ok(())
        }
        Cmd::Tools(Tools::ParseTime { value }) => {
            println!("{}", value.resolve_now());
            Ok(())
        }
    }
}

/// A component's settings from its subcommand's matches, layered with the
/// config file and `AEON_*` environment (see `aeon_common::config`).
fn layered<T>(sub: Option<&ArgMatches>) -> anyhow::Result<T>
where
    T: CommandFactory + FromArgMatches + Serialize + DeserializeOwned,
{
    let sub = sub.context("subcommand matches missing")?;
    Ok(aeon_common::config::from_matches(sub)?)
}

/// Runs a long-lived component until SIGTERM/SIGINT.
fn serve<F, Fut, E>(
    component: &str,
    telemetry: &aeon_common::telemetry::TelemetryArgs,
    run: F,
) -> anyhow::Result<()>
where
    F: FnOnce(aeon_common::shutdown::CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let _guard = aeon_common::telemetry::init(telemetry, component)?;
        let shutdown = aeon_common::shutdown::on_signals();
        run(shutdown).await?;
        Ok(())
    })
}
