//! gRPC metrics with the names, labels and buckets of the interceptors
//! Thanos runs (go-grpc-middleware's `providers/prometheus`):
//! - server ([`GrpcMetrics`]): `grpc_server_started_total`,
//!   `grpc_server_handled_total{…,grpc_code}`, `grpc_server_msg_received_total`,
//!   `grpc_server_msg_sent_total`, `grpc_server_handling_seconds`, every one
//!   labelled `grpc_type`, `grpc_service`, `grpc_method`; the Store and Info
//!   methods are pre-initialised (every code at 0) as Thanos's
//!   `InitializeMetrics` does, so error-rate selectors resolve before the
//!   first error. Plus Aeon's `aeon_storeapi_series_sent_total` and
//!   `aeon_storeapi_chunks_sent_total`.
//! - client ([`GrpcClientMetrics`], the querier's store clients):
//!   `grpc_client_started_total`, `grpc_client_handled_total`,
//!   `grpc_client_msg_received_total`, `grpc_client_msg_sent_total`,
//!   `grpc_client_handling_seconds`.
//!
//! A call is started when its request arrives (is sent) and handled when
//! its status is known: the `grpc-status` of a trailers-only response or of
//! the trailers, the status of a failed transport (client: `Unavailable`
//! unless the error says otherwise), or `Canceled` (`DeadlineExceeded`
//! once the call's `grpc-timeout` has passed) when the response is dropped
//! before its end. Messages are counted from the gRPC length-prefixed
//! framing of the bodies. The layer doing this is [`layer`].

pub(crate) mod layer;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// `grpc_type` of a method (go-grpc-middleware's `interceptors.GRPCType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum GrpcType {
    Unary,
    ServerStream,
}

impl GrpcType {
    fn as_str(self) -> &'static str {
        match self {
            GrpcType::Unary => "unary",
            GrpcType::ServerStream => "server_stream",
        }
    }
}

/// The methods Aeon serves or calls, with their type. An unknown method is
/// counted as unary.
const METHODS: &[(&str, &str, GrpcType)] = &[
    ("thanos.Store", "Info", GrpcType::Unary),
    ("thanos.Store", "Series", GrpcType::ServerStream),
    ("thanos.Store", "LabelNames", GrpcType::Unary),
    ("thanos.Store", "LabelValues", GrpcType::Unary),
    ("thanos.info.Info", "Info", GrpcType::Unary),
    ("grpc.health.v1.Health", "Check", GrpcType::Unary),
    ("grpc.health.v1.Health", "Watch", GrpcType::ServerStream),
];

/// The services a [`crate::StoreServer`] serves, pre-initialised like
/// Thanos's (gRPC health is registered after `InitializeMetrics` there).
const PREINITIALISED: &[&str] = &["thanos.Store", "thanos.info.Info"];

/// Go's `codes.Code.String()` of every code, in code order.
const CODES: [tonic::Code; 17] = [
    tonic::Code::Ok,
    tonic::Code::Cancelled,
    tonic::Code::Unknown,
    tonic::Code::InvalidArgument,
    tonic::Code::DeadlineExceeded,
    tonic::Code::NotFound,
    tonic::Code::AlreadyExists,
    tonic::Code::PermissionDenied,
    tonic::Code::ResourceExhausted,
    tonic::Code::FailedPrecondition,
    tonic::Code::Aborted,
    tonic::Code::OutOfRange,
    tonic::Code::Unimplemented,
    tonic::Code::Internal,
    tonic::Code::Unavailable,
    tonic::Code::DataLoss,
    tonic::Code::Unauthenticated,
];

/// A code as Go spells it (`OK`, `Canceled`, …).
pub(crate) fn code_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "Canceled",
        tonic::Code::Unknown => "Unknown",
        tonic::Code::InvalidArgument => "InvalidArgument",
        tonic::Code::DeadlineExceeded => "DeadlineExceeded",
        tonic::Code::NotFound => "NotFound",
        tonic::Code::AlreadyExists => "AlreadyExists",
        tonic::Code::PermissionDenied => "PermissionDenied",
        tonic::Code::ResourceExhausted => "ResourceExhausted",
        tonic::Code::FailedPrecondition => "FailedPrecondition",
        tonic::Code::Aborted => "Aborted",
        tonic::Code::OutOfRange => "OutOfRange",
        tonic::Code::Unimplemented => "Unimplemented",
        tonic::Code::Internal => "Internal",
        tonic::Code::Unavailable => "Unavailable",
        tonic::Code::DataLoss => "DataLoss",
        tonic::Code::Unauthenticated => "Unauthenticated",
    }
}

