//! The per-container monitor: one small process per running container (the `strata`
//! binary re-executed in its own session), never a global daemon.
//!
//! It holds the container's lock for its whole life (see [`crate::state`]), prepares what
//! must outlive the command that started it — network namespace and address lease,
//! published-port listeners, cgroups — starts the container with [`crate::spawn_with`],
//! relays the container's output into `container.log` (and to the attached terminal when
//! the container runs in the foreground), reaps it, records the exit status, and for
//! `--rm` removes it. Everything it holds is released by the kernel if it is killed: the
//! container dies with it (parent-death signal), the namespace and veth pair with the last
//! descriptor, the address lease and the container lock with their `flock`s.
//!
//! Progress is reported to the launching command over a pipe, one line each:
//! `started <pid>`, `error <exit code> <message>`, `exited <exit code>`, and `detached`
//! when the user typed the detach keys.
//!
//! With `-t` the container's process allocates its terminal on the container's devpts and
//! sends the master here ([`crate::console`]); the monitor relays it (output to the log and
//! the attached terminal, the attached stdin to it), resizes it on every `SIGWINCH` the
//! launching command forwards, and watches the input for the detach keys (Docker's
//! Ctrl-P Ctrl-Q unless `--detach-keys` says otherwise): then it stops relaying, points its own standard streams at `/dev/null`, reports
//! `detached` and keeps the container running.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use crate::console::{self, Console, WinSize};
use crate::network::{self, Ip as _, IpCommand};
use crate::state::{Container, Containers, LogWriter, State, StateError, Status};
use crate::{ContainerSpec, Mount, Network, Options, ProcessSpec, Rootfs, Stdio3};

/// How the monitor was asked to run.
#[derive(Debug)]
pub struct MonitorArgs {
    pub id: String,
    /// Relay output to the monitor's own stdout/stderr (and stdin to the container with
    /// `-i`): the launching command passed its terminal.
    pub attach: bool,
    /// Where to report progress (the launching command's pipe), if anywhere.
    pub report: Option<File>,
    /// The detach sequence on the attached input (default [`DETACH_KEYS`]).
    pub detach_keys: Option<Vec<u8>>,
}

/// Why a start failed, with Docker's exit status for it.
#[derive(Debug)]
struct StartError {
    code: i32,
    message: String,
}

impl StartError {
    fn strata(message: impl Into<String>) -> StartError {
        StartError {
            code: 125,
            message: message.into(),
        }
    }
}

impl From<StateError> for StartError {
    fn from(e: StateError) -> Self {
        StartError::strata(error_chain(&e))
    }
}

/// `outer: inner` for an error and its sources.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.ends_with(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
}

fn report(out: &mut Option<File>, line: &str) {
    if let Some(f) = out
        && f.write_all(line.as_bytes()).is_err()
    {
        // The launching command is gone: keep running, stop reporting.
        *out = None;
    }
}

