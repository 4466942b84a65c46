//! Histograms as text: Prometheus's test-language notation (`{{schema:0
//! count:4 buckets:[1 2 1]}}`, parsed and printed) and Go's
//! `FloatHistogram.String()` (`{count:4, sum:5, (0.5,1]:1, …}`), which
//! `promtool tsdb dump` prints and `count_values` uses as a label value.

use std::fmt;

use super::{CounterResetHint, FloatHistogram};
use crate::gofmt::{format_f, format_g};

/// Test-language histogram text that could not be read: the text and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("histogram {text:?}: {reason}")]
pub struct NotationError {
    /// The text inside `{{ }}`.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FloatHistogram {
    /// Parses the test-language notation inside `{{ }}` (without the braces).
    pub fn parse_notation(s: &str) -> Result<FloatHistogram, NotationError> {
        Self::parse_notation_inner(s).map_err(|reason| NotationError {
            text: s.to_owned(),
            reason,
        })
    }

    fn parse_notation_inner(s: &str) -> Result<FloatHistogram, String> {
        let mut h = FloatHistogram::default();
        let mut buckets: Vec<f64> = vec![];
        let mut n_buckets: Vec<f64> = vec![];
        let (mut offset, mut n_offset) = (0i32, 0i32);
        let mut rest = s.trim();
        while !rest.is_empty() {
            let (key, after) = rest.split_once(':').ok_or("a field without `key:`")?;
            let key = key.trim();
            let after = after.trim_start();
            let (val, next) = if let Some(a) = after.strip_prefix('[') {
                let end = a.find(']').ok_or("a `[` without `]`")?;
                (&a[..end], &a[end + 1..])
            } else {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            rest = next.trim_start();
            let num = |v: &str| -> Result<f64, String> {
                match v.to_ascii_lowercase().as_str() {
                    "inf" | "+inf" => Ok(f64::INFINITY),
                    "-inf" => Ok(f64::NEG_INFINITY),
                    "nan" => Ok(f64::NAN),
                    _ => v
                        .parse::<f64>()
                        .map_err(|e| format!("bad number {v:?}: {e}")),
                }
            };
            let list =
                |v: &str| -> Result<Vec<f64>, String> { v.split_whitespace().map(num).collect() };
            match key {
                "schema" => h.schema = num(val)? as i32,
                "sum" => h.sum = num(val)?,
                "count" => h.count = num(val)?,
                "z_bucket" => h.zero_count = num(val)?,
                "z_bucket_w" => h.zero_threshold = num(val)?,
                "buckets" => buckets = list(val)?,
                "n_buckets" => n_buckets = list(val)?,
                "offset" => offset = num(val)? as i32,
                "n_offset" => n_offset = num(val)? as i32,
                "custom_values" => h.custom_values = list(val)?,
                "counter_reset_hint" => {
                    h.counter_reset_hint = match val {
                        "unknown" => CounterResetHint::Unknown,
                        "reset" => CounterResetHint::CounterReset,
                        "not_reset" => CounterResetHint::NotCounterReset,
                        "gauge" => CounterResetHint::Gauge,
                        _ => return Err(format!("bad counter_reset_hint {val:?}")),
                    }
                }
                _ => return Err(format!("unknown histogram field {key:?}")),
            }
        }
        for (k, c) in buckets.into_iter().enumerate() {
            h.positive.insert(offset + k as i32, c);
        }
        for (k, c) in n_buckets.into_iter().enumerate() {
            h.negative.insert(n_offset + k as i32, c);
        }
        Ok(h)
    }

    /// Go's `FloatHistogram.String()`, e.g. `{count:20, sum:10, [-2,-1):2, (0.5,1]:1}`.
    pub fn go_string(&self) -> String {
        self.go_string_with(&format_g(self.count), &format_g)
    }

    /// [`Self::go_string`] with the total count given as text and bucket
    /// counts formatted by `fmt_count` (Go's integer `Histogram.String()`
    /// prints them as integers).
    pub fn go_string_with(&self, count: &str, fmt_count: &dyn Fn(f64) -> String) -> String {
        let custom = self.uses_custom_buckets();
        let bucket = |lower: f64, upper: f64, c: f64| {
            let (li, ui) = if custom {
                (lower == f64::NEG_INFINITY, true)
            } else {
                (lower < 0.0, upper > 0.0)
            };
            format!(
                ", {}{},{}{}:{}",
                if li { '[' } else { '(' },
                format_g(lower),
                format_g(upper),
                if ui { ']' } else { ')' },
                fmt_count(c)
            )
        };
        let mut out = format!("{{count:{count}, sum:{}", format_g(self.sum));
        for (&idx, &c) in self.negative.iter().rev() {
            if c != 0.0 {
                out.push_str(&bucket(-self.bound(idx), -self.bound(idx - 1), c));
            }
        }
        if self.zero_count != 0.0 {
            out.push_str(&format!(
                ", [{},{}]:{}",
                format_g(-self.zero_threshold),
                format_g(self.zero_threshold),
                fmt_count(self.zero_count)
            ));
        }
        for (&idx, &c) in &self.positive {
            if c != 0.0 {
                out.push_str(&bucket(self.bound(idx - 1), self.bound(idx), c));
            }
        }
        out.push('}');
        out
    }
}

impl fmt::Display for FloatHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{{{schema:{} count:{} sum:{}",
            self.schema,
            format_f(self.count),
            format_f(self.sum)
        )?;
        if self.zero_threshold != 0.0 {
            write!(f, " z_bucket_w:{}", format_f(self.zero_threshold))?;
        }
        if self.zero_count != 0.0 {
            write!(f, " z_bucket:{}", format_f(self.zero_count))?;
        }
        if !self.custom_values.is_empty() {
            let v: Vec<String> = self.custom_values.iter().map(|x| format_f(*x)).collect();
            write!(f, " custom_values:[{}]", v.join(" "))?;
        }
        if !self.positive.is_empty() {
            let v: Vec<String> = self
                .positive
                .iter()
                .map(|(i, c)| format!("{i}:{}", format_f(*c)))
                .collect();
            write!(f, " buckets:[{}]", v.join(" "))?;
        }
        if !self.negative.is_empty() {
            let v: Vec<String> = self
                .negative
                .iter()
                .map(|(i, c)| format!("{i}:{}", format_f(*c)))
                .collect();
            write!(f, " n_buckets:[{}]", v.join(" "))?;
        }
        if self.counter_reset_hint != CounterResetHint::Unknown {
            write!(f, " counter_reset_hint:{:?}", self.counter_reset_hint)?;
        }
        write!(f, "}}}}")
    }
}
