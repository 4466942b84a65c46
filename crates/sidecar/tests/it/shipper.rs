//! The shipper over a real Prometheus data directory (blocks made by
//! promtool, Prometheus running on it) into a filesystem bucket.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aeon_model::Labels;
use aeon_objstore::{Bucket, FilesystemBucket, ListMode};
use aeon_sidecar::{Metrics, PromClient, Shipper};
use aeon_tsdb_block::BlockMeta;
use ulid::Ulid;

use crate::common::*;

/// Every file below `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.insert(
                    e.path().strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(e.path()).unwrap(),
                );
            }
        }
    }
    out
}

/// ULID block directories of a TSDB dir that have a meta.json.
pub fn local_blocks(dir: &Path) -> Vec<Ulid> {
    let mut v: Vec<Ulid> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("meta.json").exists())
        .filter_map(|e| Ulid::from_string(e.file_name().to_str()?).ok())
        .collect();
    v.sort();
    v
}

/// Asserts the bucket holds exactly `ids`, each complete: chunks and index
/// byte-identical to the local block, meta.json = local meta + a valid
/// thanos section.
pub async fn assert_bucket_has(bucket: &dyn Bucket, tsdb: &Path, ids: &[Ulid], ext: &Labels) {
    let listed = aeon_objstore::block::list_blocks(bucket).await.unwrap();
    assert_eq!(listed, ids, "bucket holds exactly the local blocks");
    for id in ids {
        let local = tsdb.join(id.to_string());
        let keys = bucket
            .list(&format!("{id}/"), ListMode::Recursive)
            .await
            .unwrap();
        let mut want_keys = vec![format!("{id}/index"), format!("{id}/meta.json")];
        for f in std::fs::read_dir(local.join("chunks")).unwrap() {
            want_keys.push(format!(
                "{id}/chunks/{}",
                f.unwrap().file_name().to_string_lossy()
            ));
        }
        want_keys.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(
            keys, want_keys,
            "block {id} complete, tombstones not uploaded"
        );
        for k in &want_keys {
            if k.ends_with("meta.json") {
                continue;
            }
            let rel = k.strip_prefix(&format!("{id}/")).unwrap();
            assert_eq!(
                bucket.get(k).await.unwrap().as_ref(),
                std::fs::read(local.join(rel)).unwrap().as_slice(),
                "{k}"
            );
        }
        let meta = BlockMeta::parse(
            &bucket.get(&format!("{id}/meta.json")).await.unwrap(),
            "meta.json",
        )
        .unwrap();
        let local_meta = BlockMeta::read_from_dir(&local).unwrap();
        assert!(
            local_meta.thanos.is_none(),
            "prometheus' own meta.json untouched"
        );
        assert_eq!(
            (meta.ulid, meta.min_time, meta.max_time),
            (local_meta.ulid, local_meta.min_time, local_meta.max_time)
        );
        assert_eq!(meta.stats, local_meta.stats);
        let t = meta.thanos.expect("thanos section");
        assert_eq!(t.version, 1);
        assert_eq!(t.source, "sidecar");
        assert_eq!(t.downsample.resolution, 0);
        let labels: BTreeMap<String, String> = ext
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        assert_eq!(t.labels, labels);
        let files: Vec<(String, i64)> = t
            .files
            .iter()
            .map(|f| (f.rel_path.clone(), f.size_bytes))
            .collect();
        let mut want_files: Vec<(String, i64)> = want_keys
            .iter()
            .map(|k| {
                let rel = k.strip_prefix(&format!("{id}/")).unwrap().to_string();
                let size = if rel == "meta.json" {
                    0
                } else {
                    std::fs::metadata(local.join(&rel)).unwrap().len() as i64
                };
                (rel, size)
            })
            .collect();
        want_files.sort();
        assert_eq!(files, want_files, "thanos.files of {id}");
    }
}

pub fn state_ids(tsdb: &Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tsdb.join("thanos.shipper.json")).unwrap()).unwrap();
    assert_eq!(v["version"], 1);
    serde_json::from_value(v["uploaded"].clone()).unwrap()
}

