//! The store gateway (layer L3, service): serves every TSDB block of an
//! object storage bucket through the Thanos Store API, like `thanos store`.
//!
//! - [`Args`]: Thanos's `thanos store` flags and defaults.
//! - [`run`]: the whole service (bucket sync loop, gRPC Store/Info/health,
//!   admin HTTP with `/metrics`, `/-/healthy`, `/-/ready`) until shutdown;
//!   [`run_with_listeners`] takes already bound listeners (tests).
//! - [`Gateway`]: store + syncer built from flags or from a bucket, for
//!   embedding.
//! - [`BucketStore`]: the [`aeon_storeapi::StoreApi`] implementation.
//! - [`Syncer`]: keeps the served blocks in line with the bucket, through
//!   `aeon-block-sync`'s fetcher and Thanos's meta filters (time, relabel,
//!   consistency delay, deletion marks, duplicates).
//!
//! Per block the gateway keeps only meta.json and, once the block is first
//! needed (or loaded in the background after a sync), its index-header
//! (symbols + postings offsets), persisted under `--data-dir/<ULID>/`.
//! Postings, series and chunks are read with coalesced ranged GETs;
//! expanded postings and series entries go through an LRU cache bounded by
//! `--index-cache-size`.
//!
//! Modules: [`sync`] (which blocks), [`store`] (the Store API and which
//! blocks a request reads), [`block`] (a block's lifecycle and
//! index-header; its queries in `block::query`, its chunk fetching in
//! `block::chunks`), [`limits`] (per-request and chunk-pool limits),
//! [`source`](BucketSource) (the index as a byte source on ranged GETs),
//! [`cache`] (the index cache).

#![warn(unreachable_pub)]

mod args;
pub mod block;
pub mod cache;
mod error;
pub mod limits;
pub mod metrics;
mod source;
pub mod store;
pub mod sync;

use aeon_common::relabel::Relabeler;
use std::sync::Arc;

use aeon_common::Registry;
use aeon_common::admin::{self, Readiness};
use aeon_common::service::ServiceCtx;
use aeon_common::shutdown::drain;
use aeon_objstore::Bucket;
use aeon_storeapi::{ServerOptions, StoreServer};
use tokio::net::TcpListener;

pub use args::Args;
pub use block::{Block, BlockCtx};
pub use cache::IndexCache;
pub use error::{Error, Result};
pub use metrics::Metrics;
pub use source::BucketSource;
pub use store::{BucketStore, StoreConfig};
pub use sync::{SyncConfig, SyncReport, Syncer};

/// A store with its syncer, ready to serve.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub store: Arc<BucketStore>,
    pub syncer: Arc<Syncer>,
    pub metrics: Metrics,
}

impl Gateway {
    /// Builds the bucket from `--objstore.config[-file]` and everything else
    /// from `args`; metrics go to `registry`.
    pub async fn new(args: &Args, registry: &mut Registry) -> Result<Self> {
        let (yaml, origin) = args.objstore_yaml()?;
        let bucket = aeon_objstore::from_yaml(&yaml, &origin, registry)
            .await
            .map_err(|source| Error::Bucket {
                operation: format!("opening the bucket configured by {origin}"),
                source,
            })?;
        Self::with_bucket(bucket, args, registry)
    }

    /// Builds the gateway over an existing bucket.
    pub fn with_bucket(
        bucket: Arc<dyn Bucket>,
        args: &Args,
        registry: &mut Registry,
    ) -> Result<Self> {
        let relabel = match args.relabel_yaml()? {
            Some((text, origin)) => Relabeler::parse(&text, &origin)?,
            None => Relabeler::default(),
        };
        std::fs::create_dir_all(&args.data_dir).map_err(|source| Error::Local {
            path: args.data_dir.clone(),
            operation: "creating data directory",
            source,
        })?;
        let metrics = Metrics::new(registry);
        let ctx = BlockCtx {
            bucket: bucket.clone(),
            data_dir: args.data_dir.clone(),
            cache: IndexCache::new(args.index_cache_size.bytes(), Some(metrics.clone())),
            metrics: Some(metrics.clone()),
            chunk_pool: (args.chunk_pool_size.bytes() > 0)
                .then(|| limits::ChunkPool::new(args.chunk_pool_size.bytes())),
        };
        let store = Arc::new(BucketStore::new(
            ctx,
            StoreConfig {
                min_time: args.min_time,
                max_time: args.max_time,
                series_limit: args.series_limit(),
                samples_limit: args.samples_limit(),
                series_max_concurrency: args.grpc_series_max_concurrency,
                ..StoreConfig::default()
            },
        ));
        let syncer = Arc::new(Syncer::new(
            bucket,
            SyncConfig {
                min_time: args.min_time,
                max_time: args.max_time,
                relabel,
                consistency_delay: args.consistency_delay.0,
                ignore_deletion_marks_delay: args.ignore_deletion_marks_delay.0,
                meta_concurrency: args.block_meta_fetch_concurrency,
                load_concurrency: args.block_sync_concurrency,
            },
            store.clone(),
            Some(metrics.clone()),
        ));
        Ok(Self {
            store,
            syncer,
            metrics,
        })
    }

