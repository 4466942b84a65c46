//! `aeon-querier`: the querier as a standalone binary (for its container image).

use aeon_querier::Args;

fn main() -> anyhow::Result<()> {
    let args: Args = aeon_common::config::parse()?;
    let _guard = aeon_common::telemetry::init(&args.telemetry, "query")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let token = aeon_common::shutdown::on_signals();
        aeon_querier::run(args, token).await
    })?;
    Ok(())
}
