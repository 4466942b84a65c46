//! The vocabulary every Aeon crate shares (layer L0): label sets ([`Labels`]),
//! label matchers with exactly Prometheus 3.5's semantics ([`Matcher`]),
//! samples, millisecond timestamps and Prometheus's duration text
//! ([`format_duration`]), HA replica deduplication of sample vectors
//! ([`dedup`]), native-histogram arithmetic ([`histogram`]) and Go's number
//! formatting ([`gofmt`]).
//!
//! Nothing here does I/O; the crate is small on purpose so that every other
//! crate can depend on it.

#![warn(unreachable_pub)]

pub mod dedup;
mod duration;
mod error;
pub mod gofmt;
pub mod histogram;
mod labels;
mod matcher;
mod regex_matcher;
mod sample;

pub use duration::{DURATION_UNITS, format_duration};
pub use error::{Error, Result};
pub use labels::{Label, Labels, LabelsBuilder, METRIC_NAME};
pub use matcher::{MatchType, Matcher};
pub use regex_matcher::RegexMatcher;
pub use sample::{STALE_NAN_BITS, Sample, Timestamp, is_stale_nan, stale_nan};