#[tokio::test]
async fn every_block_uploaded_once_complete_and_prometheus_files_untouched() {
    let prom = start_prometheus(PromOptions::default()).await;
    let client = PromClient::new(&prom.url, Duration::from_secs(30)).unwrap();
    let facts = aeon_sidecar::state::fetch_facts(&client).await.unwrap();
    assert_eq!(
        Shipper::precondition(&facts),
        None,
        "compaction disabled, external labels set"
    );
    let ext = facts.external_labels.clone();
    assert_eq!(ext, Labels::from_pairs(EXT));

    let blocks = local_blocks(&prom.data);
    assert!(blocks.len() >= 3, "promtool made {} blocks", blocks.len());
    // A block Prometheus is still writing, and a dir without meta.json.
    let writing = prom.data.join(format!("{}.tmp-for-creation", Ulid::new()));
    std::fs::create_dir_all(writing.join("chunks")).unwrap();
    std::fs::write(writing.join("index"), b"partial").unwrap();
    std::fs::create_dir_all(prom.data.join(Ulid::new().to_string()).join("chunks")).unwrap();

    let before: BTreeMap<PathBuf, Vec<u8>> = blocks
        .iter()
        .flat_map(|id| {
            snapshot(&prom.data.join(id.to_string()))
                .into_iter()
                .map(move |(p, b)| (PathBuf::from(id.to_string()).join(p), b))
        })
        .collect();

    let tmp = tempfile::tempdir().unwrap();
    let bucket: Arc<dyn Bucket> =
        Arc::new(FilesystemBucket::new(tmp.path().join("bucket")).unwrap());
    let metrics = Metrics::default();
    let shipper = Shipper::new(
        &prom.data,
        bucket.clone(),
        "thanos.shipper.json",
        false,
        metrics.clone(),
    );
    let out = shipper.sync(&ext).await.unwrap();
    assert_eq!(out.uploaded, blocks);
    assert!(out.failed.is_empty());
    assert_eq!(metrics.shipper_uploads.get(), blocks.len() as u64);
    assert_bucket_has(bucket.as_ref(), &prom.data, &blocks, &ext).await;
    let after: BTreeMap<PathBuf, Vec<u8>> = blocks
        .iter()
        .flat_map(|id| {
            snapshot(&prom.data.join(id.to_string()))
                .into_iter()
                .map(move |(p, b)| (PathBuf::from(id.to_string()).join(p), b))
        })
        .collect();
    assert_eq!(before, after, "prometheus block files unchanged");
    let staging = prom.data.join("thanos/upload");
    assert!(
        !staging.exists() || std::fs::read_dir(&staging).unwrap().next().is_none(),
        "staging cleaned up"
    );
    let want_state: Vec<String> = blocks.iter().map(Ulid::to_string).collect();
    assert_eq!(state_ids(&prom.data), want_state);

    // A restarted shipper uploads nothing again.
    let metrics2 = Metrics::default();
    let again = Shipper::new(
        &prom.data,
        bucket.clone(),
        "thanos.shipper.json",
        false,
        metrics2.clone(),
    );
    assert_eq!(again.sync(&ext).await.unwrap(), Default::default());
    assert_eq!(metrics2.shipper_uploads.get(), 0);
    // Lost state file: the bucket is checked instead, still no upload, state rebuilt.
    std::fs::remove_file(prom.data.join("thanos.shipper.json")).unwrap();
    assert_eq!(again.sync(&ext).await.unwrap(), Default::default());
    assert_eq!(metrics2.shipper_uploads.get(), 0);
    assert_eq!(state_ids(&prom.data), want_state);
    assert_bucket_has(bucket.as_ref(), &prom.data, &blocks, &ext).await;
}

/// Copies promtool blocks into a plain directory the test may edit.
fn promtool_tsdb(dir: &Path) -> Vec<Ulid> {
    let om = dir.join("in.om");
    std::fs::write(&om, openmetrics(data_start())).unwrap();
    let tsdb = dir.join("tsdb");
    let out = std::process::Command::new(peers_bin("promtool"))
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&tsdb)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    local_blocks(&tsdb)
}

