//! Prometheus relabelling as Thanos uses it to select blocks by their
//! external labels and `__block_id` (`--selector.relabel-config`, shared by
//! the store-gateway and the compactor): actions `replace`, `keep`, `drop`,
//! `hashmod`, `labelmap`, `labeldrop` and `labelkeep`, with Prometheus's
//! defaults (separator `;`, regex `(.*)` fully anchored, replacement `$1`).

use std::collections::BTreeMap;

use aeon_model::{Label, Labels};
use md5::{Digest, Md5};
use regex::Regex;
use serde::Deserialize;

use crate::{Error, Result};

/// A relabel action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Replace,
    Keep,
    Drop,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
}

impl Action {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "replace" => Self::Replace,
            "keep" => Self::Keep,
            "drop" => Self::Drop,
            "hashmod" => Self::HashMod,
            "labelmap" => Self::LabelMap,
            "labeldrop" => Self::LabelDrop,
            "labelkeep" => Self::LabelKeep,
            _ => return None,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    source_labels: Vec<String>,
    separator: Option<String>,
    regex: Option<String>,
    #[serde(default)]
    modulus: u64,
    target_label: Option<String>,
    replacement: Option<String>,
    action: Option<String>,
}

/// One compiled relabel rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub source_labels: Vec<String>,
    pub separator: String,
    /// The regex as written (before anchoring).
    pub regex_src: String,
    regex: Regex,
    pub modulus: u64,
    pub target_label: String,
    pub replacement: String,
    pub action: Action,
}

/// Compiles a Prometheus regex fully anchored, as Prometheus does.
fn anchored(src: &str) -> std::result::Result<Regex, regex::Error> {
    Regex::new(&format!("^(?s:{src})$"))
}

/// A compiled list of relabel rules, applied in order. The default (no
/// rules) keeps every non-empty label set unchanged.
#[derive(Debug, Clone, Default)]
pub struct Relabeler {
    rules: Vec<Rule>,
}

impl Relabeler {
    /// Parses a YAML list of relabel configs; `origin` names the flag or file.
    pub fn parse(yaml: &str, origin: &str) -> Result<Self> {
        parse_rules(yaml, origin).map(|rules| Self { rules })
    }

    /// The compiled rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Applies the rules in order. `None` when a rule drops the set or the
    /// result is empty (as in Thanos, a block without labels is never
    /// selected).
    pub fn process(&self, labels: &Labels) -> Option<Labels> {
        process(labels, &self.rules)
    }
}

fn parse_rules(yaml: &str, origin: &str) -> Result<Vec<Rule>> {
    let err = |reason: String| Error::Relabel {
        origin: origin.to_string(),
        reason,
    };
    if yaml.trim().is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<RawConfig> = serde_yaml_ng::from_str(yaml)
        .map_err(|e| err(format!("not a list of relabel configs: {e}")))?;
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let action_s = r.action.unwrap_or_else(|| "replace".into());
            let action = Action::parse(&action_s)
                .ok_or_else(|| err(format!("rule {i}: unknown relabel action {action_s:?}")))?;
            let regex_src = r.regex.unwrap_or_else(|| "(.*)".into());
            let regex = anchored(&regex_src)
                .map_err(|e| err(format!("rule {i}: invalid regex {regex_src:?}: {e}")))?;
            let target_label = r.target_label.unwrap_or_default();
            if matches!(action, Action::Replace | Action::HashMod) && target_label.is_empty() {
                return Err(err(format!(
                    "rule {i}: relabel configuration for {action_s} action requires 'target_label' value"
                )));
            }
            if action == Action::HashMod && r.modulus == 0 {
                return Err(err(format!(
                    "rule {i}: relabel configuration for hashmod requires non-zero modulus"
                )));
            }
            Ok(Rule {
                source_labels: r.source_labels,
                separator: r.separator.unwrap_or_else(|| ";".into()),
                regex_src,
                regex,
                modulus: r.modulus,
                target_label,
                replacement: r.replacement.unwrap_or_else(|| "$1".into()),
                action,
            })
        })
        .collect()
}

