//! `strata scan` — being written; the command refuses to run until it is.

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

pub fn run(_ctx: &Ctx, _args: ScanArgs) -> anyhow::Result<()> {
    anyhow::bail!("'strata scan' is not available in this build yet")
}