#[tokio::test]
async fn partial_upload_and_leftover_staging_are_redone() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks = promtool_tsdb(tmp.path());
    let tsdb = tmp.path().join("tsdb");
    let ext = Labels::from_pairs(EXT);
    let bucket: Arc<dyn Bucket> =
        Arc::new(FilesystemBucket::new(tmp.path().join("bucket")).unwrap());
    // What a crash in the middle of uploading blocks[1] leaves behind.
    let id = blocks[1];
    bucket
        .upload(
            &format!("{id}/chunks/000001"),
            bytes::Bytes::from_static(b"truncated"),
        )
        .await
        .unwrap();
    let stale = tsdb.join("thanos/upload").join(id.to_string());
    std::fs::create_dir_all(stale.join("chunks")).unwrap();
    std::fs::write(stale.join("chunks/000009"), b"junk").unwrap();
    assert!(
        aeon_objstore::block::read_meta(bucket.as_ref(), id)
            .await
            .unwrap_err()
            .is_not_found()
    );

    let shipper = Shipper::new(
        &tsdb,
        bucket.clone(),
        "thanos.shipper.json",
        false,
        Metrics::default(),
    );
    let out = shipper.sync(&ext).await.unwrap();
    assert_eq!(out.uploaded, blocks);
    assert_bucket_has(bucket.as_ref(), &tsdb, &blocks, &ext).await;
}

#[tokio::test]
async fn compacted_empty_and_unfinished_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks = promtool_tsdb(tmp.path());
    let tsdb = tmp.path().join("tsdb");
    let ext = Labels::from_pairs(EXT);
    // blocks[0] becomes a level-2 block, blocks[1] an empty one.
    let mut m0 = BlockMeta::read_from_dir(&tsdb.join(blocks[0].to_string())).unwrap();
    m0.compaction.level = 2;
    m0.write_to_dir(&tsdb.join(blocks[0].to_string())).unwrap();
    let mut m1 = BlockMeta::read_from_dir(&tsdb.join(blocks[1].to_string())).unwrap();
    m1.stats.num_samples = 0;
    m1.write_to_dir(&tsdb.join(blocks[1].to_string())).unwrap();
    // Corrupt meta.json: skipped with a warning, others still shipped.
    let corrupt = tsdb.join(Ulid::new().to_string());
    std::fs::create_dir_all(&corrupt).unwrap();
    std::fs::write(corrupt.join("meta.json"), b"{not json").unwrap();

    let bucket: Arc<dyn Bucket> =
        Arc::new(FilesystemBucket::new(tmp.path().join("bucket")).unwrap());
    let out = Shipper::new(
        &tsdb,
        bucket.clone(),
        "thanos.shipper.json",
        false,
        Metrics::default(),
    )
    .sync(&ext)
    .await
    .unwrap();
    assert_eq!(out.uploaded, blocks[2..].to_vec());
    let out = Shipper::new(
        &tsdb,
        bucket.clone(),
        "thanos.shipper.json",
        true,
        Metrics::default(),
    )
    .sync(&ext)
    .await
    .unwrap();
    assert_eq!(
        out.uploaded,
        vec![blocks[0]],
        "--shipper.upload-compacted ships level 2"
    );
    let listed = aeon_objstore::block::list_blocks(bucket.as_ref())
        .await
        .unwrap();
    assert!(!listed.contains(&blocks[1]), "empty block never shipped");

    // Empty external labels: refused with a message.
    let e = Shipper::new(
        &tsdb,
        bucket,
        "thanos.shipper.json",
        true,
        Metrics::default(),
    )
    .sync(&Labels::empty())
    .await
    .unwrap_err();
    assert!(e.to_string().contains("external labels"), "{e}");
}

