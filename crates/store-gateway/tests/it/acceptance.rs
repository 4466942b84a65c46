//! The Store API acceptance suite (aeon-storeapi `testsuite`) against the
//! gateway: fixtures become promtool-written blocks in a filesystem bucket
//! and in a real S3 server (s3s-fs).

use std::sync::Arc;

use aeon_objstore::{Bucket, FilesystemBucket};
use aeon_storeapi::testsuite::{StoreUnderTest, run_acceptance};
use aeon_storeapi::testutil::{Fixture, STANDARD_T0};
use aeon_tsdb_block::meta::ThanosMeta;
use aeon_tsdb_block::{BlockWriter, BlockWriterOptions};

use crate::util::*;

/// Writes the fixture as blocks (promtool for data; an empty block carrying
/// the external labels when the fixture has no series) and uploads them.
async fn load_fixture(f: &Fixture, bucket: &dyn Bucket, tmp: &std::path::Path) {
    let ext: Vec<(String, String)> = f
        .external_labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    let ext_ref: Vec<(&str, &str)> = ext.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let blocks = if f.series.is_empty() {
        let dir = tmp.join("empty");
        std::fs::create_dir_all(&dir).unwrap();
        let w = BlockWriter::new(
            &dir,
            BlockWriterOptions {
                min_time: Some(STANDARD_T0),
                max_time: Some(STANDARD_T0 + 7_200_000),
                thanos: Some(ThanosMeta {
                    version: 1,
                    labels: ext.iter().cloned().collect(),
                    source: "test".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .unwrap();
        vec![w.finish().unwrap().1]
    } else {
        let blocks = promtool_blocks(&f.to_openmetrics(), tmp);
        for b in &blocks {
            add_thanos(b, &ext_ref, 0);
        }
        blocks
    };
    upload(bucket, &blocks).await;
}

async fn sut(
    f: Fixture,
    bucket: Arc<dyn Bucket>,
    guard: impl std::any::Any + Send + Sync,
) -> StoreUnderTest {
    let tmp = tempfile::tempdir().unwrap();
    load_fixture(&f, bucket.as_ref(), tmp.path()).await;
    let gw = gateway(bucket, &tmp.path().join("data"), &[]).await;
    StoreUnderTest::with_guard(gw.store.clone(), (tmp, guard))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceptance_suite_on_filesystem_bucket() {
    run_acceptance(|f| async move {
        let dir = tempfile::tempdir().unwrap();
        let bucket: Arc<dyn Bucket> = Arc::new(FilesystemBucket::new(dir.path()).unwrap());
        sut(f, bucket, dir).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceptance_suite_on_s3() {
    run_acceptance(|f| async move {
        let server = aeon_objstore::testutil::S3Server::start().expect("s3s-fs test server");
        let mut reg = aeon_common::Registry::default();
        let bucket = aeon_objstore::from_yaml(&server.yaml(), "s3s-fs", &mut reg)
            .await
            .unwrap();
        sut(f, bucket, server).await
    })
    .await;
}
