//! Rebuilding the head from its directory: the newest block's end, the last
//! checkpoint, then every later WAL segment in order.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use aeon_model::Labels;
use aeon_tsdb_block::BlockMeta;

use super::{Head, stripe};
use crate::hash::IdMap;
use crate::series::Value;
use crate::wal::reader::{Corruption, parse};
use crate::wal::record::{self, Record};
use crate::wal::{PAGE_SIZE, checkpoint, list_segments};
use crate::{Error, Result};

/// The latest `max_time` of the blocks in `dir` (directories named by a
/// ULID with a `meta.json`).
pub(crate) fn blocks_end(dir: &Path) -> Result<Option<i64>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut end: Option<i64> = None;
    for e in rd {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if ulid::Ulid::from_string(name).is_err() || !e.path().join("meta.json").exists() {
            continue;
        }
        let p = e.path();
        let m =
            BlockMeta::read_from_dir(&p).map_err(|source| Error::ReadBlock { dir: p, source })?;
        end = Some(end.map_or(m.max_time, |x| x.max(m.max_time)));
    }
    Ok(end)
}

/// The index of the segment to write next: after every segment and
/// checkpoint present.
pub(crate) fn next_segment(wal_dir: &Path) -> Result<u64> {
    let last_seg = list_segments(wal_dir)?.last().map(|(i, _)| *i);
    let last_cp = checkpoint::list(wal_dir)?.last().map(|(k, _)| *k);
    Ok(match (last_seg, last_cp) {
        (None, None) => 0,
        (a, b) => a.max(b).map_or(0, |x| x + 1),
    })
}

#[derive(Default)]
struct State {
    /// WAL refs that name an existing series under another ref.
    remap: IdMap<u64, u64>,
    series: usize,
    samples: usize,
    unknown_refs: usize,
    skipped_old: usize,
    mint: i64,
    maxt: i64,
}

/// Replays the last checkpoint and the segments before `next`.
pub(crate) fn replay(head: &Head, wal_dir: &Path, next: u64) -> Result<()> {
    let started = Instant::now();
    let mut st = State {
        mint: i64::MAX,
        maxt: i64::MIN,
        ..Default::default()
    };
    let mut first = 0;
    let cps = checkpoint::list(wal_dir)?;
    if let Some((k, dir)) = cps.last() {
        for (_, seg) in list_segments(dir)? {
            let data = std::fs::read(&seg).map_err(|e| Error::wal_io(&seg, e))?;
            // A checkpoint is fsynced before it is renamed into place:
            // any damage in it is corruption, never a torn write.
            if let Some(c) = parse(&data, |off, rec| apply(head, &mut st, &seg, off, &rec))? {
                return Err(corrupt(&seg, c));
            }
        }
        first = k + 1;
    }
    let segs: Vec<(u64, PathBuf)> = list_segments(wal_dir)?
        .into_iter()
        .filter(|(i, _)| *i < next)
        .collect();
    for (pos, (i, seg)) in segs.iter().enumerate() {
        if *i < first {
            continue;
        }
        let data = std::fs::read(seg).map_err(|e| Error::wal_io(seg, e))?;
        let mut records = 0usize;
        let Some(c) = parse(&data, |off, rec| {
            records += 1;
            apply(head, &mut st, seg, off, &rec)
        })?
        else {
            continue;
        };
        let later = &segs[pos + 1..];
        if c.valid_data_follows || later.iter().any(|(_, p)| holds_records(p)) {
            return Err(corrupt(seg, c));
        }
        tracing::warn!(
            segment = %seg.display(),
            offset = c.record_start,
            reason = %c.reason,
            kept_records = records,
            "write-ahead log ends in a torn record (an interrupted write): truncating it there, keeping every record before it"
        );
        truncate_at(seg, c.record_start)?;
        for (_, p) in later {
            truncate_at(p, 0)?;
        }
        break;
    }
    // Segments and checkpoints a crash left behind after a checkpoint.
    for (i, p) in &segs {
        if *i < first {
            std::fs::remove_file(p).map_err(|e| Error::wal_io(p, e))?;
        }
    }
    if first > 0 {
        checkpoint::remove_before(wal_dir, first - 1)?;
    }
    if st.series > 0 || st.samples > 0 {
        head.observe_times(st.mint, st.maxt);
    }
    tracing::info!(
        dir = %wal_dir.display(),
        series = st.series,
        samples = st.samples,
        unknown_series_refs = st.unknown_refs,
        skipped_in_blocks = st.skipped_old,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "replayed write-ahead log"
    );
    Ok(())
}

