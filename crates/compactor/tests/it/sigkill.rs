//! Real crash injection: the `aeon-compactor` binary (built with the
//! `crashpoints` feature) SIGKILLs itself at each step of a compaction and
//! downsampling run, is restarted, and the bucket must end up verified clean
//! with every input sample present exactly once.
//!
//! After the kill, and again after the restart, the bucket is read as a
//! reader (querier through the store-gateway) sees it: blocks with a
//! `meta.json`; a block whose sources are a strict subset of another raw
//! block's sources is covered by that block and left out. A block marked for
//! deletion that no other block covers would be data about to be lost, and
//! fails the test.
//!
//! Every crash point runs on the filesystem bucket; the upload, mark and
//! delete crash points run again on a real S3 server (s3s-fs), where an
//! upload is many requests and a listing is eventually what S3 says.

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aeon_compactor::crashpoints;
use aeon_compactor::merge::float_value;
use aeon_compactor::planner::resolution;
use aeon_objstore::block;
use aeon_objstore::testutil::S3Server;
use aeon_objstore::{Bucket, from_yaml};
use aeon_tsdb_block::chunkenc::{AggrChunk, AggrType, Encoding, XorChunk};
use aeon_tsdb_block::{BlockMeta, BlockReader};

use crate::util::*;

/// (series, timestamp, value bits): one sample.
type Sample = (String, i64, u64);

fn block_samples(dir: &Path) -> Vec<Sample> {
    let r = BlockReader::open(dir).unwrap();
    let mut out = Vec::new();
    for s in r.select(&[], i64::MIN, i64::MAX).unwrap() {
        for (t, v) in r.samples(&s, i64::MIN, i64::MAX).unwrap() {
            out.push((s.labels.to_string(), t, float_value(v).unwrap().to_bits()));
        }
    }
    out
}

/// Every sample a reader sees in the raw blocks, sorted (duplicates kept).
async fn reader_view(bucket: &dyn Bucket, dir: &Path) -> Vec<Sample> {
    let st = state(bucket).await;
    let raw: Vec<&BlockMeta> = st.metas.iter().filter(|m| resolution(m) == 0).collect();
    let mut out = Vec::new();
    for b in &raw {
        let srcs: BTreeSet<_> = b.compaction.sources.iter().collect();
        let covered = raw.iter().any(|o| {
            o.ulid != b.ulid
                && o.compaction.sources.len() > srcs.len()
                && srcs.iter().all(|s| o.compaction.sources.contains(s))
        });
        if covered {
            continue;
        }
        assert!(
            !st.deletion_marks.contains_key(&b.ulid),
            "block {} is marked for deletion but no other block holds its data",
            b.ulid
        );
        let d = dir.join(b.ulid.to_string());
        block::download_block(bucket, b.ulid, &d).await.unwrap();
        out.extend(block_samples(&d));
    }
    out.sort();
    out
}

