//! S3 over TLS with a private CA: s3s-fs behind a TLS-terminating proxy whose certificates come
//! from a CA generated in the test. Also checks `server_name`, client certificates and
//! `insecure_skip_verify`, and that every handshake uses the workspace's one crypto provider.

use std::sync::Arc;

use aeon_objstore::testutil::tls::{SERVER_NAME, TestPki, TlsProxy};
use aeon_objstore::testutil::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};
use aeon_objstore::{Bucket, ListMode, MIN_PART_SIZE, from_yaml};
use bytes::Bytes;
use prometheus_client::registry::Registry;

use crate::acceptance_suite;

/// S3 YAML for `host:port` over HTTPS with extra `http_config` lines (indented 4 spaces).
fn yaml(endpoint: &str, http_config: &str) -> String {
    format!(
        "type: S3\nconfig:\n  bucket: {BUCKET}\n  endpoint: \"{endpoint}\"\n  region: us-east-1\n  access_key: {ACCESS_KEY}\n  \
         secret_key: {SECRET_KEY}\n  bucket_lookup_type: path\n  part_size: {MIN_PART_SIZE}\n  max_retries: 1\n  http_config:\n{http_config}"
    )
}

struct Stack {
    _s3: S3Server,
    pki: TestPki,
    proxy: TlsProxy,
}

async fn stack(require_client_cert: bool) -> Stack {
    let s3 = S3Server::start().unwrap_or_else(|e| panic!("{e}"));
    let pki = TestPki::generate().unwrap();
    let target = format!("127.0.0.1:{}", s3.port()).parse().unwrap();
    let proxy = TlsProxy::start(&pki, target, require_client_cert)
        .await
        .unwrap();
    Stack {
        _s3: s3,
        pki,
        proxy,
    }
}

async fn open(yaml: &str) -> aeon_objstore::Result<Arc<dyn Bucket>> {
    from_yaml(yaml, "s3-tls", &mut Registry::default()).await
}

async fn make() -> (Arc<dyn Bucket>, Stack) {
    let st = stack(false).await;
    let y = yaml(
        &format!("localhost:{}", st.proxy.port()),
        &format!(
            "    tls_config:\n      ca_file: \"{}\"\n",
            st.pki.ca_file().display()
        ),
    );
    (open(&y).await.unwrap(), st)
}

acceptance_suite!(make());

async fn round_trip(b: &Arc<dyn Bucket>) -> aeon_objstore::Result<()> {
    b.upload("tls/x", Bytes::from_static(b"secret")).await?;
    assert_eq!(b.get("tls/x").await?, Bytes::from_static(b"secret"));
    assert_eq!(b.list("tls/", ListMode::Recursive).await?, ["tls/x"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_ca_is_refused_naming_the_certificate_problem() {
    let st = stack(false).await;
    let endpoint = format!("localhost:{}", st.proxy.port());
    let other = yaml(
        &endpoint,
        &format!(
            "    tls_config:\n      ca_file: \"{}\"\n",
            st.pki.other_ca_file().display()
        ),
    );
    let e = round_trip(&open(&other).await.unwrap()).await.unwrap_err();
    assert!(e.to_string().contains("certificate"), "{e}");
    // The system roots do not know the test CA either.
    let system = yaml(&endpoint, "    idle_conn_timeout: 1m\n");
    let e = round_trip(&open(&system).await.unwrap()).await.unwrap_err();
    assert!(e.to_string().contains("certificate"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_name_overrides_the_name_checked_in_the_certificate() {
    let st = stack(false).await;
    let by_ip = format!("127.0.0.1:{}", st.proxy.port());
    let ca = format!("      ca_file: \"{}\"\n", st.pki.ca_file().display());
    // The certificate does not name 127.0.0.1 …
    let plain = yaml(&by_ip, &format!("    tls_config:\n{ca}"));
    let e = round_trip(&open(&plain).await.unwrap()).await.unwrap_err();
    assert!(e.to_string().contains("certificate"), "{e}");
    // … but it names s3.aeon.test.
    let named = yaml(
        &by_ip,
        &format!("    tls_config:\n{ca}      server_name: {SERVER_NAME}\n"),
    );
    round_trip(&open(&named).await.unwrap()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_skip_verify_accepts_any_certificate() {
    let st = stack(false).await;
    let by_ip = format!("127.0.0.1:{}", st.proxy.port());
    round_trip(
        &open(&yaml(&by_ip, "    insecure_skip_verify: true\n"))
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let nested = yaml(
        &by_ip,
        "    tls_config:\n      insecure_skip_verify: true\n",
    );
    round_trip(&open(&nested).await.unwrap()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_presented_when_the_server_asks() {
    let st = stack(true).await;
    let endpoint = format!("localhost:{}", st.proxy.port());
    let ca = format!("      ca_file: \"{}\"\n", st.pki.ca_file().display());
    let without = yaml(&endpoint, &format!("    tls_config:\n{ca}"));
    assert!(round_trip(&open(&without).await.unwrap()).await.is_err());
    let with = yaml(
        &endpoint,
        &format!(
            "    tls_config:\n{ca}      cert_file: \"{}\"\n      key_file: \"{}\"\n",
            st.pki.client_cert_file().display(),
            st.pki.client_key_file().display()
        ),
    );
    round_trip(&open(&with).await.unwrap()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshake_timeout_bounds_a_silent_server() {
    // Accepts TCP and never answers the ClientHello.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let _hold = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            conns.push(c);
        }
    });
    let y = yaml(
        &format!("localhost:{port}"),
        "    tls_handshake_timeout: 300ms\n",
    );
    let started = std::time::Instant::now();
    let e = round_trip(&open(&y).await.unwrap()).await.unwrap_err();
    assert!(e.to_string().contains("tls_handshake_timeout"), "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}
