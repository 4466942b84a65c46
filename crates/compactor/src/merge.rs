//! Merging the series of several local blocks into one new block. Chunks are
//! copied byte for byte wherever a series' chunks do not overlap in time;
//! only overlapping runs are decoded, merged (1:1 or with the penalty rule,
//! both [`aeon_model::dedup`], shared with the querier) and re-encoded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aeon_model::Labels;
use aeon_tsdb_block::chunkenc::{
    self, Encoding, FloatHistogram, Histogram, SampleValue, XorEncoder,
};
use aeon_tsdb_block::writer::{cut_float_histogram_chunks, cut_histogram_chunks};
use aeon_tsdb_block::{
    BlockMeta, BlockReader, BlockWriter, BlockWriterOptions, ChunkMeta, EncodedChunk,
};

use crate::args::DedupFunc;
use crate::{Error, Result};

/// Samples per re-encoded chunk (Prometheus's target).
pub const SAMPLES_PER_CHUNK: usize = 120;

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
            let mut streams: BTreeMap<usize, Vec<(i64, SampleValue)>> = BTreeMap::new();
            for (b, m) in &chunks[i..j] {
                let c = read_chunk(&inputs[*b], m)?;
                let decoded =
                    chunkenc::decode(c.encoding, &c.data).map_err(|source| Error::ReadBlock {
                        block: inputs[*b].block.meta().ulid,
                        source,
                    })?;
                streams
                    .entry(inputs[*b].stream)
                    .or_default()
                    .extend(decoded);
            }
            let lists: Vec<Vec<(i64, SampleValue)>> = streams
                .into_values()
                .map(|mut v| {
                    v.sort_by_key(|s| s.0);
                    v.dedup_by_key(|s| s.0);
                    v
                })
                .collect();
            let merged = match dedup {
                DedupFunc::OneToOne => aeon_model::dedup::chain(&lists),
                DedupFunc::Penalty => aeon_model::dedup::penalty(&lists, false),
            };
            let encoded = encode_samples(&merged).map_err(|e| Error::Task(e.to_string()))?;
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
        chunkenc::AggrChunk::new(&c.data).num_samples()
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

