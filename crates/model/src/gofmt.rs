//! Go's float formatting (`strconv.FormatFloat` with precision -1, and so
//! `%g` / `%v`), which Prometheus's text outputs are made of: label values
//! such as `le` and `quantile`, `promtool tsdb dump`, native histogram
//! strings, PromQL number literals and the JSON API's sample values.
//!
//! Rust and Go both print the shortest digits that read back as the value;
//! where two such digit strings are equally close to the exact value, Go
//! keeps the even last digit and Rust may round up (205137043199724.125 is
//! `…724.12` in Go, `…724.13` in Rust). Every function here returns Go's
//! choice.

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)`, i.e. `fmt.Sprintf("%g", v)`:
/// exponent notation (`1e+06`, `1.5e-05`) when the exponent is below -4 or
/// at least 6, plain notation otherwise; `NaN`, `+Inf`, `-Inf`.
pub fn format_g(v: f64) -> String {
    match special(v) {
        Some(s) => s,
        None => {
            let (digits, exp) = shortest(v);
            if (-4..6).contains(&exp) {
                plain(v, &digits, exp)
            } else {
                exponent(v, &digits, exp)
            }
        }
    }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: plain notation, never an
/// exponent (`0.0000001`, `1000000000000000000000`).
pub fn format_f(v: f64) -> String {
    match special(v) {
        Some(s) => s,
        None => {
            let (digits, exp) = shortest(v);
            plain(v, &digits, exp)
        }
    }
}

/// Go's `fmt` verb `%f`: six decimals (`0.500000`), `NaN`, `+Inf`, `-Inf`.
pub fn printf_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v:.6}")
    }
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: `1e-07`, `1.25e+22`.
pub fn format_e(v: f64) -> String {
    match special(v) {
        Some(s) => s,
        None => {
            let (digits, exp) = shortest(v);
            exponent(v, &digits, exp)
        }
    }
}

/// NaN, infinities and zeros, spelled as Go spells them.
fn special(v: f64) -> Option<String> {
    if v.is_nan() {
        Some("NaN".into())
    } else if v.is_infinite() {
        Some(if v > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else if v == 0.0 {
        Some(if v.is_sign_negative() { "-0" } else { "0" }.into())
    } else {
        None
    }
}

/// The shortest decimal digits that read back as `v` (finite, non-zero)
/// and the decimal exponent of the first digit: `v = d.ddd × 10^exp`. On an
/// exact tie between two shortest candidates the even one, as Go.
fn shortest(v: f64) -> (String, i32) {
    let a = v.abs();
    let e = format!("{a:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let Some(last) = digits.bytes().last().filter(|d| (d - b'0') % 2 == 1) else {
        return (digits, exp);
    };
    // The candidate one unit lower in the last digit must read back as `v`
    // too, and `v` must lie exactly halfway between the two.
    let mut down = digits.clone().into_bytes();
    let n = down.len();
    down[n - 1] = last - 1;
    let Ok(down) = String::from_utf8(down) else {
        return (digits, exp);
    };
    let (head, tail) = down.split_at(1);
    if format!("{head}.{tail}e{exp}").parse::<f64>().ok() != Some(a) {
        return (digits, exp);
    }
    // The exact expansion of a double has at most 767 significant digits.
    let exact = format!("{a:.800e}");
    let (exact_mant, exact_exp) = exact.split_once('e').unwrap_or((&exact, "0"));
    let exact_digits: String = exact_mant.chars().filter(char::is_ascii_digit).collect();
    let halfway = exact_exp.parse::<i32>().ok() == Some(exp)
        && exact_digits.starts_with(&down)
        && exact_digits[n..].starts_with('5')
        && exact_digits[n + 1..].bytes().all(|b| b == b'0');
    if halfway { (down, exp) } else { (digits, exp) }
}

fn plain(v: f64, digits: &str, exp: i32) -> String {
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    let nd = digits.len() as i32;
    let dp = exp + 1; // digits before the decimal point
    if dp <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-dp) as usize));
        out.push_str(digits);
    } else if dp >= nd {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', (dp - nd) as usize));
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
    out
}

fn exponent(v: f64, digits: &str, exp: i32) -> String {
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", exp.unsigned_abs()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected texts are Go's `fmt.Sprintf("%g", v)`.
    #[test]
    fn g_like_go() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (2.5, "2.5"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1e-300, "1e-300"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.1, "0.1"),
            (0.5, "0.5"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1e6, "1e+06"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000123, "0.000123"),
            (100.0, "100"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
            (-12.75, "-12.75"),
            (205_137_043_199_724.0 + 0.125, "2.0513704319972412e+14"),
        ];
        for (v, want) in cases {
            assert_eq!(format_g(*v), *want, "{v:?}");
        }
    }

    /// Expected texts are Go's `strconv.FormatFloat(v, 'f' or 'e', -1, 64)`.
    #[test]
    fn f_and_e_like_go() {
        for (v, f, e) in [
            (0.0, "0", "0"),
            (-2.5, "-2.5", "-2.5e+00"),
            (0.000001, "0.000001", "1e-06"),
            (1e-7, "0.0000001", "1e-07"),
            (1e21, "1000000000000000000000", "1e+21"),
            (1.25e22, "12500000000000000000000", "1.25e+22"),
            (
                205_137_043_199_724.0 + 0.125,
                "205137043199724.12",
                "2.0513704319972412e+14",
            ),
            (0.1 + 0.2, "0.30000000000000004", "3.0000000000000004e-01"),
            (f64::NAN, "NaN", "NaN"),
        ] {
            assert_eq!(format_f(v), f, "{v:?}");
            assert_eq!(format_e(v), e, "{v:?}");
        }
    }

    #[test]
    fn ties_go_to_even_only_when_exactly_halfway() {
        // 0.125 is exact and has 3 digits: no shorter string reads back.
        assert_eq!(format_f(0.125), "0.125");
        // Just below 2^52 the spacing is 0.5: ….5 is exact and needs its digit.
        assert_eq!(format_f(4_503_599_627_370_495.5), "4503599627370495.5");
        for v in [1.05, 2.675, 123.456, 1.0 / 3.0] {
            assert_eq!(format_f(v), format!("{v}"), "{v}");
        }
    }
}
