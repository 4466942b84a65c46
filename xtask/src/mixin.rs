//! `cargo xtask mixin-metrics <mixin dir>`: compares the metric selectors of
//! a Thanos mixin (`alerts.yaml`, `rules.yaml`, `dashboards/*.json`) with our
//! own list of the metrics and labels it needs
//! (`crates/aeon/tests/data/thanos-mixin-metrics.txt`, which the
//! `thanos_mixin` end-to-end test checks against the running services).
//!
//! Every metric name the mixin selects must be in the list, and every label
//! it matches on, groups by or reads with `label_values` must be among the
//! list's labels for that name (target labels such as `job` and `instance`,
//! and `le`/`quantile`, are the scraper's or the type's, not the service's).
//! Names the list has and the mixin no longer selects are reported too. The
//! mixin is read only from the directory given (Thanos's repository,
//! `mixin/`); the repository holds no copy of it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Labels a selector may use that no service exports: the scraper's target
/// labels and the histogram/summary ones.
const NOT_SERVICE_LABELS: &[&str] = &[
    "job",
    "instance",
    "namespace",
    "pod",
    "le",
    "quantile",
    "__name__",
];

/// PromQL words that are not metric names.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    "Inf",
    "NaN",
    "AND",
    "OR",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// Per metric name: the labels the mixin uses and the files selecting it.
pub type Selected = BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>;

/// One entry of our list: the components exposing a metric and its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Required {
    /// Components (`query`, `store`, `sidecar`, `compact`; `-` for metrics
    /// of components or runtimes Aeon does not have), `!` before one that
    /// does not expose it yet.
    pub components: Vec<String>,
    /// Labels the mixin uses.
    pub labels: BTreeSet<String>,
}

/// Parses the list: `<components> <metric> <labels|-> <mixin files>` per
/// line, `#` comments.
pub fn parse_list(text: &str) -> Result<BTreeMap<String, Required>> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let [components, name, labels, _files] = f[..] else {
            bail!(
                "line {}: want `components metric labels files`: {line}",
                i + 1
            );
        };
        let labels = if labels == "-" {
            BTreeSet::new()
        } else {
            // `!label`: used by the mixin, exported by neither Thanos nor Aeon.
            labels
                .split(',')
                .map(|l| l.trim_start_matches('!').to_owned())
                .collect()
        };
        let req = Required {
            components: components.split(',').map(str::to_owned).collect(),
            labels,
        };
        if out.insert(name.to_owned(), req).is_some() {
            bail!("line {}: {name} listed twice", i + 1);
        }
    }
    Ok(out)
}

/// The PromQL expressions of a rule file: every `expr:` value, inline or a
/// `|` block.
pub fn rule_exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        i += 1;
        // `expr:` or `- expr:` (the first key of a list item).
        let key = l.trim_start();
        let key = key.strip_prefix("- ").unwrap_or(key);
        let Some(rest) = key.strip_prefix("expr:") else {
            continue;
        };
        let rest = rest.trim();
        if !rest.starts_with('|') && !rest.starts_with('>') {
            out.push(rest.trim_matches(['"', '\'']).to_owned());
            continue;
        }
        // The block ends at a line indented no deeper than the key.
        let indent = l.len() - key.len();
        let mut block = String::new();
        while i < lines.len() {
            let b = lines[i];
            if !b.trim().is_empty() && b.len() - b.trim_start().len() <= indent {
                break;
            }
            block.push_str(b.trim());
            block.push('\n');
            i += 1;
        }
        out.push(block);
    }
    out
}

/// The names a rule file records (`record:`).
pub fn recorded_names(yaml: &str) -> BTreeSet<String> {
    yaml.lines()
        .filter_map(|l| {
            l.trim_start()
                .strip_prefix("- record:")
                .or_else(|| l.trim_start().strip_prefix("record:"))
        })
        .map(|n| n.trim().trim_matches(['"', '\'']).to_owned())
        .collect()
}

/// The PromQL expressions of a Grafana dashboard: panel targets' `expr` and
/// templating queries (`query`/`definition` strings).
pub fn dashboard_exprs(json: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(json, &mut out);
    out
}

fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            // Template variables that are not queries (datasource, interval, custom).
            if matches!(
                m.get("type").and_then(serde_json::Value::as_str),
                Some("datasource" | "interval" | "custom" | "constant" | "textbox")
            ) {
                return;
            }
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr" | "query" | "definition", serde_json::Value::String(s)) => {
                        out.push(s.clone());
                    }
                    _ => walk(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
        _ => {}
    }
}

/// The metric names an expression selects, each with the labels it uses:
/// its matchers, the `by`/`without` labels of the aggregations around it,
/// and `label_values(name, label)`.
pub fn selectors(expr: &str) -> Vec<(String, BTreeSet<String>)> {
    // Comments out.
    let expr: String = expr
        .lines()
        .map(|l| l.split_once('#').map_or(l, |(a, _)| a))
        .collect::<Vec<_>>()
        .join("\n");
    let c: Vec<char> = expr.chars().collect();
    let mut out: Vec<(String, BTreeSet<String>)> = Vec::new();
    // Grouping labels of each open parenthesis; `pending` waits for the
    // aggregation's argument.
    let mut frames: Vec<BTreeSet<String>> = vec![BTreeSet::new()];
    let mut pending: Option<BTreeSet<String>> = None;
    let mut label_values: Option<usize> = None;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '"' || ch == '\'' || ch == '`' {
            i = skip_string(&c, i);
            continue;
        }
        if ch == '[' {
            while i < c.len() && c[i] != ']' {
                i += 1;
            }
            i += 1;
            continue;
        }
        if ch == '$' {
            // Grafana variables ($job, $__rate_interval, ${x}).
            i += 1;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || "_{}".contains(c[i])) {
                i += 1;
            }
            continue;
        }
        if ch == '(' {
            let mut f = frames.last().cloned().unwrap_or_default();
            f.extend(pending.take().unwrap_or_default());
            frames.push(f);
            i += 1;
            continue;
        }
        if ch == ')' {
            if frames.len() > 1 {
                frames.pop();
            }
            i += 1;
            continue;
        }
        if ch == ',' && label_values.is_some() {
            // label_values(metric, label)
            let start = skip_ws(&c, i + 1);
            let (word, end) = ident(&c, start);
            if let (Some(idx), false) = (label_values.take(), word.is_empty()) {
                out[idx].1.insert(word);
            }
            i = end.max(i + 1);
            continue;
        }
        if ch.is_ascii_digit() {
            // Numbers, durations (5m), exponents (1e-9).
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.') {
                i += 1;
            }
            continue;
        }
        if ch.is_ascii_alphabetic() || ch == '_' || ch == ':' {
            let (word, end) = ident(&c, i);
            let j = skip_ws(&c, end);
            let next = c.get(j).copied();
            if matches!(word.as_str(), "by" | "without") && next == Some('(') {
                let (labels, after) = label_list(&c, j);
                match pending.as_mut() {
                    Some(p) => p.extend(labels),
                    // `sum(x) by (l)`: the aggregation's argument is closed.
                    None => {
                        for (_, ls) in out.iter_mut().rev().take(1) {
                            ls.extend(labels.iter().cloned());
                        }
                    }
                }
                i = after;
                continue;
            }
            if matches!(
                word.as_str(),
                "on" | "ignoring" | "group_left" | "group_right"
            ) && next == Some('(')
            {
                let (_, after) = label_list(&c, j);
                i = after;
                continue;
            }
            if next == Some('(') {
                // A function or an aggregation.
                if is_aggregation(&word) {
                    pending.get_or_insert_with(BTreeSet::new);
                }
                if word == "label_values" {
                    label_values = Some(out.len());
                }
                i = end;
                continue;
            }
            if is_aggregation(&word) && matches!(next, Some('b') | Some('w')) {
                // `sum by (...) (...)`
                pending.get_or_insert_with(BTreeSet::new);
                i = end;
                continue;
            }
            if KEYWORDS.contains(&word.as_str()) {
                i = end;
                continue;
            }
            let mut labels = frames.last().cloned().unwrap_or_default();
            let mut after = end;
            if next == Some('{') {
                let (ls, a) = matchers(&c, j);
                labels.extend(ls);
                after = a;
            }
            out.push((word, labels));
            i = after;
            continue;
        }
        if ch == '{' {
            // A selector without a name: `{__name__=...}`; its matchers
            // name no metric of ours.
            let (_, a) = matchers(&c, i);
            i = a;
            continue;
        }
        i += 1;
    }
    out.retain(|(n, _)| !n.is_empty());
    for (_, ls) in &mut out {
        ls.retain(|l| !NOT_SERVICE_LABELS.contains(&l.as_str()));
    }
    out
}

