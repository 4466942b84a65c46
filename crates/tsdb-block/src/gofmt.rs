//! Go-compatible text formatting: `strconv.Quote`, Prometheus's
//! `labels.Labels.String()` and native histogram strings (through
//! [`aeon_model::histogram`]; floats are [`aeon_model::gofmt`]).

use aeon_model::Labels;
use std::fmt::Write as _;

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_legacy_name(n: &str) -> bool {
    let mut cs = n.chars();
    match cs.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Prometheus's `labels.Labels.String()`: `{a="1", b="2"}`.
pub fn labels_string(ls: &Labels) -> String {
    let mut out = String::from("{");
    for (i, l) in ls.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if is_legacy_name(&l.name) {
            out.push_str(&l.name);
        } else {
            out.push_str(&quote(&l.name));
        }
        out.push('=');
        out.push_str(&quote(&l.value));
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_and_labels_like_go() {
        assert_eq!(quote("a\"b\\c\nd\u{1}é"), "\"a\\\"b\\\\c\\nd\\x01é\"");
        let l = Labels::from_pairs(&[("__name__", "up"), ("job", "x y"), ("a.b", "1")]);
        assert_eq!(
            labels_string(&l),
            "{__name__=\"up\", \"a.b\"=\"1\", job=\"x y\"}"
        );
    }
}

/// Prometheus's `histogram.Histogram.String()`.
pub fn format_histogram(h: &crate::chunkenc::Histogram) -> String {
    match h.to_float().to_model() {
        Ok(m) => m.go_string_with(&h.count.to_string(), &|c| format!("{}", c as u64)),
        Err(e) => format!("{{{e}}}"),
    }
}

/// Prometheus's `histogram.FloatHistogram.String()`.
pub fn format_float_histogram(h: &crate::chunkenc::FloatHistogram) -> String {
    match h.to_model() {
        Ok(m) => m.go_string(),
        Err(e) => format!("{{{e}}}"),
    }
}

#[cfg(test)]
mod hist_tests {
    use super::*;
    use crate::chunkenc::{Histogram, Span};

    #[test]
    fn histogram_strings_like_prometheus() {
        // From Prometheus's histogram String() test: schema 0, zero bucket,
        // positive and negative buckets.
        let h = Histogram {
            schema: 0,
            count: 19,
            sum: 2.7,
            zero_threshold: 1e-128,
            zero_count: 3,
            positive_spans: vec![
                Span {
                    offset: -2,
                    length: 1,
                },
                Span {
                    offset: 2,
                    length: 2,
                },
            ],
            positive_buckets: vec![1, 1, -1],
            negative_spans: vec![Span {
                offset: 0,
                length: 1,
            }],
            negative_buckets: vec![2],
            ..Default::default()
        };
        assert_eq!(
            format_histogram(&h),
            "{count:19, sum:2.7, [-1,-0.5):2, [-1e-128,1e-128]:3, (0.125,0.25]:1, (1,2]:2, (2,4]:1}"
        );
    }
}
