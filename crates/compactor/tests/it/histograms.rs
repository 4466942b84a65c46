//! Native histograms through a whole compactor iteration: HA replicas of
//! histogram series, deduplicated by vertical compaction with
//! `--deduplication.replica-label`, compacted to 2d (promtool reads the
//! result) and downsampled to 5m with histogram aggregates.

use std::path::Path;

use aeon_compactor::planner::resolution;
use aeon_compactor::{Compactor, Metrics};
use aeon_model::Labels;
use aeon_objstore::block;
use aeon_tsdb_block::chunkenc::{
    AggrChunk, AggrType, Encoding, Histogram, SampleValue, Span, XorChunk,
};
use aeon_tsdb_block::{BlockMeta, BlockReader, BlockWriter, BlockWriterOptions, ThanosMeta};

use crate::util::*;

const STEP: i64 = 30_000;

fn hist(k: i64) -> Histogram {
    Histogram {
        schema: 2,
        zero_threshold: 0.001,
        zero_count: (k % 3) as u64,
        count: (k % 3) as u64 + 3 * k as u64 + 6,
        sum: k as f64 * 0.25,
        positive_spans: vec![Span {
            offset: -2,
            length: 3,
        }],
        positive_buckets: vec![k + 1, 1, 1],
        ..Default::default()
    }
}

/// 2h blocks of one replica over [T0, T0 + hours): a histogram counter and a float gauge.
fn write_replica(dir: &Path, replica: &str, hours: i64) -> Vec<std::path::PathBuf> {
    let t0 = T0_S * 1000;
    (0..hours / 2)
        .map(|b| {
            let (from, to) = (t0 + b * 2 * H, t0 + (b + 1) * 2 * H);
            let mut w = BlockWriter::new(
                dir,
                BlockWriterOptions {
                    thanos: Some(ThanosMeta {
                        version: 1,
                        labels: [
                            ("cluster".to_string(), "eu1".to_string()),
                            ("replica".to_string(), replica.to_string()),
                        ]
                        .into(),
                        source: "sidecar".into(),
                        ..Default::default()
                    }),
                    min_time: Some(from),
                    max_time: Some(to),
                    ..Default::default()
                },
            )
            .unwrap();
            let hs: Vec<(i64, Histogram)> = (from..to)
                .step_by(STEP as usize)
                .map(|t| (t, hist((t - t0) / STEP)))
                .collect();
            w.add_histogram_series(Labels::from_pairs(&[("__name__", "lat_seconds")]), &hs)
                .unwrap();
            let fs: Vec<(i64, f64)> = (from..to)
                .step_by(STEP as usize)
                .map(|t| (t, ((t - t0) / STEP % 17) as f64))
                .collect();
            w.add_float_series(Labels::from_pairs(&[("__name__", "temp")]), &fs)
                .unwrap();
            w.finish().unwrap().1
        })
        .collect()
}

/// (series, t, value) of every sample of local blocks; hints cleared.
fn samples(dirs: &[std::path::PathBuf]) -> Vec<(String, i64, String)> {
    let mut out = Vec::new();
    for d in dirs {
        let r = BlockReader::open(d).unwrap();
        for s in r.select(&[], i64::MIN, i64::MAX).unwrap() {
            for (t, v) in r.samples(&s, i64::MIN, i64::MAX).unwrap() {
                let v = match v {
                    SampleValue::Histogram(mut h) => {
                        h.counter_reset_hint = Default::default();
                        format!("{h:?}")
                    }
                    other => format!("{other:?}"),
                };
                out.push((s.labels.without(&["replica"]).to_string(), t, v));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn ha_histogram_replicas_dedup_compact_and_downsample() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let a = write_replica(&work.join("a"), "a", 52);
    let b = write_replica(&work.join("b"), "b", 52);
    let want = samples(&a);
    assert_eq!(samples(&b), want, "the replicas scraped the same data");
    let bucket = fs_bucket(&work.join("bucket"));
    upload(bucket.as_ref(), &a).await;
    upload(bucket.as_ref(), &b).await;

    let mut cfg = config(&work.join("data"));
    cfg.vertical = true;
    cfg.replica_labels = vec!["replica".into()];
    cfg.delete_delay = std::time::Duration::ZERO;
    let rep = Compactor::new(bucket.clone(), cfg, Metrics::default())
        .run_once(now_ms())
        .await
        .unwrap();
    assert!(rep.failures.is_empty(), "{:?}", rep.failures);
    assert!(rep.quarantined.is_empty());
    assert_eq!(rep.downsampled.len(), 1, "{rep:?}");
    assert!(
        aeon_compactor::tools::verify(bucket.as_ref())
            .await
            .unwrap()
            .is_empty()
    );

    let st = state(bucket.as_ref()).await;
    assert!(st.no_downsample.is_empty());
    let raw: Vec<&BlockMeta> = st.metas.iter().filter(|m| resolution(m) == 0).collect();
    let dl = work.join("dl");
    let mut dirs = Vec::new();
    for m in &raw {
        let d = dl.join(m.ulid.to_string());
        block::download_block(bucket.as_ref(), m.ulid, &d)
            .await
            .unwrap();
        dirs.push(d);
    }
    // One copy of every sample, histograms included.
    assert_eq!(samples(&dirs), want);
    // Prometheus 3.5 reads the deduplicated 2d block with its histograms.
    let big = raw
        .iter()
        .find(|m| m.max_time - m.min_time >= 48 * H - STEP)
        .expect("2d block");
    let analyze = run_promtool(&[
        "tsdb",
        "analyze",
        dl.to_str().unwrap(),
        &big.ulid.to_string(),
    ]);
    assert!(analyze.contains(&big.ulid.to_string()), "{analyze}");

    // The 5m block: histogram aggregates for the histogram series, float
    // aggregates for the gauge, counting every raw sample of the 2d block once.
    let (_, ds) = rep.downsampled[0];
    let d = work.join("ds").join(ds.to_string());
    block::download_block(bucket.as_ref(), ds, &d)
        .await
        .unwrap();
    let r = BlockReader::open(&d).unwrap();
    let mut counted = 0.0;
    for s in r.select(&[], i64::MIN, i64::MAX).unwrap() {
        let is_hist = s.labels.get("__name__") == Some("lat_seconds");
        for m in &s.chunks {
            let c = r.chunk(m).unwrap();
            assert_eq!(c.encoding, Encoding::Aggr);
            let aggr = AggrChunk::new(&c.data);
            assert_eq!(aggr.is_histogram(), is_hist, "{}", s.labels);
            let (_, cnt) = aggr.get(AggrType::Count).unwrap().unwrap();
            counted += XorChunk::new(cnt)
                .unwrap()
                .samples()
                .unwrap()
                .iter()
                .map(|x| x.v)
                .sum::<f64>();
        }
    }
    let in_2d = want
        .iter()
        .filter(|s| s.1 >= big.min_time && s.1 < big.max_time)
        .count();
    assert_eq!(counted as usize, in_2d);
}
