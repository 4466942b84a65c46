//! Set operations on sorted postings lists (series IDs).

/// Intersection of sorted, deduplicated lists. Empty input → empty output.
pub fn intersect(lists: &[&[u32]]) -> Vec<u32> {
    let Some(mut sorted) = (!lists.is_empty()).then(|| lists.to_vec()) else {
        return Vec::new();
    };
    sorted.sort_by_key(|l| l.len());
    let (first, rest) = sorted.split_at(1);
    let mut cursors = vec![0usize; rest.len()];
    let mut out = Vec::with_capacity(first[0].len());
    'outer: for &id in first[0] {
        for (l, c) in rest.iter().zip(cursors.iter_mut()) {
            // Galloping search from the cursor.
            let s = &l[*c..];
            let mut step = 1;
            let mut hi = 0;
            while hi < s.len() && s[hi] < id {
                hi += step;
                step *= 2;
            }
            let lo = hi - step / 2 * usize::from(step > 1);
            let hi = hi.min(s.len());
            let pos = lo + s[lo..hi].partition_point(|&x| x < id);
            *c += pos;
            match l.get(*c) {
                Some(&x) if x == id => {}
                Some(_) => continue 'outer,
                None => break 'outer,
            }
        }
        out.push(id);
    }
    out
}

/// Union of sorted lists.
pub fn merge(lists: &[&[u32]]) -> Vec<u32> {
    match lists {
        [] => Vec::new(),
        [one] => one.to_vec(),
        _ => {
            let mut v: Vec<u32> = lists.iter().flat_map(|l| l.iter().copied()).collect();
            v.sort_unstable();
            v.dedup();
            v
        }
    }
}

/// `a` minus `b`, both sorted.
pub fn without(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j < b.len() && b[j] == x {
            continue;
        }
        out.push(x);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn set() -> impl Strategy<Value = BTreeSet<u32>> {
        proptest::collection::btree_set(0u32..500, 0..200)
    }

    proptest! {
        #[test]
        fn ops_match_set_semantics(a in set(), b in set(), c in set()) {
            let (va, vb, vc): (Vec<u32>, Vec<u32>, Vec<u32>) =
                (a.iter().copied().collect(), b.iter().copied().collect(), c.iter().copied().collect());
            let want: Vec<u32> = a.iter().filter(|x| b.contains(x) && c.contains(x)).copied().collect();
            prop_assert_eq!(intersect(&[&va, &vb, &vc]), want);
            let want: Vec<u32> = a.union(&b).copied().collect::<BTreeSet<_>>().union(&c).copied().collect();
            prop_assert_eq!(merge(&[&va, &vb, &vc]), want);
            let want: Vec<u32> = a.difference(&b).copied().collect();
            prop_assert_eq!(without(&va, &vb), want);
        }
    }
}
