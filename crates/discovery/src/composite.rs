//! Every endpoint source together, as the querier uses them: `--endpoint` /
//! `--endpoint-strict` specs (static, `dns+`, `dnssrv+`, `dnssrvnoa+`),
//! file SD files ([`crate::file_sd`]) and Kubernetes EndpointSlice watchers
//! ([`crate::k8s`]), resolved together into one address → strict map.

use std::collections::BTreeMap;

use tokio::sync::watch;

use crate::Result;
use crate::dns::{DnsResolver, Provider, error_chain};
use crate::file_sd::{expand_glob, read_file_sd};
use crate::k8s::{K8sSnapshot, K8sTarget, K8sWatcher};
use crate::spec::Spec;

/// Where endpoints come from: specs, file SD files and Kubernetes watchers.
#[derive(Debug)]
pub struct Discovery {
    specs: Vec<Spec>,
    strict: Vec<Spec>,
    sd_files: Vec<String>,
    dns: Provider,
    k8s: Vec<K8sWatcher>,
}

impl Discovery {
    /// Parses the endpoint specs (`--endpoint`, `--endpoint-strict`) and
    /// keeps the file SD patterns (`--store.sd-files`); DNS through the
    /// system configuration ([`DnsResolver::system_or_getaddrinfo`]).
    pub fn new(endpoints: &[String], strict: &[String], sd_files: &[String]) -> Result<Self> {
        Self::with_resolver(
            endpoints,
            strict,
            sd_files,
            DnsResolver::system_or_getaddrinfo(),
        )
    }

    /// Like [`Discovery::new`] with a given DNS resolver.
    pub fn with_resolver(
        endpoints: &[String],
        strict: &[String],
        sd_files: &[String],
        resolver: DnsResolver,
    ) -> Result<Self> {
        let parse = |specs: &[String]| {
            specs
                .iter()
                .map(|s| Spec::parse(s))
                .collect::<Result<Vec<_>>>()
        };
        Ok(Self {
            specs: parse(endpoints)?,
            strict: parse(strict)?,
            sd_files: sd_files.to_vec(),
            dns: Provider::new(resolver),
            k8s: Vec::new(),
        })
    }

    /// Records DNS lookups in `metrics` (see [`crate::DnsMetrics`]).
    pub fn with_dns_metrics(mut self, metrics: crate::DnsMetrics) -> Self {
        self.dns.set_metrics(metrics);
        self
    }

    /// Starts one EndpointSlice watcher per target (they run until the
    /// `Discovery` is dropped). Needs a tokio runtime.
    pub fn watch_k8s(&mut self, client: kube::Client, targets: Vec<K8sTarget>) {
        for t in targets {
            tracing::info!(namespace = t.namespace.as_deref().unwrap_or("*"), selector = %t.selector, "watching endpointslices");
            self.k8s.push(K8sWatcher::spawn(client.clone(), t));
        }
    }

    /// The Kubernetes watchers.
    pub fn k8s_watchers(&self) -> &[K8sWatcher] {
        &self.k8s
    }

    /// Receivers that change whenever a Kubernetes watcher's endpoints
    /// change, for [`k8s_changed`] (so pods coming and going take effect at
    /// once rather than on the next resolve tick).
    pub fn k8s_changes(&self) -> Vec<watch::Receiver<K8sSnapshot>> {
        self.k8s.iter().map(K8sWatcher::subscribe).collect()
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
        let mut specs: Vec<(Spec, bool)> = self.specs.iter().map(|s| (s.clone(), false)).collect();
        specs.extend(self.strict.iter().map(|s| (s.clone(), true)));
        for pattern in &self.sd_files {
            for path in expand_glob(pattern) {
                match read_file_sd(&path) {
                    Ok(targets) => {
                        for t in targets {
                            match Spec::parse(&t) {
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
                        warnings.push(error_chain(&e));
                    }
                }
            }
        }
        let all: Vec<Spec> = specs.iter().map(|(s, _)| s.clone()).collect();
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
pub async fn k8s_changed(rxs: &mut [watch::Receiver<K8sSnapshot>]) {
    let live: Vec<_> = rxs.iter_mut().map(|rx| Box::pin(rx.changed())).collect();
    if live.is_empty() {
        return std::future::pending().await;
    }
    match futures::future::select_all(live).await {
        (Ok(()), _, _) => {}
        (Err(_), _, _) => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dns_resolves_localhost() {
        let d = Discovery::new(&["dns+localhost:10901".into()], &[], &[]).unwrap();
        let (addrs, warnings) = d.resolve_with_warnings().await;
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(
            addrs
                .keys()
                .any(|a| a == "127.0.0.1:10901" || a == "[::1]:10901"),
            "{addrs:?}"
        );
    }

    #[tokio::test]
    async fn combines_sources() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sd.yml"), "- targets: ['f:1', 's:1']\n").unwrap();
        let d = Discovery::new(
            &["s:1".into(), "dns+localhost:7".into()],
            &["x:9".into(), "s:1".into()],
            &[format!("{}/*.yml", dir.path().display())],
        )
        .unwrap();
        let got = d.resolve().await;
        assert_eq!(got.get("f:1"), Some(&false));
        assert_eq!(got.get("x:9"), Some(&true));
        // Strict wins when an address comes from several sources.
        assert_eq!(got.get("s:1"), Some(&true));
        assert!(got.keys().any(|k| k.ends_with(":7")));
    }

    #[tokio::test]
    async fn bad_file_sd_sources_warn_and_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yml"), "- targets: ['ok:1', 'no-port']\n").unwrap();
        std::fs::write(dir.path().join("b.yml"), "{not a list").unwrap();
        let d = Discovery::new(&[], &[], &[format!("{}/*.yml", dir.path().display())]).unwrap();
        let (got, warnings) = d.resolve_with_warnings().await;
        assert_eq!(got.keys().collect::<Vec<_>>(), ["ok:1"]);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("no-port"), "{warnings:?}");
        assert!(warnings[1].contains("b.yml"), "{warnings:?}");
    }

    #[test]
    fn bad_specs_are_rejected_naming_them() {
        let e = Discovery::new(&["no-port-here".into()], &[], &[]).unwrap_err();
        assert!(e.to_string().contains("no-port-here"), "{e}");
        assert!(Discovery::new(&[], &["dns+x".into()], &[]).is_err());
    }
}
