//! The service skeleton: how `aeon <cmd>` and every per-component binary
//! start a service, in one place.
//!
//! 1. parse the command line (clap prints usage errors and `--help` /
//!    `--version` itself) and layer it with the config file and `AEON_*`
//!    variables ([`crate::config`]), plus the telemetry flags given before
//!    the command name ([`GlobalTelemetryArgs`]);
//! 2. build the tokio runtime;
//! 3. inside it, initialise logging and OTLP tracing ([`crate::telemetry`])
//!    and SIGTERM/SIGINT shutdown ([`crate::shutdown`]);
//! 4. run the service with a [`ServiceCtx`] (shutdown token and the metrics
//!    registry it registers on);
//! 5. flush traces, and on failure print `prog: component: what: cause: …`
//!    ([`crate::error::Chain`]) and exit 1 — never a backtrace: a failed
//!    start-up is the user's to fix. Panics keep Rust's own report.

use std::future::Future;
use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory, FromArgMatches};
use prometheus_client::registry::Registry;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::kingpin::InertFlag;
use crate::telemetry::{GlobalTelemetryArgs, TelemetryArgs};

/// Aeon's version, printed by `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Any error a service or tool returns to the skeleton.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What the skeleton hands a running service.
#[derive(Debug, Default)]
pub struct ServiceCtx {
    /// Cancelled on SIGTERM/SIGINT; the service drains and returns.
    pub shutdown: CancellationToken,
    /// The registry served on `/metrics`; the service registers its metrics
    /// here.
    pub registry: Registry,
}

impl ServiceCtx {
    /// A context whose registry holds the `process_*` metrics
    /// ([`crate::metrics::process`]).
    pub fn new(shutdown: CancellationToken) -> Self {
        let mut registry = Registry::default();
        crate::metrics::process::register(&mut registry);
        Self { shutdown, registry }
    }
}

impl From<CancellationToken> for ServiceCtx {
    fn from(shutdown: CancellationToken) -> Self {
        Self::new(shutdown)
    }
}

/// A long-running component (`sidecar`, `store`, `query`, `compact`): its
/// flags are `Self`.
pub trait Service:
    CommandFactory + FromArgMatches + Serialize + DeserializeOwned + Send + 'static
{
    /// The component's name in logs, traces and error messages (`query`).
    const COMPONENT: &'static str;
    /// The component's error.
    type Error: std::error::Error + Send + Sync + 'static;
    /// The logging and tracing flags.
    fn telemetry_mut(&mut self) -> &mut TelemetryArgs;
    /// Runs until `ctx.shutdown` is cancelled (or the work is done).
    fn run(self, ctx: ServiceCtx) -> impl Future<Output = Result<(), Self::Error>>;
}

/// `main` of a per-component binary (`aeon-querier`, …).
pub fn main<S: Service>() -> ExitCode {
    let prog = std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| S::command().get_name().to_string());
    let cmd = crate::kingpin::command(
        S::command()
            .bin_name(prog.clone())
            .display_name(prog.clone())
            .version(VERSION),
    );
    let matches = cmd.clone().get_matches_from(crate::kingpin::args(
        &cmd,
        args_without_component(std::env::args_os(), S::COMPONENT),
    ));
    report(
        &prog,
        S::COMPONENT,
        run_matches::<S>(&matches, &GlobalTelemetryArgs::default()),
    )
}

/// The command line without a first argument naming the component
/// (`aeon-sidecar sidecar --flags…`): container images of Thanos run
/// `thanos <component> <flags>`, and prometheus-operator passes `sidecar`
/// as the first argument to whatever `spec.thanos.image`'s entrypoint is.
fn args_without_component(
    args: impl Iterator<Item = std::ffi::OsString>,
    component: &str,
) -> Vec<std::ffi::OsString> {
    let mut args: Vec<_> = args.collect();
    if args.get(1).is_some_and(|a| a == component) {
        args.remove(1);
    }
    args
}

/// Runs service `S` from its command's parsed `matches` (a subcommand's
/// for `aeon <cmd>`); `global` are the telemetry flags given before the
/// command name.
pub fn run_matches<S: Service>(
    matches: &ArgMatches,
    global: &GlobalTelemetryArgs,
) -> Result<(), BoxError> {
    let mut args: S = crate::config::from_matches(matches)?;
    global.apply(args.telemetry_mut(), matches);
    let inert = check_flags::<S>(&args, matches)?;
    let telemetry = args.telemetry_mut().clone();
    block_on(S::COMPONENT, Some(&telemetry), |shutdown| async move {
        log_inert(&inert);
        args.run(ServiceCtx::new(shutdown))
            .await
            .map_err(BoxError::from)
    })
}

/// Refuses a set flag Aeon does not support, and returns the set flags
/// that have no effect (to be logged once telemetry is up).
pub fn check_flags<S>(args: &S, matches: &ArgMatches) -> Result<Vec<InertFlag>, BoxError>
where
    S: CommandFactory + FromArgMatches + Serialize,
{
    let changed = crate::config::changed_from_default(args)?;
    let set = |id: &str| changed.iter().any(|c| c == id);
    let cmd = S::command();
    if let Some(f) = crate::kingpin::unsupported_flags(&cmd, set)
        .into_iter()
        .next()
    {
        return Err(crate::Error::Unsupported {
            flag: f.flag,
            why: f.why,
        }
        .into());
    }
    Ok(crate::kingpin::inert_flags(&cmd, matches, set))
}

/// One start-up line per set flag that has no effect in Aeon.
pub fn log_inert(flags: &[InertFlag]) {
    for f in flags {
        tracing::warn!(flag = %f.flag, why = %f.why, "flag accepted for Thanos compatibility has no effect in Aeon");
    }
}

/// Builds the runtime; inside it initialises telemetry (when `telemetry` is
/// given) and signal shutdown, then runs `f` with the shutdown token. Trace
/// export is flushed before the runtime stops.
pub fn block_on<F, Fut>(
    component: &str,
    telemetry: Option<&TelemetryArgs>,
    f: F,
) -> Result<(), BoxError>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(crate::Error::Runtime)?;
    rt.block_on(async move {
        let guard = match telemetry {
            Some(t) => Some(crate::telemetry::init(t, component)?),
            None => None,
        };
        let shutdown = crate::shutdown::on_signals();
        let result = f(shutdown).await;
        if let Some(g) = guard {
            // Flushing blocks until the exporter is done; keep it off the
            // runtime's workers, which the exporter needs.
            let _ = tokio::task::spawn_blocking(move || drop(g)).await;
        }
        result
    })
}

/// Prints a failure as `prog: what: cause: …` on stderr and returns the
/// exit code (1 on failure).
pub fn report(prog: &str, what: &str, result: Result<(), BoxError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let e: &(dyn std::error::Error + 'static) = e.as_ref();
            if what.is_empty() {
                eprintln!("{prog}: {}", crate::error::Chain(e));
            } else {
                eprintln!("{prog}: {what}: {}", crate::error::Chain(e));
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::args_without_component;

    #[test]
    fn a_leading_component_name_is_dropped() {
        let os = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            args_without_component(
                os(&["aeon-sidecar", "sidecar", "--x=1"]).into_iter(),
                "sidecar"
            ),
            os(&["aeon-sidecar", "--x=1"])
        );
        assert_eq!(
            args_without_component(os(&["aeon-sidecar", "--x=sidecar"]).into_iter(), "sidecar"),
            os(&["aeon-sidecar", "--x=sidecar"])
        );
        assert_eq!(
            args_without_component(os(&["aeon-querier"]).into_iter(), "query"),
            os(&["aeon-querier"])
        );
    }
}
