//! Prometheus remote read (`POST /api/v1/read`): a snappy-block-compressed
//! protobuf `ReadRequest`, answered either as a stream of
//! `ChunkedReadResponse` frames (`STREAMED_XOR_CHUNKS`: `uvarint(len)`,
//! big-endian CRC32-Castagnoli, message) or as one snappy-compressed
//! `ReadResponse` (`SAMPLES`, older servers), which we re-encode as XOR
//! chunks so callers only ever see chunked series.

use std::pin::Pin;

use aeon_storeapi::pb::prometheus as prom;
use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use prost::Message;

use super::{PromClient, check_status};
use crate::{Error, Result};

/// Largest frame we accept (Prometheus/Thanos `DefaultChunkedReadLimit`).
pub const MAX_FRAME_BYTES: usize = 50_000_000;

/// Samples per chunk when re-encoding a SAMPLES answer (Prometheus' target).
const SAMPLES_PER_CHUNK: usize = 120;

/// A stream of chunked series, in the order Prometheus sends them (one
/// series per frame; a big series may span consecutive frames).
pub type ChunkedSeriesStream = Pin<Box<dyn Stream<Item = Result<prom::ChunkedSeries>> + Send>>;

impl PromClient {
    /// Runs one remote-read query, preferring `STREAMED_XOR_CHUNKS` and
    /// falling back to `SAMPLES` if the server only speaks that.
    pub async fn remote_read(&self, query: prom::Query) -> Result<ChunkedSeriesStream> {
        let url = self.endpoint("/api/v1/read");
        let req = prom::ReadRequest {
            queries: vec![query],
            accepted_response_types: vec![
                prom::read_request::ResponseType::StreamedXorChunks as i32,
                prom::read_request::ResponseType::Samples as i32,
            ],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .map_err(|e| Error::PrometheusResponse {
                url: url.clone(),
                reason: format!("snappy: {e}"),
            })?;
        let resp = self
            .request(reqwest::Method::POST, &url)?
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("Accept-Encoding", "snappy")
            .header("X-Prometheus-Remote-Read-Version", "0.1.0")
            .body(body)
            .send()
            .await
            .map_err(|source| Error::PrometheusRequest {
                url: url.clone(),
                source,
            })?;
        let resp = check_status(resp, &url).await?;
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if ctype.starts_with("application/x-streamed-protobuf") {
            Ok(streamed(resp, url))
        } else if ctype.starts_with("application/x-protobuf") {
            let body = resp
                .bytes()
                .await
                .map_err(|source| Error::PrometheusRequest {
                    url: url.clone(),
                    source,
                })?;
            let series = samples_to_chunked(&body)
                .map_err(|reason| Error::PrometheusResponse { url, reason })?;
            Ok(futures::stream::iter(series.into_iter().map(Ok)).boxed())
        } else {
            Err(Error::PrometheusResponse {
                url,
                reason: format!("unexpected content type {ctype:?}"),
            })
        }
    }
}

fn streamed(resp: reqwest::Response, url: String) -> ChunkedSeriesStream {
    let body = resp.bytes_stream().boxed();
    let state = (
        body,
        FrameDecoder::default(),
        std::collections::VecDeque::new(),
        false,
    );
    futures::stream::unfold(Some(state), move |state| {
        let url = url.clone();
        async move {
            let (mut body, mut dec, mut pending, mut eof) = state?;
            loop {
                if let Some(s) = pending.pop_front() {
                    return Some((Ok(s), Some((body, dec, pending, eof))));
                }
                match dec.next_frame() {
                    Ok(Some(frame)) => {
                        pending.extend(frame.chunked_series);
                        continue;
                    }
                    Ok(None) => {}
                    Err(reason) => {
                        return Some((Err(Error::PrometheusResponse { url, reason }), None));
                    }
                }
                if eof {
                    if dec.is_empty() {
                        return None;
                    }
                    let reason = format!(
                        "stream ended inside a frame ({} bytes left)",
                        dec.buffered()
                    );
                    return Some((Err(Error::PrometheusResponse { url, reason }), None));
                }
                match body.next().await {
                    Some(Ok(b)) => dec.push(&b),
                    Some(Err(source)) => {
                        return Some((Err(Error::PrometheusRequest { url, source }), None));
                    }
                    None => eof = true,
                }
            }
        }
    })
    .boxed()
}

/// Incremental decoder of the STREAMED_XOR_CHUNKS framing.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: BytesMut,
}

impl FrameDecoder {
    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// No partial frame pending.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next complete frame, `None` if more bytes are needed.
    pub fn next_frame(&mut self) -> std::result::Result<Option<prom::ChunkedReadResponse>, String> {
        let Some((len, n)) = uvarint(&self.buf)? else {
            return Ok(None);
        };
        if len > MAX_FRAME_BYTES as u64 {
            return Err(format!(
                "frame of {len} bytes exceeds the limit of {MAX_FRAME_BYTES} bytes"
            ));
        }
        let len = len as usize;
        if self.buf.len() < n + 4 + len {
            return Ok(None);
        }
        self.buf.advance(n);
        let want = self.buf.get_u32();
        let msg: Bytes = self.buf.split_to(len).freeze();
        let got = crc32c::crc32c(&msg);
        if got != want {
            return Err(format!(
                "frame checksum mismatch: expected {want:#010x}, computed {got:#010x}"
            ));
        }
        prom::ChunkedReadResponse::decode(msg)
            .map(Some)
            .map_err(|e| format!("decoding ChunkedReadResponse: {e}"))
    }
}

