//! `strata rm` — Docker's `docker rm`: remove stopped containers (`-f` stops them first
//! with SIGKILL), their copy-on-write layer, logs and, with `-v`, their anonymous volumes.
//! Nothing is ever mounted on the host for a container, so there is nothing to unmount;
//! leftover cgroups of a killed monitor are removed.

use clap::Args;

use crate::Ctx;
use crate::cmd::container;

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: RmArgs) -> anyhow::Result<()> {
    let cs = container::containers(ctx)?;
    let store = ctx.store().ok();
    container::for_each(&args.containers, |n| {
        let id = container::resolve(&cs, n)?;
        let c = cs.load(&id)?;
        if c.state.running() && cs.monitor_alive(&id) {
            if !args.force {
                container::ensure_stopped(&cs, &c)?;
            }
            container::stop(&cs, &id, Some(0), Some("KILL"))?;
        }
        container::remove_stopped(&cs, store.as_ref(), &c, args.volumes)
    })
}
