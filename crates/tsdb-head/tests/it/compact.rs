//! Head compaction into blocks: read back by our reader and by the real
//! promtool 3.5 (which also replays our WAL and checkpoint), the WAL
//! truncated, and the head reopened from its checkpoint.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use aeon_tsdb_block::{BlockReader, ThanosMeta};
use aeon_tsdb_head::{Error, Head, HeadOptions};

use crate::util::*;

/// 2h-aligned base plus 10 minutes, so the first block is short.
const BASE: i64 = 1_700_006_400_000 + 10 * 60_000;

/// `hours` of 15s samples for 40 float series and 4 histogram series.
fn fill(h: &Head, from: i64, to: i64) {
    let mut t = from;
    while t < to {
        let mut a = h.appender();
        for s in 0..40 {
            let r = a.series(&series("node_cpu_seconds_total", s)).unwrap();
            a.append(r, t + s as i64, (t / 15_000 + s as i64) as f64 * 0.25)
                .unwrap();
        }
        for s in 0..4 {
            let r = a
                .series(&series("http_request_duration_seconds", s))
                .unwrap();
            a.append_histogram(r, t, &hist(((t - BASE) / 15_000) as u64 + s as u64))
                .unwrap();
        }
        a.commit().unwrap();
        t += 15_000;
    }
}