/// Go `binary.Uvarint`: `Ok(None)` if incomplete.
fn uvarint(b: &[u8]) -> std::result::Result<Option<(u64, usize)>, String> {
    let mut x: u64 = 0;
    for (i, &byte) in b.iter().enumerate() {
        if i == 10 {
            return Err("frame length varint overflows 64 bits".into());
        }
        x |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Ok(Some((x, i + 1)));
        }
    }
    Ok(None)
}

/// Encodes one frame (used by tests and the benchmark's fake servers).
pub fn encode_frame(msg: &prom::ChunkedReadResponse) -> Vec<u8> {
    let body = msg.encode_to_vec();
    let mut out = Vec::with_capacity(body.len() + 14);
    let mut len = body.len() as u64;
    loop {
        let b = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// A SAMPLES answer (snappy `ReadResponse`) as chunked series with XOR
/// chunks of up to 120 samples. Native histograms cannot be re-encoded here.
fn samples_to_chunked(body: &[u8]) -> std::result::Result<Vec<prom::ChunkedSeries>, String> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy: {e}"))?;
    let resp = prom::ReadResponse::decode(raw.as_slice())
        .map_err(|e| format!("decoding ReadResponse: {e}"))?;
    let mut out = Vec::new();
    for result in resp.results {
        for ts in result.timeseries {
            if !ts.histograms.is_empty() {
                return Err("SAMPLES answer carries native histograms; use a Prometheus with STREAMED_XOR_CHUNKS".into());
            }
            let mut chunks = Vec::new();
            for part in ts.samples.chunks(SAMPLES_PER_CHUNK) {
                let mut enc = aeon_tsdb_block::chunkenc::XorEncoder::new();
                for s in part {
                    enc.append(s.timestamp, s.value);
                }
                let (Some(first), Some(last)) = (part.first(), part.last()) else {
                    continue;
                };
                chunks.push(prom::Chunk {
                    min_time_ms: first.timestamp,
                    max_time_ms: last.timestamp,
                    r#type: prom::chunk::Encoding::Xor as i32,
                    data: Bytes::from(enc.finish()),
                });
            }
            out.push(prom::ChunkedSeries {
                labels: ts.labels,
                chunks,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(name: &str) -> prom::ChunkedReadResponse {
        prom::ChunkedReadResponse {
            chunked_series: vec![prom::ChunkedSeries {
                labels: vec![prom::Label {
                    name: "__name__".into(),
                    value: name.into(),
                }],
                chunks: vec![prom::Chunk {
                    min_time_ms: 1,
                    max_time_ms: 2,
                    r#type: 1,
                    data: Bytes::from_static(b"\x00\x01ab"),
                }],
            }],
            query_index: 0,
        }
    }

    #[test]
    fn frames_decode_byte_by_byte() {
        let mut wire = encode_frame(&frame("a"));
        wire.extend(encode_frame(&frame("b")));
        let mut d = FrameDecoder::default();
        let mut got = Vec::new();
        for b in wire {
            d.push(&[b]);
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, vec![frame("a"), frame("b")]);
        assert!(d.is_empty());
    }

    #[test]
    fn bad_crc_and_huge_frames_are_errors() {
        let mut wire = encode_frame(&frame("a"));
        let last = wire.len() - 1;
        wire[last] ^= 0xff;
        let mut d = FrameDecoder::default();
        d.push(&wire);
        assert!(d.next_frame().unwrap_err().contains("checksum"));

        let mut d = FrameDecoder::default();
        d.push(&[0x81, 0xe1, 0xeb, 0x17]); // 50_000_001
        let e = d.next_frame().unwrap_err();
        assert!(e.contains("exceeds the limit"), "{e}");
    }

    #[test]
    fn samples_become_xor_chunks() {
        let samples: Vec<prom::Sample> = (0..250)
            .map(|i| prom::Sample {
                value: i as f64,
                timestamp: i * 1000,
            })
            .collect();
        let resp = prom::ReadResponse {
            results: vec![prom::QueryResult {
                timeseries: vec![prom::TimeSeries {
                    labels: vec![],
                    samples,
                    exemplars: vec![],
                    histograms: vec![],
                }],
            }],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&resp.encode_to_vec())
            .unwrap();
        let got = samples_to_chunked(&body).unwrap();
        assert_eq!(got.len(), 1);
        let cs = &got[0].chunks;
        assert_eq!(cs.len(), 3);
        assert_eq!((cs[0].min_time_ms, cs[0].max_time_ms), (0, 119_000));
        assert_eq!((cs[2].min_time_ms, cs[2].max_time_ms), (240_000, 249_000));
        let decoded = aeon_tsdb_block::chunkenc::XorChunk::new(&cs[2].data)
            .unwrap()
            .samples()
            .unwrap();
        assert_eq!(decoded.len(), 10);
        assert_eq!(decoded[9].v, 249.0);
    }
}
