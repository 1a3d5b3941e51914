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
//!
//! Docker 20.10's rules and words: a trailing slash asserts a directory (and follows a
//! final symlink to one), `dir/.` copies a directory's contents, `-L` copies a symlink's
//! target under the link's name; a missing container path is `Error: No such
//! container:path: CONTAINER:PATH` (for a destination, its parent), a missing destination
//! directory `no such directory`, all with exit status 1. Ownership as Docker's CLI and
//! daemon leave it when run as root: into a container the source's owners (with `-a`, the
//! container's user when it has one), out to the host the copier's, in a tar stream out
//! the container's.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;

use strata_runtime::copy::{self, OutOptions, Owner};

use crate::Ctx;
use crate::cmd::container;

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
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

/// A failure Docker's CLI reports as the bare message (its `cp` errors carry their own
/// prefix, if any), exit status 1.
fn fail(msg: impl std::fmt::Display) -> anyhow::Error {
    eprintln!("{msg}");
    crate::Exit(1).into()
}

/// The parent of a container path as Docker names it (`/a/b` → `/a`).
fn container_parent(p: &str) -> &str {
    match p.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((parent, _)) => parent,
    }
}

/// Go's `filepath.Clean` of a path for messages: no `.` components, no trailing slash.
fn clean(p: &Path) -> PathBuf {
    p.components().collect()
}

/// Whether a path given on the command line ends in a way that asserts a directory.
fn asserts_dir(p: &str) -> bool {
    p.ends_with('/') || p.ends_with("/.")
}

