//! DNS resolution of endpoint specs with hickory-resolver: `dns+` (A and
//! AAAA), `dnssrv+` (SRV, then A/AAAA of every target) and `dnssrvnoa+`
//! (SRV targets used as host names), plus the [`Provider`] that keeps the
//! previous addresses of a spec whose lookup failed (Thanos's behaviour).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};

use crate::spec::{Spec, join_host_port};
use crate::{Error, Result};

/// A DNS stub resolver for endpoint specs.
#[derive(Clone)]
pub struct DnsResolver {
    /// `None`: the operating system's `getaddrinfo` (A/AAAA only), used
    /// when there is no `/etc/resolv.conf`.
    inner: Option<TokioResolver>,
}

impl std::fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsResolver").finish_non_exhaustive()
    }
}

impl DnsResolver {
    /// The system configuration: name servers, search domains and `ndots`
    /// from `/etc/resolv.conf`, `/etc/hosts` consulted first.
    pub fn system() -> Result<Self> {
        let mut b =
            TokioResolver::builder_tokio().map_err(|e| Error::SystemDnsConfig(Box::new(e)))?;
        tune(b.options_mut());
        let inner = b.build().map_err(|e| Error::SystemDnsConfig(Box::new(e)))?;
        Ok(Self { inner: Some(inner) })
    }

    /// Queries only the given name servers (UDP, TCP on truncation), no
    /// hosts file, no search domains. For tests and explicit setups.
    pub fn with_nameservers(servers: &[SocketAddr]) -> Result<Self> {
        let name_servers = servers
            .iter()
            .map(|s| {
                let mk = |mut c: ConnectionConfig| {
                    c.port = s.port();
                    c
                };
                NameServerConfig::new(
                    s.ip(),
                    true,
                    vec![mk(ConnectionConfig::udp()), mk(ConnectionConfig::tcp())],
                )
            })
            .collect();
        let config = ResolverConfig::from_name_servers(name_servers);
        let mut b = Resolver::builder_with_config(config, TokioRuntimeProvider::default());
        tune(b.options_mut());
        b.options_mut().use_hosts_file = ResolveHosts::Never;
        let inner = b.build().map_err(|e| Error::SystemDnsConfig(Box::new(e)))?;
        Ok(Self { inner: Some(inner) })
    }

    /// [`DnsResolver::system`], or when the system configuration cannot be
    /// read, [`DnsResolver::getaddrinfo`] (with a warning).
    pub fn system_or_getaddrinfo() -> Self {
        Self::system().unwrap_or_else(|e| {
            tracing::warn!(error = %error_chain(&e), "no DNS configuration: dns+ uses getaddrinfo, dnssrv+ cannot resolve");
            Self::getaddrinfo()
        })
    }

    /// The operating system's `getaddrinfo`: `dns+` works, SRV lookups fail.
    pub fn getaddrinfo() -> Self {
        Self { inner: None }
    }

    /// The addresses (`ip:port`, or `host:port` for static and `dnssrvnoa+`
    /// specs) a spec stands for now, sorted and deduplicated. A name that does
    /// not exist or has no records resolves to nothing (not an error), like
    /// Thanos.
    pub async fn resolve(&self, spec: &Spec) -> Result<Vec<String>> {
        let mut out = match spec {
            Spec::Static(a) => vec![a.clone()],
            Spec::Dns { host, port } => self
                .ips(host)
                .await?
                .into_iter()
                .map(|ip| join_host_port(&ip, *port))
                .collect(),
            Spec::Srv {
                name,
                port,
                resolve_targets,
            } => {
                let mut out = Vec::new();
                for (target, srv_port) in self.srv(name).await? {
                    let port = port.unwrap_or(srv_port);
                    if *resolve_targets {
                        for ip in self.ips(&target).await? {
                            out.push(join_host_port(&ip, port));
                        }
                    } else {
                        out.push(join_host_port(&target, port));
                    }
                }
                out
            }
        };
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn ips(&self, host: &str) -> Result<Vec<String>> {
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            return Ok(vec![ip.to_string()]);
        }
        let Some(inner) = &self.inner else {
            let addrs =
                tokio::net::lookup_host((host, 0))
                    .await
                    .map_err(|e| Error::Getaddrinfo {
                        name: host.to_owned(),
                        source: e,
                    })?;
            return Ok(addrs.map(|a| a.ip().to_string()).collect());
        };
        match inner.lookup_ip(host).await {
            Ok(l) => Ok(l.iter().map(|ip| ip.to_string()).collect()),
            Err(e) if not_found(&e) => Ok(Vec::new()),
            Err(source) => Err(Error::Lookup {
                record: "A/AAAA",
                name: host.to_owned(),
                source: Box::new(source),
            }),
        }
    }

