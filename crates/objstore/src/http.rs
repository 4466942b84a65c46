//! The HTTP transport of the cloud backends (S3, GCS, Azure), built from Thanos's `http_config`
//! the way Thanos builds its Go `http.Transport` (`exthttp.DefaultTransport`).
//!
//! | `http_config` field | here |
//! |---|---|
//! | `tls_config.{ca_file,cert_file,key_file,server_name}`, `insecure_skip_verify` | rustls client config ([`tls`]); the client certificate is re-read at every handshake, like Go's `GetClientCertificate` |
//! | `tls_handshake_timeout` | bound on the TLS handshake after the TCP connect (dial timeout 30 s, keep-alive 30 s, as Thanos) |
//! | `response_header_timeout` | bound from the end of the request body to the response headers |
//! | `idle_conn_timeout` | idle pooled connections are closed after it (`0` = never) |
//! | `max_idle_conns_per_host`, `max_idle_conns` | idle pool size per host (`0` per host = Go's default of 2), capped by the total |
//! | `max_conns_per_host` | requests in flight per host (each holds one HTTP/1.1 connection until its body is read) |
//! | `expect_continue_timeout`, `disable_compression` | no effect: requests never carry `Expect: 100-continue` and never ask for compressed responses, so Go would not use them either |
//!
//! Requests are HTTP/1.1, as Go's transport with a custom TLS config. The same [`Transport`]
//! serves the AWS SDK ([`smithy`]) and `object_store` ([`service`]).

mod body;
mod connector;
pub(crate) mod service;
pub(crate) mod smithy;
pub(crate) mod tls;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::{Notify, Semaphore};

pub(crate) use self::body::LimitedBody;
use self::body::NotifyEnd;
use self::connector::Connector;
use crate::config::HttpConfig;
use crate::error::Result;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Go's dialer timeout in Thanos's transport.
const DIAL_TIMEOUT: Duration = Duration::from_secs(30);
/// Go's default `MaxIdleConnsPerHost` when the field is 0.
const GO_DEFAULT_MAX_IDLE_PER_HOST: usize = 2;

/// A failed HTTP exchange (no response, or no response headers in time).
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// `response_header_timeout` passed after the request was sent.
    #[error(
        "no response headers within {0:?} after the request was sent (http_config.response_header_timeout)"
    )]
    ResponseHeaderTimeout(Duration),
    /// Connecting, the TLS handshake, or the exchange failed.
    #[error("{}", chain(.0))]
    Request(#[source] hyper_util::client::legacy::Error),
}

impl TransportError {
    /// Whether the connection could not be established (nothing was sent).
    pub(crate) fn is_connect(&self) -> bool {
        matches!(self, TransportError::Request(e) if e.is_connect())
    }

    /// Whether a timeout ended the exchange.
    pub(crate) fn is_timeout(&self) -> bool {
        match self {
            TransportError::ResponseHeaderTimeout(_) => true,
            TransportError::Request(e) => chain(e).contains("timed out"),
        }
    }
}

/// An error and its causes, `: `-separated.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// HTTP/1.1 client with Thanos's `http_config` applied, for request bodies of type `B`.
#[derive(Debug)]
pub(crate) struct Transport<B> {
    client: Client<Connector, NotifyEnd<B>>,
    response_header_timeout: Option<Duration>,
    per_host: Option<PerHostLimit>,
}

/// `max_conns_per_host`: one semaphore per `host:port`.
#[derive(Debug)]
struct PerHostLimit {
    max: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl PerHostLimit {
    fn semaphore(&self, authority: &str) -> Arc<Semaphore> {
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        hosts
            .entry(authority.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.max)))
            .clone()
    }
}

