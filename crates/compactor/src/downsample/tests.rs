use aeon_model::Labels;
use aeon_tsdb_block::ThanosMeta;

use super::*;

const M5: i64 = 300_000;
const H1: i64 = 3_600_000;

/// A counter with resets and a noisy gauge, 15s apart, with one gap.
type Series = Vec<(i64, f64)>;

fn raw_series(hours: i64) -> (Series, Series) {
    let mut counter = Vec::new();
    let mut gauge = Vec::new();
    let mut c = 100.0;
    let n = hours * 240;
    for i in 0..n {
        if (1000..1100).contains(&i) {
            continue; // scrape gap
        }
        let t = 1_700_000_000_000 + i * 15_000 + (i % 7) * 13;
        c += (i % 5) as f64;
        if i % 2000 == 1999 {
            c = (i % 3) as f64; // reset
        }
        counter.push((t, c));
        gauge.push((t, ((i * 7919) % 1000) as f64 / 10.0 - 20.0));
    }
    (counter, gauge)
}

fn sub(chunk: &EncodedChunk, i: usize) -> Vec<(i64, f64)> {
    let subs = sub_chunks(&chunk.data).unwrap();
    let (enc, d) = subs[i].unwrap();
    assert_eq!(enc, Encoding::Xor);
    xor_samples(d).unwrap()
}

fn increase(raw: &[(i64, f64)], from: i64, to: i64) -> f64 {
    let mut inc = 0.0;
    let mut prev: Option<f64> = None;
    for &(_, v) in raw.iter().filter(|s| s.0 >= from && s.0 <= to) {
        if let Some(p) = prev {
            inc += if v < p { v } else { v - p };
        }
        prev = Some(v);
    }
    inc
}

/// Checks every aggregate of `chunks` against values computed from `raw`.
/// The counter aggregate is only meaningful for counters (`is_counter`).
fn check_against_raw(raw: &[(i64, f64)], chunks: &[EncodedChunk], r: i64, is_counter: bool) {
    let mut prev_t = i64::MIN;
    let mut total = 0usize;
    for c in chunks {
        assert_eq!(c.encoding, Encoding::Aggr);
        let (count, sum, min, max, counter) = (
            sub(c, COUNT),
            sub(c, SUM),
            sub(c, MIN),
            sub(c, MAX),
            sub(c, COUNTER),
        );
        assert_eq!(count.len(), sum.len());
        assert_eq!(count.len(), min.len());
        assert_eq!(count.len(), max.len());
        assert_eq!(
            counter.len(),
            count.len() + 2,
            "counter holds first and last raw values too"
        );
        assert_eq!(
            (c.min_time, c.max_time),
            (count[0].0, count[count.len() - 1].0)
        );
        for k in 0..count.len() {
            let t = count[k].0;
            assert!(t > prev_t);
            // Output timestamps are window ends, or the last raw sample when clipped.
            assert!(
                t == window_end(t, r) || raw.iter().any(|s| s.0 == t),
                "t={t}"
            );
            let in_window: Vec<f64> = raw
                .iter()
                .filter(|s| s.0 > prev_t && s.0 <= t)
                .map(|s| s.1)
                .collect();
            assert!(!in_window.is_empty());
            assert!(in_window.len() as i64 <= r / 1000, "one window at most");
            assert_eq!(count[k].1, in_window.len() as f64, "count at {t}");
            let s: f64 = in_window.iter().sum();
            assert!(
                (sum[k].1 - s).abs() <= 1e-9 * s.abs().max(1.0),
                "sum at {t}: {} vs {s}",
                sum[k].1
            );
            assert_eq!(min[k].1, in_window.iter().copied().fold(f64::MAX, f64::min));
            assert_eq!(
                max[k].1,
                in_window.iter().copied().fold(-f64::MAX, f64::max)
            );
            total += in_window.len();
            prev_t = t;
        }
        // Counter: first raw sample, running counter per window, last raw value.
        let first_raw = raw.iter().find(|s| s.0 >= counter[0].0).unwrap();
        assert_eq!(counter[0], *first_raw);
        for k in 0..count.len() {
            if !is_counter {
                break;
            }
            let (t, v) = counter[k + 1];
            assert_eq!(t, count[k].0);
            let want = counter[0].1 + increase(raw, counter[0].0, t);
            assert!((v - want).abs() < 1e-6, "counter at {t}: {v} vs {want}");
        }
        let (lt, lv) = counter[counter.len() - 1];
        assert_eq!(lt, count[count.len() - 1].0);
        let last_raw = raw.iter().rfind(|s| s.0 <= lt).unwrap();
        assert_eq!(lv, last_raw.1);
    }
    assert_eq!(
        total,
        raw.len(),
        "every raw sample is in exactly one window"
    );
}

#[test]
fn windows_and_chunk_counts_follow_thanos() {
    assert_eq!(window_end(0, M5), M5 - 1);
    assert_eq!(window_end(M5 - 1, M5), M5 - 1);
    assert_eq!(window_end(M5, M5), 2 * M5 - 1);
    // 48h of 15s samples at 5m: 577 expected samples → 5 chunks of ≤ 140.
    assert_eq!(target_chunk_count(0, 48 * H1, 60_000, M5, 11520), 5);
    assert_eq!(target_chunk_count(0, 0, 60_000, M5, 1), 1);
}

