//! The querier with TLS everywhere, by Thanos's flags: it dials a Store
//! API endpoint that requires client certificates (`--grpc-client-tls-*`),
//! serves its own Store API over TLS (`--grpc-server-tls-*`) and its HTTP
//! API over TLS with basic auth (`--http.config`). Certificates are made
//! for the test.

use std::sync::Arc;

use aeon_common::args::GrpcServerTlsArgs;
use aeon_common::tls::{ClientSettings, client_config};
use aeon_storeapi::{ClientOptions, ServerOptions, StoreApi, StoreClient, spawn_server};
use aeon_testkit::TestPki;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

fn https(pki: &TestPki) -> reqwest::Client {
    let cfg = client_config(
        &ClientSettings {
            ca: Some(pki.file("ca.pem")),
            alpn: vec![b"http/1.1".to_vec()],
            ..ClientSettings::default()
        },
        "test",
    )
    .unwrap();
    reqwest::Client::builder()
        .tls_backend_preconfigured((*cfg).clone())
        .build()
        .unwrap()
}

#[tokio::test]
async fn querier_over_tls_end_to_end() {
    let pki = TestPki::generate().unwrap();
    let stop = CancellationToken::new();
    // A store that requires client certificates from our CA.
    let store_tls = GrpcServerTlsArgs {
        grpc_server_tls_cert: pki.path("server.pem"),
        grpc_server_tls_key: pki.path("server-key.pem"),
        grpc_server_tls_client_ca: pki.path("ca.pem"),
        ..GrpcServerTlsArgs::default()
    };
    let s = stop.clone();
    let (store_addr, _task) = spawn_server(
        Arc::new(replica("a", 0.0)) as Arc<dyn StoreApi>,
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions {
            tls: store_tls.server_config().unwrap(),
            ..ServerOptions::default()
        },
        async move { s.cancelled().await },
    )
    .await
    .unwrap();

    let web = pki.dir().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\nbasic_auth_users:\n  grafana: {}\n",
            bcrypt::hash("dashboards", 4).unwrap()
        ),
    )
    .unwrap();
    let q = Querier::start(
        &[
            format!("--endpoint=localhost:{}", store_addr.port()),
            "--grpc-client-tls-secure".into(),
            format!("--grpc-client-tls-ca={}", pki.path("ca.pem")),
            format!("--grpc-client-tls-cert={}", pki.path("client.pem")),
            format!("--grpc-client-tls-key={}", pki.path("client-key.pem")),
            format!("--grpc-server-tls-cert={}", pki.path("server.pem")),
            format!("--grpc-server-tls-key={}", pki.path("server-key.pem")),
            format!("--http.config={}", web.display()),
        ],
        stop.clone(),
    )
    .await;

    // PromQL over HTTPS with basic auth, answered from the mTLS store.
    let http = https(&pki);
    let url = format!(
        "https://localhost:{}/api/v1/query",
        q.running.http_addr.port()
    );
    let query = [("query", "up"), ("time", &secs(T0 + 600_000))];
    let r = http
        .get(&url)
        .query(&query)
        .basic_auth("grafana", Some("dashboards"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(result(&v).len(), 1, "{v}");
    assert_eq!(num(&result(&v)[0]["value"][1]), 1.0);
    for auth in [None, Some("wrong")] {
        let mut req = http.get(&url).query(&query);
        if let Some(p) = auth {
            req = req.basic_auth("grafana", Some(p));
        }
        assert_eq!(req.send().await.unwrap().status(), 401);
    }
    // Plain HTTP to the TLS port gets no API answer.
    let plain = reqwest::get(format!(
        "http://{}/api/v1/query?query=up",
        q.running.http_addr
    ))
    .await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true));

    // The querier's own Store API speaks TLS (no client CA: no certificate
    // needed) and proxies the store behind it.
    let tls = aeon_common::args::GrpcClientTlsArgs {
        grpc_client_tls_secure: true,
        grpc_client_tls_ca: pki.path("ca.pem"),
        ..Default::default()
    };
    let c = StoreClient::connect(
        &format!("localhost:{}", q.running.grpc_addr.port()),
        ClientOptions {
            tls: tls.client_tls().unwrap(),
            ..ClientOptions::default()
        },
    )
    .await
    .unwrap();
    assert!(!c.info().await.unwrap().label_sets.is_empty());
    let plain = match StoreClient::connect(
        &q.running.grpc_addr.to_string(),
        ClientOptions::default(),
    )
    .await
    {
        Ok(c) => c.info().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(plain.is_err());
}

