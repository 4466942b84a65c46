//! Endpoint management: which Store API endpoints exist (static flags,
//! `dns+`/`dnssrv+`/`dnssrvnoa+` lookups, file SD, Kubernetes EndpointSlices
//! — resolved by aeon-discovery), their health (Info polled every 5 s) and
//! what they advertise (external label sets, time range), and which of them
//! can hold data for a request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use aeon_model::{Labels, Matcher};
use aeon_storeapi::pb::thanos::info;
use aeon_storeapi::{ClientOptions, StoreApi, StoreClient};

use crate::{Error, Result};

/// How often Info is polled (Thanos: 5 s).
pub const INFO_INTERVAL: Duration = Duration::from_secs(5);
/// Deadline of one Info call.
pub const INFO_TIMEOUT: Duration = Duration::from_secs(5);

/// One `--endpoint` value (static, `dns+`, `dnssrv+`, `dnssrvnoa+`),
/// parsed and resolved by aeon-discovery.
pub use aeon_discovery::Spec as EndpointSpec;

/// Parses an endpoint flag value or file SD target.
pub fn parse_spec(spec: &str) -> Result<EndpointSpec> {
    EndpointSpec::parse(spec).map_err(|e| match e {
        aeon_discovery::Error::InvalidSpec { spec, reason } => {
            Error::InvalidEndpoint { spec, reason }
        }
        other => Error::InvalidEndpoint {
            spec: spec.to_owned(),
            reason: other.to_string(),
        },
    })
}

/// Expands a glob pattern whose last path component may contain `*` and `?`.
pub fn expand_glob(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return vec![path.to_path_buf()];
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| wildcard(name.as_bytes(), n.as_bytes()))
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

fn wildcard(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => wildcard(&p[1..], s) || (!s.is_empty() && wildcard(p, &s[1..])),
        (Some(b'?'), Some(_)) => wildcard(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => wildcard(&p[1..], &s[1..]),
        _ => false,
    }
}

#[derive(serde::Deserialize)]
struct TargetGroup {
    #[serde(default)]
    targets: Vec<String>,
}

/// Reads one Prometheus file_sd file (`[{targets: [...]}]`, YAML or JSON).
pub fn read_file_sd(path: &Path) -> Result<Vec<String>> {
    let err = |source: Box<dyn std::error::Error + Send + Sync>| Error::FileSd {
        path: path.display().to_string(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(Box::new(e)))?;
    let groups: Vec<TargetGroup> = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| err(Box::new(e)))?
    } else if text.trim().is_empty() {
        Vec::new()
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| err(Box::new(e)))?
    };
    Ok(groups.into_iter().flat_map(|g| g.targets).collect())
}

/// What an endpoint advertised in its last successful Info call.
#[derive(Debug, Clone, Default)]
pub struct Advertised {
    /// Component type (`sidecar`, `store`, `query`, ...).
    pub component_type: String,
    /// External label sets.
    pub label_sets: Vec<Labels>,
    /// Inclusive time range in ms.
    pub min_time: i64,
    pub max_time: i64,
    /// Whether the store strips `without_replica_labels` itself.
    pub supports_without_replica_labels: bool,
}

impl Advertised {
    fn from_info(i: &info::InfoResponse) -> Self {
        let store = i.store.clone().unwrap_or_default();
        Self {
            component_type: i.component_type.clone(),
            label_sets: i
                .label_sets
                .iter()
                .map(|s| aeon_storeapi::convert::labels_from_pb(&s.labels))
                .collect(),
            min_time: store.min_time,
            max_time: store.max_time,
            supports_without_replica_labels: store.supports_without_replica_labels,
        }
    }

