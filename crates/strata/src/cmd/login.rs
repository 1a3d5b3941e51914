//! `strata login` — being written; the command refuses to run until it is.

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

pub fn run(_ctx: &Ctx, _args: LoginArgs) -> anyhow::Result<()> {
    anyhow::bail!("'strata login' is not available in this build yet")
}
