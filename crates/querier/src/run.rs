//! Wiring: discovery and health loops, the HTTP server (API, UI, admin) and
//! the gRPC server (Info + the Store, Metadata, Exemplars and Targets API
//! proxies, component type `query`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aeon_common::Registry;
use aeon_common::admin::{self, Readiness};
use aeon_common::service::ServiceCtx;
use aeon_storeapi::{ClientOptions, GrpcMetrics, ServerOptions, StoreServer};
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio_util::sync::CancellationToken;

use crate::api::{Api, ApiConfig};
use crate::endpoints::{EndpointSet, INFO_INTERVAL, discovery, grpc_connector};
use crate::metrics::{Metrics, handler_name};
use crate::proxy::Proxy;
use crate::{Args, Error, Result, ui};
use aeon_discovery::k8s_changed;

/// A started querier.
#[derive(Debug)]
pub struct Running {
    /// Bound HTTP address.
    pub http_addr: SocketAddr,
    /// Bound gRPC address.
    pub grpc_addr: SocketAddr,
    /// The endpoints (for inspection).
    pub endpoints: Arc<EndpointSet>,
    /// Ends when the servers stopped (after shutdown).
    pub task: tokio::task::JoinHandle<Result<()>>,
}

/// Runs the querier until `ctx.shutdown` is cancelled (a bare
/// `CancellationToken` will do), then drains in-flight requests for at most
/// the longer of `--http-grace-period` and `--grpc-grace-period`.
pub async fn run(args: Args, ctx: impl Into<ServiceCtx>) -> Result<()> {
    let ctx = ctx.into();
    let shutdown = ctx.shutdown.clone();
    let grace = args
        .http
        .http_grace_period
        .0
        .max(args.grpc.grpc_grace_period.0);
    let mut running = start(args, ctx).await?;
    let joined = |r: std::result::Result<Result<()>, tokio::task::JoinError>| {
        r.map_err(|e| Error::Flag {
            flag: "run",
            reason: format!("server task failed: {e}"),
        })?
    };
    tokio::select! {
        r = &mut running.task => return joined(r),
        () = shutdown.cancelled() => {}
    }
    match tokio::time::timeout(grace, &mut running.task).await {
        Ok(r) => joined(r),
        Err(_) => {
            tracing::warn!(grace = ?grace, "grace period over, dropping in-flight requests");
            running.task.abort();
            Ok(())
        }
    }
}

fn api_config(args: &Args) -> ApiConfig {
    ApiConfig {
        replica_labels: args.replica_labels(),
        dedup_func: args.deduplication_func,
        partial_response: args.partial_response_default(),
        auto_downsampling: args.query_auto_downsampling,
        query_timeout: args.query_timeout.0,
        lookback_delta: args.query_lookback_delta.0,
        default_evaluation_interval: args.query_default_evaluation_interval.0,
        default_step: args.query_default_step.0,
    }
}

/// Thanos's HTTP metrics under Thanos's handler names
/// ([`crate::metrics::handler_name`]); other paths pass uncounted.
async fn count_requests(State(m): State<Metrics>, req: Request, next: Next) -> Response {
    match handler_name(req.method(), req.uri().path()) {
        Some(handler) => m.http.instrument(handler, req, next).await,
        None => next.run(req).await,
    }
}

/// The HTTP routes: admin (`/metrics`, `/-/healthy`, `/-/ready`), the API and
/// the UI under the route prefix.
pub(crate) fn http_router(
    api: Api,
    registry: Arc<Registry>,
    ready: Readiness,
    prefix: &str,
    link_prefix: &ui::LinkPrefix,
    metrics: Metrics,
) -> Router {
    let step = api.config().default_step.as_secs_f64();
    let app = api.router().merge(ui::router(link_prefix, step)).layer(
        axum::middleware::from_fn_with_state(metrics, count_requests),
    );
    let app = if prefix.is_empty() {
        app
    } else {
        // `nest` serves "/thanos" for the inner "/"; "/thanos/" is the UI too.
        Router::new().nest(prefix, app).merge(ui::routes(
            &[&format!("{prefix}/")],
            link_prefix,
            step,
        ))
    };
    admin::router(registry, ready).merge(app)
}

