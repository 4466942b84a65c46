//! The `aeon` binary as a user runs it: every component is a subcommand, and
//! the seed's Thanos walkthrough commands parse as written with `thanos`
//! replaced by `aeon` (each fails only on what the environment lacks).

#![allow(clippy::unwrap_used)] // test helpers, like #[test] fns, may unwrap

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn aeon() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aeon"));
    c.env_remove("RUST_BACKTRACE");
    c
}

fn output(args: &[&str]) -> (bool, String) {
    let out = aeon().args(args).output().expect("run aeon");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn help_lists_every_component() {
    let (ok, text) = output(&["--help"]);
    assert!(ok, "{text}");
    for sub in [
        "sidecar",
        "store",
        "query",
        "query-frontend",
        "compact",
        "tools",
    ] {
        assert!(text.contains(sub), "--help lacks {sub}: {text}");
    }
    let (ok, text) = output(&["tools", "--help"]);
    assert!(
        ok && text.contains("tsdb") && text.contains("bucket"),
        "{text}"
    );
}

#[test]
fn seed_store_command_parses_and_reports_the_missing_bucket_config() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let missing = dir.path().join("bucket_config.yaml");
    let (ok, text) = output(&[
        "store",
        "--data-dir",
        data.to_str().unwrap(),
        "--objstore.config-file",
        missing.to_str().unwrap(),
        "--http-address",
        "127.0.0.1:0",
        "--grpc-address",
        "127.0.0.1:0",
        "--index-cache-size=250MB",
        "--sync-block-duration=5m",
        "--min-time=-2w",
        "--max-time=-1h",
    ]);
    assert!(!ok);
    assert!(
        text.starts_with("aeon: ") && text.contains("bucket_config.yaml"),
        "{text}"
    );
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn bad_flag_values_name_the_flag() {
    let (ok, text) = output(&["store", "--min-time=yesterday"]);
    assert!(!ok);
    assert!(
        text.contains("--min-time") && text.contains("yesterday"),
        "{text}"
    );
    let (ok, text) = output(&["store", "--index-cache-size=lots"]);
    assert!(!ok);
    assert!(text.contains("--index-cache-size"), "{text}");
}

#[test]
fn seed_query_command_serves_until_terminated() {
    let mut child = aeon()
        .args([
            "query",
            "--http-address",
            "127.0.0.1:0",
            "--grpc-address",
            "127.0.0.1:0",
            "--store",
            "127.0.0.1:1",
            "--store",
            "127.0.0.1:2",
            "--query.replica-label",
            "replica",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start aeon query");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let serving = loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) => {
                let hit = l.contains("serving http");
                seen.push(l);
                if hit {
                    break true;
                }
            }
            Err(_) if Instant::now() > deadline => break false,
            Err(_) => assert!(
                child.try_wait().unwrap().is_none(),
                "aeon query exited: {seen:?}"
            ),
        }
    };
    // Graceful shutdown on SIGTERM.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(serving, "no 'serving http' line: {seen:?}");
    assert!(status.success(), "exit after SIGTERM: {status:?}");
}

/// `aeon <cmd>` as a command factory for `check_service_binary`.
fn aeon_cmd(sub: &'static str) -> impl Fn() -> Command {
    move || {
        let mut c = aeon();
        c.arg(sub);
        c
    }
}

fn fs_bucket(dir: &std::path::Path) -> String {
    let bucket = dir.join("bucket");
    std::fs::create_dir_all(&bucket).unwrap();
    format!(
        "--objstore.config=type: FILESYSTEM\nconfig:\n  directory: {}\n",
        bucket.display()
    )
}

#[test]
fn every_component_starts_through_the_service_skeleton() {
    use aeon_common::testutil::{Prometheus, check_service_binary};
    let dir = tempfile::tempdir().unwrap();
    let data = format!("--data-dir={}", dir.path().join("data").display());
    check_service_binary(
        aeon_cmd("query"),
        "aeon: query",
        &["--store=127.0.0.1:1".into()],
        true,
        dir.path(),
    );
    check_service_binary(
        aeon_cmd("query-frontend"),
        "aeon: query-frontend",
        &["--query-frontend.downstream-url=http://127.0.0.1:1".into()],
        false,
        dir.path(),
    );
    check_service_binary(
        aeon_cmd("store"),
        "aeon: store",
        &[fs_bucket(dir.path()), data.clone()],
        true,
        dir.path(),
    );
    check_service_binary(
        aeon_cmd("compact"),
        "aeon: compact",
        &[fs_bucket(dir.path()), data, "--wait".into()],
        false,
        dir.path(),
    );
    let prom = Prometheus::start(dir.path());
    check_service_binary(
        aeon_cmd("sidecar"),
        "aeon: sidecar",
        &[
            format!("--prometheus.url={}", prom.url),
            format!("--tsdb.path={}", dir.path().join("prom").display()),
        ],
        true,
        dir.path(),
    );
}

