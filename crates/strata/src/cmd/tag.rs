use crate::Ctx;
pub fn run(_ctx: &Ctx, _a: crate::cli::TagArgs) -> anyhow::Result<()> { anyhow::bail!("todo") }
