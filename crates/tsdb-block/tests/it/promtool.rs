use std::path::{Path, PathBuf};

use aeon_tsdb_block::dump::{dump, find_blocks};
use aeon_tsdb_block::openmetrics::create_blocks_from_openmetrics;
use aeon_tsdb_block::{BlockMeta, BlockReader, BlockWriter, BlockWriterOptions};

use crate::util::{gen_openmetrics, promtool_dump, run_promtool};

fn our_dump(dir: &Path) -> String {
    let mut out = Vec::new();
    dump(dir, &[], i64::MIN, i64::MAX, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn blocks_by_time(dir: &Path) -> Vec<PathBuf> {
    let mut v = find_blocks(dir).unwrap();
    v.sort_by_key(|p| BlockMeta::read_from_dir(p).unwrap().min_time);
    v
}

#[test]
fn promtool_blocks_dump_identically_and_our_backfill_is_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.om");
    std::fs::write(&input, gen_openmetrics(7, 300, 5)).unwrap();
    let theirs = tmp.path().join("theirs");
    run_promtool(&[
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        input.to_str().unwrap(),
        theirs.to_str().unwrap(),
    ]);
    let want = promtool_dump(&theirs);
    assert!(
        want.lines().count() > 100_000,
        "generated data too small: {}",
        want.lines().count()
    );
    let got = our_dump(&theirs);
    assert!(
        got == want,
        "dump differs from promtool's (first differing line: {:?})",
        got.lines().zip(want.lines()).find(|(a, b)| a != b)
    );

    // Our backfill of the same input produces the same files byte for byte.
    let ours = tmp.path().join("ours");
    let metas = create_blocks_from_openmetrics(&input, &ours, None).unwrap();
    let (tb, ob) = (blocks_by_time(&theirs), blocks_by_time(&ours));
    assert_eq!(tb.len(), ob.len());
    assert!(
        tb.len() >= 3,
        "expected several 2h blocks, got {}",
        tb.len()
    );
    assert_eq!(metas.len(), ob.len());
    for (t, o) in tb.iter().zip(&ob) {
        let (tm, om) = (
            BlockMeta::read_from_dir(t).unwrap(),
            BlockMeta::read_from_dir(o).unwrap(),
        );
        assert_eq!(
            (tm.min_time, tm.max_time, &tm.stats),
            (om.min_time, om.max_time, &om.stats)
        );
        for f in ["index", "chunks/000001", "tombstones"] {
            let (a, b) = (
                std::fs::read(t.join(f)).unwrap(),
                std::fs::read(o.join(f)).unwrap(),
            );
            assert!(
                a == b,
                "{f} of block {} differs from promtool's ({} vs {} bytes)",
                tm.min_time,
                b.len(),
                a.len()
            );
        }
    }
}

#[test]
fn blocks_we_write_open_in_promtool() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.om");
    std::fs::write(&input, gen_openmetrics(11, 200, 3)).unwrap();
    let ours = tmp.path().join("ours");
    create_blocks_from_openmetrics(&input, &ours, None).unwrap();
    let theirs = promtool_dump(&ours);
    assert_eq!(theirs, our_dump(&ours));
    for b in find_blocks(&ours).unwrap() {
        let out = run_promtool(&[
            "tsdb",
            "analyze",
            ours.to_str().unwrap(),
            b.file_name().unwrap().to_str().unwrap(),
        ]);
        let meta = BlockMeta::read_from_dir(&b).unwrap();
        assert!(
            out.contains(&format!("Total Series: {}", meta.stats.num_series)),
            "{out}"
        );
    }
    // Every chunk ends up readable through our block reader as well.
    let b = BlockReader::open(&find_blocks(&ours).unwrap()[0]).unwrap();
    let all = b.select(&[], i64::MIN, i64::MAX).unwrap();
    assert_eq!(all.len() as u64, b.meta().stats.num_series);
}