/// Run the monitor for container `args.id` in `containers`; returns the exit status of
/// the container (or of the failed start).
pub fn run(containers: &Containers, mut args: MonitorArgs) -> i32 {
    // Blocked rather than ignored: an ignored disposition would be inherited by the
    // container's process across exec, a blocked mask is reset for it. SIGWINCH is taken
    // synchronously by the terminal-resize thread.
    // SAFETY: signal mask of the main thread at startup, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGHUP, libc::SIGINT, libc::SIGWINCH] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    let id = args.id.clone();
    let lock = match containers.try_monitor_lock(&id) {
        Ok(Some(l)) => l,
        Ok(None) => {
            report(
                &mut args.report,
                &format!("error 125 container {id} is already running\n"),
            );
            return 125;
        }
        Err(e) => {
            report(
                &mut args.report,
                &format!("error 125 {}\n", error_chain(&e)),
            );
            return 125;
        }
    };
    let container = match containers.load(&id) {
        Ok(c) => c,
        Err(e) => {
            report(
                &mut args.report,
                &format!("error 125 {}\n", error_chain(&e)),
            );
            return 125;
        }
    };
    // The state is first written when the container runs: a monitor that dies before
    // leaves it `created`, which is the truth (the lock tells the rest).
    let mut state = container.state.clone();
    state.monitor_pid = std::process::id() as i32;
    state.error.clear();

    let code = match start_and_wait(containers, &container, &mut state, &mut args) {
        Ok(code) => code,
        Err(e) => {
            state.status = Status::Exited;
            state.exit_code = e.code;
            state.error = e.message.clone();
            state.pid = 0;
            state.finished_at = Some(jiff::Timestamp::now().to_string());
            let _ = containers.write_state(&id, &state);
            let gone = auto_remove_detach(containers, &container);
            report(
                &mut args.report,
                &format!("error {} {}\n", e.code, e.message.replace('\n', " ")),
            );
            purge(gone, &container);
            drop(lock);
            return e.code;
        }
    };
    // With --rm the container disappears (one rename) before the exit is reported, and
    // the slower deletion of its files happens after: the command returns sooner and a
    // `ps` right after it never shows the container.
    let gone = auto_remove_detach(containers, &container);
    report(&mut args.report, &format!("exited {code}\n"));
    purge(gone, &container);
    drop(lock);
    code
}

fn auto_remove_detach(containers: &Containers, c: &Container) -> Option<PathBuf> {
    if !c.config.auto_remove {
        return None;
    }
    containers.detach(&c.config.id).ok()
}

fn purge(gone: Option<PathBuf>, c: &Container) {
    if let Some(dir) = gone {
        let _ = std::fs::remove_dir_all(dir);
        remove_anonymous_volumes(c);
    }
}

fn remove_anonymous_volumes(c: &Container) {
    for m in c.config.mounts.iter().filter(|m| m.anonymous) {
        if let Some(vol_dir) = m.source.parent() {
            let _ = std::fs::remove_dir_all(vol_dir);
        }
    }
}

/// Remove a container and its anonymous volumes (`--rm`).
pub fn remove_with_volumes(containers: &Containers, c: &Container) {
    let _ = containers.remove(&c.config.id);
    remove_anonymous_volumes(c);
}

fn pipe() -> io::Result<(File, File)> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// Open a pty pair: (master, slave), both close-on-exec.
pub fn openpty() -> io::Result<(File, File)> {
    // SAFETY: standard pty calls on descriptors we own; ptsname_r fills a local buffer.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if master < 0 {
            return Err(io::Error::last_os_error());
        }
        let master = File::from_raw_fd(master);
        if libc::grantpt(master.as_raw_fd()) < 0 || libc::unlockpt(master.as_raw_fd()) < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut name = [0 as libc::c_char; 128];
        if libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) != 0 {
            return Err(io::Error::last_os_error());
        }
        let slave = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if slave < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((master, File::from_raw_fd(slave)))
    }
}

/// Give pty `master` the window size of our terminal (when we have one).
/// Docker's default detach keys: Ctrl-P, Ctrl-Q.
pub const DETACH_KEYS: [u8; 2] = [0x10, 0x11];

/// Parse Docker's `--detach-keys` value: comma-separated keys, each `ctrl-X` (X one of
/// `a`–`z`, `@`, `[`, `\`, `]`, `^`, `_`) or a single character, e.g. `ctrl-x,x`.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, String> {
    let bad = |k: &str| format!("invalid detach keys ({spec}): unknown key {k:?}");
    let mut keys = Vec::new();
    for k in spec.split(',') {
        let lower = k.to_ascii_lowercase();
        let key = match lower.strip_prefix("ctrl-") {
            Some(rest) if rest.len() == 1 => match rest.as_bytes()[0] {
                c @ b'a'..=b'z' => c - b'a' + 1,
                b'@' => 0,
                b'[' => 27,
                b'\\' => 28,
                b']' => 29,
                b'^' => 30,
                b'_' => 31,
                _ => return Err(bad(k)),
            },
            Some(_) => return Err(bad(k)),
            None if k.len() == 1 => k.as_bytes()[0],
            None => return Err(bad(k)),
        };
        keys.push(key);
    }
    Ok(keys)
}

