//! A runner for Prometheus's promqltest scripting language (`load`, `clear`,
//! `eval ...` with expectations), used to prove conformance with upstream's
//! `.test` files and our own.

use std::collections::HashMap;

use aeon_model::{Labels, METRIC_NAME, MatchType, stale_nan};

use crate::ast::Expr;
use crate::engine::{Engine, EngineOpts, QueryParams};
use crate::nativehist::FloatHistogram;
use crate::parser::parse;
use crate::storage::MemStorage;
use crate::value::{AnnotationKind, Value, format_float};

/// One value of a series description.
#[derive(Debug, Clone, PartialEq)]
pub enum SeqValue {
    /// A float.
    Float(f64),
    /// A missing sample (`_`).
    Omitted,
    /// A native histogram.
    Histogram(Box<FloatHistogram>),
}

/// Parses a duration/timestamp of the test language (`50m`, `0`, `10s53ms`) into ms.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(d) = crate::lexer::parse_duration(s) {
        return Some(d);
    }
    s.parse::<f64>().ok().map(|v| (v * 1000.0).round() as i64)
}

/// Parses `metric{a="b"} 1+2x3 _ stale` into labels and values.
pub fn parse_series_desc(line: &str) -> Result<(Labels, Vec<SeqValue>), String> {
    let line = line.trim();
    let split = series_end(line);
    let (sel, vals) = line.split_at(split);
    let labels = if sel.trim() == "{}" || sel.trim().is_empty() {
        Labels::empty()
    } else {
        labels_of(sel.trim())?
    };
    Ok((labels, parse_values(vals)?))
}

fn series_end(line: &str) -> usize {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'{' {
        i += 1;
    }
    if i < b.len() && b[i] == b'{' {
        let mut quote: Option<u8> = None;
        while i < b.len() {
            let c = b[i];
            match quote {
                Some(q) => {
                    if c == b'\\' {
                        i += 1;
                    } else if c == q {
                        quote = None;
                    }
                }
                None => {
                    if c == b'"' || c == b'\'' || c == b'`' {
                        quote = Some(c);
                    } else if c == b'}' {
                        return i + 1;
                    }
                }
            }
            i += 1;
        }
    }
    i
}

fn labels_of(sel: &str) -> Result<Labels, String> {
    match parse(sel).map_err(|e| e.to_string())? {
        Expr::Vector(vs) => {
            let mut pairs = Vec::new();
            for m in vs.matchers {
                if m.kind != MatchType::Equal {
                    return Err(format!("invalid series matcher {m}"));
                }
                pairs.push(aeon_model::Label::new(m.name, m.value));
            }
            Ok(Labels::new(pairs))
        }
        _ => Err(format!("invalid series description {sel:?}")),
    }
}

fn parse_num(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" => return Some(f64::INFINITY),
        "-inf" => return Some(f64::NEG_INFINITY),
        "nan" | "+nan" | "-nan" => return Some(f64::NAN),
        _ => {}
    }
    s.parse().ok()
}

fn parse_values(s: &str) -> Result<Vec<SeqValue>, String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if s[i..].starts_with("{{") {
            // Native histogram, possibly with expanding notation.
            let parse_h = |from: usize| -> Result<(FloatHistogram, usize), String> {
                let end = s[from..].find("}}").ok_or("unterminated histogram")? + from;
                Ok((
                    FloatHistogram::parse_notation(&s[from + 2..end]).map_err(|e| e.to_string())?,
                    end + 2,
                ))
            };
            let (base, mut j) = parse_h(i)?;
            let mut delta: Option<(FloatHistogram, f64)> = None;
            if s[j..].starts_with("+{{") || s[j..].starts_with("-{{") {
                let sign = if s[j..].starts_with('-') { -1.0 } else { 1.0 };
                let (d, e) = parse_h(j + 1)?;
                delta = Some((d, sign));
                j = e;
            }
            let mut n = 0;
            if s[j..].starts_with('x') {
                let k = s[j + 1..]
                    .find(|c: char| !c.is_ascii_digit())
                    .map_or(s.len(), |k| k + j + 1);
                n = s[j + 1..k].parse::<usize>().map_err(|e| e.to_string())?;
                j = k;
            }
            let mut cur = base;
            for k in 0..=n {
                if k > 0 {
                    if let Some((d, sign)) = &delta {
                        let mut d = d.clone();
                        d.mul(*sign);
                        cur.add(&d).map_err(|e| format!("{e:?}"))?;
                        cur.counter_reset_hint = d.counter_reset_hint;
                    }
                }
                out.push(SeqValue::Histogram(Box::new(cur.clone())));
            }
            i = j;
            continue;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let tok = &s[start..i];
        expand(tok, &mut out)?;
    }
    Ok(out)
}

