use super::*;
use aeon_testkit::TestPki;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn server(pki: &TestPki, auth: ClientAuth) -> ServerSettings {
    ServerSettings {
        cert: pki.file("server.pem"),
        key: pki.file("server-key.pem"),
        client_ca: (auth != ClientAuth::NoClientCert).then(|| pki.file("ca.pem")),
        client_auth: auth,
        ..ServerSettings::default()
    }
}

fn client(pki: &TestPki, ca: &str, cert: Option<&str>) -> ClientSettings {
    ClientSettings {
        ca: Some(pki.file(ca)),
        cert: cert.map(|c| pki.file(&format!("{c}.pem"))),
        key: cert.map(|c| pki.file(&format!("{c}-key.pem"))),
        ..ClientSettings::default()
    }
}

/// An echo server over `cfg`; returns its address.
async fn echo(cfg: Arc<ServerConfig>) -> std::net::SocketAddr {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let l = TlsListener::new(tcp, cfg).unwrap();
    let addr = l.local_addr();
    tokio::spawn(async move {
        use futures::StreamExt;
        let mut s = std::pin::pin!(l.into_stream());
        while let Some(Ok(mut io)) = s.next().await {
            tokio::spawn(async move {
                let mut b = [0u8; 5];
                if io.read_exact(&mut b).await.is_ok() {
                    let _ = io.write_all(&b).await;
                    let _ = io.shutdown().await;
                }
            });
        }
    });
    addr
}

/// Connects, writes "hello", reads the echo; the error text on failure.
async fn talk(
    addr: std::net::SocketAddr,
    cfg: Arc<ClientConfig>,
) -> std::result::Result<(), String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let mut io = tokio_rustls::TlsConnector::from(cfg)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    io.write_all(b"hello").await.map_err(|e| e.to_string())?;
    let mut b = Vec::new();
    io.read_to_end(&mut b).await.map_err(|e| e.to_string())?;
    if b == b"hello" {
        Ok(())
    } else {
        Err(format!("echo {b:?}"))
    }
}

#[tokio::test]
async fn mutual_tls_accepts_the_right_client_only() {
    let pki = TestPki::generate().unwrap();
    let addr = echo(
        server_config(
            &server(&pki, ClientAuth::RequireAndVerifyClientCert),
            "test",
        )
        .unwrap(),
    )
    .await;
    let ok = client_config(&client(&pki, "ca.pem", Some("client")), "c").unwrap();
    talk(addr, ok).await.unwrap();

    let no_cert = client_config(&client(&pki, "ca.pem", None), "c").unwrap();
    let e = talk(addr, no_cert).await.unwrap_err();
    assert!(
        e.contains("CertificateRequired") || e.contains("certificate"),
        "{e}"
    );

    let intruder = client_config(&client(&pki, "ca.pem", Some("other-client")), "c").unwrap();
    let e = talk(addr, intruder).await.unwrap_err();
    assert!(e.contains("UnknownCA"), "{e}");

    // The client does not trust the server's CA: the error says so.
    let wrong_ca = client_config(&client(&pki, "other-ca.pem", Some("client")), "c").unwrap();
    let e = talk(addr, wrong_ca).await.unwrap_err();
    assert!(
        e.contains("invalid peer certificate") && e.contains("UnknownIssuer"),
        "{e}"
    );
}

