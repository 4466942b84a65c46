//! Random PromQL from a typed grammar (selectors with every matcher type,
//! functions with arguments of the right types, aggregations with grouping,
//! binary operators with matching and `bool`, subqueries, `@` and `offset`),
//! and random mutations of valid queries for parse errors.

use aeon_promql::ValueType;
use aeon_promql::functions::FUNCTIONS;

use super::data::{self, CODES, INSTANCES, JOBS, LABELS, Rng};

const METRICS: &[&str] = &[
    "http_requests_total",
    "up",
    "queue_depth",
    "http_request_duration_seconds_bucket",
    "http_request_duration_seconds_sum",
    "http_request_duration_seconds_count",
    "node_cpu_seconds_total",
    "sparse_gauge",
    "special_values",
    "no_such_metric",
];
const RANGES: &[&str] = &["1m", "2m", "5m", "10m", "30m", "1h", "90s", "1m30s"];
const STEPS: &[&str] = &["", "15s", "1m", "2m", "5m"];
const OFFSETS: &[&str] = &["5m", "-5m", "1h", "30s", "1h30m", "10m"];
const NUMBERS: &[&str] = &[
    "0", "1", "2", "0.5", "-1", "3", "10", "100", "0.25", "0.99", "1e3", "-0.5", "NaN", "Inf",
    "-Inf", "0x10", "1.5",
];
const BINOPS: &[&str] = &["+", "-", "*", "/", "%", "^", "atan2"];
const CMPOPS: &[&str] = &["==", "!=", ">", "<", ">=", "<="];
const SETOPS: &[&str] = &["and", "or", "unless"];
const AGGS: &[&str] = &[
    "sum", "avg", "count", "min", "max", "group", "stddev", "stdvar",
];
const PARAM_AGGS: &[&str] = &[
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "limitk",
    "limit_ratio",
];

/// The generator: a seeded random source and a depth budget.
pub struct Gen {
    r: Rng,
}

impl Gen {
    pub fn new(seed: u64) -> Self {
        Gen { r: Rng::new(seed) }
    }

    pub fn rng(&mut self) -> &mut Rng {
        &mut self.r
    }

    /// A query of a random type (mostly instant vectors).
    pub fn query(&mut self) -> String {
        let t = match self.r.below(20) {
            0..=14 => ValueType::Vector,
            15..=17 => ValueType::Scalar,
            18 => ValueType::Matrix,
            _ => ValueType::String,
        };
        self.expr(t, 3)
    }

    fn label_value(&mut self, label: &str) -> String {
        match label {
            "job" => self.r.pick(JOBS).to_string(),
            "instance" => self.r.pick(INSTANCES).to_string(),
            "code" => self.r.pick(CODES).to_string(),
            "le" => self.r.pick(data::BUCKETS).to_string(),
            "__name__" => self.r.pick(METRICS).to_string(),
            "mode" => self.r.pick(&["idle", "user"]).to_string(),
            _ => self.r.pick(&["email", "0", "x"]).to_string(),
        }
    }

    fn matcher(&mut self) -> String {
        let label = *self.r.pick(LABELS);
        match self.r.below(6) {
            0 | 1 => format!("{label}=\"{}\"", self.label_value(label)),
            2 => format!("{label}!=\"{}\"", self.label_value(label)),
            3 => {
                let re = match self.r.below(5) {
                    0 => format!("{}|{}", self.label_value(label), self.label_value(label)),
                    1 => ".+".to_string(),
                    2 => format!("{}.*", &self.label_value(label)[..1]),
                    3 => String::new(),
                    _ => self.label_value(label),
                };
                format!("{label}=~\"{re}\"")
            }
            4 => format!("{label}!~\"{}.*\"", &self.label_value(label)[..1]),
            _ => format!("{label}=\"\""),
        }
    }

    fn selector(&mut self) -> String {
        let name = *self.r.pick(METRICS);
        let n = self.r.below(3);
        let ms: Vec<String> = (0..n).map(|_| self.matcher()).collect();
        match self.r.below(10) {
            0 => {
                let mut all = vec![format!("__name__=\"{name}\"")];
                all.extend(ms);
                format!("{{{}}}", all.join(", "))
            }
            1 => format!("{{__name__=~\"http_.*\", {}}}", self.matcher()),
            2 => format!("{{job=\"{}\"}}", self.r.pick(JOBS)),
            _ if ms.is_empty() => name.to_string(),
            _ => format!("{name}{{{}}}", ms.join(",")),
        }
    }