/// Prometheus's hashmod: md5 of `value`, last 8 bytes as a big-endian u64,
/// modulo `modulus`.
pub fn hashmod(value: &str, modulus: u64) -> u64 {
    let sum = Md5::digest(value.as_bytes());
    let mut last = [0u8; 8];
    last.copy_from_slice(&sum[8..16]);
    u64::from_be_bytes(last) % modulus.max(1)
}

fn process(labels: &Labels, configs: &[Rule]) -> Option<Labels> {
    let mut lb: BTreeMap<String, String> = labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    for cfg in configs {
        let val = cfg
            .source_labels
            .iter()
            .map(|n| lb.get(n).map_or("", String::as_str))
            .collect::<Vec<_>>()
            .join(&cfg.separator);
        match cfg.action {
            Action::Keep => {
                if !cfg.regex.is_match(&val) {
                    return None;
                }
            }
            Action::Drop => {
                if cfg.regex.is_match(&val) {
                    return None;
                }
            }
            Action::Replace => {
                let Some(caps) = cfg.regex.captures(&val) else {
                    continue;
                };
                let mut target = String::new();
                caps.expand(&cfg.target_label, &mut target);
                if !valid_label_name(&target) {
                    continue;
                }
                let mut res = String::new();
                caps.expand(&cfg.replacement, &mut res);
                if res.is_empty() {
                    lb.remove(&target);
                } else {
                    lb.insert(target, res);
                }
            }
            Action::HashMod => {
                lb.insert(
                    cfg.target_label.clone(),
                    hashmod(&val, cfg.modulus).to_string(),
                );
            }
            Action::LabelMap => {
                let renamed: Vec<(String, String)> = lb
                    .iter()
                    .filter(|(n, _)| cfg.regex.is_match(n))
                    .map(|(n, v)| {
                        (
                            cfg.regex
                                .replace_all(n, cfg.replacement.as_str())
                                .into_owned(),
                            v.clone(),
                        )
                    })
                    .collect();
                lb.extend(renamed);
            }
            Action::LabelDrop => lb.retain(|n, _| !cfg.regex.is_match(n)),
            Action::LabelKeep => lb.retain(|n, _| cfg.regex.is_match(n)),
        }
    }
    lb.retain(|_, v| !v.is_empty());
    if lb.is_empty() {
        return None;
    }
    Some(Labels::from_sorted(
        lb.into_iter()
            .map(|(name, value)| Label { name, value })
            .collect(),
    ))
}

