//! The `aeon-store-gateway` binary as its container image runs it: the
//! service skeleton's start-up contract
//! (`aeon_common::testutil::check_service_binary`), with the bucket
//! configured through `$(VAR)` as prometheus-operator-style manifests do.

use std::process::Command;

#[test]
fn binary_starts_with_tracing_and_reports_start_up_failures() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = format!(
        "type: FILESYSTEM\nconfig:\n  directory: {}\n",
        dir.path().join("bucket").display()
    );
    std::fs::create_dir_all(dir.path().join("bucket")).unwrap();
    let args = [
        "--objstore.config=$(AEON_TEST_BUCKET)".to_string(),
        format!("--data-dir={}", dir.path().join("data").display()),
    ];
    aeon_common::testutil::check_service_binary(
        || {
            let mut c = Command::new(env!("CARGO_BIN_EXE_aeon-store-gateway"));
            c.env("AEON_TEST_BUCKET", &bucket);
            c
        },
        "aeon-store-gateway: store",
        &args,
        true,
        dir.path(),
    );
}