    fn modifiers(&mut self) -> String {
        let mut s = String::new();
        if self.r.chance(15) {
            let at = match self.r.below(4) {
                0 => "start()".to_string(),
                1 => "end()".to_string(),
                _ => {
                    let t = data::T0 + (self.r.below(180) as i64) * 60_000;
                    format!("{}", t / 1000)
                }
            };
            s.push_str(&format!(" @ {at}"));
        }
        if self.r.chance(15) {
            s.push_str(&format!(" offset {}", self.r.pick(OFFSETS)));
        }
        s
    }

    fn number(&mut self) -> String {
        self.r.pick(NUMBERS).to_string()
    }

    fn string(&mut self) -> String {
        format!("\"{}\"", self.r.pick(LABELS))
    }

    fn grouping(&mut self) -> String {
        let n = self.r.below(3);
        let ls: Vec<&str> = (0..n).map(|_| *self.r.pick(&LABELS[..7])).collect();
        ls.join(", ")
    }

    fn matrix(&mut self, depth: u32) -> String {
        if depth == 0 || self.r.chance(70) {
            let sel = self.selector();
            let range = *self.r.pick(RANGES);
            let m = self.modifiers();
            return format!("{sel}[{range}]{m}");
        }
        let inner = self.expr(ValueType::Vector, depth - 1);
        let range = *self.r.pick(RANGES);
        let step = *self.r.pick(STEPS);
        let m = self.modifiers();
        let inner = if self.r.chance(50) {
            format!("({inner})")
        } else {
            inner
        };
        format!("{inner}[{range}:{step}]{m}")
    }

    fn call(&mut self, ret: ValueType, depth: u32) -> Option<String> {
        let candidates: Vec<_> = FUNCTIONS
            .iter()
            .filter(|f| f.ret == ret && f.name != "info")
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let f = *self.r.pick(&candidates);
        let d = depth.saturating_sub(1);
        let args: Vec<String> = match f.name {
            "label_replace" => vec![
                self.expr(ValueType::Vector, d),
                self.string(),
                format!("\"{}\"", self.r.pick(&["$1", "x-$1", "", "${1}y"])),
                self.string(),
                format!("\"{}\"", self.r.pick(&["(.*)", "(a.*)", "([0-9]+)", ""])),
            ],
            "label_join" => {
                let mut a = vec![
                    self.expr(ValueType::Vector, d),
                    self.string(),
                    "\"-\"".into(),
                ];
                for _ in 0..=self.r.below(2) {
                    a.push(self.string());
                }
                a
            }
            "sort_by_label" | "sort_by_label_desc" => {
                let mut a = vec![self.expr(ValueType::Vector, d)];
                for _ in 0..=self.r.below(2) {
                    a.push(self.string());
                }
                a
            }
            _ => {
                let mut n = f.args.len();
                if f.variadic > 0 && self.r.chance(50) {
                    n -= 1;
                }
                f.args[..n].iter().map(|t| self.expr(*t, d)).collect()
            }
        };
        Some(format!("{}({})", f.name, args.join(", ")))
    }

    fn aggregation(&mut self, depth: u32) -> String {
        let d = depth.saturating_sub(1);
        let (op, param) = if self.r.chance(70) {
            (*self.r.pick(AGGS), None)
        } else {
            let op = *self.r.pick(PARAM_AGGS);
            let p = match op {
                "count_values" => self.string(),
                "quantile" => self
                    .r
                    .pick(&["0.5", "0.9", "0", "1", "-1", "2"])
                    .to_string(),
                "limit_ratio" => self.r.pick(&["0.5", "-0.5", "1", "0.1"]).to_string(),
                _ => self.r.pick(&["1", "2", "3", "0"]).to_string(),
            };
            (op, Some(p))
        };
        let inner = self.expr(ValueType::Vector, d);
        let args = match param {
            Some(p) => format!("{p}, {inner}"),
            None => inner,
        };
        match self.r.below(5) {
            0 => format!("{op} by ({}) ({args})", self.grouping()),
            1 => format!("{op} without ({}) ({args})", self.grouping()),
            2 => format!("{op}({args}) by ({})", self.grouping()),
            _ => format!("{op}({args})"),
        }
    }

