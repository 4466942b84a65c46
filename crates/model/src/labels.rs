use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The label that carries the metric name.
pub const METRIC_NAME: &str = "__name__";

/// The separator byte Prometheus uses when hashing label sets.
const SEP: u8 = 0xff;

/// One name/value pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub name: String,
    pub value: String,
}

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// An immutable label set, sorted by name with unique names and no empty
/// values (as Prometheus stores them). Cloning is a reference-count bump;
/// ordering is Prometheus's `labels.Compare` (pairwise by name, then value,
/// then length).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Labels(Arc<[Label]>);

impl Labels {
    /// The empty label set.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Builds a label set from unsorted pairs. Later duplicates of a name win;
    /// pairs with an empty value are dropped, as in Prometheus.
    pub fn new(mut labels: Vec<Label>) -> Self {
        // Stable sort keeps input order among equal names so "last wins" holds.
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out: Vec<Label> = Vec::with_capacity(labels.len());
        for l in labels {
            match out.last_mut() {
                Some(last) if last.name == l.name => *last = l,
                _ => out.push(l),
            }
        }
        out.retain(|l| !l.value.is_empty());
        Self(out.into())
    }

    /// Builds from `(name, value)` string pairs.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> Self {
        Self::new(
            pairs
                .iter()
                .map(|(n, v)| Label::new(n.as_ref(), v.as_ref()))
                .collect(),
        )
    }

    /// Builds from labels the caller guarantees are sorted by name, unique and
    /// non-empty (e.g. decoded from a TSDB index). Debug builds check it.
    pub fn from_sorted(labels: Vec<Label>) -> Self {
        debug_assert!(
            labels.windows(2).all(|w| w[0].name < w[1].name),
            "labels not sorted"
        );
        Self(labels.into())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// The value of `name`, or `""` when absent (Prometheus's matching rule).
    pub fn get_or_empty(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The metric name, if any.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Prometheus's stable 64-bit hash: xxhash64 over `name 0xff value 0xff`
    /// for every label in order. Identical across processes and versions.
    pub fn stable_hash(&self) -> u64 {
        let mut h = xxhash_rust::xxh64::Xxh64::new(0);
        for l in self.iter() {
            h.update(l.name.as_bytes());
            h.update(&[SEP]);
            h.update(l.value.as_bytes());
            h.update(&[SEP]);
        }
        h.digest()
    }

    /// A copy without the named labels.
    pub fn without(&self, names: &[impl AsRef<str>]) -> Self {
        if !self
            .iter()
            .any(|l| names.iter().any(|n| n.as_ref() == l.name))
        {
            return self.clone();
        }
        Self(
            self.iter()
                .filter(|l| !names.iter().any(|n| n.as_ref() == l.name))
                .cloned()
                .collect(),
        )
    }

    /// A copy with only the named labels.
    pub fn keep_only(&self, names: &[impl AsRef<str>]) -> Self {
        Self(
            self.iter()
                .filter(|l| names.iter().any(|n| n.as_ref() == l.name))
                .cloned()
                .collect(),
        )
    }

    /// A copy where every label of `overrides` is set, replacing existing
    /// values (how Thanos adds external labels: they win on conflict).
    pub fn merged_with(&self, overrides: &Labels) -> Self {
        if overrides.is_empty() {
            return self.clone();
        }
        let mut out = Vec::with_capacity(self.len() + overrides.len());
        let (mut a, mut b) = (self.iter().peekable(), overrides.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => match x.name.cmp(&y.name) {
                    std::cmp::Ordering::Less => out.push(a.next().cloned()),
                    std::cmp::Ordering::Greater => out.push(b.next().cloned()),
                    std::cmp::Ordering::Equal => {
                        a.next();
                        out.push(b.next().cloned());
                    }
                },
                (Some(_), None) => out.push(a.next().cloned()),
                (None, Some(_)) => out.push(b.next().cloned()),
                (None, None) => break,
            }
        }
        Self(out.into_iter().flatten().collect())
    }

    /// A builder starting from this set.
    pub fn builder(&self) -> LabelsBuilder {
        LabelsBuilder {
            labels: self.0.to_vec(),
        }
    }

    pub fn to_vec(&self) -> Vec<Label> {
        self.0.to_vec()
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    /// Prometheus's `labels.Compare`.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        for (a, b) in self.iter().zip(other.iter()) {
            let c = a.name.cmp(&b.name).then_with(|| a.value.cmp(&b.value));
            if c.is_ne() {
                return c;
            }
        }
        self.len().cmp(&other.len())
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl FromIterator<Label> for Labels {
    fn from_iter<T: IntoIterator<Item = Label>>(iter: T) -> Self {
        Self::new(iter.into_iter().collect())
    }
}

impl fmt::Display for Labels {
    /// `{a="b", c="d"}` with Go-style quoting, as Prometheus prints label sets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Labels {
    /// As a JSON object `{"name": "value", ...}` (Prometheus API shape).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.len()))?;
        for l in self.iter() {
            m.serialize_entry(&l.name, &l.value)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = std::collections::BTreeMap::<String, String>::deserialize(d)?;
        Ok(Self::new(
            m.into_iter().map(|(n, v)| Label::new(n, v)).collect(),
        ))
    }
}

/// Mutable construction of a [`Labels`]: set, delete, then build.
#[derive(Debug, Clone, Default)]
pub struct LabelsBuilder {
    labels: Vec<Label>,
}

impl LabelsBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let (name, value) = (name.into(), value.into());
        match self.labels.iter_mut().find(|l| l.name == name) {
            Some(l) => l.value = value,
            None => self.labels.push(Label { name, value }),
        }
        self
    }

    pub fn del(&mut self, name: &str) -> &mut Self {
        self.labels.retain(|l| l.name != name);
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.as_str())
    }

    pub fn build(&self) -> Labels {
        Labels::new(self.labels.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_sorts_dedups_and_drops_empty_values() {
        let l = Labels::from_pairs(&[("b", "2"), ("a", "1"), ("b", "3"), ("c", "")]);
        assert_eq!(l.to_string(), r#"{a="1", b="3"}"#);
        assert_eq!(l.get("b"), Some("3"));
        assert_eq!(l.get("c"), None);
        assert_eq!(l.get_or_empty("c"), "");
    }

    #[test]
    fn ordering_matches_prometheus_compare() {
        let a = Labels::from_pairs(&[("a", "1")]);
        let ab = Labels::from_pairs(&[("a", "1"), ("b", "1")]);
        let a2 = Labels::from_pairs(&[("a", "2")]);
        let b = Labels::from_pairs(&[("b", "0")]);
        assert!(a < ab, "prefix sorts first");
        assert!(ab < a2, "value compared before length");
        assert!(a2 < b, "name compared first");
    }

    #[test]
    fn stable_hash_is_fixed() {
        let l = Labels::from_pairs(&[("__name__", "up"), ("job", "node")]);
        // Same bytes as Go's labels.Hash: xxhash64("__name__\xffup\xffjob\xffnode\xff").
        let mut bytes = Vec::new();
        for (n, v) in [("__name__", "up"), ("job", "node")] {
            bytes.extend_from_slice(n.as_bytes());
            bytes.push(0xff);
            bytes.extend_from_slice(v.as_bytes());
            bytes.push(0xff);
        }
        assert_eq!(l.stable_hash(), xxhash_rust::xxh64::xxh64(&bytes, 0));
        assert_ne!(
            l.stable_hash(),
            Labels::from_pairs(&[("job", "node")]).stable_hash()
        );
    }

    #[test]
    fn merged_with_lets_overrides_win() {
        let series = Labels::from_pairs(&[("a", "s"), ("cluster", "series"), ("z", "z")]);
        let ext = Labels::from_pairs(&[("cluster", "ext"), ("replica", "0")]);
        assert_eq!(
            series.merged_with(&ext).to_string(),
            r#"{a="s", cluster="ext", replica="0", z="z"}"#
        );
    }

    #[test]
    fn without_and_keep_only() {
        let l = Labels::from_pairs(&[("a", "1"), ("b", "2"), ("c", "3")]);
        assert_eq!(l.without(&["b"]).to_string(), r#"{a="1", c="3"}"#);
        assert_eq!(l.keep_only(&["b", "x"]).to_string(), r#"{b="2"}"#);
    }

    #[test]
    fn display_quotes_like_go() {
        let l = Labels::from_pairs(&[("a", "x\"y\n")]);
        assert_eq!(l.to_string(), r#"{a="x\"y\n"}"#);
    }

    #[test]
    fn serde_round_trip_as_object() {
        let l = Labels::from_pairs(&[("b", "2"), ("a", "1")]);
        let j = serde_json::to_string(&l).unwrap();
        assert_eq!(j, r#"{"a":"1","b":"2"}"#);
        assert_eq!(serde_json::from_str::<Labels>(&j).unwrap(), l);
    }

    #[test]
    fn builder_set_and_delete() {
        let mut b = Labels::from_pairs(&[("a", "1")]).builder();
        b.set("c", "3").set("a", "9").del("c").set("b", "2");
        assert_eq!(b.build().to_string(), r#"{a="9", b="2"}"#);
    }
}
