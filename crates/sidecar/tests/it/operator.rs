//! The `aeon-sidecar` binary run with the argument list prometheus-operator
//! builds for its `thanos-sidecar` container (`spec.thanos` with
//! `grpcServerTlsConfig` and object storage), next to a real Prometheus
//! 3.5; then a client with the querier's `--grpc-client-tls-*` flags and a
//! client certificate reads Store API data from it over mutual TLS.
//!
//! The operator's list, restated (pkg/prometheus/server/statefulset.go):
//!
//! ```text
//! sidecar
//! --prometheus.url=http://localhost:9090/
//! --prometheus.http-client={"tls_config": {"insecure_skip_verify":true}}
//! --grpc-address=:10901
//! --http-address=:10902
//! --grpc-server-tls-cert=<file>
//! --grpc-server-tls-key=<file>
//! --grpc-server-tls-client-ca=<file>
//! --objstore.config=$(OBJSTORE_CONFIG)
//! --tsdb.path=/prometheus
//! --log.level=<level>
//! --log.format=<logfmt|json>
//! ```
//!
//! Newer operators pass `--prometheus.http-client-file=<file>` instead, a
//! file with the same `tls_config` and, when Prometheus's web config has
//! basic auth, a `basic_auth` section; with Prometheus serving TLS the URL's
//! scheme is https. Only the port numbers differ here (free ports, as tests
//! run in parallel); everything else is the operator's text, `$(VAR)`
//! included.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aeon_common::args::GrpcClientTlsArgs;
use aeon_common::testutil::Proc;
use aeon_model::Labels;
use aeon_storeapi::merge::collect_series;
use aeon_storeapi::pb::thanos::{self, label_matcher::Type};
use aeon_storeapi::{ClientOptions, StoreApi, StoreClient};
use aeon_testkit::TestPki;
use clap::Parser;

use crate::common::*;

/// The querier's client flags, parsed as `aeon query` parses them.
#[derive(Parser)]
struct QuerierClientFlags {
    #[command(flatten)]
    tls: GrpcClientTlsArgs,
}

fn querier_flags(pki: &TestPki, with_cert: bool) -> GrpcClientTlsArgs {
    let mut v = vec![
        "query".to_string(),
        "--grpc-client-tls-secure".into(),
        format!("--grpc-client-tls-ca={}", pki.path("ca.pem")),
    ];
    if with_cert {
        v.push(format!("--grpc-client-tls-cert={}", pki.path("client.pem")));
        v.push(format!(
            "--grpc-client-tls-key={}",
            pki.path("client-key.pem")
        ));
    }
    QuerierClientFlags::try_parse_from(v).unwrap().tls
}

/// The operator's arguments with `http_client` (the inline or file flag)
/// and the Prometheus URL it builds.
fn operator_args(
    prom_url: &str,
    http_client: &str,
    grpc: u16,
    http: u16,
    pki: &TestPki,
    tsdb: &Path,
) -> Vec<String> {
    vec![
        "sidecar".into(),
        format!("--prometheus.url={prom_url}/"),
        http_client.into(),
        format!("--grpc-address=:{grpc}"),
        format!("--http-address=:{http}"),
        format!("--grpc-server-tls-cert={}", pki.path("server.pem")),
        format!("--grpc-server-tls-key={}", pki.path("server-key.pem")),
        format!("--grpc-server-tls-client-ca={}", pki.path("ca.pem")),
        "--objstore.config=$(OBJSTORE_CONFIG)".into(),
        format!("--tsdb.path={}", tsdb.display()),
        "--log.level=info".into(),
        "--log.format=logfmt".into(),
    ]
}

fn series_req(min: i64) -> thanos::SeriesRequest {
    thanos::SeriesRequest {
        min_time: min,
        max_time: i64::MAX,
        matchers: vec![thanos::LabelMatcher::new(
            Type::Eq,
            "__name__",
            "http_requests_total",
        )],
        ..Default::default()
    }
}

