//! `strata analyze` — being written; the command refuses to run until it is.

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

pub fn run(_ctx: &Ctx, _args: AnalyzeArgs) -> anyhow::Result<()> {
    anyhow::bail!("'strata analyze' is not available in this build yet")
}
