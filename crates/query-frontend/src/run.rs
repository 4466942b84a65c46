//! Wiring: flags → frontend state, the HTTP server (admin routes, then every
//! other path to the frontend), graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use aeon_common::admin::{self, Readiness};
use aeon_common::service::ServiceCtx;
use axum::Router;

use crate::api::{Config, Frontend, handle};
use crate::cache::ResultsCache;
use crate::downstream::Downstream;
use crate::metrics::Metrics;
use crate::{Args, Error, Result};

/// A started frontend.
#[derive(Debug)]
pub struct Running {
    /// Bound HTTP address.
    pub http_addr: SocketAddr,
    /// Ends when the server stopped (after shutdown).
    pub task: tokio::task::JoinHandle<Result<()>>,
}

fn config(args: &Args) -> Result<Config> {
    let split_ms = args.split().map(|d| d.as_millis() as i64);
    Ok(Config {
        align: args.align(),
        split_ms,
        range_attempts: args.range_max_retries,
        instant_attempts: args.instant_max_retries,
        max_length: args.max_length(),
        parallelism: args.max_query_parallelism,
        partial_response: args.partial_response_default(),
        slow_query: args.log_queries_longer_than.0,
        org_id_headers: args.org_id_header.clone(),
        tenant_header: args.tenant_header.clone(),
        default_tenant: args.default_tenant.clone(),
        forward_headers: args.forward_header.clone(),
        user_header: args.slow_query_logs_user_header.clone(),
        vertical_shards: args.vertical_shards,
    })
}

/// Starts the frontend: checks the flags, builds the cache, binds and
/// serves HTTP in the background.
pub async fn start(args: Args, ctx: impl Into<ServiceCtx>) -> Result<Running> {
    let ServiceCtx {
        shutdown,
        mut registry,
    } = ctx.into();
    let cfg = config(&args)?;
    let url = url::Url::parse(&args.downstream_url).map_err(|e| Error::Flag {
        flag: "query-frontend.downstream-url",
        reason: format!("{:?}: {e}", args.downstream_url),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Flag {
            flag: "query-frontend.downstream-url",
            reason: format!("{:?}: scheme must be http or https", args.downstream_url),
        });
    }
    let downstream = Downstream::new(&args.downstream_url).map_err(Error::Client)?;
    let yaml = aeon_common::config::inline_or_file(
        args.response_cache_config.as_deref(),
        args.response_cache_config_file.as_deref(),
        "query-range.response-cache-config",
        "query-range.response-cache-config-file",
    )?;
    let cache = match yaml {
        None => None,
        Some((text, origin)) => {
            let Some(split_ms) = cfg.split_ms else {
                return Err(Error::Flag {
                    flag: "query-range.split-interval",
                    reason: "must be greater than 0 when a response cache is configured".into(),
                });
            };
            let metrics = aeon_cache::CacheMetrics::register(&mut registry);
            let c = aeon_cache::from_yaml(
                &text,
                &origin,
                metrics.named("frontend.query-range-results-cache"),
            )
            .map_err(Error::Cache)?;
            tracing::info!(backend = c.backend(), "results cache enabled");
            Some(ResultsCache::new(c, args.max_freshness.0, split_ms))
        }
    };
    let metrics = Metrics::new(&mut registry);
    let fe = Arc::new(Frontend {
        downstream,
        cache,
        cfg,
        metrics,
    });
    let ready = Readiness::new("starting");
    let router: Router = admin::router(Arc::new(registry), ready.clone())
        .merge(Router::new().fallback(handle).with_state(fe));
    let http = args.http.bind().await?;
    let http_addr = http.local_addr().map_err(|e| Error::Flag {
        flag: "http-address",
        reason: e.to_string(),
    })?;
    tracing::info!(http = %http_addr, downstream = %args.downstream_url, "query frontend started");
    ready.set_ready();
    let task = tokio::spawn(async move {
        admin::serve(http, router, shutdown)
            .await
            .map_err(Error::from)
    });
    Ok(Running { http_addr, task })
}

/// Runs the frontend until `ctx.shutdown` is cancelled, then drains
/// in-flight requests for at most `--http-grace-period`.
pub async fn run(args: Args, ctx: impl Into<ServiceCtx>) -> Result<()> {
    let ctx = ctx.into();
    let shutdown = ctx.shutdown.clone();
    let grace = args.http.http_grace_period.0;
    let mut running = start(args, ctx).await?;
    tokio::select! {
        r = &mut running.task => return r.map_err(Error::Task)?,
        () = shutdown.cancelled() => {}
    }
    match tokio::time::timeout(grace, &mut running.task).await {
        Ok(r) => r.map_err(Error::Task)?,
        Err(_) => {
            tracing::warn!(grace = ?grace, "grace period over, dropping in-flight requests");
            running.task.abort();
            Ok(())
        }
    }
}

impl aeon_common::service::Service for Args {
    const COMPONENT: &'static str = "query-frontend";
    type Error = Error;

    fn telemetry_mut(&mut self) -> &mut aeon_common::telemetry::TelemetryArgs {
        &mut self.telemetry
    }

    fn run(self, ctx: ServiceCtx) -> impl std::future::Future<Output = Result<()>> {
        run(self, ctx)
    }
}
