//! `cargo xtask images`: the container images of every component.
//!
//! 1. builds static release binaries of the component crates for the host
//!    architecture (`RUSTFLAGS=-C target-feature=+crt-static`, glibc target:
//!    the result is a static-pie executable without a program interpreter);
//! 2. checks each binary really is static (no `PT_INTERP` in its ELF program
//!    headers), so it runs on the empty `scratch` base;
//! 3. stages one build context per component under `target/images/<component>/`
//!    (`bin/<arch>/<binary>`, the CA bundle, an empty data directory) and runs
//!    `docker build -f deploy/docker/Dockerfile.<component>`, tagging
//!    `aeon-<component>:<version>` and `aeon-<component>:<git short sha>` (the all-in-one
//!    image is plain `aeon`).
//!
//! `--stage-only` stops before docker (for CI, which builds with buildx).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// One image: the Dockerfile suffix, the image name, the cargo package, its
/// binary and the ports its Dockerfile exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Component {
    pub(crate) name: &'static str,
    pub(crate) image: &'static str,
    pub(crate) package: &'static str,
    pub(crate) binary: &'static str,
    pub(crate) expose: &'static str,
}

/// Every image, the all-in-one `aeon` first.
pub(crate) const COMPONENTS: [Component; 6] = [
    Component {
        name: "aeon",
        image: "aeon",
        package: "aeon",
        binary: "aeon",
        expose: "10901 10902",
    },
    Component {
        name: "sidecar",
        image: "aeon-sidecar",
        package: "aeon-sidecar",
        binary: "aeon-sidecar",
        expose: "10901 10902",
    },
    Component {
        name: "store-gateway",
        image: "aeon-store-gateway",
        package: "aeon-store-gateway",
        binary: "aeon-store-gateway",
        expose: "10901 10902",
    },
    Component {
        name: "querier",
        image: "aeon-querier",
        package: "aeon-querier",
        binary: "aeon-querier",
        expose: "10901 10902",
    },
    Component {
        name: "query-frontend",
        image: "aeon-query-frontend",
        package: "aeon-query-frontend",
        binary: "aeon-query-frontend",
        expose: "10902",
    },
    Component {
        name: "compactor",
        image: "aeon-compactor",
        package: "aeon-compactor",
        binary: "aeon-compactor",
        expose: "10901 10902",
    },
];

#[derive(Debug, clap::Args)]
pub(crate) struct ImagesArgs {
    /// Components to build (default: all): aeon, sidecar, store-gateway, querier, query-frontend,
    /// compactor.
    #[arg(long = "component", value_name = "NAME")]
    components: Vec<String>,
    /// Registry/path put in front of the image names, e.g. ghcr.io/acme.
    #[arg(long)]
    registry: Option<String>,
    /// CA bundle copied into the images (for object storage over TLS).
    #[arg(long, default_value = "/etc/ssl/certs/ca-certificates.crt")]
    ca_bundle: PathBuf,
    /// Reuse binaries already built instead of running cargo.
    #[arg(long)]
    skip_build: bool,
    /// Only build and stage the contexts; do not run docker.
    #[arg(long)]
    stage_only: bool,
}

pub(crate) fn run(root: &Path, args: ImagesArgs) -> Result<()> {
    let components = select(&args.components)?;
    if !args.stage_only {
        docker_available()?;
    }
    let (triple, arch) = host_target()?;
    if !args.skip_build {
        let mut cmd = crate::cargo();
        cmd.current_dir(root)
            .args(["build", "--release", "--target", triple])
            .env("RUSTFLAGS", "-C target-feature=+crt-static");
        for c in &components {
            cmd.args(["-p", c.package]);
        }
        crate::run(&mut cmd)?;
    }
    let bin_dir = root.join("target").join(triple).join("release");
    let version = env!("CARGO_PKG_VERSION");
    let sha = git_short_sha(root);
    for c in &components {
        let binary = bin_dir.join(c.binary);
        ensure_static(&binary)?;
        let ctx = stage(root, c, &binary, &args.ca_bundle, arch)?;
        eprintln!("staged {}", ctx.display());
        if args.stage_only {
            continue;
        }
        let mut cmd = Command::new("docker");
        cmd.arg("build")
            .arg("-f")
            .arg(root.join(format!("deploy/docker/Dockerfile.{}", c.name)))
            .args(["--build-arg", &format!("TARGETARCH={arch}")]);
        for tag in tags(args.registry.as_deref(), c, version, sha.as_deref()) {
            cmd.args(["-t", &tag]);
        }
        crate::run(cmd.arg(&ctx))?;
    }
    Ok(())
}

