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
    let mut failed = false;
    for n in &args.containers {
        match remove(&cs, store.as_ref(), n, &args) {
            Ok(()) => println!("{n}"),
            // Docker's CLI: a missing container is reported, and with `-f` is no failure.
            Err(e) if container::is_missing(&e) => {
                eprintln!("Error: {}", crate::render_error(&e));
                failed |= !args.force;
            }
            Err(e) => {
                eprintln!("Error response from daemon: {}", crate::render_error(&e));
                failed = true;
            }
        }
    }
    if failed {
        return Err(crate::Exit(1).into());
    }
    Ok(())
}

fn remove(
    cs: &strata_runtime::state::Containers,
    store: Option<&strata_store::Store>,
    n: &str,
    args: &RmArgs,
) -> anyhow::Result<()> {
    let id = container::resolve(cs, n)?;
    let c = cs.load(&id)?;
    if c.state.running() && cs.monitor_alive(&id) {
        if !args.force {
            container::ensure_stopped(cs, &c)?;
        }
        container::stop(cs, &id, Some(0), Some("KILL"))?;
        // A `--rm` container is removed by its monitor as it exits: done then.
        if c.config.auto_remove && cs.load(&id).is_err() {
            if let Some(s) = store {
                let _ = s.remove_root(&format!("container-{id}"));
            }
            return Ok(());
        }
    }
    container::remove_stopped(cs, store, &c, args.volumes)
}