    /// SRV targets (without the trailing dot) and ports.
    async fn srv(&self, name: &str) -> Result<Vec<(String, u16)>> {
        let Some(inner) = &self.inner else {
            return Err(Error::NoSrvResolver {
                name: name.to_owned(),
            });
        };
        match inner.srv_lookup(name).await {
            Ok(l) => Ok(l
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::SRV(s) => {
                        let t = s.target.to_utf8();
                        Some((t.trim_end_matches('.').to_owned(), s.port))
                    }
                    _ => None,
                })
                .collect()),
            Err(e) if not_found(&e) => Ok(Vec::new()),
            Err(source) => Err(Error::Lookup {
                record: "SRV",
                name: name.to_owned(),
                source: Box::new(source),
            }),
        }
    }
}

fn tune(o: &mut hickory_resolver::config::ResolverOpts) {
    // Both families, like Go's LookupIPAddr; no cache: every resolution
    // interval sees the current records (the node's DNS cache still applies).
    o.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    o.cache_size = 0;
}

fn not_found(e: &NetError) -> bool {
    e.is_nx_domain() || e.is_no_records_found()
}

/// The outcome of one [`Provider::resolve`] round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Addresses of each spec (the previous ones for a failed lookup).
    pub addresses: BTreeMap<Spec, Vec<String>>,
    /// One message per failed lookup, naming the spec.
    pub warnings: Vec<String>,
}

/// Resolves specs and remembers the last good answer of each: a failed
/// lookup keeps the previous addresses and yields a warning instead.
#[derive(Debug)]
pub struct Provider {
    resolver: DnsResolver,
    last: Mutex<BTreeMap<Spec, Vec<String>>>,
    metrics: Option<crate::DnsMetrics>,
}

impl Provider {
    /// A provider over `resolver`.
    pub fn new(resolver: DnsResolver) -> Self {
        Self {
            resolver,
            last: Mutex::new(BTreeMap::new()),
            metrics: None,
        }
    }

    /// Records lookups, failures and results in `metrics`.
    pub fn with_metrics(mut self, metrics: crate::DnsMetrics) -> Self {
        self.set_metrics(metrics);
        self
    }

    pub(crate) fn set_metrics(&mut self, metrics: crate::DnsMetrics) {
        self.metrics = Some(metrics);
    }

    /// The resolver used.
    pub fn resolver(&self) -> &DnsResolver {
        &self.resolver
    }

    /// Resolves every spec concurrently. Specs not asked for any more are
    /// forgotten.
    pub async fn resolve(&self, specs: &[Spec]) -> Resolved {
        let mut uniq: Vec<&Spec> = specs.iter().collect();
        uniq.sort();
        uniq.dedup();
        let results =
            futures::future::join_all(uniq.iter().map(|s| self.resolver.resolve(s))).await;
        let mut out = Resolved::default();
        let Ok(mut last) = self.last.lock() else {
            return out;
        };
        for (spec, res) in uniq.into_iter().zip(results) {
            if let Some(m) = self.metrics.as_ref().filter(|_| spec.is_dns()) {
                m.lookups.inc();
                if res.is_err() {
                    m.failures.inc();
                }
            }
            match res {
                Ok(addrs) => {
                    last.insert(spec.clone(), addrs.clone());
                    out.addresses.insert(spec.clone(), addrs);
                }
                Err(e) => {
                    let kept = last.get(spec).cloned().unwrap_or_default();
                    let msg = format!(
                        "dns resolution of {spec} failed, keeping {} previous addresses: {}",
                        kept.len(),
                        error_chain(&e)
                    );
                    tracing::warn!(spec = %spec, error = %error_chain(&e), kept = kept.len(), "dns resolution failed");
                    out.warnings.push(msg);
                    out.addresses.insert(spec.clone(), kept);
                }
            }
        }
        last.retain(|s, _| out.addresses.contains_key(s));
        if let Some(m) = &self.metrics {
            m.results.clear();
            for (spec, addrs) in &out.addresses {
                m.results
                    .get_or_create(&vec![("addr", spec.to_string())])
                    .set(addrs.len() as i64);
            }
        }
        out
    }
}

/// `error: cause: cause` on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
