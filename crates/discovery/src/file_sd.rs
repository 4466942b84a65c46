//! Prometheus file SD files as endpoint lists (`--store.sd-files`): YAML or
//! JSON lists of target groups, of which only `targets` is used; file names
//! may be glob patterns (`*` and `?` in the last path component).

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Expands a glob pattern whose last path component may contain `*` and `?`.
/// A pattern without wildcards is returned as is (whether it exists or
/// not); an unreadable directory expands to nothing. Sorted.
pub fn expand_glob(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return vec![path.to_path_buf()];
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| wildcard(name.as_bytes(), n.as_bytes()))
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

fn wildcard(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => wildcard(&p[1..], s) || (!s.is_empty() && wildcard(p, &s[1..])),
        (Some(b'?'), Some(_)) => wildcard(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => wildcard(&p[1..], &s[1..]),
        _ => false,
    }
}

#[derive(serde::Deserialize)]
struct TargetGroup {
    #[serde(default)]
    targets: Vec<String>,
}

/// Reads one Prometheus file_sd file (`[{targets: [...]}]`): JSON when the
/// name ends in `.json`, YAML otherwise (an empty file is an empty list).
pub fn read_file_sd(path: &Path) -> Result<Vec<String>> {
    let err = |source: Box<dyn std::error::Error + Send + Sync>| Error::FileSd {
        path: path.display().to_string(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(Box::new(e)))?;
    let groups: Vec<TargetGroup> = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| err(Box::new(e)))?
    } else if text.trim().is_empty() {
        Vec::new()
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| err(Box::new(e)))?
    };
    Ok(groups.into_iter().flat_map(|g| g.targets).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_json_and_glob() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.yaml"),
            "- targets: ['a:1', 'b:2']\n- targets:\n  - c:3\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.json"),
            r#"[{"targets": ["d:4"], "labels": {"x": "y"}}]"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("other.txt"), "junk").unwrap();
        std::fs::write(dir.path().join("empty.yml"), "\n").unwrap();
        assert_eq!(
            read_file_sd(&dir.path().join("a.yaml")).unwrap(),
            ["a:1", "b:2", "c:3"]
        );
        assert_eq!(read_file_sd(&dir.path().join("b.json")).unwrap(), ["d:4"]);
        assert!(
            read_file_sd(&dir.path().join("empty.yml"))
                .unwrap()
                .is_empty()
        );
        let pat = format!("{}/*.{{yaml}}", dir.path().display());
        assert!(expand_glob(&pat).is_empty());
        let pat = format!("{}/?.*", dir.path().display());
        let files = expand_glob(&pat);
        assert_eq!(files.len(), 2, "{files:?}");
        let plain = format!("{}/missing.yaml", dir.path().display());
        assert_eq!(expand_glob(&plain), [PathBuf::from(&plain)]);
        assert!(read_file_sd(&dir.path().join("other.txt")).is_err());
        let e = read_file_sd(&dir.path().join("missing.yaml")).unwrap_err();
        assert!(e.to_string().contains("missing.yaml"), "{e}");
    }

    #[test]
    fn wildcards() {
        assert!(wildcard(b"*.yaml", b"a.yaml"));
        assert!(wildcard(b"*", b""));
        assert!(wildcard(b"a?c", b"abc"));
        assert!(!wildcard(b"a?c", b"ac"));
        assert!(!wildcard(b"*.yaml", b"a.yml"));
    }
}