/// Scans input for a detach sequence, holding back a prefix of it until the next bytes
/// show whether the whole sequence follows (as Docker's escape proxy does).
#[derive(Debug)]
pub struct DetachScanner {
    keys: Vec<u8>,
    held: Vec<u8>,
}

impl Default for DetachScanner {
    fn default() -> Self {
        DetachScanner::new(DETACH_KEYS.to_vec())
    }
}

impl DetachScanner {
    /// A scanner for `keys` (empty: never detaches).
    pub fn new(keys: Vec<u8>) -> DetachScanner {
        DetachScanner {
            keys,
            held: Vec::new(),
        }
    }

    /// The bytes of `input` to pass on, and whether the detach sequence was typed (the
    /// bytes before it are passed on; nothing after it).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return false;
        }
        for &b in input {
            self.held.push(b);
            // Release held bytes until what is held is a prefix of the sequence again.
            while !self.held.is_empty() && !self.keys.starts_with(&self.held) {
                out.push(self.held.remove(0));
            }
            if self.held == self.keys {
                self.held.clear();
                return true;
            }
        }
        false
    }
}

/// Copy our stdin into the container's terminal until EOF or the detach keys. On detach:
/// stop the relays writing to the terminal (`detached`), report `detached`, and point our
/// standard streams at `/dev/null`, so nothing of the monitor holds the terminal.
fn relay_stdin(
    mut master: File,
    detached: Arc<AtomicBool>,
    mut report: Option<File>,
    keys: Vec<u8>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut stdin = io::stdin();
        let mut buf = vec![0u8; 4096];
        let mut out = Vec::with_capacity(4096);
        let mut scan = DetachScanner::new(keys);
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            let detach = scan.feed(&buf[..n], &mut out);
            if master.write_all(&out).is_err() {
                return;
            }
            if detach {
                detached.store(true, Ordering::SeqCst);
                if let Some(r) = &mut report {
                    let _ = r.write_all(b"detached\n");
                }
                if let Ok(null) = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open("/dev/null")
                {
                    for fd in 0..3 {
                        // SAFETY: replacing our standard descriptors with /dev/null.
                        unsafe { libc::dup2(null.as_raw_fd(), fd) };
                    }
                }
                return;
            }
        }
    })
}

/// Copy `from` into the log (as `stream`) and, when attached, to `to` (until `detached`).
fn relay(
    mut from: File,
    log: std::sync::Arc<LogWriter>,
    stream: &'static str,
    mut to: Option<File>,
    detached: Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // EIO: the pty's last slave closed.
                Err(_) => break,
            };
            log.write(stream, &buf[..n]);
            if detached.load(Ordering::SeqCst) {
                to = None;
            }
            if let Some(t) = &mut to
                && t.write_all(&buf[..n]).is_err()
            {
                to = None;
            }
        }
    })
}

/// Duplicate one of our standard descriptors as a `File`.
fn dup_std(fd: i32) -> Option<File> {
    // SAFETY: dup of a standard descriptor; the new one is ours.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    // SAFETY: n is a fresh descriptor owned by nobody else.
    (n >= 0).then(|| unsafe { File::from_raw_fd(n) })
}

/// Map a failed start to Docker's exit status: 127 not found, 126 not executable.
fn start_failure(program: &str, e: &io::Error) -> StartError {
    match e.raw_os_error() {
        Some(libc::ENOENT) => StartError {
            code: 127,
            message: format!(
                "exec: \"{program}\": executable file not found in $PATH (or a setup path is missing)"
            ),
        },
        Some(libc::EACCES | libc::ENOEXEC | libc::EISDIR | libc::EPERM) => StartError {
            code: 126,
            message: format!("exec: \"{program}\": permission denied or not executable: {e}"),
        },
        _ => StartError::strata(format!("failed to start {program:?} in the container: {e}")),
    }
}

