//! The reloader: watches Prometheus' config file and rule directories by
//! hashing them every `--reloader.watch-interval`; on a change it writes the
//! env-substituted config (`$(VAR)` → value) to
//! `--reloader.config-envsubst-file` if given, then asks Prometheus to
//! reload (`POST /-/reload`, needs `--web.enable-lifecycle`), retrying every
//! `--reloader.retry-interval` until it succeeds or the next watch round.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::chain;
use crate::metrics::Metrics;
use crate::prometheus::PromClient;
use crate::{Error, Result};

/// Reloader settings.
#[derive(Debug, Clone, Default)]
pub struct ReloaderConfig {
    /// `--reloader.config-file`.
    pub config_file: Option<PathBuf>,
    /// `--reloader.config-envsubst-file`.
    pub envsubst_file: Option<PathBuf>,
    /// `--reloader.rule-dir` (repeatable).
    pub rule_dirs: Vec<PathBuf>,
    /// `--reloader.watch-interval`.
    pub watch_interval: Duration,
    /// `--reloader.retry-interval`.
    pub retry_interval: Duration,
}

impl ReloaderConfig {
    /// Whether there is anything to watch.
    pub fn is_enabled(&self) -> bool {
        self.config_file.is_some() || !self.rule_dirs.is_empty()
    }
}

/// Replaces every `$(NAME)` with the value of environment variable `NAME`
/// (looked up through `env`); an unset variable is an error.
pub fn envsubst(text: &str, path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find(')') {
            Some(end) if is_env_name(&after[..end]) => {
                let name = &after[..end];
                let value = env(name).ok_or_else(|| Error::Envsubst {
                    path: path.to_path_buf(),
                    var: name.to_string(),
                })?;
                out.push_str(&value);
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("$(");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The watched state: config file contents and the rule files (recursively,
/// sorted by path, path and contents hashed).
fn snapshot(cfg: &ReloaderConfig) -> Result<(Option<Vec<u8>>, u64)> {
    let config = match &cfg.config_file {
        Some(p) => Some(std::fs::read(p).map_err(|source| Error::ReloaderRead {
            path: p.clone(),
            source,
        })?),
        None => None,
    };
    let mut h = xxhash_rust::xxh64::Xxh64::new(0);
    if let Some(c) = &config {
        h.update(c);
    }
    for dir in &cfg.rule_dirs {
        let mut files = Vec::new();
        collect_files(dir, &mut files).map_err(|source| Error::ReloaderRead {
            path: dir.clone(),
            source,
        })?;
        files.sort();
        for f in files {
            let data = std::fs::read(&f).map_err(|source| Error::ReloaderRead {
                path: f.clone(),
                source,
            })?;
            h.update(f.to_string_lossy().as_bytes());
            h.update(&[0xff]);
            h.update(&data);
        }
    }
    Ok((config, h.digest()))
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        // Follow symlinks (Kubernetes ConfigMaps are symlink farms).
        let meta = std::fs::metadata(&path)?;
        if meta.is_dir() {
            if !entry.file_name().to_string_lossy().starts_with('.') {
                collect_files(&path, out)?;
            }
        } else if meta.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Writes the env-substituted config atomically.
fn write_envsubst(cfg: &ReloaderConfig, config: &[u8]) -> Result<()> {
    let (Some(src), Some(dst)) = (&cfg.config_file, &cfg.envsubst_file) else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(config);
    let out = envsubst(&text, src, |n| std::env::var(n).ok())?;
    let tmp = dst.with_extension("aeon-tmp");
    let err = |source| Error::ReloaderWrite {
        path: dst.clone(),
        source,
    };
    std::fs::write(&tmp, out.as_bytes()).map_err(err)?;
    std::fs::rename(&tmp, dst).map_err(err)
}

/// Watches until `shutdown`. The first round always writes the substituted
/// config and reloads Prometheus (as Thanos does).
pub async fn run(
    cfg: ReloaderConfig,
    client: PromClient,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let mut last: Option<u64> = None;
    loop {
        let round_started = tokio::time::Instant::now();
        match snapshot(&cfg) {
            Ok((config, hash)) if last != Some(hash) => {
                let written = match &config {
                    Some(c) => write_envsubst(&cfg, c),
                    None => Ok(()),
                };
                match written {
                    Err(e) => {
                        tracing::error!(error = %chain(&e), "reloader cannot write the substituted config")
                    }
                    Ok(()) => {
                        if reload_with_retries(&client, &metrics, &cfg, round_started, &shutdown)
                            .await
                        {
                            tracing::info!(hash, "prometheus reloaded");
                            last = Some(hash);
                        }
                    }
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %chain(&e), "reloader cannot read watched files"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep_until(round_started + cfg.watch_interval) => {}
        }
    }
}

async fn reload_with_retries(
    client: &PromClient,
    metrics: &Metrics,
    cfg: &ReloaderConfig,
    started: tokio::time::Instant,
    shutdown: &CancellationToken,
) -> bool {
    loop {
        match client.reload().await {
            Ok(()) => {
                metrics.reloader_reloads.inc();
                return true;
            }
            Err(e) => {
                metrics.reloader_reloads_failed.inc();
                tracing::warn!(error = %chain(&e), "prometheus reload failed (is --web.enable-lifecycle set?); retrying");
            }
        }
        if started.elapsed() + cfg.retry_interval >= cfg.watch_interval {
            return false;
        }
        tokio::select! {
            () = shutdown.cancelled() => return false,
            () = tokio::time::sleep(cfg.retry_interval) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envsubst_replaces_known_and_rejects_unset() {
        let env = |n: &str| (n == "POD").then(|| "p-0".to_string());
        let p = Path::new("prom.yml");
        assert_eq!(
            envsubst("replica: $(POD) x $(POD)", p, env).unwrap(),
            "replica: p-0 x p-0"
        );
        assert_eq!(
            envsubst("$ cost $(not a var) $(", p, env).unwrap(),
            "$ cost $(not a var) $("
        );
        let e = envsubst("a: $(MISSING)", p, env).unwrap_err();
        assert!(
            e.to_string().contains("MISSING") && e.to_string().contains("prom.yml"),
            "{e}"
        );
    }

    #[test]
    fn snapshot_changes_with_rule_files() {
        let tmp = tempfile::tempdir().unwrap();
        let rules = tmp.path().join("rules");
        std::fs::create_dir_all(rules.join("sub")).unwrap();
        std::fs::write(rules.join("a.yml"), "groups: []").unwrap();
        let cfg = ReloaderConfig {
            rule_dirs: vec![rules.clone()],
            ..Default::default()
        };
        let (_, h1) = snapshot(&cfg).unwrap();
        assert_eq!(snapshot(&cfg).unwrap().1, h1);
        std::fs::write(rules.join("sub/b.yml"), "groups: []").unwrap();
        let (_, h2) = snapshot(&cfg).unwrap();
        assert_ne!(h1, h2);
        std::fs::write(rules.join("sub/b.yml"), "groups: [ ]").unwrap();
        assert_ne!(snapshot(&cfg).unwrap().1, h2);
    }

    #[test]
    fn envsubst_file_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("in.yml");
        let dst = tmp.path().join("out.yml");
        std::fs::write(&src, "a: 1\n").unwrap();
        let cfg = ReloaderConfig {
            config_file: Some(src),
            envsubst_file: Some(dst.clone()),
            ..Default::default()
        };
        let (config, _) = snapshot(&cfg).unwrap();
        write_envsubst(&cfg, &config.unwrap()).unwrap();
        assert_eq!(std::fs::read_to_string(dst).unwrap(), "a: 1\n");
    }
}