fn select(names: &[String]) -> Result<Vec<Component>> {
    if names.is_empty() {
        return Ok(COMPONENTS.to_vec());
    }
    names
        .iter()
        .map(|n| {
            COMPONENTS
                .iter()
                .find(|c| c.name == n)
                .copied()
                .with_context(|| {
                    let all: Vec<_> = COMPONENTS.iter().map(|c| c.name).collect();
                    format!("unknown component {n:?} (known: {})", all.join(", "))
                })
        })
        .collect()
}

/// Image references of one component: by version and, when known, by commit.
pub(crate) fn tags(
    registry: Option<&str>,
    c: &Component,
    version: &str,
    sha: Option<&str>,
) -> Vec<String> {
    let repo = match registry.map(|r| r.trim_end_matches('/')) {
        Some(r) if !r.is_empty() => format!("{r}/{}", c.image),
        _ => c.image.to_owned(),
    };
    let mut out = vec![format!("{repo}:{version}")];
    out.extend(sha.map(|s| format!("{repo}:{s}")));
    out
}

fn docker_available() -> Result<()> {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    match out {
        Err(e) => bail!(
            "docker is not available ({e}): install Docker (e.g. `apt-get install docker.io`) \
             and start the daemon, or pass --stage-only to only build the binaries and contexts"
        ),
        Ok(o) if !o.status.success() => bail!(
            "the Docker daemon is not reachable: {} — start dockerd (or set DOCKER_HOST), \
             or pass --stage-only",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Ok(_) => Ok(()),
    }
}

/// The Rust target of this machine and the matching Docker architecture name.
fn host_target() -> Result<(&'static str, &'static str)> {
    match std::env::consts::ARCH {
        "x86_64" => Ok(("x86_64-unknown-linux-gnu", "amd64")),
        "aarch64" => Ok(("aarch64-unknown-linux-gnu", "arm64")),
        other => bail!("no image build for architecture {other}"),
    }
}

fn git_short_sha(root: &Path) -> Option<String> {
    let out = Command::new("git")
        .current_dir(root)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()?;
    let sha = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !sha.is_empty()).then_some(sha)
}

/// Copies the binary, the CA bundle and an empty data directory into a fresh
/// context directory for `c`.
fn stage(root: &Path, c: &Component, binary: &Path, ca: &Path, arch: &str) -> Result<PathBuf> {
    let ctx = root.join("target/images").join(c.name);
    if ctx.exists() {
        std::fs::remove_dir_all(&ctx).with_context(|| format!("removing {}", ctx.display()))?;
    }
    let bin = ctx.join("bin").join(arch);
    for dir in [&bin, &ctx.join("empty")] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::copy(binary, bin.join(c.binary))
        .with_context(|| format!("copying {} (build it first)", binary.display()))?;
    std::fs::copy(ca, ctx.join("ca-certificates.crt"))
        .with_context(|| format!("copying the CA bundle {}", ca.display()))?;
    Ok(ctx)
}

fn ensure_static(binary: &Path) -> Result<()> {
    let bytes = std::fs::read(binary)
        .with_context(|| format!("reading {} (build it first)", binary.display()))?;
    match elf_interpreter(&bytes) {
        Ok(None) => Ok(()),
        Ok(Some(interp)) => bail!(
            "{} is dynamically linked (interpreter {interp}); it cannot run on scratch",
            binary.display()
        ),
        Err(e) => Err(e.context(format!("inspecting {}", binary.display()))),
    }
}

