use crate::Ctx;
pub fn run(_ctx: &Ctx, _a: crate::cli::RmiArgs) -> anyhow::Result<()> { anyhow::bail!("todo") }
