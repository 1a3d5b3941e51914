//! `strata ps` — Docker's `docker ps`: running containers (`-a` all), Docker's columns
//! (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES), `-q`, `--format`,
//! `--no-trunc`, `-l`/`-n`. Statuses are read through the monitor locks, so a container
//! whose monitor was killed shows as exited, never as running.

use clap::Args;
use serde_json::json;

use crate::Ctx;
use crate::cmd::container;

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", default_value_t = -1)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
}

pub fn run(ctx: &Ctx, args: PsArgs) -> anyhow::Result<()> {
    let cs = container::containers(ctx)?;
    let mut list = cs.list()?;
    let last = if args.latest { 1 } else { args.last };
    if last >= 0 {
        list.truncate(last as usize);
    } else if !args.all {
        list.retain(|c| c.state.running());
    }
    if args.quiet {
        for c in &list {
            let id = &c.config.id;
            println!("{}", if args.no_trunc { id } else { &id[..12] });
        }
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = list
        .iter()
        .map(|c| {
            let id = if args.no_trunc {
                c.config.id.clone()
            } else {
                c.config.id[..12].to_string()
            };
            json!({
                "ID": id,
                "Image": c.config.image,
                "Command": container::command_text(c, !args.no_trunc),
                "CreatedAt": c.config.created,
                "RunningFor": crate::image::since(c.config.created.parse().ok()),
                "Status": container::status_text(c),
                "State": c.state.status.as_str(),
                "Ports": container::ports_text(c),
                "Names": c.config.name,
                "Labels": c.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                "Mounts": c.config.mounts.iter().map(|m| if m.kind == "volume" { m.name.clone() } else { m.source.display().to_string() }).collect::<Vec<_>>().join(","),
                "Networks": c.config.network,
            })
        })
        .collect();
    let headers = json!({
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Status": "STATUS", "State": "STATE", "Ports": "PORTS",
        "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
    });
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    crate::format::write_rows(
        &mut out,
        args.format.as_deref(),
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
        &headers,
        &rows,
    )
}
