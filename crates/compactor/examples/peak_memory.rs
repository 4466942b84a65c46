//! Peak memory (VmHWM) of compacting a group of many series.
//!
//! `cargo run --release -p aeon-compactor --example peak_memory -- [SERIES] [SAMPLES] [MODE]`
//!
//! Writes two adjacent 2h blocks of SERIES series (default 1 000 000) with
//! SAMPLES samples each (default 120, one 60 s-interval XOR chunk per series
//! and block) into a temporary directory, then compacts them in a fresh
//! child process and prints that process's peak resident memory, wall time
//! and samples/s. MODE `disjoint` (default) merges adjacent blocks (chunks
//! copied); `overlap` merges two replicas of the same 2h (every chunk
//! decoded, deduplicated and re-encoded).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use aeon_compactor::DedupFunc;
use aeon_compactor::merge::{MergeInput, MergeOptions, merge_blocks};
use aeon_model::Labels;
use aeon_tsdb_block::{BlockReader, BlockWriter, BlockWriterOptions};

const H2: i64 = 2 * 3_600_000;

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn write_block(dir: &Path, series: usize, samples: i64, start: i64, replica: &str) -> PathBuf {
    let mut w = BlockWriter::new(dir, BlockWriterOptions::default()).unwrap();
    // Zero-padded instance names sort like their numbers.
    for i in 0..series {
        let l = Labels::from_pairs(&[
            ("__name__", "peak_metric"),
            ("instance", &format!("host-{i:08}")),
            ("job", "peak"),
            ("replica", replica),
        ]);
        let step = (H2 / samples.max(1)).max(1);
        let s: Vec<(i64, f64)> = (0..samples)
            .map(|k| (start + k * step, (i as i64 * 13 + k) as f64))
            .collect();
        w.add_float_series(l, &s).unwrap();
    }
    w.finish().unwrap().1
}

fn compact(dirs: &[PathBuf], out: &Path, overlap: bool) {
    let t = Instant::now();
    let readers: Vec<BlockReader> = dirs.iter().map(|d| BlockReader::open(d).unwrap()).collect();
    let inputs: Vec<MergeInput<'_>> = readers
        .iter()
        .enumerate()
        .map(|(i, r)| MergeInput {
            block: r,
            stream: if overlap { i } else { 0 },
        })
        .collect();
    let (meta, _, stats) = merge_blocks(
        &inputs,
        out,
        BlockWriterOptions::default(),
        &MergeOptions {
            drop_labels: vec!["replica".into()],
            dedup: DedupFunc::Penalty,
            group: "peak".into(),
        },
    )
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let input_samples: u64 = readers.iter().map(|r| r.meta().stats.num_samples).sum();
    println!(
        "compacted {} input samples into {} series / {} samples / {} chunks ({} copied, {} re-encoded) in {secs:.1} s: {:.1} M input samples/s; VmHWM {} MiB",
        input_samples,
        meta.stats.num_series,
        meta.stats.num_samples,
        meta.stats.num_chunks,
        stats.chunks_copied,
        stats.chunks_reencoded,
        input_samples as f64 / secs / 1e6,
        vm_hwm_kib() / 1024
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--compact") {
        let out = PathBuf::from(&args[2]);
        let overlap = args[3] == "overlap";
        let dirs: Vec<PathBuf> = args[4..].iter().map(PathBuf::from).collect();
        compact(&dirs, &out, overlap);
        return;
    }
    let series: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let samples: i64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(120);
    let mode = args.get(3).cloned().unwrap_or_else(|| "disjoint".into());
    let overlap = mode == "overlap";
    let tmp = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let second_start = if overlap { 0 } else { H2 };
    let dirs = vec![
        write_block(tmp.path(), series, samples, 0, "a"),
        write_block(tmp.path(), series, samples, second_start, "b"),
    ];
    println!(
        "wrote 2 blocks x {series} series x {samples} samples in {:.1} s (generator VmHWM {} MiB)",
        t.elapsed().as_secs_f64(),
        vm_hwm_kib() / 1024
    );
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--compact")
        .arg(&out)
        .arg(&mode)
        .args(&dirs)
        .status()
        .unwrap();
    assert!(status.success());
}