/// The labels of one call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Call {
    grpc_type: &'static str,
    grpc_service: String,
    grpc_method: String,
}

impl Call {
    /// The call of a request path `/<service>/<method>`.
    pub(crate) fn from_path(path: &str) -> Self {
        let (service, method) = path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or(("unknown", path));
        let typ = METHODS
            .iter()
            .find(|(s, m, _)| *s == service && *m == method)
            .map_or(GrpcType::Unary, |(_, _, t)| *t);
        Self {
            grpc_type: typ.as_str(),
            grpc_service: service.to_owned(),
            grpc_method: method.to_owned(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallCode {
    grpc_type: &'static str,
    grpc_service: String,
    grpc_method: String,
    grpc_code: &'static str,
}

/// Histogram buckets of `grpc_*_handling_seconds`.
#[derive(Debug, Clone, Copy)]
struct Buckets(&'static [f64]);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// Thanos's server buckets (`pkg/server/grpc`).
const SERVER_BUCKETS: Buckets = Buckets(&[
    0.001, 0.01, 0.1, 0.3, 0.6, 1.0, 3.0, 6.0, 9.0, 20.0, 30.0, 60.0, 90.0, 120.0,
]);

/// Thanos's store client buckets (`pkg/extgrpc`).
const CLIENT_BUCKETS: Buckets = Buckets(&[
    0.001, 0.01, 0.1, 0.3, 0.6, 1.0, 3.0, 6.0, 9.0, 20.0, 30.0, 60.0, 90.0, 120.0, 240.0, 360.0,
    720.0,
]);

/// One side's families (server or client).
#[derive(Clone, Debug)]
pub(crate) struct Families {
    started: Family<Call, Counter>,
    handled: Family<CallCode, Counter>,
    received: Family<Call, Counter>,
    sent: Family<Call, Counter>,
    seconds: Family<Call, Histogram, Buckets>,
}

impl Families {
    fn register(registry: &mut Registry, side: &str, buckets: Buckets) -> Self {
        let f = Self {
            started: Family::default(),
            handled: Family::default(),
            received: Family::default(),
            sent: Family::default(),
            seconds: Family::new_with_constructor(buckets),
        };
        let on = if side == "server" {
            "on the server"
        } else {
            "by the client"
        };
        registry.register(
            format!("grpc_{side}_started"),
            format!("Total number of RPCs started {on}"),
            f.started.clone(),
        );
        registry.register(
            format!("grpc_{side}_handled"),
            format!("Total number of RPCs completed {on}, regardless of success or failure"),
            f.handled.clone(),
        );
        registry.register(
            format!("grpc_{side}_msg_received"),
            format!("Total number of RPC stream messages received {on}"),
            f.received.clone(),
        );
        registry.register(
            format!("grpc_{side}_msg_sent"),
            format!("Total number of gRPC stream messages sent {on}"),
            f.sent.clone(),
        );
        registry.register(
            format!("grpc_{side}_handling_seconds"),
            format!("Histogram of response latency (seconds) of gRPC until it is finished {on}"),
            f.seconds.clone(),
        );
        f
    }

    /// Creates every series of `service`'s methods, counters at 0.
    fn preinitialise(&self, service: &str) {
        for (s, m, _) in METHODS.iter().filter(|(s, _, _)| *s == service) {
            let call = Call::from_path(&format!("/{s}/{m}"));
            let _ = self.started.get_or_create(&call);
            let _ = self.received.get_or_create(&call);
            let _ = self.sent.get_or_create(&call);
            let _ = self.seconds.get_or_create(&call);
            for code in CODES {
                let _ = self.handled.get_or_create(&call.with_code(code));
            }
        }
    }

    pub(crate) fn started(&self, call: &Call) {
        self.started.get_or_create(call).inc();
    }

    pub(crate) fn handled(&self, call: &Call, code: tonic::Code, seconds: f64) {
        self.handled.get_or_create(&call.with_code(code)).inc();
        self.seconds.get_or_create(call).observe(seconds);
    }

    pub(crate) fn received(&self, call: &Call) -> Counter {
        self.received.get_or_create_owned(call)
    }

    pub(crate) fn sent(&self, call: &Call) -> Counter {
        self.sent.get_or_create_owned(call)
    }
}

impl Call {
    fn with_code(&self, code: tonic::Code) -> CallCode {
        CallCode {
            grpc_type: self.grpc_type,
            grpc_service: self.grpc_service.clone(),
            grpc_method: self.grpc_method.clone(),
            grpc_code: code_name(code),
        }
    }
}

/// Metrics of served Store API calls. Cheap to clone (shared counters).
#[derive(Clone, Debug)]
pub struct GrpcMetrics {
    pub(crate) families: Families,
    series_sent: Counter,
    chunks_sent: Counter,
}

impl GrpcMetrics {
    /// Registers the server metrics on `registry`, with the Store and Info
    /// methods pre-initialised.
    pub fn register(registry: &mut Registry) -> Self {
        let families = Families::register(registry, "server", SERVER_BUCKETS);
        for s in PREINITIALISED {
            families.preinitialise(s);
        }
        let m = Self {
            families,
            series_sent: Counter::default(),
            chunks_sent: Counter::default(),
        };
        registry.register(
            "aeon_storeapi_series_sent",
            "Series sent in Series responses",
            m.series_sent.clone(),
        );
        registry.register(
            "aeon_storeapi_chunks_sent",
            "Chunks sent in Series responses",
            m.chunks_sent.clone(),
        );
        m
    }

    pub(crate) fn sent(&self, series: u64, chunks: u64) {
        self.series_sent.inc_by(series);
        self.chunks_sent.inc_by(chunks);
    }
}

/// Metrics of Store API calls made by clients (the querier). Cheap to
/// clone; one registration serves every client.
#[derive(Clone, Debug)]
pub struct GrpcClientMetrics {
    pub(crate) families: Families,
}

impl GrpcClientMetrics {
    /// Registers the client metrics on `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        Self {
            families: Families::register(registry, "client", CLIENT_BUCKETS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_from_paths() {
        let c = Call::from_path("/thanos.Store/Series");
        assert_eq!(
            (c.grpc_type, c.grpc_service.as_str(), c.grpc_method.as_str()),
            ("server_stream", "thanos.Store", "Series")
        );
        let c = Call::from_path("/thanos.info.Info/Info");
        assert_eq!(c.grpc_type, "unary");
        assert_eq!(Call::from_path("/x.Y/Z").grpc_type, "unary");
    }

    #[test]
    fn codes_are_spelled_as_in_go() {
        let names: Vec<&str> = CODES.iter().map(|c| code_name(*c)).collect();
        assert_eq!(names[0], "OK");
        assert_eq!(names[1], "Canceled");
        for (i, c) in CODES.iter().enumerate() {
            assert_eq!(*c as usize, i, "codes in code order");
        }
    }

    #[test]
    fn server_methods_are_preinitialised_with_every_code() {
        let mut reg = Registry::default();
        let _m = GrpcMetrics::register(&mut reg);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        for want in [
            r#"grpc_server_handled_total{grpc_type="server_stream",grpc_service="thanos.Store",grpc_method="Series",grpc_code="Unavailable"} 0"#,
            r#"grpc_server_handled_total{grpc_type="unary",grpc_service="thanos.info.Info",grpc_method="Info",grpc_code="OK"} 0"#,
            r#"grpc_server_started_total{grpc_type="unary",grpc_service="thanos.Store",grpc_method="LabelValues"} 0"#,
            r#"grpc_server_handling_seconds_count{grpc_type="unary",grpc_service="thanos.Store",grpc_method="LabelNames"} 0"#,
        ] {
            assert!(text.contains(want), "missing {want}:\n{text}");
        }
        assert_eq!(
            text.matches("grpc_server_handled_total{").count(),
            5 * 17,
            "five methods × seventeen codes"
        );
    }
}
