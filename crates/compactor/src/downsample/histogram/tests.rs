use std::collections::BTreeMap;

use aeon_tsdb_block::chunkenc::{FloatHistogramChunk, Histogram, Span};

use super::*;
use crate::downsample::{MAX, MIN, sub_chunks};

const M5: i64 = 300_000;
const H1: i64 = 3_600_000;
const T0: i64 = 1_700_000_000_000;

/// Bucket counts by index, computed here without the code under test.
type Buckets = BTreeMap<i32, f64>;

fn buckets_of(spans: &[Span], b: &[f64]) -> Buckets {
    let mut out = Buckets::new();
    let mut idx = 0;
    let mut k = 0;
    for (n, s) in spans.iter().enumerate() {
        idx += s.offset;
        if n == 0 {
            idx = s.offset;
        }
        for _ in 0..s.length {
            if b[k] != 0.0 {
                out.insert(idx, b[k]);
            }
            k += 1;
            idx += 1;
        }
    }
    out
}

/// A counter histogram at schema 1: three buckets, a fourth appearing after
/// sample 300, a counter reset at sample 500; 15s apart.
fn raw_counter_hist(n: i64) -> Vec<(i64, Histogram)> {
    let mut out = Vec::new();
    let mut base = 0i64;
    for i in 0..n {
        if i == 500 {
            base = i; // reset: counts start again from small values
        }
        let k = i - base;
        let (spans, deltas, count) = if i < 300 {
            (
                vec![Span {
                    offset: 0,
                    length: 3,
                }],
                vec![k, 1, 1],
                3 * k as u64 + 3,
            )
        } else {
            (
                vec![Span {
                    offset: 0,
                    length: 4,
                }],
                vec![k, 1, 1, -(k + 2) + (i - 300) / 10],
                (4 * k + 3 + (i - 300) / 10) as u64,
            )
        };
        out.push((
            T0 + i * 15_000,
            Histogram {
                schema: 1,
                zero_threshold: 0.001,
                zero_count: 0,
                count,
                sum: k as f64 * 1.5,
                positive_spans: spans,
                positive_buckets: deltas,
                ..Default::default()
            },
        ));
    }
    out
}

fn fh_of(h: &Histogram) -> (f64, f64, Buckets) {
    let f = h.to_float();
    (
        f.count,
        f.sum,
        buckets_of(&f.positive_spans, &f.positive_buckets),
    )
}

fn hist_sub(c: &EncodedChunk, i: usize) -> Vec<(i64, (f64, f64, Buckets))> {
    let subs = sub_chunks(&c.data).unwrap();
    let (enc, d) = subs[i].unwrap();
    assert_eq!(enc, Encoding::FloatHistogram);
    FloatHistogramChunk::new(d)
        .unwrap()
        .samples()
        .unwrap()
        .into_iter()
        .map(|(t, h)| {
            (
                t,
                (
                    h.count,
                    h.sum,
                    buckets_of(&h.positive_spans, &h.positive_buckets),
                ),
            )
        })
        .collect()
}

fn add_into(acc: &mut (f64, f64, Buckets), x: &(f64, f64, Buckets), sign: f64) {
    acc.0 += sign * x.0;
    acc.1 += sign * x.1;
    for (i, v) in &x.2 {
        *acc.2.entry(*i).or_insert(0.0) += sign * v;
    }
    acc.2.retain(|_, v| *v != 0.0);
}

fn assert_close(a: &(f64, f64, Buckets), b: &(f64, f64, Buckets), what: &str) {
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(1.0);
    assert!(close(a.0, b.0) && close(a.1, b.1), "{what}: {a:?} vs {b:?}");
    assert_eq!(a.2.len(), b.2.len(), "{what}: {a:?} vs {b:?}");
    for (i, v) in &a.2 {
        assert!(close(*v, b.2[i]), "{what}: bucket {i}: {a:?} vs {b:?}");
    }
}