/// Runs the sidecar with `args` and reads from it as the querier would.
async fn run_and_query(args: &[String], prom: &Prom, pki: &TestPki, grpc: u16, http: u16) {
    let bucket = tempfile::tempdir().unwrap();
    let objstore = format!(
        "type: FILESYSTEM\nconfig:\n  directory: \"{}\"\n",
        bucket.path().display()
    );
    let mut proc = Proc::spawn(
        "aeon-sidecar",
        Command::new(env!("CARGO_BIN_EXE_aeon-sidecar"))
            .args(args)
            .env("OBJSTORE_CONFIG", objstore),
    );
    let http_addr: SocketAddr = ([127, 0, 0, 1], http).into();
    // Ready = Prometheus reached through the configured client.
    proc.wait_ready(http_addr);
    proc.wait_line(Duration::from_secs(10), |l| {
        l.contains("gRPC server TLS enabled").then_some(())
    });

    let endpoint = format!("localhost:{grpc}");
    let good = StoreClient::connect(
        &endpoint,
        ClientOptions {
            tls: querier_flags(pki, true).client_tls().unwrap(),
            ..ClientOptions::default()
        },
    )
    .await
    .unwrap();
    let info = good.info().await.unwrap();
    assert_eq!(
        aeon_storeapi::convert::labels_from_pb(&info.label_sets[0].labels),
        Labels::from_pairs(EXT)
    );
    let (series, _) = collect_series(good.series(series_req(prom.start_ms)).await.unwrap())
        .await
        .unwrap();
    assert_eq!(series.len(), 12);

    // Without a client certificate the sidecar refuses the querier.
    let no_cert = match StoreClient::connect(
        &endpoint,
        ClientOptions {
            tls: querier_flags(pki, false).client_tls().unwrap(),
            ..ClientOptions::default()
        },
    )
    .await
    {
        Ok(c) => c.info().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(no_cert.is_err(), "served a client without certificate");
    // Plaintext gRPC gets nothing either.
    let plain = match StoreClient::connect(&endpoint, ClientOptions::default()).await {
        Ok(c) => c.info().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(plain.is_err(), "served a plaintext client");

    // $(OBJSTORE_CONFIG) was expanded: the blocks reach the bucket.
    eventually("a block shipped", || {
        let dir = bucket.path().to_owned();
        async move {
            std::fs::read_dir(&dir)
                .map(|d| d.flatten().any(|e| e.path().join("meta.json").exists()))
                .unwrap_or(false)
        }
    })
    .await;
    let (status, lines) = proc.stop();
    assert!(status.success(), "{status}: {lines:#?}");
}

#[tokio::test]
async fn operator_sidecar_arguments_inline_http_client() {
    let pki = TestPki::generate().unwrap();
    let prom = start_prometheus(PromOptions::default()).await;
    let [grpc, http] = aeon_testkit::free_ports::<2>();
    let prom_url = prom.url.replace("127.0.0.1", "localhost");
    let args = operator_args(
        &prom_url,
        r#"--prometheus.http-client={"tls_config": {"insecure_skip_verify":true}}"#,
        grpc,
        http,
        &pki,
        &prom.data,
    );
    run_and_query(&args, &prom, &pki, grpc, http).await;
}

#[tokio::test]
async fn operator_sidecar_arguments_http_client_file_against_tls_prometheus() {
    let pki = TestPki::generate().unwrap();
    // Prometheus itself serving TLS with basic auth (its web config).
    let web = pki.dir().join("prometheus-web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  thanos: {}\n",
            pki.path("server.pem"),
            pki.path("server-key.pem"),
            bcrypt::hash("sidecar-pw", 4).unwrap()
        ),
    )
    .unwrap();
    let prom = start_prometheus(PromOptions {
        web_config: Some((web, "thanos".into(), "sidecar-pw".into())),
        ..PromOptions::default()
    })
    .await;
    let password = pki.dir().join("prometheus-password");
    std::fs::write(&password, "sidecar-pw").unwrap();
    let client_file = pki.dir().join("prometheus.http-client-file.yaml");
    std::fs::write(
        &client_file,
        format!(
            "tls_config:\n  insecure_skip_verify: true\nbasic_auth:\n  username: thanos\n  password_file: {}\n",
            password.display()
        ),
    )
    .unwrap();
    let [grpc, http] = aeon_testkit::free_ports::<2>();
    let args = operator_args(
        &prom.url,
        &format!("--prometheus.http-client-file={}", client_file.display()),
        grpc,
        http,
        &pki,
        &prom.data,
    );
    run_and_query(&args, &prom, &pki, grpc, http).await;

    // The same with a wrong password: Prometheus refuses, the sidecar never
    // becomes ready and says why.
    std::fs::write(&password, "wrong").unwrap();
    let [grpc, http] = aeon_testkit::free_ports::<2>();
    let args = operator_args(
        &prom.url,
        &format!("--prometheus.http-client-file={}", client_file.display()),
        grpc,
        http,
        &pki,
        &prom.data,
    );
    let bucket = tempfile::tempdir().unwrap();
    let mut proc = Proc::spawn(
        "aeon-sidecar",
        Command::new(env!("CARGO_BIN_EXE_aeon-sidecar"))
            .args(&args)
            .env(
                "OBJSTORE_CONFIG",
                format!(
                    "type: FILESYSTEM\nconfig:\n  directory: \"{}\"\n",
                    bucket.path().display()
                ),
            ),
    );
    proc.wait_line(Duration::from_secs(30), |l| {
        (l.contains("prometheus not reachable") && l.contains("HTTP 401")).then_some(())
    });
    let _ = proc.stop();
}
