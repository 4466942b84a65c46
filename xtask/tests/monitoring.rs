//! The chart's monitoring content, checked with the real promtool (Prometheus 3.5):
//! - `files/aeon-alerts.yaml` passes `promtool check rules`, its unit tests
//!   (`files/tests/aeon-alerts-test.yaml`) pass `promtool test rules`, and the
//!   PrometheusRule the chart renders from it is still a valid rule file;
//! - every dashboard in `files/dashboards/` is Grafana JSON with a Prometheus
//!   datasource variable, and every query in it parses as PromQL (promtool);
//! - alerts and dashboards only use metric names the services really export,
//!   derived from the `register(...)` calls in the crates' sources.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn files_dir() -> PathBuf {
    root().join("helm/aeon/files")
}

fn promtool() -> PathBuf {
    aeon_testkit::peers::promtool()
}

fn helm() -> PathBuf {
    aeon_testkit::peers::helm()
}

/// Runs `cmd` and returns stdout + stderr; panics with both when it fails.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// `promtool check rules` on `file`; returns the number of rules it found.
fn check_rules(file: &Path) -> usize {
    let out = run(Command::new(promtool()).args(["check", "rules"]).arg(file));
    let n = out
        .split("SUCCESS: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    n.unwrap_or_else(|| panic!("unexpected promtool output:\n{out}"))
}

fn alerts_text() -> String {
    std::fs::read_to_string(files_dir().join("aeon-alerts.yaml")).unwrap()
}

/// Alert names in file order.
fn alert_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .map(|s| s.trim().to_owned())
        .collect()
}

/// Every `expr:` of a rule file (single-line or `|` block).
fn rule_exprs(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut exprs = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = line.len() - line.trim_start().len();
        if let Some(rest) = line.trim().strip_prefix("expr:") {
            let rest = rest.trim();
            if rest == "|" || rest == "|-" {
                let mut body = String::new();
                while i + 1 < lines.len() {
                    let next = lines[i + 1];
                    let ni = next.len() - next.trim_start().len();
                    if !next.trim().is_empty() && ni <= indent {
                        break;
                    }
                    body.push_str(next.trim());
                    body.push(' ');
                    i += 1;
                }
                exprs.push(body.trim().to_owned());
            } else {
                exprs.push(rest.to_owned());
            }
        }
        i += 1;
    }
    exprs
}

#[test]
fn alert_rules_pass_promtool_check() {
    let text = alerts_text();
    let names = alert_names(&text);
    let found = check_rules(&files_dir().join("aeon-alerts.yaml"));
    assert_eq!(
        found,
        names.len(),
        "promtool counted a different number of rules than alerts"
    );
    assert!(found >= 15, "too few alerts: {names:?}");
    let unique: BTreeSet<_> = names.iter().collect();
    assert_eq!(
        unique.len(),
        names.len(),
        "duplicate alert names: {names:?}"
    );
    // Every component has alerts of its own.
    for part in [
        "Component",
        "Sidecar",
        "Shipper",
        "StoreGateway",
        "Compactor",
        "Bucket",
        "Querier",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(&format!("Aeon{part}"))),
            "no Aeon{part}* alert"
        );
    }
}

#[test]
fn every_alert_has_severity_annotations_and_a_runbook_section() {
    let text = alerts_text();
    let runbooks = std::fs::read_to_string(files_dir().join("runbooks.md")).unwrap();
    let blocks: Vec<&str> = text.split("- alert: ").skip(1).collect();
    assert_eq!(blocks.len(), alert_names(&text).len());
    for block in blocks {
        let name = block.lines().next().unwrap().trim();
        for key in ["severity: ", "summary: ", "description: ", "runbook: "] {
            assert!(block.contains(key), "alert {name} has no `{key}`");
        }
        let anchor = format!("runbooks.md#{}", name.to_lowercase());
        assert!(
            block.contains(&anchor),
            "alert {name} does not link {anchor}"
        );
        assert!(
            runbooks.contains(&format!("\n## {name}\n")),
            "runbooks.md has no section for {name}"
        );
    }
}

