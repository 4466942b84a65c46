//! The [`StoreApi`] trait every store (sidecar, store gateway, querier proxy,
//! in-memory test store) implements, and helpers on the wire messages it uses.

use std::pin::Pin;

use futures::Stream;

use crate::pb::thanos::{self, info, series_response};
use crate::{Error, Result};

/// A stream of Series responses: series sorted by labels (after removal of
/// `without_replica_labels`), warnings and hints. Dropping it cancels the
/// work behind it (for a remote store, the gRPC call).
pub type SeriesStream =
    Pin<Box<dyn Stream<Item = Result<thanos::SeriesResponse>> + Send + 'static>>;

/// The Thanos Store API, transport-independent. Object safe: hold it as
/// `Arc<dyn StoreApi>`.
#[async_trait::async_trait]
pub trait StoreApi: Send + Sync + 'static {
    /// What this endpoint serves: external label sets, time range,
    /// capabilities (`/thanos.info.Info/Info`).
    async fn info(&self) -> Result<info::InfoResponse>;

    /// Starts a Series call (`/thanos.Store/Series`). Request validation
    /// errors are returned here; errors while streaming come as stream items
    /// (the stream ends after an error).
    async fn series(&self, req: thanos::SeriesRequest) -> Result<SeriesStream>;

    /// Sorted, unique label names (`/thanos.Store/LabelNames`).
    async fn label_names(
        &self,
        req: thanos::LabelNamesRequest,
    ) -> Result<thanos::LabelNamesResponse>;

    /// Sorted, unique values of one label (`/thanos.Store/LabelValues`).
    async fn label_values(
        &self,
        req: thanos::LabelValuesRequest,
    ) -> Result<thanos::LabelValuesResponse>;
}

#[async_trait::async_trait]
impl<T: StoreApi + ?Sized> StoreApi for std::sync::Arc<T> {
    async fn info(&self) -> Result<info::InfoResponse> {
        (**self).info().await
    }

    async fn series(&self, req: thanos::SeriesRequest) -> Result<SeriesStream> {
        (**self).series(req).await
    }

    async fn label_names(
        &self,
        req: thanos::LabelNamesRequest,
    ) -> Result<thanos::LabelNamesResponse> {
        (**self).label_names(req).await
    }

    async fn label_values(
        &self,
        req: thanos::LabelValuesRequest,
    ) -> Result<thanos::LabelValuesResponse> {
        (**self).label_values(req).await
    }
}

/// One item of a Series stream, as an owned enum (the `oneof` of
/// `SeriesResponse`).
pub use series_response::Result as SeriesFrame;

impl thanos::SeriesResponse {
    /// A response carrying one series.
    pub fn series(series: thanos::Series) -> Self {
        Self {
            result: Some(SeriesFrame::Series(series)),
        }
    }

    /// A response carrying a warning.
    pub fn warning(warning: impl Into<String>) -> Self {
        Self {
            result: Some(SeriesFrame::Warning(warning.into())),
        }
    }

    /// A response carrying hints.
    pub fn hints(hints: prost_types::Any) -> Self {
        Self {
            result: Some(SeriesFrame::Hints(hints)),
        }
    }

    /// The series, if this response carries one.
    pub fn as_series(&self) -> Option<&thanos::Series> {
        match &self.result {
            Some(SeriesFrame::Series(s)) => Some(s),
            _ => None,
        }
    }

    /// The warning, if this response carries one.
    pub fn as_warning(&self) -> Option<&str> {
        match &self.result {
            Some(SeriesFrame::Warning(w)) => Some(w),
            _ => None,
        }
    }
}

impl thanos::Label {
    /// A wire label.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

impl thanos::LabelMatcher {
    /// A wire matcher of the given type.
    pub fn new(
        kind: thanos::label_matcher::Type,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        Self {
            r#type: kind as i32,
            name: name.into(),
            value: value.into(),
        }
    }
}

impl thanos::Chunk {
    /// Number of samples of an XOR chunk, from its 2-byte big-endian header
    /// (what Thanos' sample limiter counts); `None` for other encodings or
    /// truncated data.
    pub fn xor_num_samples(&self) -> Option<u16> {
        if self.r#type != thanos::chunk::Encoding::Xor as i32 {
            return None;
        }
        Some(u16::from_be_bytes([
            *self.data.first()?,
            *self.data.get(1)?,
        ]))
    }
}

impl thanos::AggrChunk {
    /// A raw (not downsampled) chunk covering `[min_time, max_time]`.
    pub fn raw(min_time: i64, max_time: i64, chunk: thanos::Chunk) -> Self {
        Self {
            min_time,
            max_time,
            raw: Some(chunk),
            ..Default::default()
        }
    }
}

/// Type URL prefix gogo/protobuf uses for `google.protobuf.Any`.
pub const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

/// Packs a message into `Any` with Thanos' type URL
/// (`type.googleapis.com/<full name>`, e.g. `hintspb.SeriesRequestHints`).
pub fn pack_any(full_name: &str, msg: &impl prost::Message) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("{TYPE_URL_PREFIX}{full_name}"),
        value: msg.encode_to_vec(),
    }
}

/// Unpacks an `Any` after checking its message name (the part after the last
/// `/` of the type URL), as gogo's `UnmarshalAny` does.
pub fn unpack_any<M: prost::Message + Default>(
    full_name: &str,
    any: &prost_types::Any,
) -> Result<M> {
    let name = any.type_url.rsplit('/').next().unwrap_or_default();
    if name != full_name {
        return Err(Error::invalid(format!(
            "hints of type {:?}, expected {full_name}",
            any.type_url
        )));
    }
    M::decode(any.value.as_slice())
        .map_err(|e| Error::invalid(format!("decoding {full_name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::hintspb;

    #[test]
    fn any_round_trip_and_name_check() {
        let h = hintspb::SeriesRequestHints {
            block_matchers: vec![],
            enable_query_stats: true,
        };
        let any = pack_any("hintspb.SeriesRequestHints", &h);
        assert_eq!(
            any.type_url,
            "type.googleapis.com/hintspb.SeriesRequestHints"
        );
        let back: hintspb::SeriesRequestHints =
            unpack_any("hintspb.SeriesRequestHints", &any).unwrap();
        assert_eq!(back, h);
        let err = unpack_any::<hintspb::SeriesResponseHints>("hintspb.SeriesResponseHints", &any)
            .unwrap_err();
        assert_eq!(
            tonic::Status::from(err).code(),
            tonic::Code::InvalidArgument
        );
    }

    #[test]
    fn xor_sample_count_from_header() {
        let c = thanos::Chunk {
            r#type: 0,
            data: bytes::Bytes::from_static(&[0x01, 0x02, 0xff]),
            hash: 0,
        };
        assert_eq!(c.xor_num_samples(), Some(258));
        let h = thanos::Chunk {
            r#type: 1,
            ..c.clone()
        };
        assert_eq!(h.xor_num_samples(), None);
        let short = thanos::Chunk {
            data: bytes::Bytes::from_static(&[1]),
            ..c
        };
        assert_eq!(short.xor_num_samples(), None);
    }

    #[test]
    fn response_helpers() {
        let r = thanos::SeriesResponse::warning("w");
        assert_eq!(r.as_warning(), Some("w"));
        assert!(r.as_series().is_none());
        let r = thanos::SeriesResponse::series(thanos::Series::default());
        assert!(r.as_series().is_some());
    }
}
