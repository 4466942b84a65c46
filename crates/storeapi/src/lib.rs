//! The Thanos Store API on the wire (layer L1): generated protobuf/gRPC types
//! from our own `.proto` files ([`pb`]), conversions to `aeon_model` types,
//! one [`Error`] with its gRPC status mapping.

pub mod convert;
mod error;
pub mod pb;

pub use error::{Error, Result};
