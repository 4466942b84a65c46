//! Endpoint management: which Store API endpoints exist (static flags,
//! `dns+`/`dnssrv+`/`dnssrvnoa+` lookups, file SD, Kubernetes EndpointSlices
//! — discovered by aeon-discovery's [`Discovery`] built from the flags here),
//! their health (Info polled every 5 s) and what they advertise (external
//! label sets, time range), and which of them can hold data for a request.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use aeon_discovery::Discovery;
use aeon_model::{Labels, Matcher};
use aeon_storeapi::pb::thanos::info;
use aeon_storeapi::{
    ClientOptions, ClientTls, ExemplarsApi, MetadataApi, StoreApi, StoreClient, TargetsApi,
};

use crate::{Error, Result};

/// How often Info is polled (Thanos: 5 s).
pub(crate) const INFO_INTERVAL: Duration = Duration::from_secs(5);
/// Deadline of one Info call.
pub(crate) const INFO_TIMEOUT: Duration = Duration::from_secs(5);

/// What an endpoint advertised in its last successful Info call.
#[derive(Debug, Clone, Default)]
pub(crate) struct Advertised {
    /// Component type (`sidecar`, `store`, `query`, ...).
    pub(crate) component_type: String,
    /// External label sets.
    pub(crate) label_sets: Vec<Labels>,
    /// Inclusive time range in ms.
    pub(crate) min_time: i64,
    pub(crate) max_time: i64,
    /// Whether the store strips `without_replica_labels` itself.
    pub(crate) supports_without_replica_labels: bool,
    /// Whether the store applies `shard_info` itself.
    pub(crate) supports_sharding: bool,
    /// Which of the Metadata, Exemplars and Targets APIs it serves.
    pub(crate) metadata: bool,
    pub(crate) exemplars: bool,
    pub(crate) targets: bool,
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
            supports_sharding: store.supports_sharding,
            metadata: i.metric_metadata.is_some(),
            exemplars: i.exemplars.is_some(),
            targets: i.targets.is_some(),
        }
    }

    /// Whether a request for `[min, max]` with `matchers` can have data here:
    /// the time ranges overlap and some label set does not contradict the
    /// matchers (a matcher on a label the set lacks does not contradict).
    pub(crate) fn matches(&self, min: i64, max: i64, matchers: &[Matcher]) -> bool {
        if self.min_time > max || self.max_time < min {
            return false;
        }
        self.matches_labels(matchers)
    }

    /// Whether some label set does not contradict `matchers` (Thanos's
    /// `LabelSetsMatch`; no label sets match everything).
    pub(crate) fn matches_labels(&self, matchers: &[Matcher]) -> bool {
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
pub(crate) struct EndpointStatus {
    pub(crate) address: String,
    pub(crate) healthy: bool,
    pub(crate) last_check: Option<SystemTime>,
    pub(crate) last_error: Option<String>,
    pub(crate) advertised: Option<Advertised>,
}

#[derive(Debug)]
struct State {
    healthy: bool,
    last_check: Option<SystemTime>,
    last_error: Option<String>,
    advertised: Option<Advertised>,
    unhealthy_since: Option<Instant>,
}

/// The clients of one endpoint: the Store API, and the Metadata, Exemplars
/// and Targets APIs when the transport can call them (a gRPC endpoint can;
/// whether it serves them, its Info says).
#[derive(Clone)]
pub struct Clients {
    pub store: Arc<dyn StoreApi>,
    pub metadata: Option<Arc<dyn MetadataApi>>,
    pub exemplars: Option<Arc<dyn ExemplarsApi>>,
    pub targets: Option<Arc<dyn TargetsApi>>,
}

impl Clients {
    /// A Store API client only.
    pub fn store_only(store: Arc<dyn StoreApi>) -> Self {
        Self {
            store,
            metadata: None,
            exemplars: None,
            targets: None,
        }
    }

    /// One client for every API (a gRPC [`StoreClient`]).
    pub fn all<T: StoreApi + MetadataApi + ExemplarsApi + TargetsApi>(client: Arc<T>) -> Self {
        Self {
            store: client.clone(),
            metadata: Some(client.clone()),
            exemplars: Some(client.clone()),
            targets: Some(client),
        }
    }
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("metadata", &self.metadata.is_some())
            .field("exemplars", &self.exemplars.is_some())
            .field("targets", &self.targets.is_some())
            .finish_non_exhaustive()
    }
}

