//! Sample values as text exactly as Prometheus's JSON API writes them
//! (`jsonutil.MarshalValue`): Go's shortest round-trip digits, plain
//! notation, switching to exponent notation (`1e-07`, `1.5e+21`) below 1e-6
//! and from 1e21 on; `NaN`, `+Inf`, `-Inf` spelled out.

use aeon_model::gofmt::{format_e, format_f};

/// `v` as Prometheus's JSON API writes it.
pub(crate) fn json_float(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() || a == 0.0 || (1e-6..1e21).contains(&a) {
        format_f(v)
    } else {
        format_e(v)
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
            assert_eq!(json_float(v), format!("{v}"), "{v}");
        }
    }
}
