use std::sync::Arc;

use aeon_storeapi::testsuite::{StoreUnderTest, run_acceptance};
use aeon_storeapi::testutil::MemStore;

#[tokio::test]
async fn memstore_passes_acceptance() {
    run_acceptance(|f| async move { StoreUnderTest::new(Arc::new(MemStore::from_fixture(&f))) }).await;
}
