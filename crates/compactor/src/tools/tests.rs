use std::collections::BTreeMap;

use aeon_model::Labels;
use aeon_objstore::InMemoryBucket;
use aeon_tsdb_block::{BlockWriter, BlockWriterOptions, ThanosMeta};
use clap::Parser;

use super::*;

#[derive(Debug, Parser)]
#[command(name = "aeon")]
struct Cli {
    #[command(subcommand)]
    tools: Tools,
}

#[derive(Debug, clap::Subcommand)]
enum Tools {
    Bucket(BucketArgs),
}

async fn put_block(
    bucket: &dyn Bucket,
    dir: &std::path::Path,
    cluster: &str,
    from: i64,
    to: i64,
) -> BlockMeta {
    let mut w = BlockWriter::new(
        dir,
        BlockWriterOptions {
            thanos: Some(ThanosMeta {
                labels: BTreeMap::from([("cluster".to_string(), cluster.to_string())]),
                source: "sidecar".into(),
                ..Default::default()
            }),
            min_time: Some(from),
            max_time: Some(to),
            ..Default::default()
        },
    )
    .unwrap();
    let samples: Vec<(i64, f64)> = (from..to).step_by(15_000).map(|t| (t, 1.0)).collect();
    w.add_float_series(Labels::from_pairs(&[("__name__", "up")]), &samples)
        .unwrap();
    let (m, p) = w.finish().unwrap();
    block::upload_block(bucket, &p).await.unwrap();
    m
}

async fn run(bucket: &Arc<InMemoryBucket>, args: &[&str]) -> (Result<()>, String) {
    let mut argv = vec!["aeon", "bucket"];
    argv.extend_from_slice(args);
    let Tools::Bucket(b) = Cli::try_parse_from(argv).unwrap().tools;
    let mut out = Vec::new();
    let b2: Arc<dyn Bucket> = bucket.clone();
    let r = run_command(b.command, b2, &mut out).await;
    (r, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn ls_inspect_mark_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let bucket = Arc::new(InMemoryBucket::new("t"));
    let h = 3_600_000;
    let a = put_block(bucket.as_ref(), tmp.path(), "eu1", 0, 2 * h).await;
    let b = put_block(bucket.as_ref(), tmp.path(), "eu1", 2 * h, 4 * h).await;
    let c = put_block(bucket.as_ref(), tmp.path(), "us1", 0, 2 * h).await;

    let (r, out) = run(&bucket, &["ls"]).await;
    r.unwrap();
    let mut want = vec![a.ulid.to_string(), b.ulid.to_string(), c.ulid.to_string()];
    want.sort();
    assert_eq!(out.lines().collect::<Vec<_>>(), want);
    let (_, out) = run(&bucket, &["ls", "-o", "wide"]).await;
    assert!(
        out.contains("Diff: 2h0m0s, Compaction: 1, Downsample: 0, Source: sidecar"),
        "{out}"
    );
    let (_, out) = run(&bucket, &["ls", "-o", "json"]).await;
    assert_eq!(out.lines().count(), 3);

    let (r, out) = run(
        &bucket,
        &["inspect", "-l", "cluster=eu1", "--output", "table"],
    )
    .await;
    r.unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for col in INSPECT_COLUMNS {
        assert!(lines[0].contains(col), "{col} in {}", lines[0]);
    }
    assert!(
        lines[2].contains(&a.ulid.to_string()) && lines[3].contains(&b.ulid.to_string()),
        "sorted by FROM:\n{out}"
    );
    assert!(
        lines[2].contains("1970-01-01T00:00:00Z")
            && lines[2].contains("cluster=eu1")
            && lines[2].contains(" 480 "),
        "{out}"
    );
    let (_, out) = run(
        &bucket,
        &[
            "inspect",
            "--output",
            "csv",
            "--sort-by",
            "LABELS",
            "--sort-by",
            "FROM",
        ],
    )
    .await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], INSPECT_COLUMNS.join(","));
    assert!(lines[3].starts_with(&c.ulid.to_string()), "{out}");

    let (r, out) = run(&bucket, &["verify"]).await;
    r.unwrap();
    assert!(out.contains("no issues"), "{out}");

    // An overlapping block and a block missing its index are both found.
    let d = put_block(bucket.as_ref(), tmp.path(), "eu1", h, 3 * h).await;
    bucket.delete(&format!("{}/index", c.ulid)).await.unwrap();
    let (r, out) = run(&bucket, &["verify"]).await;
    assert!(r.is_err());
    assert!(out.contains("issue=overlapped_blocks"), "{out}");
    assert!(out.contains(&d.ulid.to_string()));
    assert!(
        out.contains(&format!("issue=missing_files blocks={}", c.ulid)),
        "{out}"
    );

    // Marks: details required, written with reason manual, removable.
    let (r, _) = run(
        &bucket,
        &[
            "mark",
            "--id",
            &d.ulid.to_string(),
            "--marker",
            "no-compact-mark.json",
        ],
    )
    .await;
    assert!(r.unwrap_err().to_string().contains("--details"));
    let (r, out) = run(
        &bucket,
        &[
            "mark",
            "--id",
            &d.ulid.to_string(),
            "--marker",
            "no-compact-mark.json",
            "--details",
            "backfill",
        ],
    )
    .await;
    r.unwrap();
    assert!(out.contains("wrote no-compact-mark.json"));
    let m = block::read_mark::<NoCompactMark>(bucket.as_ref(), d.ulid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.reason, m.details.as_deref()),
        (MarkReason::Manual, Some("backfill"))
    );
    let (r, _) = run(
        &bucket,
        &[
            "mark",
            "--id",
            &d.ulid.to_string(),
            "--marker",
            "no-compact-mark.json",
            "--remove",
        ],
    )
    .await;
    r.unwrap();
    assert!(
        block::read_mark::<NoCompactMark>(bucket.as_ref(), d.ulid)
            .await
            .unwrap()
            .is_none()
    );
    let (r, _) = run(
        &bucket,
        &[
            "mark",
            "--id",
            "01HQ3Z7M0000000000000000AB",
            "--marker",
            "deletion-mark.json",
            "--details",
            "x",
        ],
    )
    .await;
    assert!(r.unwrap_err().to_string().contains("does not exist"));

    // Deletion mark + cleanup with no delay removes the block entirely.
    let (r, _) = run(
        &bucket,
        &[
            "mark",
            "--id",
            &d.ulid.to_string(),
            "--marker",
            "deletion-mark.json",
            "--details",
            "dup",
        ],
    )
    .await;
    r.unwrap();
    let (r, out) = run(&bucket, &["cleanup", "--delete-delay=0s"]).await;
    r.unwrap();
    assert!(out.contains("deleted 1 block"), "{out}");
    assert!(
        bucket
            .list(&format!("{}/", d.ulid), aeon_objstore::ListMode::Recursive)
            .await
            .unwrap()
            .is_empty()
    );
}

