//! Logging through `tracing` (`--log.level`, `--log.format=logfmt|json`;
//! logfmt as go-kit writes it, see [`logfmt`]) and optional OpenTelemetry
//! OTLP trace export configured with Thanos's tracing YAML
//! (`--tracing.config` / `--tracing.config-file`, with `$(VAR)` expansion).
//! [`init`] runs inside the service skeleton's runtime
//! ([`crate::service`]): the OTLP exporter needs a reactor.

mod logfmt;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, ValueEnum};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use serde::{Deserialize, Serialize};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::{Error, Result};

/// Log verbosity, as Thanos's `--log.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

/// Log line format, as Thanos's `--log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Logfmt,
    Json,
}

/// The logging and tracing flags every service has.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct TelemetryArgs {
    /// Log filtering level.
    #[arg(long = "log.level", value_enum, default_value = "info")]
    pub log_level: LogLevel,
    /// Log format to use.
    #[arg(long = "log.format", value_enum, default_value = "logfmt")]
    pub log_format: LogFormat,
    /// Tracing configuration YAML (Thanos format; type OTLP).
    #[arg(long = "tracing.config")]
    pub tracing_config: Option<String>,
    /// Path to a tracing configuration YAML file (Thanos format; type OTLP).
    #[arg(long = "tracing.config-file")]
    pub tracing_config_file: Option<std::path::PathBuf>,
    /// [no effect in Aeon] A Go runtime setting (GOMEMLIMIT); Aeon has no
    /// garbage collector to limit. Thanos: enable go runtime to
    /// automatically limit memory consumption.
    #[arg(long = "enable-auto-gomemlimit")]
    #[serde(default)]
    pub enable_auto_gomemlimit: bool,
    /// [no effect in Aeon] A Go runtime setting (GOMEMLIMIT ratio); Aeon has
    /// no garbage collector to limit.
    #[arg(long = "auto-gomemlimit.ratio", default_value_t = 0.9)]
    pub auto_gomemlimit_ratio: f64,
}

/// The same flags given before the subcommand (`aeon --log.level=debug
/// store`): Thanos declares them on the application, so they are accepted
/// on either side of the command name.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalTelemetryArgs {
    /// Log filtering level (also accepted after the command).
    #[arg(long = "log.level", value_enum)]
    pub log_level: Option<LogLevel>,
    /// Log format to use (also accepted after the command).
    #[arg(long = "log.format", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Tracing configuration YAML (also accepted after the command).
    #[arg(long = "tracing.config")]
    pub tracing_config: Option<String>,
    /// Path to a tracing configuration YAML file (also accepted after the command).
    #[arg(long = "tracing.config-file")]
    pub tracing_config_file: Option<std::path::PathBuf>,
    /// [no effect in Aeon] A Go runtime setting (also accepted after the command).
    #[arg(long = "enable-auto-gomemlimit")]
    pub enable_auto_gomemlimit: bool,
    /// [no effect in Aeon] A Go runtime setting (also accepted after the command).
    #[arg(long = "auto-gomemlimit.ratio")]
    pub auto_gomemlimit_ratio: Option<f64>,
}

impl GlobalTelemetryArgs {
    /// Whether any of the flags was given.
    pub fn any(&self) -> bool {
        self.log_level.is_some()
            || self.log_format.is_some()
            || self.tracing_config.is_some()
            || self.tracing_config_file.is_some()
            || self.enable_auto_gomemlimit
            || self.auto_gomemlimit_ratio.is_some()
    }

    /// Applies the flags given before the command to `args`, except where
    /// the command's own matches (`sub`) set the same flag: the later one on
    /// the command line wins, as in kingpin.
    pub fn apply(&self, args: &mut TelemetryArgs, sub: &ArgMatches) {
        let typed = |id: &str| matches!(sub.value_source(id), Some(ValueSource::CommandLine));
        if let Some(v) = self.log_level.filter(|_| !typed("log_level")) {
            args.log_level = v;
        }
        if let Some(v) = self.log_format.filter(|_| !typed("log_format")) {
            args.log_format = v;
        }
        if let Some(v) = self
            .tracing_config
            .as_ref()
            .filter(|_| !typed("tracing_config"))
        {
            args.tracing_config = Some(v.clone());
        }
        if let Some(v) = self
            .tracing_config_file
            .as_ref()
            .filter(|_| !typed("tracing_config_file"))
        {
            args.tracing_config_file = Some(v.clone());
        }
        if self.enable_auto_gomemlimit && !typed("enable_auto_gomemlimit") {
            args.enable_auto_gomemlimit = true;
        }
        if let Some(v) = self
            .auto_gomemlimit_ratio
            .filter(|_| !typed("auto_gomemlimit_ratio"))
        {
            args.auto_gomemlimit_ratio = v;
        }
    }

    /// The flags as a full [`TelemetryArgs`] (defaults for the rest), for
    /// commands without telemetry flags of their own.
    pub fn to_args(&self) -> TelemetryArgs {
        TelemetryArgs {
            log_level: self.log_level.unwrap_or_default(),
            log_format: self.log_format.unwrap_or_default(),
            tracing_config: self.tracing_config.clone(),
            tracing_config_file: self.tracing_config_file.clone(),
            enable_auto_gomemlimit: self.enable_auto_gomemlimit,
            auto_gomemlimit_ratio: self.auto_gomemlimit_ratio.unwrap_or(0.9),
        }
    }
}

/// Thanos's tracing configuration document.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TracingConfig {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub config: OtlpConfig,
}

