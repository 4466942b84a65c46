//! Heap bytes held by an `IndexHeader` of an index with many distinct label
//! values: `cargo run --release -p aeon-tsdb-block --example header_mem [N]`
//! (default N = 100000 series, each with a distinct `id` value).
#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use aeon_model::Labels;
use aeon_tsdb_block::{ChunkMeta, FileSource, IndexHeader, IndexWriter};

/// Counts live heap bytes (the only unsafe code in the crate: a measuring
/// allocator in this example, forwarding to the system allocator).
#[derive(Debug)]
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged and only
// adds bookkeeping.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller upholds GlobalAlloc::alloc's contract for l.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: p was returned by System.alloc with layout l.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("index");
    let ids: Vec<String> = (0..n).map(|i| format!("{i:08}")).collect();
    let syms = ["", "__name__", "id", "metric"]
        .into_iter()
        .map(String::from)
        .chain(ids.iter().cloned());
    let mut w = IndexWriter::create(&p, syms).unwrap();
    for (i, id) in ids.iter().enumerate() {
        let ls = Labels::from_pairs(&[("__name__", "metric"), ("id", id)]);
        let c = ChunkMeta {
            min_time: 0,
            max_time: 1,
            r#ref: 8 + i as u64 * 16,
        };
        w.add_series(&ls, &[c]).unwrap();
    }
    w.finish().unwrap();
    drop(ids);
    // pread: the header owns copies of the sections it keeps.
    let src = FileSource::open(&p).unwrap();
    let index_len = std::fs::metadata(&p).unwrap().len();
    let before = LIVE.load(Ordering::Relaxed);
    let h = IndexHeader::build(&src).unwrap();
    let held = LIVE.load(Ordering::Relaxed) - before;
    println!(
        "index {index_len} bytes, {n} distinct values: the IndexHeader holds {held} heap bytes ({:.1} bytes/value), encoded {} bytes",
        held as f64 / n as f64,
        h.encode().len()
    );
    drop(h);
}