#[test]
fn global_flags_before_the_command_and_version_after_it() {
    use aeon_common::testutil::Proc;
    // Thanos's application flags work before the command name…
    let mut c = aeon();
    c.args([
        "--log.format=json",
        "--log.level",
        "info",
        "query",
        "--http-address=127.0.0.1:0",
        "--grpc-address=127.0.0.1:0",
    ]);
    let mut p = Proc::spawn("aeon query", &mut c);
    let line = p.wait_line(Duration::from_secs(30), |l| {
        l.contains("serving http").then(|| l.to_string())
    });
    let v: serde_json::Value = serde_json::from_str(&line).expect("json log line");
    assert_eq!(v["level"], "INFO", "{line}");
    let (status, _) = p.stop();
    assert!(status.success());
    // …and the one after the command wins, as in kingpin.
    let (ok, text) = output(&[
        "--log.format=json",
        "query",
        "--log.format=logfmt",
        "--http-address=10902",
    ]);
    assert!(!ok && text.contains("--http-address"), "{text}");

    // --version on every command, as kingpin's app-level flag.
    for args in [
        &["--version"][..],
        &["store", "--version"],
        &["tools", "bucket", "--version"],
    ] {
        let (ok, text) = output(args);
        assert!(ok, "{args:?}: {text}");
        assert!(text.contains(env!("CARGO_PKG_VERSION")), "{args:?}: {text}");
    }
}

#[test]
fn listen_addresses_in_every_go_form() {
    use aeon_common::testutil::{Proc, free_port, http_get};
    for http in [
        format!(":{}", free_port()),
        format!("0.0.0.0:{}", free_port()),
        format!("localhost:{}", free_port()),
        format!("[::]:{}", free_port()),
    ] {
        let grpc = format!(":{}", free_port());
        let mut c = aeon();
        c.args([
            "query",
            &format!("--http-address={http}"),
            &format!("--grpc-address={grpc}"),
        ]);
        let mut p = Proc::spawn("aeon query", &mut c);
        let addr = p.http_addr();
        let port: u16 = http.rsplit(':').next().unwrap().parse().unwrap();
        assert_eq!(addr.port(), port, "{http}");
        assert_eq!(http_get(addr, "/-/ready").0, 200, "{http}");
        let (status, lines) = p.stop();
        assert!(status.success(), "{http}: {lines:#?}");
    }
}

#[test]
fn bucket_web_takes_the_http_config() {
    use aeon_common::testutil::{Proc, free_port, http_get};
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "basic_auth_users:\n  alice: {}\n",
            bcrypt::hash("pw", 4).unwrap()
        ),
    )
    .unwrap();
    let port = free_port();
    let mut c = aeon();
    c.args([
        "tools",
        "bucket",
        &fs_bucket(dir.path()),
        "web",
        &format!("--http-address=127.0.0.1:{port}"),
        &format!("--http.config={}", web.display()),
    ]);
    let p = Proc::spawn("aeon tools bucket web", &mut c);
    let addr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut code = 0;
    while Instant::now() < deadline {
        code = http_get(addr, "/api/v1/blocks").0;
        if code != 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Every page is behind basic auth.
    assert_eq!(code, 401);
    drop(p);
}

#[test]
fn thanos_flags_kingpin_booleans_and_flags_without_effect() {
    use aeon_common::testutil::Proc;
    let mut c = aeon();
    c.args([
        "query",
        "--http-address=127.0.0.1:0",
        "--grpc-address=127.0.0.1:0",
        "--no-query.partial-response",
        "--enable-auto-gomemlimit",
        "--query.promql-engine=thanos",
        // Typing a default is not setting anything.
        "--query.mode=local",
    ]);
    let mut p = Proc::spawn("aeon query", &mut c);
    p.wait_line(Duration::from_secs(30), |l| {
        l.contains("serving http").then_some(())
    });
    let (status, lines) = p.stop();
    assert!(status.success(), "{lines:#?}");
    for flag in ["--enable-auto-gomemlimit", "--query.promql-engine"] {
        let hits: Vec<_> = lines
            .iter()
            .filter(|l| l.contains("has no effect") && l.contains(flag))
            .collect();
        assert_eq!(hits.len(), 1, "one start-up line for {flag}: {lines:#?}");
    }
    assert!(
        !lines.iter().any(|l| l.contains("--query.mode")),
        "{lines:#?}"
    );

    // A flag Aeon does not implement stops start-up, naming it.
    let (ok, text) = output(&["query", "--query.mode=distributed"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("--query.mode") && text.contains("not supported"),
        "{text}"
    );
    // Unknown negations stay errors.
    let (ok, text) = output(&["query", "--no-query.timeout"]);
    assert!(!ok && text.contains("no-query.timeout"), "{text}");
    // Kingpin's --help-long.
    let (ok, text) = output(&["compact", "--help-long"]);
    assert!(ok && text.contains("--block-files-concurrency"), "{text}");
}
