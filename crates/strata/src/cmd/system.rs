use crate::Ctx;
use crate::cli::{CheckArgs, DfArgs, GcArgs};
pub fn df(_ctx: &Ctx, _a: DfArgs) -> anyhow::Result<()> { anyhow::bail!("todo") }
pub fn check(_ctx: &Ctx, _a: CheckArgs) -> anyhow::Result<()> { anyhow::bail!("todo") }
pub fn gc(_ctx: &Ctx, _a: GcArgs) -> anyhow::Result<()> { anyhow::bail!("todo") }
