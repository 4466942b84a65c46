//! TCP connect, then (for `https`) the TLS handshake under `tls_handshake_timeout`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_rustls::MaybeHttpsStream;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::BoxError;
use crate::error::{Error, Result};

/// Go's dialer keep-alive in Thanos's transport.
const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// The transport's connector (a `tower::Service<Uri>` for hyper's client).
#[derive(Clone)]
pub(crate) struct Connector {
    tcp: HttpConnector,
    tls: TlsConnector,
    /// `tls_config.server_name`: SNI and the name the certificate must carry.
    server_name: Option<ServerName<'static>>,
    handshake_timeout: Option<Duration>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("server_name", &self.server_name)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// The TLS handshake did not finish in time.
#[derive(Debug, thiserror::Error)]
#[error("TLS handshake timed out after {0:?} (http_config.tls_handshake_timeout)")]
struct HandshakeTimeout(Duration);

impl Connector {
    pub(crate) fn new(
        tls: ClientConfig,
        server_name: &str,
        dial_timeout: Duration,
        handshake_timeout: Option<Duration>,
        origin: &str,
    ) -> Result<Self> {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(dial_timeout));
        tcp.set_keepalive(Some(KEEP_ALIVE));
        tcp.set_nodelay(true);
        let server_name = if server_name.is_empty() {
            None
        } else {
            Some(ServerName::try_from(server_name.to_owned()).map_err(|e| {
                Error::config(
                    origin,
                    format!("http_config.tls_config.server_name: {server_name:?}: {e}"),
                )
            })?)
        };
        Ok(Self {
            tcp,
            tls: TlsConnector::from(Arc::new(tls)),
            server_name,
            handshake_timeout,
        })
    }
}

type Stream = MaybeHttpsStream<TokioIo<TcpStream>>;

impl tower_service::Service<http::Uri> for Connector {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let mut tcp = self.tcp.clone();
        let tls = self.tls.clone();
        let fixed_name = self.server_name.clone();
        let handshake_timeout = self.handshake_timeout;
        Box::pin(async move {
            let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
            let name = match (&fixed_name, https) {
                (Some(n), _) => Some(n.clone()),
                (None, true) => Some(host_name(&uri)?),
                (None, false) => None,
            };
            let stream = tower_service::Service::call(&mut tcp, uri).await?;
            let Some(name) = name.filter(|_| https) else {
                return Ok(MaybeHttpsStream::Http(stream));
            };
            let handshake = tls.connect(name, TokioIo::new(stream));
            let tls_stream = match handshake_timeout {
                Some(t) => tokio::time::timeout(t, handshake)
                    .await
                    .map_err(|_| HandshakeTimeout(t))??,
                None => handshake.await?,
            };
            Ok(MaybeHttpsStream::from(tls_stream))
        })
    }
}

/// The host of `uri` as a TLS server name (IP addresses without IPv6 brackets).
fn host_name(uri: &http::Uri) -> Result<ServerName<'static>, BoxError> {
    let host = uri.host().ok_or("URL without a host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok(ServerName::try_from(host.to_owned())?)
}
