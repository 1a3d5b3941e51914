use crate::Ctx;
pub fn run(_ctx: &Ctx, _a: crate::cli::SaveArgs) -> anyhow::Result<()> { anyhow::bail!("todo") }
