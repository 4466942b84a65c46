//! Build facts for `/api/v1/status/buildinfo` (the fields Prometheus fills):
//! the git commit, branch and commit date of the checkout, the building
//! user and the Rust compiler's version. Each can be given instead through
//! an environment variable at build time (`AEON_GIT_COMMIT`,
//! `AEON_GIT_BRANCH`, `AEON_BUILD_DATE`, `AEON_BUILD_USER`), e.g. for image
//! builds without `.git`; unknown facts stay empty.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

fn fact(env: &str, from_git: impl FnOnce() -> Option<String>) -> String {
    println!("cargo:rerun-if-env-changed={env}");
    std::env::var(env)
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(from_git)
        .unwrap_or_default()
}

fn main() {
    // Rebuild when HEAD moves (a commit, a checkout).
    for path in ["HEAD", "index"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(p) = git(&["rev-parse", "--git-path", &r])
    {
        println!("cargo:rerun-if-changed={p}");
    }
    let commit = fact("AEON_GIT_COMMIT", || git(&["rev-parse", "HEAD"]));
    let branch = fact("AEON_GIT_BRANCH", || {
        git(&["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD")
    });
    // Prometheus's format (`20060102-15:04:05`), from the commit: reproducible.
    let date = fact("AEON_BUILD_DATE", || {
        git(&[
            "show",
            "-s",
            "--format=%cd",
            "--date=format-local:%Y%m%d-%H:%M:%S",
            "HEAD",
        ])
    });
    let user = fact("AEON_BUILD_USER", || None);
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rust_version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    println!("cargo:rustc-env=AEON_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=AEON_GIT_BRANCH={branch}");
    println!("cargo:rustc-env=AEON_BUILD_DATE={date}");
    println!("cargo:rustc-env=AEON_BUILD_USER={user}");
    println!("cargo:rustc-env=AEON_RUST_VERSION={rust_version}");
}
