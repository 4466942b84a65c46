//! Merging the series of several local blocks into one new block. Chunks are
//! copied byte for byte wherever a series' chunks do not overlap in time;
//! only overlapping runs are decoded, merged (1:1 or with the penalty rule)
//! and re-encoded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aeon_model::Labels;
use aeon_tsdb_block::chunkenc::{self, Encoding, SampleValue, XorEncoder};
use aeon_tsdb_block::{
    BlockMeta, BlockReader, BlockWriter, BlockWriterOptions, ChunkMeta, EncodedChunk,
};

use crate::args::DedupFunc;
use crate::{Error, Result};

/// Samples per re-encoded chunk (Prometheus's target).
pub const SAMPLES_PER_CHUNK: usize = 120;
/// Thanos's penalty when the previous sample interval is not known yet (ms).
const INITIAL_PENALTY: i64 = 5000;

/// What a merge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeStats {
    pub series: u64,
    pub chunks_copied: u64,
    pub chunks_reencoded: u64,
    pub samples: u64,
}

/// One input of a merge.
#[derive(Debug)]
pub struct MergeInput<'a> {
    pub block: &'a BlockReader,
    /// Replica stream of the block (blocks of one stream never overlap each
    /// other legitimately); the penalty rule picks between streams.
    pub stream: usize,
}

/// How to merge.
#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// Series labels to drop (offline deduplication replica labels).
    pub drop_labels: Vec<String>,
    pub dedup: DedupFunc,
    /// Name used in errors (the group key).
    pub group: String,
}