#[tokio::test]
async fn optional_and_unverified_client_certificates() {
    let pki = TestPki::generate().unwrap();
    let if_given =
        echo(server_config(&server(&pki, ClientAuth::VerifyClientCertIfGiven), "t").unwrap()).await;
    talk(
        if_given,
        client_config(&client(&pki, "ca.pem", None), "c").unwrap(),
    )
    .await
    .unwrap();
    talk(
        if_given,
        client_config(&client(&pki, "ca.pem", Some("client")), "c").unwrap(),
    )
    .await
    .unwrap();
    assert!(
        talk(
            if_given,
            client_config(&client(&pki, "ca.pem", Some("other-client")), "c").unwrap()
        )
        .await
        .is_err()
    );

    let mut any = server(&pki, ClientAuth::RequireAnyClientCert);
    any.client_ca = None;
    let any = echo(server_config(&any, "t").unwrap()).await;
    talk(
        any,
        client_config(&client(&pki, "ca.pem", Some("other-client")), "c").unwrap(),
    )
    .await
    .unwrap();
    assert!(
        talk(
            any,
            client_config(&client(&pki, "ca.pem", None), "c").unwrap()
        )
        .await
        .is_err()
    );

    // Skip-verify trusts any server.
    let plain = echo(server_config(&server(&pki, ClientAuth::NoClientCert), "t").unwrap()).await;
    let skip = ClientSettings {
        insecure_skip_verify: true,
        ..ClientSettings::default()
    };
    talk(plain, client_config(&skip, "c").unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn allowed_sans_restrict_client_certificates() {
    let pki = TestPki::generate().unwrap();
    let mut s = server(&pki, ClientAuth::RequireAndVerifyClientCert);
    s.client_allowed_sans = vec!["someone-else".into()];
    let addr = echo(server_config(&s, "t").unwrap()).await;
    assert!(
        talk(
            addr,
            client_config(&client(&pki, "ca.pem", Some("client")), "c").unwrap()
        )
        .await
        .is_err()
    );
    s.client_allowed_sans = vec!["someone-else".into(), "aeon-client".into()];
    let addr = echo(server_config(&s, "t").unwrap()).await;
    talk(
        addr,
        client_config(&client(&pki, "ca.pem", Some("client")), "c").unwrap(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn server_certificate_is_reloaded_when_its_files_change() {
    let pki = TestPki::generate().unwrap();
    let next = TestPki::generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::copy(pki.file("server.pem"), &cert).unwrap();
    std::fs::copy(pki.file("server-key.pem"), &key).unwrap();
    let s = ServerSettings {
        cert: cert.clone(),
        key: key.clone(),
        ..ServerSettings::default()
    };
    let addr = echo(server_config(&s, "t").unwrap()).await;
    let old = client_config(&client(&pki, "ca.pem", None), "c").unwrap();
    let new = client_config(&client(&next, "ca.pem", None), "c").unwrap();
    talk(addr, old.clone()).await.unwrap();
    assert!(talk(addr, new.clone()).await.is_err());
    // A rotated pair (as a Kubernetes Secret update writes it).
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::copy(next.file("server.pem"), &cert).unwrap();
    std::fs::copy(next.file("server-key.pem"), &key).unwrap();
    talk(addr, new).await.unwrap();
    // A fresh client (no session to resume) trusting the old CA is refused.
    let old = client_config(&client(&pki, "ca.pem", None), "c").unwrap();
    assert!(talk(addr, old).await.is_err());
}

#[test]
fn settings_errors_name_what_failed() {
    let pki = TestPki::generate().unwrap();
    let e = |s: &ServerSettings| {
        server_config(s, "--grpc-server-tls-cert")
            .unwrap_err()
            .to_string()
    };
    let mut s = server(&pki, ClientAuth::NoClientCert);
    s.key = pki.file("client-key.pem");
    let m = e(&s);
    assert!(
        m.contains("server credentials") && m.contains("do not form a usable pair"),
        "{m}"
    );
    s.key = pki.file("missing.pem");
    assert!(e(&s).contains("missing.pem"), "{}", e(&s));
    let mut s = server(&pki, ClientAuth::NoClientCert);
    s.client_ca = Some(pki.file("ca.pem"));
    assert!(e(&s).contains("without a Client Auth Policy"));
    let mut s = server(&pki, ClientAuth::NoClientCert);
    s.cipher_suites = vec!["TLS_RSA_WITH_AES_128_CBC_SHA".into()];
    assert!(e(&s).contains("is not supported"), "{}", e(&s));
    s.cipher_suites = vec!["NOPE".into()];
    assert!(
        e(&s).contains("invalid cipher suite: NOPE, valid values are"),
        "{}",
        e(&s)
    );
    let mut s = server(&pki, ClientAuth::NoClientCert);
    s.curves = vec!["CurveP521".into()];
    assert!(e(&s).contains("curve CurveP521 is not supported"));
    s.curves = vec!["X25519".into(), "CurveP256".into()];
    s.cipher_suites = vec![
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into(),
        "TLS_AES_128_GCM_SHA256".into(),
    ];
    server_config(&s, "t").unwrap();
    let c = ClientSettings {
        cert: Some(pki.file("client.pem")),
        ..ClientSettings::default()
    };
    let m = client_config(&c, "--grpc-client-tls-cert")
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("both client key and certificate must be provided"),
        "{m}"
    );
    let c = client(&pki, "server-key.pem", None);
    let m = client_config(&c, "--grpc-client-tls-ca")
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("--grpc-client-tls-ca: CA") && m.contains("no PEM certificate"),
        "{m}"
    );
    assert_eq!("1.3".parse::<TlsVersion>().unwrap(), TlsVersion::Tls13);
    assert_eq!("TLS12".parse::<TlsVersion>().unwrap(), TlsVersion::Tls12);
    assert!(
        "1.4"
            .parse::<TlsVersion>()
            .unwrap_err()
            .contains("valid values are")
    );
}
