use std::sync::Arc;

use aeon_objstore::{Bucket, InMemoryBucket};

use crate::acceptance_suite;

async fn make() -> (Arc<dyn Bucket>, ()) {
    (Arc::new(InMemoryBucket::new("mem")), ())
}

acceptance_suite!(make());

#[tokio::test]
async fn run_all_on_one_bucket() {
    let (b, ()) = make().await;
    aeon_objstore::acceptance::run_all(b).await;
}
