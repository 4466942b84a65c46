//! Integration tests of endpoint discovery: DNS lookups against a tiny DNS
//! server started by the test (no real DNS), and the EndpointSlice watcher
//! against a scripted Kubernetes API server.

// Test helpers outside `#[test]` functions may unwrap too.
#![allow(clippy::unwrap_used)]

mod dns;
mod k8s;
