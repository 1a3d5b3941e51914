use crate::Ctx;
pub fn run(_ctx: &Ctx, _a: crate::cli::ImagesArgs) -> anyhow::Result<()> { anyhow::bail!("todo") }