fn is_aggregation(w: &str) -> bool {
    matches!(
        w,
        "sum"
            | "min"
            | "max"
            | "avg"
            | "group"
            | "stddev"
            | "stdvar"
            | "count"
            | "count_values"
            | "bottomk"
            | "topk"
            | "quantile"
            | "limitk"
            | "limit_ratio"
    )
}

fn skip_string(c: &[char], i: usize) -> usize {
    let q = c[i];
    let mut j = i + 1;
    while j < c.len() && c[j] != q {
        if c[j] == '\\' {
            j += 1;
        }
        j += 1;
    }
    j + 1
}

fn skip_ws(c: &[char], mut i: usize) -> usize {
    while i < c.len() && c[i].is_whitespace() {
        i += 1;
    }
    i
}

fn ident(c: &[char], start: usize) -> (String, usize) {
    let mut i = start;
    while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_' || c[i] == ':') {
        i += 1;
    }
    (c[start..i].iter().collect(), i)
}

/// `( a, b )` at `open`; returns the labels and the index after `)`.
fn label_list(c: &[char], open: usize) -> (Vec<String>, usize) {
    let mut i = open + 1;
    let mut out = Vec::new();
    while i < c.len() && c[i] != ')' {
        let (w, end) = ident(c, i);
        if w.is_empty() {
            i += 1;
        } else {
            out.push(w);
            i = end;
        }
    }
    (out, i + 1)
}

/// `{a="x", b=~"y"}` at `open`; returns the label names and the index after `}`.
fn matchers(c: &[char], open: usize) -> (Vec<String>, usize) {
    let mut i = open + 1;
    let mut out = Vec::new();
    let mut expect_name = true;
    while i < c.len() && c[i] != '}' {
        let ch = c[i];
        if ch == '"' || ch == '\'' || ch == '`' {
            i = skip_string(c, i);
            continue;
        }
        if ch == ',' {
            expect_name = true;
            i += 1;
            continue;
        }
        if expect_name && (ch.is_ascii_alphabetic() || ch == '_') {
            let (w, end) = ident(c, i);
            out.push(w);
            expect_name = false;
            i = end;
            continue;
        }
        i += 1;
    }
    (out, i + 1)
}

