//! Garbage collection of series that hold no samples any more.

use std::sync::atomic::Ordering;

use super::{Head, stripe};
use crate::symbols::LabelIds;

impl Head {
    /// Removes every series without samples that no appender holds;
    /// returns how many went.
    pub(crate) fn gc(&self) -> usize {
        let mut removed: Vec<(u64, LabelIds)> = Vec::new();
        for st in self.series.iter() {
            let mut st = st.write();
            st.retain(|r, s| {
                let dead = s.chunks.is_empty()
                    && s.open.is_none()
                    && s.ooo.is_none()
                    && s.pending.load(Ordering::Acquire) == 0;
                if dead {
                    removed.push((*r, std::mem::take(&mut s.labels)));
                }
                !dead
            });
        }
        if removed.is_empty() {
            return 0;
        }
        // Hashes first, with no other lock held (lock order: hash stripe
        // before symbols).
        let hashes: Vec<u64> = {
            let syms = self.symbols.read();
            removed
                .iter()
                .map(|(_, ids)| syms.labels(ids).stable_hash())
                .collect()
        };
        for ((r, _), h) in removed.iter().zip(&hashes) {
            self.hashes[stripe(*h)].write().remove(*h, *r);
        }
        removed.sort_unstable_by_key(|(r, _)| *r);
        let refs: Vec<u64> = removed.iter().map(|(r, _)| *r).collect();
        let labels: Vec<&[(u32, u32)]> = removed.iter().map(|(_, l)| &l[..]).collect();
        self.postings.write().remove(&refs, &labels);
        let mut syms = self.symbols.write();
        for (_, ids) in &removed {
            syms.release_labels(ids);
        }
        self.num_series.fetch_sub(removed.len(), Ordering::AcqRel);
        removed.len()
    }
}
