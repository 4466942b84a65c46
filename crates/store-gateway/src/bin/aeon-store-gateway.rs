//! `aeon-store-gateway`: the store gateway as a standalone binary.

use aeon_store_gateway::{Args, run};

fn main() -> anyhow::Result<()> {
    let args: Args = aeon_common::config::parse()?;
    let _guard = aeon_common::telemetry::init(&args.telemetry, "store")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let token = aeon_common::shutdown::on_signals();
        run(args, token).await
    })?;
    Ok(())
}
