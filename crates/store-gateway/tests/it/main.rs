//! Integration tests of the store gateway.
