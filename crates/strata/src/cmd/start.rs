//! `strata start` — Docker's `docker start`: start stopped containers again (same
//! copy-on-write layer, new monitor); `-a` attaches to the output and exits with the
//! container's status.

use anyhow::bail;
use clap::Args;
use strata_runtime::state::Containers;

use crate::Ctx;
use crate::cmd::container::{self, StartReport};

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// Start `id` in the background (nothing when it already runs).
pub fn start_detached(ctx: &Ctx, cs: &Containers, id: &str) -> anyhow::Result<()> {
    if cs.monitor_alive(id) {
        return Ok(());
    }
    let mut l = container::launch(ctx, id, false, None)?;
    match l.started()? {
        StartReport::Started(_) => Ok(()),
        StartReport::Failed(_, msg) => {
            let _ = l.child.wait();
            bail!("failed to start container {id}: {msg}")
        }
    }
}

pub fn run(ctx: &Ctx, args: StartArgs) -> anyhow::Result<()> {
    let cs = container::containers(ctx)?;
    if args.attach || args.interactive {
        if args.containers.len() != 1 {
            bail!("you cannot start and attach multiple containers at once");
        }
        let id = container::resolve(&cs, &args.containers[0])?;
        if cs.monitor_alive(&id) {
            bail!("container {} is already running", args.containers[0]);
        }
        let auto_remove = cs.load(&id)?.config.auto_remove;
        return crate::cmd::run::start_created(
            ctx,
            &cs,
            &id,
            true,
            auto_remove,
            args.detach_keys.as_deref(),
        );
    }
    let mut failed: Vec<String> = Vec::new();
    let result = container::for_each(&args.containers, |n| {
        let r = container::resolve(&cs, n).and_then(|id| start_detached(ctx, &cs, &id));
        if r.is_err() {
            failed.push(n.to_string());
        }
        r
    });
    if result.is_err() {
        // Docker's CLI closes with the list of what did not start.
        eprintln!("Error: failed to start containers: {}", failed.join(", "));
    }
    result
}