/// Encodes sorted samples of any kind: each run of one kind (float,
/// integer histogram, float histogram) is cut into chunks of its encoding —
/// floats as [`encode_xor`], histograms with tsdb-block's histogram cutters
/// (new chunk on a layout change, a counter reset or ~1 KiB).
pub fn encode_samples(
    samples: &[(i64, SampleValue)],
) -> aeon_tsdb_block::Result<Vec<EncodedChunk>> {
    fn kind(v: &SampleValue) -> u8 {
        match v {
            SampleValue::Float(_) => 0,
            SampleValue::Histogram(_) => 1,
            SampleValue::FloatHistogram(_) => 2,
        }
    }
    let mut out = Vec::new();
    let mut rest = samples;
    while let Some(first) = rest.first() {
        let k = kind(&first.1);
        let n = rest.iter().take_while(|s| kind(&s.1) == k).count();
        let (run, tail) = rest.split_at(n);
        rest = tail;
        match k {
            0 => {
                let f: Vec<(i64, f64)> = run
                    .iter()
                    .filter_map(|(t, v)| float_value(v.clone()).map(|f| (*t, f)))
                    .collect();
                out.extend(encode_xor(&f));
            }
            1 => {
                let h: Vec<(i64, Histogram)> = run
                    .iter()
                    .filter_map(|(t, v)| match v {
                        SampleValue::Histogram(h) => Some((*t, h.clone())),
                        _ => None,
                    })
                    .collect();
                out.extend(cut_histogram_chunks(&h)?);
            }
            _ => {
                let h: Vec<(i64, FloatHistogram)> = run
                    .iter()
                    .filter_map(|(t, v)| match v {
                        SampleValue::FloatHistogram(h) => Some((*t, h.clone())),
                        _ => None,
                    })
                    .collect();
                out.extend(cut_float_histogram_chunks(&h)?);
            }
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

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

    fn hist(i: i64) -> Histogram {
        Histogram {
            schema: 1,
            zero_threshold: 0.001,
            zero_count: 1,
            count: 3 * i as u64 + 4,
            sum: i as f64 * 2.5,
            positive_spans: vec![aeon_tsdb_block::chunkenc::Span {
                offset: -1,
                length: 3,
            }],
            positive_buckets: vec![i, 1, 1],
            ..Default::default()
        }
    }

    fn hist_samples(b: &BlockReader, name: &str) -> Vec<(i64, SampleValue)> {
        let s = b
            .select(
                &[aeon_model::Matcher::equal("__name__", name)],
                i64::MIN,
                i64::MAX,
            )
            .unwrap();
        assert_eq!(s.len(), 1);
        b.samples(&s[0], i64::MIN, i64::MAX)
            .unwrap()
            .into_iter()
            .map(|(t, v)| {
                let v = match v {
                    SampleValue::Histogram(mut h) => {
                        h.counter_reset_hint = Default::default();
                        SampleValue::Histogram(h)
                    }
                    SampleValue::FloatHistogram(mut h) => {
                        h.counter_reset_hint = Default::default();
                        SampleValue::FloatHistogram(h)
                    }
                    f => f,
                };
                (t, v)
            })
            .collect()
    }

    #[test]
    fn overlapping_histogram_chunks_merge_by_timestamp() {
        let tmp = tempfile::tempdir().unwrap();
        let write = |id: u64, h: std::ops::Range<i64>, fh: std::ops::Range<i64>| {
            let mut w = BlockWriter::new(
                tmp.path(),
                BlockWriterOptions {
                    ulid: Some(ulid::Ulid::from_parts(id, 9)),
                    ..Default::default()
                },
            )
            .unwrap();
            let fhs: Vec<(i64, FloatHistogram)> =
                fh.map(|i| (i * 15_000, hist(i).to_float())).collect();
            w.add_float_histogram_series(Labels::from_pairs(&[("__name__", "fh")]), &fhs)
                .unwrap();
            let hs: Vec<(i64, Histogram)> = h.map(|i| (i * 15_000, hist(i))).collect();
            w.add_histogram_series(Labels::from_pairs(&[("__name__", "h")]), &hs)
                .unwrap();
            let (_, p) = w.finish().unwrap();
            BlockReader::open(&p).unwrap()
        };
        // Two replicas scraping the same histograms, overlapping in time.
        let a = write(1, 0..200, 0..50);
        let b = write(2, 150..300, 25..80);
        let out = tmp.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        for dedup in [DedupFunc::OneToOne, DedupFunc::Penalty] {
            let inputs = [
                MergeInput {
                    block: &a,
                    stream: 0,
                },
                MergeInput {
                    block: &b,
                    stream: 1,
                },
            ];
            let (meta, dir, stats) = merge_blocks(
                &inputs,
                &out,
                BlockWriterOptions::default(),
                &MergeOptions {
                    dedup,
                    ..Default::default()
                },
            )
            .unwrap();
            // 1:1 keeps the union. The penalty rule, at the switch from the
            // replica that ends to the other, skips the other ahead by twice
            // the last interval (as Thanos does): two samples fewer per switch.
            let kept = |i: i64, end_a: i64| {
                dedup == DedupFunc::OneToOne || !(end_a..end_a + 2).contains(&i)
            };
            assert!(stats.chunks_reencoded > 0, "{dedup:?}");
            let m = BlockReader::open(&dir).unwrap();
            let want_h: Vec<(i64, SampleValue)> = (0..300)
                .filter(|&i| kept(i, 200))
                .map(|i| (i * 15_000, SampleValue::Histogram(hist(i))))
                .collect();
            assert_eq!(hist_samples(&m, "h"), want_h, "{dedup:?}");
            let want_fh: Vec<(i64, SampleValue)> = (0..80)
                .filter(|&i| kept(i, 50))
                .map(|i| (i * 15_000, SampleValue::FloatHistogram(hist(i).to_float())))
                .collect();
            assert_eq!(
                meta.stats.num_samples as usize,
                want_h.len() + want_fh.len(),
                "{dedup:?}"
            );
            assert_eq!(hist_samples(&m, "fh"), want_fh, "{dedup:?}");
        }
    }

    #[test]
    fn mixed_float_and_histogram_runs_keep_their_encodings() {
        let mut s: Vec<(i64, SampleValue)> = (0..130)
            .map(|i| (i * 1000, SampleValue::Float(i as f64)))
            .collect();
        s.extend((130..140).map(|i| (i * 1000, SampleValue::Histogram(hist(i)))));
        s.extend((140..150).map(|i| (i * 1000, SampleValue::Float(i as f64))));
        let c = encode_samples(&s).unwrap();
        let encs: Vec<Encoding> = c.iter().map(|c| c.encoding).collect();
        assert_eq!(
            encs,
            vec![
                Encoding::Xor,
                Encoding::Xor,
                Encoding::Histogram,
                Encoding::Xor
            ]
        );
        let back: usize = c.iter().map(|c| chunkenc::num_samples(&c.data)).sum();
        assert_eq!(back, 150);
    }
}
