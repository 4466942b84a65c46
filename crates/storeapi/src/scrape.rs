//! The Thanos APIs about what Prometheus scrapes, beside the Store API:
//! [`MetadataApi`] (`/thanos.Metadata/MetricMetadata`: TYPE, HELP, UNIT per
//! metric family), [`ExemplarsApi`] (`/thanos.Exemplars/Exemplars`) and
//! [`TargetsApi`] (`/thanos.Targets/Targets`).
//!
//! On the wire each is a server stream of data frames and warnings (Thanos's
//! proxies send one frame per store). The traits return the whole answer as
//! a list of frames: every implementation (a sidecar asking Prometheus's
//! HTTP API, a querier fanning out) has it all before it answers.
//! [`crate::StoreServer`] serves them (and advertises them in Info) when
//! given an implementation; [`crate::StoreClient`] implements all three.

use crate::Result;
use crate::pb::thanos;

/// `/thanos.Metadata/MetricMetadata`.
#[async_trait::async_trait]
pub trait MetadataApi: Send + Sync + 'static {
    /// Metric metadata maps and warnings.
    async fn metric_metadata(
        &self,
        req: thanos::MetricMetadataRequest,
    ) -> Result<Vec<thanos::MetricMetadataResponse>>;
}

/// `/thanos.Exemplars/Exemplars`.
#[async_trait::async_trait]
pub trait ExemplarsApi: Send + Sync + 'static {
    /// One `ExemplarData` per series (external labels included), and warnings.
    async fn exemplars(
        &self,
        req: thanos::ExemplarsRequest,
    ) -> Result<Vec<thanos::ExemplarsResponse>>;
}

/// `/thanos.Targets/Targets`.
#[async_trait::async_trait]
pub trait TargetsApi: Send + Sync + 'static {
    /// Target lists (external labels included) and warnings.
    async fn targets(&self, req: thanos::TargetsRequest) -> Result<Vec<thanos::TargetsResponse>>;
}

#[async_trait::async_trait]
impl<T: MetadataApi + ?Sized> MetadataApi for std::sync::Arc<T> {
    async fn metric_metadata(
        &self,
        req: thanos::MetricMetadataRequest,
    ) -> Result<Vec<thanos::MetricMetadataResponse>> {
        (**self).metric_metadata(req).await
    }
}

#[async_trait::async_trait]
impl<T: ExemplarsApi + ?Sized> ExemplarsApi for std::sync::Arc<T> {
    async fn exemplars(
        &self,
        req: thanos::ExemplarsRequest,
    ) -> Result<Vec<thanos::ExemplarsResponse>> {
        (**self).exemplars(req).await
    }
}

#[async_trait::async_trait]
impl<T: TargetsApi + ?Sized> TargetsApi for std::sync::Arc<T> {
    async fn targets(&self, req: thanos::TargetsRequest) -> Result<Vec<thanos::TargetsResponse>> {
        (**self).targets(req).await
    }
}

/// The `oneof` of `ExemplarsResponse`.
pub use thanos::exemplars_response::Result as ExemplarsFrame;
/// The `oneof` of `MetricMetadataResponse`.
pub use thanos::metric_metadata_response::Result as MetadataFrame;
/// The `oneof` of `TargetsResponse`.
pub use thanos::targets_response::Result as TargetsFrame;

impl thanos::MetricMetadataResponse {
    /// A frame carrying a metadata map.
    pub fn metadata(m: thanos::MetricMetadata) -> Self {
        Self {
            result: Some(MetadataFrame::Metadata(m)),
        }
    }

    /// A frame carrying a warning.
    pub fn warning(w: impl Into<String>) -> Self {
        Self {
            result: Some(MetadataFrame::Warning(w.into())),
        }
    }
}

impl thanos::ExemplarsResponse {
    /// A frame carrying one series' exemplars.
    pub fn data(d: thanos::ExemplarData) -> Self {
        Self {
            result: Some(ExemplarsFrame::Data(d)),
        }
    }

    /// A frame carrying a warning.
    pub fn warning(w: impl Into<String>) -> Self {
        Self {
            result: Some(ExemplarsFrame::Warning(w.into())),
        }
    }
}

impl thanos::TargetsResponse {
    /// A frame carrying target lists.
    pub fn targets(t: thanos::TargetDiscovery) -> Self {
        Self {
            result: Some(TargetsFrame::Targets(t)),
        }
    }

    /// A frame carrying a warning.
    pub fn warning(w: impl Into<String>) -> Self {
        Self {
            result: Some(TargetsFrame::Warning(w.into())),
        }
    }
}

impl thanos::TargetHealth {
    /// Prometheus's JSON text: `up`, `down`, `unknown`.
    pub fn as_prometheus_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Unknown => "unknown",
        }
    }

    /// From Prometheus's JSON text (any case); `None` for other text.
    pub fn from_prometheus_str(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "up" => Some(Self::Up),
            "down" => Some(Self::Down),
            "unknown" => Some(Self::Unknown),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn health_text() {
        for h in [
            thanos::TargetHealth::Up,
            thanos::TargetHealth::Down,
            thanos::TargetHealth::Unknown,
        ] {
            assert_eq!(
                thanos::TargetHealth::from_prometheus_str(h.as_prometheus_str()),
                Some(h)
            );
        }
        assert_eq!(
            thanos::TargetHealth::from_prometheus_str("UP"),
            Some(thanos::TargetHealth::Up)
        );
        assert_eq!(thanos::TargetHealth::from_prometheus_str("sick"), None);
    }

    /// Field numbers Thanos uses (metas = 2, lastScrape = 7, health = 9):
    /// hand-encoded bytes decode into the right fields.
    #[test]
    fn wire_field_numbers() {
        // MetricMetadataEntry { metas: [Meta { type: "counter" }] }: field 2, then field 1.
        let entry = thanos::MetricMetadataEntry::decode(
            &[
                0x12, 0x09, 0x0a, 0x07, b'c', b'o', b'u', b'n', b't', b'e', b'r',
            ][..],
        )
        .unwrap();
        assert_eq!(entry.metas[0].r#type, "counter");
        // ActiveTarget { health: UNKNOWN (9), lastScrapeDuration: 0.5 (8) }.
        let mut b = vec![0x48, 0x02, 0x41];
        b.extend_from_slice(&0.5f64.to_le_bytes());
        let t = thanos::ActiveTarget::decode(&b[..]).unwrap();
        assert_eq!(t.health(), thanos::TargetHealth::Unknown);
        assert_eq!(t.last_scrape_duration, 0.5);
        // Exemplar { ts: 7 (3) }.
        let e = thanos::Exemplar::decode(&[0x18, 0x07][..]).unwrap();
        assert_eq!(e.ts, 7);
        // An Aeon extension field is skipped by a decoder that lacks it:
        // here the ActiveTarget with scrape_interval decodes as a
        // DroppedTarget (which has no field 1002) without error.
        let t = thanos::ActiveTarget {
            scrape_timeout: "10s".into(),
            ..Default::default()
        };
        assert!(thanos::DroppedTarget::decode(&t.encode_to_vec()[..]).is_ok());
    }
}
