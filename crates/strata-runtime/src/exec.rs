//! `exec`: run another process inside a running container — join its namespaces (ipc, uts,
//! net, pid, mount in that order, then its user namespace if it has one), fork so the process
//! is a member of the container's pid namespace, then apply the same confinement as the
//! container's own process (bounding set, no-new-privileges, seccomp, identity, working
//! directory) and exec.
//!
//! Namespace descriptors are opened from `/proc/<pid>/ns/*` *before* the fork and checked
//! to belong to the expected process (by its start time), so a recycled pid cannot
//! redirect an exec into another process's namespaces.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use crate::{ProcessSpec, RuntimeError, Stdio3, check, seccomp};

/// What `exec` needs besides the process.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Capabilities kept in the bounding set (default: Docker's default set).
    pub capabilities: Option<Vec<u32>>,
    pub privileged: bool,
    pub seccomp: bool,
    /// A terminal allocated inside the container (see [`crate::console`]).
    pub console: Option<crate::console::Console>,
    /// `cgroup.procs` files to join.
    pub cgroup_procs: Vec<std::path::PathBuf>,
}

/// The start time (clock ticks since boot, field 22 of `/proc/<pid>/stat`) of `pid`.
pub fn start_time(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: skip past the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// Start `process` in the namespaces of `pid` (which must have start time `started`).
/// The returned child mirrors the process's exit status.
pub fn exec_in(
    pid: i32,
    started: u64,
    process: &ProcessSpec,
    opts: &ExecOptions,
    stdio: Stdio3,
) -> Result<Child, RuntimeError> {
    let program = process.args.first().cloned().unwrap_or_default();
    let fail = |source: io::Error| RuntimeError::Spawn {
        program: program.clone(),
        source,
    };
    if process.args.is_empty() {
        return Err(RuntimeError::InvalidSpec {
            reason: "no command given".into(),
        });
    }
    let mut files = Vec::new();
    for (ns, flag) in [
        ("ipc", libc::CLONE_NEWIPC),
        ("uts", libc::CLONE_NEWUTS),
        ("net", libc::CLONE_NEWNET),
        ("pid", libc::CLONE_NEWPID),
        ("mnt", libc::CLONE_NEWNS),
    ] {
        let f = File::open(format!("/proc/{pid}/ns/{ns}")).map_err(fail)?;
        files.push((f, flag));
    }
    // A container in a user namespace of its own: joined last, after the mount namespace
    // (the others belong to the host's user namespace; see `crate::userns`).
    let user_ns = File::open(format!("/proc/{pid}/ns/user")).map_err(fail)?;
    let same = |a: &File, b: &std::fs::Metadata| {
        use std::os::unix::fs::MetadataExt;
        a.metadata()
            .is_ok_and(|m| m.ino() == b.ino() && m.dev() == b.dev())
    };
    let ours = std::fs::metadata("/proc/self/ns/user").map_err(fail)?;
    if !same(&user_ns, &ours) {
        files.push((user_ns, libc::CLONE_NEWUSER));
    }
    if start_time(pid) != Some(started) {
        return Err(fail(io::Error::from_raw_os_error(libc::ESRCH)));
    }
    let mut cgroup_files = Vec::new();
    for p in &opts.cgroup_procs {
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(p) {
            cgroup_files.push(f);
        }
    }
    let cgroup_fds: Vec<RawFd> = cgroup_files.iter().map(|f| f.as_raw_fd()).collect();
    let ns: Vec<(RawFd, libc::c_int)> = files.iter().map(|(f, n)| (f.as_raw_fd(), *n)).collect();
    let drop_caps: Vec<u32> = if opts.privileged {
        Vec::new()
    } else {
        let keep: &[u32] = opts.capabilities.as_deref().unwrap_or(&crate::DEFAULT_CAPS);
        (0..=63).filter(|c| !keep.contains(c)).collect()
    };
    let filter = (opts.seccomp && !opts.privileged).then(seccomp::default_filter);
    let cwd = crate::cstr(&process.cwd)?;
    let (uid, gid) = (process.uid, process.gid);
    let groups = process.additional_gids.clone();
    let console = opts.console;
    let ordered_env = crate::OrderedEnv::new(&process.env)?;

    // No environment is given to `Command`: it would pass its sorted copy; the child
    // installs `ordered_env` instead.
    let mut cmd = Command::new(&process.args[0]);
    cmd.args(&process.args[1..])
        .stdin(stdio.stdin)
        .stdout(stdio.stdout)
        .stderr(stdio.stderr);
    // SAFETY: raw system calls on buffers prepared before the fork (see the crate docs).
    unsafe {
        cmd.pre_exec(move || {
            ordered_env.install();
            crate::unblock_all_signals();
            for fd in &cgroup_fds {
                libc::write(*fd, b"0".as_ptr().cast(), 1);
            }
            for (fd, flag) in &ns {
                check(libc::setns(*fd, *flag))?;
            }
            let child = libc::fork();
            if child < 0 {
                return Err(io::Error::last_os_error());
            }
            if child == 0 {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                check(libc::chdir(c"/".as_ptr()))?;
                for c in &drop_caps {
                    libc::prctl(libc::PR_CAPBSET_DROP, *c as libc::c_ulong, 0, 0, 0);
                }
                check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
                check(libc::setgroups(groups.len(), groups.as_ptr()))?;
                check(libc::setresgid(gid, gid, gid))?;
                check(libc::setresuid(uid, uid, uid))?;
                check(libc::chdir(cwd.as_ptr()))?;
                return crate::finish_process(console.as_ref(), filter.as_ref());
            }
            let status = crate::close_and_wait(child);
            if libc::WIFSIGNALED(status) {
                libc::_exit(128 + libc::WTERMSIG(status));
            }
            libc::_exit(libc::WEXITSTATUS(status));
        });
    }
    let child = cmd.spawn().map_err(fail)?;
    drop(files);
    drop(cgroup_files);
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_of_self_is_stable() {
        let me = std::process::id() as i32;
        let a = start_time(me).unwrap();
        assert_eq!(start_time(me), Some(a));
        assert_eq!(start_time(i32::MAX), None);
    }
}