fn valid_label_name(s: &str) -> bool {
    // Prometheus 3 accepts any non-empty UTF-8 name.
    !s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ChainExt as _;

    fn cfgs(y: &str) -> Vec<Rule> {
        Relabeler::parse(y, "test").unwrap().rules
    }

    #[test]
    fn hashmod_matches_prometheus() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e; last 8 bytes 0xe9800998ecf8427e.
        assert_eq!(hashmod("", 1000), 0xe980_0998_ecf8_427e % 1000);
        // md5("abc") = 900150983cd24fb0d6963f7d28e17f72.
        assert_eq!(hashmod("abc", u64::MAX), 0xd696_3f7d_28e1_7f72);
        assert_eq!(hashmod("abc", 3), 0xd696_3f7d_28e1_7f72 % 3);
        // Vectors from Prometheus's relabel tests (modulus 1000).
        assert_eq!(hashmod("baz", 1000), 976);
        assert_eq!(hashmod("foo\nbar", 1000), 734);
        let l = Labels::from_pairs(&[("a", "foo"), ("b", "bar"), ("c", "baz")]);
        let c =
            cfgs("- action: hashmod\n  source_labels: [c]\n  target_label: d\n  modulus: 1000\n");
        assert_eq!(process(&l, &c).unwrap().get("d"), Some("976"));
    }

    #[test]
    fn defaults_and_validation() {
        let c = cfgs("- target_label: x\n");
        assert_eq!(c[0].action, Action::Replace);
        assert_eq!(c[0].separator, ";");
        assert_eq!(c[0].regex_src, "(.*)");
        assert_eq!(c[0].replacement, "$1");
        let c = cfgs("- action: HashMod\n  target_label: s\n  modulus: 2\n");
        assert_eq!(c[0].action, Action::HashMod);
        for (bad, why) in [
            ("- action: hashmod\n  target_label: s\n", "modulus"),
            ("- action: hashmod\n  modulus: 3\n", "target_label"),
            ("- action: replace\n", "target_label"),
            ("- action: explode\n", "unknown relabel action"),
            ("- action: keep\n  regex: '('\n", "invalid regex"),
            ("- action: keep\n  bogus: 1\n", "bogus"),
            ("action: keep\n", "list"),
        ] {
            let e = Relabeler::parse(bad, "--selector.relabel-config")
                .unwrap_err()
                .chain();
            assert!(
                e.contains(why) && e.contains("--selector.relabel-config"),
                "{bad}: {e}"
            );
        }
        assert!(cfgs("").is_empty());
    }

    #[test]
    fn keep_and_drop_are_anchored() {
        let l = Labels::from_pairs(&[("cluster", "eu-west"), ("__block_id", "01A")]);
        let keep = cfgs("- action: keep\n  source_labels: [cluster]\n  regex: eu\n");
        assert!(process(&l, &keep).is_none(), "regex must be anchored");
        let keep = cfgs("- action: keep\n  source_labels: [cluster]\n  regex: eu-.*\n");
        assert_eq!(process(&l, &keep).unwrap(), l);
        let drop = cfgs("- action: drop\n  source_labels: [cluster]\n  regex: eu-west|us\n");
        assert!(process(&l, &drop).is_none());
        let drop = cfgs("- action: drop\n  source_labels: [missing]\n  regex: .+\n");
        assert_eq!(process(&l, &drop).unwrap(), l);
    }

    #[test]
    fn hashmod_sharding_selects_disjoint_complete_shards() {
        let ids: Vec<String> = (0..60).map(|i| format!("01HBLOCK{i:018}")).collect();
        let mut seen = vec![0; ids.len()];
        for shard in 0..3 {
            let c = cfgs(&format!(
                "- action: hashmod\n  source_labels: [__block_id]\n  target_label: shard\n  modulus: 3\n\
                 - action: keep\n  source_labels: [shard]\n  regex: \"{shard}\"\n"
            ));
            for (i, id) in ids.iter().enumerate() {
                let l = Labels::from_pairs(&[("__block_id", id.as_str()), ("r", "a")]);
                if let Some(out) = process(&l, &c) {
                    seen[i] += 1;
                    assert_eq!(out.get("shard"), Some(shard.to_string().as_str()));
                    assert_eq!(hashmod(id, 3), shard);
                }
            }
        }
        assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
    }

    #[test]
    fn replace_labelmap_labeldrop_labelkeep() {
        let l = Labels::from_pairs(&[("a", "foo-bar"), ("b", "x")]);
        let c = cfgs(
            "- source_labels: [a, b]\n  regex: '(\\w+)-(\\w+);(.*)'\n  target_label: c\n  replacement: '${2}_$3'\n",
        );
        assert_eq!(process(&l, &c).unwrap().get("c"), Some("bar_x"));
        // No match: unchanged. Empty replacement: delete the target.
        let c = cfgs("- source_labels: [a]\n  regex: nomatch\n  target_label: c\n");
        assert_eq!(process(&l, &c).unwrap(), l);
        let c = cfgs("- source_labels: [a]\n  target_label: b\n  replacement: ''\n");
        assert_eq!(process(&l, &c).unwrap().get("b"), None);
        let c = cfgs("- action: labelmap\n  regex: '(a)'\n  replacement: 'copy_$1'\n");
        assert_eq!(process(&l, &c).unwrap().get("copy_a"), Some("foo-bar"));
        let c = cfgs("- action: labeldrop\n  regex: a\n");
        assert_eq!(process(&l, &c).unwrap(), Labels::from_pairs(&[("b", "x")]));
        let c = cfgs("- action: labelkeep\n  regex: a\n");
        assert_eq!(
            process(&l, &c).unwrap(),
            Labels::from_pairs(&[("a", "foo-bar")])
        );
        // Everything dropped → the block is dropped.
        let c = cfgs("- action: labeldrop\n  regex: .*\n");
        assert!(process(&l, &c).is_none());
    }
}
