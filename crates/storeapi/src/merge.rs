//! K-way merge of sorted Series streams from many stores.
//!
//! Each input stream yields series sorted by labels (after removal of
//! `without_replica_labels`); a series may be split over consecutive frames.
//! The merged stream yields each distinct label set once, with the chunks of
//! all its frames from all stores sorted by `min_time` and identical chunks
//! (same xxhash64 of the data, `Chunk.hash` when non-zero) dropped. Warnings
//! and hints are passed through as soon as they are read. The first error
//! ends the merged stream (wrap inputs with [`errors_as_warnings`] for the
//! partial-response WARN strategy).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use futures::StreamExt;

use crate::api::{SeriesFrame, SeriesStream};
use crate::convert::{compare_labels, remove_labels};
use crate::pb::thanos::{AggrChunk, Chunk, Series, SeriesResponse};
use crate::{Error, Result};

/// Options of [`merge_series`].
#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// Labels removed from every series before comparing (replica labels).
    pub without_replica_labels: Vec<String>,
}

/// Merges sorted Series streams into one sorted, de-duplicated stream.
pub fn merge_series(streams: Vec<SeriesStream>, opts: MergeOptions) -> SeriesStream {
    let n = streams.len();
    let merger = Merger {
        inputs: streams
            .into_iter()
            .map(|stream| Input {
                stream,
                batch: VecDeque::new(),
                done: false,
            })
            .collect(),
        heap: BinaryHeap::with_capacity(n),
        out: VecDeque::new(),
        to_fill: (0..n).collect(),
        failed: false,
        strip: opts.without_replica_labels,
    };
    futures::stream::unfold(merger, |mut m| async move {
        let item = m.next_item().await?;
        Some((item, m))
    })
    .boxed()
}

/// Buffers a whole Series stream, removes `strip` labels and re-sorts it
/// (Thanos' slow path for stores that do not advertise
/// `supports_without_replica_labels`). Warnings and hints come first; an
/// error ends the stream after them.
pub fn resort_series(stream: SeriesStream, strip: Vec<String>) -> SeriesStream {
    futures::stream::once(async move {
        let mut stream = stream;
        let (mut side, mut series, mut error) = (Vec::new(), Vec::new(), None);
        while let Some(item) = stream.next().await {
            match item {
                Err(e) => {
                    error = Some(e);
                    break;
                }
                Ok(r) => match r.result {
                    Some(SeriesFrame::Series(s)) => series.push(s),
                    Some(SeriesFrame::Batch(b)) => series.extend(b.series),
                    Some(other) => side.push(Ok(SeriesResponse {
                        result: Some(other),
                    })),
                    None => {}
                },
            }
        }
        for s in &mut series {
            remove_labels(&mut s.labels, &strip);
        }
        // Stable: frames of one series keep their order.
        series.sort_by(|a, b| compare_labels(&a.labels, &b.labels));
        let mut out = side;
        out.extend(series.into_iter().map(|s| Ok(SeriesResponse::series(s))));
        out.extend(error.map(Err));
        futures::stream::iter(out)
    })
    .flatten()
    .boxed()
}

/// Turns errors of a store's stream into a warning naming the store, and ends
/// that stream (Thanos' `PartialResponseStrategy::WARN`).
pub fn errors_as_warnings(stream: SeriesStream, store: impl Into<String>) -> SeriesStream {
    let store = store.into();
    futures::stream::unfold((stream, false), move |(mut s, ended)| {
        let store = store.clone();
        async move {
            if ended {
                return None;
            }
            match s.next().await? {
                Ok(r) => Some((Ok(r), (s, false))),
                Err(e) => {
                    let msg = format!("store {store}: {}", tonic::Status::from(e).message());
                    Some((Ok(SeriesResponse::warning(msg)), (s, true)))
                }
            }
        }
    })
    .boxed()
}

/// Up to this many inputs to read are read sequentially (see `Merger::fill`);
/// more (e.g. the first read of every input) concurrently.
const SEQUENTIAL_REFILL: usize = 4;

struct Input {
    stream: SeriesStream,
    /// Series unpacked from a `SeriesBatch` frame, not yet consumed.
    batch: VecDeque<Series>,
    done: bool,
}

