//! The repository's example objstore files parse with this crate.

use std::path::PathBuf;

use aeon_objstore::{BackendConfig, BucketConfig, BucketLookupType};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/examples")
        .join(name)
}

#[test]
fn deploy_filesystem_example_parses() {
    let cfg = BucketConfig::from_file(&example("objstore-filesystem.yaml")).unwrap();
    match cfg.backend {
        BackendConfig::Filesystem(fs) => assert_eq!(fs.directory, "/var/aeon/bucket"),
        other => panic!("not FILESYSTEM: {other:?}"),
    }
}

#[test]
fn deploy_s3_example_parses() {
    let cfg = BucketConfig::from_file(&example("objstore-s3.yaml")).unwrap();
    match cfg.backend {
        BackendConfig::S3(s3) => {
            assert_eq!(s3.bucket, "aeon-metrics");
            assert_eq!(s3.region, "eu-west-1");
            assert_eq!(s3.bucket_lookup_type, BucketLookupType::Auto);
            assert!(
                s3.access_key.is_empty(),
                "the example relies on the default credential chain"
            );
        }
        other => panic!("not S3: {other:?}"),
    }
    assert_eq!(cfg.prefix, "");
}
