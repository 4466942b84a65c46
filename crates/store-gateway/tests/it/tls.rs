//! The store-gateway's Store API over mutual TLS (`--grpc-server-tls-*`)
//! and its HTTP endpoints behind `--http.config` basic auth, with
//! certificates made for the test.

use std::sync::Arc;
use std::time::Duration;

use aeon_common::args::GrpcClientTlsArgs;
use aeon_model::Labels;
use aeon_objstore::{Bucket, FilesystemBucket};
use aeon_storeapi::{ClientOptions, StoreApi, StoreClient};
use aeon_testkit::TestPki;
use aeon_tsdb_block::chunkenc::{Encoding, XorEncoder};
use aeon_tsdb_block::meta::ThanosMeta;
use aeon_tsdb_block::{BlockWriter, BlockWriterOptions, EncodedChunk};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::*;

/// GET with an optional `Authorization` header; the status line.
async fn status(addr: std::net::SocketAddr, path: &str, auth: Option<&str>) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = auth.map_or(String::new(), |a| format!("Authorization: Basic {a}\r\n"));
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out.lines().next().unwrap_or_default().to_owned()
}

fn client(pki: &TestPki, cert: bool) -> ClientOptions {
    let mut f = GrpcClientTlsArgs {
        grpc_client_tls_secure: true,
        grpc_client_tls_ca: pki.path("ca.pem"),
        ..GrpcClientTlsArgs::default()
    };
    if cert {
        f.grpc_client_tls_cert = pki.path("client.pem");
        f.grpc_client_tls_key = pki.path("client-key.pem");
    }
    ClientOptions {
        tls: f.client_tls().unwrap(),
        ..ClientOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_api_over_mutual_tls_and_http_behind_basic_auth() {
    let pki = TestPki::generate().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut w = BlockWriter::new(
        &src,
        BlockWriterOptions {
            thanos: Some(ThanosMeta {
                version: 1,
                labels: [("dc".to_string(), "z".to_string())].into(),
                source: "test".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .unwrap();
    let mut e = XorEncoder::new();
    for k in 0..10 {
        e.append(T0 + k * 60_000, k as f64);
    }
    w.add_series_chunks(
        Labels::from_pairs(&[("__name__", "tls_metric")]),
        &[EncodedChunk {
            min_time: T0,
            max_time: T0 + 9 * 60_000,
            encoding: Encoding::Xor,
            data: e.finish(),
        }],
    )
    .unwrap();
    let b = w.finish().unwrap().1;
    let bucket_dir = tmp.path().join("bucket");
    let bucket: Arc<dyn Bucket> = Arc::new(FilesystemBucket::new(&bucket_dir).unwrap());
    upload(bucket.as_ref(), &[b]).await;

    let web = tmp.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "basic_auth_users:\n  alice: {}\n",
            bcrypt::hash("pw", 4).unwrap()
        ),
    )
    .unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (http_addr, grpc_addr) = (http.local_addr().unwrap(), grpc.local_addr().unwrap());
    let a = args(
        &tmp.path().join("data"),
        &[
            &format!(
                "--objstore.config=type: FILESYSTEM\nconfig:\n  directory: {}\n",
                bucket_dir.display()
            ),
            &format!("--grpc-server-tls-cert={}", pki.path("server.pem")),
            &format!("--grpc-server-tls-key={}", pki.path("server-key.pem")),
            &format!("--grpc-server-tls-client-ca={}", pki.path("ca.pem")),
            &format!("--http.config={}", web.display()),
        ],
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let _task = tokio::spawn(aeon_store_gateway::run_with_listeners(
        a,
        http,
        grpc,
        stop.clone(),
    ));
    // "alice:pw" in base64.
    let alice = "YWxpY2U6cHc=";
    let mut ready = false;
    for _ in 0..100 {
        if status(http_addr, "/-/ready", Some(alice))
            .await
            .contains(" 200")
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ready,
        "{}",
        status(http_addr, "/-/ready", Some(alice)).await
    );
    assert!(status(http_addr, "/metrics", None).await.contains(" 401"));
    // "alice:nope".
    assert!(
        status(http_addr, "/metrics", Some("YWxpY2U6bm9wZQ=="))
            .await
            .contains(" 401")
    );

    let ep = format!("localhost:{}", grpc_addr.port());
    let c = StoreClient::connect(&ep, client(&pki, true)).await.unwrap();
    let (s, _) = series(
        &c,
        req(
            &[m(aeon_model::MatchType::Equal, "__name__", "tls_metric")],
            T0,
            T0 + 3_600_000,
        ),
    )
    .await;
    assert_eq!(s.len(), 1);
    let no_cert = match StoreClient::connect(&ep, client(&pki, false)).await {
        Ok(c) => c.info().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(no_cert.is_err());
    stop.cancel();
}
