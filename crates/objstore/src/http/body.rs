//! Body wrappers of the transport: one tells when the request body is fully written (the
//! response header timeout starts then), one holds the `max_conns_per_host` permit until the
//! response body ends.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::sync::{Notify, OwnedSemaphorePermit};

/// A request body that notifies once it has been read to the end (or failed).
#[derive(Debug)]
pub(crate) struct NotifyEnd<B> {
    inner: B,
    done: Arc<Notify>,
}

impl<B: Body> NotifyEnd<B> {
    pub(crate) fn new(inner: B, done: Arc<Notify>) -> Self {
        if inner.is_end_stream() {
            done.notify_one();
        }
        Self { inner, done }
    }
}

impl<B: Body + Unpin> Body for NotifyEnd<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.done.notify_one();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            // hyper stops polling a body that says it has ended.
            self.done.notify_one();
        }
        end
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body holding its connection permit until it ends or is dropped.
#[derive(Debug)]
pub(crate) struct LimitedBody {
    inner: Incoming,
    permit: Option<OwnedSemaphorePermit>,
}

impl LimitedBody {
    pub(crate) fn new(inner: Incoming, permit: Option<OwnedSemaphorePermit>) -> Self {
        Self { inner, permit }
    }
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.permit = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
