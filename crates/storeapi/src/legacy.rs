//! The deprecated `thanos.Store/Info` (Thanos before v0.37 had no
//! `thanos.info.Info` service) in both directions: the server answers it
//! from the Info API answer ([`legacy_info`]); the client falls back to it
//! when an endpoint lacks the Info service ([`info_from_legacy`]).

use crate::pb::thanos::{self, info};

/// Component types and their legacy `StoreType`.
const STORE_TYPES: [(&str, thanos::StoreType); 6] = [
    ("query", thanos::StoreType::Query),
    ("rule", thanos::StoreType::Rule),
    ("sidecar", thanos::StoreType::Sidecar),
    ("store", thanos::StoreType::Store),
    ("receive", thanos::StoreType::Receive),
    ("debug", thanos::StoreType::Debug),
];

/// The deprecated `thanos.Store/Info` answer derived from the Info API one.
pub fn legacy_info(info: info::InfoResponse) -> thanos::InfoResponse {
    let store_type = STORE_TYPES
        .iter()
        .find(|(name, _)| *name == info.component_type)
        .map_or(thanos::StoreType::Unknown, |(_, t)| *t);
    let (min_time, max_time) = info
        .store
        .as_ref()
        .map(|s| (s.min_time, s.max_time))
        .unwrap_or_default();
    thanos::InfoResponse {
        labels: info
            .label_sets
            .first()
            .map(|s| s.labels.clone())
            .unwrap_or_default(),
        min_time,
        max_time,
        store_type: store_type as i32,
        label_sets: info
            .label_sets
            .into_iter()
            .map(|s| thanos::LabelSet { labels: s.labels })
            .collect(),
    }
}

/// The Info API answer equivalent to a legacy `Store/Info` answer: the
/// component type from the store type, the label sets (or the single
/// `labels` of even older endpoints), the time range.
pub fn info_from_legacy(l: thanos::InfoResponse) -> info::InfoResponse {
    let component = STORE_TYPES
        .iter()
        .find(|(_, t)| *t as i32 == l.store_type)
        .map_or("", |(name, _)| name);
    let mut label_sets: Vec<thanos::ZLabelSet> = l
        .label_sets
        .into_iter()
        .map(|s| thanos::ZLabelSet { labels: s.labels })
        .collect();
    if label_sets.is_empty() && !l.labels.is_empty() {
        label_sets.push(thanos::ZLabelSet { labels: l.labels });
    }
    info::InfoResponse {
        label_sets,
        component_type: component.into(),
        store: Some(info::StoreInfo {
            min_time: l.min_time,
            max_time: l.max_time,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_info_maps_component() {
        let info = info::InfoResponse {
            label_sets: vec![thanos::ZLabelSet {
                labels: vec![thanos::Label::new("ext", "1")],
            }],
            component_type: "sidecar".into(),
            store: Some(info::StoreInfo {
                min_time: 5,
                max_time: 9,
                ..Default::default()
            }),
            ..Default::default()
        };
        let l = legacy_info(info);
        assert_eq!(l.store_type, thanos::StoreType::Sidecar as i32);
        assert_eq!((l.min_time, l.max_time), (5, 9));
        assert_eq!(l.labels, vec![thanos::Label::new("ext", "1")]);
        assert_eq!(l.label_sets.len(), 1);
    }

    #[test]
    fn info_from_legacy_inverts_legacy_info() {
        for component in ["query", "rule", "sidecar", "store", "receive", "debug", ""] {
            let info = info::InfoResponse {
                label_sets: vec![thanos::ZLabelSet {
                    labels: vec![thanos::Label::new("ext", "1")],
                }],
                component_type: component.into(),
                store: Some(info::StoreInfo {
                    min_time: 5,
                    max_time: 9,
                    ..Default::default()
                }),
                ..Default::default()
            };
            assert_eq!(info_from_legacy(legacy_info(info.clone())), info);
        }
    }

    #[test]
    fn oldest_endpoints_give_only_labels() {
        let l = thanos::InfoResponse {
            labels: vec![thanos::Label::new("replica", "a")],
            store_type: 99,
            ..Default::default()
        };
        let i = info_from_legacy(l);
        assert_eq!(i.component_type, "");
        assert_eq!(i.label_sets.len(), 1);
        assert_eq!(i.label_sets[0].labels[0].value, "a");
    }
}