#[test]
fn alert_unit_tests_pass_promtool_test_rules() {
    let tests = std::fs::read_to_string(files_dir().join("tests/aeon-alerts-test.yaml")).unwrap();
    // The unit tests prove alerts firing (with labels) and staying quiet.
    assert!(
        tests.matches("exp_labels:").count() >= 2,
        "fewer than two firing alerts tested"
    );
    assert!(
        tests.matches("exp_alerts: []").count() >= 1,
        "no alert proven silent"
    );
    let out = run(Command::new(promtool()).current_dir(files_dir()).args([
        "test",
        "rules",
        "tests/aeon-alerts-test.yaml",
    ]));
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn rendered_prometheus_rule_is_a_valid_rule_file_with_every_alert() {
    let out = run(Command::new(helm())
        .current_dir(root().join("helm/aeon"))
        .args([
            "template",
            "rel",
            ".",
            "--show-only",
            "templates/prometheusrule.yaml",
            "--set",
            "prometheusRule.enabled=true",
            "--set",
            "prometheusRule.additionalLabels.team=obs",
            "--set",
            "prometheusRule.disabledAlerts={AeonCompactorHalted}",
        ]));
    assert!(out.contains("kind: PrometheusRule"), "{out}");
    // The spec (indented by two spaces) is exactly a rule file.
    let spec = out
        .split("\nspec:\n")
        .nth(1)
        .expect("no spec in the PrometheusRule");
    let rules: String = spec
        .lines()
        .map(|l| l.strip_prefix("  ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rendered.yaml");
    std::fs::write(&file, &rules).unwrap();
    let expected = alert_names(&alerts_text()).len() - 1;
    assert_eq!(
        check_rules(&file),
        expected,
        "one alert is disabled, the others stay"
    );
    assert!(!rules.contains("AeonCompactorHalted"));
    assert_eq!(
        rules.matches("team: obs").count(),
        expected,
        "additional labels go on every alert"
    );
    assert_eq!(
        rules.matches("severity: ").count(),
        expected,
        "the alerts' own labels are kept"
    );
}

const DASHBOARDS: [&str; 5] = [
    "overview",
    "querier",
    "store-gateway",
    "compactor",
    "sidecar",
];

fn dashboards() -> Vec<(String, Value)> {
    let dir = files_dir().join("dashboards");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut want: Vec<String> = DASHBOARDS
        .iter()
        .map(|d| format!("aeon-{d}.json"))
        .collect();
    want.sort();
    assert_eq!(found, want, "unexpected files in {}", dir.display());
    want.into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(dir.join(&f)).unwrap();
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{f} is not valid JSON: {e}"));
            (f, v)
        })
        .collect()
}

/// Panels including those nested in collapsed rows.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner);
        }
    }
    out
}

/// The PromQL of a dashboard: every target `expr` and every `label_values(<selector>, label)`
/// variable query (its selector).
fn dashboard_queries(name: &str, d: &Value) -> Vec<String> {
    let mut qs = Vec::new();
    for p in panels(d) {
        if p["type"] == "row" {
            continue;
        }
        let targets = p["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: panel {} has no targets", p["title"]));
        assert!(
            !targets.is_empty(),
            "{name}: panel {} has no queries",
            p["title"]
        );
        for t in targets {
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: target without expr in {}", p["title"]));
            qs.push(expr.to_owned());
        }
    }
    for v in d["templating"]["list"].as_array().unwrap() {
        if v["type"] != "query" {
            continue;
        }
        let q = v["query"]["query"]
            .as_str()
            .or_else(|| v["query"].as_str())
            .unwrap();
        let inner = q
            .strip_prefix("label_values(")
            .and_then(|s| s.strip_suffix(')'))
            .and_then(|s| s.rsplit_once(','))
            .map(|(sel, _)| sel.trim().to_owned())
            .unwrap_or_else(|| panic!("{name}: unsupported variable query {q}"));
        qs.push(inner);
    }
    qs
}