fn expand(tok: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    if tok == "_" {
        out.push(SeqValue::Omitted);
        return Ok(());
    }
    if tok == "stale" {
        out.push(SeqValue::Float(stale_nan()));
        return Ok(());
    }
    if let Some(n) = tok.strip_prefix("_x") {
        let n: usize = n.parse().map_err(|_| format!("bad value {tok:?}"))?;
        out.extend(std::iter::repeat_n(SeqValue::Omitted, n));
        return Ok(());
    }
    if let Some(v) = parse_num(tok) {
        out.push(SeqValue::Float(v));
        return Ok(());
    }
    // a+bxn, a-bxn, axn
    let x = tok.rfind('x').ok_or_else(|| format!("bad value {tok:?}"))?;
    let n: usize = tok[x + 1..]
        .parse()
        .map_err(|_| format!("bad value {tok:?}"))?;
    let head = &tok[..x];
    let (a, b) = match head[1..].find(['+', '-']).map(|k| k + 1) {
        Some(k) if !matches!(head.as_bytes()[k - 1], b'e' | b'E') => {
            let a = parse_num(&head[..k]).ok_or_else(|| format!("bad value {tok:?}"))?;
            let b = parse_num(&head[k + 1..]).ok_or_else(|| format!("bad value {tok:?}"))?;
            (a, if head.as_bytes()[k] == b'-' { -b } else { b })
        }
        _ => (
            parse_num(head).ok_or_else(|| format!("bad value {tok:?}"))?,
            0.0,
        ),
    };
    for k in 0..=n {
        out.push(SeqValue::Float(a + b * k as f64));
    }
    Ok(())
}

/// Compares histograms like promqltest: empty buckets ignored, floats within epsilon.
fn histograms_match(e: &FloatHistogram, a: &FloatHistogram) -> bool {
    let (mut e, mut a) = (e.clone(), a.clone());
    e.compact();
    a.compact();
    let eq = |x: f64, y: f64| almost_equal(x, y, EPSILON);
    let maps = |x: &std::collections::BTreeMap<i32, f64>,
                y: &std::collections::BTreeMap<i32, f64>| {
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.0 == q.0 && eq(*p.1, *q.1))
    };
    e.schema == a.schema
        && eq(e.count, a.count)
        && eq(e.sum, a.sum)
        && (!e.uses_custom_buckets() || e.custom_values == a.custom_values)
        && e.zero_threshold == a.zero_threshold
        && eq(e.zero_count, a.zero_count)
        && maps(&e.positive, &a.positive)
        && maps(&e.negative, &a.negative)
}