#[tokio::test]
async fn shipper_refuses_without_external_labels_on_real_prometheus() {
    let prom = start_prometheus(PromOptions {
        ext: &[],
        with_blocks: false,
        ..Default::default()
    })
    .await;
    let client = PromClient::new(&prom.url, Duration::from_secs(30)).unwrap();
    let facts = aeon_sidecar::state::fetch_facts(&client).await.unwrap();
    assert!(facts.external_labels.is_empty());
    let why = Shipper::precondition(&facts).unwrap();
    assert!(why.contains("no external labels"), "{why}");
    let mut f = facts.clone();
    f.external_labels = Labels::from_pairs(EXT);
    assert_eq!(Shipper::precondition(&f), None);
    f.block_durations = Some((Duration::from_secs(7200), Duration::from_secs(36 * 3600)));
    let why = Shipper::precondition(&f).unwrap();
    assert!(
        why.contains("min-block-duration=2h") && why.contains("max-block-duration=1d12h"),
        "{why}"
    );
}

/// A filesystem bucket whose uploads fail for keys under one prefix (an
/// unreachable or refusing bucket, for one block only).
#[derive(Debug)]
struct FlakyBucket {
    inner: FilesystemBucket,
    fail_prefix: std::sync::Mutex<Option<String>>,
}

impl FlakyBucket {
    fn check(&self, key: &str) -> aeon_objstore::Result<()> {
        let p = self.fail_prefix.lock().unwrap().clone();
        match p {
            Some(p) if key.starts_with(&p) => Err(aeon_objstore::Error::Transient {
                op: aeon_objstore::Operation::Upload,
                bucket: "flaky".into(),
                key: key.into(),
                message: "connection refused".into(),
            }),
            _ => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl Bucket for FlakyBucket {
    fn name(&self) -> &str {
        "flaky"
    }
    async fn get(&self, key: &str) -> aeon_objstore::Result<bytes::Bytes> {
        self.inner.get(key).await
    }
    async fn get_range(
        &self,
        key: &str,
        offset: u64,
        len: u64,
    ) -> aeon_objstore::Result<bytes::Bytes> {
        self.inner.get_range(key, offset, len).await
    }
    async fn attributes(
        &self,
        key: &str,
    ) -> aeon_objstore::Result<aeon_objstore::ObjectAttributes> {
        self.inner.attributes(key).await
    }
    async fn upload(&self, key: &str, data: bytes::Bytes) -> aeon_objstore::Result<()> {
        self.check(key)?;
        self.inner.upload(key, data).await
    }
    async fn upload_file(&self, key: &str, path: &Path) -> aeon_objstore::Result<u64> {
        self.check(key)?;
        self.inner.upload_file(key, path).await
    }
    async fn delete(&self, key: &str) -> aeon_objstore::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str, mode: ListMode) -> aeon_objstore::Result<Vec<String>> {
        self.inner.list(prefix, mode).await
    }
}

#[tokio::test]
async fn failed_block_is_retried_without_blocking_others() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks = promtool_tsdb(tmp.path());
    let tsdb = tmp.path().join("tsdb");
    let ext = Labels::from_pairs(EXT);
    let bad = blocks[1];
    let flaky = Arc::new(FlakyBucket {
        inner: FilesystemBucket::new(tmp.path().join("bucket")).unwrap(),
        fail_prefix: std::sync::Mutex::new(Some(format!("{bad}/"))),
    });
    let bucket: Arc<dyn Bucket> = flaky.clone();
    let metrics = Metrics::default();
    let shipper = Shipper::new(
        &tsdb,
        bucket.clone(),
        "thanos.shipper.json",
        false,
        metrics.clone(),
    );
    let out = shipper.sync(&ext).await.unwrap();
    let others: Vec<Ulid> = blocks.iter().copied().filter(|b| *b != bad).collect();
    assert_eq!(out.uploaded, others);
    assert_eq!(out.failed, vec![bad]);
    assert_eq!(metrics.shipper_upload_failures.get(), 1);
    assert!(!state_ids(&tsdb).contains(&bad.to_string()));
    // Nothing of the failed block is visible as a block.
    assert!(
        aeon_objstore::block::read_meta(bucket.as_ref(), bad)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // The bucket recovers: the next round ships the missing block only.
    *flaky.fail_prefix.lock().unwrap() = None;
    let out = shipper.sync(&ext).await.unwrap();
    assert_eq!(out.uploaded, vec![bad]);
    assert_bucket_has(bucket.as_ref(), &tsdb, &blocks, &ext).await;
    assert_eq!(metrics.shipper_uploads.get(), blocks.len() as u64);
}