#[tokio::test]
async fn endpoints_without_a_client_certificate_are_unhealthy() {
    let pki = TestPki::generate().unwrap();
    let stop = CancellationToken::new();
    let store_tls = GrpcServerTlsArgs {
        grpc_server_tls_cert: pki.path("server.pem"),
        grpc_server_tls_key: pki.path("server-key.pem"),
        grpc_server_tls_client_ca: pki.path("ca.pem"),
        ..GrpcServerTlsArgs::default()
    };
    let s = stop.clone();
    let (store_addr, _task) = spawn_server(
        Arc::new(replica("a", 0.0)) as Arc<dyn StoreApi>,
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions {
            tls: store_tls.server_config().unwrap(),
            ..ServerOptions::default()
        },
        async move { s.cancelled().await },
    )
    .await
    .unwrap();
    // TLS but no client certificate: the endpoint is refused.
    let q = Querier::start(
        &[
            format!("--endpoint=localhost:{}", store_addr.port()),
            "--grpc-client-tls-secure".into(),
            format!("--grpc-client-tls-ca={}", pki.path("ca.pem")),
        ],
        stop.clone(),
    )
    .await;
    // /api/v1/stores shows why: the handshake error.
    let (code, v) = q.get("/api/v1/stores", &[]).await;
    assert_eq!(code, 200);
    let text = v.to_string();
    assert!(
        text.contains("CertificateRequired") || text.contains("certificate required"),
        "{v}"
    );
    let (_, v) = q
        .get(
            "/api/v1/query",
            &[("query", "up"), ("time", &secs(T0 + 600_000))],
        )
        .await;
    assert!(result(&v).is_empty(), "{v}");
}

#[tokio::test]
async fn per_endpoint_tls_from_the_endpoint_config() {
    let pki = TestPki::generate().unwrap();
    let stop = CancellationToken::new();
    // Replica "a" behind mutual TLS, replica "b" in plaintext.
    let store_tls = GrpcServerTlsArgs {
        grpc_server_tls_cert: pki.path("server.pem"),
        grpc_server_tls_key: pki.path("server-key.pem"),
        grpc_server_tls_client_ca: pki.path("ca.pem"),
        ..GrpcServerTlsArgs::default()
    };
    let s = stop.clone();
    let (tls_addr, _task) = spawn_server(
        Arc::new(replica("a", 0.0)) as Arc<dyn StoreApi>,
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions {
            tls: store_tls.server_config().unwrap(),
            ..ServerOptions::default()
        },
        async move { s.cancelled().await },
    )
    .await
    .unwrap();
    let plain_addr = serve(other_cluster(), &stop).await;
    let config = format!(
        "endpoints:
  - address: {plain_addr}
  - address: 127.0.0.1:{port}
    strict: true
    client_config:
      server_name: aeon.test
      tls_config:
        ca_file: {ca}
        cert_file: {cert}
        key_file: {key}
",
        port = tls_addr.port(),
        ca = pki.path("ca.pem"),
        cert = pki.path("client.pem"),
        key = pki.path("client-key.pem"),
    );
    let q = Querier::start(&[format!("--endpoint.sd-config={config}")], stop.clone()).await;
    let (code, v) = q
        .get(
            "/api/v1/query",
            &[("query", "up"), ("time", &secs(T0 + 600_000))],
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let clusters: Vec<&str> = result(&v)
        .iter()
        .map(|r| r["metric"]["cluster"].as_str().unwrap())
        .collect();
    assert_eq!(clusters.len(), 2, "{v}");
    assert!(clusters.contains(&"eu") && clusters.contains(&"us"), "{v}");
}