/// What reading one input produced: pass-through items and the next series.
type Filled = (Vec<SeriesResponse>, Result<Option<Series>>);

impl Input {
    async fn next_series(&mut self, strip: &[String]) -> Filled {
        let mut side = Vec::new();
        loop {
            if let Some(mut s) = self.batch.pop_front() {
                remove_labels(&mut s.labels, strip);
                return (side, Ok(Some(s)));
            }
            if self.done {
                return (side, Ok(None));
            }
            match self.stream.next().await {
                None => self.done = true,
                Some(Err(e)) => {
                    self.done = true;
                    return (side, Err(e));
                }
                Some(Ok(resp)) => match resp.result {
                    Some(SeriesFrame::Series(mut s)) => {
                        remove_labels(&mut s.labels, strip);
                        return (side, Ok(Some(s)));
                    }
                    Some(SeriesFrame::Batch(b)) => self.batch.extend(b.series),
                    Some(other) => side.push(SeriesResponse {
                        result: Some(other),
                    }),
                    None => {}
                },
            }
        }
    }
}

/// A heap entry: the head series of input `idx`. Ordered so that the
/// `BinaryHeap` (a max-heap) pops the smallest labels first, ties by input.
struct Entry {
    series: Series,
    idx: usize,
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_labels(&other.series.labels, &self.series.labels)
            .then_with(|| other.idx.cmp(&self.idx))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Entry {}

struct Merger {
    inputs: Vec<Input>,
    heap: BinaryHeap<Entry>,
    out: VecDeque<Result<SeriesResponse>>,
    /// Inputs whose head was consumed and must be read again.
    to_fill: Vec<usize>,
    failed: bool,
    strip: Vec<String>,
}

impl Merger {
    /// Reads the next head of every input in `to_fill`, concurrently.
    async fn fill(&mut self) {
        if self.to_fill.len() <= SEQUENTIAL_REFILL {
            // Refills after a merged series touch few inputs: read them one
            // after the other, without join machinery or a scan over all
            // inputs. Remote streams lose nothing by this, as their HTTP/2
            // connection keeps receiving while another input is awaited.
            let mut to_fill = std::mem::take(&mut self.to_fill);
            for &idx in &to_fill {
                let (side, res) = self.inputs[idx].next_series(&self.strip).await;
                self.absorb(idx, side, res);
            }
            to_fill.clear();
            self.to_fill = to_fill;
            return;
        }
        let mut want = vec![false; self.inputs.len()];
        for &i in &self.to_fill {
            want[i] = true;
        }
        self.to_fill.clear();
        let strip = &self.strip;
        let reads = self
            .inputs
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| want[*i])
            .map(|(i, input)| async move { (i, input.next_series(strip).await) });
        let results = futures::future::join_all(reads).await;
        for (idx, (side, res)) in results {
            self.absorb(idx, side, res);
        }
    }

    fn absorb(&mut self, idx: usize, side: Vec<SeriesResponse>, res: Result<Option<Series>>) {
        self.out.extend(side.into_iter().map(Ok));
        match res {
            Ok(Some(series)) => self.heap.push(Entry { series, idx }),
            Ok(None) => {}
            Err(e) => {
                if !self.failed {
                    self.out.push_back(Err(e));
                }
                self.failed = true;
            }
        }
    }

    async fn next_item(&mut self) -> Option<Result<SeriesResponse>> {
        loop {
            if let Some(item) = self.out.pop_front() {
                return Some(item);
            }
            if self.failed {
                return None;
            }
            if !self.to_fill.is_empty() {
                self.fill().await;
                continue;
            }
            let first = self.heap.pop()?;
            let mut series = first.series;
            self.to_fill.push(first.idx);
            let mut chunks = std::mem::take(&mut series.chunks);
            loop {
                while self
                    .heap
                    .peek()
                    .is_some_and(|e| compare_labels(&e.series.labels, &series.labels).is_eq())
                {
                    if let Some(e) = self.heap.pop() {
                        chunks.extend(e.series.chunks);
                        self.to_fill.push(e.idx);
                    }
                }
                // The inputs that gave frames of this series may continue it.
                self.fill().await;
                if self.failed {
                    break;
                }
                if !self
                    .heap
                    .peek()
                    .is_some_and(|e| compare_labels(&e.series.labels, &series.labels).is_eq())
                {
                    break;
                }
            }
            if self.failed {
                continue;
            }
            series.chunks = sort_dedup_chunks(chunks);
            self.out.push_back(Ok(SeriesResponse::series(series)));
        }
    }
}

