//! `aeon-store-gateway`: the store gateway as a standalone binary. Starts through the service skeleton
//! (`aeon_common::service`), as `aeon <cmd>` does.

fn main() -> std::process::ExitCode {
    aeon_common::service::main::<aeon_store_gateway::Args>()
}
