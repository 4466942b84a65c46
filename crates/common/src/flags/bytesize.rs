//! Byte sizes as Thanos's `units.Base2Bytes` reads them.

use std::fmt;
use std::str::FromStr;

use super::ParseError;

/// A byte size in Thanos's base-2 notation: `250MB` and `250MiB` both mean
/// 250 × 2^20 bytes; decimals (`1.5GB`) and plain byte counts are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = || {
            ParseError(format!(
                "invalid byte size {s:?}: expected a number with a unit of B, KB, MB, GB, TB, \
                 PB, EB (or KiB, MiB, …; all base 2), e.g. 250MB"
            ))
        };
        let num_len = s
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let (num, unit) = s.split_at(num_len);
        if num.is_empty() {
            return Err(bad());
        }
        let exp = match unit {
            "" | "B" => 0,
            "KB" | "KiB" => 1,
            "MB" | "MiB" => 2,
            "GB" | "GiB" => 3,
            "TB" | "TiB" => 4,
            "PB" | "PiB" => 5,
            "EB" | "EiB" => 6,
            _ => return Err(bad()),
        };
        let mult = 1024f64.powi(exp);
        let v: f64 = num.parse().map_err(|_| bad())?;
        let bytes = v * mult;
        if !bytes.is_finite() || bytes > u64::MAX as f64 || (exp == 0 && num.contains('.')) {
            return Err(bad());
        }
        Ok(Self(bytes as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        let mut exp = 0;
        while exp < 6 && self.0 != 0 && self.0.is_multiple_of(1024u64.pow(exp as u32 + 1)) {
            exp += 1;
        }
        write!(f, "{}{}", self.0 / 1024u64.pow(exp as u32), NAMES[exp])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_are_base_2() {
        assert_eq!("250MB".parse::<ByteSize>().unwrap().0, 250 << 20);
        assert_eq!("2GiB".parse::<ByteSize>().unwrap().0, 2 << 30);
        assert_eq!("2GB".parse::<ByteSize>().unwrap().0, 2 << 30);
        assert_eq!("1.5KB".parse::<ByteSize>().unwrap().0, 1536);
        assert_eq!("512".parse::<ByteSize>().unwrap().0, 512);
        assert_eq!("0B".parse::<ByteSize>().unwrap().0, 0);
        for bad in ["", "MB", "12XB", "1.5", "-1MB", "1 MB"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad:?} should fail");
        }
        assert_eq!(ByteSize(250 << 20).to_string(), "250MiB");
        assert_eq!(ByteSize(1000).to_string(), "1000B");
    }
}
