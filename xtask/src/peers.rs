//! The real peers the tests run against, installed when missing:
//! Prometheus 3.5 + promtool and helm (through the workplace installers in
//! `../shared/tools` when present), the s3s-fs S3 server (built from
//! crates.io with `cargo install`) and headless Chromium for the web UI test
//! (Debian's `chromium` package, with apt-get when running as root).
//! README.md says how to get each by hand.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::run;

/// Where the peers are.
#[derive(Debug)]
pub struct Peers {
    pub peers_dir: PathBuf,
    pub helm_dir: PathBuf,
    /// The browser the querier's web UI test drives (`AEON_CHROMIUM`).
    pub chromium: PathBuf,
}

/// Chromium: `$AEON_CHROMIUM`, else Debian's `/usr/bin/chromium`, else a
/// Chromium or Chrome on PATH (CI runners ship one); `None` when there is none.
pub fn chromium_bin() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("AEON_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let debian = PathBuf::from("/usr/bin/chromium");
    if debian.is_file() {
        return Some(debian);
    }
    let path = std::env::var_os("PATH")?;
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
    .find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.trim_ascii() == b"0")
}

fn shared_tools(root: &Path) -> Option<PathBuf> {
    let p = root.join("../shared/tools");
    p.is_dir().then_some(p)
}

/// Prometheus's PromQL test scripts, when the shared conformance folder is
/// beside the checkout.
pub fn promql_testdata(root: &Path) -> Option<PathBuf> {
    if let Ok(d) = std::env::var("AEON_PROMQL_TESTDATA") {
        return Some(PathBuf::from(d));
    }
    let p = root.join("../shared/conformance/promql");
    p.is_dir().then(|| p.canonicalize().unwrap_or(p))
}

fn peers_dir() -> PathBuf {
    PathBuf::from(std::env::var("AEON_PEERS_DIR").unwrap_or_else(|_| "/opt/peers".into()))
}

/// The Prometheus binary, if installed where the tests look or on PATH.
pub fn prometheus_bin() -> Option<PathBuf> {
    let p = peers_dir().join("prometheus3/bin/prometheus");
    if p.is_file() {
        return Some(p);
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join("prometheus"))
        .find(|p| p.is_file())
}

pub fn ensure(root: &Path) -> Result<Peers> {
    let peers_dir =
        PathBuf::from(std::env::var("AEON_PEERS_DIR").unwrap_or_else(|_| "/opt/peers".into()));
    let helm_dir = PathBuf::from(
        std::env::var("AEON_HELM_BIN_DIR").unwrap_or_else(|_| "/opt/k8s-tools/bin".into()),
    );
    let tools = shared_tools(root);

    let prom = peers_dir.join("prometheus3/bin");
    if !prom.join("prometheus").is_file() || !prom.join("promtool").is_file() {
        match &tools {
            Some(t) => run(Command::new("bash")
                .arg(t.join("install-peers.sh"))
                .env("PEERS_DIR", &peers_dir))?,
            None => bail!(
                "Prometheus 3.5 and promtool are missing from {}: install them there (see README.md, \
                 'Test peers') or set AEON_PEERS_DIR",
                prom.display()
            ),
        }
    }

    let s3 = peers_dir.join("s3s/bin/s3s-fs");
    if !s3.is_file() {
        run(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())).args([
                "install",
                "--quiet",
                "--locked",
                "--root",
                &peers_dir.join("s3s").to_string_lossy(),
                "s3s-fs",
                "--version",
                "0.14.1",
                "--features",
                "binary",
            ]),
        )?;
    }

    if !helm_dir.join("helm").is_file() {
        match &tools {
            Some(t) => run(Command::new("bash")
                .arg(t.join("install-helm.sh"))
                .arg("--with-validate")
                .env("TOOLS_DIR", helm_dir.parent().unwrap_or(&helm_dir)))?,
            None => bail!(
                "helm is missing from {}: install helm 4 there (see README.md, 'Test peers') or set \
                 AEON_HELM_BIN_DIR",
                helm_dir.display()
            ),
        }
    }
    let chromium = match chromium_bin() {
        Some(p) if p.is_file() => p,
        Some(p) => bail!(
            "AEON_CHROMIUM={} is not a file: point it at a Chromium/Chrome binary",
            p.display()
        ),
        None if is_root() => {
            run(Command::new("apt-get").arg("update"))?;
            run(Command::new("apt-get").args([
                "install",
                "-y",
                "--no-install-recommends",
                "chromium",
            ]))?;
            PathBuf::from("/usr/bin/chromium")
        }
        None => bail!(
            "Chromium is missing: install it with `sudo apt-get install -y chromium` (Debian) or set \
             AEON_CHROMIUM to a Chromium/Chrome binary"
        ),
    };
    Ok(Peers {
        peers_dir,
        helm_dir,
        chromium,
    })
}