fn chunk_key(c: &Option<Chunk>, salt: u64) -> u64 {
    match c {
        Some(c) => c.effective_hash().rotate_left(salt as u32 * 7) ^ salt,
        None => 0,
    }
}

/// Identity of an aggregate chunk: combined hashes of its data.
fn aggr_key(c: &AggrChunk) -> u64 {
    chunk_key(&c.raw, 1)
        ^ chunk_key(&c.count, 2)
        ^ chunk_key(&c.sum, 3)
        ^ chunk_key(&c.min, 4)
        ^ chunk_key(&c.max, 5)
        ^ chunk_key(&c.counter, 6)
}

/// Sorts chunks by `(min_time, max_time)` and drops chunks whose data is
/// identical to one already kept.
pub fn sort_dedup_chunks(chunks: Vec<AggrChunk>) -> Vec<AggrChunk> {
    if chunks.len() < 2 {
        return chunks;
    }
    let mut keyed: Vec<(u64, AggrChunk)> = chunks.into_iter().map(|c| (aggr_key(&c), c)).collect();
    keyed.sort_by_key(|a| (a.1.min_time, a.1.max_time, a.0));
    keyed.dedup_by(|a, b| {
        a.0 == b.0 && a.1.min_time == b.1.min_time && a.1.max_time == b.1.max_time
    });
    keyed.into_iter().map(|(_, c)| c).collect()
}

/// Collects a Series stream into (series, warnings), failing on the first error.
pub async fn collect_series(mut stream: SeriesStream) -> Result<(Vec<Series>, Vec<String>)> {
    let (mut series, mut warnings) = (Vec::new(), Vec::new());
    while let Some(item) = stream.next().await {
        match item?.result {
            Some(SeriesFrame::Series(s)) => series.push(s),
            Some(SeriesFrame::Batch(b)) => series.extend(b.series),
            Some(SeriesFrame::Warning(w)) => warnings.push(w),
            Some(SeriesFrame::Hints(_)) | None => {}
        }
    }
    Ok((series, warnings))
}

