//! The head's headline figures, in CPU time so a loaded machine does not
//! skew them: `cargo run --release -p aeon-tsdb-head --example head_figures
//! [METRICS HOSTS HOURS]` (default 100 × 200 series, 3h of 15s samples, the
//! span a 2h-block head holds before compaction).
//!
//! Prints samples ingested per CPU-second (one appender, one commit per
//! scrape step, by reference), heap bytes per active series (a counting
//! allocator: labels, index, chunks, everything), and WAL replay samples
//! per CPU-second.
#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use aeon_tsdb_head::{Head, HeadOptions};

#[path = "../benches/common/workload.rs"]
mod workload;
use workload::*;

/// Counts live heap bytes, forwarding to the system allocator.
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

/// User+system CPU time of this process in seconds (Linux /proc).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = stat.rsplit_once(')').unwrap().1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let (metrics, hosts, hours) = match args[..] {
        [m, h, hr] => (m, h, hr),
        _ => (100, 200, 3),
    };
    let ls = labels(metrics, hosts);
    let n = ls.len();
    let steps = (hours as i64) * 3_600_000 / STEP;
    let d = tempfile::tempdir().unwrap();

    let live0 = LIVE.load(Ordering::Relaxed);
    let h = Head::open(d.path(), HeadOptions::default()).unwrap();
    let refs = refs(&h, &ls);
    let (c0, w0) = (cpu_seconds(), Instant::now());
    for k in 0..steps {
        step(&h, &refs, k);
    }
    let (cpu, wall) = (cpu_seconds() - c0, w0.elapsed().as_secs_f64());
    let samples = n as f64 * steps as f64;
    let bytes = (LIVE.load(Ordering::Relaxed) - live0) as f64;
    println!("series: {n}, samples: {samples} ({hours}h at 15s)");
    println!(
        "ingest: {:.2} M samples per CPU-second ({:.2} M/s wall, {cpu:.2} CPU-s)",
        samples / cpu / 1e6,
        samples / wall / 1e6
    );
    println!(
        "memory: {:.0} bytes per active series ({:.1} MiB live heap for the head)",
        bytes / n as f64,
        bytes / 1024.0 / 1024.0
    );
    drop(h);

    let (c0, w0) = (cpu_seconds(), Instant::now());
    let h = Head::open(d.path(), HeadOptions::default()).unwrap();
    let (cpu, wall) = (cpu_seconds() - c0, w0.elapsed().as_secs_f64());
    assert_eq!(h.stats().num_series, n);
    println!(
        "replay: {:.2} M samples per CPU-second ({:.2} M/s wall, {cpu:.2} CPU-s)",
        samples / cpu / 1e6,
        samples / wall / 1e6
    );
}