#[test]
fn flags_parse_like_thanos() {
    let cli = Cli::try_parse_from([
        "aeon",
        "bucket",
        "mark",
        "--objstore.config-file=b.yml",
        "--id",
        "01HQ3Z7M0000000000000000AB",
        "--id",
        "01HQ3Z7M0000000000000000AC",
        "--marker=deletion-mark.json",
        "--details=old",
    ])
    .unwrap();
    let Tools::Bucket(b) = cli.tools;
    assert_eq!(b.objstore_config_file, Some(PathBuf::from("b.yml")));
    match b.command {
        BucketCommand::Mark { id, marker, .. } => {
            assert_eq!(id.len(), 2);
            assert_eq!(marker, Marker::Deletion);
        }
        other => panic!("{other:?}"),
    }
    assert!(Cli::try_parse_from(["aeon", "bucket", "mark", "--marker=bogus", "--id=x"]).is_err());
}

#[derive(Clone, Default)]
struct SharedBuf(Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn long_operations_report_progress() {
    let tmp = tempfile::tempdir().unwrap();
    let bucket = Arc::new(InMemoryBucket::new("p"));
    let h = 3_600_000;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            put_block(
                bucket.as_ref(),
                tmp.path(),
                "eu1",
                i * 2 * h,
                (i + 1) * 2 * h,
            )
            .await
            .ulid,
        );
    }
    let buf = SharedBuf::default();
    let line = |what: &str| Progress::lines(what, Box::new(buf.clone()), Duration::ZERO);
    let issues = verify_with_progress(
        bucket.as_ref(),
        &line("reading block metas"),
        &line("checking block files"),
    )
    .await
    .unwrap();
    assert!(issues.is_empty());
    mark(bucket.as_ref(), &ids, Marker::Deletion, "test", false, 0)
        .await
        .unwrap();
    let rep = cleanup_with_progress(
        bucket.clone(),
        Duration::ZERO,
        Duration::ZERO,
        1_000_000,
        Arc::new(line("deleting blocks")),
    )
    .await
    .unwrap();
    assert_eq!(rep.deleted.len(), 3);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    for want in [
        "reading block metas: 3/3 (100%)",
        "checking block files: 3/3 (100%)",
        "deleting blocks: 1/3 (33%)",
        "deleting blocks: 3/3 (100%)",
    ] {
        assert!(
            text.lines().any(|l| l == want),
            "{want:?} missing in:\n{text}"
        );
    }
}
