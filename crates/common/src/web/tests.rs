use super::*;
use crate::tls::{ClientSettings, client_config};
use aeon_testkit::TestPki;
use tokio_util::sync::CancellationToken;

/// Serves the admin routes with the web config in `yaml`; returns the base
/// URL (https when TLS is on) and the config's path.
async fn serve(dir: &Path, yaml: &str) -> (String, PathBuf, CancellationToken) {
    let path = dir.join("web.yml");
    std::fs::write(&path, yaml).unwrap();
    let web = WebConfig::load(&path).unwrap();
    let scheme = if web.tls_enabled() { "https" } else { "http" };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let router = crate::admin::router(
        Arc::new(prometheus_client::registry::Registry::default()),
        crate::admin::Readiness::new("x"),
    );
    tokio::spawn(crate::admin::serve_with(
        listener,
        router,
        Some(web),
        stop.clone(),
    ));
    (format!("{scheme}://localhost:{}", addr.port()), path, stop)
}

fn http(tls: Option<ClientSettings>) -> reqwest::Client {
    let b = reqwest::Client::builder();
    let b = match tls {
        Some(s) => b.tls_backend_preconfigured((*client_config(&s, "test").unwrap()).clone()),
        None => b,
    };
    b.build().unwrap()
}

fn hash(p: &str) -> String {
    bcrypt::hash(p, 4).unwrap()
}

#[tokio::test]
async fn basic_auth_accepts_the_right_password_only() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "basic_auth_users:\n  alice: {}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n",
        hash("wonderland")
    );
    let (base, path, _stop) = serve(dir.path(), &yaml).await;
    let c = http(None);
    let url = format!("{base}/-/healthy");

    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Basic");
    assert_eq!(r.headers()["x-frame-options"], "deny");
    let r = c
        .get(&url)
        .basic_auth("alice", Some("wonderland"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-frame-options"], "deny");
    let r = c
        .get(&url)
        .basic_auth("alice", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(&url)
        .basic_auth("bob", Some("wonderland"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A changed file applies to the next request.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(
        &path,
        format!("basic_auth_users:\n  bob: {}\n", hash("builder")),
    )
    .unwrap();
    let r = c
        .get(&url)
        .basic_auth("bob", Some("builder"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-frame-options").is_none());
    let r = c
        .get(&url)
        .basic_auth("alice", Some("wonderland"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // An invalid file keeps the last valid one.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&path, "basic_auth_users: [nonsense\n").unwrap();
    let r = c
        .get(&url)
        .basic_auth("bob", Some("builder"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn tls_and_client_certificates_from_the_web_config() {
    let pki = TestPki::generate().unwrap();
    let yaml = format!(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n  client_ca_file: ca.pem\n  client_auth_type: RequireAndVerifyClientCert\nbasic_auth_users:\n  alice: {}\n",
        hash("pw")
    );
    // Relative file names are relative to the config's directory.
    let (base, _, _stop) = serve(pki.dir(), &yaml).await;
    assert!(base.starts_with("https://"));
    let url = format!("{base}/-/healthy");
    let with_cert = http(Some(ClientSettings {
        ca: Some(pki.file("ca.pem")),
        cert: Some(pki.file("client.pem")),
        key: Some(pki.file("client-key.pem")),
        ..ClientSettings::default()
    }));
    let r = with_cert
        .get(&url)
        .basic_auth("alice", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "OK\n");

    let without = http(Some(ClientSettings {
        ca: Some(pki.file("ca.pem")),
        ..ClientSettings::default()
    }));
    let e = without.get(&url).send().await.unwrap_err();
    assert!(
        crate::error::chain(&e).contains("CertificateRequired"),
        "{}",
        crate::error::chain(&e)
    );

    let wrong_ca = http(Some(ClientSettings {
        ca: Some(pki.file("other-ca.pem")),
        cert: Some(pki.file("client.pem")),
        key: Some(pki.file("client-key.pem")),
        ..ClientSettings::default()
    }));
    let e = crate::error::chain(&wrong_ca.get(&url).send().await.unwrap_err());
    assert!(e.contains("invalid peer certificate: UnknownIssuer"), "{e}");

    // server_name: verify as a name the certificate holds.
    let as_name = http(Some(ClientSettings {
        ca: Some(pki.file("ca.pem")),
        cert: Some(pki.file("client.pem")),
        key: Some(pki.file("client-key.pem")),
        verify_name: Some("aeon.test".into()),
        ..ClientSettings::default()
    }));
    let r = as_name
        .get(url.replace("localhost", "127.0.0.1"))
        .basic_auth("alice", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn invalid_files_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let e = |yaml: &str| {
        let p = dir.path().join("w.yml");
        std::fs::write(&p, yaml).unwrap();
        crate::error::chain(&WebConfig::load(&p).unwrap_err())
    };
    let m = e("basic_auth_users:\n  alice: plaintext\n");
    assert!(
        m.contains("w.yml") && m.contains("user \"alice\": not a bcrypt hash"),
        "{m}"
    );
    let m = e("http_server_config:\n  headers:\n    Server: x\n");
    assert!(
        m.contains("HTTP header \"Server\" can not be configured"),
        "{m}"
    );
    let m = e("http_server_config:\n  headers:\n    X-Frame-Options: allow\n");
    assert!(m.contains("invalid value for X-Frame-Options"), "{m}");
    let m = e("tls_server_config:\n  cert_file: a.pem\n");
    assert!(m.contains("missing one of key or key_file"), "{m}");
    let m = e("tls_server_config:\n  cert_file: a.pem\n  key_file: b.pem\n");
    assert!(
        m.contains("server credentials") && m.contains("a.pem"),
        "{m}"
    );
    let m =
        e("tls_server_config:\n  cert_file: a.pem\n  key_file: b.pem\n  client_auth_type: Maybe\n");
    assert!(m.contains("invalid ClientAuth: Maybe"), "{m}");
    let m = e("tls_server_config:\n  cert: \"-----BEGIN\"\n  key_file: b.pem\n");
    assert!(m.contains("inline PEM is not supported"), "{m}");
    let m = e("tls_server_config:\n  min_version: TLS14\n");
    assert!(m.contains("invalid TLS version"), "{m}");
    let m = e("basic_auth: {}\n");
    assert!(m.contains("basic_auth"), "{m}");
    // An empty file is a valid config that changes nothing.
    let p = dir.path().join("empty.yml");
    std::fs::write(&p, "").unwrap();
    assert!(!WebConfig::load(&p).unwrap().tls_enabled());
}