/// Checks that series are strictly ascending by labels (the streaming rule).
pub fn check_sorted(series: &[Series]) -> Result<()> {
    for w in series.windows(2) {
        if compare_labels(&w[0].labels, &w[1].labels) != Ordering::Less {
            return Err(Error::Internal {
                reason: format!(
                    "series out of order: {:?} then {:?}",
                    w[0].labels, w[1].labels
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::thanos::Label;
    use bytes::Bytes;

    fn chunk(min: i64, data: &str) -> AggrChunk {
        AggrChunk::raw(
            min,
            min + 10,
            Chunk {
                r#type: 0,
                data: Bytes::from(data.to_owned()),
                hash: 0,
            },
        )
    }

    fn series(name: &str, chunks: Vec<AggrChunk>) -> SeriesResponse {
        SeriesResponse::series(Series {
            labels: vec![Label::new("a", name)],
            chunks,
        })
    }

    fn stream(items: Vec<Result<SeriesResponse>>) -> SeriesStream {
        futures::stream::iter(items).boxed()
    }

    #[tokio::test]
    async fn merges_frames_and_stores() {
        let s1 = stream(vec![
            Ok(series("1", vec![chunk(0, "x")])),
            Ok(series("1", vec![chunk(20, "y")])),
            Ok(SeriesResponse::warning("w1")),
            Ok(series("3", vec![chunk(0, "z")])),
        ]);
        let s2 = stream(vec![
            Ok(series("1", vec![chunk(0, "x"), chunk(10, "q")])),
            Ok(series("2", vec![])),
        ]);
        let (got, warns) = collect_series(merge_series(vec![s1, s2], MergeOptions::default()))
            .await
            .unwrap();
        let names: Vec<_> = got.iter().map(|s| s.labels[0].value.as_str()).collect();
        assert_eq!(names, ["1", "2", "3"]);
        let mins: Vec<_> = got[0].chunks.iter().map(|c| c.min_time).collect();
        assert_eq!(mins, [0, 10, 20]);
        assert_eq!(warns, ["w1"]);
    }

    #[tokio::test]
    async fn strips_replica_labels() {
        let mk = |r: &str| {
            stream(vec![Ok(SeriesResponse::series(Series {
                labels: vec![Label::new("a", "1"), Label::new("replica", r)],
                chunks: vec![chunk(0, "same")],
            }))])
        };
        let opts = MergeOptions {
            without_replica_labels: vec!["replica".into()],
        };
        let (got, _) = collect_series(merge_series(vec![mk("A"), mk("B")], opts))
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].labels, vec![Label::new("a", "1")]);
        assert_eq!(got[0].chunks.len(), 1);
    }

    #[tokio::test]
    async fn error_ends_stream_and_warn_strategy() {
        let bad = || {
            stream(vec![
                Ok(series("1", vec![])),
                Err(Error::storage("reading", "boom")),
            ])
        };
        let good = || stream(vec![Ok(series("2", vec![]))]);
        let r = collect_series(merge_series(vec![bad(), good()], MergeOptions::default())).await;
        assert!(r.is_err());
        let merged = merge_series(
            vec![errors_as_warnings(bad(), "s1"), good()],
            MergeOptions::default(),
        );
        let (got, warns) = collect_series(merged).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(warns.len(), 1);
        assert!(
            warns[0].contains("s1") && warns[0].contains("boom"),
            "{warns:?}"
        );
    }

    #[tokio::test]
    async fn resort_then_merge() {
        let mk = |r: &str, a: &str| {
            Ok(SeriesResponse::series(Series {
                labels: vec![Label::new("a", a), Label::new("replica", r)],
                chunks: vec![chunk(0, a)],
            }))
        };
        // Sorted with the replica label, unsorted without it.
        let s = stream(vec![
            mk("1", "2"),
            mk("2", "1"),
            Ok(SeriesResponse::warning("w")),
            mk("3", "2"),
        ]);
        let resorted = resort_series(s, vec!["replica".into()]);
        let (got, warns) = collect_series(merge_series(vec![resorted], MergeOptions::default()))
            .await
            .unwrap();
        check_sorted(&got).unwrap();
        let vals: Vec<_> = got.iter().map(|s| s.labels[0].value.as_str()).collect();
        assert_eq!(vals, ["1", "2"]);
        assert_eq!(
            got[1].chunks.len(),
            1,
            "identical chunks of the two frames deduplicated"
        );
        assert_eq!(warns, ["w"]);
    }

    #[tokio::test]
    async fn batches_are_unpacked() {
        let b = SeriesResponse {
            result: Some(SeriesFrame::Batch(crate::pb::thanos::SeriesBatch {
                series: vec![
                    Series {
                        labels: vec![Label::new("a", "1")],
                        chunks: vec![],
                    },
                    Series {
                        labels: vec![Label::new("a", "3")],
                        chunks: vec![],
                    },
                ],
            })),
        };
        let (got, _) = collect_series(merge_series(
            vec![stream(vec![Ok(b)]), stream(vec![Ok(series("2", vec![]))])],
            Default::default(),
        ))
        .await
        .unwrap();
        check_sorted(&got).unwrap();
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn dedup_uses_hash_field() {
        let mut a = chunk(0, "x");
        let mut b = chunk(0, "different-bytes");
        // Same declared hash: treated as identical, as Thanos does.
        if let (Some(ra), Some(rb)) = (a.raw.as_mut(), b.raw.as_mut()) {
            ra.hash = 7;
            rb.hash = 7;
        }
        b.max_time = a.max_time;
        assert_eq!(sort_dedup_chunks(vec![a, b]).len(), 1);
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;
        use std::collections::{BTreeMap, BTreeSet};

        /// Per store: a set of series ids, each with chunk ids (chunk id → data
        /// and min_time are a function of the id, so equal ids across stores
        /// are identical chunks), split into 1..=3 frames; warnings sprinkled.
        fn store() -> impl Strategy<Value = (BTreeMap<u8, Vec<u8>>, Vec<usize>, usize)> {
            (
                proptest::collection::btree_map(
                    any::<u8>(),
                    proptest::collection::vec(0u8..20, 0..6),
                    0..20,
                ),
                proptest::collection::vec(1usize..4, 20),
                0usize..3,
            )
        }

        fn labels_of(id: u8) -> Vec<Label> {
            // Two-label sets whose order differs from id order, to exercise compare_labels.
            vec![
                Label::new("a", format!("{}", id % 7)),
                Label::new("b", format!("{id:03}")),
            ]
        }

        fn mk_chunk(cid: u8) -> AggrChunk {
            AggrChunk::raw(
                i64::from(cid % 5) * 100,
                i64::from(cid % 5) * 100 + 50,
                Chunk {
                    r#type: 0,
                    data: Bytes::from(vec![cid, cid ^ 0x5a]),
                    hash: 0,
                },
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(96))]
            #[test]
            fn merged_is_sorted_complete_deduplicated(stores in proptest::collection::vec(store(), 0..8), with_replica in any::<bool>()) {
                let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
                let mut expect: BTreeMap<u8, BTreeSet<u8>> = BTreeMap::new();
                let mut want_warnings = 0;
                let mut inputs = Vec::new();
                for (series, splits, warns) in &stores {
                    let mut sorted: Vec<(&u8, &Vec<u8>)> = series.iter().collect();
                    sorted.sort_by(|x, y| compare_labels(&labels_of(*x.0), &labels_of(*y.0)));
                    let mut items = Vec::new();
                    for (k, (id, cids)) in sorted.into_iter().enumerate() {
                        expect.entry(*id).or_default().extend(cids.iter().copied());
                        let parts = splits[k % splits.len()].min(cids.len().max(1));
                        let per = cids.len().div_ceil(parts).max(1);
                        let mut frames: Vec<Vec<u8>> = cids.chunks(per).map(|c| c.to_vec()).collect();
                        if frames.is_empty() { frames.push(vec![]); }
                        for f in frames {
                            let mut labels = labels_of(*id);
                            if with_replica {
                                // A per-store replica label, sorted last; the merge strips it.
                                labels.push(Label::new("replica", format!("{}", inputs.len())));
                            }
                            items.push(Ok(SeriesResponse::series(Series {
                                labels,
                                chunks: f.into_iter().map(mk_chunk).collect(),
                            })));
                        }
                    }
                    for w in 0..*warns {
                        items.insert(w.min(items.len()), Ok(SeriesResponse::warning(format!("w{w}"))));
                        want_warnings += 1;
                    }
                    inputs.push(stream(items));
                }
                let opts = MergeOptions { without_replica_labels: if with_replica { vec!["replica".into()] } else { vec![] } };
                let (got, warns) = rt.block_on(collect_series(merge_series(inputs, opts))).unwrap();
                check_sorted(&got).unwrap();
                prop_assert_eq!(warns.len(), want_warnings);
                let mut expect_sorted: Vec<(u8, BTreeSet<u8>)> = expect.into_iter().collect();
                expect_sorted.sort_by(|x, y| compare_labels(&labels_of(x.0), &labels_of(y.0)));
                prop_assert_eq!(got.len(), expect_sorted.len());
                for (s, (id, cids)) in got.iter().zip(expect_sorted) {
                    prop_assert_eq!(&s.labels, &labels_of(id));
                    let got_cids: Vec<u8> = s.chunks.iter().map(|c| c.raw.as_ref().unwrap().data[0]).collect();
                    let uniq: BTreeSet<u8> = got_cids.iter().copied().collect();
                    prop_assert_eq!(uniq.len(), got_cids.len(), "duplicate chunks kept");
                    prop_assert_eq!(uniq, cids);
                    prop_assert!(s.chunks.windows(2).all(|w| w[0].min_time <= w[1].min_time));
                }
            }
        }
    }
}
