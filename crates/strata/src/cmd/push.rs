//! `strata push` — being written; the command refuses to run until it is.

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// Arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

pub fn run(_ctx: &Ctx, _args: PushArgs) -> anyhow::Result<()> {
    anyhow::bail!("'strata push' is not available in this build yet")
}
