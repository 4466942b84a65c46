//! The head: series storage (striped by reference and by label hash), the
//! symbol table, the postings index, the WAL, and the head's time range.
//!
//! Locking: a series stripe holds the series' samples; the WAL mutex is also
//! the commit lock (a commit validates, logs and applies its samples while
//! holding it, so the WAL order is the order samples were applied in, and
//! replay rebuilds exactly the same head). Lock order: hash stripe → WAL →
//! series stripe → symbols/postings.

mod gc;
mod replay;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use aeon_model::Labels;
use parking_lot::{Mutex, RwLock};

use crate::hash::IdMap;
use crate::postings::Postings;
use crate::series::{Bounds, MemSeries};
use crate::symbols::Symbols;
use crate::wal::{Wal, record};
use crate::{Appender, Error, HeadOptions, Result};

/// Stripes of the series maps (a power of two).
pub(crate) const STRIPES: usize = 512;

/// A series' reference: stable for the series' life in this head and
/// across restarts (it is what the WAL records carry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesRef(pub(crate) u64);

impl SeriesRef {
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Label hash → series refs (collisions kept aside).
#[derive(Debug, Default)]
pub(crate) struct HashStripe {
    primary: IdMap<u64, u64>,
    extra: IdMap<u64, Vec<u64>>,
}

impl HashStripe {
    pub(crate) fn refs(&self, h: u64) -> impl Iterator<Item = u64> + '_ {
        self.primary
            .get(&h)
            .copied()
            .into_iter()
            .chain(self.extra.get(&h).into_iter().flatten().copied())
    }

    pub(crate) fn insert(&mut self, h: u64, r: u64) {
        match self.primary.entry(h) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(r);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.extra.entry(h).or_default().push(r);
            }
        }
    }

    pub(crate) fn remove(&mut self, h: u64, r: u64) {
        if let Some(list) = self.extra.get_mut(&h) {
            list.retain(|x| *x != r);
            if list.is_empty() {
                self.extra.remove(&h);
            }
        }
        if self.primary.get(&h) == Some(&r) {
            self.primary.remove(&h);
            if let Some(list) = self.extra.get_mut(&h)
                && let Some(p) = list.pop()
            {
                self.primary.insert(h, p);
                if list.is_empty() {
                    self.extra.remove(&h);
                }
            }
        }
    }
}

/// Figures about a head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadStats {
    pub num_series: usize,
    /// Distinct interned label names and values.
    pub num_symbols: usize,
    /// Time range of the samples held (`None` when empty).
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
    /// End of the last block written from this head (or found in its
    /// directory); nothing older is accepted.
    pub compacted_until: Option<i64>,
}

/// An in-memory TSDB head with a write-ahead log; see the crate docs.
pub struct Head {
    pub(crate) dir: PathBuf,
    pub(crate) opts: HeadOptions,
    pub(crate) series: Box<[RwLock<IdMap<u64, MemSeries>>]>,
    pub(crate) hashes: Box<[RwLock<HashStripe>]>,
    pub(crate) symbols: RwLock<Symbols>,
    pub(crate) postings: RwLock<Postings>,
    pub(crate) wal: Mutex<Wal>,
    pub(crate) compaction: Mutex<()>,
    pub(crate) next_ref: AtomicU64,
    pub(crate) num_series: AtomicUsize,
    /// `i64::MAX` / `i64::MIN` while empty.
    pub(crate) min_time: AtomicI64,
    pub(crate) max_time: AtomicI64,
    /// `i64::MIN` until a block exists.
    pub(crate) compacted: AtomicI64,
}

impl std::fmt::Debug for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Head")
            .field("dir", &self.dir)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

// A head is shared between request handlers (`Arc<Head>`).
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Head>();
};

pub(crate) fn stripe(r: u64) -> usize {
    (r as usize) & (STRIPES - 1)
}

impl Head {
    /// Opens (or creates) the head of the TSDB directory `dir`: blocks are
    /// `dir/<ULID>/`, the WAL is `dir/wal/`. The WAL is replayed; samples
    /// older than the newest block's end are skipped (they are in it).
    pub fn open(dir: &Path, opts: HeadOptions) -> Result<Self> {
        opts.validate()?;
        let wal_dir = dir.join("wal");
        std::fs::create_dir_all(&wal_dir).map_err(|e| Error::io(&wal_dir, e))?;
        let compacted = replay::blocks_end(dir)?;
        // Like Prometheus, writing resumes on a fresh segment after the
        // last existing one; replay reads those before it.
        let next_segment = replay::next_segment(&wal_dir)?;
        let wal = Wal::create(&wal_dir, next_segment, opts.wal.clone())?;
        crate::wal::sync_dir(&wal_dir)?;
        let head = Self {
            dir: dir.to_path_buf(),
            series: (0..STRIPES).map(|_| RwLock::default()).collect(),
            hashes: (0..STRIPES).map(|_| RwLock::default()).collect(),
            symbols: RwLock::default(),
            postings: RwLock::default(),
            wal: Mutex::new(wal),
            compaction: Mutex::new(()),
            next_ref: AtomicU64::new(1),
            num_series: AtomicUsize::new(0),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            compacted: AtomicI64::new(compacted.unwrap_or(i64::MIN)),
            opts,
        };
        replay::replay(&head, &wal_dir, next_segment)?;
        head.gc();
        Ok(head)
    }

