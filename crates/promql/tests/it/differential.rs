//! Differential tests: random PromQL from a grammar, evaluated by our
//! engine (in process, over the test data in memory) and by a real
//! Prometheus 3.5 (over the same data backfilled by promtool), must give the
//! same results (labels exact, values within 1e-9 relative), the same
//! warnings and infos, and the same error type and message; random
//! mutations of valid queries must fail (or not) the same way.
//!
//! CI runs a bounded, seeded number. More on demand:
//! `AEON_PROMQL_DIFF_N=100000 AEON_PROMQL_DIFF_SEED=7 cargo nextest run -p
//! aeon-promql --all-features -E 'test(differential)' --no-capture`.
//! A difference found this way becomes a named case in `cases.rs`.

use std::time::Instant;

use aeon_promql::Engine;

mod cases;
mod compare;
mod data;
mod prom;
mod querygen;

use compare::Eval;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn random_eval(g: &mut querygen::Gen) -> Eval {
    let r = g.rng();
    if r.chance(50) {
        Eval::Instant(data::T0 + (r.below(200) as i64) * 61_000 + r.below(1000) as i64)
    } else {
        let start = data::T0 + (r.below(120) as i64) * 60_000 + r.below(60) as i64 * 1000;
        let len = (5 + r.below(60) as i64) * 60_000;
        let step = *r.pick(&[15_000i64, 30_000, 60_000, 137_000, 300_000]);
        Eval::Range(start, start + len, step)
    }
}

/// Runs `n` generated queries through both engines; returns the failures.
fn run(n: u64, seed: u64, mutate: bool) -> (u64, Vec<String>) {
    let all = data::generate();
    let prom = prom::Prometheus::start(&all);
    let mem = data::storage(&all);
    let engine = Engine::default();
    let mut g = querygen::Gen::new(seed);
    let mut failures = Vec::new();
    let mut differing = 0;
    let mut random = 0;
    let started = Instant::now();
    for i in 0..n {
        let mut q = g.query();
        if mutate {
            q = g.mutate(&q);
        }
        let e = random_eval(&mut g);
        let mut want = compare::theirs(&prom, &q, e);
        let mut got = compare::ours(&engine, &mem, &q, e);
        compare::mask_random(e, &mut want);
        compare::mask_random(e, &mut got);
        let mut d = compare::diff(&want, &got);
        if !d.is_empty() && random_in_prometheus(&prom, &q, e, &want) {
            random += 1;
            d.clear();
        }
        if !d.is_empty() {
            differing += 1;
            if failures.len() < 40 {
                failures.push(format!("#{i} {q}  {e:?}\n    {}", d.join("\n    ")));
            }
        }
    }
    eprintln!(
        "{n} {} queries (seed {seed}) in {:.1?}: {differing} differ; \
         {random} more not comparable (Prometheus answered differently when asked again)",
        if mutate { "mutated" } else { "generated" },
        started.elapsed()
    );
    (differing, failures)
}

/// Whether Prometheus answers `q` differently when asked again: the order
/// of series inside a query comes from Go maps there (a range query's inner
/// results, `count_values`), so e.g. `topk` ties over a computed vector or
/// `limitk` over `count_values` pick at random. Such a query has no one
/// answer to compare with; it is counted apart.
fn random_in_prometheus(
    prom: &prom::Prometheus,
    q: &str,
    e: Eval,
    want: &compare::Outcome,
) -> bool {
    (0..8).any(|_| {
        let mut again = compare::theirs(prom, q, e);
        compare::mask_random(e, &mut again);
        !compare::diff(want, &again).is_empty()
    })
}

#[test]
fn differential_random_queries_equal_prometheus() {
    let n = env_u64("AEON_PROMQL_DIFF_N", 300);
    let seed = env_u64("AEON_PROMQL_DIFF_SEED", 1);
    let (differing, failures) = run(n, seed, false);
    assert!(
        failures.is_empty(),
        "{differing} of {n} queries differ from Prometheus 3.5 (want, then got):\n{}",
        failures.join("\n")
    );
}

#[test]
fn differential_mutated_queries_fail_like_prometheus() {
    let n = env_u64("AEON_PROMQL_DIFF_N", 300);
    let seed = env_u64("AEON_PROMQL_DIFF_SEED", 1);
    let (differing, failures) = run(n, seed.wrapping_add(1_000_003), true);
    assert!(
        failures.is_empty(),
        "{differing} of {n} mutated queries differ from Prometheus 3.5 (want, then got):\n{}",
        failures.join("\n")
    );
}

#[test]
fn differential_named_cases_equal_prometheus() {
    let all = data::generate();
    let prom = prom::Prometheus::start(&all);
    let mem = data::storage(&all);
    let engine = Engine::default();
    let mut verbose = std::env::var_os("AEON_PROMQL_DIFF_VERBOSE").is_some();
    // Queries to look at (one per line, `@<ms>` or `@<start>:<end>:<step>`
    // then a space first for a time other than the cases' default).
    let adhoc: Vec<(String, String, Eval)> = match std::env::var("AEON_PROMQL_DIFF_QUERIES") {
        Ok(path) => {
            verbose = true;
            let text = std::fs::read_to_string(&path).unwrap();
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .enumerate()
                .map(|(i, l)| {
                    let (e, q) = match l.strip_prefix('@').and_then(|r| r.split_once(' ')) {
                        Some((t, q)) => {
                            let n: Vec<i64> = t.split(':').map(|x| x.parse().unwrap()).collect();
                            let e = match n[..] {
                                [t] => Eval::Instant(t),
                                [s, e, st] => Eval::Range(s, e, st),
                                _ => panic!("bad time {t}"),
                            };
                            (e, q)
                        }
                        None => (Eval::Instant(cases::T), l),
                    };
                    (format!("adhoc{i}"), q.to_string(), e)
                })
                .collect()
        }
        Err(_) => cases::CASES
            .iter()
            .map(|(n, q, e)| (n.to_string(), q.to_string(), *e))
            .collect(),
    };
    let mut failures = Vec::new();
    for (name, q, e) in &adhoc {
        let (q, e) = (q.as_str(), *e);
        let mut want = compare::theirs(&prom, q, e);
        let mut got = compare::ours(&engine, &mem, q, e);
        compare::mask_random(e, &mut want);
        compare::mask_random(e, &mut got);
        if verbose {
            eprintln!("{name}: {q}\n  prometheus: {want:?}\n  aeon:       {got:?}");
        }
        let d = compare::diff(&want, &got);
        if !d.is_empty() {
            failures.push(format!("{name}: {q}\n    {}", d.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "named cases differ from Prometheus 3.5:\n{}",
        failures.join("\n")
    );
}
