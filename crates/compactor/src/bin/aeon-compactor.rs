//! `aeon-compactor`: the compactor alone, for its container image. Starts through the service skeleton
//! (`aeon_common::service`), as `aeon <cmd>` does.

fn main() -> std::process::ExitCode {
    aeon_common::service::main::<aeon_compactor::Args>()
}
