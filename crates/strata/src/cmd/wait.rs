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
    let mut failed = false;
    for n in &args.containers {
        let r = (|| -> anyhow::Result<i32> {
            let id = container::resolve(&cs, n)?;
            cs.wait_monitor(&id)?;
            Ok(cs.load(&id).map(|c| c.state.exit_code).unwrap_or(0))
        })();
        match r {
            Ok(code) => println!("{code}"),
            Err(e) => {
                failed = true;
                eprintln!("Error response from daemon: {}", crate::render_error(&e));
            }
        }
    }
    if failed {
        return Err(crate::Exit(1).into());
    }
    Ok(())
}