/// Converts classic histogram series (`_bucket`/`_count`/`_sum`) into native
/// histograms with custom buckets, as `load_with_nhcb` does.
fn nhcb_series(series: &[(Labels, Vec<SeqValue>)]) -> Vec<(Labels, Vec<Option<FloatHistogram>>)> {
    type Parts = (
        Vec<(f64, Vec<SeqValue>)>,
        Option<Vec<SeqValue>>,
        Option<Vec<SeqValue>>,
    );
    let mut groups: Vec<(Labels, Parts)> = Vec::new();
    for (labels, vals) in series {
        let name = labels.get_or_empty(METRIC_NAME);
        let (base, kind) = if let Some(b) = name.strip_suffix("_bucket") {
            (b, 0)
        } else if let Some(b) = name.strip_suffix("_count") {
            (b, 1)
        } else if let Some(b) = name.strip_suffix("_sum") {
            (b, 2)
        } else {
            continue;
        };
        let mut b = labels.without(&["le"]).builder();
        b.set(METRIC_NAME, base);
        let key = b.build();
        let idx = match groups.iter().position(|g| g.0 == key) {
            Some(i) => i,
            None => {
                groups.push((key, (vec![], None, None)));
                groups.len() - 1
            }
        };
        let g = &mut groups[idx].1;
        match kind {
            0 => {
                let Some(le) = crate::histogram::parse_go_float(labels.get_or_empty("le")) else {
                    continue;
                };
                g.0.push((le, vals.clone()));
            }
            1 => g.1 = Some(vals.clone()),
            _ => g.2 = Some(vals.clone()),
        }
    }
    let mut out = Vec::new();
    for (labels, (mut buckets, count, sum)) in groups {
        if buckets.is_empty() {
            continue;
        }
        buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        let n = buckets.iter().map(|b| b.1.len()).max().unwrap_or(0);
        let mut hs = Vec::with_capacity(n);
        for k in 0..n {
            let mut h = FloatHistogram {
                schema: crate::nativehist::CUSTOM_BUCKETS_SCHEMA,
                ..Default::default()
            };
            let mut prev = 0.0;
            let mut ok = true;
            for (i, (le, vals)) in buckets.iter().enumerate() {
                let Some(SeqValue::Float(c)) = vals.get(k) else {
                    ok = false;
                    break;
                };
                if le.is_finite() {
                    h.custom_values.push(*le);
                }
                h.positive.insert(i as i32, c - prev);
                prev = *c;
            }
            if !ok {
                hs.push(None);
                continue;
            }
            h.count = match count.as_ref().and_then(|c| c.get(k)) {
                Some(SeqValue::Float(c)) => *c,
                _ => prev,
            };
            if let Some(SeqValue::Float(s)) = sum.as_ref().and_then(|c| c.get(k)) {
                h.sum = *s;
            }
            hs.push(Some(h));
        }
        out.push((labels, hs));
    }
    out
}

/// Go's `almost.Equal`.
pub fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let min_normal = f64::MIN_POSITIVE;
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < min_normal {
        return diff < eps * min_normal;
    }
    diff / abs_sum.min(f64::MAX) < eps
}

const EPSILON: f64 = 0.000001;

#[derive(Debug, Clone)]
struct Expect {
    kind: String,
    msg: Option<String>,
    regex: Option<regex::Regex>,
}

impl Expect {
    fn matches(&self, s: &str) -> bool {
        match (&self.msg, &self.regex) {
            (Some(m), _) => m == s,
            (_, Some(r)) => r.is_match(s),
            _ => true,
        }
    }
}

/// One `eval` command.
#[derive(Debug, Clone)]
pub struct EvalCase {
    /// 1-based line of the `eval` line.
    pub line: usize,
    /// The query.
    pub expr: String,
    start: i64,
    end: i64,
    step: i64,
    is_range: bool,
    fail: bool,
    warn: bool,
    info: bool,
    ordered: bool,
    fail_msg: Option<String>,
    fail_regex: Option<regex::Regex>,
    expects: Vec<Expect>,
    expect_scalar: Option<f64>,
    expected: Vec<(Labels, Vec<SeqValue>)>,
}

/// A command of a test script.
#[derive(Debug, Clone)]
pub enum Command {
    /// `load <interval>` with series.
    Load {
        /// Interval in ms.
        interval: i64,
        /// The series.
        series: Vec<(Labels, Vec<SeqValue>)>,
        /// `load_with_nhcb`: classic histograms are also loaded as native histograms with custom buckets.
        nhcb: bool,
    },
    /// `clear`.
    Clear,
    /// An `eval`.
    Eval(Box<EvalCase>),
}

