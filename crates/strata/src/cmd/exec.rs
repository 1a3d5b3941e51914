//! `strata exec` — Docker's `docker exec`: run a command in a running container, joining
//! its namespaces, with the container's environment plus `-e`, its user unless `-u`, its
//! working directory unless `-w`, and the same capability set and seccomp filter. Exit
//! status: the command's; 126/127 when it cannot be executed or found.

use std::process::Stdio;

use anyhow::bail;
use clap::Args;
use strata_runtime::exec::ExecOptions;
use strata_runtime::{ProcessSpec, Stdio3};

use crate::Ctx;
use crate::cmd::container;

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

pub fn run(ctx: &Ctx, args: ExecArgs) -> anyhow::Result<()> {
    let fail = |e: anyhow::Error| -> anyhow::Error {
        eprintln!("Error response from daemon: {}", crate::render_error(&e));
        crate::Exit(1).into()
    };
    let cs = container::containers(ctx)?;
    let id = container::resolve(&cs, &args.container).map_err(fail)?;
    let c = cs.load(&id).map_err(|e| fail(e.into()))?;
    if !c.state.running() || !cs.monitor_alive(&id) {
        return Err(fail(anyhow::anyhow!("container {id} is not running")));
    }
    let cfg = &c.config;
    let mut env = cfg.env.clone();
    for e in &args.env {
        let kv = if e.contains('=') {
            e.clone()
        } else {
            match std::env::var(e) {
                Ok(v) => format!("{e}={v}"),
                Err(_) => continue,
            }
        };
        let k = kv
            .split_once('=')
            .map_or(kv.as_str(), |(k, _)| k)
            .to_string();
        env.retain(|x| x.split_once('=').map_or(x.as_str(), |(k, _)| k) != k);
        env.push(kv);
    }
    let (uid, gid, groups) = match &args.user {
        None => (cfg.uid, cfg.gid, cfg.additional_gids.clone()),
        Some(u) => {
            // Resolve against the container's current files (its layer over the image's).
            let mut dirs = vec![c.upper()];
            dirs.extend(cfg.lower.iter().cloned());
            strata_build::fsutil::resolve_user(&dirs, u).map_err(|e| {
                fail(anyhow::anyhow!(
                    "unable to find user {u}: no matching entries in passwd file ({e})"
                ))
            })?
        }
    };
    let cwd = match &args.workdir {
        Some(w) if !w.starts_with('/') => {
            bail!("the working directory '{w}' is invalid, it needs to be an absolute path")
        }
        Some(w) => w.clone(),
        None => cfg.working_dir.clone(),
    };
    let process = ProcessSpec {
        args: args.command.clone(),
        env,
        cwd,
        uid,
        gid,
        additional_gids: groups,
    };
    let opts = ExecOptions {
        capabilities: Some(cfg.capabilities.clone()),
        privileged: cfg.privileged || args.privileged,
        seccomp: cfg.seccomp,
        tty: args.tty && !args.detach,
        cgroup_procs: c
            .state
            .cgroups
            .iter()
            .map(|d| d.join("cgroup.procs"))
            .collect(),
    };
    // -t: a pseudo-terminal of our own, relayed to our stdin/stdout (raw while attached).
    let mut pty_master = None;
    let stdio = if args.tty && !args.detach {
        let (master, slave) = strata_runtime::monitor::openpty()
            .map_err(|e| fail(anyhow::anyhow!("cannot open a pseudo-terminal: {e}")))?;
        // SAFETY: ioctls on our stdin and the new pty with a zeroed winsize buffer.
        unsafe {
            use std::os::fd::AsRawFd;
            let mut ws: libc::winsize = std::mem::zeroed();
            if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
                libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
            }
        }
        let (s2, s3) = (slave.try_clone()?, slave.try_clone()?);
        pty_master = Some(master);
        Stdio3 {
            stdin: Stdio::from(slave),
            stdout: Stdio::from(s2),
            stderr: Stdio::from(s3),
        }
    } else if args.detach {
        Stdio3 {
            stdin: Stdio::null(),
            stdout: Stdio::null(),
            stderr: Stdio::null(),
        }
    } else {
        Stdio3 {
            stdin: if args.interactive || args.tty {
                Stdio::inherit()
            } else {
                Stdio::null()
            },
            stdout: Stdio::inherit(),
            stderr: Stdio::inherit(),
        }
    };
    let child =
        strata_runtime::exec::exec_in(c.state.pid, c.state.pid_start, &process, &opts, stdio);
    let mut child = match child {
        Ok(ch) => ch,
        Err(strata_runtime::RuntimeError::Spawn { program, source }) => {
            let (code, what) = match source.raw_os_error() {
                Some(libc::ENOENT) => (127, "executable file not found in $PATH"),
                Some(libc::EACCES | libc::ENOEXEC | libc::EISDIR) => (126, "permission denied"),
                Some(libc::ESRCH) => {
                    return Err(fail(anyhow::anyhow!("container {id} is not running")));
                }
                _ => (126, "cannot start"),
            };
            eprintln!(
                "OCI runtime exec failed: exec failed: unable to start container process: exec: \"{program}\": {what}: {source}"
            );
            return Err(crate::Exit(code).into());
        }
        Err(e) => return Err(fail(e.into())),
    };
    if args.detach {
        return Ok(());
    }
    let _raw = pty_master
        .as_ref()
        .and_then(|_| crate::cmd::run::RawTerminal::enter());
    let mut relay = None;
    if let Some(master) = pty_master {
        let mut from = master.try_clone()?;
        if args.interactive {
            let mut to = master;
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin(), &mut to);
            });
        }
        relay = Some(std::thread::spawn(move || {
            // Ends with EIO once the last process holding the terminal exits.
            let _ = std::io::copy(&mut from, &mut std::io::stdout());
        }));
    }
    let status = child.wait()?;
    if let Some(r) = relay {
        let _ = r.join();
    }
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    if code == 0 {
        return Ok(());
    }
    Err(crate::Exit(code.clamp(0, 255) as u8).into())
}
