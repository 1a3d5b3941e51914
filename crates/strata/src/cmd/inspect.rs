use crate::Ctx;
pub fn run(_ctx: &Ctx, _a: crate::cli::InspectArgs) -> anyhow::Result<()> { anyhow::bail!("todo") }
