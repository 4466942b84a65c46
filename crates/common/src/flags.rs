//! Value types for Thanos-style flags: Prometheus durations (`1h30m`, `2w`),
//! Go durations (`1.5h`, `500ms`), time-or-duration values
//! (`2024-01-02T03:04:05Z` or `-2w`), base-2 byte sizes (`250MB` = 250 MiB,
//! as Thanos's `units.Base2Bytes` reads it) and listen addresses (`:10901`).
//!
//! Each type implements `FromStr` (so clap reports a bad value together with
//! the flag's name) and string (de)serialization (so the same values work in
//! config files and `AEON_*` variables).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod bytesize;
mod duration;
mod go_duration;
mod listen;

pub use bytesize::ByteSize;
pub use duration::{PromDuration, TimeOrDuration, format_duration, parse_duration};
pub use go_duration::{GoDuration, format_go_duration, parse_go_duration};
pub use listen::ListenAddr;

/// Why a flag value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

macro_rules! serde_via_str {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // Accept numbers too: YAML and environment values arrive typed.
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum Raw { S(String), U(u64), I(i64) }
                let s = match Raw::deserialize(d)? {
                    Raw::S(s) => s,
                    Raw::U(u) => u.to_string(),
                    Raw::I(i) => i.to_string(),
                };
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
serde_via_str!(
    PromDuration,
    GoDuration,
    TimeOrDuration,
    ByteSize,
    ListenAddr
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn serde_accepts_strings_and_numbers() {
        #[derive(Deserialize)]
        struct C {
            size: ByteSize,
            plain: ByteSize,
            d: PromDuration,
            g: GoDuration,
            listen: ListenAddr,
        }
        let c: C =
            serde_yaml_ng::from_str("size: 1GB\nplain: 4096\nd: 5m\ng: 1.5m\nlisten: \":10901\"\n")
                .unwrap();
        assert_eq!(
            (c.size.0, c.plain.0, c.d.0, c.g.0),
            (
                1 << 30,
                4096,
                Duration::from_secs(300),
                Duration::from_secs(90)
            )
        );
        assert_eq!(c.listen.port(), 10901);
    }
}
