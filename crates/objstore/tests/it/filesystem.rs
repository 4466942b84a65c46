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
