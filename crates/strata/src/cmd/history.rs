use crate::Ctx;
pub fn run(_ctx: &Ctx, _a: crate::cli::HistoryArgs) -> anyhow::Result<()> { anyhow::bail!("todo") }
