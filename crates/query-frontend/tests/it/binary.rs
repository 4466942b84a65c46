//! The `aeon-query-frontend` binary as its container image runs it: the
//! service skeleton's start-up contract
//! (`aeon_common::testutil::check_service_binary`).

use std::process::Command;

#[test]
fn binary_starts_with_tracing_and_reports_start_up_failures() {
    let dir = tempfile::tempdir().unwrap();
    aeon_common::testutil::check_service_binary(
        || Command::new(env!("CARGO_BIN_EXE_aeon-query-frontend")),
        "aeon-query-frontend: query-frontend",
        &["--query-frontend.downstream-url=http://127.0.0.1:1".to_string()],
        false,
        dir.path(),
    );
}
