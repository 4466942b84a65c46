//! Gap-based partitioning of byte ranges (Thanos's `gapBasedPartitioner`):
//! ranges that lie close together are read with one request, because on
//! object storage a round trip costs more than the bytes in between.

/// The gap Thanos's store-gateway partitions chunk reads with (512 KiB).
pub const THANOS_PARTITION_GAP: u64 = 512 * 1024;

/// One read covering several requested ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// First byte read.
    pub start: u64,
    /// One past the last byte read.
    pub end: u64,
    /// Indices into the requested ranges this read covers, by offset.
    pub ranges: Vec<usize>,
}

impl Part {
    /// Bytes read.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Partitions `ranges` (`(offset, length)`, any order) into reads: by
/// offset, a range joins the current read when it starts at most `gap`
/// bytes after that read's end; otherwise it starts a new read.
pub fn partition(ranges: &[(u64, u64)], gap: u64) -> Vec<Part> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| ranges[i].0);
    let mut parts: Vec<Part> = Vec::new();
    for i in order {
        let (off, len) = ranges[i];
        let end = off.saturating_add(len);
        match parts.last_mut() {
            Some(p) if off <= p.end.saturating_add(gap) => {
                p.end = p.end.max(end);
                p.ranges.push(i);
            }
            _ => parts.push(Part {
                start: off,
                end,
                ranges: vec![i],
            }),
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn close_ranges_share_a_read() {
        // (30, 5) starts exactly `gap` after (0, 10) ends: one read.
        let r = [(100, 10), (0, 10), (30, 5), (1000, 1), (125, 100)];
        let p = partition(&r, 20);
        assert_eq!(
            p,
            vec![
                Part {
                    start: 0,
                    end: 35,
                    ranges: vec![1, 2],
                },
                Part {
                    start: 100,
                    end: 225,
                    ranges: vec![0, 4],
                },
                Part {
                    start: 1000,
                    end: 1001,
                    ranges: vec![3],
                },
            ]
        );
        // A contained range does not shrink the read.
        assert_eq!(partition(&[(0, 100), (120, 5), (10, 5)], 20).len(), 1);
        assert_eq!(partition(&[(0, 100), (121, 5)], 20).len(), 2);
        assert!(partition(&[], 20).is_empty());
    }

    proptest! {
        #[test]
        fn every_range_is_inside_exactly_one_read(
            ranges in proptest::collection::vec((0u64..10_000, 1u64..500), 0..40),
            gap in 0u64..2_000,
        ) {
            let parts = partition(&ranges, gap);
            let mut seen = vec![0; ranges.len()];
            for (k, p) in parts.iter().enumerate() {
                for &i in &p.ranges {
                    seen[i] += 1;
                    let (o, l) = ranges[i];
                    prop_assert!(p.start <= o && o + l <= p.end);
                }
                if k > 0 {
                    prop_assert!(p.start > parts[k - 1].end + gap, "reads closer than gap stay apart");
                }
            }
            prop_assert!(seen.iter().all(|&n| n == 1));
        }
    }
}