/// Parses a test script into commands.
pub fn parse_script(input: &str) -> Result<Vec<Command>, String> {
    let lines: Vec<&str> = input.lines().collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            i += 1;
            continue;
        }
        let lineno = i + 1;
        if l == "clear" {
            cmds.push(Command::Clear);
            i += 1;
        } else if let Some(rest) = l.strip_prefix("load") {
            let nhcb = rest.starts_with("_with_nhcb");
            let rest = rest.strip_prefix("_with_nhcb").unwrap_or(rest);
            let interval =
                parse_time(rest).ok_or_else(|| format!("line {lineno}: bad load interval"))?;
            let mut series = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim().is_empty() {
                let t = lines[i].trim();
                if !t.starts_with('#') {
                    series.push(parse_series_desc(t).map_err(|e| format!("line {}: {e}", i + 1))?);
                }
                i += 1;
            }
            cmds.push(Command::Load {
                interval,
                series,
                nhcb,
            });
        } else if l.starts_with("eval") {
            let case = parse_eval(&lines, &mut i)?;
            cmds.push(Command::Eval(Box::new(case)));
        } else {
            return Err(format!("line {lineno}: unknown command {l:?}"));
        }
    }
    Ok(cmds)
}

fn parse_eval(lines: &[&str], i: &mut usize) -> Result<EvalCase, String> {
    let lineno = *i + 1;
    let l = lines[*i].trim();
    let (head, rest) = l
        .split_once(char::is_whitespace)
        .ok_or(format!("line {lineno}: bad eval"))?;
    let modifier = head
        .strip_prefix("eval")
        .unwrap_or("")
        .trim_start_matches('_')
        .to_string();
    let rest = rest.trim();
    let mut case = EvalCase {
        line: lineno,
        expr: String::new(),
        start: 0,
        end: 0,
        step: 0,
        is_range: false,
        fail: modifier == "fail",
        warn: modifier == "warn",
        info: modifier == "info",
        ordered: modifier == "ordered",
        fail_msg: None,
        fail_regex: None,
        expects: vec![],
        expect_scalar: None,
        expected: vec![],
    };
    let bad = || format!("line {lineno}: bad eval command");
    if let Some(r) = rest.strip_prefix("instant") {
        let r = r.trim().strip_prefix("at").ok_or_else(bad)?.trim();
        let (at, expr) = r.split_once(char::is_whitespace).ok_or_else(bad)?;
        case.start = parse_time(at).ok_or_else(bad)?;
        case.end = case.start;
        case.expr = expr.trim().to_string();
    } else if let Some(r) = rest.strip_prefix("range") {
        let r = r.trim().strip_prefix("from").ok_or_else(bad)?.trim();
        let (from, r) = r.split_once(" to ").ok_or_else(bad)?;
        let (to, r) = r.trim().split_once(" step ").ok_or_else(bad)?;
        let (step, expr) = r.trim().split_once(char::is_whitespace).ok_or_else(bad)?;
        case.start = parse_time(from).ok_or_else(bad)?;
        case.end = parse_time(to).ok_or_else(bad)?;
        case.step = parse_time(step).ok_or_else(bad)?;
        case.is_range = true;
        case.expr = expr.trim().to_string();
    } else {
        return Err(bad());
    }
    *i += 1;
    while *i < lines.len() && !lines[*i].trim().is_empty() {
        let t = lines[*i].trim();
        if t.starts_with("eval") || t.starts_with("load") || t == "clear" {
            break;
        }
        *i += 1;
        if t.starts_with('#') {
            continue;
        }
        if let Some(m) = t.strip_prefix("expected_fail_message") {
            case.fail_msg = Some(m.trim().to_string());
            continue;
        }
        if let Some(m) = t.strip_prefix("expected_fail_regexp") {
            case.fail_regex = Some(regex::Regex::new(m.trim()).map_err(|e| e.to_string())?);
            continue;
        }
        if let Some(e) = t.strip_prefix("expect ") {
            let e = e.trim();
            let (kind, tail) = match e.split_once(char::is_whitespace) {
                Some((k, t)) => (k.to_string(), t.trim()),
                None => (e.to_string(), ""),
            };
            let mut ex = Expect {
                kind: kind.clone(),
                msg: None,
                regex: None,
            };
            if let Some(m) = tail.strip_prefix("msg:") {
                let m = m.trim();
                let m = m
                    .strip_prefix('"')
                    .and_then(|x| x.strip_suffix('"'))
                    .unwrap_or(m);
                ex.msg = Some(m.to_string());
            } else if let Some(r) = tail.strip_prefix("regex:") {
                let r = r.trim();
                let r = r
                    .strip_prefix('"')
                    .and_then(|x| x.strip_suffix('"'))
                    .unwrap_or(r);
                ex.regex = Some(regex::Regex::new(r).map_err(|e| e.to_string())?);
            }
            match kind.as_str() {
                "fail" => case.fail = true,
                "ordered" => case.ordered = true,
                _ => {}
            }
            case.expects.push(ex);
            continue;
        }
        if let Some(v) = parse_num(t) {
            case.expect_scalar = Some(v);
            continue;
        }
        case.expected
            .push(parse_series_desc(t).map_err(|e| format!("line {}: {e}", *i))?);
    }
    Ok(case)
}

