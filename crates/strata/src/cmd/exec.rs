//! `strata exec` — Docker's `docker exec`: run a command in a running container, joining
//! its namespaces, with the container's environment plus `-e`, its user unless `-u`, its
//! working directory unless `-w`, and the same capability set and seccomp filter. Exit
//! status: the command's; 126 when it cannot be started (a missing command, a missing
//! working directory or an unknown user too), with the reason on stdout as Docker 20.10's
//! daemon writes it into the exec's output stream.
//!
//! With `-t` the process allocates its terminal on the container's devpts (so `tty` names
//! `/dev/pts/N` inside) and sends us the master ([`strata_runtime::console`]); we relay it,
//! size it from our terminal and resize it on `SIGWINCH`. With `-it` our terminal is raw,
//! so Ctrl-C reaches the process through its terminal as `SIGINT`.

use std::os::fd::{AsFd, AsRawFd};
use std::process::Stdio;

use anyhow::bail;
use clap::Args;
use strata_runtime::console::{self, Console, WinSize};
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
    if !args.detach {
        crate::cmd::run::check_input_tty(args.tty, args.interactive)?;
    }
    let cs = container::containers(ctx)?;
    // Docker's CLI looks the container up itself first: `Error: No such container: …`.
    let id = container::resolve(&cs, &args.container).map_err(|e| {
        eprintln!("Error: {}", crate::render_error(&e));
        anyhow::Error::from(crate::Exit(1))
    })?;
    let c = cs.load(&id).map_err(|e| fail(e.into()))?;
    if !c.state.running() || !cs.monitor_alive(&id) {
        return Err(fail(anyhow::anyhow!("Container {id} is not running")));
    }
    let cfg = &c.config;
    // A process that cannot start: Docker reports it on the exec's output stream (stdout,
    // with the CRLF of its stream writer) and exits 126, whatever the cause.
    let cannot_start = |msg: String| -> anyhow::Error {
        print!("{msg}\r\n");
        crate::Exit(126).into()
    };
    let user = args.user.clone().unwrap_or_else(|| cfg.user.clone());
    // Resolved against the container's current files (its layer over the image's).
    let mut dirs = vec![c.upper()];
    dirs.extend(cfg.lower.iter().cloned());
    let who = crate::cmd::run::exec_user(&dirs, &user).map_err(|e| cannot_start(e.to_string()))?;
    let cwd = match &args.workdir {
        Some(w) if !w.starts_with('/') => {
            bail!("the working directory '{w}' is invalid, it needs to be an absolute path")
        }
        Some(w) => w.clone(),
        None => cfg.working_dir.clone(),
    };
    // runc's check, done here so that a missing directory is named as such (inside the
    // process only an errno would come back, indistinguishable from a missing command).
    if let Ok(root) = strata_runtime::copy::running_root(c.state.pid)
        && let Err(e) = strata_runtime::copy::open_in_root(
            std::os::fd::AsRawFd::as_raw_fd(&root),
            &cwd,
            libc::O_PATH | libc::O_DIRECTORY,
        )
    {
        let why = match e.raw_os_error() {
            Some(libc::ENOENT) => "no such file or directory".to_string(),
            Some(libc::ENOTDIR) => "not a directory".to_string(),
            _ => e.to_string(),
        };
        return Err(cannot_start(format!(
            "OCI runtime exec failed: exec failed: unable to start container process: chdir to cwd ({cwd:?}) set in config.json failed: {why}: unknown"
        )));
    }
    // Docker's exec environment: the container's configured one with `-e` merged in,
    // started as a new process (PATH, HOSTNAME, TERM only with this exec's `-t`, HOME
    // of this exec's user).
    let mut config_env = cfg.config_env.clone().unwrap_or_else(|| cfg.env.clone());
    for e in &args.env {
        let kv = if e.contains('=') {
            e.clone()
        } else {
            match std::env::var(e) {
                Ok(v) => format!("{e}={v}"),
                Err(_) => continue,
            }
        };
        crate::cmd::run::replace_or_append(&mut config_env, kv);
    }
    let env = crate::cmd::run::process_env(&config_env, &cfg.hostname, args.tty, &who.home);
    let (uid, gid, groups) = (who.uid, who.gid, who.groups);
    let process = ProcessSpec {
        args: args.command.clone(),
        env,
        cwd,
        uid,
        gid,
        additional_gids: groups,
    };
    let tty = args.tty && !args.detach;
    // -t: the console socket (ours, the process's); SIGWINCH is blocked before any thread
    // exists so the resize thread can wait for it.
    let console_ends = if tty {
        block_sigwinch();
        Some(
            console::socketpair()
                .map_err(|e| fail(anyhow::anyhow!("cannot create a socket: {e}")))?,
        )
    } else {
        None
    };
    let opts = ExecOptions {
        capabilities: Some(cfg.capabilities.clone()),
        privileged: cfg.privileged || args.privileged,
        seccomp: cfg.seccomp,
        console: console_ends.as_ref().map(|(_, theirs)| Console {
            socket: theirs.as_raw_fd(),
            size: WinSize::of_stdio(),
        }),
        cgroup_procs: c
            .state
            .cgroups
            .iter()
            .map(|d| d.join("cgroup.procs"))
            .collect(),
    };
    let stdio = if tty {
        // The process's streams become its terminal; until then (setup errors) it writes
        // to our stderr.
        Stdio3 {
            stdin: Stdio::null(),
            stdout: Stdio::null(),
            stderr: Stdio::inherit(),
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
            let what = match source.raw_os_error() {
                Some(libc::ENOENT) => "executable file not found in $PATH",
                Some(libc::EACCES | libc::ENOEXEC | libc::EISDIR) => "permission denied",
                Some(libc::ESRCH) => {
                    return Err(fail(anyhow::anyhow!("Container {id} is not running")));
                }
                _ => "cannot start",
            };
            return Err(cannot_start(format!(
                "OCI runtime exec failed: exec failed: unable to start container process: exec: \"{program}\": {what}: unknown"
            )));
        }
        Err(e) => return Err(fail(e.into())),
    };
    if args.detach {
        return Ok(());
    }
    let mut pty_master = None;
    if let Some((ours, theirs)) = console_ends {
        drop(theirs);
        match console::receive_fd(&ours) {
            Ok(m) => pty_master = Some(m),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(anyhow::anyhow!(
                    "cannot receive the process's terminal: {e}"
                )));
            }
        }
    }
    let _raw = pty_master
        .as_ref()
        .filter(|_| args.interactive)
        .and_then(|_| crate::cmd::run::RawTerminal::enter());
    let mut relay = None;
    if let Some(master) = pty_master {
        let resize = master.try_clone()?;
        std::thread::spawn(move || strata_runtime::console::follow_resizes(&resize));
        let mut from = master.try_clone()?;
        if args.interactive {
            let mut to = master;
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin(), &mut to);
            });
        }
        // Unbuffered (a prompt has no newline): a duplicate of our stdout, not `Stdout`.
        let mut to = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)?;
        relay = Some(std::thread::spawn(move || {
            // Ends with EIO once the last process holding the terminal exits.
            let _ = std::io::copy(&mut from, &mut to);
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

/// Block `SIGWINCH` in this thread (and so in every thread started after), for
/// `console::follow_resizes` to take it synchronously. A child's mask is reset when it starts.
fn block_sigwinch() {
    // SAFETY: signal-mask calls on a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGWINCH);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}
