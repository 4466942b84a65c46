use std::sync::Arc;

use aeon_model::{Labels, MatchType, Matcher};
use proptest::prelude::*;

use super::*;
use crate::source::MemSource;

fn build(series: &[Labels]) -> Vec<u8> {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("index");
    let mut sorted = series.to_vec();
    sorted.sort();
    sorted.dedup();
    let mut syms = vec![String::new()];
    for s in &sorted {
        for l in s.iter() {
            syms.push(l.name.clone());
            syms.push(l.value.clone());
        }
    }
    let mut w = IndexWriter::create(&p, syms).unwrap();
    for (i, s) in sorted.iter().enumerate() {
        let i = i as i64;
        let chunks = [
            ChunkMeta {
                min_time: i,
                max_time: i + 10,
                r#ref: 8 + (i as u64) * 100,
            },
            ChunkMeta {
                min_time: i + 20,
                max_time: i + 30,
                r#ref: 8 + (i as u64) * 100 + 50,
            },
        ];
        w.add_series(s, &chunks).unwrap();
    }
    w.finish().unwrap();
    std::fs::read(&p).unwrap()
}

fn reader(data: Vec<u8>) -> Result<IndexReader> {
    IndexReader::open(Arc::new(MemSource::new("blk/index", data)))
}

fn label_sets() -> impl Strategy<Value = Vec<Labels>> {
    let lbl = (0usize..3, 0usize..4);
    proptest::collection::vec(proptest::collection::vec(lbl, 1..4), 1..40).prop_map(|sets| {
        let names = ["a", "b", "c"];
        let vals = ["", "x", "y", "xy"];
        sets.into_iter()
            .map(|ls| {
                let mut pairs: Vec<(&str, &str)> = vec![("__name__", "m")];
                pairs.extend(ls.into_iter().map(|(n, v)| (names[n], vals[v])));
                Labels::from_pairs(&pairs)
            })
            .collect()
    })
}

