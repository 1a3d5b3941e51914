//! `strata cp` — Docker's `docker cp`: copy files between a container and the host, in
//! either direction, for running and stopped containers. Paths inside the container are
//! resolved by the kernel confined to the container's root (`strata_runtime::copy`), so a
//! symlink in the container can never make the copy read or write a host file.
//!
//! `-` as the source reads a tar stream from stdin and extracts it into the container
//! directory; `-` as the destination writes the container path as a tar stream to stdout.
//! Both go through a private scratch directory on the host: the stream is unpacked there
//! with the layer extractor (which refuses entries escaping it), then copied in with the
//! same confined copy; the other way, the path is copied out there and archived.

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
    let cpath = if cpath.starts_with('/') {
        cpath.to_string()
    } else {
        format!("/{cpath}")
    };
    let stream = host.as_os_str() == "-";
    // A tar stream goes through a scratch directory (see the module doc).
    let scratch = if stream {
        Some(tempfile::Builder::new().prefix("strata-cp-").tempdir()?)
    } else {
        None
    };
    if let Some(dir) = &scratch
        && !out
    {
        let opts = strata_layer::ApplyOptions {
            allow_devices: false,
            chown: strata_layer::ApplyOptions::for_current_user().chown,
            whiteouts: strata_layer::WhiteoutMode::Delete,
        };
        let stdin = std::io::stdin().lock();
        strata_layer::apply(std::io::BufReader::new(stdin), dir.path(), &opts)
            .context("failed to read the tar stream on stdin")?;
    }
    let cs = container::containers(ctx)?;
    let id = container::resolve(&cs, container_ref)?;
    let c = cs.load(&id)?;
    let host = match &scratch {
        Some(dir) => dir.path().to_path_buf(),
        None if host.is_absolute() => host,
        None => std::env::current_dir()?.join(host),
    };
    if !out && std::fs::symlink_metadata(&host).is_err() {
        bail!("could not find the file {} on the host", host.display());
    }
    let copy = |root: i32| -> std::io::Result<()> {
        match (out, stream) {
            (true, _) => strata_runtime::copy::copy_out(root, &cpath, &host),
            (false, false) => strata_runtime::copy::copy_in(&host, root, &cpath),
            (false, true) => {
                // The stream's entries go into the destination, which must be a directory
                // (ENOTDIR otherwise; only the errno crosses from a stopped container's
                // copy process).
                strata_runtime::copy::open_in_root(root, &cpath, libc::O_PATH | libc::O_DIRECTORY)?;
                let mut names: Vec<_> = std::fs::read_dir(&host)?
                    .map(|e| e.map(|e| e.path()))
                    .collect::<std::io::Result<_>>()?;
                names.sort();
                for p in names {
                    strata_runtime::copy::copy_in(&p, root, &cpath)?;
                }
                Ok(())
            }
        }
    };
    let what = || match (out, stream) {
        (true, true) => format!("copying {id}:{cpath} to standard output"),
        (true, false) => format!("copying {id}:{cpath} to {}", host.display()),
        (false, true) => format!("copying standard input to {id}:{cpath}"),
        (false, false) => format!("copying {} to {id}:{cpath}", host.display()),
    };
    if c.state.running() && cs.monitor_alive(&id) {
        if strata_runtime::exec::start_time(c.state.pid) != Some(c.state.pid_start) {
            bail!("container {id} is not running");
        }
        let root = strata_runtime::copy::running_root(c.state.pid)
            .with_context(|| format!("cannot open the root of container {id}"))?;
        use std::os::fd::AsRawFd;
        match &c.config.userns {
            // Into a user-namespaced container: as its root, or the idmapped layers
            // cannot represent the new files' owner.
            Some(m) if !out => {
                strata_runtime::userns::as_container_root(m, || copy(root.as_raw_fd()))
                    .and_then(|r| r)
                    .with_context(what)?
            }
            _ => copy(root.as_raw_fd()).with_context(what)?,
        }
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
    if let (Some(dir), true) = (&scratch, out) {
        let mut stdout = std::io::stdout().lock();
        strata_layer::create(
            dir.path(),
            &mut stdout,
            &strata_layer::CreateOptions::default(),
        )
        .with_context(what)?;
        std::io::Write::flush(&mut stdout)?;
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
