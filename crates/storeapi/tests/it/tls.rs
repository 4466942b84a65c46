//! gRPC over TLS with Thanos's flag semantics: the server from
//! `--grpc-server-tls-*`, clients from `--grpc-client-tls-*`, real
//! handshakes with certificates generated for each test.

use std::net::SocketAddr;
use std::sync::Arc;

use aeon_common::args::{GrpcClientTlsArgs, GrpcServerTlsArgs};
use aeon_storeapi::testutil::{Fixture, MemStore};
use aeon_storeapi::{ClientOptions, ServerOptions, StoreApi, StoreClient, spawn_server};
use aeon_testkit::TestPki;
use tokio::sync::oneshot;

async fn serve(tls: &GrpcServerTlsArgs) -> (SocketAddr, oneshot::Sender<()>) {
    let opts = ServerOptions {
        tls: tls.server_config().unwrap(),
        ..ServerOptions::default()
    };
    let store: Arc<dyn StoreApi> = Arc::new(MemStore::from_fixture(&Fixture::standard()));
    let (tx, rx) = oneshot::channel::<()>();
    let (addr, _task) = spawn_server(store, "127.0.0.1:0".parse().unwrap(), opts, async move {
        let _ = rx.await;
    })
    .await
    .unwrap();
    (addr, tx)
}

fn server_flags(pki: &TestPki, client_ca: bool) -> GrpcServerTlsArgs {
    GrpcServerTlsArgs {
        grpc_server_tls_cert: pki.path("server.pem"),
        grpc_server_tls_key: pki.path("server-key.pem"),
        grpc_server_tls_client_ca: if client_ca {
            pki.path("ca.pem")
        } else {
            String::new()
        },
        ..GrpcServerTlsArgs::default()
    }
}

fn client_flags(pki: &TestPki, ca: &str, cert: Option<(&str, &str)>) -> GrpcClientTlsArgs {
    let (c, k) = cert.map_or((String::new(), String::new()), |(c, k)| {
        (pki.path(c), pki.path(k))
    });
    GrpcClientTlsArgs {
        grpc_client_tls_secure: true,
        grpc_client_tls_ca: pki.path(ca),
        grpc_client_tls_cert: c,
        grpc_client_tls_key: k,
        ..GrpcClientTlsArgs::default()
    }
}

/// Info through a client with `flags`; the error chain when it fails.
async fn info(endpoint: &str, flags: &GrpcClientTlsArgs) -> Result<usize, String> {
    let opts = ClientOptions {
        tls: flags.client_tls().unwrap(),
        ..ClientOptions::default()
    };
    let r = match StoreClient::connect(endpoint, opts).await {
        Ok(c) => c.info().await,
        Err(e) => Err(e),
    };
    r.map(|i| i.label_sets.len())
        .map_err(|e| aeon_common::Chain(&e).to_string())
}

#[tokio::test]
async fn mutual_tls_serves_the_right_client_only() {
    let pki = TestPki::generate().unwrap();
    let (addr, _stop) = serve(&server_flags(&pki, true)).await;
    let ep = format!("localhost:{}", addr.port());

    let good = client_flags(&pki, "ca.pem", Some(("client.pem", "client-key.pem")));
    assert_eq!(info(&ep, &good).await.unwrap(), 1);
    // Series data, not just Info, flows over the TLS connection.
    let c = StoreClient::connect(
        &ep,
        ClientOptions {
            tls: good.client_tls().unwrap(),
            ..ClientOptions::default()
        },
    )
    .await
    .unwrap();
    let names = c
        .label_names(aeon_storeapi::pb::thanos::LabelNamesRequest {
            start: i64::MIN / 2,
            end: i64::MAX / 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!names.names.is_empty());

    // No client certificate: the server refuses the handshake.
    let e = info(&ep, &client_flags(&pki, "ca.pem", None))
        .await
        .unwrap_err();
    assert!(
        e.contains("CertificateRequired") || e.contains("certificate required"),
        "{e}"
    );

    // A client certificate from a CA the server does not trust.
    let e = info(
        &ep,
        &client_flags(
            &pki,
            "ca.pem",
            Some(("other-client.pem", "other-client-key.pem")),
        ),
    )
    .await
    .unwrap_err();
    // (TLS 1.3: the server's verdict arrives with the first call.)
    assert!(e.contains("UnknownCA"), "{e}");

    // The client does not trust the server's CA: the error names the
    // handshake, the endpoint and why.
    let e = info(
        &ep,
        &client_flags(&pki, "other-ca.pem", Some(("client.pem", "client-key.pem"))),
    )
    .await
    .unwrap_err();
    assert!(
        e.contains(&format!("TLS handshake with localhost:{}", addr.port()))
            && e.contains("UnknownIssuer"),
        "{e}"
    );

    // A plaintext client gets nothing from a TLS server.
    assert!(info(&ep, &GrpcClientTlsArgs::default()).await.is_err());
}

#[tokio::test]
async fn server_name_and_skip_verify() {
    let pki = TestPki::generate().unwrap();
    let (addr, _stop) = serve(&server_flags(&pki, false)).await;
    let ep = addr.to_string();

    // Without a client CA the server asks for no certificate.
    assert_eq!(
        info(&ep, &client_flags(&pki, "ca.pem", None))
            .await
            .unwrap(),
        1
    );
    // --grpc-client-server-name: verified as a name the certificate holds…
    let mut named = client_flags(&pki, "ca.pem", None);
    named.grpc_client_server_name = "aeon.test".into();
    assert_eq!(info(&ep, &named).await.unwrap(), 1);
    // …and refused for one it does not.
    named.grpc_client_server_name = "elsewhere.test".into();
    let e = info(&ep, &named).await.unwrap_err();
    assert!(
        e.contains("verifying the server as \"elsewhere.test\"")
            && e.contains("certificate not valid for name"),
        "{e}"
    );
    // --grpc-client-tls-skip-verify: any certificate, even from an unknown CA.
    let mut skip = client_flags(&pki, "other-ca.pem", None);
    skip.grpc_client_tls_skip_verify = true;
    assert_eq!(info(&ep, &skip).await.unwrap(), 1);
}

#[test]
fn flag_mistakes_are_named() {
    let pki = TestPki::generate().unwrap();
    let e = |f: GrpcServerTlsArgs| aeon_common::Chain(&f.server_config().unwrap_err()).to_string();
    let m = e(GrpcServerTlsArgs {
        grpc_server_tls_cert: pki.path("server.pem"),
        ..GrpcServerTlsArgs::default()
    });
    assert!(
        m.contains("--grpc-server-tls") && m.contains("both server key and certificate"),
        "{m}"
    );
    let m = e(GrpcServerTlsArgs {
        grpc_server_tls_client_ca: pki.path("ca.pem"),
        ..GrpcServerTlsArgs::default()
    });
    assert!(m.contains("client CA"), "{m}");
    let m = e(GrpcServerTlsArgs {
        grpc_server_tls_key: pki.path("server-key.pem"),
        grpc_server_tls_cert: pki.path("missing.pem"),
        ..GrpcServerTlsArgs::default()
    });
    assert!(m.contains("missing.pem"), "{m}");
    // Plaintext when nothing is set.
    assert!(
        GrpcServerTlsArgs::default()
            .server_config()
            .unwrap()
            .is_none()
    );
}