    fn vector_binary(&mut self, depth: u32) -> String {
        let d = depth.saturating_sub(1);
        let lhs = self.expr(ValueType::Vector, d);
        let (op, rhs_t) = match self.r.below(4) {
            0 => (*self.r.pick(SETOPS), ValueType::Vector),
            1 => (
                *self.r.pick(CMPOPS),
                if self.r.chance(50) {
                    ValueType::Vector
                } else {
                    ValueType::Scalar
                },
            ),
            _ => (
                *self.r.pick(BINOPS),
                if self.r.chance(60) {
                    ValueType::Vector
                } else {
                    ValueType::Scalar
                },
            ),
        };
        let rhs = self.expr(rhs_t, d);
        let mut m = String::new();
        if CMPOPS.contains(&op) && self.r.chance(40) {
            m.push_str(" bool");
        }
        if rhs_t == ValueType::Vector && self.r.chance(40) {
            let on = if self.r.chance(50) { "on" } else { "ignoring" };
            m.push_str(&format!(" {on}({})", self.grouping()));
            if !SETOPS.contains(&op) && self.r.chance(30) {
                let g = if self.r.chance(50) {
                    "group_left"
                } else {
                    "group_right"
                };
                m.push_str(&format!(" {g}({})", self.grouping()));
            }
        }
        if self.r.chance(20) {
            format!("{rhs} {op}{m} {lhs}")
        } else {
            format!("{lhs} {op}{m} {rhs}")
        }
    }

    /// An expression of type `t` with at most `depth` levels of nesting.
    pub fn expr(&mut self, t: ValueType, depth: u32) -> String {
        match t {
            ValueType::String => self.string(),
            ValueType::Matrix => self.matrix(depth),
            ValueType::Scalar => {
                if depth == 0 {
                    return self.number();
                }
                match self.r.below(8) {
                    0..=3 => self.number(),
                    4 => format!("scalar({})", self.expr(ValueType::Vector, depth - 1)),
                    5 => {
                        let op = if self.r.chance(70) {
                            self.r.pick(BINOPS).to_string()
                        } else {
                            format!("{} bool", self.r.pick(CMPOPS))
                        };
                        format!(
                            "{} {op} {}",
                            self.expr(ValueType::Scalar, depth - 1),
                            self.expr(ValueType::Scalar, depth - 1)
                        )
                    }
                    6 => format!("({})", self.expr(ValueType::Scalar, depth - 1)),
                    _ => self
                        .call(ValueType::Scalar, depth)
                        .unwrap_or_else(|| "time()".into()),
                }
            }
            ValueType::Vector => {
                if depth == 0 {
                    let m = self.modifiers();
                    return format!("{}{m}", self.selector());
                }
                match self.r.below(12) {
                    0..=2 => {
                        let m = self.modifiers();
                        format!("{}{m}", self.selector())
                    }
                    3..=5 => self
                        .call(ValueType::Vector, depth)
                        .unwrap_or_else(|| self.selector()),
                    6 | 7 => self.aggregation(depth),
                    8 | 9 => self.vector_binary(depth),
                    10 => format!("-{}", self.expr(ValueType::Vector, depth - 1)),
                    _ => format!("({})", self.expr(ValueType::Vector, depth - 1)),
                }
            }
        }
    }

    /// A random mutation of a valid query, for parse errors: a token
    /// deleted, duplicated, swapped, replaced or inserted, or the text cut.
    pub fn mutate(&mut self, q: &str) -> String {
        const INSERTS: &[&str] = &[
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            ",",
            "by",
            "without",
            "offset",
            "@",
            "+",
            "-",
            "*",
            "5m",
            "\"x\"",
            "=~",
            "!=",
            "=",
            ":",
            "bool",
            "on",
            "group_left",
            "ignoring",
            "sum",
            "rate",
            "1",
            "1.5",
            "foo",
            "start()",
            "==",
            "and",
            "^",
            "[5m]",
            "[5m:1m]",
            "#",
            "`",
            "'",
            "!",
            "$",
            "1x",
            "0x",
            "5m1h",
            "1e400",
            "\"\\q\"",
            "{}",
            "(())",
            "Inf",
            "nan",
            ".5",
        ];
        let toks = rough_tokens(q);
        if toks.is_empty() {
            return q.to_string();
        }
        let i = self.r.below(toks.len());
        let mut t: Vec<String> = toks.iter().map(|s| s.to_string()).collect();
        match self.r.below(6) {
            0 => {
                t.remove(i);
            }
            1 => t.insert(i, t[i].clone()),
            2 if i + 1 < t.len() => t.swap(i, i + 1),
            3 => t[i] = self.r.pick(INSERTS).to_string(),
            4 => t.insert(i, self.r.pick(INSERTS).to_string()),
            _ => t.truncate(i),
        }
        t.join("")
    }
}

/// Splits a query into rough tokens (words, numbers, strings, operators,
/// runs of spaces), so that mutations keep the rest of the text intact.
fn rough_tokens(q: &str) -> Vec<&str> {
    let b = q.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b':' {
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'.' | b':'))
            {
                i += 1;
            }
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(b.len());
        } else if c == b' ' {
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
        } else if i + 1 < b.len() && matches!(&q[i..i + 2], "==" | "!=" | ">=" | "<=" | "=~" | "!~")
        {
            i += 2;
        } else {
            i += 1;
        }
        out.push(&q[start..i]);
    }
    out
}
