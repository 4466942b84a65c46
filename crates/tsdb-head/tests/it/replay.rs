//! WAL replay: what was committed comes back exactly; torn tails are cut
//! off, corruption before valid data is refused.

use std::path::{Path, PathBuf};

use aeon_tsdb_head::{Error, Head, HeadOptions, SyncPolicy, WalOptions};
use proptest::prelude::*;

use crate::util::*;

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .collect();
    v.sort();
    v
}

/// One operation of a random workload.
#[derive(Debug, Clone)]
enum Op {
    Float { series: usize, dt: i64, v: f64 },
    Hist { series: usize, dt: i64, x: u64 },
    Commit,
    Rollback,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..12usize, -5_000i64..60_000, prop_oneof![any::<f64>(), Just(aeon_model::stale_nan()), Just(1.0)])
            .prop_map(|(series, dt, v)| Op::Float { series, dt, v }),
        2 => (12..15usize, -5_000i64..60_000, 0u64..50).prop_map(|(series, dt, x)| Op::Hist { series, dt, x }),
        2 => Just(Op::Commit),
        1 => Just(Op::Rollback),
    ]
}

fn run(h: &Head, ops: &[Op]) {
    let mut a = h.appender();
    let mut t = [1_000_000i64; 15];
    for o in ops {
        match o {
            Op::Float { series: s, dt, v } => {
                t[*s] += dt;
                let r = a.series(&series("f", *s)).unwrap();
                // Refusals (out of order, duplicates) are part of the test.
                let _ = a.append(r, t[*s], *v);
            }
            Op::Hist { series: s, dt, x } => {
                t[*s] += dt;
                let r = a.series(&series("h", *s)).unwrap();
                let _ = a.append_histogram(r, t[*s], &hist(*x));
            }
            Op::Commit => {
                a.commit().unwrap();
                a = h.appender();
            }
            Op::Rollback => {
                a.rollback();
                a = h.appender();
            }
        }
    }
    a.commit().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// Random appends, commits and rollbacks; reopening the head replays the
    /// WAL into exactly the same contents (tiny segments and compression
    /// exercise page and segment boundaries).
    #[test]
    fn replay_rebuilds_the_same_head(ops in proptest::collection::vec(op(), 1..400), compress in any::<bool>(), ooo in any::<bool>()) {
        let d = tempfile::tempdir().unwrap();
        let opts = HeadOptions {
            ooo_window: if ooo { 10_000 } else { 0 },
            wal: WalOptions { segment_size: 64 * 1024, compress, sync: SyncPolicy::OnSegmentClose },
            ..Default::default()
        };
        let h = Head::open(d.path(), opts.clone()).unwrap();
        run(&h, &ops);
        let want = dump(&h, i64::MIN, i64::MAX);
        let stats = h.stats();
        drop(h);
        let h = Head::open(d.path(), opts.clone()).unwrap();
        prop_assert_eq!(dump(&h, i64::MIN, i64::MAX), want.clone());
        prop_assert_eq!(h.stats().num_series, want.len());
        prop_assert_eq!((h.stats().min_time, h.stats().max_time), (stats.min_time, stats.max_time));
        // And once more after writing on top of the replayed head.
        run(&h, &ops[..ops.len() / 2]);
        let want = dump(&h, i64::MIN, i64::MAX);
        drop(h);
        prop_assert_eq!(dump(&Head::open(d.path(), opts).unwrap(), i64::MIN, i64::MAX), want);
    }
}

/// Commits `n` batches of one sample per series (10 series); returns the dir.
fn write_commits(dir: &Path, n: i64) {
    let h = open(dir);
    for c in 0..n {
        let mut a = h.appender();
        for s in 0..10 {
            let r = a.series(&series("t", s)).unwrap();
            a.append(r, c * 1000, c as f64).unwrap();
        }
        a.commit().unwrap();
    }
}

#[test]
fn a_torn_tail_is_cut_off_and_every_record_before_it_kept() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    write_commits(&src, 400);
    let seg = segments(&src)[0].clone();
    let len = std::fs::metadata(&seg).unwrap().len();
    assert!(len > 40_000, "segment too small: {len}");
    let mut last_commits = 401;
    let mut cuts = vec![
        len - 1,
        len - 7,
        len - 200,
        len / 2 + 3,
        40_000,
        32_768,
        32_770,
        7,
        0,
    ];
    cuts.sort_unstable_by(|a, b| b.cmp(a));
    for (k, cut) in cuts.into_iter().enumerate() {
        let dir = d.path().join(format!("cut{k}"));
        copy_dir(&src, &dir);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("wal").join(seg.file_name().unwrap()))
            .unwrap();
        f.set_len(cut).unwrap();
        drop(f);
        let h = Head::open(&dir, HeadOptions::default())
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let got = dump(&h, i64::MIN, i64::MAX);
        // Whole commits survive, in order: a prefix of what was written.
        let commits = got.first().map_or(0, |(_, s)| s.len());
        assert!(
            got.iter()
                .all(|(_, s)| s.len() == commits || s.len() + 1 == commits),
            "cut at {cut}"
        );
        for (_, s) in &got {
            for (i, (t, _)) in s.iter().enumerate() {
                assert_eq!(*t, i as i64 * 1000);
            }
        }
        assert!(
            commits <= last_commits,
            "cut at {cut}: {commits} > {last_commits}"
        );
        last_commits = commits;
        // The repaired WAL replays again, and takes new writes.
        drop(h);
        let h = open(&dir);
        assert_eq!(dump(&h, i64::MIN, i64::MAX), got);
        let mut a = h.appender();
        let r = a.series(&series("t", 0)).unwrap();
        a.append(r, 10_000_000, 1.0).unwrap();
        a.commit().unwrap();
        drop(h);
        assert_eq!(open(&dir).stats().max_time, Some(10_000_000));
    }
    assert_eq!(last_commits, 0);
}

#[test]
fn corruption_before_valid_records_is_an_error_naming_segment_and_offset() {
    let d = tempfile::tempdir().unwrap();
    write_commits(d.path(), 300);
    let seg = segments(d.path())[0].clone();
    let mut data = std::fs::read(&seg).unwrap();
    let at = 10_000;
    data[at] ^= 0xff;
    std::fs::write(&seg, &data).unwrap();
    let e = Head::open(d.path(), HeadOptions::default()).unwrap_err();
    match &e {
        Error::WalCorrupt {
            segment, offset, ..
        } => {
            assert_eq!(segment, &seg);
            assert!(*offset <= at as u64 && *offset + 2000 > at as u64, "{e}");
        }
        other => panic!("expected corruption, got {other}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("00000000") && msg.contains("offset"), "{msg}");
}

#[test]
fn garbage_in_an_older_segment_with_later_data_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    write_commits(d.path(), 10);
    write_commits(d.path(), 0); // reopen: a second segment starts
    {
        let h = open(d.path());
        let mut a = h.appender();
        let r = a.series(&series("t", 0)).unwrap();
        a.append(r, 1_000_000, 1.0).unwrap();
        a.commit().unwrap();
    }
    let segs = segments(d.path());
    assert!(segs.len() >= 2);
    // Cut the first segment mid-record: with a valid later segment this is
    // no torn tail.
    let len = std::fs::metadata(&segs[0]).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&segs[0])
        .unwrap();
    f.set_len(len - 5).unwrap();
    assert!(matches!(
        Head::open(d.path(), HeadOptions::default()),
        Err(Error::WalCorrupt { .. })
    ));
}
