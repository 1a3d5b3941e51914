use crate::Ctx;
pub fn run(_ctx: &Ctx, _a: crate::cli::LoadArgs) -> anyhow::Result<()> { anyhow::bail!("todo") }
