//! Durations as Prometheus prints them (`model.Duration.String()`): the
//! largest units first, zero units left out, `0s` for zero — `1h30m`,
//! `1y2w`, `1500ms` → `1s500ms`. Used for PromQL ranges, offsets and steps
//! and for flag values.

/// Prometheus's duration units, largest first, with their size in
/// milliseconds (`model.Duration`'s; parsing and printing share them).
pub const DURATION_UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

/// `ms` milliseconds as Prometheus prints a duration.
pub fn format_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut rest = ms;
    let mut out = String::new();
    for (unit, size) in DURATION_UNITS {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_prometheus() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(1), "1ms");
        assert_eq!(format_duration(1_500), "1s500ms");
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(86_400_000), "1d");
        assert_eq!(format_duration(604_800_000 + 86_400_000), "1w1d");
        assert_eq!(format_duration(31_536_000_000), "1y");
    }
}
