//! `aeon-compactor`: the compactor alone, for its container image.

use aeon_compactor::{Args, run};

fn main() -> anyhow::Result<()> {
    let args: Args = aeon_common::config::parse()?;
    let _guard = aeon_common::telemetry::init(&args.telemetry, "compactor")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let token = aeon_common::shutdown::on_signals();
        run(args, token).await
    })?;
    Ok(())
}
