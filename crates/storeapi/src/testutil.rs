//! Test utilities (feature `testutil`): a tiny XOR chunk codec, store
//! fixtures shared by every Store API implementation, and [`MemStore`], the
//! in-memory reference store.

pub mod fixture;
pub mod memstore;
pub mod xor;

pub use fixture::{Fixture, FixtureSeries, STANDARD_T0};
pub use memstore::MemStore;
pub use xor::{decode_xor, encode_xor};