    /// One sync followed by loading the new blocks' index-headers.
    pub async fn sync_and_load(&self) -> Result<SyncReport> {
        let report = self.syncer.sync().await?;
        for (id, e) in self.syncer.load_headers().await {
            tracing::warn!(block = %id, error = %e, "cannot load block index-header; queries touching it will report it");
        }
        Ok(report)
    }
}

/// Runs the store gateway until `ctx.shutdown` is cancelled (a bare
/// `CancellationToken` will do).
pub async fn run(args: Args, ctx: impl Into<ServiceCtx>) -> Result<()> {
    let http = args.http.bind().await?;
    let grpc = args.grpc.bind().await?;
    run_with_listeners(args, http, grpc, ctx).await
}

/// [`run`] on already bound HTTP and gRPC listeners.
pub async fn run_with_listeners(
    args: Args,
    http: TcpListener,
    grpc: TcpListener,
    ctx: impl Into<ServiceCtx>,
) -> Result<()> {
    let ServiceCtx {
        shutdown,
        mut registry,
    } = ctx.into();
    let gw = Gateway::new(&args, &mut registry).await?;
    // Thanos's gRPC server metrics (grpc_server_*) of the Store API.
    let grpc_metrics = aeon_storeapi::GrpcMetrics::register(&mut registry);
    let ready = Readiness::new("initial block sync has not finished");
    let web = args.http.web_config()?;
    let http_task = tokio::spawn(admin::serve_with(
        http,
        admin::router(Arc::new(registry), ready.clone()),
        web,
        shutdown.clone(),
    ));
    let grpc_opts = ServerOptions {
        max_connection_age: Some(args.grpc.grpc_server_max_connection_age.0),
        tls: args.grpc.tls.server_config()?,
        ..ServerOptions::default()
    };
    if let Ok(a) = grpc.local_addr() {
        tracing::info!(address = %a, "serving gRPC Store API");
    }
    let grpc_task = tokio::spawn(
        StoreServer::new(gw.store.clone())
            .with_metrics(grpc_metrics)
            .serve(grpc, grpc_opts, shutdown.clone().cancelled_owned()),
    );
    let interval = args.sync_interval();
    let sync_task = {
        let gw = gw.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut first = true;
            loop {
                match gw.sync_and_load().await {
                    Ok(r) => {
                        tracing::info!(
                            blocks = r.selected.len(),
                            added = r.added,
                            removed = r.removed,
                            "block sync done"
                        );
                        if first {
                            ready.set_ready();
                            first = false;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e.chain(), "block sync failed"),
                }
                // Retry the initial sync quickly; afterwards every interval.
                let wait = if first {
                    std::time::Duration::from_secs(5).min(interval)
                } else {
                    interval
                };
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        })
    };
    let idle = args.index_header_idle_timeout.0;
    let unload_task = {
        let store = gw.store.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if idle.is_zero() {
                return;
            }
            let tick = (idle / 4).clamp(
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(60),
            );
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(tick) => {}
                }
                let n = store.unload_idle(idle);
                if n > 0 {
                    tracing::debug!(unloaded = n, "dropped idle index-headers from memory");
                }
            }
        })
    };
    shutdown.cancelled().await;
    let _ = sync_task.await;
    let _ = unload_task.await;
    // In-flight calls drain for at most the grace periods.
    let grpc_res = drain(grpc_task, args.grpc.grpc_grace_period.0, "gRPC").await;
    let http_res = drain(http_task, args.http.http_grace_period.0, "HTTP").await;
    if let Some(r) = grpc_res {
        r?;
    }
    if let Some(r) = http_res {
        r?;
    }
    Ok(())
}

impl aeon_common::service::Service for Args {
    const COMPONENT: &'static str = "store";
    type Error = Error;

    fn telemetry_mut(&mut self) -> &mut aeon_common::telemetry::TelemetryArgs {
        &mut self.telemetry
    }

    fn run(self, ctx: ServiceCtx) -> impl std::future::Future<Output = Result<()>> {
        run(self, ctx)
    }
}
