//! The `aeon compact` service: admin HTTP (`/metrics`, `/-/healthy`,
//! `/-/ready`), one iteration or a loop with `--wait`, cleanup every
//! `--compact.cleanup-interval` while waiting, graceful shutdown.

use std::sync::Arc;

use aeon_common::admin::{self, Readiness};
use aeon_common::service::ServiceCtx;
use aeon_common::shutdown::drain;
use tokio_util::sync::CancellationToken;

use crate::compactor::{Compactor, Config, IterationReport};
use crate::metrics::Metrics;
use crate::tools::open_bucket;
use crate::{Args, Error, Result};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn log_report(r: &IterationReport) {
    tracing::info!(
        compactions = r.compactions,
        compacted_blocks = r.compacted_blocks.len(),
        quarantined = r.quarantined.len(),
        downsampled = r.downsampled.len(),
        garbage_collected = r.garbage_collected.len(),
        retention_marked = r.retention_marked.len(),
        partial_marked = r.partial_marked.len(),
        deleted = r.deleted.len(),
        failures = r.failures.len(),
        "compactor iteration done"
    );
    for f in &r.failures {
        tracing::warn!(failure = %f, "skipped in this iteration; retried next time");
    }
}

/// Thanos's pitfall (#1353): data deleted before it could be downsampled.
fn warn_on_retention_combos(cfg: &Config) {
    if !cfg.downsampling {
        return;
    }
    let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let [raw, m5, _] = cfg.retentions;
    if !raw.is_zero()
        && ms(raw) < crate::planner::DOWNSAMPLE_RANGE_5M + 2 * crate::planner::HOUR_MS * 24
    {
        tracing::warn!(retention_raw = ?raw, "raw retention is shorter than the time raw blocks need to be compacted to 2d and downsampled to 5m; some data will never be downsampled");
    }
    if !m5.is_zero() && ms(m5) < 14 * 24 * crate::planner::HOUR_MS {
        tracing::warn!(retention_5m = ?m5, "5m retention is shorter than 14d; 5m blocks may be deleted before they are downsampled to 1h");
    }
}

/// Runs the compactor until done (without `--wait`) or until
/// `ctx.shutdown` (a bare `CancellationToken` will do).
pub async fn run(args: Args, ctx: impl Into<ServiceCtx>) -> Result<()> {
    let ServiceCtx {
        shutdown,
        mut registry,
    } = ctx.into();
    // Validate everything before serving.
    let cfg = Config::from_args(&args, now_ms())?;
    warn_on_retention_combos(&cfg);
    let metrics = Metrics::new(&mut registry);
    let bucket = open_bucket(
        args.objstore.objstore_config.as_deref(),
        args.objstore.objstore_config_file.as_deref(),
        &mut registry,
    )
    .await?;
    #[cfg(feature = "crashpoints")]
    let bucket = crate::crashpoints::wrap(bucket);
    // Scratch space only: whatever a killed run left behind is discarded.
    for sub in ["compact", "downsample"] {
        let p = args.data_dir.join(sub);
        if tokio::fs::try_exists(&p).await.unwrap_or(false) {
            tokio::fs::remove_dir_all(&p)
                .await
                .map_err(|e| Error::io(&p, e))?;
        }
    }
    tokio::fs::create_dir_all(&args.data_dir)
        .await
        .map_err(|e| Error::io(&args.data_dir, e))?;
    let ready = Readiness::new("first iteration not started");
    let listener = args.http.bind().await?;
    let http_stop = shutdown.child_token();
    let web = args.http.web_config()?;
    let http = tokio::spawn(admin::serve_with(
        listener,
        admin::router(Arc::new(registry), ready.clone()),
        web,
        http_stop.clone(),
    ));
    ready.set_ready();
    let result = main_loop(&args, bucket, metrics, &shutdown).await;
    http_stop.cancel();
    // In-flight scrapes drain for at most --http-grace-period.
    if let Some(r) = drain(http, args.http.http_grace_period.0, "HTTP").await {
        r?;
    }
    result
}

impl aeon_common::service::Service for Args {
    const COMPONENT: &'static str = "compact";
    type Error = Error;

    fn telemetry_mut(&mut self) -> &mut aeon_common::telemetry::TelemetryArgs {
        &mut self.telemetry
    }

    fn run(self, ctx: ServiceCtx) -> impl std::future::Future<Output = Result<()>> {
        run(self, ctx)
    }
}

async fn main_loop(
    args: &Args,
    bucket: Arc<dyn aeon_objstore::Bucket>,
    metrics: Metrics,
    shutdown: &CancellationToken,
) -> Result<()> {
    let cache = Arc::new(aeon_block_sync::MetaCache::default());
    loop {
        let compactor = Compactor::new(
            bucket.clone(),
            Config::from_args(args, now_ms())?,
            metrics.clone(),
        )
        .with_meta_cache(cache.clone());
        let res = tokio::select! {
            r = compactor.run_once(now_ms()) => r,
            () = shutdown.cancelled() => {
                tracing::info!("shutdown during an iteration; the bucket stays consistent (uploads end with meta.json)");
                return Ok(());
            }
        };
        match res {
            Ok(rep) => log_report(&rep),
            Err(e) => {
                metrics.iteration_failures.inc();
                if !args.wait {
                    return Err(e);
                }
                tracing::warn!(error = %e, "compactor iteration failed; retrying after the wait interval");
            }
        }
        if !args.wait {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + args.wait_interval.0;
        let cleanup_every = args
            .cleanup_interval
            .0
            .max(std::time::Duration::from_secs(1));
        loop {
            let next = (tokio::time::Instant::now() + cleanup_every).min(deadline);
            tokio::select! {
                () = tokio::time::sleep_until(next) => {}
                () = shutdown.cancelled() => return Ok(()),
            }
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            let mut rep = IterationReport::default();
            if let Err(e) = compactor.cleanup(now_ms(), &mut rep).await {
                tracing::warn!(error = %e, "cleanup failed");
            }
        }
    }
}
