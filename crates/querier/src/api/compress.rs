//! Response compression of every API path, negotiated as Prometheus 3.5's
//! `httputil.CompressionHandler` does: the first of `gzip` or `deflate`
//! (zlib) listed in `Accept-Encoding`, compared as exact tokens (a `;q=`
//! parameter makes a token not match). Prometheus 3.5 offers no zstd or
//! brotli, so neither does this.

use std::io::Write as _;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flate2::Compression;

/// A negotiated content coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Gzip,
    Deflate,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

/// The coding Prometheus picks for an `Accept-Encoding` value.
pub(crate) fn negotiate(accept: &str) -> Option<Coding> {
    accept.split(',').find_map(|t| match t.trim() {
        "gzip" => Some(Coding::Gzip),
        "deflate" => Some(Coding::Deflate),
        _ => None,
    })
}

fn encode(coding: Coding, data: &[u8]) -> std::io::Result<Vec<u8>> {
    match coding {
        Coding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
            e.write_all(data)?;
            e.finish()
        }
        Coding::Deflate => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
            e.write_all(data)?;
            e.finish()
        }
    }
}

/// Middleware: compresses the (buffered) answer when the client accepts it.
pub(crate) async fn compress(req: Request, next: Next) -> Response {
    let coding = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .and_then(negotiate);
    let resp = next.run(req).await;
    let Some(coding) = coding else {
        return resp;
    };
    if resp.status() == StatusCode::NO_CONTENT
        || resp.headers().contains_key(header::CONTENT_ENCODING)
    {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading the response to compress: {e}"),
            )
                .into_response();
        }
    };
    match encode(coding, &bytes) {
        Ok(z) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(coding.name()),
            );
            Response::from_parts(parts, Body::from(z))
        }
        // Compressing into memory does not fail; if it did, send it plain.
        Err(_) => Response::from_parts(parts, Body::from(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn negotiation_like_prometheus() {
        assert_eq!(negotiate("gzip"), Some(Coding::Gzip));
        assert_eq!(negotiate("br, deflate, gzip"), Some(Coding::Deflate));
        assert_eq!(negotiate(" zstd , gzip"), Some(Coding::Gzip));
        assert_eq!(negotiate("gzip;q=1.0"), None);
        assert_eq!(negotiate("identity"), None);
        assert_eq!(negotiate(""), None);
    }

    #[test]
    fn round_trips() {
        let data = br#"{"status":"success"}"#.repeat(10);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&encode(Coding::Gzip, &data).unwrap()[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        out.clear();
        flate2::read::ZlibDecoder::new(&encode(Coding::Deflate, &data).unwrap()[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }
}
