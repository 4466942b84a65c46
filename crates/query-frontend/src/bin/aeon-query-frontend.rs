//! `aeon-query-frontend`: the query frontend as a standalone binary (for its
//! container image). Starts through the service skeleton
//! (`aeon_common::service`), as `aeon query-frontend` does.

fn main() -> std::process::ExitCode {
    aeon_common::service::main::<aeon_query_frontend::Args>()
}