    /// Whether a request for `[min, max]` with `matchers` can have data here:
    /// the time ranges overlap and some label set does not contradict the
    /// matchers (a matcher on a label the set lacks does not contradict).
    pub fn matches(&self, min: i64, max: i64, matchers: &[Matcher]) -> bool {
        if self.min_time > max || self.max_time < min {
            return false;
        }
        if self.label_sets.is_empty() {
            return true;
        }
        self.label_sets.iter().any(|ls| {
            matchers.iter().all(|m| match ls.get(&m.name) {
                Some(v) => m.matches(v),
                None => true,
            })
        })
    }
}

/// The health and advertisement of one endpoint, as shown on the stores page.
#[derive(Debug, Clone)]
pub struct EndpointStatus {
    pub address: String,
    pub strict: bool,
    pub healthy: bool,
    pub last_check: Option<SystemTime>,
    pub last_error: Option<String>,
    pub advertised: Option<Advertised>,
}

#[derive(Debug)]
struct State {
    healthy: bool,
    last_check: Option<SystemTime>,
    last_error: Option<String>,
    advertised: Option<Advertised>,
    unhealthy_since: Option<Instant>,
}

/// One endpoint: its client and its last known state.
pub struct Endpoint {
    address: String,
    strict: bool,
    client: Arc<dyn StoreApi>,
    state: RwLock<State>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint over any store (not yet checked: unhealthy until the first Info).
    pub fn new(address: impl Into<String>, client: Arc<dyn StoreApi>, strict: bool) -> Self {
        Self {
            address: address.into(),
            strict,
            client,
            state: RwLock::new(State {
                healthy: false,
                last_check: None,
                last_error: None,
                advertised: None,
                unhealthy_since: Some(Instant::now()),
            }),
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn client(&self) -> &Arc<dyn StoreApi> {
        &self.client
    }

    /// Whether queries may use it (healthy, or strict).
    pub fn usable(&self) -> bool {
        self.strict || self.state.read().is_ok_and(|s| s.healthy)
    }

    /// The last advertisement (None before the first successful Info).
    pub fn advertised(&self) -> Option<Advertised> {
        self.state.read().ok().and_then(|s| s.advertised.clone())
    }

    /// Calls Info and records the outcome.
    pub async fn check(&self) {
        let res = tokio::time::timeout(INFO_TIMEOUT, self.client.info()).await;
        let now = SystemTime::now();
        let Ok(mut st) = self.state.write() else {
            return;
        };
        st.last_check = Some(now);
        match res {
            Ok(Ok(info)) => {
                st.healthy = true;
                st.last_error = None;
                st.advertised = Some(Advertised::from_info(&info));
                st.unhealthy_since = None;
            }
            Ok(Err(e)) => mark_unhealthy(&mut st, tonic::Status::from(e).message().to_owned()),
            Err(_) => mark_unhealthy(
                &mut st,
                format!("info call timed out after {INFO_TIMEOUT:?}"),
            ),
        }
    }

    /// The status for the stores page.
    pub fn status(&self) -> EndpointStatus {
        let st = self.state.read();
        match st {
            Ok(s) => EndpointStatus {
                address: self.address.clone(),
                strict: self.strict,
                healthy: s.healthy,
                last_check: s.last_check,
                last_error: s.last_error.clone(),
                advertised: s.advertised.clone(),
            },
            Err(_) => EndpointStatus {
                address: self.address.clone(),
                strict: self.strict,
                healthy: false,
                last_check: None,
                last_error: Some("state poisoned".into()),
                advertised: None,
            },
        }
    }

    fn unhealthy_for(&self) -> Option<Duration> {
        self.state
            .read()
            .ok()
            .and_then(|s| s.unhealthy_since.map(|t| t.elapsed()))
    }
}

fn mark_unhealthy(st: &mut State, err: String) {
    if st.healthy || st.unhealthy_since.is_none() {
        st.unhealthy_since = Some(Instant::now());
    }
    st.healthy = false;
    st.last_error = Some(err);
}

/// Creates the client of an address.
pub type Connector = Arc<dyn Fn(&str) -> Result<Arc<dyn StoreApi>> + Send + Sync>;

/// The gRPC connector (lazy connections, reconnecting as needed; Info falls
/// back to the deprecated `Store/Info` for endpoints older than the Info API).
pub fn grpc_connector() -> Connector {
    Arc::new(|addr: &str| {
        let c = StoreClient::connect_lazy(addr, ClientOptions::default())?;
        Ok(Arc::new(c) as Arc<dyn StoreApi>)
    })
}

/// The current set of endpoints.
pub struct EndpointSet {
    endpoints: RwLock<BTreeMap<String, Arc<Endpoint>>>,
    connector: Connector,
    unhealthy_timeout: Duration,
}

impl std::fmt::Debug for EndpointSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointSet").finish_non_exhaustive()
    }
}