fn run_compactor(yaml: &str, data: &Path, crash_at: Option<&str>) -> (ExitStatus, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aeon-compactor"));
    cmd.args([
        format!("--data-dir={}", data.display()),
        format!("--objstore.config={yaml}"),
        "--http-address=127.0.0.1:0".to_string(),
        "--consistency-delay=0s".to_string(),
        "--delete-delay=0s".to_string(),
    ])
    .env_remove(crashpoints::ENV)
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    if let Some(c) = crash_at {
        cmd.env(crashpoints::ENV, c);
    }
    let child = cmd.spawn().expect("start aeon-compactor");
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(240);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    loop {
        if let Ok(out) = rx.try_recv() {
            let out = out.unwrap();
            return (
                out.status,
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("aeon-compactor (crash at {crash_at:?}) did not finish in 240 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Setup {
    _tmp: tempfile::TempDir,
    /// Keeps the S3 server of an S3 run alive.
    _s3: Option<S3Server>,
    work: PathBuf,
    /// The bucket's objstore YAML, as the compactor is given it.
    yaml: String,
    bucket: std::sync::Arc<dyn Bucket>,
    want: Vec<Sample>,
}

/// Where the bucket lives.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Backend {
    Filesystem,
    S3,
}

/// 52h of 2h blocks: one run compacts 24 of them into a 2d block (six 8h
/// compactions, then one 2d) and downsamples it to 5m — 8 uploads in all.
async fn setup(backend: Backend) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().to_path_buf();
    let dirs = promtool_blocks(
        &openmetrics(
            &["up{job=\"a\"}", "x_total{job=\"b\"}"],
            T0_S,
            T0_S + 52 * 3600,
            60,
            9,
        ),
        &work,
        "in",
    );
    assert_eq!(dirs.len(), 26);
    set_thanos(&dirs, &[("cluster", "eu1")]);
    let (s3, yaml, bucket) = match backend {
        Backend::Filesystem => {
            let dir = work.join("bucket");
            let yaml = format!(
                "type: FILESYSTEM\nconfig:\n  directory: \"{}\"\n",
                dir.display()
            );
            (None, yaml, fs_bucket(&dir))
        }
        Backend::S3 => {
            let server = S3Server::start().unwrap_or_else(|e| panic!("{e}"));
            let yaml = server.yaml();
            let bucket = from_yaml(&yaml, "s3s-fs", &mut Default::default())
                .await
                .unwrap();
            (Some(server), yaml, bucket)
        }
    };
    upload(bucket.as_ref(), &dirs).await;
    let mut want: Vec<Sample> = dirs.iter().flat_map(|d| block_samples(d)).collect();
    want.sort();
    assert_eq!(want.len(), 2 * 52 * 60);
    Setup {
        _tmp: tmp,
        _s3: s3,
        work,
        yaml,
        bucket,
        want,
    }
}

async fn crash_and_recover(crash_at: &str) {
    crash_and_recover_on(crash_at, Backend::Filesystem).await;
}

async fn crash_and_recover_on(crash_at: &str, backend: Backend) {
    let s = setup(backend).await;
    let data = s.work.join("data");

    let (status, stderr) = run_compactor(&s.yaml, &data, Some(crash_at));
    assert_eq!(
        status.signal(),
        Some(9),
        "compactor with crash point {crash_at} should die by SIGKILL, got {status:?}\n{stderr}"
    );
    assert!(stderr.contains("crash point"), "{stderr}");
    let seen = reader_view(s.bucket.as_ref(), &s.work.join("after-kill")).await;
    assert!(
        seen == s.want,
        "after the kill at {crash_at} a reader sees {} samples, want {} (each exactly once)",
        seen.len(),
        s.want.len()
    );

    let (status, stderr) = run_compactor(&s.yaml, &data, None);
    assert!(
        status.success(),
        "restart after {crash_at}: {status:?}\n{stderr}"
    );
    let issues = aeon_compactor::tools::verify(s.bucket.as_ref())
        .await
        .unwrap();
    assert!(issues.is_empty(), "verify after {crash_at}: {issues:?}");
    let st = state(s.bucket.as_ref()).await;
    assert!(
        st.deletion_marks.is_empty(),
        "delete delay 0: every mark was acted on: {:?}",
        st.deletion_marks.keys()
    );
    assert!(
        st.partial.len() <= 1,
        "at most the young aborted upload of the killed run stays: {:?}",
        st.partial
    );
    let raw: Vec<&BlockMeta> = st.metas.iter().filter(|m| resolution(m) == 0).collect();
    assert_eq!(raw.len(), 3, "one 2d block and the two newest 2h blocks");
    let big = raw
        .iter()
        .find(|m| m.compaction.sources.len() == 24)
        .expect("2d block");
    let seen = reader_view(s.bucket.as_ref(), &s.work.join("after-restart")).await;
    assert!(
        seen == s.want,
        "after restart from {crash_at}: {} samples, want {}",
        seen.len(),
        s.want.len()
    );

    // Exactly one 5m block, of the 2d block, counting every raw sample once.
    let ds: Vec<&BlockMeta> = st.metas.iter().filter(|m| resolution(m) != 0).collect();
    assert_eq!(ds.len(), 1, "one downsampled block after {crash_at}");
    assert_eq!(resolution(ds[0]), 300_000);
    assert_eq!(ds[0].compaction.sources, big.compaction.sources);
    let d = s.work.join("ds").join(ds[0].ulid.to_string());
    block::download_block(s.bucket.as_ref(), ds[0].ulid, &d)
        .await
        .unwrap();
    let r = BlockReader::open(&d).unwrap();
    let mut counted = 0.0;
    for series in r.select(&[], i64::MIN, i64::MAX).unwrap() {
        for c in &series.chunks {
            let raw = r.chunk(c).unwrap();
            assert_eq!(raw.encoding, Encoding::Aggr);
            let (_, cnt) = AggrChunk::new(&raw.data)
                .get(AggrType::Count)
                .unwrap()
                .unwrap();
            let cnt = XorChunk::new(cnt).unwrap().samples().unwrap();
            counted += cnt.iter().map(|s| s.v).sum::<f64>();
        }
    }
    let in_2d = s
        .want
        .iter()
        .filter(|x| x.1 >= big.min_time && x.1 < big.max_time)
        .count();
    assert_eq!(counted as usize, in_2d);
}

#[tokio::test]
async fn sigkill_after_chunks_uploaded() {
    crash_and_recover("upload-chunks").await;
}

#[tokio::test]
async fn sigkill_before_meta_json() {
    crash_and_recover("upload-before-meta").await;
}

#[tokio::test]
async fn sigkill_after_meta_json() {
    crash_and_recover("upload-after-meta").await;
}

#[tokio::test]
async fn sigkill_before_meta_json_of_the_2d_compaction() {
    crash_and_recover("upload-before-meta:7").await;
}

#[tokio::test]
async fn sigkill_before_meta_json_of_the_downsampled_block() {
    crash_and_recover("upload-before-meta:8").await;
}

#[tokio::test]
async fn sigkill_after_meta_json_of_the_downsampled_block() {
    crash_and_recover("upload-after-meta:8").await;
}

#[tokio::test]
async fn sigkill_while_marking_sources() {
    crash_and_recover("mark-deletion:2").await;
}

#[tokio::test]
async fn sigkill_after_marking_all_sources_of_the_2d_compaction() {
    crash_and_recover("mark-deletion:30").await;
}

#[tokio::test]
async fn sigkill_while_deleting() {
    crash_and_recover("delete").await;
}

#[tokio::test]
async fn sigkill_late_in_deleting() {
    crash_and_recover("delete:40").await;
}

#[tokio::test]
async fn s3_sigkill_after_chunks_uploaded() {
    crash_and_recover_on("upload-chunks", Backend::S3).await;
}

#[tokio::test]
async fn s3_sigkill_while_marking_sources() {
    crash_and_recover_on("mark-deletion:2", Backend::S3).await;
}

#[tokio::test]
async fn s3_sigkill_while_deleting() {
    crash_and_recover_on("delete", Backend::S3).await;
}

#[test]
fn every_step_has_a_test() {
    let src = include_str!("sigkill.rs");
    for step in crashpoints::STEPS {
        assert!(
            src.contains(&format!("crash_and_recover(\"{step}")),
            "no SIGKILL test for crash point {step}"
        );
    }
}