fn start_and_wait(
    containers: &Containers,
    c: &Container,
    state: &mut State,
    args: &mut MonitorArgs,
) -> Result<i32, StartError> {
    let cfg = &c.config;
    let run_dir = c.dir.join("run");
    // Overlay's work directory must be empty-ish on each mount; a killed run may leave
    // `work/work` behind, which overlay handles, so it is reused as is.
    let (upper, work, merged) = (
        c.dir.join("upper"),
        c.dir.join("work"),
        c.dir.join("merged"),
    );

    // Network namespace, address, published ports: before the container exists.
    let mut netns: Option<OwnedFd> = None;
    let mut lease = None;
    let mut bound = Vec::new();
    // Docker's /etc/hosts: the loopback and IPv6 multicast names, then the container's
    // address with its hostname on a network that gives it one (none on `none`).
    let mut hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
                     fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
                     ff02::2\tip6-allrouters\n"
        .to_string();
    let network = match cfg.network.as_str() {
        "host" => Network::Host,
        _ => Network::None,
    };
    if cfg.network == "bridge" {
        let ip = IpCommand;
        network::ensure_bridge(&ip).map_err(|e| StartError::strata(error_chain(&e)))?;
        // The FORWARD rules are checked while the rest is set up (an `iptables` run).
        let forward = std::thread::spawn(network::ensure_forward);
        let l = network::lease(&format!("{}\n{}\n", c.dir.display(), std::process::id()))
            .map_err(|e| StartError::strata(error_chain(&e)))?;
        bound = crate::proxy::bind(&cfg.ports).map_err(|e| StartError::strata(error_chain(&e)))?;
        let (ns, ns_sock) =
            network::new_netns_with_socket().map_err(|e| StartError::strata(error_chain(&e)))?;
        // Netlink and ioctls directly (no `ip` processes, ~15 ms less per start); `ip` as
        // the fallback names the failure more precisely if the direct path fails.
        if network::attach_direct(ns.as_raw_fd(), ns_sock.as_raw_fd(), &cfg.id, l.addr).is_err() {
            let _ = ip.batch(None, &format!("link del {}\n", network::host_veth(&cfg.id)));
            network::attach(&ip, ns.as_raw_fd(), &cfg.id, l.addr)
                .map_err(|e| StartError::strata(error_chain(&e)))?;
        }
        drop(ns_sock);
        let _ = forward.join();
        hosts.push_str(&format!("{}\t{}\n", l.addr, cfg.hostname));
        state.ip_address = Some(l.addr.to_string());
        netns = Some(ns);
        lease = Some(l);
    } else {
        // The host's network: the host's names too, as Docker copies its /etc/hosts.
        if cfg.network == "host"
            && let Ok(h) = std::fs::read_to_string("/etc/hosts")
        {
            hosts = h;
        }
        state.ip_address = None;
    }
    state.ports = bound.iter().map(|b| b.mapping().clone()).collect();
    let resolv = if cfg.network == "host" {
        None
    } else {
        let p = run_dir.join("resolv.conf");
        std::fs::write(&p, resolv_conf(cfg.network == "bridge"))
            .map_err(|e| StartError::strata(format!("write {}: {e}", p.display())))?;
        Some(p)
    };
    let hostname_file = run_dir.join("hostname");
    std::fs::write(&hostname_file, format!("{}\n", cfg.hostname))
        .map_err(|e| StartError::strata(format!("write {}: {e}", hostname_file.display())))?;

    let cgroup = crate::cgroup::create(&cfg.id, &cfg.limits.to_limits())
        .map_err(|e| StartError::strata(error_chain(&e)))?;
    state.cgroups = cgroup.dirs.clone();

    // The user namespace, held for the container's life; its mapping is probed for
    // idmapped-mount support on the directories the overlay is built from.
    let userns_fd = match &cfg.userns {
        Some(mapping) => {
            let fd = crate::userns::create(mapping).map_err(|e| {
                cgroup.remove();
                StartError::strata(error_chain(&e))
            })?;
            let probe = cfg
                .lower
                .first()
                .and_then(|l| l.parent())
                .into_iter()
                .chain([c.dir.as_path()])
                .try_for_each(|d| crate::userns::check_idmap(d, fd.as_raw_fd()));
            if let Err(e) = probe {
                cgroup.remove();
                return Err(StartError::strata(error_chain(&e)));
            }
            // The generated files the container's root may rewrite, owned by it.
            if let (Some(u), Some(g)) = (mapping.host_uid(0), mapping.host_gid(0)) {
                for f in ["hostname", "resolv.conf"] {
                    let _ = std::os::unix::fs::chown(run_dir.join(f), Some(u), Some(g));
                }
            }
            Some(fd)
        }
        None => None,
    };
    let mut lower = cfg.lower.clone();
    if lower.is_empty() {
        let empty = c.dir.join("run").join("empty");
        let _ = std::fs::create_dir_all(&empty);
        lower.push(empty);
    }
    let spec = ContainerSpec {
        rootfs: Rootfs::Overlay {
            lower,
            upper,
            work,
            target: merged,
        },
        process: ProcessSpec {
            args: cfg.args.clone(),
            env: cfg.env.clone(),
            cwd: cfg.working_dir.clone(),
            uid: cfg.uid,
            gid: cfg.gid,
            additional_gids: cfg.additional_gids.clone(),
        },
        hostname: cfg.hostname.clone(),
        network,
        mounts: cfg
            .mounts
            .iter()
            .map(|m| match m.kind.as_str() {
                // Options were checked when the container was made; an unreadable set
                // (a state file edited by hand) falls back to Docker's defaults.
                "tmpfs" => Mount::TmpfsWith {
                    destination: m.destination.clone(),
                    options: crate::tmpfs::parse(&m.options).unwrap_or_default(),
                },
                _ => Mount::Bind {
                    source: m.source.clone(),
                    destination: m.destination.clone(),
                    readonly: !m.rw,
                },
            })
            .collect(),
        state_dir: run_dir.clone(),
    };
    let mut opts = Options {
        netns: netns.as_ref().map(|n| n.as_raw_fd()),
        capabilities: Some(cfg.capabilities.clone()),
        privileged: cfg.privileged,
        readonly_rootfs: cfg.read_only,
        seccomp: cfg.seccomp,
        init: cfg.init,
        hosts: Some(hosts),
        resolv_conf: resolv,
        hostname_file: Some(hostname_file),
        create_cwd: true,
        cgroup_procs: cgroup.procs_files(),
        console: None,
        userns: match (&userns_fd, &cfg.userns) {
            (Some(fd), Some(mapping)) => Some(crate::UserNsOptions {
                fd: fd.as_raw_fd(),
                mapping: mapping.clone(),
                idmapped_binds: cfg
                    .mounts
                    .iter()
                    .filter(|m| m.kind == "volume")
                    .map(|m| m.destination.clone())
                    .collect(),
            }),
            _ => None,
        },
    };

    let log = std::sync::Arc::new(
        LogWriter::open(&c.log_path()).map_err(|e| StartError::strata(error_chain(&e)))?,
    );
    let io_err = |what: &str, e: io::Error| StartError::strata(format!("{what}: {e}"));
    let stdin_for_container = || -> Stdio {
        if args.attach && cfg.open_stdin {
            Stdio::inherit()
        } else {
            Stdio::null()
        }
    };
    let mut relays = Vec::new();
    let detached = Arc::new(AtomicBool::new(false));
    let to_err = args.attach.then(|| dup_std(2)).flatten();
    let (err_r, err_w) = pipe().map_err(|e| io_err("create a pipe", e))?;
    relays.push(relay(
        err_r,
        log.clone(),
        "stderr",
        to_err,
        detached.clone(),
    ));
    let stdio;
    // With -t: our end of the console socket, and the container's until it is started.
    let mut console_ends = None;
    if cfg.tty {
        let (ours, theirs) = console::socketpair().map_err(|e| io_err("create a socket", e))?;
        opts.console = Some(Console {
            socket: theirs.as_raw_fd(),
            size: args.attach.then(WinSize::of_stdio).flatten(),
        });
        console_ends = Some((ours, theirs));
        // The process's streams become its terminal; until then (setup errors) stderr
        // is the pipe.
        stdio = Stdio3 {
            stdin: Stdio::null(),
            stdout: Stdio::null(),
            stderr: Stdio::from(err_w),
        };
    } else {
        let (out_r, out_w) = pipe().map_err(|e| io_err("create a pipe", e))?;
        stdio = Stdio3 {
            stdin: stdin_for_container(),
            stdout: Stdio::from(out_w),
            stderr: Stdio::from(err_w),
        };
        let to_out = args.attach.then(|| dup_std(1)).flatten();
        relays.push(relay(
            out_r,
            log.clone(),
            "stdout",
            to_out,
            detached.clone(),
        ));
    }

    let started = crate::spawn_with(&spec, &opts, stdio);
    // Our copies of the container's ends must go, or the relays never see EOF.
    drop(spec);
    let mut started = match started {
        Ok(s) => s,
        Err(crate::RuntimeError::Spawn { program, source }) => {
            cgroup.remove();
            for r in relays {
                let _ = r.join();
            }
            let mut e = start_failure(&program, &source);
            if cfg.userns.is_some()
                && matches!(source.raw_os_error(), Some(libc::EINVAL | libc::EOVERFLOW))
            {
                // The idmapped-mount probe passed, so the likely gap is overlayfs itself.
                e.message.push_str(
                    " (with --userns the overlay is mounted on idmapped layers, which needs overlayfs support for them: Linux 5.19+)",
                );
            }
            return Err(e);
        }
        Err(e) => {
            cgroup.remove();
            return Err(StartError::strata(error_chain(&e)));
        }
    };
    if let Some((ours, theirs)) = console_ends {
        drop(theirs);
        let master = match console::receive_fd(&ours) {
            Ok(m) => m,
            Err(e) => {
                // SAFETY: kill with integer arguments; the container is our child.
                unsafe { libc::kill(started.pid, libc::SIGKILL) };
                let _ = started.child.wait();
                cgroup.remove();
                return Err(io_err("receive the container's terminal", e));
            }
        };
        if args.attach {
            // The attached terminal's size on every SIGWINCH (forwarded to us by the
            // attached command); the initial size was set before the process started.
            let fd = master.try_clone().map_err(|e| io_err("dup", e))?;
            thread::spawn(move || console::follow_resizes(&fd));
            if cfg.open_stdin {
                let input = master.try_clone().map_err(|e| io_err("dup", e))?;
                let report = args.report.as_ref().and_then(|r| r.try_clone().ok());
                // Not joined: it may sit in a read of the terminal forever.
                let keys = args
                    .detach_keys
                    .clone()
                    .unwrap_or_else(|| DETACH_KEYS.to_vec());
                drop(relay_stdin(input, detached.clone(), report, keys));
            }
        }
        let to_out = args.attach.then(|| dup_std(1)).flatten();
        relays.push(relay(
            master,
            log.clone(),
            "stdout",
            to_out,
            detached.clone(),
        ));
    }
    state.status = Status::Running;
    state.pid = started.pid;
    state.pid_start = crate::exec::start_time(started.pid).unwrap_or(0);
    state.started_at = Some(jiff::Timestamp::now().to_string());
    state.finished_at = None;
    state.exit_code = 0;
    containers.write_state(&cfg.id, state)?;
    report(&mut args.report, &format!("started {}\n", started.pid));
    if !args.attach {
        args.report = None;
    }
    if let Some(l) = &lease {
        crate::proxy::serve(bound, IpAddr::V4(l.addr));
    }

    let status = loop {
        match started.child.wait() {
            Ok(s) => break s,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StartError::strata(format!("wait for the container: {e}"))),
        }
    };
    for r in relays {
        let _ = r.join();
    }
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    cgroup.remove();
    state.status = Status::Exited;
    state.exit_code = code;
    state.pid = 0;
    state.finished_at = Some(jiff::Timestamp::now().to_string());
    if !cfg.auto_remove {
        containers.write_state(&cfg.id, state)?;
    }
    drop(netns);
    drop(lease);
    Ok(code)
}