impl EndpointSet {
    /// An empty set creating clients with `connector`.
    pub fn new(connector: Connector, unhealthy_timeout: Duration) -> Self {
        Self {
            endpoints: RwLock::new(BTreeMap::new()),
            connector,
            unhealthy_timeout,
        }
    }

    /// Adds an endpoint over an existing store (in-process stores, tests).
    pub fn insert(&self, ep: Endpoint) {
        if let Ok(mut m) = self.endpoints.write() {
            m.insert(ep.address.clone(), Arc::new(ep));
        }
    }

    /// Makes the set equal to `wanted` (address → strict): new addresses get a
    /// client, vanished ones are dropped, existing ones keep their state.
    /// Returns the new endpoints (not yet checked) and client errors.
    pub fn sync(&self, wanted: &BTreeMap<String, bool>) -> (Vec<Arc<Endpoint>>, Vec<Error>) {
        let (mut added, mut errs) = (Vec::new(), Vec::new());
        let Ok(mut m) = self.endpoints.write() else {
            return (added, errs);
        };
        m.retain(|a, _| wanted.contains_key(a));
        for (addr, strict) in wanted {
            if m.get(addr).is_some_and(|e| e.strict == *strict) {
                continue;
            }
            match (self.connector)(addr) {
                Ok(client) => {
                    let ep = Arc::new(Endpoint::new(addr.clone(), client, *strict));
                    added.push(ep.clone());
                    m.insert(addr.clone(), ep);
                }
                Err(e) => errs.push(e),
            }
        }
        (added, errs)
    }

    /// All endpoints.
    pub fn all(&self) -> Vec<Arc<Endpoint>> {
        self.endpoints
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Polls Info on every endpoint concurrently.
    pub async fn check_all(&self) {
        let eps = self.all();
        futures::future::join_all(eps.iter().map(|e| e.check())).await;
    }

    /// Usable endpoints that may hold data for `[min, max]` and `matchers`.
    pub fn matching(&self, min: i64, max: i64, matchers: &[Matcher]) -> Vec<Arc<Endpoint>> {
        self.all()
            .into_iter()
            .filter(|e| e.usable())
            .filter(|e| match e.advertised() {
                Some(a) => a.matches(min, max, matchers),
                None => e.strict,
            })
            .collect()
    }

    /// Status of every endpoint except those unhealthy for longer than
    /// `--store.unhealthy-timeout`.
    pub fn statuses(&self) -> Vec<EndpointStatus> {
        self.all()
            .into_iter()
            .filter(|e| {
                e.unhealthy_for()
                    .is_none_or(|d| d <= self.unhealthy_timeout)
            })
            .map(|e| e.status())
            .collect()
    }
}

/// Where endpoints come from: `--endpoint` / `--endpoint-strict` specs
/// (static, `dns+`, `dnssrv+`, `dnssrvnoa+`), file SD files, and Kubernetes
/// EndpointSlice watchers (`--endpoint.k8s`, `--endpoint.k8s-selector`).
#[derive(Debug)]
pub struct Discovery {
    pub specs: Vec<EndpointSpec>,
    pub strict: Vec<EndpointSpec>,
    pub sd_files: Vec<String>,
    dns: aeon_discovery::Provider,
    k8s: Vec<aeon_discovery::K8sWatcher>,
}

impl Discovery {
    /// Parses the endpoint flag values; DNS through the system configuration.
    pub fn from_flags(
        endpoints: &[String],
        strict: &[String],
        sd_files: &[String],
    ) -> Result<Self> {
        Self::with_resolver(
            endpoints,
            strict,
            sd_files,
            aeon_discovery::DnsResolver::system_or_getaddrinfo(),
        )
    }

