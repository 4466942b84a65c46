//! Interned label strings: every distinct name and value is stored once and
//! series refer to it by a `u32`, reference-counted so strings of deleted
//! series are freed.

use std::collections::HashMap;
use std::sync::Arc;

use aeon_model::{Label, Labels};

type Map = HashMap<Arc<str>, u32, foldhash::fast::RandomState>;

/// A series' labels as sorted `(name, value)` symbol ids.
pub(crate) type LabelIds = Box<[(u32, u32)]>;

/// The string table.
#[derive(Debug, Default)]
pub(crate) struct Symbols {
    ids: Map,
    strings: Vec<Option<Arc<str>>>,
    refs: Vec<u32>,
    free: Vec<u32>,
}

impl Symbols {
    /// The id of `s`, if interned.
    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    /// The string of `id` (`""` for an unknown id, which never happens for
    /// ids held by a live series).
    pub(crate) fn resolve(&self, id: u32) -> &str {
        self.strings
            .get(id as usize)
            .and_then(|s| s.as_deref())
            .unwrap_or("")
    }

    /// Interns `s` and takes one reference on it.
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            self.refs[id as usize] += 1;
            return id;
        }
        let a: Arc<str> = Arc::from(s);
        let id = match self.free.pop() {
            Some(id) => {
                self.strings[id as usize] = Some(a.clone());
                self.refs[id as usize] = 1;
                id
            }
            None => {
                self.strings.push(Some(a.clone()));
                self.refs.push(1);
                (self.strings.len() - 1) as u32
            }
        };
        self.ids.insert(a, id);
        id
    }

    /// Drops one reference; the string is freed with its last one.
    pub(crate) fn release(&mut self, id: u32) {
        let i = id as usize;
        let Some(r) = self.refs.get_mut(i) else {
            return;
        };
        *r = r.saturating_sub(1);
        if *r == 0
            && let Some(s) = self.strings[i].take()
        {
            self.ids.remove(&s);
            self.free.push(id);
        }
    }

    /// Interns a label set as sorted `(name, value)` id pairs.
    pub(crate) fn intern_labels(&mut self, ls: &Labels) -> LabelIds {
        ls.iter()
            .map(|l| (self.intern(&l.name), self.intern(&l.value)))
            .collect()
    }

    pub(crate) fn release_labels(&mut self, ids: &[(u32, u32)]) {
        for &(n, v) in ids {
            self.release(n);
            self.release(v);
        }
    }

    /// The label set of interned pairs.
    pub(crate) fn labels(&self, ids: &[(u32, u32)]) -> Labels {
        Labels::from_sorted(
            ids.iter()
                .map(|&(n, v)| Label::new(self.resolve(n), self.resolve(v)))
                .collect(),
        )
    }

    /// Whether interned pairs spell exactly `ls`.
    pub(crate) fn equals(&self, ids: &[(u32, u32)], ls: &Labels) -> bool {
        ids.len() == ls.len()
            && ids
                .iter()
                .zip(ls.iter())
                .all(|(&(n, v), l)| self.resolve(n) == l.name && self.resolve(v) == l.value)
    }

    /// Number of live strings.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_shared_and_freed_with_their_last_reference() {
        let mut s = Symbols::default();
        let a = Labels::from_pairs(&[("job", "a"), ("x", "1")]);
        let b = Labels::from_pairs(&[("job", "a"), ("x", "2")]);
        let ia = s.intern_labels(&a);
        let ib = s.intern_labels(&b);
        assert_eq!(s.len(), 5);
        assert_eq!(ia[0], ib[0]);
        assert!(s.equals(&ia, &a) && !s.equals(&ia, &b));
        assert_eq!(s.labels(&ib), b);
        s.release_labels(&ia);
        assert_eq!(s.len(), 4);
        assert_eq!(s.get("1"), None);
        // A freed id is reused.
        let ic = s.intern_labels(&Labels::from_pairs(&[("y", "3")]));
        assert!(ic.iter().all(|&(n, v)| n <= 4 && v <= 5));
        assert_eq!(s.labels(&ib), b);
    }
}
