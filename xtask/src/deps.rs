//! Unused dependencies: every dependency a workspace crate declares must be
//! named somewhere in that crate's Rust sources (as `cargo-machete` checks:
//! its identifier as a whole word), or be listed, with a reason, under
//! `[package.metadata.aeon] used-without-mention` (e.g. a crate only the
//! generated code of `build.rs` names).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// One declared dependency that no source file names.
#[derive(Debug, PartialEq, Eq)]
pub struct Unused {
    pub krate: String,
    pub dependency: String,
    pub kind: String,
}

/// Runs the check over the workspace and fails listing every unused dependency.
pub fn check_workspace(root: &Path) -> Result<()> {
    let meta = crate::layers::metadata(root)?;
    let packages = meta["packages"]
        .as_array()
        .context("cargo metadata has no packages")?;
    let lib_names = lib_names(root)?;
    let mut unused = Vec::new();
    for p in packages {
        let name = p["name"].as_str().unwrap_or_default().to_string();
        let manifest = PathBuf::from(p["manifest_path"].as_str().unwrap_or_default());
        let dir = manifest.parent().context("manifest has no directory")?;
        let allowed: Vec<String> = p["metadata"]["aeon"]["used-without-mention"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let sources = rust_sources(dir)?;
        let deps = p["dependencies"].as_array().cloned().unwrap_or_default();
        for d in deps {
            let dep = d["name"].as_str().unwrap_or_default();
            // What the code writes: the rename, else the library's own name (md-5 is `md5`).
            let ident = d["rename"]
                .as_str()
                .or_else(|| lib_names.get(dep).map(String::as_str))
                .unwrap_or(dep)
                .replace('-', "_");
            if allowed.iter().any(|a| a == dep) {
                continue;
            }
            if !sources.iter().any(|text| names(text, &ident)) {
                unused.push(Unused {
                    krate: name.clone(),
                    dependency: dep.to_string(),
                    kind: d["kind"].as_str().unwrap_or("normal").to_string(),
                });
            }
        }
    }
    if unused.is_empty() {
        eprintln!("deps: every declared dependency is used");
        return Ok(());
    }
    let lines: Vec<String> = unused
        .iter()
        .map(|u| {
            format!(
                "{} declares {} ({}) but no source file names it: remove it, or list it under \
                 [package.metadata.aeon] used-without-mention with a comment saying why",
                u.krate, u.dependency, u.kind
            )
        })
        .collect();
    bail!("unused dependencies:\n{}", lines.join("\n"))
}

/// Package name → library target name, for every package in the dependency graph.
fn lib_names(root: &Path) -> Result<std::collections::HashMap<String, String>> {
    let out = crate::cargo()
        .current_dir(root)
        .args(["metadata", "--format-version", "1"])
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("cargo metadata output")?;
    let mut map = std::collections::HashMap::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let lib = p["targets"].as_array().into_iter().flatten().find(|t| {
            t["kind"].as_array().is_some_and(|k| {
                k.iter()
                    .any(|k| k == "lib" || k == "proc-macro" || k == "rlib")
            })
        });
        if let (Some(name), Some(lib)) = (p["name"].as_str(), lib.and_then(|t| t["name"].as_str()))
        {
            map.insert(name.to_string(), lib.to_string());
        }
    }
    Ok(map)
}

/// The text of every `.rs` file under `dir` (not under `target/`).
fn rust_sources(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let p = e?.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "target") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(
                    std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?,
                );
            }
        }
    }
    Ok(out)
}

/// Whether `text` names `ident` as a whole word.
fn names(text: &str, ident: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(ident).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + ident.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn whole_words_only() {
        assert!(names("use serde::Deserialize;", "serde"));
        assert!(names("x = tokio_util::sync::X", "tokio_util"));
        assert!(!names("use serde_json::Value;", "serde"));
        assert!(!names("my_tokio::x", "tokio"));
    }
}
