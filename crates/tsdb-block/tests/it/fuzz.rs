//! Robustness: every reader fed mutated or random bytes returns `Ok` or a
//! typed error, never panics. Run longer with e.g.
//! `PROPTEST_CASES=200000 cargo test -p aeon-tsdb-block --test it fuzz`.

use std::sync::Arc;

use aeon_tsdb_block::chunkenc::{
    self, AggrChunk, Encoding, FloatHistogramChunk, HistogramChunk, XorChunk,
};
use aeon_tsdb_block::{BlockMeta, ChunkReader, IndexHeader, IndexReader, MemSource, tombstones};
use proptest::prelude::*;

/// A small but complete block made by our writer: (index, chunks segment),
/// written once per test process (writing fsyncs).
fn sample_block() -> (Vec<u8>, Vec<u8>) {
    static BLOCK: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    BLOCK.get_or_init(write_sample_block).clone()
}

fn write_sample_block() -> (Vec<u8>, Vec<u8>) {
    use aeon_model::Labels;
    use aeon_tsdb_block::{BlockWriter, BlockWriterOptions};
    let d = tempfile::tempdir().unwrap();
    let mut w = BlockWriter::new(d.path(), BlockWriterOptions::default()).unwrap();
    for i in 0..5 {
        let ls = Labels::from_pairs(&[("__name__", "m"), ("i", &i.to_string()), ("j", "x")]);
        let samples: Vec<(i64, f64)> = (0..150).map(|k| (k * 1000, (k * i) as f64)).collect();
        w.add_float_series(ls, &samples).unwrap();
    }
    let (_, dir) = w.finish().unwrap();
    (
        std::fs::read(dir.join("index")).unwrap(),
        std::fs::read(dir.join("chunks/000001")).unwrap(),
    )
}

fn mutate(mut data: Vec<u8>, flips: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    for &(i, x) in flips {
        if !data.is_empty() {
            let n = data.len();
            data[i % n] ^= x;
        }
    }
    if let Some(c) = cut {
        let n = data.len();
        data.truncate(c % (n + 1));
    }
    data
}

fn exercise_index(data: Vec<u8>) {
    let Ok(r) = IndexReader::open(Arc::new(MemSource::new("fuzz/index", data))) else {
        return;
    };
    let _ = r.label_names();
    if let Ok(all) = r.all_postings() {
        let _ = r.series_many(&all);
        for id in all.into_iter().take(20) {
            let _ = r.series(id);
        }
    }
    for id in [0u32, 1, 4, 5, 9, 1000, u32::MAX] {
        let _ = r.series(id);
    }
    let ms = [aeon_model::Matcher::new(aeon_model::MatchType::RegexMatch, "i", "1|2|.*3").unwrap()];
    let _ = r.postings_for_matchers(&ms);
    let _ = IndexHeader::decode(&r.header().encode(), "h");
}

fn exercise_chunks(payload: &[u8]) {
    let _ = XorChunk::new(payload).and_then(|c| c.samples());
    let _ = HistogramChunk::new(payload).and_then(|c| c.samples());
    let _ = FloatHistogramChunk::new(payload).and_then(|c| c.samples());
    let _ = AggrChunk::new(payload).all();
    let _ = chunkenc::decode(Encoding::Xor, payload);
}