/// Starts the querier: resolves endpoints, checks them once, binds and
/// serves HTTP and gRPC in the background.
pub async fn start(args: Args, ctx: impl Into<ServiceCtx>) -> Result<Running> {
    let ServiceCtx {
        shutdown,
        mut registry,
    } = ctx.into();
    let metrics = Metrics::new(&mut registry, args.query_max_concurrent);
    let endpoint_config = args.endpoint_config()?;
    let discovery = discovery(&args, &endpoint_config)
        .await?
        .with_dns_metrics(metrics.dns.clone());
    if args.route_prefix() != args.link_prefix() {
        tracing::warn!(route_prefix = %args.route_prefix(), external_prefix = %args.link_prefix(), "different values for --web.route-prefix and --web.external-prefix detected, web UI may not work without a reverse-proxy");
    }
    let endpoints = Arc::new(EndpointSet::new(
        grpc_connector(
            args.grpc_client.client_tls()?,
            endpoint_config.tls,
            ClientOptions {
                metrics: Some(metrics.grpc_client.clone()),
                ..ClientOptions::default()
            },
        ),
        args.store_unhealthy_timeout.0,
    ));
    let ready = Readiness::new("discovering endpoints");

    let wanted = discovery.resolve().await;
    sync(&endpoints, &wanted).await;
    endpoints.check_all().await;
    record_health(&endpoints, &metrics);

    let proxy = Arc::new(
        Proxy::new(endpoints.clone(), args.store_timeout())
            .with_selector_labels(&args.selector_labels()?),
    );
    let api = Api::new(proxy.clone(), api_config(&args), metrics.gate.clone());
    let router = http_router(
        api,
        Arc::new(registry),
        ready.clone(),
        &args.route_prefix(),
        &ui::LinkPrefix {
            fixed: args.link_prefix(),
            header: args.prefix_header(),
        },
        metrics.clone(),
    );

    let http = args.http.bind().await?;
    let http_addr = http.local_addr().map_err(|e| Error::Flag {
        flag: "http-address",
        reason: e.to_string(),
    })?;
    let grpc = args.grpc.bind().await?;
    let grpc_addr = grpc.local_addr().map_err(|e| Error::Flag {
        flag: "grpc-address",
        reason: e.to_string(),
    })?;
    tracing::info!(http = %http_addr, grpc = %grpc_addr, endpoints = endpoints.all().len(), "querier started");

    // Discovery: DNS and file SD re-resolved at the shorter of the two
    // intervals; Kubernetes watchers trigger a resolve as soon as they change.
    let resolve_every = args
        .store_sd_dns_interval
        .0
        .min(args.store_sd_interval.0)
        .max(Duration::from_millis(100));
    let loops = {
        let (eps, stop, metrics) = (endpoints.clone(), shutdown.clone(), metrics.clone());
        tokio::spawn(async move {
            let mut k8s = discovery.k8s_changes();
            let mut resolve = tokio::time::interval(resolve_every);
            let mut info = tokio::time::interval(INFO_INTERVAL);
            resolve.tick().await;
            info.tick().await;
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = resolve.tick() => {
                        let wanted = discovery.resolve().await;
                        sync(&eps, &wanted).await;
                        record_health(&eps, &metrics);
                    }
                    () = k8s_changed(&mut k8s) => {
                        let wanted = discovery.resolve().await;
                        sync(&eps, &wanted).await;
                        record_health(&eps, &metrics);
                    }
                    _ = info.tick() => {
                        eps.check_all().await;
                        record_health(&eps, &metrics);
                    }
                }
            }
        })
    };
    ready.set_ready();

    let grpc_opts = ServerOptions {
        max_connection_age: Some(args.grpc.grpc_server_max_connection_age.0),
        tls: args.grpc.tls.server_config()?,
        ..ServerOptions::default()
    };
    let grpc_task = tokio::spawn(serve_grpc(
        proxy,
        metrics.grpc_server.clone(),
        grpc,
        grpc_opts,
        shutdown.clone(),
    ));
    let web = args.http.web_config()?;
    let http_task = tokio::spawn(admin::serve_with(http, router, web, shutdown.clone()));
    let task = tokio::spawn(async move {
        let h = http_task.await;
        let g = grpc_task.await;
        loops.abort();
        match h {
            Ok(r) => r?,
            Err(e) => {
                return Err(Error::Flag {
                    flag: "http-address",
                    reason: format!("http task: {e}"),
                });
            }
        }
        match g {
            Ok(r) => r,
            Err(e) => Err(Error::Flag {
                flag: "grpc-address",
                reason: format!("grpc task: {e}"),
            }),
        }
    });
    Ok(Running {
        http_addr,
        grpc_addr,
        endpoints,
        task,
    })
}

/// Serves Info, the Store, Metadata, Exemplars and Targets API proxies and
/// gRPC health (storeapi's server:
/// Thanos's transport settings, TCP_NODELAY on accepted sockets).
async fn serve_grpc(
    proxy: Arc<Proxy>,
    metrics: GrpcMetrics,
    listener: tokio::net::TcpListener,
    opts: ServerOptions,
    shutdown: CancellationToken,
) -> Result<()> {
    StoreServer::new(proxy.clone())
        .with_metrics(metrics)
        .with_metadata(proxy.clone())
        .with_exemplars(proxy.clone())
        .with_targets(proxy)
        .serve(listener, opts, shutdown.cancelled_owned())
        .await
        .map_err(Error::Store)
}

/// Applies a discovery result; new endpoints are checked right away.
async fn sync(eps: &EndpointSet, wanted: &BTreeMap<String, bool>) {
    let (added, errs) = eps.sync(wanted);
    for e in errs {
        tracing::warn!(error = ?e, "cannot create endpoint client");
    }
    futures::future::join_all(added.iter().map(|e| e.check())).await;
}

fn record_health(eps: &EndpointSet, m: &Metrics) {
    let all = eps.all();
    let healthy = all.iter().filter(|e| e.status().healthy).count();
    m.set_endpoints(healthy, all.len() - healthy);
}

impl aeon_common::service::Service for Args {
    const COMPONENT: &'static str = "query";
    type Error = Error;

    fn telemetry_mut(&mut self) -> &mut aeon_common::telemetry::TelemetryArgs {
        &mut self.telemetry
    }

    fn run(self, ctx: ServiceCtx) -> impl std::future::Future<Output = Result<()>> {
        run(self, ctx)
    }
}