/// The outcome of one `eval`.
#[derive(Debug)]
pub struct CaseResult {
    /// 1-based line of the `eval`.
    pub line: usize,
    /// The query.
    pub expr: String,
    /// Ok, or why the case failed.
    pub outcome: Result<(), String>,
    /// The case reads series loaded with native histogram samples, or expects histograms.
    pub uses_histograms: bool,
}

/// The outcome of running one script.
#[derive(Debug, Default)]
pub struct ScriptResult {
    /// `(line, query, Ok or failure message)` per eval.
    pub cases: Vec<CaseResult>,
}

/// Runs a script against a fresh in-memory storage and the engine options
/// Prometheus's test engine uses.
pub fn run_script(input: &str) -> Result<ScriptResult, String> {
    let cmds = parse_script(input)?;
    let engine = Engine::new(EngineOpts {
        max_samples: 50_000_000,
        delayed_name_removal: true,
        ..EngineOpts::default()
    });
    let mut storage = MemStorage::new();
    let mut res = ScriptResult::default();
    let mut hist_names: Vec<String> = Vec::new();
    for c in cmds {
        match c {
            Command::Clear => {
                storage.clear();
                hist_names.clear();
            }
            Command::Load {
                interval,
                series,
                nhcb,
            } => {
                if nhcb {
                    hist_names.push("nhcb".to_string());
                    for (labels, h) in nhcb_series(&series) {
                        for (k, h) in h.into_iter().enumerate() {
                            if let Some(h) = h {
                                storage.append_histogram(labels.clone(), k as i64 * interval, h);
                            }
                        }
                    }
                }
                for (labels, vals) in series {
                    if vals.iter().any(|v| matches!(v, SeqValue::Histogram(_))) {
                        hist_names.push(labels.get_or_empty(METRIC_NAME).to_string());
                    }
                    for (k, v) in vals.iter().enumerate() {
                        match v {
                            SeqValue::Float(f) => {
                                storage.append(labels.clone(), k as i64 * interval, *f)
                            }
                            SeqValue::Histogram(h) => storage.append_histogram(
                                labels.clone(),
                                k as i64 * interval,
                                (**h).clone(),
                            ),
                            SeqValue::Omitted => {}
                        }
                    }
                }
            }
            Command::Eval(case) => {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_eval(&engine, &storage, &case)
                }))
                .unwrap_or_else(|_| Err("panic during evaluation".to_string()));
                let uses_histograms = !hist_names.is_empty()
                    || case
                        .expected
                        .iter()
                        .any(|(_, v)| v.iter().any(|x| matches!(x, SeqValue::Histogram(_))));
                res.cases.push(CaseResult {
                    line: case.line,
                    expr: case.expr.clone(),
                    outcome,
                    uses_histograms,
                });
            }
        }
    }
    Ok(res)
}

fn check_fail(case: &EvalCase, err: &str) -> Result<(), String> {
    if let Some(m) = &case.fail_msg {
        if m != err {
            return Err(format!("expected error {m:?}, got {err:?}"));
        }
    }
    if let Some(r) = &case.fail_regex {
        if !r.is_match(err) {
            return Err(format!("expected error matching {r}, got {err:?}"));
        }
    }
    if let Some(e) = case.expects.iter().find(|e| e.kind == "fail") {
        if !e.matches(err) {
            return Err(format!(
                "expected error matching {:?}/{:?}, got {err:?}",
                e.msg,
                e.regex.as_ref().map(|r| r.as_str())
            ));
        }
    }
    Ok(())
}