/// `PROPTEST_CASES` if set (for long runs), else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(300)))]

    #[test]
    fn index_reader_survives_mutations(flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 0..6), cut in proptest::option::of(any::<usize>())) {
        let (index, _) = sample_block();
        exercise_index(mutate(index, &flips, cut));
    }

    #[test]
    fn chunk_reader_survives_mutations(flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 0..6), cut in proptest::option::of(any::<usize>()), refs in proptest::collection::vec(any::<u64>(), 0..10)) {
        let (index, seg) = sample_block();
        let seg = mutate(seg, &flips, cut);
        if let Ok(cr) = ChunkReader::new(vec![Arc::new(MemSource::new("fuzz/chunks/000001", seg))]) {
            let ir = IndexReader::open(Arc::new(MemSource::new("i", index))).unwrap();
            for id in ir.all_postings().unwrap() {
                for m in ir.series(id).unwrap().chunks {
                    if let Ok(c) = cr.chunk(m.r#ref) {
                        exercise_chunks(&c.data);
                    }
                }
            }
            let _ = cr.chunks(&refs);
            for r in refs {
                let _ = cr.chunk(r);
                let _ = cr.chunk(r & 0xffff);
            }
        }
    }

    #[test]
    fn chunk_decoders_survive_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        exercise_chunks(&data);
    }

    #[test]
    fn chunk_decoders_survive_mutated_valid_chunks(flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..4), cut in proptest::option::of(any::<usize>())) {
        let mut e = chunkenc::XorEncoder::new();
        for k in 0..120 { e.append(k * 15_000 + (k % 7), (k as f64).sin() * 100.0); }
        exercise_chunks(&mutate(e.finish(), &flips, cut));
        let h = chunkenc::Histogram { schema: 1, count: 5, positive_spans: vec![chunkenc::Span { offset: -3, length: 3 }], positive_buckets: vec![1, 2, -1], ..Default::default() };
        let mut e = chunkenc::HistogramEncoder::new(chunkenc::CounterResetHint::Unknown);
        for k in 0..20 { e.append(k * 1000, &h).unwrap(); }
        exercise_chunks(&mutate(e.finish(), &flips, cut));
    }

    #[test]
    fn meta_and_tombstones_survive_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = BlockMeta::parse(&data, "fuzz/meta.json");
        let _ = tombstones::parse(&data, "fuzz/tombstones");
        let mut t = vec![0x01, 0x30, 0xba, 0x30, 0x01];
        t.extend_from_slice(&data);
        let _ = tombstones::parse(&t, "fuzz/tombstones");
        let _ = IndexHeader::decode(&data, "fuzz/index-header");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(500)))]

    #[test]
    fn text_parsers_survive_random_input(s in "\\PC{0,60}", t in "[a-z_{}=~!\"', .*+|()\\[\\]0-9-]{0,40}") {
        let _ = aeon_tsdb_block::openmetrics::parse_sample_line(&s);
        let _ = aeon_tsdb_block::openmetrics::parse_sample_line(&t);
        let _ = aeon_tsdb_block::openmetrics::parse(&format!("{t}\n# EOF\n"), "fuzz.om");
        let _ = aeon_tsdb_block::selector::parse_selector(&s);
        let _ = aeon_tsdb_block::selector::parse_selector(&t);
    }
}

#[test]
fn corrupt_block_files_name_the_block() {
    use aeon_tsdb_block::{BlockReader, BlockWriter, BlockWriterOptions, Error};
    let d = tempfile::tempdir().unwrap();
    let mut w = BlockWriter::new(d.path(), BlockWriterOptions::default()).unwrap();
    w.add_float_series(
        aeon_model::Labels::from_pairs(&[("__name__", "m")]),
        &[(1, 1.0), (2, 2.0)],
    )
    .unwrap();
    let (meta, dir) = w.finish().unwrap();
    let id = meta.ulid.to_string();
    BlockReader::open(&dir).unwrap();

    let corrupt = |file: &str, f: &dyn Fn(&mut Vec<u8>)| -> Error {
        let p = dir.join(file);
        let orig = std::fs::read(&p).unwrap();
        let mut b = orig.clone();
        f(&mut b);
        std::fs::write(&p, &b).unwrap();
        let e = BlockReader::open(&dir).and_then(|b| {
            let s = b.select(&[], i64::MIN, i64::MAX)?;
            b.samples(&s[0], i64::MIN, i64::MAX).map(|_| ())
        });
        std::fs::write(&p, &orig).unwrap();
        let e = e.unwrap_err();
        assert!(e.to_string().contains(&id), "{file}: {e}");
        e
    };
    assert!(matches!(
        corrupt("meta.json", &|b| b.truncate(10)),
        Error::ParseMeta { .. }
    ));
    assert!(matches!(
        corrupt("index", &|b| b[1] = 0),
        Error::Corrupt { offset: 0, .. }
    ));
    assert!(matches!(
        corrupt("index", &|b| {
            let n = b.len();
            b.truncate(n - 7)
        }),
        Error::Corrupt { .. } | Error::Checksum { .. }
    ));
    assert!(matches!(
        corrupt("chunks/000001", &|b| {
            let n = b.len();
            b[n - 1] ^= 1
        }),
        Error::Checksum { offset: 8, .. }
    ));
    assert!(matches!(
        corrupt("chunks/000001", &|b| b.truncate(12)),
        Error::Corrupt { .. }
    ));
    assert!(matches!(
        corrupt("tombstones", &|b| b[0] = 7),
        Error::Corrupt { offset: 0, .. }
    ));
}
