//! The `aeon-sidecar` binary as its container image runs it, next to a real
//! Prometheus 3.5: the service skeleton's start-up contract
//! (`aeon_common::testutil::check_service_binary`).

use std::process::Command;

use aeon_common::testutil::Prometheus;

#[test]
fn binary_starts_with_tracing_and_reports_start_up_failures() {
    let dir = tempfile::tempdir().unwrap();
    let prom = Prometheus::start(dir.path());
    let args = [
        format!("--prometheus.url={}", prom.url),
        format!("--tsdb.path={}", dir.path().join("prom").display()),
        // Go durations, as Thanos parses these flags.
        "--prometheus.ready_timeout=1.5m".to_string(),
        "--grpc-grace-period=500ms".to_string(),
    ];
    aeon_common::testutil::check_service_binary(
        || Command::new(env!("CARGO_BIN_EXE_aeon-sidecar")),
        "aeon-sidecar: sidecar",
        &args,
        true,
        dir.path(),
    );
}
