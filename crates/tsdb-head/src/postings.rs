//! The inverted index: for every label name and value, the sorted series
//! references that carry it; and series selection by matchers with
//! Prometheus's semantics (a missing label has the value `""`).

use aeon_model::{MatchType, Matcher};

use crate::hash::IdMap;
use crate::symbols::Symbols;

/// name id → value id → sorted refs.
#[derive(Debug, Default)]
pub(crate) struct Postings {
    map: IdMap<u32, IdMap<u32, Vec<u64>>>,
    all: Vec<u64>,
}

fn insert_sorted(v: &mut Vec<u64>, r: u64) {
    match v.last() {
        Some(&l) if l >= r => {
            if let Err(i) = v.binary_search(&r) {
                v.insert(i, r);
            }
        }
        _ => v.push(r),
    }
}

impl Postings {
    pub(crate) fn add(&mut self, r: u64, labels: &[(u32, u32)]) {
        for &(n, v) in labels {
            insert_sorted(self.map.entry(n).or_default().entry(v).or_default(), r);
        }
        insert_sorted(&mut self.all, r);
    }

    /// Removes the sorted `refs`, whose label pairs are `labels`.
    pub(crate) fn remove(&mut self, refs: &[u64], labels: &[&[(u32, u32)]]) {
        let gone = |r: &u64| refs.binary_search(r).is_ok();
        let mut touched: Vec<(u32, u32)> = labels.iter().flat_map(|l| l.iter().copied()).collect();
        touched.sort_unstable();
        touched.dedup();
        for (n, v) in touched {
            let Some(values) = self.map.get_mut(&n) else {
                continue;
            };
            if let Some(list) = values.get_mut(&v) {
                list.retain(|r| !gone(r));
                if list.is_empty() {
                    values.remove(&v);
                }
            }
            if values.is_empty() {
                self.map.remove(&n);
            }
        }
        self.all.retain(|r| !gone(r));
    }

    #[cfg(test)]
    pub(crate) fn all(&self) -> &[u64] {
        &self.all
    }

    /// Label name ids with at least one series.
    pub(crate) fn names(&self) -> impl Iterator<Item = u32> + '_ {
        self.map.keys().copied()
    }

    /// Value ids of label `name`.
    pub(crate) fn values(&self, name: u32) -> impl Iterator<Item = u32> + '_ {
        self.map
            .get(&name)
            .into_iter()
            .flat_map(|m| m.keys().copied())
    }

    /// The sorted refs of every value of `name` for which `keep` holds.
    fn union_where(&self, syms: &Symbols, name: u32, keep: impl Fn(&str) -> bool) -> Vec<u64> {
        let Some(values) = self.map.get(&name) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (&v, refs) in values {
            if keep(syms.resolve(v)) {
                out.extend_from_slice(refs);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Refs (sorted) of the series `ms` select.
    pub(crate) fn select(&self, syms: &Symbols, ms: &[Matcher]) -> Vec<u64> {
        let mut cands: Option<Vec<u64>> = None;
        // Matchers that need the label present narrow the candidates.
        for m in ms.iter().filter(|m| !m.matches_empty()) {
            let Some(name) = syms.get(&m.name) else {
                return Vec::new();
            };
            let set = match (m.kind, m.set_matches()) {
                (MatchType::Equal, _) | (MatchType::RegexMatch, Some(_)) => {
                    let values = m.set_matches().unwrap_or_default();
                    let mut out = Vec::new();
                    for v in values {
                        if let Some(list) = syms
                            .get(&v)
                            .and_then(|v| self.map.get(&name).and_then(|m| m.get(&v)))
                        {
                            out.extend_from_slice(list);
                        }
                    }
                    out.sort_unstable();
                    out.dedup();
                    out
                }
                _ => self.union_where(syms, name, |v| m.matches(v)),
            };
            cands = Some(match cands {
                None => set,
                Some(c) => intersect(&c, &set),
            });
            if cands.as_ref().is_some_and(Vec::is_empty) {
                return Vec::new();
            }
        }
        let mut cands = cands.unwrap_or_else(|| self.all.clone());
        // Matchers that also match a missing label remove the series whose
        // value does not match.
        for m in ms.iter().filter(|m| m.matches_empty()) {
            let Some(name) = syms.get(&m.name) else {
                continue;
            };
            let out = self.union_where(syms, name, |v| !m.matches(v));
            if !out.is_empty() {
                cands = subtract(&cands, &out);
            }
        }
        cands
    }
}

fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (small, big) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    small
        .iter()
        .copied()
        .filter(|r| big.binary_search(r).is_ok())
        .collect()
}

fn subtract(a: &[u64], b: &[u64]) -> Vec<u64> {
    a.iter()
        .copied()
        .filter(|r| b.binary_search(r).is_err())
        .collect()
}

/// Maps name ids to their strings, sorted (for label-name answers).
pub(crate) fn sorted_strings(syms: &Symbols, ids: impl Iterator<Item = u32>) -> Vec<String> {
    let mut out: Vec<String> = ids.map(|i| syms.resolve(i).to_string()).collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aeon_model::Labels;

    fn index(series: &[&[(&str, &str)]]) -> (Symbols, Postings) {
        let mut s = Symbols::default();
        let mut p = Postings::default();
        for (i, ls) in series.iter().enumerate() {
            let ids = s.intern_labels(&Labels::from_pairs(ls));
            p.add(i as u64 + 1, &ids);
        }
        (s, p)
    }

    fn m(kind: MatchType, n: &str, v: &str) -> Matcher {
        Matcher::new(kind, n, v).unwrap()
    }

    #[test]
    fn selection_follows_prometheus_semantics() {
        use MatchType::*;
        let (s, p) = index(&[
            &[("__name__", "up"), ("job", "a")],
            &[("__name__", "up"), ("job", "b"), ("x", "1")],
            &[("__name__", "down"), ("job", "a")],
        ]);
        let sel = |ms: &[Matcher]| p.select(&s, ms);
        assert_eq!(sel(&[]), vec![1, 2, 3]);
        assert_eq!(sel(&[m(Equal, "__name__", "up")]), vec![1, 2]);
        assert_eq!(
            sel(&[m(Equal, "__name__", "up"), m(NotEqual, "job", "a")]),
            vec![2]
        );
        assert_eq!(sel(&[m(Equal, "x", "")]), vec![1, 3]);
        assert_eq!(sel(&[m(NotEqual, "x", "")]), vec![2]);
        assert_eq!(sel(&[m(RegexMatch, "job", "a|b")]), vec![1, 2, 3]);
        assert_eq!(sel(&[m(RegexMatch, "job", "b.*")]), vec![2]);
        assert_eq!(sel(&[m(RegexNoMatch, "job", "a")]), vec![2]);
        assert_eq!(sel(&[m(RegexMatch, "x", "1|")]), vec![1, 2, 3]);
        assert_eq!(sel(&[m(Equal, "nope", "v")]), Vec::<u64>::new());
        assert_eq!(sel(&[m(NotEqual, "nope", "v")]), vec![1, 2, 3]);
    }

    #[test]
    fn removal_cleans_empty_lists() {
        let mut s = Symbols::default();
        let mut p = Postings::default();
        let a = s.intern_labels(&Labels::from_pairs(&[("job", "a")]));
        let b = s.intern_labels(&Labels::from_pairs(&[("job", "b")]));
        p.add(5, &a);
        p.add(3, &b);
        assert_eq!(p.all(), &[3, 5]);
        p.remove(&[5], &[&a]);
        assert_eq!(p.all(), &[3]);
        assert_eq!(p.values(a[0].0).count(), 1);
    }
}
