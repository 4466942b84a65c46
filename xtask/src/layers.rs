//! The layering rule from ARCHITECTURE.md, checked from `cargo metadata`:
//! dependencies point down only, and no service (L3) depends on another
//! service. Every workspace crate must be listed in [`LAYERS`].

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Crate name → layer.
pub const LAYERS: &[(&str, u8)] = &[
    ("aeon-model", 0),
    ("aeon-common", 0),
    ("aeon-testkit", 0),
    ("aeon-tsdb-block", 1),
    ("aeon-tsdb-head", 1),
    ("aeon-storeapi", 1),
    ("aeon-promql", 1),
    ("aeon-objstore", 2),
    ("aeon-discovery", 2),
    ("aeon-block-sync", 2),
    ("aeon-cache", 2),
    ("aeon-query-frontend", 3),
    ("aeon-sidecar", 3),
    ("aeon-store-gateway", 3),
    ("aeon-querier", 3),
    ("aeon-compactor", 3),
    ("aeon", 4),
    ("xtask", 5),
];

fn layer(name: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

/// Checks `edges` (crate → workspace dependency, normal and build deps) and
/// returns every violation as a sentence.
pub fn violations(crates: &[String], edges: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for c in crates {
        if layer(c).is_none() {
            out.push(format!(
                "crate {c} has no layer: add it to xtask/src/layers.rs and ARCHITECTURE.md"
            ));
        }
    }
    for (from, to) in edges {
        let (Some(a), Some(b)) = (layer(from), layer(to)) else {
            continue;
        };
        if b > a {
            out.push(format!("{from} (L{a}) depends upward on {to} (L{b})"));
        } else if a == b && a >= 3 {
            out.push(format!(
                "{from} and {to} are both L{a}: services talk through the Store API, not by linking"
            ));
        }
    }
    out
}

/// `cargo metadata --no-deps` of the workspace.
pub fn metadata(root: &Path) -> Result<serde_json::Value> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("cargo metadata output")
}

/// Runs `cargo metadata` on the workspace and fails on any violation.
pub fn check_workspace(root: &Path) -> Result<()> {
    let meta = metadata(root)?;
    let packages = meta["packages"]
        .as_array()
        .context("metadata has no packages")?;
    let names: Vec<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    let mut edges = Vec::new();
    for p in packages {
        let from = p["name"].as_str().unwrap_or_default().to_string();
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let to = d["name"].as_str().unwrap_or_default();
            // dev-dependencies may reach sideways for tests (e.g. the acceptance suite).
            if d["kind"].as_str() == Some("dev") || !names.iter().any(|n| n == to) {
                continue;
            }
            edges.push((from.clone(), to.to_string()));
        }
    }
    let v = violations(&names, &edges);
    if !v.is_empty() {
        bail!("layering rule broken:\n  {}", v.join("\n  "));
    }
    eprintln!(
        "layering ok: {} crates, {} workspace edges",
        names.len(),
        edges.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    #[test]
    fn downward_edges_pass() {
        let crates = vec![
            "aeon-model".into(),
            "aeon-storeapi".into(),
            "aeon-querier".into(),
        ];
        let edges = vec![
            e("aeon-storeapi", "aeon-model"),
            e("aeon-querier", "aeon-storeapi"),
        ];
        assert!(violations(&crates, &edges).is_empty());
    }

    #[test]
    fn upward_edge_fails() {
        let v = violations(&["aeon-model".into()], &[e("aeon-model", "aeon-querier")]);
        assert_eq!(v.len(), 1);
        assert!(v[0].contains("upward"), "{v:?}");
    }

    #[test]
    fn service_to_service_fails() {
        let v = violations(&[], &[e("aeon-querier", "aeon-store-gateway")]);
        assert!(v[0].contains("both L3"), "{v:?}");
    }

    #[test]
    fn unknown_crate_fails() {
        let v = violations(&["aeon-new".into()], &[]);
        assert!(v[0].contains("no layer"), "{v:?}");
    }
}
