//! Sample values as text exactly as Prometheus's JSON API writes them
//! (`jsonutil.MarshalValue`): Go's shortest round-trip digits, plain
//! notation, switching to exponent notation (`1e-07`, `1.5e+21`) below 1e-6
//! and from 1e21 on; `NaN`, `+Inf`, `-Inf` spelled out.

use aeon_promql::format_float;

/// `v` as Prometheus's JSON API writes it.
pub(crate) fn json_float(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() || a == 0.0 || (1e-6..1e21).contains(&a) {
        return go_ties(v, format_float(v));
    }
    // Go's 'e' with -1 precision: shortest mantissa, exponent sign and at
    // least two digits.
    let s = format!("{v:e}");
    let Some((mantissa, exp)) = s.split_once('e') else {
        return s;
    };
    let (sign, digits) = exp.strip_prefix('-').map_or(('+', exp), |d| ('-', d));
    format!("{mantissa}e{sign}{digits:0>2}")
}

/// Rust and Go both print the shortest digits that read back as `v`; when
/// two such strings are equally close to `v`'s exact value, Go keeps the
/// even last digit and Rust may round up (205137043199724.125 is
/// `…724.12` in Go, `…724.13` in Rust). Returns Go's choice.
fn go_ties(v: f64, s: String) -> String {
    let Some(last) = s.bytes().last().filter(u8::is_ascii_digit) else {
        return s;
    };
    if (last - b'0').is_multiple_of(2) || !s.contains('.') {
        return s;
    }
    let mut down = s.clone().into_bytes();
    let n = down.len();
    down[n - 1] = last - 1;
    let Ok(down) = String::from_utf8(down) else {
        return s;
    };
    if down.parse::<f64>().ok() != Some(v) {
        return s;
    }
    // Exactly halfway: the exact expansion is `down` followed by 5 and zeros.
    let frac = s.len() - s.find('.').map_or(s.len(), |i| i + 1);
    let exact = format!("{v:.prec$}", prec = frac + 40);
    let tail = &exact[exact.len() - 40..];
    if exact.starts_with(&down) && tail.starts_with('5') && tail[1..].bytes().all(|b| b == b'0') {
        down
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected texts are what Go's strconv.AppendFloat(v, 'f' or 'e', -1,
    /// 64) gives, as Prometheus 3.5 answered them in the e2e test.
    #[test]
    fn matches_prometheus_json_numbers() {
        for (v, want) in [
            (0.0, "0"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (0.000001, "0.000001"),
            (1e-7, "1e-07"),
            (-1e-7, "-1e-07"),
            (1.5e-10, "1.5e-10"),
            (1e-128, "1e-128"),
            (1e21, "1e+21"),
            (1.25e22, "1.25e+22"),
            (999_999_999_999_999_900_000.0, "999999999999999900000"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (205_137_043_199_724.0 + 0.125, "205137043199724.12"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            assert_eq!(json_float(v), want, "{v:?}");
        }
    }

    #[test]
    fn ties_go_to_even_only_when_exactly_halfway() {
        // 0.125 is exact and has 3 digits: no shorter string reads back.
        assert_eq!(json_float(0.125), "0.125");
        // Just below 2^52 the spacing is 0.5: ….5 is exact and needs its digit.
        assert_eq!(json_float(4_503_599_627_370_495.5), "4503599627370495.5");
        for v in [1.05, 2.675, 123.456, 1.0 / 3.0] {
            assert_eq!(json_float(v), format_float(v), "{v}");
        }
    }
}
