//! Generates the protobuf/gRPC code from our own `.proto` files in `/proto`
//! with `protox` (pure Rust, no system `protoc`) and `tonic-prost-build`.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "thanos/types.proto",
    "thanos/rpc.proto",
    "thanos/info.proto",
    "thanos/metadata.proto",
    "thanos/exemplars.proto",
    "thanos/targets.proto",
    "hintspb/hints.proto",
    "prometheus/types.proto",
    "prometheus/remote.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    // Relative to the package (not absolute): a target dir shared by two
    // checkouts then watches the protos of the checkout being built.
    println!("cargo:rerun-if-changed=../../proto");
    for p in PROTOS {
        println!("cargo:rerun-if-changed=../../proto/{p}");
    }
    let fds = protox::compile(PROTOS, [&root])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .bytes(".thanos.Chunk.data")
        .bytes(".prometheus.Chunk.data")
        .compile_fds(fds)?;
    Ok(())
}
