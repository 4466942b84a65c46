use std::sync::Arc;

use aeon_objstore::{Bucket, from_yaml};
use prometheus_client::registry::Registry;

use crate::acceptance_suite;

/// Built from the seed's YAML shape, so the config path and instrumentation are covered too.
async fn make() -> (Arc<dyn Bucket>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let yaml = format!(
        "type: FILESYSTEM\nconfig:\n  directory: \"{}\"\n",
        tmp.path().join("bucket").display()
    );
    (
        from_yaml(&yaml, "test", &mut Registry::default())
            .await
            .unwrap(),
        tmp,
    )
}

acceptance_suite!(make());

mod prefixed {
    use super::*;

    async fn make() -> (Arc<dyn Bucket>, tempfile::TempDir) {
        let tmp = tempfile::tempdir().unwrap();
        let yaml = format!(
            "type: FILESYSTEM\nconfig:\n  directory: \"{}\"\nprefix: tenant/a\n",
            tmp.path().display()
        );
        (
            from_yaml(&yaml, "test", &mut Registry::default())
                .await
                .unwrap(),
            tmp,
        )
    }

    acceptance_suite!(make());

    #[tokio::test]
    async fn objects_land_below_the_prefix() {
        let (b, tmp) = make().await;
        b.upload("x/y", bytes::Bytes::from_static(b"1"))
            .await
            .unwrap();
        assert!(tmp.path().join("tenant/a/x/y").is_file());
    }
}

/// Model test: the filesystem lists exactly what a real S3 server (s3s-fs)
/// and the in-memory bucket (a sorted map, S3's semantics) list, for random
/// key sets and prefixes, in both modes.
mod listing_model {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aeon_objstore::testutil::S3Server;
    use aeon_objstore::{
        Bucket, FilesystemBucket, InMemoryBucket, ListMode, from_yaml, validate_key,
    };
    use bytes::Bytes;
    use prometheus_client::registry::Registry;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    /// Keys from a small alphabet so prefixes collide a lot; no key may also be a directory.
    fn key_set() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::btree_set("[ab.-]{1,2}(/[ab.-]{1,2}){0,2}", 1..25).prop_map(|set| {
            let valid: BTreeSet<String> = set
                .into_iter()
                .filter(|k| validate_key(k).is_ok())
                .collect();
            valid
                .iter()
                .filter(|k| !valid.iter().any(|o| o.starts_with(&format!("{k}/"))))
                .cloned()
                .collect()
        })
    }

    #[test]
    fn filesystem_lists_like_s3() {
        let server = S3Server::start().unwrap_or_else(|e| panic!("{e}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Each case lists below its own prefix of the one S3 bucket.
        let case = AtomicUsize::new(0);
        let mut runner = TestRunner::new(Config {
            cases: 48,
            ..Config::default()
        });
        let strategy = (key_set(), proptest::collection::vec("[ab./-]{0,4}", 1..8));
        let result = runner.run(&strategy, |(keys, prefixes)| {
            rt.block_on(async {
                let n = case.fetch_add(1, Ordering::Relaxed);
                let yaml = format!("{}prefix: case{n}\n", server.yaml());
                let s3 = from_yaml(&yaml, "s3s-fs", &mut Registry::default())
                    .await
                    .unwrap();
                let tmp = tempfile::tempdir().unwrap();
                let fs = FilesystemBucket::new(tmp.path()).unwrap();
                let mem = InMemoryBucket::new("model");
                for k in &keys {
                    fs.upload(k, Bytes::from(k.clone())).await.unwrap();
                    mem.upload(k, Bytes::from(k.clone())).await.unwrap();
                    s3.upload(k, Bytes::from(k.clone())).await.unwrap();
                }
                for p in prefixes.iter().map(String::as_str).chain([""]) {
                    for mode in [ListMode::Delimited, ListMode::Recursive] {
                        let want = s3.list(p, mode).await.unwrap();
                        let got = fs.list(p, mode).await.unwrap();
                        prop_assert_eq!(&got, &want, "s3s-fs: prefix {:?} mode {:?}", p, mode);
                        let model = mem.list(p, mode).await.unwrap();
                        prop_assert_eq!(&model, &want, "in-memory: prefix {:?} mode {:?}", p, mode);
                    }
                }
                Ok(())
            })
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}