    /// Makes everything committed durable (fsync of the current WAL
    /// segment) and closes the head; dropping it does the same but cannot
    /// report a failure.
    pub fn close(self) -> Result<()> {
        self.wal.lock().sync()
    }

    /// The TSDB directory (blocks and `wal/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn options(&self) -> &HeadOptions {
        &self.opts
    }

    /// A new appender; nothing it appends is visible or durable before
    /// [`Appender::commit`].
    pub fn appender(&self) -> Appender<'_> {
        Appender::new(self, self.bounds())
    }

    pub fn stats(&self) -> HeadStats {
        HeadStats {
            num_series: self.num_series.load(Ordering::Relaxed),
            num_symbols: self.symbols.read().len(),
            min_time: self.min_time(),
            max_time: self.max_time(),
            compacted_until: self.compacted_until(),
        }
    }

    pub fn min_time(&self) -> Option<i64> {
        let t = self.min_time.load(Ordering::Acquire);
        (t != i64::MAX).then_some(t)
    }

    pub fn max_time(&self) -> Option<i64> {
        let t = self.max_time.load(Ordering::Acquire);
        (t != i64::MIN).then_some(t)
    }

    pub fn compacted_until(&self) -> Option<i64> {
        let t = self.compacted.load(Ordering::Acquire);
        (t != i64::MIN).then_some(t)
    }

    /// The reference of the series `ls`, if the head holds it.
    pub fn series_ref(&self, ls: &Labels) -> Option<SeriesRef> {
        let h = ls.stable_hash();
        let hs = self.hashes[stripe(h)].read();
        self.find(&hs, h, ls, false).map(SeriesRef)
    }

    /// The labels of a series.
    pub fn series_labels(&self, r: SeriesRef) -> Option<Labels> {
        let st = self.series[stripe(r.0)].read();
        let s = st.get(&r.0)?;
        Some(self.symbols.read().labels(&s.labels))
    }

    /// Bounds for appends made now.
    pub(crate) fn bounds(&self) -> Bounds {
        let compacted = self.compacted.load(Ordering::Acquire);
        let head_max = self.max_time.load(Ordering::Acquire);
        let half = self.opts.block_range / 2;
        let min_valid = if head_max == i64::MIN {
            compacted
        } else {
            head_max.saturating_sub(half).max(compacted)
        };
        Bounds {
            min_valid,
            compacted,
            head_max,
            ooo_window: self.opts.ooo_window,
        }
    }

    /// Looks `ls` up among the refs of hash `h`; `pin` takes a pending
    /// reference on the series found (under its stripe lock, so garbage
    /// collection cannot remove it in between).
    fn find(&self, hs: &HashStripe, h: u64, ls: &Labels, pin: bool) -> Option<u64> {
        for r in hs.refs(h) {
            let st = self.series[stripe(r)].read();
            let Some(s) = st.get(&r) else { continue };
            if self.symbols.read().equals(&s.labels, ls) {
                if pin {
                    s.pending.fetch_add(1, Ordering::AcqRel);
                }
                return Some(r);
            }
        }
        None
    }

    /// The series `ls`, created (and its WAL record written) if new; the
    /// series is pinned for the calling appender. Returns whether it was
    /// created.
    pub(crate) fn get_or_create(&self, ls: &Labels) -> Result<(u64, bool)> {
        let h = ls.stable_hash();
        {
            let hs = self.hashes[stripe(h)].read();
            if let Some(r) = self.find(&hs, h, ls, true) {
                return Ok((r, false));
            }
        }
        if ls.is_empty() {
            return Err(Error::InvalidSeries {
                labels: ls.to_string(),
                reason: "empty label set".into(),
            });
        }
        let mut hs = self.hashes[stripe(h)].write();
        if let Some(r) = self.find(&hs, h, ls, true) {
            return Ok((r, false));
        }
        let limit = self.opts.max_series;
        if limit > 0 && self.num_series.load(Ordering::Acquire) >= limit {
            return Err(Error::TooManySeries { limit });
        }
        let r = self.next_ref.fetch_add(1, Ordering::AcqRel);
        // The series record goes to the WAL before the series is visible,
        // so no sample record can precede it; the WAL lock is held until
        // it is, so a checkpoint (which starts under that lock) either sees
        // the series or finds its record in a newer segment.
        let mut rec = Vec::with_capacity(16 + ls.len() * 24);
        record::encode_series(&mut rec, [(r, ls)]);
        let mut wal = self.wal.lock();
        wal.log_buffered(&rec)?;
        self.insert_series(r, h, ls, &mut hs, true);
        drop(wal);
        Ok((r, true))
    }

    /// Adds a series under ref `r` (hash stripe already locked), pinned
    /// for the caller if `pin`.
    pub(crate) fn insert_series(
        &self,
        r: u64,
        h: u64,
        ls: &Labels,
        hs: &mut HashStripe,
        pin: bool,
    ) {
        let ids = self.symbols.write().intern_labels(ls);
        self.postings.write().add(r, &ids);
        let s = MemSeries::new(ids);
        if pin {
            s.pending.store(1, Ordering::Release);
        }
        self.series[stripe(r)].write().insert(r, s);
        hs.insert(h, r);
        self.num_series.fetch_add(1, Ordering::AcqRel);
    }

    /// Widens the head's time range.
    pub(crate) fn observe_times(&self, mint: i64, maxt: i64) {
        self.min_time.fetch_min(mint, Ordering::AcqRel);
        self.max_time.fetch_max(maxt, Ordering::AcqRel);
    }
}
