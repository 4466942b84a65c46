//! `docs/flags.md` stays true: every flag of `aeon <cmd> --help` is in the
//! command's table with the same default, every row (but the TLS work) is
//! in the help, and a row's status matches what the help says (the
//! no-effect and not-supported markers). The table is our restatement of
//! Thanos's flags; `cargo xtask flags --thanos-docs DIR` checks it against
//! Thanos's own help texts.

#![allow(clippy::unwrap_used)] // test code

use std::process::Command;

use aeon_common::kingpin::{NO_EFFECT, UNSUPPORTED};
use aeon_testkit::flags_table::{STATUSES, parse_clap_help, parse_table};

/// Flags clap and kingpin add themselves.
const BUILTIN: &[&str] = &["help", "version", "help-long"];

fn help(cmd: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_aeon"))
        .args([cmd, "--help"])
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(out.status.success(), "aeon {cmd} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn flag_table_matches_the_help_of_every_command() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/flags.md");
    let md = std::fs::read_to_string(path).unwrap();
    let tables = parse_table(&md);
    let cmds: Vec<&str> = tables.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(cmds, ["sidecar", "store", "query", "compact"]);
    let mut problems = Vec::new();
    for (cmd, rows) in &tables {
        let ours = parse_clap_help(&help(cmd));
        for f in ours.iter().filter(|f| !BUILTIN.contains(&f.flag.as_str())) {
            if !rows.iter().any(|r| r.flag == f.flag) {
                problems.push(format!(
                    "{cmd}: --{} is in our help, not in the table",
                    f.flag
                ));
            }
        }
        let mut seen = Vec::new();
        for r in rows {
            if seen.contains(&&r.flag) {
                problems.push(format!("{cmd}: --{} is in the table twice", r.flag));
            }
            seen.push(&r.flag);
            if !STATUSES.contains(&r.status.as_str()) {
                problems.push(format!(
                    "{cmd}: --{}: unknown status {:?}",
                    r.flag, r.status
                ));
            }
            let Some(f) = ours.iter().find(|f| f.flag == r.flag) else {
                // The TLS flags are another change's; every other row must
                // be a flag of ours.
                if r.status != "TLS" {
                    problems.push(format!(
                        "{cmd}: --{} is in the table, not in our help",
                        r.flag
                    ));
                }
                continue;
            };
            if r.status == "TLS" {
                continue; // merged later: its row is updated then
            }
            if f.default != r.default {
                problems.push(format!(
                    "{cmd}: --{}: default {:?} in the table, {:?} in our help",
                    r.flag, r.default, f.default
                ));
            }
            let marked = if f.help.contains(NO_EFFECT) {
                "no effect"
            } else if f.help.contains(UNSUPPORTED) {
                "not supported"
            } else {
                ""
            };
            let want = match r.status.as_str() {
                "no effect" | "not supported" => r.status.as_str(),
                _ => "",
            };
            if marked != want {
                problems.push(format!(
                    "{cmd}: --{}: status {:?} in the table, our help says {:?}",
                    r.flag, r.status, marked
                ));
            }
            if !want.is_empty() && r.notes.is_empty() {
                problems.push(format!("{cmd}: --{}: {} needs a why", r.flag, r.status));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "docs/flags.md is out of date:\n{}",
        problems.join("\n")
    );
}
