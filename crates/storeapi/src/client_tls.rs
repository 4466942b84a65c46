//! The client side of gRPC over TLS: a connector for tonic that dials TCP
//! (TCP_NODELAY) and runs the handshake with a config from
//! `aeon_common::tls`, verifying the server as the configured server name
//! or else the endpoint's host (what grpc-go's `credentials.NewTLS` does).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tonic::codegen::Service;
use tonic::transport::Uri;

use aeon_common::tls::ClientTls;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Dials an endpoint URI over TLS.
#[derive(Clone)]
pub(crate) struct TlsConnector {
    tls: tokio_rustls::TlsConnector,
    server_name: Option<String>,
}

impl TlsConnector {
    pub(crate) fn new(tls: &ClientTls) -> Self {
        Self {
            tls: tokio_rustls::TlsConnector::from(tls.config.clone()),
            server_name: tls.server_name.clone(),
        }
    }
}

/// What failed while connecting, and to where.
#[derive(Debug, thiserror::Error)]
enum ConnectError {
    #[error("endpoint URI {0} has no host")]
    NoHost(String),
    #[error("TCP connection to {addr} failed")]
    Tcp {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("server name {0:?} is neither a DNS name nor an IP address")]
    Name(String),
    #[error("TLS handshake with {addr} (verifying the server as {name:?}) failed")]
    Handshake {
        addr: String,
        name: String,
        #[source]
        source: std::io::Error,
    },
}

impl Service<Uri> for TlsConnector {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let host = uri
                .host()
                .ok_or_else(|| ConnectError::NoHost(uri.to_string()))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let port = uri.port_u16().unwrap_or(443);
            let addr = format!("{host}:{port}");
            let tcp = TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|source| ConnectError::Tcp {
                    addr: addr.clone(),
                    source,
                })?;
            let _ = tcp.set_nodelay(true);
            let name = this.server_name.clone().unwrap_or(host);
            let server_name =
                ServerName::try_from(name.clone()).map_err(|_| ConnectError::Name(name.clone()))?;
            let tls = this
                .tls
                .connect(server_name, tcp)
                .await
                .map_err(|source| ConnectError::Handshake { addr, name, source })?;
            Ok(TokioIo::new(tls))
        })
    }
}