#[test]
fn raw_histograms_downsample_to_count_sum_and_counter_as_thanos() {
    let raw = raw_counter_hist(800);
    let fl: Vec<(i64, FloatHistogram)> = raw.iter().map(|(t, h)| (*t, h.to_float())).collect();
    let chunks = downsample_raw_hist(&fl, M5).unwrap();
    assert!(!chunks.is_empty());
    // Independent expectations per 5m window.
    let mut total = 0usize;
    let mut counter: Option<(f64, f64, Buckets)> = None;
    let mut prev: Option<(f64, f64, Buckets)> = None;
    let mut raw_it = raw.iter().peekable();
    for c in &chunks {
        assert_eq!(c.encoding, Encoding::Aggr);
        assert!(AggrChunk::new(&c.data).is_histogram());
        let subs = sub_chunks(&c.data).unwrap();
        assert!(
            subs[MIN].is_none() && subs[MAX].is_none(),
            "no min/max for histograms"
        );
        let counts = xor_samples(subs[COUNT].unwrap().1).unwrap();
        let sums = hist_sub(c, SUM);
        let counters = hist_sub(c, COUNTER);
        assert_eq!(counts.len(), sums.len());
        assert_eq!(counts.len(), counters.len());
        for (k, &(t, n)) in counts.iter().enumerate() {
            // Raw samples up to this window end.
            let mut sum = (0.0, 0.0, Buckets::new());
            let mut got = 0;
            while let Some((rt, h)) = raw_it.peek() {
                if *rt > t {
                    break;
                }
                let x = fh_of(h);
                add_into(&mut sum, &x, 1.0);
                match (&mut counter, &prev) {
                    (None, _) | (_, None) => counter = Some(x.clone()),
                    (Some(c), Some(p)) => {
                        if x.0 < p.0 {
                            add_into(c, &x, 1.0);
                        } else {
                            add_into(c, &x, 1.0);
                            add_into(c, p, -1.0);
                        }
                    }
                }
                prev = Some(x);
                got += 1;
                raw_it.next();
            }
            assert_eq!(n as usize, got, "count at {t}");
            assert_eq!(sums[k].0, t);
            assert_close(&sums[k].1, &sum, &format!("sum at {t}"));
            assert_close(
                &counters[k].1,
                counter.as_ref().unwrap(),
                &format!("counter at {t}"),
            );
            total += got;
        }
    }
    assert_eq!(total, raw.len());
    assert!(raw_it.next().is_none());
}

#[test]
fn mixed_schemas_are_brought_to_the_smallest() {
    // Schema 2 samples then schema 1: the batch aggregates at schema 1, and
    // every bucket count survives the re-indexing.
    let mk = |schema: i32, t: i64, k: f64| {
        (
            T0 + t,
            FloatHistogram {
                schema,
                count: 4.0 * k,
                sum: k,
                positive_spans: vec![Span {
                    offset: 1,
                    length: 4,
                }],
                positive_buckets: vec![k, k, k, k],
                ..Default::default()
            },
        )
    };
    let data = vec![mk(2, 0, 1.0), mk(2, 15_000, 2.0), mk(1, 30_000, 3.0)];
    let c = downsample_raw_hist(&data, M5).unwrap();
    assert_eq!(c.len(), 1);
    let sums = hist_sub(&c[0], SUM);
    assert_eq!(sums.len(), 1);
    let (count, sum, b) = &sums[0].1;
    assert_eq!((*count, *sum), (24.0, 6.0));
    // Schema 2 indices 1..=4 map to schema 1 indices 1,1,2,2.
    assert_eq!(b.values().sum::<f64>(), 24.0);
    assert_eq!(b[&1], 2.0 * 1.0 + 2.0 * 2.0 + 3.0);
    assert_eq!(b[&2], 2.0 * 1.0 + 2.0 * 2.0 + 3.0);
    assert_eq!(b[&3], 3.0);
    assert_eq!(b[&4], 3.0);
}

#[test]
fn histogram_aggregates_downsample_again_to_1h() {
    let raw = raw_counter_hist(2000);
    let fl: Vec<(i64, FloatHistogram)> = raw.iter().map(|(t, h)| (*t, h.to_float())).collect();
    let m5 = downsample_raw_hist(&fl, M5).unwrap();
    let h1 = downsample_aggr_hist(&m5, M5, H1).unwrap();
    assert!(!h1.is_empty());
    let mut prev_end = T0 - 1;
    for c in &h1 {
        let subs = sub_chunks(&c.data).unwrap();
        let counts = xor_samples(subs[COUNT].unwrap().1).unwrap();
        let sums = hist_sub(c, SUM);
        for (k, &(t, n)) in counts.iter().enumerate() {
            let inside: Vec<&(i64, Histogram)> = raw
                .iter()
                .filter(|(rt, _)| *rt > prev_end && *rt <= t)
                .collect();
            assert_eq!(n as usize, inside.len(), "count at {t}");
            let mut sum = (0.0, 0.0, Buckets::new());
            for (_, h) in &inside {
                add_into(&mut sum, &fh_of(h), 1.0);
            }
            assert_close(&sums[k].1, &sum, &format!("1h sum at {t}"));
            prev_end = t;
        }
    }
    assert_eq!(prev_end, raw.last().unwrap().0);
    // The last counter equals the total increase of the raw series plus its
    // first value (reset at sample 500 compensated).
    let last = hist_sub(h1.last().unwrap(), COUNTER).pop().unwrap().1;
    let mut want = fh_of(&raw[0].1);
    for w in raw.windows(2) {
        let (p, x) = (fh_of(&w[0].1), fh_of(&w[1].1));
        add_into(&mut want, &x, 1.0);
        if x.0 >= p.0 {
            add_into(&mut want, &p, -1.0);
        }
    }
    assert_close(&last, &want, "final 1h counter");
}

