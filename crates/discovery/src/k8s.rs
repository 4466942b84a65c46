//! Kubernetes EndpointSlice discovery: a list+watch loop per
//! (namespace, label selector) that keeps the `ip:port` of every ready
//! endpoint on a named port, re-listing after `410 Gone` and keeping the
//! previous addresses (with an error in the snapshot) while the API server
//! cannot be reached.
//!
//! Flag syntax (parsed by [`K8sTarget::service`] / [`K8sTarget::selector`]):
//! `<namespaces>/<service>:<port>` and `<namespaces>/<label-selector>:<port>`
//! where `<namespaces>` is one namespace, a comma-separated list or `*` for
//! all namespaces, and `<port>` is the port name (as in the Service) or
//! number.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::dns::error_chain;
use crate::spec::join_host_port;
use crate::{Error, Result};

/// The label EndpointSlices carry with the name of their Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Longest pause between retries while the API server fails.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Server-side timeout of one watch request (it is re-opened after).
const WATCH_TIMEOUT_SECS: u32 = 290;

/// Which port of the EndpointSlices to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef {
    /// A port name (the Service's port name, e.g. `grpc`).
    Name(String),
    /// A port number.
    Number(u16),
}

/// One watched (namespace, selector, port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K8sTarget {
    /// The namespace, `None` for all namespaces.
    pub namespace: Option<String>,
    /// Label selector of the EndpointSlices.
    pub selector: String,
    /// Port to use.
    pub port: PortRef,
}

impl K8sTarget {
    /// Parses `<namespaces>/<service>:<port>` (one target per namespace).
    pub fn service(spec: &str) -> Result<Vec<Self>> {
        let (ns, name, port) = split(spec)?;
        let bad = |reason: &str| Error::InvalidK8sTarget {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(bad("service name must be a DNS label (a-z, 0-9, -)"));
        }
        Ok(targets(ns, &format!("{SERVICE_NAME_LABEL}={name}"), port))
    }

    /// Parses `<namespaces>/<label-selector>:<port>` (one target per namespace).
    pub fn selector(spec: &str) -> Result<Vec<Self>> {
        let (ns, sel, port) = split(spec)?;
        Ok(targets(ns, sel, port))
    }

    fn describe(&self) -> String {
        format!(
            "{}/{{{}}}",
            self.namespace.as_deref().unwrap_or("*"),
            self.selector
        )
    }
}

fn split(spec: &str) -> Result<(Vec<String>, &str, PortRef)> {
    let bad = |reason: &str| Error::InvalidK8sTarget {
        spec: spec.to_owned(),
        reason: reason.to_owned(),
    };
    let s = spec.trim();
    let (ns, rest) = s
        .split_once('/')
        .ok_or_else(|| bad("expected <namespace>/<name or selector>:<port>"))?;
    let (what, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| bad("missing :<port name or number>"))?;
    if what.is_empty() {
        return Err(bad("empty service name or selector"));
    }
    let port = match port.parse::<u16>() {
        Ok(0) => return Err(bad("port 0")),
        Ok(n) => PortRef::Number(n),
        Err(_) if !port.is_empty() => PortRef::Name(port.to_owned()),
        Err(_) => return Err(bad("empty port")),
    };
    let namespaces: Vec<String> = if ns == "*" {
        Vec::new()
    } else {
        let v: Vec<String> = ns.split(',').map(|n| n.trim().to_owned()).collect();
        if v.iter().any(String::is_empty) {
            return Err(bad("empty namespace (use * for all namespaces)"));
        }
        v
    };
    Ok((namespaces, what, port))
}

fn targets(namespaces: Vec<String>, selector: &str, port: PortRef) -> Vec<K8sTarget> {
    let mk = |namespace| K8sTarget {
        namespace,
        selector: selector.to_owned(),
        port: port.clone(),
    };
    if namespaces.is_empty() {
        vec![mk(None)]
    } else {
        namespaces.into_iter().map(|n| mk(Some(n))).collect()
    }
}

/// A Kubernetes client: the given kubeconfig file, else the in-cluster
/// service account, else `$KUBECONFIG` / `~/.kube/config`.
pub async fn client(kubeconfig: Option<&Path>) -> Result<kube::Client> {
    let config = match kubeconfig {
        Some(path) => {
            let err = |source: Box<dyn std::error::Error + Send + Sync>| Error::K8sConfig {
                source_name: path.display().to_string(),
                source,
            };
            let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| err(Box::new(e)))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| err(Box::new(e)))?
        }
        None => match kube::Config::incluster() {
            Ok(c) => c,
            Err(in_cluster) => kube::Config::infer().await.map_err(|e| Error::K8sConfig {
                source_name: format!("in-cluster ({in_cluster}) or kubeconfig"),
                source: Box::new(e),
            })?,
        },
    };
    client_from_config(config)
}

/// A client for an explicit configuration (tests point it at a fake API server).
pub fn client_from_config(config: kube::Config) -> Result<kube::Client> {
    let url = config.cluster_url.to_string();
    kube::Client::try_from(config).map_err(|e| Error::K8sConfig {
        source_name: url,
        source: Box::new(e),
    })
}

