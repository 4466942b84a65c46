//! Conversions between wire types and `aeon_model` types, and label-set
//! helpers that work directly on wire labels (no re-allocation).

use std::cmp::Ordering;

use aeon_model::{Labels, MatchType, Matcher};

use crate::pb::{prometheus as prom, thanos};
use crate::{Error, Result};

/// Wire labels of a model label set (already sorted).
pub fn labels_to_pb(labels: &Labels) -> Vec<thanos::Label> {
    labels
        .iter()
        .map(|l| thanos::Label {
            name: l.name.clone(),
            value: l.value.clone(),
        })
        .collect()
}

/// A model label set from wire labels (sorted, duplicates: last wins, empty
/// values dropped).
pub fn labels_from_pb(labels: &[thanos::Label]) -> Labels {
    Labels::new(
        labels
            .iter()
            .map(|l| aeon_model::Label::new(&l.name, &l.value))
            .collect(),
    )
}

/// Same as [`labels_from_pb`] but consumes the wire labels.
pub fn labels_from_pb_owned(labels: Vec<thanos::Label>) -> Labels {
    Labels::new(
        labels
            .into_iter()
            .map(|l| aeon_model::Label {
                name: l.name,
                value: l.value,
            })
            .collect(),
    )
}

/// Prometheus `labels.Compare` on wire labels (assumed sorted by name).
pub fn compare_labels(a: &[thanos::Label], b: &[thanos::Label]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let c = x.name.cmp(&y.name).then_with(|| x.value.cmp(&y.value));
        if c.is_ne() {
            return c;
        }
    }
    a.len().cmp(&b.len())
}

/// Removes the named labels from sorted wire labels in place.
pub fn remove_labels(labels: &mut Vec<thanos::Label>, names: &[String]) {
    if !names.is_empty() {
        labels.retain(|l| !names.contains(&l.name));
    }
}

/// Sets `overrides` (sorted) on sorted wire labels; overrides win on conflict
/// (how stores add their external labels).
pub fn merge_external_labels(
    labels: Vec<thanos::Label>,
    overrides: &[thanos::Label],
) -> Vec<thanos::Label> {
    if overrides.is_empty() {
        return labels;
    }
    let mut out = Vec::with_capacity(labels.len() + overrides.len());
    let mut a = labels.into_iter().peekable();
    let mut b = overrides.iter().peekable();
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => match x.name.cmp(&y.name) {
                Ordering::Less => out.extend(a.next()),
                Ordering::Greater => out.extend(b.next().cloned()),
                Ordering::Equal => {
                    a.next();
                    out.extend(b.next().cloned());
                }
            },
            (Some(_), None) => out.extend(a.next()),
            (None, Some(_)) => out.extend(b.next().cloned()),
            (None, None) => break,
        }
    }
    out
}

fn match_type_from_i32(name: &str, kind: i32) -> Result<MatchType> {
    Ok(match kind {
        0 => MatchType::Equal,
        1 => MatchType::NotEqual,
        2 => MatchType::RegexMatch,
        3 => MatchType::RegexNoMatch,
        _ => {
            return Err(Error::UnknownMatcherType {
                name: name.to_owned(),
                kind,
            });
        }
    })
}

fn build_matcher(kind: i32, name: &str, value: &str) -> Result<Matcher> {
    let kind = match_type_from_i32(name, kind)?;
    Matcher::new(kind, name, value).map_err(|source| Error::InvalidMatcher {
        name: name.to_owned(),
        source,
    })
}