#[test]
fn changing_custom_buckets_are_refused_not_panicked_on() {
    let mk = |t: i64, bounds: Vec<f64>| {
        (
            T0 + t,
            FloatHistogram {
                schema: CUSTOM_BUCKETS_SCHEMA,
                count: 2.0,
                sum: 1.0,
                positive_spans: vec![Span {
                    offset: 0,
                    length: 2,
                }],
                positive_buckets: vec![1.0, 1.0],
                custom_values: bounds,
                ..Default::default()
            },
        )
    };
    let same = vec![mk(0, vec![1.0, 2.0]), mk(15_000, vec![1.0, 2.0])];
    assert!(downsample_raw_hist(&same, M5).is_ok());
    let changing = vec![mk(0, vec![1.0, 2.0]), mk(15_000, vec![1.0, 5.0])];
    let e = downsample_raw_hist(&changing, M5).unwrap_err();
    assert!(e.contains("custom bucket"), "{e}");
}

#[test]
fn blocks_with_histograms_and_mixed_series_downsample_to_5m_then_1h() {
    use aeon_model::Labels;
    use aeon_tsdb_block::{BlockReader, BlockWriter, BlockWriterOptions};

    let tmp = tempfile::tempdir().unwrap();
    let raw = raw_counter_hist(2000);
    let mut w = BlockWriter::new(tmp.path(), BlockWriterOptions::default()).unwrap();
    // "h": histograms only. "mixed": floats, then histograms (a metric
    // switched to native histograms mid-block).
    w.add_histogram_series(Labels::from_pairs(&[("__name__", "h")]), &raw)
        .unwrap();
    let floats: Vec<(i64, f64)> = raw[..1000].iter().map(|(t, _)| (*t, 1.0)).collect();
    let mut chunks = aeon_tsdb_block::writer::cut_xor_chunks(&floats, 2 * H1).unwrap();
    chunks.extend(aeon_tsdb_block::writer::cut_histogram_chunks(&raw[1000..]).unwrap());
    w.add_series_chunks(Labels::from_pairs(&[("__name__", "mixed")]), &chunks)
        .unwrap();
    let (_, dir) = w.finish().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let (m5, m5_dir) =
        crate::downsample::downsample_local(&BlockReader::open(&dir).unwrap(), M5, &out).unwrap();
    let b5 = BlockReader::open(&m5_dir).unwrap();
    let kinds = |b: &BlockReader, name: &str| -> Vec<bool> {
        let s = b
            .select(
                &[aeon_model::Matcher::equal("__name__", name)],
                i64::MIN,
                i64::MAX,
            )
            .unwrap();
        s[0].chunks
            .iter()
            .map(|m| {
                let c = b.chunk(m).unwrap();
                assert_eq!(c.encoding, Encoding::Aggr);
                AggrChunk::new(&c.data).is_histogram()
            })
            .collect()
    };
    assert!(kinds(&b5, "h").iter().all(|h| *h));
    let mixed = kinds(&b5, "mixed");
    assert!(!mixed[0] && *mixed.last().unwrap(), "{mixed:?}");
    assert!(mixed.windows(2).all(|w| w[0] <= w[1] || !w[1]), "{mixed:?}");
    // Every raw sample is counted once per resolution.
    let count_all = |b: &BlockReader| -> f64 {
        let mut n = 0.0;
        for s in b.select(&[], i64::MIN, i64::MAX).unwrap() {
            for m in &s.chunks {
                let c = b.chunk(m).unwrap();
                let subs = sub_chunks(&c.data).unwrap();
                n += xor_samples(subs[COUNT].unwrap().1)
                    .unwrap()
                    .iter()
                    .map(|s| s.1)
                    .sum::<f64>();
            }
        }
        n
    };
    assert_eq!(count_all(&b5), 4000.0);
    assert!(m5.stats.num_samples > 0);
    let (_, h1_dir) = crate::downsample::downsample_local(&b5, H1, &out).unwrap();
    let b1 = BlockReader::open(&h1_dir).unwrap();
    assert_eq!(count_all(&b1), 4000.0);
    assert!(kinds(&b1, "h").iter().all(|h| *h));
    let mixed = kinds(&b1, "mixed");
    assert!(!mixed[0] && *mixed.last().unwrap(), "{mixed:?}");
}
