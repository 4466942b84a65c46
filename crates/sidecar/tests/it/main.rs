//! Integration tests of the sidecar against a real Prometheus 3.5
//! (`$AEON_PEERS_DIR/prometheus3/bin`, default /opt/peers).

mod common;
mod store;
mod shipper;
