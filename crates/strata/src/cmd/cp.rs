//! `strata cp` — Docker's `docker cp`: copy files between a container and the host, in
//! either direction, for running and stopped containers. Paths inside the container are
//! resolved by the kernel confined to the container's root (`strata_runtime::copy`), so a
//! symlink in the container can never make the copy read or write a host file.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;

use crate::Ctx;
use crate::cmd::container;

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (accepted; ownership of copied files is root's in the container)
    #[arg(short = 'a', long)]
    pub archive: bool,
    #[arg(value_name = "SRC")]
    pub src: String,
    #[arg(value_name = "DEST")]
    pub dest: String,
}

/// `CONTAINER:PATH` (a colon before any slash), else a host path.
fn split(arg: &str) -> Option<(&str, &str)> {
    let colon = arg.find(':')?;
    if arg[..colon].contains('/') || colon == 0 {
        return None;
    }
    Some((&arg[..colon], &arg[colon + 1..]))
}

pub fn run(ctx: &Ctx, args: CpArgs) -> anyhow::Result<()> {
    let (container_ref, cpath, host, out) = match (split(&args.src), split(&args.dest)) {
        (Some((c, p)), None) => (c, p, PathBuf::from(&args.dest), true),
        (None, Some((c, p))) => (c, p, PathBuf::from(&args.src), false),
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
    };
    if args.src == "-" || args.dest == "-" {
        bail!("tar streams on stdin/stdout are not supported: give a host path");
    }
    let cpath = if cpath.starts_with('/') {
        cpath.to_string()
    } else {
        format!("/{cpath}")
    };
    let cs = container::containers(ctx)?;
    let id = container::resolve(&cs, container_ref)?;
    let c = cs.load(&id)?;
    let host = if host.is_absolute() {
        host
    } else {
        std::env::current_dir()?.join(host)
    };
    if !out && std::fs::symlink_metadata(&host).is_err() {
        bail!("could not find the file {} on the host", host.display());
    }
    let copy = |root: i32| -> std::io::Result<()> {
        if out {
            strata_runtime::copy::copy_out(root, &cpath, &host)
        } else {
            strata_runtime::copy::copy_in(&host, root, &cpath)
        }
    };
    let what = || {
        if out {
            format!("copying {id}:{cpath} to {}", host.display())
        } else {
            format!("copying {} to {id}:{cpath}", host.display())
        }
    };
    if c.state.running() && cs.monitor_alive(&id) {
        if strata_runtime::exec::start_time(c.state.pid) != Some(c.state.pid_start) {
            bail!("container {id} is not running");
        }
        let root = strata_runtime::copy::running_root(c.state.pid)
            .with_context(|| format!("cannot open the root of container {id}"))?;
        use std::os::fd::AsRawFd;
        copy(root.as_raw_fd()).with_context(what)?;
    } else {
        let mut lower = c.config.lower.clone();
        if lower.is_empty() {
            let empty = c.dir.join("run/empty");
            std::fs::create_dir_all(&empty)?;
            lower.push(empty);
        }
        let merged: &Path = &c.dir.join("merged");
        strata_runtime::copy::with_stopped_root(
            &lower,
            &c.upper(),
            &c.dir.join("work"),
            merged,
            copy,
        )
        .with_context(what)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_are_recognised() {
        assert_eq!(split("web:/etc/hosts"), Some(("web", "/etc/hosts")));
        assert_eq!(split("./a:b"), None);
        assert_eq!(split("/tmp/x"), None);
        assert_eq!(split(":x"), None);
    }
}
