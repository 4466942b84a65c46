//! Store API endpoint discovery (layer L2): turns endpoint specs, file SD
//! files and Kubernetes EndpointSlices into addresses for the querier.
//!
//! Modules: [`spec`] (parsing `host:port`, `dns+`, `dnssrv+`, `dnssrvnoa+`),
//! [`dns`] (hickory-resolver lookups reading `/etc/resolv.conf`, and a
//! [`Provider`] that keeps the last good answer of a failing spec),
//! [`file_sd`] (Prometheus file SD files, glob patterns), [`k8s`]
//! (Kubernetes EndpointSlice list+watch, see [`K8sWatcher`]), and
//! [`Discovery`], all sources together resolved into address → strict.
//!
//! Entry points: [`Discovery::new`], [`Discovery::watch_k8s`],
//! [`Discovery::resolve`], [`k8s_changed`]; for single sources
//! [`Spec::parse`], [`DnsResolver::system`], [`Provider::resolve`],
//! [`file_sd::read_file_sd`], [`K8sTarget::service`] /
//! [`K8sTarget::selector`], [`k8s::client`] and [`K8sWatcher::spawn`].

#![warn(unreachable_pub)]

mod composite;
pub mod dns;
mod error;
pub mod file_sd;
pub mod k8s;
mod metrics;
pub mod spec;

pub use composite::{Discovery, k8s_changed};

pub use dns::{DnsResolver, Provider, Resolved, error_chain};
pub use error::{Error, Result};
pub use k8s::{K8sSnapshot, K8sTarget, K8sWatcher, PortRef};
/// The Kubernetes client type the watchers take.
pub use kube::Client as K8sClient;
pub use metrics::DnsMetrics;
pub use spec::Spec;