pub fn run(ctx: &Ctx, args: CpArgs) -> anyhow::Result<()> {
    let (container_ref, typed_path, host, out) = match (split(&args.src), split(&args.dest)) {
        (Some((c, p)), None) => (c, p, PathBuf::from(&args.dest), true),
        (None, Some((c, p))) => (c, p, PathBuf::from(&args.src), false),
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
    };
    let cpath = if typed_path.starts_with('/') {
        typed_path.to_string()
    } else {
        format!("/{typed_path}")
    };
    let no_such = |p: &str| {
        fail(format!(
            "Error: No such container:path: {container_ref}:{p}"
        ))
    };
    let stream = host.as_os_str() == "-";
    let cwd = std::env::current_dir()?;
    let host_text = if out { &args.dest } else { &args.src };
    let host_abs = if host.is_absolute() {
        host.clone()
    } else {
        cwd.join(&host)
    };
    // Checks of the host side Docker's CLI makes before asking the daemon.
    if out && !stream {
        let parent = clean(&host_abs);
        let parent = parent.parent().unwrap_or(Path::new("/"));
        if !parent.is_dir() {
            return Err(fail(format!(
                "invalid output path: directory {:?} does not exist",
                parent.display().to_string()
            )));
        }
    }
    // `-L`, or a trailing slash, follows a host source's final symlink; the copy keeps the
    // name given.
    let mut host_src = host_abs.clone();
    if !out && !stream {
        match std::fs::symlink_metadata(&host_abs) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(fail(format!(
                    "lstat {}: no such file or directory",
                    clean(&host_abs).display()
                )));
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                return Err(fail("not a directory"));
            }
            Err(e) => return Err(e.into()),
            Ok(m) if m.file_type().is_symlink() && args.follow_link => {
                host_src = std::fs::canonicalize(&host_abs)?;
            }
            Ok(_) => {}
        }
    }
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
    let id = match container::resolve(&cs, container_ref) {
        Ok(id) => id,
        Err(e) if container::is_missing(&e) => return Err(no_such(typed_path)),
        Err(e) => return Err(e),
    };
    let c = cs.load(&id)?;
    if out && !stream && asserts_dir(host_text) && !host_abs.exists() {
        return Err(fail("no such directory"));
    }
    let host = match &scratch {
        Some(dir) => dir.path().to_path_buf(),
        None if out => host_abs.clone(),
        None => host_src.clone(),
    };
    // As Docker's daemon extracts (as root): the source's owners; `-a` into a container
    // with a user makes that user the owner. Out to the host the files are ours, as the
    // CLI's extraction leaves them; a tar stream out carries the container's owners.
    let owner_in = if args.archive && !c.config.user.is_empty() {
        Owner::Set(c.config.uid, c.config.gid)
    } else {
        Owner::Keep
    };
    let out_opts = OutOptions {
        follow: args.follow_link,
        owner: if stream { Owner::Keep } else { Owner::Copier },
    };
    // The name a host source is copied under: the name given (a followed symlink's).
    let name = host_abs
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let contents_only = !out && !stream && args.src.ends_with("/.");
    let copy = |root: i32| -> std::io::Result<()> {
        match (out, stream) {
            (true, _) => copy::copy_out_with(root, &cpath, &host, out_opts),
            (false, false) if contents_only => {
                // `dir/.`: the contents into an existing directory, else the directory
                // as the destination.
                if copy::open_in_root(root, &cpath, libc::O_PATH | libc::O_DIRECTORY).is_ok() {
                    for e in sorted_entries(&host)? {
                        let n = e.file_name().map(|n| n.to_os_string()).unwrap_or_default();
                        copy::copy_in_as(&e, &n, root, &cpath, owner_in)?;
                    }
                    Ok(())
                } else {
                    copy::copy_in_as(&host, &name, root, &cpath, owner_in)
                }
            }
            (false, false) => copy::copy_in_as(&host, &name, root, &cpath, owner_in),
            (false, true) => {
                // The stream's entries go into the destination, which must be a directory
                // (only the errno crosses from a stopped container's copy process).
                copy::open_in_root(root, &cpath, libc::O_PATH | libc::O_DIRECTORY)?;
                for p in sorted_entries(&host)? {
                    let n = p.file_name().map(|n| n.to_os_string()).unwrap_or_default();
                    copy::copy_in_as(&p, &n, root, &cpath, owner_in)?;
                }
                Ok(())
            }
        }
    };
    let result = if c.state.running() && cs.monitor_alive(&id) {
        if strata_runtime::exec::start_time(c.state.pid) != Some(c.state.pid_start) {
            bail!("container {id} is not running");
        }
        let root = copy::running_root(c.state.pid)
            .with_context(|| format!("cannot open the root of container {id}"))?;
        use std::os::fd::AsRawFd;
        match &c.config.userns {
            // Into a user-namespaced container: as its root, or the idmapped layers
            // cannot represent the new files' owner.
            Some(m) if !out => {
                strata_runtime::userns::as_container_root(m, || copy(root.as_raw_fd()))
                    .and_then(|r| r)
            }
            _ => copy(root.as_raw_fd()),
        }
    } else {
        let mut lower = c.config.lower.clone();
        if lower.is_empty() {
            let empty = c.dir.join("run/empty");
            std::fs::create_dir_all(&empty)?;
            lower.push(empty);
        }
        let merged: &Path = &c.dir.join("merged");
        copy::with_stopped_root(&lower, &c.upper(), &c.dir.join("work"), merged, copy)
    };
    // Docker's words for what went wrong, by the side it concerns.
    if let Err(e) = result {
        let errno = e.raw_os_error();
        return Err(match (out, stream, errno) {
            (true, _, Some(libc::ENOENT)) => no_such(typed_path),
            (true, _, Some(libc::ENOTDIR)) => fail(format!(
                "Error response from daemon: lstat {cpath}: not a directory"
            )),
            (true, false, Some(libc::EEXIST)) if host_abs.exists() && !host_abs.is_dir() => {
                fail("cannot copy directory")
            }
            (false, true, Some(libc::ENOENT | libc::ENOTDIR)) => fail(format!(
                "destination \"{container_ref}:{typed_path}\" must be a directory"
            )),
            (false, false, Some(libc::ENOENT)) if asserts_dir(&cpath) => fail("no such directory"),
            (false, false, Some(libc::ENOENT)) => no_such(container_parent(typed_path)),
            _ => {
                let what = match (out, stream) {
                    (true, true) => format!("copying {id}:{cpath} to standard output"),
                    (true, false) => format!("copying {id}:{cpath} to {}", host.display()),
                    (false, true) => format!("copying standard input to {id}:{cpath}"),
                    (false, false) => format!("copying {} to {id}:{cpath}", host.display()),
                };
                anyhow::Error::from(e).context(what)
            }
        });
    }
    if let (Some(dir), true) = (&scratch, out) {
        let mut stdout = std::io::stdout().lock();
        strata_layer::create(
            dir.path(),
            &mut stdout,
            &strata_layer::CreateOptions::default(),
        )
        .with_context(|| format!("copying {id}:{cpath} to standard output"))?;
        std::io::Write::flush(&mut stdout)?;
    }
    Ok(())
}

/// The entries of host directory `dir`, by name.
fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    Ok(names)
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
        assert_eq!(container_parent("/nodir/t"), "/nodir");
        assert_eq!(container_parent("/t"), "/");
        assert_eq!(container_parent("a/b/"), "a");
        assert!(asserts_dir("out/") && asserts_dir("d/.") && !asserts_dir("out"));
    }
}