#[test]
fn block_writer_series_round_trip_through_promtool() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = BlockWriter::new(tmp.path(), BlockWriterOptions::default()).unwrap();
    let mut expected = String::new();
    let specials = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        1e-310,
        aeon_model::stale_nan(),
    ];
    let mut series: Vec<aeon_model::Labels> = (0..50)
        .map(|i| {
            aeon_model::Labels::from_pairs(&[
                ("__name__", "m"),
                ("i", &format!("{i:03}")),
                ("k", "v\u{e9}\"x"),
            ])
        })
        .collect();
    series.sort();
    for (i, ls) in series.iter().enumerate() {
        let samples: Vec<(i64, f64)> = (0..400)
            .map(|j| {
                let t = 1_000_000 + j * 10_000 + if j > 300 { 1_000_000_000 } else { 0 };
                let v = if j % 37 == 0 {
                    specials[(j as usize / 37) % specials.len()]
                } else {
                    (i as f64) * 1.5 + j as f64
                };
                (t, v)
            })
            .collect();
        for (t, v) in &samples {
            expected.push_str(&format!(
                "{} {} {t}\n",
                aeon_tsdb_block::gofmt::labels_string(ls),
                aeon_model::gofmt::format_g(*v)
            ));
        }
        w.add_float_series(ls.clone(), &samples).unwrap();
    }
    let (meta, dir) = w.finish().unwrap();
    assert_eq!(meta.stats.num_samples, 50 * 400);
    assert!(!tmp.path().join(format!("{}.tmp", meta.ulid)).exists());
    assert_eq!(dir, tmp.path().join(meta.ulid.to_string()));
    let got = promtool_dump(tmp.path());
    assert_eq!(got, expected);
    run_promtool(&[
        "tsdb",
        "analyze",
        tmp.path().to_str().unwrap(),
        &meta.ulid.to_string(),
    ]);
}

/// Classic histograms and summaries written with integer-looking (and other
/// non-canonical) `le` and `quantile` values: promtool stores them as
/// OpenMetrics float text (`le="1.0"`), and so must our backfill.
#[test]
fn backfill_normalises_le_and_quantile_like_promtool() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.om");
    let mut om = String::new();
    let t0 = 1_700_000_000i64;
    let bounds = ["0.005", "1", "2.50", "10", "100", "1e3", "1E6", "+Inf"];
    let quantiles = ["0", "0.5", "0.90", "1"];
    om.push_str("# HELP req_seconds latency\n# TYPE req_seconds histogram\n");
    for i in 0..240 {
        let t = t0 + i * 60;
        for (j, le) in bounds.iter().enumerate() {
            om.push_str(&format!(
                "req_seconds_bucket{{job=\"a\",le=\"{le}\"}} {} {t}\n",
                i * (j as i64 + 1)
            ));
        }
        om.push_str(&format!("req_seconds_count{{job=\"a\"}} {} {t}\n", i * 8));
        om.push_str(&format!("req_seconds_sum{{job=\"a\"}} {}.5 {t}\n", i * 3));
    }
    om.push_str("# TYPE rpc summary\n");
    for i in 0..240 {
        let t = t0 + i * 60;
        for q in quantiles {
            om.push_str(&format!("rpc{{quantile=\"{q}\"}} {i} {t}\n"));
        }
    }
    // A gauge histogram's `le` stays as written.
    om.push_str("# TYPE queue gaugehistogram\n");
    for i in 0..240 {
        om.push_str(&format!("queue_bucket{{le=\"1\"}} {i} {}\n", t0 + i * 60));
    }
    om.push_str("# EOF\n");
    std::fs::write(&input, om).unwrap();

    let theirs = tmp.path().join("theirs");
    run_promtool(&[
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        input.to_str().unwrap(),
        theirs.to_str().unwrap(),
    ]);
    let ours = tmp.path().join("ours");
    create_blocks_from_openmetrics(&input, &ours, None).unwrap();
    let (want, got) = (promtool_dump(&theirs), promtool_dump(&ours));
    assert!(want.contains(r#"le="1.0""#) && want.contains(r#"quantile="1.0""#));
    assert!(want.contains(r#"le="1e+06""#) && want.contains(r#"quantile="0.9""#));
    assert!(want.contains(r#"{__name__="queue_bucket", le="1"}"#));
    assert_eq!(want.lines().count(), 240 * (8 + 2 + 4 + 1));
    assert!(
        got == want,
        "promtool's dump of our backfill differs from its own (first differing line: {:?})",
        got.lines().zip(want.lines()).find(|(a, b)| a != b)
    );
}
