//! A TLS listener: TCP connections are accepted in a background task and
//! their handshakes run concurrently (a slow or silent client never holds
//! up the others), each bounded by [`HANDSHAKE_TIMEOUT`]. Failed handshakes
//! are logged with the peer and the reason.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

/// A server-side TLS connection.
pub type TlsStream = tokio_rustls::server::TlsStream<TcpStream>;

/// How long a client may take to complete the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the config of the next handshake comes from (a fixed one, or one
/// that follows a reloaded file).
pub type ConfigSource = Arc<dyn Fn() -> Arc<ServerConfig> + Send + Sync>;

/// Accepted connections whose handshake succeeded.
#[derive(Debug)]
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream, SocketAddr)>,
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsListener {
    /// Serves TLS on `listener` with a fixed config.
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        Self::with_source(listener, Arc::new(move || config.clone()))
    }

    /// Serves TLS on `listener`, asking `source` for the config of each
    /// connection. Needs a tokio runtime.
    pub fn with_source(listener: TcpListener, source: ConfigSource) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(accept_loop(listener, source, tx));
        Ok(Self { rx, local, task })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The connections as a stream (for tonic's `serve_with_incoming*`).
    pub fn into_stream(self) -> impl Stream<Item = std::io::Result<TlsStream>> + Send + 'static {
        futures::stream::unfold(self, |mut l| async move {
            let (io, _) = l.rx.recv().await?;
            Some((Ok(io), l))
        })
    }
}

async fn accept_loop(
    listener: TcpListener,
    source: ConfigSource,
    tx: mpsc::Sender<(TlsStream, SocketAddr)>,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: back off, as
                // axum and Go's http server do.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if tx.is_closed() {
            return;
        }
        let _ = tcp.set_nodelay(true);
        let acceptor = TlsAcceptor::from(source());
        let tx = tx.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, peer)).await;
                }
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    // A TCP probe (load balancer, kubelet) closing at once.
                    tracing::debug!(%peer, error = %e, "TLS handshake: connection closed");
                }
                Ok(Err(e)) => {
                    tracing::warn!(%peer, error = %e, "TLS handshake failed");
                }
                Err(_) => {
                    tracing::warn!(%peer, timeout = ?HANDSHAKE_TIMEOUT, "TLS handshake timed out");
                }
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