/// The program interpreter (`PT_INTERP`) of a 64-bit little-endian ELF file, or
/// `None` for a static executable.
pub(crate) fn elf_interpreter(bytes: &[u8]) -> Result<Option<String>> {
    const PT_INTERP: u32 = 3;
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        bail!("not an ELF file");
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        bail!("not a 64-bit little-endian ELF file");
    }
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        bytes
            .get(o..o + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
    };
    let truncated = || anyhow::anyhow!("truncated ELF header");
    let phoff = usize::try_from(u64_at(0x20).ok_or_else(truncated)?)?;
    let phentsize = usize::from(u16_at(0x36).ok_or_else(truncated)?);
    let phnum = usize::from(u16_at(0x38).ok_or_else(truncated)?);
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32_at(ph).ok_or_else(truncated)? != PT_INTERP {
            continue;
        }
        let off = usize::try_from(u64_at(ph + 8).ok_or_else(truncated)?)?;
        let len = usize::try_from(u64_at(ph + 32).ok_or_else(truncated)?)?;
        let raw = bytes.get(off..off + len).ok_or_else(truncated)?;
        let text = String::from_utf8_lossy(raw)
            .trim_end_matches('\0')
            .to_owned();
        return Ok(Some(text));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header with the given program headers (type, payload).
    fn elf(headers: &[(u32, &[u8])]) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&(headers.len() as u16).to_le_bytes());
        let data_start = 64 + 56 * headers.len();
        let mut data = Vec::new();
        for (ty, payload) in headers {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&ty.to_le_bytes());
            let off = (data_start + data.len()) as u64;
            ph[8..16].copy_from_slice(&off.to_le_bytes());
            ph[32..40].copy_from_slice(&(payload.len() as u64).to_le_bytes());
            b.extend(ph);
            data.extend_from_slice(payload);
        }
        b.extend(data);
        b
    }

    #[test]
    fn finds_the_interpreter_of_a_dynamic_executable() {
        let dynamic = elf(&[(6, b""), (3, b"/lib64/ld-linux-x86-64.so.2\0"), (1, b"")]);
        assert_eq!(
            elf_interpreter(&dynamic).unwrap().as_deref(),
            Some("/lib64/ld-linux-x86-64.so.2")
        );
        // static-pie: a dynamic section but no interpreter.
        let static_pie = elf(&[(6, b""), (2, b""), (1, b"")]);
        assert_eq!(elf_interpreter(&static_pie).unwrap(), None);
    }

    #[test]
    fn the_host_shell_is_dynamic() {
        let sh = std::fs::read("/bin/sh").unwrap();
        assert!(elf_interpreter(&sh).unwrap().is_some());
    }

    #[test]
    fn rejects_garbage_and_truncated_files() {
        assert!(elf_interpreter(b"#!/bin/sh\n").is_err());
        let mut truncated = elf(&[(3, b"/lib/ld.so\0")]);
        truncated.truncate(80);
        assert!(elf_interpreter(&truncated).is_err());
    }

    #[test]
    fn tags_by_version_and_commit_with_optional_registry() {
        let q = COMPONENTS[3];
        assert_eq!(
            tags(None, &q, "0.1.0", Some("abc1234")),
            ["aeon-querier:0.1.0", "aeon-querier:abc1234"]
        );
        assert_eq!(
            tags(Some("ghcr.io/acme/"), &COMPONENTS[0], "0.1.0", None),
            ["ghcr.io/acme/aeon:0.1.0"]
        );
    }

    #[test]
    fn selects_components_by_name() {
        assert_eq!(select(&[]).unwrap().len(), COMPONENTS.len());
        let s = select(&["querier".into(), "sidecar".into()]).unwrap();
        assert_eq!(
            s.iter().map(|c| c.binary).collect::<Vec<_>>(),
            ["aeon-querier", "aeon-sidecar"]
        );
        let e = select(&["ingester".into()]).unwrap_err().to_string();
        assert!(e.contains("unknown component \"ingester\""), "{e}");
    }

    #[test]
    fn every_component_has_a_dockerfile_from_scratch() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for c in COMPONENTS {
            let path = root.join(format!("deploy/docker/Dockerfile.{}", c.name));
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains("\nFROM scratch\n"), "{}", path.display());
            assert!(text.contains("\nUSER 65532:65532\n"), "{}", path.display());
            assert!(
                text.contains(&format!("\nEXPOSE {}\n", c.expose)),
                "{}",
                path.display()
            );
            assert!(
                text.contains(&format!(
                    "COPY bin/${{TARGETARCH}}/{} /usr/bin/{}\n",
                    c.binary, c.binary
                )),
                "{}",
                path.display()
            );
            assert!(
                text.contains(&format!("ENTRYPOINT [\"/usr/bin/{}\"]", c.binary)),
                "{}",
                path.display()
            );
        }
    }
}
