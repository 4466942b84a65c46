//! Go-compatible text formatting: `strconv.Quote`, Prometheus's
//! `labels.Labels.String()` and native histogram strings (floats through
//! [`aeon_model::gofmt`]).

use aeon_model::Labels;
use aeon_model::gofmt::format_g;
use std::fmt::Write as _;

mod bounds;

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

/// `math.Ldexp`.
fn ldexp(x: f64, e: i32) -> f64 {
    let mut v = x;
    let mut e = e;
    while e > 1000 {
        v *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        v *= 2f64.powi(-1000);
        e += 1000;
    }
    v * 2f64.powi(e)
}

fn bound(idx: i32, schema: i32, custom: &[f64]) -> f64 {
    if schema == crate::chunkenc::CUSTOM_BUCKETS_SCHEMA {
        let n = custom.len() as i32;
        return if idx >= n {
            f64::INFINITY
        } else if idx < 0 {
            f64::NEG_INFINITY
        } else {
            custom[idx as usize]
        };
    }
    if schema < 0 {
        let exp = (i64::from(idx)) << (-schema);
        if exp == 1024 {
            return f64::MAX;
        }
        return ldexp(1.0, exp.clamp(-100_000, 100_000) as i32);
    }
    // Schemas above 8 do not exist; clamp so corrupt input cannot index
    // out of the table.
    let schema = schema.min(8);
    let frac_idx = idx & ((1 << schema) - 1);
    let frac = bounds::FRACTIONS[(frac_idx << (8 - schema)) as usize];
    let exp = (idx >> schema) + 1;
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

fn bucket_string(lower: f64, upper: f64, li: bool, ui: bool, count: &str) -> String {
    format!(
        "{}{},{}{}:{count}",
        if li { '[' } else { '(' },
        format_g(lower),
        format_g(upper),
        if ui { ']' } else { ')' }
    )
}

/// Iterates `(index, absolute count)` of a span/bucket layout.
fn buckets(spans: &[crate::chunkenc::Span], counts: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::new();
    let mut idx = 0i32;
    let mut k = 0usize;
    for (si, s) in spans.iter().enumerate() {
        idx = if si == 0 { s.offset } else { idx + s.offset };
        for _ in 0..s.length {
            if let Some(&c) = counts.get(k) {
                out.push((idx, c));
            }
            k += 1;
            idx += 1;
        }
    }
    out
}

fn histogram_string(
    count: &str,
    sum: f64,
    h: &crate::chunkenc::FloatHistogram,
    fmt_count: &dyn Fn(f64) -> String,
) -> String {
    let custom = h.schema == crate::chunkenc::CUSTOM_BUCKETS_SCHEMA;
    let incl = |idx: i32, lower: f64, upper: f64| {
        if custom {
            (idx == 0, true)
        } else {
            (lower < 0.0, upper > 0.0)
        }
    };
    let mut out = format!("{{count:{count}, sum:{}", format_g(sum));
    let neg: Vec<String> = buckets(&h.negative_spans, &h.negative_buckets)
        .into_iter()
        .filter(|(_, c)| *c != 0.0)
        .map(|(idx, c)| {
            let (lower, upper) = (
                -bound(idx, h.schema, &h.custom_values),
                -bound(idx - 1, h.schema, &h.custom_values),
            );
            let (li, ui) = incl(idx, lower, upper);
            bucket_string(lower, upper, li, ui, &fmt_count(c))
        })
        .collect();
    for b in neg.iter().rev() {
        out.push_str(", ");
        out.push_str(b);
    }
    if h.zero_count != 0.0 {
        out.push_str(", ");
        out.push_str(&bucket_string(
            -h.zero_threshold,
            h.zero_threshold,
            true,
            true,
            &fmt_count(h.zero_count),
        ));
    }
    for (idx, c) in buckets(&h.positive_spans, &h.positive_buckets) {
        if c == 0.0 {
            continue;
        }
        let (lower, upper) = (
            bound(idx - 1, h.schema, &h.custom_values),
            bound(idx, h.schema, &h.custom_values),
        );
        let (li, ui) = incl(idx, lower, upper);
        out.push_str(", ");
        out.push_str(&bucket_string(lower, upper, li, ui, &fmt_count(c)));
    }
    out.push('}');
    out
}

/// Prometheus's `histogram.Histogram.String()`.
pub fn format_histogram(h: &crate::chunkenc::Histogram) -> String {
    let f = h.to_float();
    histogram_string(&h.count.to_string(), h.sum, &f, &|c| {
        format!("{}", c as u64)
    })
}

/// Prometheus's `histogram.FloatHistogram.String()`.
pub fn format_float_histogram(h: &crate::chunkenc::FloatHistogram) -> String {
    histogram_string(&format_g(h.count), h.sum, h, &format_g)
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

    #[test]
    fn schema_bounds_use_prometheus_fractions() {
        // Prometheus's 2^0.5 bound is one ulp below the correctly rounded
        // 1.4142135623730951; promtool prints 1.414213562373095.
        let h = Histogram {
            schema: 1,
            count: 2,
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![1, 0],
            ..Default::default()
        };
        assert_eq!(
            format_histogram(&h),
            "{count:2, sum:0, (0.7071067811865475,1]:1, (1,1.414213562373095]:1}"
        );
        // Every schema's table is a subsequence of schema 8's, strictly
        // increasing within [1, 2) for the first 2^s buckets, and the top
        // bucket ends at MaxFloat64.
        for s in 1..=8 {
            let n = 1 << s;
            let mut prev = 1.0;
            for j in 1..n {
                let b = bound(j, s, &[]);
                assert!(b > prev && b < 2.0, "schema {s} idx {j}: {b}");
                assert_eq!(b, bound(j << (8 - s), 8, &[]));
                prev = b;
            }
            assert_eq!(bound(1024 << s, s, &[]), f64::MAX);
            assert_eq!(bound((1024 << s) + 1, s, &[]), f64::INFINITY);
            assert_eq!(bound(-(1 << s), s, &[]), 0.5);
        }
    }
}
