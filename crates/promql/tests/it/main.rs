//! Integration tests of aeon-promql.
#![allow(clippy::unwrap_used)]

mod differential;
mod engine;
mod printer;
mod promqltest;
