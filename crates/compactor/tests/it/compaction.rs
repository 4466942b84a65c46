use aeon_compactor::{Compactor, DedupFunc, Metrics};
use aeon_objstore::block::{self, DeletionMark, NoCompactMark};
use aeon_tsdb_block::chunkenc::Encoding;
use aeon_tsdb_block::{BlockMeta, BlockReader};
use prometheus_client::registry::Registry;

use crate::util::*;

const SERIES: [&str; 3] = [
    "http_requests_total{code=\"200\",job=\"api\"}",
    "http_requests_total{code=\"500\",job=\"api\"}",
    "up{job=\"api\"}",
];

fn metrics_text(registry: &Registry) -> String {
    let mut s = String::new();
    prometheus_client::encoding::text::encode(&mut s, registry).unwrap();
    s
}

#[tokio::test]
async fn promtool_blocks_compact_into_one_that_promtool_reads_with_the_same_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    // 12h of data → six 2h blocks; the first four fill the 8h window, which
    // is closed because a newer block ([8h, 10h)) starts after it.
    let dirs = promtool_blocks(
        &openmetrics(&SERIES, T0_S, T0_S + 12 * 3600, 15, 1),
        work,
        "a",
    );
    assert_eq!(dirs.len(), 6);
    let inputs = set_thanos(&dirs, &[("cluster", "eu1"), ("replica", "0")]);
    let bucket = fs_bucket(&work.join("bucket"));
    upload(bucket.as_ref(), &dirs).await;

    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry);
    let c = Compactor::new(bucket.clone(), config(&work.join("data")), metrics);
    let rep = c.run_once(now_ms()).await.unwrap();
    assert!(rep.failures.is_empty(), "{:?}", rep.failures);
    assert_eq!(rep.compactions, 1);
    let out_id = rep.outputs[0];
    let out = meta(bucket.as_ref(), out_id).await;
    let mut sources: Vec<_> = inputs[..4].iter().map(|m| m.ulid).collect();
    sources.sort();
    assert_eq!(out.compaction.level, 2);
    assert_eq!(out.compaction.sources, sources);
    assert_eq!(
        out.compaction
            .parents
            .iter()
            .map(|p| p.ulid)
            .collect::<Vec<_>>(),
        inputs[..4].iter().map(|m| m.ulid).collect::<Vec<_>>()
    );
    assert_eq!(
        (out.min_time, out.max_time),
        (inputs[0].min_time, inputs[3].max_time)
    );
    let t = out.thanos.as_ref().unwrap();
    assert_eq!(t.source, "compactor");
    assert_eq!(t.downsample.resolution, 0);
    assert_eq!(t.labels.get("cluster").map(String::as_str), Some("eu1"));
    assert!(
        t.files
            .iter()
            .any(|f| f.rel_path == "index" && f.size_bytes > 0)
    );
    assert_eq!(
        out.stats.num_samples,
        inputs[..4].iter().map(|m| m.stats.num_samples).sum::<u64>()
    );
    assert_eq!(out.stats.num_series, 3);

    // promtool reads our block and sees exactly the input samples.
    let out_dir = work.join("check-out");
    let got = dump_bucket_blocks(bucket.as_ref(), &[out_id], &out_dir).await;
    let want = dump_local_blocks(&dirs[..4], &work.join("check-in"));
    assert!(!want.is_empty());
    assert_eq!(got, want);
    run_promtool(&[
        "tsdb",
        "analyze",
        out_dir.to_str().unwrap(),
        &out_id.to_string(),
    ]);
    // Non-overlapping inputs: every chunk copied byte for byte.
    let text = metrics_text(&registry);
    assert!(
        text.contains("aeon_compact_chunks_total{kind=\"reencoded\"} 0"),
        "{text}"
    );
    assert!(text.contains("aeon_compact_halted 0"), "{text}");

    // Sources are marked, the newer blocks are not.
    for m in &inputs[..4] {
        let d = block::read_mark::<DeletionMark>(bucket.as_ref(), m.ulid)
            .await
            .unwrap()
            .unwrap();
        assert!(d.details.unwrap().contains(&out_id.to_string()));
    }
    for m in &inputs[4..] {
        assert!(
            block::read_mark::<DeletionMark>(bucket.as_ref(), m.ulid)
                .await
                .unwrap()
                .is_none()
        );
    }

    // A second run with delete delay 0 deletes the sources; nothing else changes.
    let mut cfg = config(&work.join("data"));
    cfg.delete_delay = std::time::Duration::ZERO;
    let rep = Compactor::new(bucket.clone(), cfg, Metrics::default())
        .run_once(now_ms())
        .await
        .unwrap();
    assert_eq!(rep.deleted.len(), 4);
    assert_eq!(rep.compactions, 0);
    let st = state(bucket.as_ref()).await;
    let mut left: Vec<_> = st.metas.iter().map(|m| m.ulid).collect();
    left.sort();
    let mut want_left = vec![out_id, inputs[4].ulid, inputs[5].ulid];
    want_left.sort();
    assert_eq!(left, want_left);
    assert!(st.partial.is_empty(), "deleted blocks leave nothing behind");
    assert!(
        aeon_compactor::tools::verify(bucket.as_ref())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn overlaps_are_quarantined_and_other_groups_keep_compacting() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let eu = promtool_blocks(
        &openmetrics(&SERIES, T0_S, T0_S + 12 * 3600, 15, 1),
        work,
        "eu",
    );
    // A backfill overlapping the first two 2h blocks of eu1 (promtool cuts it
    // at the 2h boundary into [1h, 2h) and [2h, 3h)), at other timestamps.
    let eu_backfill = promtool_blocks(
        &openmetrics(&SERIES[..1], T0_S + 3607, T0_S + 3 * 3600, 30, 7),
        work,
        "eu-backfill",
    );
    assert_eq!(eu_backfill.len(), 2);
    let us = promtool_blocks(
        &openmetrics(&SERIES, T0_S, T0_S + 12 * 3600, 15, 2),
        work,
        "us",
    );
    let eu_m = set_thanos(&eu, &[("cluster", "eu1")]);
    let bf_m = set_thanos(&eu_backfill, &[("cluster", "eu1")]);
    set_thanos(&us, &[("cluster", "us1")]);
    let bucket = fs_bucket(&work.join("bucket"));
    for d in [&eu, &eu_backfill, &us] {
        upload(bucket.as_ref(), d).await;
    }
    let mut registry = Registry::default();
    let c = Compactor::new(
        bucket.clone(),
        config(&work.join("data")),
        Metrics::new(&mut registry),
    );
    let rep = c.run_once(now_ms()).await.unwrap();
    assert!(rep.failures.is_empty(), "{:?}", rep.failures);
    // us1 compacted normally; eu1 still compacts what is not quarantined
    // ([4h,6h) + [6h,8h), Thanos's window split around no-compact blocks).
    assert_eq!(rep.compactions, 2);
    let mut clusters = Vec::new();
    for id in &rep.outputs {
        let out = meta(bucket.as_ref(), *id).await;
        clusters.push((
            out.thanos.unwrap().labels["cluster"].clone(),
            out.compaction.sources.len(),
        ));
    }
    clusters.sort();
    assert_eq!(
        clusters,
        vec![("eu1".to_string(), 2), ("us1".to_string(), 4)]
    );
    // eu1's two overlaps ([0,2h)+[1h,2h) and [2h,4h)+[2h,3h)) are
    // quarantined; each mark names both blocks of its overlap.
    let mut quarantined = rep.quarantined.clone();
    quarantined.sort();
    let mut expected: Vec<_> = eu_m[..2].iter().chain(&bf_m).map(|m| m.ulid).collect();
    expected.sort();
    assert_eq!(quarantined, expected);
    for (a, b) in [(eu_m[0].ulid, bf_m[0].ulid), (eu_m[1].ulid, bf_m[1].ulid)] {
        for id in [a, b] {
            let m = block::read_mark::<NoCompactMark>(bucket.as_ref(), id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(m.reason.as_str(), "overlapping-blocks");
            let details = m.details.unwrap();
            assert!(
                details.contains(&a.to_string()) && details.contains(&b.to_string()),
                "{details}"
            );
        }
    }
    // No quarantined block was deleted or marked for deletion.
    for m in eu_m[..2].iter().chain(&bf_m) {
        assert!(
            block::read_mark::<DeletionMark>(bucket.as_ref(), m.ulid)
                .await
                .unwrap()
                .is_none()
        );
    }
    let text = metrics_text(&registry);
    assert!(text.contains("aeon_compact_groups_quarantined 1"), "{text}");
    assert!(text.contains("aeon_compact_blocks_quarantined 4"), "{text}");
    assert!(text.contains("aeon_compact_halted 0"));
    assert!(text.contains("aeon_compact_blocks_marked_total{marker=\"no-compact-mark.json\",reason=\"overlapping-blocks\"} 4"), "{text}");

    // Once an operator removes the marks and enables vertical compaction,
    // the overlap is merged and holds the union of the samples.
    for id in &expected {
        bucket
            .delete(&block::block_key(*id, block::NO_COMPACT_MARK_FILENAME))
            .await
            .unwrap();
    }
    let mut cfg = config(&work.join("data"));
    cfg.vertical = true;
    let rep = Compactor::new(bucket.clone(), cfg, Metrics::default())
        .run_once(now_ms())
        .await
        .unwrap();
    assert!(rep.failures.is_empty(), "{:?}", rep.failures);
    assert!(rep.quarantined.is_empty());
    // The overlap merge, then 8h compaction of eu1 (overlap output + [4h,8h)).
    assert!(rep.compactions >= 1);
    let st = state(bucket.as_ref()).await;
    let live: Vec<&BlockMeta> = st
        .metas
        .iter()
        .filter(|m| {
            !st.deletion_marks.contains_key(&m.ulid)
                && m.thanos.as_ref().unwrap().labels["cluster"] == "eu1"
        })
        .collect();
    let ids: Vec<_> = live.iter().map(|m| m.ulid).collect();
    let got = dump_bucket_blocks(bucket.as_ref(), &ids, &work.join("eu-after")).await;
    let mut all_in = eu.clone();
    all_in.extend(eu_backfill.iter().cloned());
    let want = dump_local_blocks(&all_in, &work.join("eu-before"));
    assert_eq!(
        got, want,
        "vertical compaction keeps the union of samples (1:1 dedup)"
    );
    assert!(
        aeon_compactor::tools::verify(bucket.as_ref())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn replica_label_dedup_merges_ha_pairs_into_one_series_each() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let om = openmetrics(&SERIES, T0_S, T0_S + 12 * 3600, 15, 3);
    let r0 = promtool_blocks(&om, work, "r0");
    let r1 = promtool_blocks(&om, work, "r1");
    set_thanos(&r0, &[("cluster", "eu1"), ("replica", "0")]);
    set_thanos(&r1, &[("cluster", "eu1"), ("replica", "1")]);
    let bucket = fs_bucket(&work.join("bucket"));
    upload(bucket.as_ref(), &r0).await;
    upload(bucket.as_ref(), &r1).await;
    for dedup in [DedupFunc::Penalty] {
        let mut cfg = config(&work.join("data"));
        cfg.replica_labels = vec!["replica".into()];
        cfg.vertical = true;
        cfg.dedup = dedup;
        let rep = Compactor::new(bucket.clone(), cfg, Metrics::default())
            .run_once(now_ms())
            .await
            .unwrap();
        assert!(rep.failures.is_empty(), "{:?}", rep.failures);
        assert!(rep.compactions >= 1);
    }
    let st = state(bucket.as_ref()).await;
    let live: Vec<&BlockMeta> = st
        .metas
        .iter()
        .filter(|m| !st.deletion_marks.contains_key(&m.ulid))
        .collect();
    for m in &live {
        if m.thanos.as_ref().unwrap().source == "compactor" {
            assert!(
                !m.thanos.as_ref().unwrap().labels.contains_key("replica"),
                "replica label dropped"
            );
        }
    }
    let ids: Vec<_> = live.iter().map(|m| m.ulid).collect();
    let got = dump_bucket_blocks(bucket.as_ref(), &ids, &work.join("after")).await;
    let want = dump_local_blocks(&r0, &work.join("one-replica"));
    assert_eq!(
        got, want,
        "one series per HA pair, no lost or doubled samples"
    );
    let total: u64 = live.iter().map(|m| m.stats.num_samples).sum();
    assert_eq!(total as usize, want.lines().count());
}

#[tokio::test]
async fn fifty_two_hours_become_a_2d_block_and_its_5m_downsample() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let dirs = promtool_blocks(
        &openmetrics(&SERIES, T0_S, T0_S + 52 * 3600, 30, 4),
        work,
        "raw",
    );
    assert_eq!(dirs.len(), 26);
    let inputs = set_thanos(&dirs, &[("cluster", "eu1")]);
    let bucket = fs_bucket(&work.join("bucket"));
    upload(bucket.as_ref(), &dirs).await;
    let rep = Compactor::new(
        bucket.clone(),
        config(&work.join("data")),
        Metrics::default(),
    )
    .run_once(now_ms())
    .await
    .unwrap();
    assert!(rep.failures.is_empty(), "{:?}", rep.failures);
    // Six 8h compactions, then one 2d compaction of the six 8h blocks.
    assert_eq!(rep.compactions, 7);
    let st = state(bucket.as_ref()).await;
    let live: Vec<&BlockMeta> = st
        .metas
        .iter()
        .filter(|m| !st.deletion_marks.contains_key(&m.ulid))
        .collect();
    let big = live
        .iter()
        .find(|m| {
            m.max_time - m.min_time >= 48 * H - 60_000
                && aeon_compactor::planner::resolution(m) == 0
        })
        .expect("2d block");
    assert_eq!(big.compaction.level, 3);
    assert_eq!(big.compaction.sources.len(), 24);
    assert_eq!(rep.downsampled.len(), 1);
    let (src, ds) = rep.downsampled[0];
    assert_eq!(src, big.ulid);
    let dsm = meta(bucket.as_ref(), ds).await;
    assert_eq!(dsm.thanos.as_ref().unwrap().downsample.resolution, 300_000);
    assert_eq!(dsm.compaction.sources, big.compaction.sources);
    // Raw data is intact.
    let raw_ids: Vec<_> = live
        .iter()
        .filter(|m| aeon_compactor::planner::resolution(m) == 0)
        .map(|m| m.ulid)
        .collect();
    let got = dump_bucket_blocks(bucket.as_ref(), &raw_ids, &work.join("raw-after")).await;
    assert_eq!(got, dump_local_blocks(&dirs, &work.join("raw-before")));
    // The 5m block: aggregate chunks whose counts add up to the raw samples.
    let ds_dir = work.join("ds").join(ds.to_string());
    block::download_block(bucket.as_ref(), ds, &ds_dir)
        .await
        .unwrap();
    let r = BlockReader::open(&ds_dir).unwrap();
    let mut counted = 0.0;
    for s in r.select(&[], i64::MIN, i64::MAX).unwrap() {
        for c in &s.chunks {
            let raw = r.chunk(c).unwrap();
            assert_eq!(raw.encoding, Encoding::Aggr);
            let aggr = aeon_tsdb_block::chunkenc::AggrChunk::new(&raw.data);
            let (_, cnt) = aggr
                .get(aeon_tsdb_block::chunkenc::AggrType::Count)
                .unwrap()
                .unwrap();
            counted += aeon_tsdb_block::chunkenc::XorChunk::new(cnt)
                .unwrap()
                .samples()
                .unwrap()
                .iter()
                .map(|s| s.v)
                .sum::<f64>();
        }
    }
    let raw_in_2d: u64 = inputs[..24].iter().map(|m| m.stats.num_samples).sum();
    assert_eq!(counted as u64, raw_in_2d);
    // A second iteration finds nothing more to do.
    let rep = Compactor::new(
        bucket.clone(),
        config(&work.join("data")),
        Metrics::default(),
    )
    .run_once(now_ms())
    .await
    .unwrap();
    assert_eq!((rep.compactions, rep.downsampled.len()), (0, 0));
}