fn corrupt(seg: &Path, c: Corruption) -> Error {
    Error::WalCorrupt {
        segment: seg.to_path_buf(),
        offset: c.offset,
        reason: c.reason,
    }
}

/// Whether a segment holds at least one intact record.
fn holds_records(p: &Path) -> bool {
    let Ok(data) = std::fs::read(p) else {
        return false;
    };
    let mut n = 0usize;
    match parse(&data, |_, _| {
        n += 1;
        Ok(())
    }) {
        Ok(c) => n > 0 || c.is_some_and(|c| c.valid_data_follows),
        Err(_) => true,
    }
}

/// Cuts a segment at `at` and zero-pads it to a whole page (padding reads
/// as an empty rest of page).
fn truncate_at(p: &Path, at: u64) -> Result<()> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .map_err(|e| Error::wal_io(p, e))?;
    let end = at.div_ceil(PAGE_SIZE as u64) * PAGE_SIZE as u64;
    f.set_len(at)
        .and_then(|()| f.set_len(end))
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::wal_io(p, e))
}

fn apply(head: &Head, st: &mut State, seg: &Path, off: u64, rec: &[u8]) -> Result<()> {
    let file = seg.display().to_string();
    let rec = record::decode(rec, &file, off).map_err(|e| Error::WalCorrupt {
        segment: seg.to_path_buf(),
        offset: off,
        reason: e.to_string(),
    })?;
    match rec {
        Record::Series(list) => {
            for (r, ls) in list {
                add_series(head, st, r, &ls);
            }
        }
        Record::Samples(list) => {
            for (r, t, v) in list {
                sample(head, st, r, t, Value::Float(v))?;
            }
        }
        Record::Histograms(list) => {
            for (r, t, h) in list {
                sample(head, st, r, t, Value::Histogram(Box::new(h)))?;
            }
        }
        Record::FloatHistograms(list) => {
            for (r, t, h) in list {
                sample(head, st, r, t, Value::FloatHistogram(Box::new(h)))?;
            }
        }
        Record::Skipped(_) => {}
    }
    Ok(())
}

fn add_series(head: &Head, st: &mut State, r: u64, ls: &Labels) {
    let h = ls.stable_hash();
    let mut hs = head.hashes[stripe(h)].write();
    if let Some(existing) = head.find(&hs, h, ls, false) {
        if existing != r {
            st.remap.insert(r, existing);
        }
        return;
    }
    // A ref reused for other labels cannot come from a sane WAL; give the
    // series a fresh ref rather than mixing two series.
    let target = if head.series[stripe(r)].read().contains_key(&r) {
        let fresh = head.next_ref.fetch_add(1, Ordering::AcqRel);
        st.remap.insert(r, fresh);
        fresh
    } else {
        r
    };
    head.insert_series(target, h, ls, &mut hs, false);
    head.next_ref.fetch_max(target + 1, Ordering::AcqRel);
    st.series += 1;
}

/// Applies one logged sample: every logged sample was accepted when it was
/// written, so it goes in order when later than the series' last sample,
/// out of order when earlier; exact repeats are dropped.
fn sample(head: &Head, st: &mut State, r: u64, t: i64, v: Value) -> Result<()> {
    let r = st.remap.get(&r).copied().unwrap_or(r);
    if t < head.compacted.load(Ordering::Relaxed) {
        st.skipped_old += 1;
        return Ok(());
    }
    let mut stripe_map = head.series[stripe(r)].write();
    let Some(s) = stripe_map.get_mut(&r) else {
        st.unknown_refs += 1;
        return Ok(());
    };
    match s.last().map(|(lt, _)| lt) {
        Some(lt) if t == lt => return Ok(()),
        Some(lt) if t < lt => {
            // A conflicting repeat was refused when first written.
            let _ = s.insert_ooo(t, v);
        }
        _ => {
            s.append(r, t, &v, head.opts.block_range)?;
        }
    }
    st.samples += 1;
    st.mint = st.mint.min(t);
    st.maxt = st.maxt.max(t);
    Ok(())
}