/// Merges `inputs` into a new block under `out_parent`; returns its meta and directory.
pub fn merge_blocks(
    inputs: &[MergeInput<'_>],
    out_parent: &Path,
    writer_opts: BlockWriterOptions,
    opts: &MergeOptions,
) -> Result<(BlockMeta, PathBuf, MergeStats)> {
    let mut series: BTreeMap<Labels, Vec<(usize, ChunkMeta)>> = BTreeMap::new();
    for (i, input) in inputs.iter().enumerate() {
        let b = input.block;
        let read_err = |source| Error::ReadBlock {
            block: b.meta().ulid,
            source,
        };
        for id in b.index().all_postings().map_err(read_err)? {
            let s = b.index().series(id).map_err(read_err)?;
            let labels = if opts.drop_labels.is_empty() {
                s.labels
            } else {
                s.labels.without(&opts.drop_labels)
            };
            series
                .entry(labels)
                .or_default()
                .extend(s.chunks.into_iter().map(|c| (i, c)));
        }
    }
    let werr = |source| Error::WriteBlock {
        group: opts.group.clone(),
        source,
    };
    let mut w = BlockWriter::new(out_parent, writer_opts).map_err(werr)?;
    let mut stats = MergeStats::default();
    for (labels, mut chunks) in series {
        chunks.sort_by_key(|(_, c)| (c.min_time, c.max_time));
        let out = match merge_series_chunks(inputs, &chunks, opts.dedup, &mut stats) {
            Ok(out) => out,
            Err(e) => {
                let _ = w.abort();
                return Err(match e {
                    Error::ReadBlock { .. } => e,
                    other => Error::MergeSeries {
                        group: opts.group.clone(),
                        series: labels.to_string(),
                        reason: other.to_string(),
                    },
                });
            }
        };
        if out.is_empty() {
            continue;
        }
        stats.series += 1;
        stats.samples += out.iter().map(chunk_samples).sum::<u64>();
        w.add_series_chunks(labels, &out).map_err(werr)?;
    }
    let (meta, dir) = w.finish().map_err(werr)?;
    Ok((meta, dir, stats))
}

fn read_chunk(input: &MergeInput<'_>, m: &ChunkMeta) -> Result<EncodedChunk> {
    let c = input.block.chunk(m).map_err(|source| Error::ReadBlock {
        block: input.block.meta().ulid,
        source,
    })?;
    Ok(EncodedChunk {
        min_time: m.min_time,
        max_time: m.max_time,
        encoding: c.encoding,
        data: c.data.to_vec(),
    })
}

/// Copies non-overlapping chunks, merges overlapping runs.
fn merge_series_chunks(
    inputs: &[MergeInput<'_>],
    chunks: &[(usize, ChunkMeta)],
    dedup: DedupFunc,
    stats: &mut MergeStats,
) -> Result<Vec<EncodedChunk>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chunks.len() {
        let mut j = i + 1;
        let mut run_max = chunks[i].1.max_time;
        while j < chunks.len() && chunks[j].1.min_time <= run_max {
            run_max = run_max.max(chunks[j].1.max_time);
            j += 1;
        }
        if j == i + 1 {
            let (b, m) = &chunks[i];
            out.push(read_chunk(&inputs[*b], m)?);
            stats.chunks_copied += 1;
        } else {
            let mut streams: BTreeMap<usize, Vec<(i64, f64)>> = BTreeMap::new();
            for (b, m) in &chunks[i..j] {
                let c = read_chunk(&inputs[*b], m)?;
                let decoded =
                    chunkenc::decode(c.encoding, &c.data).map_err(|source| Error::ReadBlock {
                        block: inputs[*b].block.meta().ulid,
                        source,
                    })?;
                let s = streams.entry(inputs[*b].stream).or_default();
                for (t, v) in decoded {
                    let f = float_value(v).ok_or_else(|| {
                        Error::Task(format!(
                            "overlapping {} chunks cannot be merged yet (only float samples)",
                            c.encoding.name()
                        ))
                    })?;
                    s.push((t, f));
                }
            }
            let mut lists: Vec<Vec<(i64, f64)>> = streams
                .into_values()
                .map(|mut v| {
                    v.sort_by_key(|s| s.0);
                    v.dedup_by_key(|s| s.0);
                    v
                })
                .collect();
            let merged = match dedup {
                DedupFunc::OneToOne => {
                    let mut all: Vec<(i64, f64)> = lists.concat();
                    all.sort_by_key(|s| s.0);
                    all.dedup_by_key(|s| s.0);
                    all
                }
                DedupFunc::Penalty => {
                    let mut acc = lists.remove(0);
                    for next in lists {
                        acc = penalty_merge(&acc, &next);
                    }
                    acc
                }
            };
            let encoded = encode_xor(&merged);
            stats.chunks_reencoded += encoded.len() as u64;
            out.extend(encoded);
        }
        i = j;
    }
    Ok(out)
}

/// Samples in a chunk: the header count, or the windows of an aggregate chunk.
pub fn chunk_samples(c: &EncodedChunk) -> u64 {
    if c.encoding == Encoding::Aggr {
        crate::downsample::aggr_num_samples(&c.data)
    } else {
        chunkenc::num_samples(&c.data) as u64
    }
}

/// The float value of a decoded sample (`None` for histograms).
pub fn float_value(v: SampleValue) -> Option<f64> {
    #[allow(unreachable_patterns)]
    match v {
        SampleValue::Float(f) => Some(f),
        _ => None,
    }
}

/// Encodes sorted samples into XOR chunks of up to [`SAMPLES_PER_CHUNK`] samples.
pub fn encode_xor(samples: &[(i64, f64)]) -> Vec<EncodedChunk> {
    samples
        .chunks(SAMPLES_PER_CHUNK)
        .filter(|c| !c.is_empty())
        .map(|c| {
            let mut e = XorEncoder::new();
            for &(t, v) in c {
                e.append(t, v);
            }
            EncodedChunk {
                min_time: c[0].0,
                max_time: c[c.len() - 1].0,
                encoding: Encoding::Xor,
                data: e.finish(),
            }
        })
        .collect()
}

/// Thanos's penalty deduplication of two replicas (sorted, unique timestamps):
/// take the earliest sample; the replica not taken is then skipped ahead by
/// twice the last sample interval (5s initially), so switching replicas never
/// raises the sampling frequency.
pub fn penalty_merge(a: &[(i64, f64)], b: &[(i64, f64)]) -> Vec<(i64, f64)> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut ia, mut ib) = (0usize, 0usize);
    let (mut pen_a, mut pen_b) = (0i64, 0i64);
    let mut last_t = i64::MIN;
    loop {
        let seek_a = last_t.saturating_add(1).saturating_add(pen_a);
        while ia < a.len() && a[ia].0 < seek_a {
            ia += 1;
        }
        let seek_b = last_t.saturating_add(1).saturating_add(pen_b);
        while ib < b.len() && b[ib].0 < seek_b {
            ib += 1;
        }
        match (a.get(ia), b.get(ib)) {
            (None, None) => break,
            (None, Some(&s)) => {
                out.push(s);
                last_t = s.0;
                pen_b = 0;
            }
            (Some(&s), None) => {
                out.push(s);
                last_t = s.0;
                pen_a = 0;
            }
            (Some(&sa), Some(&sb)) => {
                if sa.0 <= sb.0 {
                    pen_b = if last_t == i64::MIN {
                        INITIAL_PENALTY
                    } else {
                        2 * (sa.0 - last_t)
                    };
                    pen_a = 0;
                    last_t = sa.0;
                    out.push(sa);
                } else {
                    pen_a = if last_t == i64::MIN {
                        INITIAL_PENALTY
                    } else {
                        2 * (sb.0 - last_t)
                    };
                    pen_b = 0;
                    last_t = sb.0;
                    out.push(sb);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalty_prefers_one_replica_and_fills_gaps_from_the_other() {
        // Replica a scrapes at 0,15s,30s,... with a gap between 60s and 120s;
        // replica b scrapes 5s later.
        let a: Vec<(i64, f64)> = [0, 15, 30, 45, 60, 120, 135]
            .iter()
            .map(|s| (s * 1000, 1.0))
            .collect();
        let b: Vec<(i64, f64)> = (0..10).map(|i| ((i * 15 + 5) * 1000, 2.0)).collect();
        let m = penalty_merge(&a, &b);
        let ts: Vec<i64> = m.iter().map(|s| s.0 / 1000).collect();
        // Stays on a until its gap. b was penalised by 2×15s after a's sample
        // at 60s, so the switch happens at 95s; then a is penalised by
        // 2×(95-60)s and b continues.
        assert_eq!(ts, vec![0, 15, 30, 45, 60, 95, 110, 125, 140]);
        assert!(ts.windows(2).all(|w| w[1] - w[0] >= 15), "{ts:?}");
        assert_eq!(penalty_merge(&a, &[]), a);
        assert_eq!(penalty_merge(&[], &b), b);
    }

    #[test]
    fn identical_replicas_give_one_copy() {
        let a: Vec<(i64, f64)> = (0..500).map(|i| (i * 15_000, i as f64)).collect();
        assert_eq!(penalty_merge(&a, &a), a);
    }

    #[test]
    fn xor_encoding_cuts_120_sample_chunks() {
        let s: Vec<(i64, f64)> = (0..250).map(|i| (i * 1000, i as f64 * 0.5)).collect();
        let c = encode_xor(&s);
        assert_eq!(c.len(), 3);
        assert_eq!((c[0].min_time, c[0].max_time), (0, 119_000));
        assert_eq!(chunkenc::num_samples(&c[2].data), 10);
        let back: Vec<(i64, f64)> = c
            .iter()
            .flat_map(|c| chunkenc::decode(c.encoding, &c.data).unwrap())
            .map(|(t, v)| (t, float_value(v).unwrap()))
            .collect();
        assert_eq!(back, s);
    }

    fn write_block(dir: &Path, ulid: u64, series: &[(&str, Vec<(i64, f64)>)]) -> BlockReader {
        let mut w = BlockWriter::new(
            dir,
            BlockWriterOptions {
                ulid: Some(ulid::Ulid::from_parts(ulid, 7)),
                ..Default::default()
            },
        )
        .unwrap();
        let mut sorted: Vec<_> = series
            .iter()
            .map(|(n, s)| (Labels::from_pairs(&[("__name__", n)]), s))
            .collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (l, s) in sorted {
            w.add_float_series(l, s).unwrap();
        }
        let (_, p) = w.finish().unwrap();
        BlockReader::open(&p).unwrap()
    }

    fn all_samples(b: &BlockReader) -> Vec<(String, Vec<(i64, f64)>)> {
        b.select(&[], i64::MIN, i64::MAX)
            .unwrap()
            .iter()
            .map(|s| {
                let v = b
                    .samples(s, i64::MIN, i64::MAX)
                    .unwrap()
                    .into_iter()
                    .map(|(t, v)| (t, float_value(v).unwrap()))
                    .collect();
                (s.labels.to_string(), v)
            })
            .collect()
    }

    #[test]
    fn disjoint_blocks_copy_chunks_and_overlaps_reencode() {
        let tmp = tempfile::tempdir().unwrap();
        let ser = |from: i64, n: i64| {
            (from..from + n)
                .map(|i| (i * 15_000, i as f64))
                .collect::<Vec<_>>()
        };
        let a = write_block(
            tmp.path(),
            1,
            &[("up", ser(0, 200)), ("only_a", ser(0, 10))],
        );
        let b = write_block(tmp.path(), 2, &[("up", ser(200, 200))]);
        let c = write_block(
            tmp.path(),
            3,
            &[("up", ser(100, 50)), ("only_c", ser(5, 5))],
        );
        let out = tmp.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let inputs = [
            MergeInput {
                block: &a,
                stream: 0,
            },
            MergeInput {
                block: &b,
                stream: 0,
            },
        ];
        let (meta, dir, stats) = merge_blocks(
            &inputs,
            &out,
            BlockWriterOptions::default(),
            &MergeOptions::default(),
        )
        .unwrap();
        assert_eq!(stats.chunks_reencoded, 0);
        assert_eq!(stats.chunks_copied, meta.stats.num_chunks);
        assert_eq!(meta.stats.num_samples, 410);
        let merged = BlockReader::open(&dir).unwrap();
        let got = all_samples(&merged);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].1, ser(0, 400));

        // Now with the overlapping block c: union with duplicates removed.
        let inputs = [
            MergeInput {
                block: &a,
                stream: 0,
            },
            MergeInput {
                block: &b,
                stream: 0,
            },
            MergeInput {
                block: &c,
                stream: 1,
            },
        ];
        let (meta, dir, stats) = merge_blocks(
            &inputs,
            &out,
            BlockWriterOptions::default(),
            &MergeOptions::default(),
        )
        .unwrap();
        assert!(stats.chunks_reencoded > 0);
        assert!(
            stats.chunks_copied > 0,
            "chunks outside the overlap stay as they were"
        );
        assert_eq!(meta.stats.num_series, 3);
        let got = all_samples(&BlockReader::open(&dir).unwrap());
        let up = got.iter().find(|(l, _)| l.contains("\"up\"")).unwrap();
        assert_eq!(up.1, ser(0, 400));
        assert_eq!(meta.stats.num_samples, 400 + 10 + 5);
    }
}