/// The `config:` of an `OTLP` tracing configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    /// `grpc` (default) or `http`.
    pub client_type: String,
    pub service_name: String,
    /// `host:port` of the collector.
    pub endpoint: String,
    /// Plain text instead of TLS.
    pub insecure: bool,
    pub url_path: String,
    pub compression: String,
    pub timeout: String,
    pub reconnection_period: String,
    pub headers: std::collections::BTreeMap<String, String>,
    /// `alwayssample` (default), `neversample` or `traceidratiobased`.
    pub sampler_type: String,
    pub sampler_param: String,
}

impl TracingConfig {
    /// Parses and validates the YAML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let cfg: Self = serde_yaml_ng::from_str(text).map_err(|source| Error::Yaml {
            what: "tracing config",
            origin: origin.to_string(),
            source,
        })?;
        if !cfg.kind.eq_ignore_ascii_case("otlp") {
            return Err(Error::Tracing(format!(
                "{origin}: tracing type {:?} is not supported; use type: OTLP",
                cfg.kind
            )));
        }
        if !matches!(cfg.config.client_type.as_str(), "" | "grpc") {
            return Err(Error::Tracing(format!(
                "{origin}: config.client_type {:?} is not supported; use grpc",
                cfg.config.client_type
            )));
        }
        if !matches!(
            cfg.config.sampler_type.as_str(),
            "" | "alwayssample" | "neversample" | "traceidratiobased"
        ) {
            return Err(Error::Tracing(format!(
                "{origin}: config.sampler_type {:?} must be alwayssample, neversample or traceidratiobased",
                cfg.config.sampler_type
            )));
        }
        Ok(cfg)
    }

    fn sampler(&self) -> Result<opentelemetry_sdk::trace::Sampler> {
        use opentelemetry_sdk::trace::Sampler;
        Ok(match self.config.sampler_type.as_str() {
            "neversample" => Sampler::AlwaysOff,
            "traceidratiobased" => {
                let r: f64 = self.config.sampler_param.parse().map_err(|_| {
                    Error::Tracing(format!(
                        "config.sampler_param {:?} must be a ratio between 0 and 1",
                        self.config.sampler_param
                    ))
                })?;
                Sampler::TraceIdRatioBased(r)
            }
            _ => Sampler::AlwaysOn,
        })
    }
}

/// Keeps the trace pipeline alive; flushes spans when dropped.
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

/// Installs the global subscriber for `component`. Must be called inside a
/// tokio runtime when tracing is configured (the service skeleton does).
pub fn init(args: &TelemetryArgs, component: &str) -> Result<TelemetryGuard> {
    let level = match args.log_level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    let filter = EnvFilter::try_from_env("AEON_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let fmt = match args.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Logfmt => tracing_subscriber::fmt::layer()
            .event_format(logfmt::Logfmt)
            .fmt_fields(logfmt::LogfmtFields)
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .boxed(),
    };

    let tracing_yaml = crate::config::inline_or_file(
        args.tracing_config.as_deref(),
        args.tracing_config_file.as_deref(),
        "tracing.config",
        "tracing.config-file",
    )?;
    let mut guard = TelemetryGuard::default();
    let otel = match tracing_yaml {
        None => None,
        Some((text, origin)) => {
            let cfg = TracingConfig::parse(&text, &origin)?;
            let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic();
            if !cfg.config.endpoint.is_empty() {
                let scheme = if cfg.config.insecure { "http" } else { "https" };
                let ep = if cfg.config.endpoint.contains("://") {
                    cfg.config.endpoint.clone()
                } else {
                    format!("{scheme}://{}", cfg.config.endpoint)
                };
                exporter = exporter.with_endpoint(ep);
            }
            let exporter = exporter
                .build()
                .map_err(|e| Error::Tracing(e.to_string()))?;
            let service = if cfg.config.service_name.is_empty() {
                format!("aeon-{component}")
            } else {
                cfg.config.service_name.clone()
            };
            let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_sampler(cfg.sampler()?)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name(service)
                        .build(),
                )
                .build();
            let tracer = provider.tracer("aeon");
            guard.provider = Some(provider);
            Some(tracing_opentelemetry::layer().with_tracer(tracer))
        }
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .map_err(|e| Error::Tracing(format!("cannot install the log subscriber: {e}")))?;
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ChainExt as _;

    #[test]
    fn parses_thanos_otlp_config() {
        let cfg = TracingConfig::parse(
            "type: OTLP\nconfig:\n  client_type: grpc\n  service_name: q\n  endpoint: otel:4317\n  insecure: true\n",
            "--tracing.config",
        )
        .unwrap();
        assert_eq!(cfg.config.endpoint, "otel:4317");
        assert!(cfg.config.insecure);
    }

    #[test]
    fn rejects_bad_tracing_configs_with_origin() {
        let e = TracingConfig::parse("type: JAEGER\n", "file t.yaml")
            .unwrap_err()
            .chain();
        assert!(e.contains("JAEGER") && e.contains("t.yaml"), "{e}");
        let e = TracingConfig::parse("type: OTLP\nconfig:\n  endpiont: x\n", "file t.yaml")
            .unwrap_err()
            .chain();
        assert!(e.contains("endpiont") && e.contains("t.yaml"), "{e}");
        let e = TracingConfig::parse("type: OTLP\nconfig:\n  client_type: http\n", "x")
            .unwrap_err()
            .chain();
        assert!(e.contains("client_type"), "{e}");
    }
}