    /// Like [`Discovery::from_flags`] with a given DNS resolver.
    pub fn with_resolver(
        endpoints: &[String],
        strict: &[String],
        sd_files: &[String],
        resolver: aeon_discovery::DnsResolver,
    ) -> Result<Self> {
        Ok(Self {
            specs: endpoints
                .iter()
                .map(|s| parse_spec(s))
                .collect::<Result<_>>()?,
            strict: strict
                .iter()
                .map(|s| parse_spec(s))
                .collect::<Result<_>>()?,
            sd_files: sd_files.to_vec(),
            dns: aeon_discovery::Provider::new(resolver),
            k8s: Vec::new(),
        })
    }

    /// Everything the flags ask for, Kubernetes watchers started (they run
    /// until the `Discovery` is dropped). Needs a tokio runtime.
    pub async fn from_args(args: &crate::Args) -> Result<Self> {
        let mut d = Self::from_flags(&args.endpoint, &args.endpoint_strict, &args.store_sd_files)?;
        let targets = k8s_targets(&args.endpoint_k8s, &args.endpoint_k8s_selector)?;
        if !targets.is_empty() {
            let client = aeon_discovery::k8s::client(args.k8s_kubeconfig.as_deref())
                .await
                .map_err(|e| Error::Flag {
                    flag: "endpoint.k8s",
                    reason: aeon_discovery::error_chain(&e),
                })?;
            d.watch_k8s(client, targets);
        }
        Ok(d)
    }

    /// Starts one EndpointSlice watcher per target.
    pub fn watch_k8s(
        &mut self,
        client: aeon_discovery::K8sClient,
        targets: Vec<aeon_discovery::K8sTarget>,
    ) {
        for t in targets {
            tracing::info!(namespace = t.namespace.as_deref().unwrap_or("*"), selector = %t.selector, "watching endpointslices");
            self.k8s
                .push(aeon_discovery::K8sWatcher::spawn(client.clone(), t));
        }
    }

    /// The Kubernetes watchers.
    pub fn k8s_watchers(&self) -> &[aeon_discovery::K8sWatcher] {
        &self.k8s
    }

    /// Receivers that change whenever a Kubernetes watcher's endpoints
    /// change, for [`k8s_changed`] (so pods coming and going take effect at
    /// once rather than on the next resolve tick).
    pub fn k8s_changes(&self) -> Vec<tokio::sync::watch::Receiver<aeon_discovery::K8sSnapshot>> {
        self.k8s
            .iter()
            .map(aeon_discovery::K8sWatcher::subscribe)
            .collect()
    }

    /// Resolves everything now: address → strict. Failures are logged and
    /// skipped (a DNS name that does not resolve contributes nothing; a
    /// failed lookup keeps its previous addresses).
    pub async fn resolve(&self) -> BTreeMap<String, bool> {
        self.resolve_with_warnings().await.0
    }

