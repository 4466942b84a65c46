//! Store API endpoint discovery (layer L2): turns endpoint specs into
//! addresses for the querier.
//!
//! Modules: [`spec`] (parsing `host:port`, `dns+`, `dnssrv+`, `dnssrvnoa+`),
//! [`dns`] (hickory-resolver lookups reading `/etc/resolv.conf`, and a
//! [`Provider`] that keeps the last good answer of a failing spec), [`k8s`]
//! (Kubernetes EndpointSlice list+watch, see [`K8sWatcher`]).
//!
//! Entry points: [`Spec::parse`], [`DnsResolver::system`],
//! [`Provider::resolve`], [`K8sTarget::service`] / [`K8sTarget::selector`],
//! [`k8s::client`] and [`K8sWatcher::spawn`].

pub mod dns;
mod error;
pub mod k8s;
pub mod spec;

pub use dns::{DnsResolver, Provider, Resolved, error_chain};
pub use error::{Error, Result};
pub use k8s::{K8sSnapshot, K8sTarget, K8sWatcher, PortRef};
/// The Kubernetes client type the watchers take.
pub use kube::Client as K8sClient;
pub use spec::Spec;
