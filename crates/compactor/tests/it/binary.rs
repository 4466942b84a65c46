//! The `aeon-compactor` binary as its container image runs it (`--wait`):
//! the service skeleton's start-up contract
//! (`aeon_common::testutil::check_service_binary`).

use std::process::Command;

#[test]
fn binary_starts_with_tracing_and_reports_start_up_failures() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bucket")).unwrap();
    let args = [
        format!(
            "--objstore.config=type: FILESYSTEM\nconfig:\n  directory: {}\n",
            dir.path().join("bucket").display()
        ),
        format!("--data-dir={}", dir.path().join("data").display()),
        "--wait".to_string(),
    ];
    aeon_common::testutil::check_service_binary(
        || Command::new(env!("CARGO_BIN_EXE_aeon-compactor")),
        "aeon-compactor: compact",
        &args,
        false,
        dir.path(),
    );
}