/// What a watcher knows now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct K8sSnapshot {
    /// `ip:port` of the ready endpoints, sorted.
    pub addresses: Vec<String>,
    /// The last API error, `None` once a list or watch succeeds again. The
    /// addresses are then the last known ones.
    pub error: Option<String>,
    /// Completed LIST calls (1 after the initial sync; more after `410 Gone`
    /// or after the API server came back).
    pub lists: u64,
}

/// A running EndpointSlice watch; stops when dropped.
#[derive(Debug)]
pub struct K8sWatcher {
    target: K8sTarget,
    rx: watch::Receiver<K8sSnapshot>,
    _stop: DropGuard,
}

impl K8sWatcher {
    /// Starts watching `target` on the current tokio runtime.
    pub fn spawn(client: kube::Client, target: K8sTarget) -> Self {
        let api: Api<EndpointSlice> = match &target.namespace {
            Some(ns) => Api::namespaced(client, ns),
            None => Api::all(client),
        };
        let (tx, rx) = watch::channel(K8sSnapshot::default());
        let stop = CancellationToken::new();
        let task = Loop {
            api,
            target: target.clone(),
            tx,
            slices: BTreeMap::new(),
        };
        let token = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = token.cancelled() => {}
                () = task.run() => {}
            }
        });
        Self {
            target,
            rx,
            _stop: stop.drop_guard(),
        }
    }

    /// The watched target.
    pub fn target(&self) -> &K8sTarget {
        &self.target
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> K8sSnapshot {
        self.rx.borrow().clone()
    }

    /// A receiver notified at every change (wait on conditions with it).
    pub fn subscribe(&self) -> watch::Receiver<K8sSnapshot> {
        self.rx.clone()
    }
}

struct Loop {
    api: Api<EndpointSlice>,
    target: K8sTarget,
    tx: watch::Sender<K8sSnapshot>,
    slices: BTreeMap<(String, String), EndpointSlice>,
}

enum WatchEnd {
    /// The resource version expired: list again.
    Gone,
    /// The watch ended or failed: watch again from the last version.
    Rewatch,
}

impl Loop {
    async fn run(mut self) {
        let mut backoff = Backoff::default();
        loop {
            let lp = ListParams::default().labels(&self.target.selector);
            let mut rv = match self.api.list(&lp).await {
                Ok(list) => {
                    backoff.reset();
                    self.slices = list.items.into_iter().map(|s| (key(&s), s)).collect();
                    self.publish(None, true);
                    list.metadata.resource_version.unwrap_or_default()
                }
                Err(e) => {
                    self.fail("list", &e);
                    backoff.wait().await;
                    continue;
                }
            };
            loop {
                let started = std::time::Instant::now();
                match self.watch(&mut rv).await {
                    // A watch the server ends right away must not spin.
                    Ok(WatchEnd::Rewatch) if started.elapsed() < Duration::from_secs(1) => {
                        backoff.wait().await;
                    }
                    Ok(WatchEnd::Rewatch) => backoff.reset(),
                    Ok(WatchEnd::Gone) => break,
                    Err(e) if is_gone(&e) => {
                        self.resync_note();
                        break;
                    }
                    Err(e) => {
                        self.fail("watch", &e);
                        backoff.wait().await;
                    }
                }
            }
        }
    }

    async fn watch(&mut self, rv: &mut String) -> Result<WatchEnd, kube::Error> {
        let wp = WatchParams::default()
            .labels(&self.target.selector)
            .timeout(WATCH_TIMEOUT_SECS);
        let stream = self.api.watch(&wp, rv).await?;
        futures::pin_mut!(stream);
        if self.tx.borrow().error.is_some() {
            self.publish(None, false);
        }
        while let Some(ev) = stream.next().await {
            match ev? {
                WatchEvent::Added(s) | WatchEvent::Modified(s) => {
                    if let Some(v) = &s.metadata.resource_version {
                        v.clone_into(rv);
                    }
                    self.slices.insert(key(&s), s);
                    self.publish(None, false);
                }
                WatchEvent::Deleted(s) => {
                    if let Some(v) = &s.metadata.resource_version {
                        v.clone_into(rv);
                    }
                    self.slices.remove(&key(&s));
                    self.publish(None, false);
                }
                WatchEvent::Bookmark(b) => b.metadata.resource_version.clone_into(rv),
                WatchEvent::Error(status) if status.code == 410 => {
                    self.resync_note();
                    return Ok(WatchEnd::Gone);
                }
                WatchEvent::Error(status) => {
                    let msg = format!(
                        "watch endpointslices {}: {} ({})",
                        self.target.describe(),
                        status.message,
                        status.code
                    );
                    tracing::warn!(target = %self.target.describe(), error = %msg, "kubernetes discovery");
                    self.publish(Some(msg), false);
                    return Ok(WatchEnd::Gone);
                }
            }
        }
        Ok(WatchEnd::Rewatch)
    }