    /// [`Discovery::resolve`] plus one warning per failing source (DNS
    /// spec, file SD file or target, Kubernetes watcher).
    pub async fn resolve_with_warnings(&self) -> (BTreeMap<String, bool>, Vec<String>) {
        let mut warnings = Vec::new();
        let mut specs: Vec<(EndpointSpec, bool)> =
            self.specs.iter().map(|s| (s.clone(), false)).collect();
        specs.extend(self.strict.iter().map(|s| (s.clone(), true)));
        for pattern in &self.sd_files {
            for path in expand_glob(pattern) {
                match read_file_sd(&path) {
                    Ok(targets) => {
                        for t in targets {
                            match parse_spec(&t) {
                                Ok(s) => specs.push((s, false)),
                                Err(e) => {
                                    tracing::warn!(error = %e, "skipping file SD target");
                                    warnings.push(e.to_string());
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = ?e, "file SD");
                        warnings.push(aeon_discovery::error_chain(&e));
                    }
                }
            }
        }
        let all: Vec<EndpointSpec> = specs.iter().map(|(s, _)| s.clone()).collect();
        let resolved = self.dns.resolve(&all).await;
        warnings.extend(resolved.warnings);
        let mut out = BTreeMap::new();
        for (spec, strict) in specs {
            for a in resolved.addresses.get(&spec).into_iter().flatten() {
                *out.entry(a.clone()).or_insert(false) |= strict;
            }
        }
        for w in &self.k8s {
            let snap = w.snapshot();
            if let Some(e) = snap.error {
                warnings.push(e);
            }
            for a in snap.addresses {
                out.entry(a).or_insert(false);
            }
        }
        (out, warnings)
    }
}

/// Waits until one of `rxs` sees a new snapshot; never returns when there
/// are none (or all watchers stopped), so it can sit in a `select!`.
pub async fn k8s_changed(rxs: &mut [tokio::sync::watch::Receiver<aeon_discovery::K8sSnapshot>]) {
    let live: Vec<_> = rxs.iter_mut().map(|rx| Box::pin(rx.changed())).collect();
    if live.is_empty() {
        return std::future::pending().await;
    }
    match futures::future::select_all(live).await {
        (Ok(()), _, _) => {}
        (Err(_), _, _) => std::future::pending().await,
    }
}

/// Parses `--endpoint.k8s` and `--endpoint.k8s-selector` values.
pub fn k8s_targets(
    services: &[String],
    selectors: &[String],
) -> Result<Vec<aeon_discovery::K8sTarget>> {
    let flag = |flag: &'static str| {
        move |e: aeon_discovery::Error| Error::Flag {
            flag,
            reason: e.to_string(),
        }
    };
    let mut out = Vec::new();
    for s in services {
        out.extend(aeon_discovery::K8sTarget::service(s).map_err(flag("endpoint.k8s"))?);
    }
    for s in selectors {
        out.extend(aeon_discovery::K8sTarget::selector(s).map_err(flag("endpoint.k8s-selector"))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aeon_model::MatchType;

    #[test]
    fn spec_parsing() {
        assert_eq!(
            parse_spec("1.2.3.4:19090").unwrap(),
            EndpointSpec::Static("1.2.3.4:19090".into())
        );
        assert_eq!(
            parse_spec("dns+stores.example.org:9090").unwrap(),
            EndpointSpec::Dns {
                host: "stores.example.org".into(),
                port: 9090
            }
        );
        assert!(matches!(
            parse_spec("dnssrv+_grpc._tcp.thanos-store.svc").unwrap(),
            EndpointSpec::Srv {
                resolve_targets: true,
                ..
            }
        ));
        for bad in ["", "nohost", "dns+noport", "dns+h:x", "foo+h:1", "h:99999"] {
            let e = parse_spec(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidEndpoint { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn k8s_flags_parse_and_name_the_flag_on_error() {
        let t = k8s_targets(
            &["monitoring,other/aeon-store:grpc".into()],
            &["*/app.kubernetes.io/component=sidecar:grpc".into()],
        )
        .unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[2].namespace, None);
        let e = k8s_targets(&["nonamespace:grpc".into()], &[]).unwrap_err();
        assert!(e.to_string().contains("endpoint.k8s"), "{e}");
        let e = k8s_targets(&[], &["ns/app=x".into()]).unwrap_err();
        assert!(e.to_string().contains("endpoint.k8s-selector"), "{e}");
    }

    #[test]
    fn deploy_example_config_parses_into_valid_discovery_flags() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/examples/querier-discovery.yaml");
        let m = <crate::Args as clap::CommandFactory>::command()
            .try_get_matches_from(["query"])
            .unwrap();
        let a: crate::Args =
            aeon_common::config::load_with_env(&m, Some(&path), Vec::new()).unwrap();
        assert_eq!(a.endpoint.len(), 4);
        for e in &a.endpoint {
            parse_spec(e).unwrap();
        }
        assert!(matches!(
            parse_spec(&a.endpoint[3]).unwrap(),
            EndpointSpec::Srv {
                resolve_targets: false,
                ..
            }
        ));
        let t = k8s_targets(&a.endpoint_k8s, &a.endpoint_k8s_selector).unwrap();
        assert_eq!(t.len(), 4, "{t:?}");
        assert_eq!(a.store_sd_files, ["/etc/aeon/sd/*.yaml"]);
    }

    #[tokio::test]
    async fn dns_resolves_localhost() {
        let d = Discovery::from_flags(&["dns+localhost:10901".into()], &[], &[]).unwrap();
        let (addrs, warnings) = d.resolve_with_warnings().await;
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(
            addrs
                .keys()
                .any(|a| a == "127.0.0.1:10901" || a == "[::1]:10901"),
            "{addrs:?}"
        );
    }

    #[test]
    fn file_sd_yaml_json_and_glob() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.yaml"),
            "- targets: ['a:1', 'b:2']\n- targets:\n  - c:3\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.json"),
            r#"[{"targets": ["d:4"], "labels": {"x": "y"}}]"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("other.txt"), "junk").unwrap();
        assert_eq!(
            read_file_sd(&dir.path().join("a.yaml")).unwrap(),
            ["a:1", "b:2", "c:3"]
        );
        assert_eq!(read_file_sd(&dir.path().join("b.json")).unwrap(), ["d:4"]);
        let pat = format!("{}/*.{{yaml}}", dir.path().display());
        assert!(expand_glob(&pat).is_empty());
        let pat = format!("{}/?.*", dir.path().display());
        let files = expand_glob(&pat);
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(read_file_sd(&dir.path().join("other.txt")).is_err());
        assert!(read_file_sd(&dir.path().join("missing.yaml")).is_err());
    }

    #[tokio::test]
    async fn discovery_combines_sources() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sd.yml"), "- targets: ['f:1']\n").unwrap();
        let d = Discovery::from_flags(
            &["s:1".into(), "dns+localhost:7".into()],
            &["x:9".into()],
            &[format!("{}/*.yml", dir.path().display())],
        )
        .unwrap();
        let got = d.resolve().await;
        assert_eq!(got.get("s:1"), Some(&false));
        assert_eq!(got.get("f:1"), Some(&false));
        assert_eq!(got.get("x:9"), Some(&true));
        assert!(got.keys().any(|k| k.ends_with(":7")));
    }

    #[test]
    fn advertised_matching() {
        let a = Advertised {
            label_sets: vec![Labels::from_pairs(&[("cluster", "eu"), ("replica", "a")])],
            min_time: 100,
            max_time: 200,
            ..Default::default()
        };
        let m = |k, n: &str, v: &str| Matcher::new(k, n, v).unwrap();
        assert!(a.matches(0, 100, &[]));
        assert!(!a.matches(201, 300, &[]));
        assert!(!a.matches(0, 99, &[]));
        assert!(a.matches(
            0,
            300,
            &[
                m(MatchType::Equal, "cluster", "eu"),
                m(MatchType::Equal, "job", "x")
            ]
        ));
        assert!(!a.matches(0, 300, &[m(MatchType::Equal, "cluster", "us")]));
        assert!(a.matches(0, 300, &[m(MatchType::RegexMatch, "cluster", "e.*")]));
        assert!(!a.matches(0, 300, &[m(MatchType::NotEqual, "replica", "a")]));
    }
}