fn check_annotations(case: &EvalCase, annos: &[crate::Annotation]) -> Result<(), String> {
    let warns: Vec<String> = annos
        .iter()
        .filter(|a| a.kind == AnnotationKind::Warning)
        .map(|a| a.message())
        .collect();
    let infos: Vec<String> = annos
        .iter()
        .filter(|a| a.kind == AnnotationKind::Info)
        .map(|a| a.message())
        .collect();
    if case.warn && warns.is_empty() {
        return Err("expected warnings but got none".into());
    }
    if case.info && infos.is_empty() {
        return Err("expected info annotations but got none".into());
    }
    for (kind, no_kind, actual) in [("warn", "no_warn", &warns), ("info", "no_info", &infos)] {
        let exp: Vec<&Expect> = case.expects.iter().filter(|e| e.kind == kind).collect();
        if case.expects.iter().any(|e| e.kind == no_kind) && !actual.is_empty() {
            return Err(format!("unexpected {kind} annotations: {actual:?}"));
        }
        if exp.is_empty() {
            continue;
        }
        if actual.is_empty() {
            return Err(format!("expected {kind} annotations but none were found"));
        }
        for e in &exp {
            if !actual.iter().any(|a| e.matches(a)) {
                return Err(format!(
                    "expected {kind} annotation {:?} not found in {actual:?}",
                    e.msg
                ));
            }
        }
        for a in actual.iter() {
            if !exp.iter().any(|e| e.matches(a)) {
                return Err(format!("unexpected {kind} annotation {a:?}"));
            }
        }
    }
    Ok(())
}

const AT_UNSAFE_FUNCTIONS: [&str; 11] = [
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

/// Pins every selector and subquery not under a pinned subquery with `@ ts`,
/// as Prometheus's runner does; false if the expression is not step invariant.
fn pin_at(e: &mut Expr, ts: i64) -> bool {
    use crate::ast::AtModifier;
    match e {
        Expr::Vector(vs) | Expr::Matrix { vs, .. } => {
            if vs.at.is_none() {
                vs.at = Some(AtModifier::At(ts));
            }
            true
        }
        Expr::Subquery { expr, at, .. } => {
            if at.is_none() {
                *at = Some(AtModifier::At(ts));
                return !contains_unsafe(expr);
            }
            !contains_unsafe(expr)
        }
        Expr::Neg(e, _) | Expr::Plus(e, _) | Expr::Paren(e, _) => pin_at(e, ts),
        Expr::Binary { lhs, rhs, .. } => pin_at(lhs, ts) & pin_at(rhs, ts),
        Expr::Aggregate { expr, param, .. } => {
            let a = param.as_mut().is_none_or(|p| pin_at(p, ts));
            a & pin_at(expr, ts)
        }
        Expr::Call { func, args, .. } => {
            let mut ok = !AT_UNSAFE_FUNCTIONS.contains(&func.name);
            for a in args {
                ok &= pin_at(a, ts);
            }
            ok
        }
        Expr::Number(..) | Expr::String(..) => true,
    }
}

fn contains_unsafe(e: &Expr) -> bool {
    match e {
        Expr::Call { func, args, .. } => {
            AT_UNSAFE_FUNCTIONS.contains(&func.name) || args.iter().any(contains_unsafe)
        }
        Expr::Subquery { expr, .. }
        | Expr::Neg(expr, _)
        | Expr::Plus(expr, _)
        | Expr::Paren(expr, _) => contains_unsafe(expr),
        Expr::Binary { lhs, rhs, .. } => contains_unsafe(lhs) || contains_unsafe(rhs),
        Expr::Aggregate { expr, param, .. } => {
            contains_unsafe(expr) || param.as_deref().is_some_and(contains_unsafe)
        }
        _ => false,
    }
}

fn run_eval(engine: &Engine, storage: &MemStorage, case: &EvalCase) -> Result<(), String> {
    let expr = match parse(&case.expr) {
        Ok(e) => e,
        Err(e) => {
            if case.fail {
                return check_fail(case, &e.to_string());
            }
            return Err(format!("parse error: {e}"));
        }
    };
    run_one(engine, storage, case, &expr, case.start)?;
    if case.is_range {
        return Ok(());
    }
    // Like Prometheus's runner: the same query with every selector pinned by
    // `@ <eval time>` must give the same result at other evaluation times.
    let ts = case.start;
    let mut pinned = expr.clone();
    if !pin_at(&mut pinned, ts) {
        return Ok(());
    }
    let times: Vec<i64> = if ts == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![-10 * ts, 0, ts / 5, ts, 10 * ts]
    };
    for t in times {
        run_one(engine, storage, case, &pinned, t)
            .map_err(|e| format!("with @ {ts} at {t}: {e}"))?;
    }
    Ok(())
}

