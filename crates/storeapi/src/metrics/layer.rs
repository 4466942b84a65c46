//! The tower layer recording [`super::Families`] around a tonic server
//! (`Server::layer`) or a client channel.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body::Frame;
use prometheus_client::metrics::counter::Counter;
use tonic::body::Body;
use tonic::codegen::{Service, http};

use super::{Call, Families};
use crate::server::parse_grpc_timeout;

/// Which side of the call the layer sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Requests are received, responses sent.
    Server,
    /// Requests are sent, responses received.
    Client,
}

/// Wraps services in [`Metered`]; `None` metrics pass calls through.
#[derive(Debug, Clone)]
pub(crate) struct MeteredLayer {
    families: Option<Families>,
    side: Side,
}

impl MeteredLayer {
    pub(crate) fn server(families: Option<Families>) -> Self {
        Self {
            families,
            side: Side::Server,
        }
    }

    pub(crate) fn client(families: Option<Families>) -> Self {
        Self {
            families,
            side: Side::Client,
        }
    }
}

impl<S> tower_layer::Layer<S> for MeteredLayer {
    type Service = Metered<S>;

    fn layer(&self, inner: S) -> Metered<S> {
        Metered {
            inner,
            families: self.families.clone(),
            side: self.side,
        }
    }
}

/// A gRPC service (tonic routes or a channel) whose calls are recorded.
#[derive(Debug, Clone)]
pub(crate) struct Metered<S> {
    inner: S,
    families: Option<Families>,
    side: Side,
}

impl<S> Service<http::Request<Body>> for Metered<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this call (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let Some(families) = self.families.clone() else {
            return Box::pin(inner.call(req));
        };
        let call = Call::from_path(req.uri().path());
        let deadline = req
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout);
        families.started(&call);
        let (request_messages, response_messages) = match self.side {
            Side::Server => (families.received(&call), families.sent(&call)),
            Side::Client => (families.sent(&call), families.received(&call)),
        };
        let req = req.map(|b| Body::new(Framed::new(b, request_messages, None)));
        let mut outcome = Outcome {
            families: Some(families),
            call,
            start: Instant::now(),
            deadline,
        };
        let side = self.side;
        Box::pin(async move {
            match inner.call(req).await {
                Err(e) => {
                    // A transport failure (only clients see one).
                    if side == Side::Client {
                        outcome.finish(tonic::Code::Unavailable);
                    }
                    Err(e)
                }
                Ok(resp) => {
                    if let Some(code) = header_code(&resp) {
                        outcome.finish(code);
                    }
                    Ok(resp.map(|b| Body::new(Framed::new(b, response_messages, Some(outcome)))))
                }
            }
        })
    }
}

/// The status of a trailers-only response, or of an HTTP error (gRPC's
/// HTTP-to-gRPC mapping); `None` when the status comes in the trailers.
fn header_code(resp: &http::Response<Body>) -> Option<tonic::Code> {
    if let Some(v) = resp.headers().get("grpc-status") {
        return Some(
            v.to_str()
                .ok()
                .and_then(|s| s.parse::<i32>().ok())
                .map_or(tonic::Code::Unknown, tonic::Code::from_i32),
        );
    }
    let status = resp.status();
    if status == http::StatusCode::OK {
        return None;
    }
    Some(match status.as_u16() {
        400 => tonic::Code::Internal,
        401 => tonic::Code::Unauthenticated,
        403 => tonic::Code::PermissionDenied,
        404 => tonic::Code::Unimplemented,
        429 | 502 | 503 | 504 => tonic::Code::Unavailable,
        _ => tonic::Code::Unknown,
    })
}

/// Records the end of one call, once.
struct Outcome {
    families: Option<Families>,
    call: Call,
    start: Instant,
    deadline: Option<Duration>,
}

impl Outcome {
    fn finish(&mut self, code: tonic::Code) {
        if let Some(f) = self.families.take() {
            f.handled(&self.call, code, self.start.elapsed().as_secs_f64());
        }
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        // Dropped before its status: the call was abandoned.
        let expired = self.deadline.is_some_and(|d| self.start.elapsed() >= d);
        self.finish(if expired {
            tonic::Code::DeadlineExceeded
        } else {
            tonic::Code::Cancelled
        });
    }
}

/// A body whose gRPC messages (5-byte prefix + payload) are counted, and
/// whose end records the call's [`Outcome`] (response bodies).
struct Framed {
    inner: Body,
    messages: Counter,
    /// Bytes of the current prefix seen so far.
    prefix: [u8; 5],
    prefix_len: usize,
    /// Payload bytes of the current message still to come.
    remaining: u64,
    outcome: Option<Outcome>,
}

impl Framed {
    fn new(inner: Body, messages: Counter, outcome: Option<Outcome>) -> Self {
        Self {
            inner,
            messages,
            prefix: [0; 5],
            prefix_len: 0,
            remaining: 0,
            outcome,
        }
    }

    fn count(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.remaining > 0 {
                let take =
                    usize::try_from(self.remaining).map_or(data.len(), |r| r.min(data.len()));
                self.remaining -= take as u64;
                data = &data[take..];
                continue;
            }
            let take = (5 - self.prefix_len).min(data.len());
            self.prefix[self.prefix_len..self.prefix_len + take].copy_from_slice(&data[..take]);
            self.prefix_len += take;
            data = &data[take..];
            if self.prefix_len == 5 {
                let len = u32::from_be_bytes([
                    self.prefix[1],
                    self.prefix[2],
                    self.prefix[3],
                    self.prefix[4],
                ]);
                self.remaining = u64::from(len);
                self.prefix_len = 0;
                self.messages.inc();
            }
        }
    }

    fn finish(&mut self, code: tonic::Code) {
        if let Some(mut o) = self.outcome.take() {
            o.finish(code);
        }
    }
}

impl http_body::Body for Framed {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_frame(cx);
        match &r {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    let d = d.clone();
                    this.count(&d);
                } else if let Some(t) = frame.trailers_ref() {
                    let code = t
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|s| s.parse::<i32>().ok())
                        .map_or(tonic::Code::Unknown, tonic::Code::from_i32);
                    this.finish(code);
                }
            }
            Poll::Ready(Some(Err(status))) => {
                let code = status.code();
                this.finish(code);
            }
            // Ended without trailers: a clean end of a request body, or a
            // response cut short (then the call's status is unknown).
            Poll::Ready(None) => this.finish(tonic::Code::Unknown),
            Poll::Pending => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_counted_across_chunk_boundaries() {
        let mut f = Framed::new(Body::empty(), Counter::default(), None);
        // Two messages (3 and 0 payload bytes) split at awkward places.
        let bytes = [0u8, 0, 0, 0, 3, 9, 9, 9, 1, 0, 0, 0, 0];
        f.count(&bytes[..2]);
        f.count(&bytes[2..6]);
        assert_eq!(f.messages.get(), 1);
        f.count(&bytes[6..10]);
        f.count(&bytes[10..]);
        assert_eq!(f.messages.get(), 2);
        assert_eq!((f.remaining, f.prefix_len), (0, 0));
    }
}