/// `/etc/resolv.conf` for a container with its own network: the host's, minus loopback
/// name servers (unreachable from the namespace), as Docker does; public resolvers when
/// none remain and the container has a network at all.
pub fn resolv_conf(bridged: bool) -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let t = line.trim();
        if let Some(ns) = t.strip_prefix("nameserver") {
            let addr = ns.trim();
            if addr.parse::<IpAddr>().is_ok_and(|a| a.is_loopback()) {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 && bridged {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// The path of the monitor binary's state for tests and tools.
pub fn containers_dir(root: &std::path::Path) -> PathBuf {
    root.join("containers")
}

#[cfg(test)]
mod tests {
    use super::{DETACH_KEYS, DetachScanner, parse_detach_keys};

    #[test]
    fn detach_keys_are_found_across_reads_and_a_lone_ctrl_p_passes() {
        let mut s = DetachScanner::default();
        let mut out = Vec::new();
        assert!(!s.feed(b"ab\x10", &mut out));
        assert_eq!(out, b"ab");
        // The held Ctrl-P is released when the next byte is not Ctrl-Q.
        assert!(!s.feed(b"c", &mut out));
        assert_eq!(out, b"\x10c");
        assert!(!s.feed(b"x\x10", &mut out));
        assert_eq!(out, b"x");
        assert!(s.feed(b"\x11ignored", &mut out));
        assert!(out.is_empty());
        let mut s = DetachScanner::default();
        assert!(s.feed(b"ls\x10\x11", &mut out));
        assert_eq!(out, b"ls");
        // Ctrl-P Ctrl-P Ctrl-Q: the first passes, the second starts the sequence.
        let mut s = DetachScanner::default();
        assert!(s.feed(b"\x10\x10\x11", &mut out));
        assert_eq!(out, b"\x10");
        // Longer sequences: a broken prefix is released, a restart inside it is kept.
        let mut s = DetachScanner::new(b"aab".to_vec());
        assert!(!s.feed(b"xaax", &mut out));
        assert_eq!(out, b"xaax");
        assert!(s.feed(b"aaab", &mut out));
        assert_eq!(out, b"a");
        let mut s = DetachScanner::new(Vec::new());
        assert!(!s.feed(b"\x10\x11", &mut out));
        assert_eq!(out, b"\x10\x11");
    }

    #[test]
    fn detach_keys_parse_as_docker_writes_them() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), DETACH_KEYS);
        assert_eq!(
            parse_detach_keys("ctrl-x,X,ctrl-@,ctrl-[,ctrl-_").unwrap(),
            [24, b'X', 0, 27, 31]
        );
        for bad in ["", "ctrl-", "ctrl-1", "ctrl-pp", "ab", "ctrl-p,,ctrl-q"] {
            assert!(parse_detach_keys(bad).is_err(), "{bad}");
        }
    }
}