fn run_one(
    engine: &Engine,
    storage: &MemStorage,
    case: &EvalCase,
    expr: &Expr,
    start: i64,
) -> Result<(), String> {
    let params = QueryParams {
        start,
        end: if case.is_range { case.end } else { start },
        step: case.step,
        cancel: None,
    };
    let res = match engine.exec(storage, expr, &params) {
        Ok(r) => r,
        Err(e) => {
            if case.fail {
                return check_fail(case, &e.to_string());
            }
            return Err(format!("error evaluating query: {e}"));
        }
    };
    if case.fail {
        return Err("expected error but got none".into());
    }
    check_annotations(case, &res.annotations)?;
    compare(case, &res.value, case.ordered)?;
    if case.is_range || case.ordered || case.expr.contains("range()") {
        return Ok(());
    }
    // Same result in range mode at the middle step.
    let t = start;
    let rp = QueryParams {
        start: t - 60_000,
        end: t + 60_000,
        step: 60_000,
        cancel: None,
    };
    let rr = engine
        .exec(storage, expr, &rp)
        .map_err(|e| format!("error in range mode: {e}"))?;
    let Value::Matrix(m) = rr.value else {
        return Err("range mode did not return a matrix".into());
    };
    let mut vec = Vec::new();
    for s in m {
        if let Some(p) = s.floats.iter().find(|p| p.t == t) {
            vec.push(crate::Sample {
                h: None,
                metric: s.metric.clone(),
                t,
                f: p.f,
                drop_name: false,
            });
        } else if let Some(p) = s.histograms.iter().find(|p| p.t == t) {
            vec.push(crate::Sample {
                h: Some(p.h.clone()),
                metric: s.metric,
                t,
                f: 0.0,
                drop_name: false,
            });
        }
    }
    let v = if matches!(res.value, Value::Scalar { .. }) {
        Value::Scalar {
            t,
            v: vec.first().map_or(f64::NAN, |s| s.f),
        }
    } else {
        Value::Vector(vec)
    };
    compare(case, &v, false).map_err(|e| format!("range mode: {e}"))
}

