//! `strata stop`, `kill` and `restart` — Docker's: `stop` sends the stop signal (`-s`, the
//! container's `--stop-signal`, the image's STOPSIGNAL, else SIGTERM), waits `-t` seconds
//! (default the container's `--stop-timeout`, else 10) and then sends SIGKILL; `kill` sends
//! one signal (default SIGKILL); `restart` stops then starts.

use anyhow::Context as _;
use clap::Args;

use crate::Ctx;
use crate::cmd::container;

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", visible_alias = "timeout")]
    pub time: Option<i64>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

pub fn stop(ctx: &Ctx, args: StopArgs) -> anyhow::Result<()> {
    let cs = container::containers(ctx)?;
    container::for_each(&args.containers, |n| {
        let id = container::resolve(&cs, n)?;
        container::stop(&cs, &id, args.time, args.signal.as_deref())
    })
}

pub fn kill(ctx: &Ctx, args: KillArgs) -> anyhow::Result<()> {
    let cs = container::containers(ctx)?;
    let sig = container::parse_signal(&args.signal)?;
    container::for_each(&args.containers, |n| {
        let signal = || -> anyhow::Result<String> {
            let id = container::resolve(&cs, n)?;
            let c = cs.load(&id)?;
            container::signal(&cs, &c, sig)?;
            Ok(id)
        };
        // Docker names the failed kill before the reason.
        let id = signal().with_context(|| format!("Cannot kill container: {n}"))?;
        if sig == libc::SIGKILL {
            container::wait_gone(&cs, &id, Some(std::time::Duration::from_secs(10)));
        }
        Ok(())
    })
}

pub fn restart(ctx: &Ctx, args: StopArgs) -> anyhow::Result<()> {
    let cs = container::containers(ctx)?;
    container::for_each(&args.containers, |n| {
        let id = container::resolve(&cs, n)?;
        container::stop(&cs, &id, args.time, args.signal.as_deref())?;
        crate::cmd::start::start_detached(ctx, &cs, &id)
    })
}
