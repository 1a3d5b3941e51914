use crate::Ctx;
pub fn run(_ctx: &Ctx, _a: crate::cli::ImportArgs) -> anyhow::Result<()> { anyhow::bail!("todo") }
