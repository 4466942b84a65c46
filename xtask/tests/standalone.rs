//! The repository stands alone: nothing that runs (code, scripts, CI and
//! build files) reads the team's `shared` folder beside the checkout, which a
//! user's clone never has. Peers come from `cargo xtask peers`.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

#[test]
fn nothing_that_runs_reads_the_team_folder() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new("git")
        .current_dir(root)
        .args(["ls-files", "-z"])
        .output()
        .expect("git ls-files");
    assert!(out.status.success(), "git ls-files failed");
    // Spelled in two parts so this file does not match itself.
    let needles = [format!("../{}", "shared"), format!("/work/{}", "shared")];
    let runs = |p: &str| {
        let name = p.rsplit('/').next().unwrap_or(p);
        [
            ".rs", ".sh", ".toml", ".yml", ".yaml", ".py", ".json", ".tpl",
        ]
        .iter()
        .any(|x| name.ends_with(x))
            || name.starts_with("Dockerfile")
            || p.starts_with(".ci/")
    };
    let mut found = Vec::new();
    for p in String::from_utf8(out.stdout).unwrap().split('\0') {
        if p.is_empty() || !runs(p) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(p)) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if needles.iter().any(|n| line.contains(n.as_str())) {
                found.push(format!("{p}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "these lines point at the team's shared folder, which a user's clone does not have:\n{}",
        found.join("\n")
    );
}
