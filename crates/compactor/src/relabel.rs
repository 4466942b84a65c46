//! `--selector.relabel-config`: Prometheus relabel rules over a block's
//! external labels, with the actions Thanos supports for block selection
//! (`keep`, `drop`, `hashmod`). A block is skipped when a rule drops it or
//! the resulting label set is empty.
// TODO(lead): move to a lower crate (common or objstore) — the store-gateway's
// block selector needs exactly the same rules.

use aeon_model::{Label, Labels};
use serde::Deserialize;

use crate::{Error, Result};

/// The relabel actions usable for selecting blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Keep,
    Drop,
    #[serde(rename = "hashmod")]
    HashMod,
    Replace,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    source_labels: Vec<String>,
    #[serde(default)]
    separator: Option<String>,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    modulus: u64,
    #[serde(default)]
    target_label: String,
    #[serde(default)]
    replacement: Option<String>,
    #[serde(default)]
    action: Option<Action>,
}

/// One validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub source_labels: Vec<String>,
    pub separator: String,
    regex: regex::Regex,
    pub modulus: u64,
    pub target_label: String,
    pub action: Action,
}

/// A parsed relabel configuration (possibly empty: keeps everything).
#[derive(Debug, Clone, Default)]
pub struct RelabelConfig {
    pub rules: Vec<Rule>,
}

impl RelabelConfig {
    /// Parses the YAML list of rules; `origin` names the flag or file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let err = |reason: String| Error::RelabelConfig {
            origin: origin.to_string(),
            reason,
        };
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let raw: Option<Vec<RawRule>> =
            serde_yaml_ng::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut rules = Vec::new();
        for (i, r) in raw.unwrap_or_default().into_iter().enumerate() {
            let action = r.action.unwrap_or(Action::Replace);
            let pattern = r.regex.unwrap_or_else(|| "(.*)".to_string());
            let regex = regex::Regex::new(&format!("^(?s:{pattern})$"))
                .map_err(|e| err(format!("rule {i}: invalid regex {pattern:?}: {e}")))?;
            match action {
                Action::Keep | Action::Drop => {}
                Action::HashMod => {
                    if r.modulus == 0 {
                        return Err(err(format!("rule {i}: hashmod requires a modulus > 0")));
                    }
                    if r.target_label.is_empty() {
                        return Err(err(format!("rule {i}: hashmod requires a target_label")));
                    }
                }
                Action::Replace => {
                    return Err(err(format!(
                        "rule {i}: action replace is not supported for block selection \
                         (use keep, drop or hashmod)"
                    )));
                }
            }
            let _ = r.replacement;
            rules.push(Rule {
                source_labels: r.source_labels,
                separator: r.separator.unwrap_or_else(|| ";".to_string()),
                regex,
                modulus: r.modulus,
                target_label: r.target_label,
                action,
            });
        }
        Ok(Self { rules })
    }

    /// Applies the rules; `None` when the block is dropped or has no labels
    /// left (as in Thanos, blocks without external labels are never selected).
    pub fn process(&self, labels: &Labels) -> Option<Labels> {
        let mut cur = labels.clone();
        for r in &self.rules {
            let val = r
                .source_labels
                .iter()
                .map(|n| cur.get_or_empty(n))
                .collect::<Vec<_>>()
                .join(&r.separator);
            match r.action {
                Action::Keep => {
                    if !r.regex.is_match(&val) {
                        return None;
                    }
                }
                Action::Drop => {
                    if r.regex.is_match(&val) {
                        return None;
                    }
                }
                Action::HashMod => {
                    let m = sum64(&md5(val.as_bytes())) % r.modulus;
                    let mut v: Vec<Label> = cur.iter().cloned().collect();
                    v.push(Label {
                        name: r.target_label.clone(),
                        value: m.to_string(),
                    });
                    cur = Labels::new(v);
                }
                Action::Replace => {}
            }
        }
        if cur.iter().next().is_none() {
            None
        } else {
            Some(cur)
        }
    }
}

/// Prometheus's `sum64`: the last 8 bytes of the digest, big-endian.
fn sum64(h: &[u8; 16]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[8..]);
    u64::from_be_bytes(b)
}

/// MD5 (RFC 1321), needed only for `hashmod` compatibility with Prometheus.
fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    let (mut a0, mut b0, mut c0, mut d0) = (
        0x6745_2301u32,
        0xefcd_ab89u32,
        0x98ba_dcfeu32,
        0x1032_5476u32,
    );
    for chunk in msg.chunks_exact(64) {
        let mut m = [0u32; 16];
        for (i, w) in chunk.chunks_exact(4).enumerate() {
            m[i] = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        }
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&a0.to_le_bytes());
    out[4..8].copy_from_slice(&b0.to_le_bytes());
    out[8..12].copy_from_slice(&c0.to_le_bytes());
    out[12..].copy_from_slice(&d0.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn md5_matches_rfc1321_vectors() {
        assert_eq!(hex(&md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(&md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(&md5(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            )),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
        assert_eq!(
            hex(&md5(b"The quick brown fox jumps over the lazy dog")),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
    }

    #[test]
    fn keep_drop_and_hashmod_select_blocks() {
        let cfg = RelabelConfig::parse(
            "- action: hashmod\n  source_labels: [cluster]\n  target_label: shard\n  modulus: 2\n\
             - action: keep\n  source_labels: [shard]\n  regex: \"0\"\n\
             - action: drop\n  source_labels: [env]\n  regex: dev|test\n",
            "test",
        )
        .unwrap();
        // Prometheus: md5("eu1") last 8 bytes % 2, computed independently below.
        let shard_of = |v: &str| sum64(&md5(v.as_bytes())) % 2;
        let mut kept = 0;
        for c in ["eu1", "eu2", "us1", "us2", "ap1"] {
            let ls = Labels::from_pairs(&[("cluster", c), ("env", "prod")]);
            let out = cfg.process(&ls);
            assert_eq!(out.is_some(), shard_of(c) == 0, "{c}");
            if let Some(o) = out {
                kept += 1;
                assert_eq!(o.get("shard"), Some("0"));
            }
            let dev = Labels::from_pairs(&[("cluster", c), ("env", "dev")]);
            assert!(cfg.process(&dev).is_none());
        }
        assert!(
            kept > 0 && kept < 5,
            "hashmod should split 5 clusters: {kept}"
        );
        assert!(
            RelabelConfig::default()
                .process(&Labels::from_pairs(&[("a", "b")]))
                .is_some()
        );
        assert!(
            RelabelConfig::default()
                .process(&Labels::new(vec![]))
                .is_none()
        );
    }

    #[test]
    fn invalid_configs_name_the_origin() {
        let e = RelabelConfig::parse("- action: hashmod\n  source_labels: [a]\n", "file x.yml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.yml") && e.contains("modulus"), "{e}");
        let e = RelabelConfig::parse("- action: keep\n  regex: \"(\"\n", "f").unwrap_err();
        assert!(e.to_string().contains("regex"), "{e}");
        let e = RelabelConfig::parse("- action: replace\n", "f").unwrap_err();
        assert!(e.to_string().contains("replace"), "{e}");
        let e = RelabelConfig::parse("- bogus: 1\n", "f").unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }
}