/// Non-zero duration, or `None` for Go's "0 = no limit".
fn limit(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

impl<B> Transport<B>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    /// Builds the transport; `origin` names the config in errors (TLS files are read here).
    pub(crate) fn new(cfg: &HttpConfig, origin: &str) -> Result<Self> {
        let tls = tls::client_config(cfg, origin)?;
        let connector = Connector::new(
            tls,
            &cfg.tls_config.server_name,
            DIAL_TIMEOUT,
            limit(cfg.tls_handshake_timeout.0),
            origin,
        )?;
        let mut idle_per_host = match cfg.max_idle_conns_per_host {
            0 => GO_DEFAULT_MAX_IDLE_PER_HOST,
            n => n as usize,
        };
        if cfg.max_idle_conns > 0 {
            idle_per_host = idle_per_host.min(cfg.max_idle_conns as usize);
        }
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(limit(cfg.idle_conn_timeout.0))
            .pool_max_idle_per_host(idle_per_host)
            .build(connector);
        Ok(Self {
            client,
            response_header_timeout: limit(cfg.response_header_timeout.0),
            per_host: (cfg.max_conns_per_host > 0).then(|| PerHostLimit {
                max: cfg.max_conns_per_host as usize,
                hosts: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Sends `req` and waits for the response headers; the body streams afterwards.
    pub(crate) async fn send(
        &self,
        req: http::Request<B>,
    ) -> std::result::Result<http::Response<LimitedBody>, TransportError> {
        let permit = match &self.per_host {
            Some(limit) => {
                let authority = req
                    .uri()
                    .authority()
                    .map(|a| a.as_str().to_owned())
                    .unwrap_or_default();
                // The semaphore is never closed, so acquiring only fails if it were.
                limit.semaphore(&authority).acquire_owned().await.ok()
            }
            None => None,
        };
        let sent = Arc::new(Notify::new());
        let req = req.map(|b| NotifyEnd::new(b, sent.clone()));
        let response = self.client.request(req);
        let response = match self.response_header_timeout {
            None => response.await,
            Some(t) => {
                tokio::pin!(response);
                // The timeout starts once the request body is written, as in Go.
                tokio::select! {
                    r = &mut response => r,
                    () = sent.notified() => tokio::time::timeout(t, response)
                        .await
                        .map_err(|_| TransportError::ResponseHeaderTimeout(t))?,
                }
            }
        };
        let response = response.map_err(TransportError::Request)?;
        Ok(response.map(|b| LimitedBody::new(b, permit)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GoDuration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn transport(cfg: &HttpConfig) -> Transport<http_body_util::Full<Bytes>> {
        Transport::new(cfg, "test").unwrap()
    }

    /// A server that reads a request and answers after `delay`, counting connections.
    async fn slow_server(
        delay: Duration,
    ) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let conns = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c2 = conns.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                c2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    loop {
                        let mut req = Vec::new();
                        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => req.extend_from_slice(&buf[..n]),
                            }
                        }
                        tokio::time::sleep(delay).await;
                        if s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        (addr, conns)
    }

    fn get(addr: std::net::SocketAddr) -> http::Request<http_body_util::Full<Bytes>> {
        http::Request::get(format!("http://{addr}/x"))
            .body(http_body_util::Full::new(Bytes::new()))
            .unwrap()
    }

    #[tokio::test]
    async fn response_header_timeout_ends_a_silent_exchange() {
        let (addr, _) = slow_server(Duration::from_secs(5)).await;
        let cfg = HttpConfig {
            response_header_timeout: GoDuration(Duration::from_millis(200)),
            ..HttpConfig::default()
        };
        let e = transport(&cfg).send(get(addr)).await.unwrap_err();
        assert!(matches!(e, TransportError::ResponseHeaderTimeout(_)), "{e}");
        assert!(e.is_timeout() && e.to_string().contains("response_header_timeout"));
    }

    #[tokio::test]
    async fn max_conns_per_host_bounds_connections() {
        use http_body_util::BodyExt;
        let (addr, conns) = slow_server(Duration::from_millis(50)).await;
        let cfg = HttpConfig {
            max_conns_per_host: 2,
            ..HttpConfig::default()
        };
        let t = Arc::new(transport(&cfg));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let t = t.clone();
                tokio::spawn(async move {
                    let r = t.send(get(addr)).await.unwrap();
                    r.into_body().collect().await.unwrap().to_bytes()
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Bytes::from_static(b"ok"));
        }
        assert_eq!(conns.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn refused_connection_is_a_connect_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        let e = transport(&HttpConfig::default())
            .send(get(addr))
            .await
            .unwrap_err();
        assert!(e.is_connect(), "{e}");
        assert!(e.to_string().contains("refused"), "{e}");
    }
}
