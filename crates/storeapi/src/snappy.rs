//! Thanos' gRPC `snappy` compression, server side. Thanos registers a gRPC
//! compressor named `snappy` that uses the snappy *framed/stream* format
//! (`pkg/extgrpc/snappy`), and its querier can be told to compress requests
//! with it (`--grpc-compression=snappy`). Tonic only knows gzip/zstd/deflate,
//! so [`SnappyDecompress`] wraps a generated service: requests with
//! `grpc-encoding: snappy` are buffered (all Store API requests are unary),
//! their compressed gRPC frames decompressed, and passed on as identity.
//! Responses are sent uncompressed, which every gRPC client accepts.

use std::convert::Infallible;
use std::io::Read as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use hyper::body::{Body as _, Frame, SizeHint};
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;

/// Wraps a gRPC service so it accepts snappy-compressed requests.
#[derive(Debug, Clone)]
pub struct SnappyDecompress<S> {
    inner: S,
}

impl<S> SnappyDecompress<S> {
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S: NamedService> NamedService for SnappyDecompress<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for SnappyDecompress<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let snappy = req
            .headers()
            .get("grpc-encoding")
            .is_some_and(|v| v.as_bytes() == b"snappy");
        if !snappy {
            return Box::pin(self.inner.call(req));
        }
        // The ready service handles this call; a fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            match read_body(body).await.and_then(|b| decompress_frames(&b)) {
                Ok(bytes) => {
                    parts.headers.remove("grpc-encoding");
                    inner
                        .call(http::Request::from_parts(
                            parts,
                            Body::new(Full(Some(bytes))),
                        ))
                        .await
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

async fn read_body(mut body: Body) -> Result<Bytes, tonic::Status> {
    let mut buf = BytesMut::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame?.into_data() {
            buf.put(data);
        }
    }
    Ok(buf.freeze())
}

/// Rewrites gRPC length-prefixed messages: compressed ones (flag 1) are
/// decompressed from the snappy framed format and re-emitted with flag 0.
pub(crate) fn decompress_frames(mut b: &[u8]) -> Result<Bytes, tonic::Status> {
    let mut out = BytesMut::with_capacity(b.len() * 2);
    while !b.is_empty() {
        if b.len() < 5 {
            return Err(tonic::Status::internal("truncated gRPC frame header"));
        }
        let flag = b[0];
        let len = u32::from_be_bytes([b[1], b[2], b[3], b[4]]) as usize;
        let msg = b
            .get(5..5 + len)
            .ok_or_else(|| tonic::Status::internal("truncated gRPC message"))?;
        let data = match flag {
            0 => msg.to_vec(),
            1 => {
                let mut d = Vec::new();
                snap::read::FrameDecoder::new(msg)
                    .read_to_end(&mut d)
                    .map_err(|e| {
                        tonic::Status::internal(format!("snappy decompression failed: {e}"))
                    })?;
                d
            }
            f => {
                return Err(tonic::Status::internal(format!(
                    "bad gRPC compression flag {f}"
                )));
            }
        };
        let n = u32::try_from(data.len())
            .map_err(|_| tonic::Status::resource_exhausted("message too large"))?;
        out.put_u8(0);
        out.put_u32(n);
        out.put_slice(&data);
        b = &b[5 + len..];
    }
    Ok(out.freeze())
}

/// Compresses one message as Thanos' snappy compressor does (framed format).
pub fn snappy_compress(msg: &[u8]) -> Vec<u8> {
    let mut enc = snap::write::FrameEncoder::new(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = std::io::Write::write_all(&mut enc, msg);
    enc.into_inner().unwrap_or_default()
}

/// A body of one data frame.
struct Full(Option<Bytes>);

impl hyper::body::Body for Full {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(flag: u8, msg: &[u8]) -> Vec<u8> {
        let mut v = vec![flag];
        v.extend((msg.len() as u32).to_be_bytes());
        v.extend(msg);
        v
    }

    #[test]
    fn decompresses_compressed_frames_only() {
        let mut input = frame(1, &snappy_compress(b"hello hello hello"));
        input.extend(frame(0, b"plain"));
        let out = decompress_frames(&input).unwrap();
        let mut want = frame(0, b"hello hello hello");
        want.extend(frame(0, b"plain"));
        assert_eq!(out.to_vec(), want);
    }

    #[test]
    fn framed_format_has_stream_identifier() {
        // The snappy framed format starts with the stream identifier chunk.
        assert_eq!(&snappy_compress(b"x")[..10], b"\xff\x06\x00\x00sNaPpY");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decompress_frames(&frame(1, b"not snappy")).is_err());
        assert!(decompress_frames(&[0, 0, 0]).is_err());
        assert!(decompress_frames(&frame(7, b"x")).is_err());
    }
}
