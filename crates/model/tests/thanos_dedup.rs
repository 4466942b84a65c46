//! Replica deduplication against Thanos's own test vectors.
//!
//! `data/thanos_dedup_iter.json` restates, as data, the inputs and Thanos's
//! expected outputs of Thanos v0.42.4's `pkg/dedup/iter_test.go`:
//! `TestDedupSeriesIterator` (two replicas, penalty), `TestDedupSeriesSet`
//! (penalty, with `isCounter` = the enclosing function is `rate`;
//! replicas grouped as Thanos's series set groups them: consecutive series
//! with equal labels), `TestDedupSeriesSet_Chain` and `TestOverlapSplitSet`.
//! Every case must give exactly Thanos's answer, or be listed in
//! [`DELIBERATE`] with the reason ours is right by Prometheus's semantics.

use aeon_model::dedup::{chain, penalty, split_lanes};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    penalty: Vec<Merge>,
    chain: Vec<Merge>,
    overlap_split: Vec<Split>,
}

#[derive(Deserialize)]
struct Merge {
    name: String,
    labels: std::collections::BTreeMap<String, String>,
    counter: bool,
    replicas: Vec<Vec<(i64, f64)>>,
    expected: Vec<(i64, f64)>,
}

#[derive(Deserialize)]
struct Split {
    name: String,
    chunks: Vec<(i64, i64)>,
    lanes: Vec<Vec<(i64, i64)>>,
}

/// Cases where ours deliberately gives another answer than Thanos's
/// (name, labels as `k=v,…`), with why. Empty: ours equals Thanos's on every
/// vector.
const DELIBERATE: &[(&str, &str, &str)] = &[];

fn vectors() -> Vectors {
    let text = include_str!("data/thanos_dedup_iter.json");
    serde_json::from_str(text).expect("test data is valid JSON")
}

fn label_text(m: &Merge) -> String {
    m.labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn check(kind: &str, cases: &[Merge], run: impl Fn(&Merge) -> Vec<(i64, f64)>) -> usize {
    let mut failures = Vec::new();
    for c in cases {
        let got = run(c);
        let deliberate = DELIBERATE
            .iter()
            .any(|(n, l, _)| *n == c.name && *l == label_text(c));
        if deliberate {
            assert_ne!(
                got,
                c.expected,
                "{kind} {:?} {{{}}} is listed as deliberately different but equals Thanos's answer",
                c.name,
                label_text(c)
            );
        } else if got != c.expected {
            failures.push(format!(
                "{kind} {:?} {{{}}} (counter: {}):\n  thanos: {:?}\n  ours:   {:?}",
                c.name,
                label_text(c),
                c.counter,
                c.expected,
                got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    cases.len()
}

#[test]
fn penalty_dedup_gives_thanos_answers() {
    let v = vectors();
    let n = check("penalty", &v.penalty, |c| penalty(&c.replicas, c.counter));
    assert_eq!(n, 18, "every penalty vector of iter_test.go runs");
}

#[test]
fn chain_dedup_gives_thanos_answers() {
    let v = vectors();
    let n = check("chain", &v.chain, |c| chain(&c.replicas));
    assert_eq!(n, 7, "every chain vector of iter_test.go runs");
}

#[test]
fn overlap_split_gives_thanos_lanes() {
    let v = vectors();
    assert_eq!(v.overlap_split.len(), 6);
    for s in &v.overlap_split {
        let lanes = split_lanes(s.chunks.clone(), |c| *c);
        assert_eq!(lanes, s.lanes, "overlap split of {:?}", s.name);
    }
}