fn block_dump(dir: &Path) -> Dump {
    let r = BlockReader::open(dir).unwrap();
    let mut out = Vec::new();
    for s in r.select(&[], i64::MIN, i64::MAX).unwrap() {
        let x = r
            .samples(&s, i64::MIN, i64::MAX)
            .unwrap()
            .iter()
            .map(|(t, v)| (*t, crate::util::v(v)))
            .collect();
        out.push((s.labels.to_string(), x));
    }
    out
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new(aeon_testkit::peers::promtool())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn our_dump(dir: &Path) -> String {
    let mut out = Vec::new();
    aeon_tsdb_block::dump::dump(dir, &[], i64::MIN, i64::MAX, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn merge(parts: &[Dump]) -> Dump {
    let mut m: BTreeMap<String, Vec<(i64, V)>> = BTreeMap::new();
    for p in parts {
        for (l, s) in p {
            m.entry(l.clone()).or_default().extend(s.iter().cloned());
        }
    }
    m.into_iter()
        .map(|(l, mut s)| {
            s.sort();
            (l, s)
        })
        .collect()
}

#[test]
fn compaction_writes_blocks_promtool_reads_and_truncates_memory_and_wal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("head");
    let d = &dir;
    let h = open(d);
    let end = BASE + 5 * HOUR;
    fill(&h, BASE, end);
    let all_before = dump(&h, i64::MIN, i64::MAX);
    assert!(h.compactable());
    let thanos = ThanosMeta::new(
        [
            ("tenant_id".to_string(), "team-a".to_string()),
            ("replica".to_string(), "0".to_string()),
        ]
        .into(),
        "receive",
    );
    let blocks = h.compact(Some(&thanos)).unwrap();
    assert!(!h.compactable());
    // [BASE, BASE+1h50m) and the next 2h range: the head then spans < 3h.
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    let first_end = BASE - 10 * 60_000 + 2 * HOUR;
    assert_eq!(
        (blocks[0].meta.min_time, blocks[0].meta.max_time),
        (BASE, first_end)
    );
    assert_eq!(blocks[1].meta.max_time, first_end + 2 * HOUR);
    let e = blocks[1].meta.max_time;
    let th = blocks[0].meta.thanos.as_ref().unwrap();
    assert_eq!(th.labels["tenant_id"], "team-a");
    assert_eq!(th.source, "receive");
    assert_eq!(blocks[0].meta.compaction.level, 1);

    // Blocks plus head hold everything exactly once.
    let mut parts: Vec<_> = blocks.iter().map(|b| block_dump(&b.dir)).collect();
    for (b, part) in blocks.iter().zip(&parts) {
        assert!(part.iter().all(|(_, s)| {
            s.iter()
                .all(|(t, _)| *t >= b.meta.min_time && *t < b.meta.max_time)
        }));
    }
    let head_now = dump(&h, i64::MIN, i64::MAX);
    assert!(head_now.iter().all(|(_, s)| s.iter().all(|(t, _)| *t >= e)));
    assert_eq!(h.min_time(), Some(e));
    parts.push(head_now.clone());
    assert_eq!(merge(&parts), all_before);

    // Old samples are refused now; the WAL was checkpointed and truncated.
    let mut a = h.appender();
    let r = a.series(&series("node_cpu_seconds_total", 0)).unwrap();
    assert!(matches!(
        a.append(r, e - 1, 1.0).unwrap_err(),
        Error::OutOfBounds { .. }
    ));
    drop(a);
    let wal: Vec<String> = std::fs::read_dir(d.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(wal.iter().any(|n| n.starts_with("checkpoint.")), "{wal:?}");
    assert!(!wal.iter().any(|n| n == "00000000"), "{wal:?}");

    // The real promtool reads our blocks exactly as our reader does.
    for b in &blocks {
        let ulid = b.meta.ulid.to_string();
        let out = promtool(&["tsdb", "analyze", d.to_str().unwrap(), &ulid]);
        assert!(out.contains(&ulid), "{out}");
        let only = tmp.path().join("only").join(&ulid);
        copy_dir(&b.dir, &only);
        std::fs::create_dir_all(tmp.path().join("only/wal")).unwrap();
    }
    let only = tmp.path().join("only");
    let theirs = promtool(&["tsdb", "dump", only.to_str().unwrap()]);
    assert!(
        theirs.lines().count() > 40 * 400,
        "{}",
        theirs.lines().count()
    );
    assert_eq!(theirs, our_dump(&only));

    // promtool also replays our checkpoint and WAL segments: its dump of
    // the whole directory equals ours of blocks plus the head flushed.
    drop(h);
    let full = tmp.path().join("full");
    copy_dir(d, &full);
    let theirs = promtool(&["tsdb", "dump", full.to_str().unwrap()]);
    let flushed = tmp.path().join("flushed");
    copy_dir(&full, &flushed);
    let h2 = open(&flushed);
    assert_eq!(dump(&h2, i64::MIN, i64::MAX), head_now);
    assert!(!h2.flush(None).unwrap().is_empty());
    assert!(dump(&h2, i64::MIN, i64::MAX).is_empty());
    drop(h2);
    assert_eq!(theirs, our_dump(&flushed));

    // Reopening replays the checkpoint and the later segments.
    let h = open(d);
    assert_eq!(h.compacted_until(), Some(e));
    assert_eq!(dump(&h, i64::MIN, i64::MAX), head_now);
    fill(&h, end, end + HOUR);
    drop(h);
    let h = open(d);
    let mut want = head_now.clone();
    let more = dump(&h, end, i64::MAX);
    want = merge(&[want, more]);
    assert_eq!(dump(&h, i64::MIN, i64::MAX), want);
}

#[test]
fn flush_empties_the_head_into_blocks() {
    let d = tempfile::tempdir().unwrap();
    let h = open(d.path());
    fill(&h, BASE, BASE + 3 * HOUR);
    let before = dump(&h, i64::MIN, i64::MAX);
    let blocks = h.flush(None).unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(
        blocks.last().unwrap().meta.max_time,
        h.max_time().unwrap() + 1
    );
    assert!(dump(&h, i64::MIN, i64::MAX).is_empty());
    assert_eq!(h.stats().num_series, 0);
    let parts: Vec<_> = blocks.iter().map(|b| block_dump(&b.dir)).collect();
    assert_eq!(merge(&parts), before);
    drop(h);
    let h = Head::open(d.path(), HeadOptions::default()).unwrap();
    assert_eq!(h.stats().num_series, 0);
    assert_eq!(h.compacted_until(), Some(BASE + 3 * HOUR - 15_000 + 40));
}
