//! The crate's single error type.

/// Errors of endpoint discovery.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An endpoint specification (`--endpoint`, file SD entry) is invalid.
    #[error("invalid endpoint {spec:?}: {reason}")]
    InvalidSpec { spec: String, reason: String },
    /// Reading or parsing a file SD file failed.
    #[error("reading file SD file {path}")]
    FileSd {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A Kubernetes discovery flag (`--endpoint.k8s`, `--endpoint.k8s-selector`) is invalid.
    #[error("invalid kubernetes target {spec:?}: {reason}")]
    InvalidK8sTarget { spec: String, reason: String },
    /// Reading the system resolver configuration (`/etc/resolv.conf`) failed.
    #[error("reading the system DNS configuration")]
    SystemDnsConfig(#[source] Box<hickory_resolver::net::NetError>),
    /// A DNS lookup failed (not "name not found", which is an empty answer).
    #[error("dns lookup {record} {name}")]
    Lookup {
        record: &'static str,
        name: String,
        #[source]
        source: Box<hickory_resolver::net::NetError>,
    },
    /// A `getaddrinfo` lookup (no `/etc/resolv.conf`) failed.
    #[error("resolving {name}")]
    Getaddrinfo {
        name: String,
        #[source]
        source: std::io::Error,
    },
    /// SRV lookups need the system DNS configuration, which could not be read.
    #[error("SRV lookup {name}: no DNS configuration (/etc/resolv.conf) to query")]
    NoSrvResolver { name: String },
    /// Building the Kubernetes client configuration failed.
    #[error("kubernetes client configuration {source_name}")]
    K8sConfig {
        source_name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A Kubernetes API call failed.
    #[error("kubernetes {operation} endpointslices in {namespace}")]
    K8sApi {
        operation: &'static str,
        namespace: String,
        #[source]
        source: Box<kube::Error>,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