    fn resync_note(&self) {
        tracing::info!(target = %self.target.describe(), "endpointslice watch expired (410 Gone), listing again");
    }

    fn fail(&self, operation: &'static str, e: &kube::Error) {
        let err = Error::K8sApi {
            operation,
            namespace: self.target.namespace.clone().unwrap_or_else(|| "*".into()),
            source: Box::new(clone_err(e)),
        };
        let msg = format!(
            "{} (selector {}), keeping {} previous addresses",
            error_chain(&err),
            self.target.selector,
            self.tx.borrow().addresses.len()
        );
        tracing::warn!(error = %msg, "kubernetes discovery");
        self.publish(Some(msg), false);
    }

    fn publish(&self, error: Option<String>, listed: bool) {
        let addresses = addresses(self.slices.values(), &self.target.port);
        self.tx.send_if_modified(|s| {
            let new = K8sSnapshot {
                addresses,
                error,
                lists: s.lists + u64::from(listed),
            };
            let changed = *s != new;
            *s = new;
            changed
        });
    }
}

/// kube errors are not `Clone`; keep their message and API status.
fn clone_err(e: &kube::Error) -> kube::Error {
    match e {
        kube::Error::Api(s) => kube::Error::Api(s.clone()),
        other => kube::Error::Service(error_chain(other).into()),
    }
}

fn is_gone(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 410)
}

fn key(s: &EndpointSlice) -> (String, String) {
    (
        s.metadata.namespace.clone().unwrap_or_default(),
        s.metadata.name.clone().unwrap_or_default(),
    )
}

/// `ip:port` of every ready endpoint (readiness unknown counts as ready, as
/// the EndpointSlice API advises) on the wanted port, sorted, deduplicated.
pub fn addresses<'a>(
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
    port: &PortRef,
) -> Vec<String> {
    let mut out = Vec::new();
    for s in slices {
        let Some(p) = s.ports.iter().flatten().find(|p| match port {
            PortRef::Name(n) => p.name.as_deref() == Some(n.as_str()),
            PortRef::Number(n) => p.port == Some(i32::from(*n)),
        }) else {
            continue;
        };
        let Some(num) = p.port.and_then(|n| u16::try_from(n).ok()) else {
            continue;
        };
        for ep in &s.endpoints {
            let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            if let (true, Some(addr)) = (ready, ep.addresses.first()) {
                out.push(join_host_port(addr, num));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[derive(Debug)]
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Self(Duration::from_millis(200))
    }
}

impl Backoff {
    fn reset(&mut self) {
        *self = Self::default();
    }
    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_service_and_selector_targets() {
        let t = K8sTarget::service("monitoring/aeon-store:grpc").unwrap();
        assert_eq!(
            t,
            [K8sTarget {
                namespace: Some("monitoring".into()),
                selector: "kubernetes.io/service-name=aeon-store".into(),
                port: PortRef::Name("grpc".into()),
            }]
        );
        let t = K8sTarget::service("a,b/s:10901").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].namespace.as_deref(), Some("b"));
        assert_eq!(t[0].port, PortRef::Number(10901));
        let t = K8sTarget::selector("*/app.kubernetes.io/name=aeon,tier in (a,b):grpc").unwrap();
        assert_eq!(t[0].namespace, None);
        assert_eq!(t[0].selector, "app.kubernetes.io/name=aeon,tier in (a,b)");
        for bad in [
            "svc:grpc",
            "ns/svc",
            "ns/:grpc",
            "ns/svc:",
            "ns/svc:0",
            "/svc:grpc",
            "a,,b/s:1",
            "ns/Bad_Name:grpc",
        ] {
            assert!(K8sTarget::service(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn https_client_builds_with_the_single_rustls_provider() {
        // rustls panics here when two crypto providers (aws-lc-rs and ring)
        // are compiled in and none is installed as the process default.
        let config = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
        client_from_config(config).unwrap();
    }

    #[test]
    fn ready_endpoints_on_the_named_port() {
        let slice: EndpointSlice = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "s-1", "namespace": "ns"},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 10902}, {"name": "grpc", "port": 10901}],
            "endpoints": [
                {"addresses": ["10.0.0.2"], "conditions": {"ready": true}},
                {"addresses": ["10.0.0.1"]},
                {"addresses": ["10.0.0.3"], "conditions": {"ready": false}},
            ]
        }))
        .unwrap();
        let v6: EndpointSlice = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "s-2", "namespace": "ns"},
            "addressType": "IPv6",
            "ports": [{"name": "grpc", "port": 10901}],
            "endpoints": [{"addresses": ["fd00::1"], "conditions": {"ready": true}}]
        }))
        .unwrap();
        assert_eq!(
            addresses([&slice, &v6], &PortRef::Name("grpc".into())),
            ["10.0.0.1:10901", "10.0.0.2:10901", "[fd00::1]:10901"]
        );
        assert_eq!(
            addresses([&slice], &PortRef::Number(10902)),
            ["10.0.0.1:10902", "10.0.0.2:10902"]
        );
        assert!(addresses([&slice], &PortRef::Name("metrics".into())).is_empty());
    }
}