/// Every selector of the mixin in `dir`, by metric name: the labels used and
/// the files using it.
pub fn mixin_selectors(dir: &Path) -> Result<Selected> {
    let mut exprs: Vec<(String, String)> = Vec::new();
    for f in ["alerts.yaml", "rules.yaml"] {
        let p = dir.join(f);
        let text = std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))?;
        exprs.extend(rule_exprs(&text).into_iter().map(|e| (f.to_owned(), e)));
    }
    let dash = dir.join("dashboards");
    let mut files: Vec<_> = std::fs::read_dir(&dash)
        .with_context(|| format!("read {}", dash.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for p in files {
        let text = std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parse {}", p.display()))?;
        let name = format!(
            "dashboards/{}",
            p.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        );
        exprs.extend(
            dashboard_exprs(&json)
                .into_iter()
                .map(|e| (name.clone(), e)),
        );
    }
    // Series the recording rules make are the rules' output, not a service's.
    let recorded = recorded_names(&std::fs::read_to_string(dir.join("rules.yaml"))?);
    let mut out = Selected::new();
    for (file, e) in exprs {
        for (name, labels) in selectors(&e) {
            if recorded.contains(&name) {
                continue;
            }
            let entry = out.entry(name).or_default();
            entry.0.extend(labels);
            entry.1.insert(file.clone());
        }
    }
    Ok(out)
}

/// `cargo xtask mixin-metrics <dir> [--print]`: fails when the mixin selects
/// a name or label our list lacks; `--print` prints the mixin's selectors in
/// the list's format (components left as `?`), to start a new list from.
pub fn run(root: &Path, dir: &Path, print: bool) -> Result<()> {
    let found = mixin_selectors(dir)?;
    if print {
        for (name, (labels, files)) in &found {
            let ls: Vec<&str> = labels.iter().map(String::as_str).collect();
            let fs: Vec<&str> = files.iter().map(String::as_str).collect();
            let ls = if ls.is_empty() {
                "-".to_owned()
            } else {
                ls.join(",")
            };
            println!("? {name} {ls} {}", fs.join(","));
        }
        return Ok(());
    }
    let list_path = root.join("crates/aeon/tests/data/thanos-mixin-metrics.txt");
    let list = parse_list(
        &std::fs::read_to_string(&list_path)
            .with_context(|| format!("read {}", list_path.display()))?,
    )?;
    let mut problems = Vec::new();
    for (name, (labels, files)) in &found {
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        match list.get(name) {
            None => problems.push(format!(
                "missing from the list: {name} ({})",
                files.join(", ")
            )),
            Some(req) => {
                let lacking: Vec<&str> =
                    labels.difference(&req.labels).map(String::as_str).collect();
                if !lacking.is_empty() {
                    problems.push(format!(
                        "{name}: labels {lacking:?} used by {} are not in the list",
                        files.join(", ")
                    ));
                }
            }
        }
    }
    let stale: Vec<&String> = list.keys().filter(|n| !found.contains_key(*n)).collect();
    println!(
        "{} metric names selected by the mixin in {}, {} in our list",
        found.len(),
        dir.display(),
        list.len()
    );
    for n in &stale {
        println!("listed but not selected by the mixin (stale?): {n}");
    }
    if problems.is_empty() {
        println!("0 missing");
        Ok(())
    } else {
        for p in &problems {
            println!("{p}");
        }
        bail!("{} names or labels missing from the list", problems.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(e: &str) -> Vec<(String, Vec<String>)> {
        selectors(e)
            .into_iter()
            .map(|(n, l)| (n, l.into_iter().collect()))
            .collect()
    }

    #[test]
    fn selectors_with_matchers_and_grouping() {
        assert_eq!(
            sel(
                r#"sum by (job, handler) (rate(http_requests_total{code=~"5..", job=~"$job"}[5m])) / on (job) group_left sum(up)"#
            ),
            [
                (
                    "http_requests_total".into(),
                    vec!["code".into(), "handler".into()]
                ),
                ("up".into(), vec![]),
            ]
        );
        assert_eq!(
            sel(
                "histogram_quantile(0.99, sum by (le, grpc_type) (rate(grpc_server_handling_seconds_bucket[$__rate_interval]))) * 1e3"
            ),
            [(
                "grpc_server_handling_seconds_bucket".into(),
                vec!["grpc_type".into()]
            )]
        );
        assert_eq!(
            sel("label_values(thanos_objstore_bucket_operations_total, operation)"),
            [(
                "thanos_objstore_bucket_operations_total".into(),
                vec!["operation".into()]
            )]
        );
        assert_eq!(
            sel(
                "thanos_sidecar_prometheus_up == 0 AND on (namespace, pod) prometheus_tsdb_data_replay_duration_seconds != 0 # a comment naming_no_metric"
            ),
            [
                ("thanos_sidecar_prometheus_up".into(), vec![]),
                (
                    "prometheus_tsdb_data_replay_duration_seconds".into(),
                    vec![]
                ),
            ]
        );
    }

    #[test]
    fn rule_exprs_inline_and_blocks() {
        let y = "groups:\n- rules:\n  - alert: A\n    expr: |\n      sum(a)\n        > 1\n    for: 5m\n  - record: b\n    expr: rate(c[5m])\n  - expr: |\n      d\n    record: e\n";
        assert_eq!(rule_exprs(y), ["sum(a)\n> 1\n", "rate(c[5m])", "d\n"]);
        assert_eq!(recorded_names(y), ["b".to_owned(), "e".to_owned()].into());
    }
}
