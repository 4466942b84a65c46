//! `unreachable_pub` everywhere: every library crate of the workspace warns
//! on `pub` items no other crate can reach (clippy's `-D warnings` in
//! `cargo xtask lint` makes it an error), so what is not used outside a crate
//! is `pub(crate)` and a crate's public surface is what it means to export.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// The attribute every library crate root must carry.
const ATTRIBUTE: &str = "#![warn(unreachable_pub)]";

/// Fails naming every `crates/*/src/lib.rs` without [`ATTRIBUTE`].
pub fn check_workspace(root: &Path) -> Result<()> {
    let crates = root.join("crates");
    let mut missing = Vec::new();
    let mut checked = 0;
    for entry in
        std::fs::read_dir(&crates).with_context(|| format!("reading {}", crates.display()))?
    {
        let lib = entry?.path().join("src/lib.rs");
        if !lib.is_file() {
            continue;
        }
        let text =
            std::fs::read_to_string(&lib).with_context(|| format!("reading {}", lib.display()))?;
        checked += 1;
        if !text.lines().any(|l| l.trim() == ATTRIBUTE) {
            missing.push(lib.strip_prefix(root).unwrap_or(&lib).display().to_string());
        }
    }
    if !missing.is_empty() {
        missing.sort();
        bail!(
            "library crates without {ATTRIBUTE} (add it and make what only the crate uses pub(crate)):\n{}",
            missing.join("\n")
        );
    }
    println!("visibility ok: {checked} library crates warn on unreachable pub items");
    Ok(())
}
