use crate::Ctx;
pub fn run(_ctx: &Ctx, _a: crate::cli::PruneArgs) -> anyhow::Result<()> { anyhow::bail!("todo") }
