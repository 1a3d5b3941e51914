//! `strata wait` — Docker's `docker wait`: block until containers stop, print their exit
//! codes. Waiting is a shared lock on the monitor's lock file: no polling.

use clap::Args;

use crate::Ctx;
use crate::cmd::container;

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: WaitArgs) -> anyhow::Result<()> {
    let cs = container::containers(ctx)?;
    container::for_each_print(&args.containers, |n| {
        let id = container::resolve(&cs, n)?;
        cs.wait_monitor(&id)?;
        Ok(cs.load(&id).map(|c| c.state.exit_code).unwrap_or(0))
    })
}
