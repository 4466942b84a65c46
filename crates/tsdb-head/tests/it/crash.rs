//! Real crashes: a child process (this test binary re-run as `crash::child`)
//! appends and compacts with `AEON_TSDB_HEAD_CRASH_AT` set and SIGKILLs
//! itself at the crash point; the parent then reopens the head and checks
//! that every acknowledged sample is there exactly once.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

use aeon_tsdb_block::BlockReader;
use aeon_tsdb_head::crashpoints;

use crate::util::*;

const CHILD_DIR: &str = "AEON_TSDB_HEAD_TEST_CHILD_DIR";
const BASE: i64 = 1_700_006_400_000;

/// Commit `c` writes sample `(BASE + c*15s, c)` to 20 series.
fn commit(h: &aeon_tsdb_head::Head, c: i64) {
    let mut a = h.appender();
    for s in 0..20 {
        let r = a.series(&series("crash", s)).unwrap();
        a.append(r, BASE + c * 15_000, c as f64).unwrap();
    }
    a.commit().unwrap();
}

/// The child: with the env var set, commits 6h of samples (printing each
/// acknowledged commit), compacting every 100 commits.
#[test]
fn child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let h = open(Path::new(&dir));
    let first = h.max_time().map_or(0, |t| (t - BASE) / 15_000 + 1);
    for c in first..first + 6 * 240 {
        commit(&h, c);
        println!("acked {c}");
        if c % 100 == 99 {
            h.compact(None).unwrap();
        }
    }
    println!("done");
}

/// Runs the child until it exits; returns the last acknowledged commit.
fn run_child(dir: &Path, crash_at: Option<&str>) -> (Option<i64>, bool) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "crash::child", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env_remove(crashpoints::ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(c) = crash_at {
        cmd.env(crashpoints::ENV, c);
    }
    let mut child = cmd.spawn().unwrap();
    let mut last = None;
    let mut done = false;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(c) = line.strip_prefix("acked ") {
            last = Some(c.parse().unwrap());
        }
        done |= line == "done";
    }
    let status = child.wait().unwrap();
    if crash_at.is_some() {
        assert_eq!(status.signal(), Some(9), "child was not killed: {status:?}");
    } else {
        assert!(status.success());
    }
    (last, done)
}

/// Every sample of the directory: blocks and the reopened head, with
/// duplicates counted.
fn everything(dir: &Path) -> BTreeMap<(String, i64), usize> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.join("meta.json").exists() {
            let r = BlockReader::open(&p).unwrap();
            for s in r.select(&[], i64::MIN, i64::MAX).unwrap() {
                for (t, _) in r.samples(&s, i64::MIN, i64::MAX).unwrap() {
                    *out.entry((s.labels.to_string(), t)).or_insert(0) += 1;
                }
            }
        }
    }
    let h = open(dir);
    for (l, s) in dump(&h, i64::MIN, i64::MAX) {
        for (t, _) in s {
            *out.entry((l.clone(), t)).or_insert(0) += 1;
        }
    }
    out
}

fn check(dir: &Path, acked: i64) {
    let all = everything(dir);
    for ((l, t), n) in &all {
        assert_eq!(*n, 1, "{l} at {t} stored {n} times");
    }
    for s in 0..20 {
        let l = series("crash", s).to_string();
        for c in 0..=acked {
            assert!(
                all.contains_key(&(l.clone(), BASE + c * 15_000)),
                "acknowledged sample {c} of {l} lost"
            );
        }
    }
}

#[test]
fn sigkill_at_every_crash_point_loses_no_acknowledged_sample() {
    for (step, nth) in [
        ("wal-written", 1),
        ("wal-written", 777),
        ("block-written", 1),
        ("block-written", 2),
        ("checkpoint-written", 1),
        ("checkpoint-written", 2),
    ] {
        let d = tempfile::tempdir().unwrap();
        let spec = format!("{step}:{nth}");
        let (acked, done) = run_child(d.path(), Some(&spec));
        assert!(!done, "{spec}: the child finished without crashing");
        let acked = acked.unwrap_or(-1);
        // A commit killed after its WAL write is durable though never
        // acknowledged: it may be there, and if so completely.
        check(d.path(), acked);
        // The restarted writer goes on from where the data ends.
        let (again, done) = run_child(d.path(), None);
        assert!(done, "{spec}: restart did not finish");
        check(d.path(), again.unwrap());
    }
}