/// One endpoint: its clients and its last known state.
pub struct Endpoint {
    address: String,
    strict: bool,
    client: Arc<dyn StoreApi>,
    clients: Clients,
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
        Self::with_clients(address, Clients::store_only(client), strict)
    }

    /// An endpoint with clients for the Store API and others (not yet
    /// checked: unhealthy until the first Info).
    pub fn with_clients(address: impl Into<String>, clients: Clients, strict: bool) -> Self {
        Self {
            address: address.into(),
            strict,
            client: clients.store.clone(),
            clients,
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

    pub(crate) fn client(&self) -> &Arc<dyn StoreApi> {
        &self.client
    }

    /// The Metadata client, if usable and advertised in Info.
    pub(crate) fn metadata(&self) -> Option<&Arc<dyn MetadataApi>> {
        let advertised = self.advertised().is_some_and(|a| a.metadata);
        self.clients.metadata.as_ref().filter(|_| advertised)
    }

    /// The Exemplars client, if usable and advertised in Info.
    pub(crate) fn exemplars(&self) -> Option<&Arc<dyn ExemplarsApi>> {
        let advertised = self.advertised().is_some_and(|a| a.exemplars);
        self.clients.exemplars.as_ref().filter(|_| advertised)
    }

    /// The Targets client, if usable and advertised in Info.
    pub(crate) fn targets(&self) -> Option<&Arc<dyn TargetsApi>> {
        let advertised = self.advertised().is_some_and(|a| a.targets);
        self.clients.targets.as_ref().filter(|_| advertised)
    }

    /// Whether queries may use it (healthy, or strict).
    pub(crate) fn usable(&self) -> bool {
        self.strict || self.state.read().is_ok_and(|s| s.healthy)
    }

    /// The last advertisement (None before the first successful Info).
    pub(crate) fn advertised(&self) -> Option<Advertised> {
        self.state.read().ok().and_then(|s| s.advertised.clone())
    }

    /// Calls Info and records the outcome.
    pub(crate) async fn check(&self) {
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
            // The whole cause chain: "transport error" alone hides a
            // refused TLS handshake or certificate.
            Ok(Err(e)) => mark_unhealthy(&mut st, aeon_common::Chain(&e).to_string()),
            Err(_) => mark_unhealthy(
                &mut st,
                format!("info call timed out after {INFO_TIMEOUT:?}"),
            ),
        }
    }

    /// The status for the stores page.
    pub(crate) fn status(&self) -> EndpointStatus {
        let st = self.state.read();
        match st {
            Ok(s) => EndpointStatus {
                address: self.address.clone(),
                healthy: s.healthy,
                last_check: s.last_check,
                last_error: s.last_error.clone(),
                advertised: s.advertised.clone(),
            },
            Err(_) => EndpointStatus {
                address: self.address.clone(),
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

/// Creates the clients of an address.
pub type Connector = Arc<dyn Fn(&str) -> Result<Clients> + Send + Sync>;

/// The gRPC connector (lazy connections, reconnecting as needed; Info falls
/// back to the deprecated `Store/Info` for endpoints older than the Info API),
/// over TLS when `tls` is given (`--grpc-client-tls-*`), or as `per_address`
/// says for the addresses it holds (`--endpoint.sd-config`), with `opts`
/// (e.g. metrics) for everything else.
pub fn grpc_connector(
    tls: Option<ClientTls>,
    per_address: BTreeMap<String, Option<ClientTls>>,
    opts: ClientOptions,
) -> Connector {
    Arc::new(move |addr: &str| {
        let opts = ClientOptions {
            tls: per_address
                .get(addr)
                .cloned()
                .unwrap_or_else(|| tls.clone()),
            ..opts.clone()
        };
        let c = StoreClient::connect_lazy(addr, opts)?;
        Ok(Clients::all(Arc::new(c)))
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
    pub(crate) fn sync(&self, wanted: &BTreeMap<String, bool>) -> (Vec<Arc<Endpoint>>, Vec<Error>) {
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
                Ok(clients) => {
                    let ep = Arc::new(Endpoint::with_clients(addr.clone(), clients, *strict));
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
    pub(crate) fn matching(&self, min: i64, max: i64, matchers: &[Matcher]) -> Vec<Arc<Endpoint>> {
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
    pub(crate) fn statuses(&self) -> Vec<EndpointStatus> {
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

/// The endpoint discovery the flags ask for (aeon-discovery's composite of
/// specs, file SD and Kubernetes), Kubernetes watchers started (they run
/// until the [`Discovery`] is dropped). Needs a tokio runtime.
pub(crate) async fn discovery(
    args: &crate::Args,
    config: &crate::endpoint_config::EndpointConfig,
) -> Result<Discovery> {
    let endpoints: Vec<String> = args
        .endpoint
        .iter()
        .chain(&config.endpoints)
        .cloned()
        .collect();
    let strict: Vec<String> = args
        .endpoint_strict
        .iter()
        .chain(&config.strict)
        .cloned()
        .collect();
    let mut d = Discovery::new(&endpoints, &strict, &args.store_sd_files)?;
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

/// Parses `--endpoint.k8s` and `--endpoint.k8s-selector` values.
pub(crate) fn k8s_targets(
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
    use aeon_discovery::Spec;
    use aeon_model::MatchType;

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
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/examples/querier-discovery.yaml");
        let m = <crate::Args as clap::CommandFactory>::command()
            .try_get_matches_from(["query"])
            .unwrap();
        let a: crate::Args =
            aeon_common::config::load_with_env(&m, Some(&path), Vec::new()).unwrap();
        assert_eq!(a.endpoint.len(), 4);
        for e in &a.endpoint {
            Spec::parse(e).unwrap();
        }
        assert!(matches!(
            Spec::parse(&a.endpoint[3]).unwrap(),
            Spec::Srv {
                resolve_targets: false,
                ..
            }
        ));
        let t = k8s_targets(&a.endpoint_k8s, &a.endpoint_k8s_selector).unwrap();
        assert_eq!(t.len(), 4, "{t:?}");
        assert_eq!(a.store_sd_files, ["/etc/aeon/sd/*.yaml"]);
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