fn compare(case: &EvalCase, v: &Value, ordered: bool) -> Result<(), String> {
    let expected: HashMap<&Labels, (usize, &Vec<SeqValue>)> = case
        .expected
        .iter()
        .enumerate()
        .map(|(i, (l, v))| (l, (i, v)))
        .collect();
    match v {
        Value::Scalar { v, .. } => {
            let Some(e) = case.expect_scalar else {
                return Err(format!(
                    "expected vector or matrix result, but got scalar {}",
                    format_float(*v)
                ));
            };
            if !almost_equal(e, *v, EPSILON) {
                return Err(format!(
                    "expected scalar {} but got {}",
                    format_float(e),
                    format_float(*v)
                ));
            }
        }
        Value::String { v, .. } => {
            return Err(format!("string result {v:?} not supported by the runner"));
        }
        Value::Vector(vec) => {
            if case.expect_scalar.is_some() {
                return Err(format!(
                    "expected scalar result, but got vector of {}",
                    vec.len()
                ));
            }
            for (pos, s) in vec.iter().enumerate() {
                let Some((epos, vals)) = expected.get(&s.metric) else {
                    return Err(format!(
                        "unexpected metric {} in result, has value {}",
                        s.metric,
                        format_float(s.f)
                    ));
                };
                if ordered && *epos != pos {
                    return Err(format!(
                        "expected metric {} at position {} but was at {}",
                        s.metric,
                        epos + 1,
                        pos + 1
                    ));
                }
                match vals.first() {
                    Some(SeqValue::Float(_)) if s.h.is_some() => {
                        return Err(format!(
                            "expected float value for {} but got histogram {}",
                            s.metric,
                            s.h.as_deref().map(|h| h.to_string()).unwrap_or_default()
                        ));
                    }
                    Some(SeqValue::Float(e)) => {
                        if !almost_equal(*e, s.f, EPSILON) {
                            return Err(format!(
                                "expected {} for {} but got {}",
                                format_float(*e),
                                s.metric,
                                format_float(s.f)
                            ));
                        }
                    }
                    Some(SeqValue::Histogram(e)) => match &s.h {
                        None => {
                            return Err(format!(
                                "expected histogram {e} for {} but got float {}",
                                s.metric,
                                format_float(s.f)
                            ));
                        }
                        Some(h) => {
                            if !histograms_match(e, h) {
                                return Err(format!("expected {e} for {} but got {h}", s.metric));
                            }
                        }
                    },
                    _ => return Err(format!("no expected value for {}", s.metric)),
                }
            }
            if vec.len() != case.expected.len() {
                let got: std::collections::HashSet<&Labels> =
                    vec.iter().map(|s| &s.metric).collect();
                for (l, _) in &case.expected {
                    if !got.contains(l) {
                        return Err(format!("expected metric {l} not found"));
                    }
                }
                return Err(format!(
                    "expected {} series, got {}",
                    case.expected.len(),
                    vec.len()
                ));
            }
        }
        Value::Matrix(m) => {
            if case.expect_scalar.is_some() {
                return Err("expected scalar result, but got matrix".into());
            }
            for s in m {
                let Some((_, vals)) = expected.get(&s.metric) else {
                    return Err(format!(
                        "unexpected metric {} in result, has {} points",
                        s.metric,
                        s.floats.len()
                    ));
                };
                let mut exp_pts = Vec::new();
                let mut exp_h = Vec::new();
                for (k, v) in vals.iter().enumerate() {
                    let t = case.start + k as i64 * case.step;
                    match v {
                        SeqValue::Float(f) => exp_pts.push((t, *f)),
                        SeqValue::Histogram(h) => exp_h.push((t, h)),
                        SeqValue::Omitted => {}
                    }
                }
                if exp_h.len() != s.histograms.len() {
                    return Err(format!(
                        "expected {} histogram points for {}, got {}",
                        exp_h.len(),
                        s.metric,
                        s.histograms.len()
                    ));
                }
                for ((et, eh), p) in exp_h.iter().zip(&s.histograms) {
                    if *et != p.t || !histograms_match(eh, &p.h) {
                        return Err(format!(
                            "expected {eh} at t={et} for {}, got {} at t={}",
                            s.metric, p.h, p.t
                        ));
                    }
                }
                if exp_pts.len() != s.floats.len() {
                    return Err(format!(
                        "expected {} points for {}, got {}: {:?}",
                        exp_pts.len(),
                        s.metric,
                        s.floats.len(),
                        s.floats.iter().map(|p| (p.t, p.f)).collect::<Vec<_>>()
                    ));
                }
                for ((et, ef), p) in exp_pts.iter().zip(&s.floats) {
                    if *et != p.t {
                        return Err(format!(
                            "expected timestamp {et} for {}, got {}",
                            s.metric, p.t
                        ));
                    }
                    if !almost_equal(*ef, p.f, EPSILON) {
                        return Err(format!(
                            "expected {} at t={} for {} but got {}",
                            format_float(*ef),
                            p.t,
                            s.metric,
                            format_float(p.f)
                        ));
                    }
                }
            }
            let got: std::collections::HashSet<&Labels> = m.iter().map(|s| &s.metric).collect();
            for (l, _) in &case.expected {
                if !got.contains(l) {
                    return Err(format!("expected metric {l} not found"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_series_notation() {
        let (l, v) = parse_series_desc(r#"foo{a="b c}"} 1+2x2 _ stale _x2 3x1 -2-1x1"#).unwrap();
        assert_eq!(l.get("a"), Some("b c}"));
        assert_eq!(v.len(), 3 + 1 + 1 + 2 + 2 + 2);
        assert_eq!(v[2], SeqValue::Float(5.0));
        assert_eq!(v[10], SeqValue::Float(-3.0));
    }
}