/// Replaces Grafana's variables by values PromQL accepts.
fn substitute_variables(expr: &str) -> String {
    let mut s = expr.to_owned();
    for (var, val) in [
        ("$__rate_interval", "5m"),
        ("$__interval", "1m"),
        ("$__range", "1h"),
        ("${job}", "x"),
        ("$job", "x"),
    ] {
        s = s.replace(var, val);
    }
    assert!(!s.contains('$'), "unknown Grafana variable in {expr}");
    s
}

#[test]
fn dashboards_are_grafana_json_with_a_prometheus_datasource_variable() {
    let mut uids = BTreeSet::new();
    for (f, d) in dashboards() {
        let schema = d["schemaVersion"].as_u64().unwrap_or(0);
        assert!((36..=41).contains(&schema), "{f}: schemaVersion {schema}");
        assert!(
            d["title"].as_str().unwrap().starts_with("Aeon / "),
            "{f}: title"
        );
        assert!(
            uids.insert(d["uid"].as_str().unwrap().to_owned()),
            "{f}: duplicate uid"
        );
        let vars = d["templating"]["list"].as_array().unwrap();
        let ds = vars
            .iter()
            .find(|v| v["type"] == "datasource")
            .unwrap_or_else(|| panic!("{f}: no datasource variable"));
        assert_eq!(
            ds["query"], "prometheus",
            "{f}: the datasource variable must select Prometheus sources"
        );
        let ds_ref = format!("${{{}}}", ds["name"].as_str().unwrap());
        let mut ids = BTreeSet::new();
        let mut queries = 0;
        for p in panels(&d) {
            let id = p["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("{f}: panel without id"));
            assert!(ids.insert(id), "{f}: duplicate panel id {id}");
            let pos = &p["gridPos"];
            let (x, w) = (pos["x"].as_u64().unwrap(), pos["w"].as_u64().unwrap());
            assert!(
                x + w <= 24 && pos["h"].as_u64().unwrap() > 0,
                "{f}: panel {id} outside the grid"
            );
            if p["type"] == "row" {
                continue;
            }
            assert_eq!(
                p["datasource"]["uid"],
                ds_ref.as_str(),
                "{f}: panel {id} does not use the variable"
            );
            for t in p["targets"].as_array().unwrap() {
                assert_eq!(t["datasource"]["type"], "prometheus", "{f}: panel {id}");
                queries += 1;
            }
        }
        assert!(queries >= 5, "{f}: only {queries} queries");
    }
}

#[test]
fn every_dashboard_query_parses_as_promql() {
    // Every query becomes a recording rule; promtool parses each expression.
    let mut rules = String::from("groups:\n  - name: dashboards\n    rules:\n");
    let mut n = 0;
    for (f, d) in dashboards() {
        for q in dashboard_queries(&f, &d) {
            let expr = substitute_variables(&q);
            rules.push_str(&format!(
                "      - record: dashboard:q{n}\n        expr: {}\n",
                serde_json::to_string(&expr).unwrap()
            ));
            n += 1;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboards.yaml");
    std::fs::write(&file, rules).unwrap();
    assert_eq!(check_rules(&file), n);
    assert!(n >= 60, "only {n} queries in the dashboards");
}

#[test]
fn a_broken_query_is_rejected_by_the_parse_check() {
    // The check above can fail: promtool rejects an unbalanced expression.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: \"sum(rate(x[5m])\"\n",
    )
    .unwrap();
    let out = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

// ---- metric names exported by the services, derived from their sources ----

/// Files registering metrics, by crate, and the fewest metrics each registers
/// (a check on the parser). Each registers on a sub-registry with a prefix,
/// except the shared instrumentation in `common`, which registers Thanos's
/// names on the service's root registry.
const METRIC_SOURCES: [(&str, &str, usize); 6] = [
    ("sidecar", "src/metrics.rs", 2),
    ("store-gateway", "src/metrics.rs", 2),
    ("querier", "src/metrics.rs", 1),
    ("compactor", "src/metrics.rs", 2),
    ("objstore", "src/instrumented.rs", 2),
    ("common", "src/metrics/http.rs", 5),
];

/// Reads the Rust string literal at the start of `s`; returns it and the rest.
fn string_literal(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start().strip_prefix('"')?;
    let end = s.find('"')?;
    Some((&s[..end], &s[end + 1..]))
}

/// Declared type of `field` in a struct of `src` (a line `    [pub ]field: Type,`).
fn field_type(src: &str, field: &str) -> Option<String> {
    src.lines().find_map(|l| {
        let l = l.strip_prefix("    ")?;
        if l.starts_with(' ') {
            return None;
        }
        // Any visibility: `pub`, `pub(crate)`, `pub(super)`.
        let l = match l.strip_prefix("pub") {
            Some(r) if r.starts_with(' ') => r.trim_start(),
            Some(r) if r.starts_with('(') => r.split_once(") ").map_or(l, |(_, t)| t),
            _ => l,
        };
        let ty = l.strip_prefix(field)?.strip_prefix(": ")?;
        Some(ty.trim_end().trim_end_matches(',').to_owned())
    })
}

/// Resolves `type Alias = ...;` declarations of `src` in `ty`.
fn resolve_alias(src: &str, ty: &str) -> String {
    for l in src.lines() {
        if let Some((alias, target)) = l.strip_prefix("type ").and_then(|r| r.split_once(" = "))
            && (ty == alias || ty.starts_with(&format!("{alias}<")))
        {
            return target.trim_end_matches(';').to_owned();
        }
    }
    ty.to_owned()
}

/// The series names a scrape of the services can contain, computed from the source:
/// prefix + registered name, plus `_total` for counters and `_bucket/_sum/_count`
/// for histograms (prometheus-client's OpenMetrics text encoding).
fn exported_metrics() -> BTreeMap<String, &'static str> {
    let mut out = BTreeMap::new();
    for (krate, file, min) in METRIC_SOURCES {
        let dir = root().join("crates").join(krate);
        let src = std::fs::read_to_string(dir.join(file)).unwrap();
        let prefix = if krate == "common" {
            String::new()
        } else {
            let (prefix, _) = src
                .split("sub_registry_with_prefix(")
                .nth(1)
                .and_then(string_literal)
                .unwrap_or_else(|| panic!("{krate}/{file}: no sub_registry_with_prefix"));
            format!("{prefix}_")
        };
        let prefix = if prefix.is_empty() || prefix.starts_with("aeon") {
            prefix.to_owned()
        } else {
            // Relative to the service's root registry, which must carry the `aeon` prefix.
            let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
            assert!(
                lib.contains("Registry::with_prefix(\"aeon\")"),
                "{krate}: root registry without aeon prefix"
            );
            format!("aeon_{prefix}")
        };
        let mut count = 0;
        for call in src.split(".register(").skip(1) {
            let Some((name, rest)) = string_literal(call) else {
                continue;
            };
            let (_help, rest) = string_literal(rest.trim_start().trim_start_matches(','))
                .unwrap_or_else(|| panic!("{krate}: no help text for {name}"));
            let field = rest
                .split(".clone()")
                .next()
                .and_then(|v| v.rsplit('.').next())
                .unwrap_or_else(|| panic!("{krate}: no metric value for {name}"))
                .trim();
            let ty = field_type(&src, field)
                .unwrap_or_else(|| panic!("{krate}: no type for field {field} ({name})"));
            let ty = resolve_alias(&src, &ty);
            // Thanos's names are registered on the root registry as they are.
            let base = if name.starts_with("thanos_") {
                name.to_owned()
            } else {
                format!("{prefix}{name}")
            };
            if ty.contains("Histogram") {
                for suffix in ["_bucket", "_sum", "_count"] {
                    out.insert(format!("{base}{suffix}"), "histogram");
                }
            } else if ty.contains("Counter") {
                out.insert(format!("{base}_total"), "counter");
            } else if ty.contains("Gauge") {
                out.insert(base, "gauge");
            } else {
                panic!("{krate}: unknown metric type {ty} of {name}");
            }
            count += 1;
        }
        assert!(
            count >= min,
            "{krate}/{file}: only {count} metrics found, is the parser outdated?"
        );
    }
    out
}

/// Metric names in a PromQL expression: identifiers outside string literals, not
/// followed by `(` (functions) and not keywords/label names inside braces or `by (...)`.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let (mut i, mut depth_brace, mut in_grouping) = (0, 0, 0usize);
    let mut paren_stack: Vec<bool> = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        if c == '{' {
            depth_brace += 1;
        } else if c == '}' {
            depth_brace -= 1;
        } else if c == '[' {
            // Durations: skip to the closing bracket.
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
        } else if c == ')' {
            if paren_stack.pop() == Some(true) {
                in_grouping -= 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            let next = chars.get(j).copied();
            let grouping = matches!(
                word.as_str(),
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            );
            if next == Some('(') {
                paren_stack.push(grouping);
                if grouping {
                    in_grouping += 1;
                }
                i = j + 1;
                continue;
            }
            let keyword = matches!(
                word.as_str(),
                "and" | "or" | "unless" | "bool" | "offset" | "inf" | "nan" | "group_left" | "group_right"
                    // Aggregations followed by `by (...)`/`without (...)` before their `(`.
                    | "sum" | "min" | "max" | "avg" | "group" | "stddev" | "stdvar" | "count"
                    | "count_values" | "bottomk" | "topk" | "quantile" | "limitk" | "limit_ratio"
            );
            if depth_brace == 0 && in_grouping == 0 && !keyword && !word.ends_with(':') {
                names.push(word);
            }
            continue;
        } else if c == '(' {
            paren_stack.push(false);
        }
        i += 1;
    }
    names
}

#[test]
fn metric_name_extraction_finds_selectors_only() {
    let names = metric_names(
        r#"sum by (job, le) (rate(aeon_a_total{job=~"x", code="aeon_not"}[5m])) / on (job) group_left bar and time() - baz > 0"#,
    );
    assert_eq!(names, ["aeon_a_total", "bar", "baz"]);
}

#[test]
fn alerts_and_dashboards_use_only_exported_metrics() {
    let exported = exported_metrics();
    assert!(
        exported.len() >= 60,
        "only {} exported series names found",
        exported.len()
    );
    // Names produced by Prometheus itself, not by Aeon.
    let prometheus_own: BTreeSet<&str> = ["up"].into();
    let mut used = BTreeSet::new();
    let mut check = |origin: &str, expr: &str| {
        let names = metric_names(expr);
        for n in names {
            assert!(
                exported.contains_key(&n) || prometheus_own.contains(n.as_str()),
                "{origin}: `{n}` is not exported by any service (expr: {expr})"
            );
            used.insert(n);
        }
    };
    for expr in rule_exprs(&alerts_text()) {
        check("aeon-alerts.yaml", &expr);
    }
    for (f, d) in dashboards() {
        let qs = dashboard_queries(&f, &d);
        let component = f
            .trim_start_matches("aeon-")
            .trim_end_matches(".json")
            .replace('-', "_");
        let own_prefix = match component.as_str() {
            "compactor" => "aeon_compact_".to_owned(),
            "sidecar" => "aeon_s".to_owned(), // aeon_sidecar_* and aeon_shipper_*
            "overview" => "aeon_".to_owned(),
            c => format!("aeon_{c}_"),
        };
        assert!(
            qs.iter()
                .any(|q| metric_names(q).iter().any(|n| n.starts_with(&own_prefix))),
            "{f} shows none of its component's metrics"
        );
        for q in qs {
            check(&f, &q);
        }
    }
    // The dashboards and alerts cover most of what the services export.
    // Thanos's names are the mixin's business (`thanos_mixin.rs`), not the chart's.
    let families: BTreeSet<String> = exported
        .keys()
        .filter(|k| !k.starts_with("thanos_"))
        .map(|k| {
            k.trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count")
                .to_owned()
        })
        .collect();
    let covered = families
        .iter()
        .filter(|f| used.iter().any(|u| u.starts_with(f.as_str())))
        .count();
    assert!(
        covered * 10 >= families.len() * 8,
        "dashboards and alerts use only {covered} of {} metric families",
        families.len()
    );
}

/// The chart loads a Thanos mixin given with `--set-file`: its alerts and
/// recording rules as a second PrometheusRule (a valid rule file with every
/// rule), its dashboards as ConfigMaps, and optionally Thanos's job names on
/// the ServiceMonitors so the mixin's job selectors match. (Small files of
/// our own in the mixin's shape; `cargo xtask mixin-metrics` and the e2e
/// test `thanos_mixin_metrics_are_exposed` cover the real mixin's metrics.)
#[test]
fn chart_loads_a_thanos_mixin_given_with_set_file() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = dir.path().join("alerts.yaml");
    std::fs::write(
        &alerts,
        "groups:\n- name: thanos-query\n  rules:\n  - alert: ThanosQueryIsDown\n    expr: |\n      absent(up{job=~\".*thanos-query.*\"} == 1)\n    for: 5m\n    labels:\n      severity: critical\n  - alert: ThanosQueryGrpcServerErrorRate\n    expr: |\n      sum by (job) (rate(grpc_server_handled_total{job=~\".*thanos-query.*\", grpc_code=\"Internal\"}[5m])) > 0\n    for: 5m\n",
    )
    .unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "groups:\n- name: thanos-query.rules\n  rules:\n  - expr: |\n      sum by (job) (rate(grpc_client_started_total{job=~\".*thanos-query.*\"}[5m]))\n    record: :grpc_client_started:sum_rate\n",
    )
    .unwrap();
    let dash = dir.path().join("query.json");
    std::fs::write(&dash, r#"{"title": "Thanos / Query", "panels": []}"#).unwrap();
    let out = run(Command::new(helm())
        .current_dir(root().join("helm/aeon"))
        .args([
            "template",
            "rel",
            ".",
            "--set",
            "prometheusRule.enabled=true",
            "--set",
            "serviceMonitor.enabled=true",
            "--set",
            "thanosMixin.jobNames=true",
        ])
        .arg("--set-file")
        .arg(format!("thanosMixin.alerts={}", alerts.display()))
        .arg("--set-file")
        .arg(format!("thanosMixin.rules={}", rules.display()))
        .arg("--set-file")
        .arg(format!(
            "thanosMixin.dashboards.query\\.json={}",
            dash.display()
        )));
    let docs: Vec<&str> = out.split("\n---\n").collect();
    let rule = docs
        .iter()
        .find(|d| d.contains("kind: PrometheusRule") && d.contains("rel-aeon-thanos-mixin"))
        .unwrap_or_else(|| panic!("no mixin PrometheusRule:\n{out}"));
    let spec = rule.split("\nspec:\n").nth(1).unwrap();
    let text: String = spec
        .lines()
        .map(|l| l.strip_prefix("  ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let file = dir.path().join("rendered.yaml");
    std::fs::write(&file, &text).unwrap();
    assert_eq!(
        check_rules(&file),
        3,
        "two alerts and one recording rule:\n{text}"
    );
    let cm = docs
        .iter()
        .find(|d| d.contains("rel-aeon-thanos-query-dashboard"))
        .unwrap_or_else(|| panic!("no mixin dashboard ConfigMap:\n{out}"));
    assert!(
        cm.contains("thanos-query.json: |-") && cm.contains("Thanos / Query"),
        "{cm}"
    );
    assert!(cm.contains("grafana_dashboard: \"1\""), "{cm}");
    for job in [
        "thanos-query",
        "thanos-store",
        "thanos-compact",
        "thanos-sidecar",
    ] {
        assert!(
            out.contains(&format!("replacement: ${{1}}-{job}\n")),
            "no ServiceMonitor relabels job to {job}:\n{out}"
        );
    }
    // Without the mixin, no second PrometheusRule and no Thanos job names.
    let plain = run(Command::new(helm())
        .current_dir(root().join("helm/aeon"))
        .args([
            "template",
            "rel",
            ".",
            "--set",
            "prometheusRule.enabled=true",
            "--set",
            "serviceMonitor.enabled=true",
        ]));
    assert!(!plain.contains("thanos-mixin"), "{plain}");
    assert!(!plain.contains("-thanos-"), "{plain}");
}
