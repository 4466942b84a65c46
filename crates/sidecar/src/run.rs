//! Wiring: admin HTTP, gRPC server (Store, Info, Metadata, Exemplars,
//! Targets), Prometheus polling, shipper,
//! reloader, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use aeon_common::admin::{self, Readiness};
use aeon_common::service::ServiceCtx;
use aeon_storeapi::{ServerOptions, StoreApi, StoreServer};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::prometheus::PromClient;
use crate::reloader::ReloaderConfig;
use crate::scrape::PrometheusScrape;
use crate::shipper::Shipper;
use crate::state::PromState;
use crate::store::{Limits, PrometheusStore};
use crate::{Args, Error, Result};

/// A started sidecar: its bound addresses and the task that ends after
/// shutdown.
#[derive(Debug)]
pub struct Running {
    /// Where the admin HTTP server listens.
    pub http_addr: SocketAddr,
    /// Where the gRPC server listens.
    pub grpc_addr: SocketAddr,
    /// What the sidecar knows about Prometheus.
    pub state: PromState,
    /// Readiness as served on `/-/ready`.
    pub readiness: Readiness,
    task: JoinHandle<Result<()>>,
}

impl Running {
    /// Waits until the sidecar has shut down (after `shutdown` is cancelled).
    pub async fn wait(self) -> Result<()> {
        self.task.await.map_err(|e| Error::InvalidFlag {
            flag: "-",
            reason: format!("sidecar task panicked: {e}"),
        })?
    }
}

/// Runs the sidecar until `ctx.shutdown` is cancelled (a bare
/// `CancellationToken` will do).
pub async fn run(args: Args, ctx: impl Into<ServiceCtx>) -> Result<()> {
    start(args, ctx).await?.wait().await
}

/// Binds the servers and starts every loop; returns once listening.
pub async fn start(args: Args, ctx: impl Into<ServiceCtx>) -> Result<Running> {
    let ServiceCtx {
        shutdown,
        mut registry,
    } = ctx.into();
    let metrics = Metrics::new(&mut registry);

    let objstore = args.objstore.yaml()?;
    let bucket = match objstore {
        Some((text, origin)) => Some(
            aeon_objstore::from_yaml(&text, &origin, &mut registry)
                .await
                .map_err(Error::Bucket)?,
        ),
        None => {
            tracing::info!("no object storage configured; blocks will not be uploaded");
            None
        }
    };

    let client = PromClient::with_config(
        &args.prometheus_url,
        args.prometheus_get_config_timeout.0,
        args.prometheus_http_client()?,
    )?;
    let state = PromState::default();
    let readiness = Readiness::new(format!("waiting for prometheus at {}", client.url()));
    let store = PrometheusStore::new(
        client.clone(),
        state.clone(),
        args.min_time,
        Limits {
            series: args.store_limits_request_series,
            samples: args.store_limits_request_samples,
        },
        metrics.clone(),
    );
    let store: Arc<dyn StoreApi> = Arc::new(store);

    let opts = ServerOptions {
        max_connection_age: Some(args.grpc.grpc_server_max_connection_age.0),
        tls: args.grpc.tls.server_config()?,
        ..Default::default()
    };
    let grpc_listener = args.grpc.bind().await?;
    let grpc_addr = local_addr(&grpc_listener, "--grpc-address")?;
    let grpc_stop = CancellationToken::new();
    // Thanos's gRPC server metrics (grpc_server_*) of the Store API.
    let grpc_metrics = aeon_storeapi::GrpcMetrics::register(&mut registry);
    let scrape = Arc::new(PrometheusScrape::new(client.clone(), state.clone()));
    let grpc_task = tokio::spawn(
        StoreServer::new(store)
            .with_metrics(grpc_metrics)
            .with_metadata(scrape.clone())
            .with_exemplars(scrape.clone())
            .with_targets(scrape)
            .serve(grpc_listener, opts, grpc_stop.clone().cancelled_owned()),
    );
    tracing::info!(address = %grpc_addr, "serving gRPC (Store, Info, Metadata, Exemplars, Targets, health)");

    let http_listener = args.http.bind().await?;
    let http_addr = local_addr(&http_listener, "--http-address")?;
    let router = admin::router(Arc::new(registry), readiness.clone());
    let http_stop = CancellationToken::new();
    let web = args.http.web_config()?;
    let http_task = tokio::spawn(admin::serve_with(
        http_listener,
        router,
        web,
        http_stop.clone(),
    ));

    let mut loops: Vec<JoinHandle<()>> = Vec::new();
    loops.push(tokio::spawn(crate::state::poll_prometheus(
        client.clone(),
        state.clone(),
        readiness.clone(),
        metrics.clone(),
        args.prometheus_get_config_interval.0,
        args.prometheus_ready_timeout.0,
        shutdown.clone(),
    )));
    if let Some(bucket) = bucket {
        let shipper = Shipper::new(
            args.tsdb_path.clone(),
            bucket,
            args.shipper_meta_file_name.clone(),
            args.shipper_upload_compacted,
            metrics.clone(),
        )
        .with_upload_concurrency(args.shipper_upload_concurrency);
        loops.push(tokio::spawn(shipper.run(
            state.clone(),
            args.shipper_sync_interval.0,
            shutdown.clone(),
        )));
    }
    let reloader = ReloaderConfig {
        config_file: args.reloader_config_file.clone(),
        envsubst_file: args.reloader_config_envsubst_file.clone(),
        rule_dirs: args.reloader_rule_dir.clone(),
        watch_interval: args.reloader_watch_interval.0,
        retry_interval: args.reloader_retry_interval.0,
    };
    if reloader.is_enabled() {
        loops.push(tokio::spawn(crate::reloader::run(
            reloader,
            client.clone(),
            metrics.clone(),
            shutdown.clone(),
        )));
    }

    let grace_grpc = args.grpc.grpc_grace_period.0;
    let grace_http = args.http.http_grace_period.0;
    let task = tokio::spawn(async move {
        shutdown.cancelled().await;
        tracing::info!("shutting down sidecar");
        // The loops watch `shutdown` themselves; an upload in flight is
        // abandoned (its partial objects have no meta.json and are redone).
        for l in loops {
            l.abort();
            let _ = l.await;
        }
        grpc_stop.cancel();
        http_stop.cancel();
        let grpc = tokio::time::timeout(grace_grpc, grpc_task).await;
        let http = tokio::time::timeout(grace_http, http_task).await;
        if let Ok(Ok(Err(e))) = grpc {
            return Err(Error::Store(e));
        }
        if let Ok(Ok(Err(e))) = http {
            return Err(Error::Common(e));
        }
        Ok(())
    });
    Ok(Running {
        http_addr,
        grpc_addr,
        state,
        readiness,
        task,
    })
}

fn local_addr(listener: &tokio::net::TcpListener, flag: &'static str) -> Result<SocketAddr> {
    listener.local_addr().map_err(|e| Error::InvalidFlag {
        flag,
        reason: format!("cannot read the bound address: {e}"),
    })
}

impl aeon_common::service::Service for Args {
    const COMPONENT: &'static str = "sidecar";
    type Error = Error;

    fn telemetry_mut(&mut self) -> &mut aeon_common::telemetry::TelemetryArgs {
        &mut self.telemetry
    }

    fn run(self, ctx: ServiceCtx) -> impl Future<Output = Result<()>> {
        run(self, ctx)
    }
}
