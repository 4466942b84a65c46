//! Generated protobuf and gRPC code for the Thanos Store API, the Thanos Info,
//! Metadata, Exemplars and Targets APIs, the store-gateway hints and
//! Prometheus remote read, from our own `.proto` files in `/proto`.
#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    missing_debug_implementations
)]

/// Package `thanos`: shared messages and the `thanos.Store`,
/// `thanos.Metadata`, `thanos.Exemplars` and `thanos.Targets` services.
pub mod thanos {
    include!(concat!(env!("OUT_DIR"), "/thanos.rs"));

    /// Package `thanos.info`: the `thanos.info.Info` service.
    pub mod info {
        include!(concat!(env!("OUT_DIR"), "/thanos.info.rs"));
    }
}

/// Package `hintspb`: store-gateway hints carried in `google.protobuf.Any`.
pub mod hintspb {
    include!(concat!(env!("OUT_DIR"), "/hintspb.rs"));
}

/// Package `prometheus`: Prometheus remote read.
pub mod prometheus {
    include!(concat!(env!("OUT_DIR"), "/prometheus.rs"));
}
