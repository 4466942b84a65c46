//! `aeon`: every Aeon component in one binary (layer L4). Subcommands carry
//! Thanos's names and flags, so a Thanos walkthrough works with `thanos`
//! replaced by `aeon`. Each component also ships its own small binary for its
//! container image.

use clap::{Parser, Subcommand};

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
    /// Offline tools.
    #[command(subcommand)]
    Tools(Tools),
}

#[derive(Debug, Subcommand)]
enum Tools {
    /// Parse a Thanos time flag value (RFC3339 or relative like -2w) and print it as
    /// milliseconds since the epoch.
    ParseTime {
        /// The value, e.g. `-2w` or `2024-01-02T03:04:05Z`.
        #[arg(allow_hyphen_values = true)]
        value: aeon_common::flags::TimeOrDuration,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Tools(Tools::ParseTime { value }) => {
            println!("{}", value.resolve_now());
            Ok(())
        }
    }
}