fn matcher() -> impl Strategy<Value = Matcher> {
    let kinds = [
        MatchType::Equal,
        MatchType::NotEqual,
        MatchType::RegexMatch,
        MatchType::RegexNoMatch,
    ];
    let values = ["", "x", "y", "x|y", ".*", ".+", "x.*", "", "z"];
    (0usize..4, 0usize..4, 0usize..values.len()).prop_map(move |(k, n, v)| {
        let names = ["a", "b", "c", "__name__"];
        Matcher::new(kinds[k], names[n], values[v]).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn postings_for_matchers_equals_brute_force(sets in label_sets(), ms in proptest::collection::vec(matcher(), 1..4)) {
        let data = build(&sets);
        let r = reader(data).unwrap();
        let got = r.postings_for_matchers(&ms).unwrap();
        let got_labels: Vec<Labels> = got.iter().map(|&id| r.series(id).unwrap().labels).collect();
        let mut want: Vec<Labels> = sets.clone();
        want.sort();
        want.dedup();
        want.retain(|l| ms.iter().all(|m| m.matches_labels(l)));
        prop_assert_eq!(got_labels, want);
    }
}

#[test]
fn series_labels_and_chunk_metas_round_trip() {
    let sets = vec![
        Labels::from_pairs(&[("__name__", "up"), ("job", "a")]),
        Labels::from_pairs(&[("__name__", "up"), ("job", "b")]),
        Labels::from_pairs(&[("__name__", "down")]),
    ];
    let r = reader(build(&sets)).unwrap();
    assert_eq!(r.label_names(), vec!["__name__", "job"]);
    assert_eq!(r.label_values("job"), vec!["a", "b"]);
    let all = r.all_postings().unwrap();
    assert_eq!(all.len(), 3);
    let s = r.series(all[1]).unwrap();
    assert_eq!(s.labels, sets[0]);
    assert_eq!(
        s.chunks[1],
        ChunkMeta {
            min_time: 21,
            max_time: 31,
            r#ref: 158
        }
    );
    assert_eq!(r.series_in_range(all[1], 15, 19).unwrap().chunks.len(), 0);
    assert_eq!(r.series_in_range(all[1], 31, 100).unwrap().chunks.len(), 1);
    assert!(r.postings("job", "zzz").unwrap().is_empty());
    let many = r.series_many(&all).unwrap();
    assert_eq!(many.len(), 3);
    for (id, s) in all.iter().zip(&many) {
        assert_eq!(&r.series(*id).unwrap(), s);
    }
    assert!(r.series_many(&[all[0], 1]).is_err());
    let h = IndexHeader::decode(&r.header().encode(), "h").unwrap();
    assert_eq!(h.symbols.len(), r.header().symbols.len());
    assert_eq!(h.toc, r.header().toc);
}

#[test]
fn corrupt_indexes_are_typed_errors() {
    let sets = vec![Labels::from_pairs(&[("__name__", "up"), ("job", "a")])];
    let good = build(&sets);

    let mut bad = good.clone();
    bad[0] = 0;
    let e = reader(bad).unwrap_err();
    assert!(
        matches!(e, Error::Corrupt { offset: 0, .. }) && e.to_string().contains("blk/index"),
        "{e}"
    );

    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 10] ^= 1;
    assert!(matches!(reader(bad).unwrap_err(), Error::Checksum { .. }));

    let mut bad = good.clone();
    bad[12] ^= 0xff; // inside the symbol table
    assert!(matches!(
        reader(bad).unwrap_err(),
        Error::Checksum { offset: 5, .. }
    ));

    for cut in [0, 3, 20, good.len() / 2, good.len() - 1] {
        assert!(
            reader(good[..cut].to_vec()).is_err(),
            "truncated at {cut} opened"
        );
    }

    let r = reader(good.clone()).unwrap();
    assert!(matches!(r.series(0), Err(Error::OutOfRange { .. })));
    assert!(matches!(r.series(u32::MAX), Err(Error::OutOfRange { .. })));

    // Corrupt a series entry: reading it fails with a checksum error.
    let id = r.all_postings().unwrap()[0];
    let mut bad = good;
    bad[id as usize * 16 + 3] ^= 0xff;
    let r = reader(bad).unwrap();
    let e = r.series(id).unwrap_err();
    assert!(
        matches!(e, Error::Checksum { .. } | Error::Corrupt { .. }),
        "{e}"
    );
}

#[test]
fn index_header_is_persisted_and_rebuilt_when_corrupt() {
    let sets = vec![Labels::from_pairs(&[("__name__", "up"), ("job", "a")])];
    let src = MemSource::new("blk/index", build(&sets));
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("index-header");
    let h1 = IndexHeader::load_or_build(&p, &src).unwrap();
    assert!(p.exists());
    let h2 = IndexHeader::load_or_build(&p, &src).unwrap();
    assert_eq!(h1.toc, h2.toc);
    let mut data = std::fs::read(&p).unwrap();
    data[10] ^= 0xff;
    std::fs::write(&p, &data).unwrap();
    assert!(IndexHeader::decode(&data, "x").is_err());
    let h3 = IndexHeader::load_or_build(&p, &src).unwrap();
    assert_eq!(h3.postings.num_entries(), h1.postings.num_entries());
    assert!(IndexHeader::decode(&std::fs::read(&p).unwrap(), "x").is_ok());
}

/// A minimal index format v1 writer (test only), following the v1 layout:
/// symbol references are absolute file offsets of the symbol entries,
/// series entries are not aligned and a series ID is its file offset, and
/// the legacy label indices / label offset table hold symbol offsets.
fn build_v1(series: &[Labels]) -> Vec<u8> {
    use crate::varint::{crc32, put_uvarint, put_varint};
    use std::collections::BTreeMap;

    fn section(out: &mut Vec<u8>, content: &[u8]) {
        out.extend_from_slice(&(content.len() as u32).to_be_bytes());
        out.extend_from_slice(content);
        out.extend_from_slice(&crc32(content).to_be_bytes());
    }
    fn pad4(out: &mut Vec<u8>) {
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    let mut sorted = series.to_vec();
    sorted.sort();
    sorted.dedup();
    let mut syms: Vec<String> = sorted
        .iter()
        .flat_map(|s| s.iter().flat_map(|l| [l.name.clone(), l.value.clone()]))
        .collect();
    syms.push(String::new());
    syms.sort();
    syms.dedup();

    let mut out = MAGIC_INDEX.to_be_bytes().to_vec();
    out.push(FORMAT_V1);
    let mut toc = Toc {
        symbols: out.len() as u64,
        ..Toc::default()
    };
    let mut sym_ref = std::collections::HashMap::new();
    let mut b = (syms.len() as u32).to_be_bytes().to_vec();
    for s in &syms {
        // Absolute offset: section start + len field + content so far.
        sym_ref.insert(s.clone(), toc.symbols + 4 + b.len() as u64);
        put_uvarint(&mut b, s.len() as u64);
        b.extend_from_slice(s.as_bytes());
    }
    section(&mut out, &b);

    toc.series = out.len() as u64;
    let mut postings: BTreeMap<(String, String), Vec<u32>> = BTreeMap::new();
    let mut all = Vec::new();
    for (i, s) in sorted.iter().enumerate() {
        let id = out.len() as u32;
        let mut b = Vec::new();
        put_uvarint(&mut b, s.len() as u64);
        for l in s.iter() {
            put_uvarint(&mut b, sym_ref[&l.name]);
            put_uvarint(&mut b, sym_ref[&l.value]);
            postings
                .entry((l.name.clone(), l.value.clone()))
                .or_default()
                .push(id);
        }
        let i = i as i64;
        put_uvarint(&mut b, 2);
        put_varint(&mut b, i);
        put_uvarint(&mut b, 10);
        put_uvarint(&mut b, 8 + (i as u64) * 100);
        put_uvarint(&mut b, 10);
        put_uvarint(&mut b, 10);
        put_varint(&mut b, 50);
        put_uvarint(&mut out, b.len() as u64);
        out.extend_from_slice(&b);
        out.extend_from_slice(&crc32(&b).to_be_bytes());
        all.push(id);
    }

    toc.label_indices = out.len() as u64;
    let mut label_index_offsets = Vec::new();
    let mut names: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (n, v) in postings.keys() {
        names.entry(n).or_default().push(v);
    }
    for (n, vs) in &names {
        pad4(&mut out);
        label_index_offsets.push((n.to_string(), out.len() as u64));
        let mut b = 1u32.to_be_bytes().to_vec();
        b.extend_from_slice(&(vs.len() as u32).to_be_bytes());
        for v in vs {
            b.extend_from_slice(&(sym_ref[*v] as u32).to_be_bytes());
        }
        section(&mut out, &b);
    }

    toc.postings = out.len() as u64;
    let mut offsets = Vec::new();
    let all_key = (String::new(), String::new());
    let lists = std::iter::once((&all_key, &all)).chain(postings.iter());
    for ((n, v), ids) in lists {
        pad4(&mut out);
        offsets.push((n.clone(), v.clone(), out.len() as u64));
        let mut b = (ids.len() as u32).to_be_bytes().to_vec();
        for id in ids {
            b.extend_from_slice(&id.to_be_bytes());
        }
        section(&mut out, &b);
    }

    toc.label_indices_table = out.len() as u64;
    let mut b = (label_index_offsets.len() as u32).to_be_bytes().to_vec();
    for (n, off) in &label_index_offsets {
        put_uvarint(&mut b, 1);
        put_uvarint(&mut b, n.len() as u64);
        b.extend_from_slice(n.as_bytes());
        put_uvarint(&mut b, *off);
    }
    section(&mut out, &b);

    toc.postings_table = out.len() as u64;
    let mut b = (offsets.len() as u32).to_be_bytes().to_vec();
    for (n, v, off) in &offsets {
        put_uvarint(&mut b, 2);
        put_uvarint(&mut b, n.len() as u64);
        b.extend_from_slice(n.as_bytes());
        put_uvarint(&mut b, v.len() as u64);
        b.extend_from_slice(v.as_bytes());
        put_uvarint(&mut b, *off);
    }
    section(&mut out, &b);
    out.extend_from_slice(&toc.encode());
    out
}

/// Resolves series IDs to (labels, chunk metas).
fn resolve(r: &IndexReader, ids: &[u32]) -> Vec<SeriesEntry> {
    ids.iter().map(|&id| r.series(id).unwrap()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]
    #[test]
    fn v1_index_reads_like_v2(sets in label_sets(), ms in proptest::collection::vec(matcher(), 1..4)) {
        let v1 = reader(build_v1(&sets)).unwrap();
        let v2 = reader(build(&sets)).unwrap();
        prop_assert_eq!(v1.version(), FORMAT_V1);
        prop_assert_eq!(v2.version(), FORMAT_V2);
        prop_assert_eq!(v1.label_names(), v2.label_names());
        for n in v2.label_names() {
            prop_assert_eq!(v1.label_values(&n), v2.label_values(&n));
        }
        let (a1, a2) = (v1.all_postings().unwrap(), v2.all_postings().unwrap());
        prop_assert_eq!(resolve(&v1, &a1), resolve(&v2, &a2));
        prop_assert_eq!(v1.series_many(&a1).unwrap(), resolve(&v2, &a2));
        let (p1, p2) = (v1.postings_for_matchers(&ms).unwrap(), v2.postings_for_matchers(&ms).unwrap());
        prop_assert_eq!(resolve(&v1, &p1), resolve(&v2, &p2));
    }
}

#[test]
fn v1_series_ids_are_byte_offsets() {
    let sets = vec![
        Labels::from_pairs(&[("__name__", "up"), ("job", "a")]),
        Labels::from_pairs(&[("__name__", "up"), ("job", "b")]),
    ];
    let r = reader(build_v1(&sets)).unwrap();
    let ids = r.postings("job", "b").unwrap();
    assert_eq!(ids.len(), 1);
    // Not 16-byte aligned (the first entry starts right after the symbols).
    let all = r.all_postings().unwrap();
    assert_eq!(u64::from(all[0]), r.header().toc.series);
    assert_eq!(r.series(ids[0]).unwrap().labels, sets[1]);
    // A v1 symbol reference that is not a symbol's offset is out of range.
    assert!(matches!(
        r.header().symbols.lookup(1),
        Err(Error::OutOfRange { .. })
    ));
    // An ID between entries is a corrupt reference, not a panic.
    assert!(r.series(all[0] + 1).is_err());
}

#[test]
fn sampled_postings_offsets_find_every_value() {
    // Names with 1, 31, 32, 33, 64, 65 and 200 values: samples at every
    // 32nd value plus the last, lookups scan between them.
    let counts = [
        ("a", 1),
        ("b", 31),
        ("c", 32),
        ("d", 33),
        ("e", 64),
        ("f", 65),
        ("g", 200),
    ];
    let mut sets = Vec::new();
    for (name, n) in counts {
        for i in 0..n {
            sets.push(Labels::from_pairs(&[
                ("__name__", "m"),
                (name, &format!("v{i:04}")),
            ]));
        }
    }
    let r = reader(build(&sets)).unwrap();
    let h = r.header();
    let total: usize = counts.iter().map(|c| c.1).sum();
    // all-postings key + __name__=m + one entry per value.
    assert_eq!(h.postings.num_entries(), total + 2);
    assert!(
        h.postings.num_samples() < total / 4,
        "{}",
        h.postings.num_samples()
    );
    let mut prev_end = 0;
    for (name, n) in counts {
        let values = h.postings.values(name);
        assert_eq!(values.len(), n, "{name}");
        for (i, v) in values.iter().enumerate() {
            assert_eq!(v.value, format!("v{i:04}"));
            assert_eq!(h.postings.get(name, &v.value).as_ref(), Some(v));
            assert!(v.start < v.end && v.start >= prev_end, "{name}={}", v.value);
            prev_end = v.end;
            // The postings list of each value is exactly its one series.
            let ids = r.postings(name, &v.value).unwrap();
            assert_eq!(ids.len(), 1);
            assert_eq!(
                r.series(ids[0]).unwrap().labels.get(name),
                Some(v.value.as_str())
            );
            // Values between and around existing ones are absent.
            assert_eq!(h.postings.get(name, &format!("{}x", v.value)), None);
        }
        assert_eq!(h.postings.get(name, "v"), None);
        assert_eq!(h.postings.get(name, "z"), None);
        assert_eq!(h.postings.get(name, ""), None);
    }
    assert_eq!(h.postings.get("zz", "v0000"), None);
    assert_eq!(r.all_postings().unwrap().len(), total);
    // Symbols are sampled too: every ordinal resolves, in order.
    let syms: Vec<&str> = h.symbols.iter().collect();
    assert_eq!(syms.len(), h.symbols.len());
    assert!(syms.windows(2).all(|w| w[0] < w[1]));
    for (i, s) in syms.iter().enumerate() {
        assert_eq!(h.symbols.lookup(i as u64).unwrap(), *s);
    }
    assert!(h.symbols.lookup(syms.len() as u64).is_err());
    // A persisted header answers the same.
    let d = IndexHeader::decode(&h.encode(), "h").unwrap();
    assert_eq!(d.postings.values("g"), h.postings.values("g"));
}

#[test]
fn unsorted_postings_offset_table_is_corrupt() {
    use crate::varint::put_uvarint;
    let entry = |b: &mut Vec<u8>, n: &str, v: &str, off: u64| {
        put_uvarint(b, 2);
        put_uvarint(b, n.len() as u64);
        b.extend_from_slice(n.as_bytes());
        put_uvarint(b, v.len() as u64);
        b.extend_from_slice(v.as_bytes());
        put_uvarint(b, off);
    };
    let table = |es: &[(&str, &str, u64)]| {
        let mut b = (es.len() as u32).to_be_bytes().to_vec();
        for (n, v, o) in es {
            entry(&mut b, n, v, *o);
        }
        bytes::Bytes::from(b)
    };
    let ok = table(&[("", "", 10), ("a", "x", 20), ("a", "y", 30), ("b", "x", 40)]);
    assert!(PostingOffsets::parse(ok, "i", 0, 50).is_ok());
    for bad in [
        table(&[("", "", 10), ("a", "y", 20), ("a", "x", 30)]),
        table(&[("", "", 10), ("b", "x", 20), ("a", "x", 30)]),
        table(&[("", "", 10), ("a", "x", 30), ("a", "y", 20)]),
        table(&[("", "", 10), ("a", "x", 60)]),
    ] {
        let e = PostingOffsets::parse(bad, "blk/index", 100, 50).unwrap_err();
        assert!(
            matches!(e, Error::Corrupt { .. }) && e.to_string().contains("blk/index"),
            "{e}"
        );
    }
}