#[test]
fn raw_to_5m_aggregates_match_independent_computation() {
    let (counter, gauge) = raw_series(48);
    for (is_counter, raw) in [(true, &counter), (false, &gauge)] {
        let chunks = downsample_raw(raw, M5);
        assert!(chunks.len() >= 4, "{}", chunks.len());
        check_against_raw(raw, &chunks, M5, is_counter);
    }
}

#[test]
fn five_minute_to_1h_aggregates_match_independent_computation() {
    let (counter, gauge) = raw_series(24 * 11);
    for (is_counter, raw) in [(true, &counter), (false, &gauge)] {
        let m5 = downsample_raw(raw, M5);
        let h1 = downsample_aggr(&m5, M5, H1).unwrap();
        assert!(h1.len() < m5.len());
        check_against_raw(raw, &h1, H1, is_counter);
    }
}

#[test]
fn stale_markers_and_nans_are_skipped() {
    let raw = vec![
        (1000, 1.0),
        (2000, aeon_model::stale_nan()),
        (3000, f64::NAN),
        (4000, 3.0),
    ];
    let c = downsample_raw(&raw, M5);
    assert_eq!(c.len(), 1);
    assert_eq!(sub(&c[0], COUNT), vec![(4000, 2.0)]);
    assert_eq!(sub(&c[0], SUM), vec![(4000, 4.0)]);
    assert!(downsample_raw(&[], M5).is_empty());
}

#[test]
fn local_blocks_downsample_to_5m_then_1h() {
    let tmp = tempfile::tempdir().unwrap();
    let (counter, gauge) = raw_series(24 * 11);
    let mut w = BlockWriter::new(
        tmp.path(),
        BlockWriterOptions {
            thanos: Some(ThanosMeta {
                labels: [("cluster".to_string(), "eu1".to_string())].into(),
                source: "sidecar".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .unwrap();
    w.add_float_series(Labels::from_pairs(&[("__name__", "a_total")]), &counter)
        .unwrap();
    w.add_float_series(Labels::from_pairs(&[("__name__", "b")]), &gauge)
        .unwrap();
    let (raw_meta, raw_dir) = w.finish().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let raw_block = BlockReader::open(&raw_dir).unwrap();
    let (m5, m5_dir) = downsample_local(&raw_block, M5, &out).unwrap();
    let t = m5.thanos.as_ref().unwrap();
    assert_eq!(t.downsample.resolution, M5);
    assert_eq!(t.labels["cluster"], "eu1");
    assert_eq!(t.source, "compactor");
    assert_eq!(
        (m5.min_time, m5.max_time),
        (raw_meta.min_time, raw_meta.max_time)
    );
    assert_eq!(m5.compaction.sources, raw_meta.compaction.sources);
    assert_eq!(m5.stats.num_series, 2);
    let b5 = BlockReader::open(&m5_dir).unwrap();
    let series = b5.select(&[], i64::MIN, i64::MAX).unwrap();
    let mut chunks = Vec::new();
    for m in &series[0].chunks {
        let c = b5.chunk(m).unwrap();
        assert_eq!(c.encoding, Encoding::Aggr);
        chunks.push(EncodedChunk {
            min_time: m.min_time,
            max_time: m.max_time,
            encoding: c.encoding,
            data: c.data.to_vec(),
        });
    }
    check_against_raw(&counter, &chunks, M5, true);
    assert_eq!(
        m5.stats.num_samples,
        chunks
            .iter()
            .map(|c| AggrChunk::new(&c.data).num_samples())
            .sum::<u64>()
            + {
                let mut n = 0;
                for m in &series[1].chunks {
                    n += AggrChunk::new(&b5.chunk(m).unwrap().data).num_samples();
                }
                n
            }
    );
    // Compacting 5m blocks copies their aggregate chunks and counts windows.
    let merged = tmp.path().join("merged");
    std::fs::create_dir_all(&merged).unwrap();
    let (mm, _, st) = crate::merge::merge_blocks(
        &[crate::merge::MergeInput {
            block: &b5,
            stream: 0,
        }],
        &merged,
        BlockWriterOptions::default(),
        &crate::merge::MergeOptions::default(),
    )
    .unwrap();
    assert_eq!(st.chunks_reencoded, 0);
    assert_eq!(st.samples, m5.stats.num_samples);
    assert_eq!(mm.stats.num_chunks, m5.stats.num_chunks);
    let (h1, h1_dir) = downsample_local(&b5, H1, &out).unwrap();
    assert_eq!(h1.thanos.as_ref().unwrap().downsample.resolution, H1);
    let bh = BlockReader::open(&h1_dir).unwrap();
    let s = bh.select(&[], i64::MIN, i64::MAX).unwrap();
    let chunks: Vec<EncodedChunk> = s[1]
        .chunks
        .iter()
        .map(|m| {
            let c = bh.chunk(m).unwrap();
            EncodedChunk {
                min_time: m.min_time,
                max_time: m.max_time,
                encoding: c.encoding,
                data: c.data.to_vec(),
            }
        })
        .collect();
    check_against_raw(&gauge, &chunks, H1, false);
}
