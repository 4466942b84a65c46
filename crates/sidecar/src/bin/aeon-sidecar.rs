//! `aeon-sidecar`: the sidecar as a standalone binary (container image).

use aeon_sidecar::{Args, run};

fn main() -> anyhow::Result<()> {
    let args: Args = aeon_common::config::parse()?;
    let _guard = aeon_common::telemetry::init(&args.telemetry, "sidecar")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let shutdown = aeon_common::shutdown::on_signals();
        run(args, shutdown).await
    })?;
    Ok(())
}
