//! `strata logout` — Docker's `docker logout [SERVER]`: erase the stored credentials (from
//! the credential helper and from `auths` in `~/.docker/config.json`).

use std::io::Write;

use anyhow::Context as _;
use strata_registry::DockerConfig;
use strata_registry::credentials::{DOCKER_HUB_SERVER, normalize_server};

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

pub fn run(_ctx: &Ctx, args: LogoutArgs) -> anyhow::Result<()> {
    let server = normalize_server(args.server.as_deref());
    let path = DockerConfig::default_path()
        .context("cannot find the Docker config file (set DOCKER_CONFIG or HOME)")?;
    let mut config = DockerConfig::load(&path)?;
    let mut out = std::io::stdout();
    let shown = if server == DOCKER_HUB_SERVER {
        DOCKER_HUB_SERVER.to_string()
    } else {
        server.clone()
    };
    let known = config.get(&server).ok().flatten().is_some();
    if !known {
        writeln!(out, "Not logged in to {shown}")?;
    }
    let removed = config.erase(&server)?;
    if known || removed {
        writeln!(out, "Removing login credentials for {shown}")?;
    }
    Ok(())
}