/// A model matcher from a Thanos wire matcher; bad regex → `InvalidArgument`.
pub fn matcher_from_pb(m: &thanos::LabelMatcher) -> Result<Matcher> {
    build_matcher(m.r#type, &m.name, &m.value)
}

/// All matchers of a request.
pub fn matchers_from_pb(ms: &[thanos::LabelMatcher]) -> Result<Vec<Matcher>> {
    ms.iter().map(matcher_from_pb).collect()
}

/// The Thanos wire matcher of a model matcher.
pub fn matcher_to_pb(m: &Matcher) -> thanos::LabelMatcher {
    thanos::LabelMatcher {
        r#type: m.kind as i32,
        name: m.name.clone(),
        value: m.value.clone(),
    }
}

/// Thanos wire matchers of model matchers.
pub fn matchers_to_pb(ms: &[Matcher]) -> Vec<thanos::LabelMatcher> {
    ms.iter().map(matcher_to_pb).collect()
}

/// A model matcher from a Prometheus remote-read matcher.
pub fn matcher_from_prom(m: &prom::LabelMatcher) -> Result<Matcher> {
    build_matcher(m.r#type, &m.name, &m.value)
}

/// The Prometheus remote-read matcher of a model matcher.
pub fn matcher_to_prom(m: &Matcher) -> prom::LabelMatcher {
    prom::LabelMatcher {
        r#type: m.kind as i32,
        name: m.name.clone(),
        value: m.value.clone(),
    }
}

/// Thanos wire labels from Prometheus remote-read labels.
pub fn labels_from_prom(labels: Vec<prom::Label>) -> Vec<thanos::Label> {
    labels
        .into_iter()
        .map(|l| thanos::Label {
            name: l.name,
            value: l.value,
        })
        .collect()
}

/// The Thanos chunk encoding of a Prometheus remote-read chunk encoding
/// (Thanos' enum is Prometheus' minus one). `None` for UNKNOWN and for the
/// encodings Thanos cannot represent (XOR2, *_ST).
pub fn chunk_encoding_from_prom(e: i32) -> Option<thanos::chunk::Encoding> {
    match prom::chunk::Encoding::try_from(e).ok()? {
        prom::chunk::Encoding::Xor => Some(thanos::chunk::Encoding::Xor),
        prom::chunk::Encoding::Histogram => Some(thanos::chunk::Encoding::Histogram),
        prom::chunk::Encoding::FloatHistogram => Some(thanos::chunk::Encoding::FloatHistogram),
        _ => None,
    }
}

/// xxhash64 (seed 0) of chunk data, as Thanos computes `Chunk.hash`.
pub fn chunk_hash(data: &[u8]) -> u64 {
    xxhash_rust::xxh64::xxh64(data, 0)
}

impl thanos::Chunk {
    /// `hash` if set, else computed from `data`.
    pub fn effective_hash(&self) -> u64 {
        if self.hash != 0 {
            self.hash
        } else {
            chunk_hash(&self.data)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(n: &str, v: &str) -> thanos::Label {
        thanos::Label {
            name: n.into(),
            value: v.into(),
        }
    }

    #[test]
    fn labels_round_trip() {
        let ls = Labels::from_pairs(&[("b", "2"), ("a", "1")]);
        let pb = labels_to_pb(&ls);
        assert_eq!(pb, vec![l("a", "1"), l("b", "2")]);
        assert_eq!(labels_from_pb(&pb), ls);
        assert_eq!(labels_from_pb_owned(pb), ls);
    }

    #[test]
    fn compare_matches_model_ordering() {
        let sets = [
            vec![],
            vec![l("a", "1")],
            vec![l("a", "1"), l("b", "1")],
            vec![l("a", "2")],
            vec![l("b", "0")],
        ];
        for x in &sets {
            for y in &sets {
                assert_eq!(
                    compare_labels(x, y),
                    labels_from_pb(x).cmp(&labels_from_pb(y))
                );
            }
        }
    }

    #[test]
    fn external_labels_win() {
        let got = merge_external_labels(
            vec![l("a", "1"), l("r", "series")],
            &[l("r", "ext"), l("z", "9")],
        );
        assert_eq!(got, vec![l("a", "1"), l("r", "ext"), l("z", "9")]);
    }

    #[test]
    fn matcher_conversion() {
        let m = thanos::LabelMatcher {
            r#type: 2,
            name: "job".into(),
            value: "a|b".into(),
        };
        let mm = matcher_from_pb(&m).unwrap();
        assert_eq!(mm.kind, MatchType::RegexMatch);
        assert!(mm.matches("a") && !mm.matches("ab"));
        assert_eq!(matcher_to_pb(&mm), m);
    }

    #[test]
    fn bad_regex_is_invalid_argument() {
        let m = thanos::LabelMatcher {
            r#type: 2,
            name: "job".into(),
            value: "(".into(),
        };
        let err = matcher_from_pb(&m).unwrap_err();
        assert!(matches!(err, Error::InvalidMatcher { .. }));
        assert_eq!(
            tonic::Status::from(err).code(),
            tonic::Code::InvalidArgument
        );
        let m = thanos::LabelMatcher {
            r#type: 7,
            name: "job".into(),
            value: "x".into(),
        };
        assert_eq!(
            tonic::Status::from(matcher_from_pb(&m).unwrap_err()).code(),
            tonic::Code::InvalidArgument
        );
    }

    #[test]
    fn prom_encoding_shift() {
        assert_eq!(
            chunk_encoding_from_prom(1),
            Some(thanos::chunk::Encoding::Xor)
        );
        assert_eq!(
            chunk_encoding_from_prom(3),
            Some(thanos::chunk::Encoding::FloatHistogram)
        );
        assert_eq!(chunk_encoding_from_prom(0), None);
        assert_eq!(chunk_encoding_from_prom(4), None);
    }

    #[test]
    fn effective_hash() {
        let c = thanos::Chunk {
            r#type: 0,
            data: bytes::Bytes::from_static(b"abc"),
            hash: 0,
        };
        assert_eq!(c.effective_hash(), chunk_hash(b"abc"));
        let c = thanos::Chunk { hash: 42, ..c };
        assert_eq!(c.effective_hash(), 42);
    }
}
