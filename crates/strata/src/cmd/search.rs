//! `strata search` — being written; the command refuses to run until it is.

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

pub fn run(_ctx: &Ctx, _args: SearchArgs) -> anyhow::Result<()> {
    anyhow::bail!("'strata search' is not available in this build yet")
}
