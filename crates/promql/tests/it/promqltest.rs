//! Runs Prometheus's promqltest `.test` files (from `AEON_PROMQL_TESTDATA`, else
//! `$AEON_PEERS_DIR/promql-testdata/3.5.3`, installed by `cargo xtask test`) plus our own
//! files in `tests/testdata`, against the engine. Cases listed in
//! `tests/it/skips.txt` (`file:line reason`) are expected to fail; every other
//! case must pass, and a listed case that passes fails the test (the list must
//! stay exact). Set `AEON_PROMQL_WRITE_SKIPS=1` to rewrite the list from the
//! actual failures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aeon_promql::promqltest::run_script;

fn testdata_dir() -> PathBuf {
    aeon_testkit::peers::promql_testdata()
}

fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    files
}

fn skips_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/skips.txt")
}

fn load_skips() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(skips_path()).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, r) = l.split_once(' ').unwrap_or((l, ""));
            (k.to_string(), r.trim().to_string())
        })
        .collect()
}

fn reason_for(file: &str, err: &str, uses_histograms: bool) -> String {
    let e: String = err.chars().take(160).collect::<String>().replace('\n', " ");
    if uses_histograms || file == "native_histograms.test" {
        format!("native histograms: {e}")
    } else {
        format!("fails: {e}")
    }
}

#[test]
fn upstream_promql_test_files() {
    let dir = testdata_dir();
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata");
    let mut files = test_files(&dir);
    if own.is_dir() {
        files.extend(test_files(&own));
    }
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    let skips = load_skips();
    let write = std::env::var("AEON_PROMQL_WRITE_SKIPS").is_ok();
    let (mut tp, mut tf, mut ts) = (0, 0, 0);
    let mut failures = Vec::new();
    let mut new_skips = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(f).unwrap();
        let res = run_script(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (mut p, mut fl, mut sk) = (0, 0, 0);
        for c in res.cases {
            let (line, expr, outcome) = (c.line, c.expr, c.outcome);
            let key = format!("{name}:{line}");
            match (outcome, skips.get(&key)) {
                (Ok(()), None) => p += 1,
                (Ok(()), Some(_)) => {
                    fl += 1;
                    failures.push(format!("{key}: {expr}: passes but is in skips.txt"));
                }
                (Err(e), Some(r)) => {
                    sk += 1;
                    new_skips.push(format!("{key} {r}"));
                    let _ = e;
                }
                (Err(e), None) => {
                    if write {
                        sk += 1;
                        new_skips.push(format!(
                            "{key} {}",
                            reason_for(&name, &e, c.uses_histograms)
                        ));
                    } else {
                        fl += 1;
                        failures.push(format!("{key}: {expr}: {e}"));
                    }
                }
            }
        }
        println!("{name}: {p} passed, {fl} failed, {sk} skipped");
        tp += p;
        tf += fl;
        ts += sk;
    }
    println!("total: {tp} passed, {tf} failed, {ts} skipped");
    if write {
        let mut out = String::from(
            "# file:line reason — cases of the promqltest files known to fail (generated from real runs)\n",
        );
        for l in &new_skips {
            out.push_str(l);
            out.push('\n');
        }
        std::fs::write(skips_path(), out).unwrap();
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} promqltest cases failed",
        failures.len()
    );
}
