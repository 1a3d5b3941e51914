//! What the container commands share: the container store of the current root, launching
//! the per-container monitor (the `strata` binary re-executed with the hidden
//! `container-monitor` subcommand in a new session), stopping, Docker's status texts and
//! the `inspect` object of a container.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};
use strata_runtime::state::{Container, Containers, Status};

use crate::Ctx;

/// Docker's verbs, for containers and images: their usage errors follow Docker's CLI
/// (below); Strata's own commands keep clap's (exit status 2).
const DOCKER_VERBS: [&str; 30] = [
    "run", "create", "ps", "stop", "kill", "restart", "start", "rm", "logs", "wait", "exec",
    "diff", "commit", "cp", "volume", "images", "image", "tag", "rmi", "inspect", "history",
    "save", "load", "import", "pull", "push", "login", "logout", "search", "build",
];

/// Parse the command line. A usage error of a Docker verb exits as Docker's CLI does: an
/// unknown or malformed flag with status 125 (`unknown flag: --x` / `unknown shorthand
/// flag: 'x' in -x`, then `See 'strata VERB --help'.`), which scripts read as "the tool
/// failed, not the container"; a missing or extra argument with status 1.
pub fn parse_cli() -> crate::cli::Cli {
    use clap::Parser as _;
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let err = match crate::cli::Cli::try_parse() {
        Ok(cli) => return cli,
        Err(e) => e,
    };
    let verb = verb_path(std::env::args().skip(1));
    let docker_verb = verb
        .split(' ')
        .next()
        .is_some_and(|v| DOCKER_VERBS.contains(&v));
    if !docker_verb
        || matches!(
            err.kind(),
            ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        )
    {
        err.exit();
    }
    let invalid = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let see = format!("See 'strata {verb} --help'.");
    // clap's own text, with our pointer to the help instead of its own.
    let rendered: String = err
        .render()
        .to_string()
        .lines()
        .filter(|l| !l.starts_with("For more information"))
        .map(|l| format!("{l}\n"))
        .collect();
    let rendered = format!("{}\n", rendered.trim_end());
    let (code, text) = match err.kind() {
        ErrorKind::UnknownArgument if invalid.starts_with("--") => {
            let flag = invalid.split('=').next().unwrap_or(&invalid);
            (125, format!("unknown flag: {flag}\n{see}"))
        }
        ErrorKind::UnknownArgument if invalid.starts_with('-') && invalid.len() > 1 => {
            let c = invalid[1..].chars().next().unwrap_or('-');
            (
                125,
                format!("unknown shorthand flag: '{c}' in {invalid}\n{see}"),
            )
        }
        // A word where no more arguments are taken, or a missing one; an unknown
        // subcommand of `image`/`volume` (Docker prints the group's usage, status 1).
        ErrorKind::UnknownArgument
        | ErrorKind::InvalidSubcommand
        | ErrorKind::MissingRequiredArgument
        | ErrorKind::TooManyValues
        | ErrorKind::TooFewValues
        | ErrorKind::WrongNumberOfValues => (1, format!("{rendered}{see}")),
        _ => (125, format!("{rendered}{see}")),
    };
    eprintln!("{}", text.trim_end());
    std::process::exit(code);
}

/// The subcommand words of a command line (`run`, `volume ls`), past the global options.
fn verb_path(args: impl Iterator<Item = String>) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut args = args;
    while let Some(a) = args.next() {
        if a == "--root" {
            args.next();
        } else if a.starts_with('-') {
            // A global option before the verb, or an option of the verb's.
        } else if words.is_empty() {
            words.push(a);
        } else {
            // `volume` and `image` take a subcommand word of their own.
            if words[0] == "volume" || words[0] == "image" {
                words.push(a);
            }
            break;
        }
    }
    words.join(" ")
}

/// The container store of the current root.
pub fn containers(ctx: &Ctx) -> anyhow::Result<Containers> {
    let root = ctx.root()?;
    Containers::new(&root).with_context(|| format!("cannot open containers in {}", root.display()))
}

/// Resolve a name, ID or ID prefix.
pub fn resolve(cs: &Containers, input: &str) -> anyhow::Result<String> {
    Ok(cs.resolve(input)?)
}

/// Hidden: `strata container-monitor ID` (started by `run`/`start`, never by people).
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Relay the container's output to this process's stdout/stderr
    #[arg(long)]
    pub attach: bool,
    /// Descriptor to report progress on
    #[arg(long, default_value_t = -1)]
    pub report_fd: i32,
    /// Detach sequence on the attached input (Docker's --detach-keys format)
    #[arg(long)]
    pub detach_keys: Option<String>,
    pub id: String,
}

pub fn monitor(ctx: &Ctx, args: MonitorArgs) -> anyhow::Result<()> {
    let cs = containers(ctx)?;
    let detach_keys = args
        .detach_keys
        .as_deref()
        .map(strata_runtime::monitor::parse_detach_keys)
        .transpose()
        .map_err(|e| anyhow!(e))?;
    let report = (args.report_fd >= 0).then(|| {
        // SAFETY: the launching command passed this descriptor for us to own.
        unsafe { File::from_raw_fd(args.report_fd) }
    });
    let code = strata_runtime::monitor::run(
        &cs,
        strata_runtime::monitor::MonitorArgs {
            id: args.id,
            attach: args.attach,
            report,
            detach_keys,
        },
    );
    Err(crate::Exit(code.clamp(0, 255) as u8).into())
}

/// A launched monitor and the read end of its report pipe.
pub struct Launched {
    pub reader: BufReader<File>,
    pub child: std::process::Child,
}

/// The first report of a monitor: the container started (host pid) or why not.
pub enum StartReport {
    Started(i32),
    Failed(i32, String),
}

/// Start container `id`'s monitor. With `attach`, the monitor inherits our stdin, stdout
/// and stderr and relays the container's streams to them, watching the input for
/// `detach_keys` (checked by the caller with `parse_detach_keys`; default Ctrl-P Ctrl-Q).
pub fn launch(
    ctx: &Ctx,
    id: &str,
    attach: bool,
    detach_keys: Option<&str>,
) -> anyhow::Result<Launched> {
    let exe = std::env::current_exe().context("cannot find the strata executable")?;
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error()).context("cannot create a pipe");
    }
    // SAFETY: fresh descriptors owned by nobody else.
    let (read, write) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    let root = ctx.root()?;
    let mut cmd = Command::new(exe);
    cmd.arg("--root")
        .arg(&root)
        .arg("container-monitor")
        .arg("--report-fd")
        .arg("3");
    if let Some(k) = detach_keys {
        cmd.arg("--detach-keys").arg(k);
    }
    if attach {
        cmd.arg("--attach");
    } else {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    }
    cmd.arg(id);
    let wfd = write.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Its own session: the monitor outlives this command and our terminal's
            // signals (Ctrl-C reaches the container through us, not the monitor).
            libc::setsid();
            if libc::dup2(wfd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().context("cannot start the container monitor")?;
    drop(write);
    Ok(Launched {
        reader: BufReader::new(read),
        child,
    })
}

impl Launched {
    /// Wait for the monitor's first report.
    pub fn started(&mut self) -> anyhow::Result<StartReport> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let line = line.trim_end();
        if let Some(pid) = line.strip_prefix("started ") {
            return Ok(StartReport::Started(pid.parse().unwrap_or(0)));
        }
        if let Some(rest) = line.strip_prefix("error ") {
            let (code, msg) = rest.split_once(' ').unwrap_or((rest, ""));
            return Ok(StartReport::Failed(code.parse().unwrap_or(125), msg.into()));
        }
        Ok(StartReport::Failed(
            125,
            "the container monitor exited before starting the container".into(),
        ))
    }

    /// Wait for the monitor's last report: the container's exit status, or that the user
    /// detached (Ctrl-P Ctrl-Q), or nothing (the monitor died without a report).
    pub fn finished(&mut self) -> Finish {
        let mut line = String::new();
        while self.reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            let l = line.trim_end();
            if let Some(code) = l.strip_prefix("exited ") {
                return code.parse().map_or(Finish::Unknown, Finish::Exited);
            }
            if l == "detached" {
                return Finish::Detached;
            }
            line.clear();
        }
        Finish::Unknown
    }
}

/// How an attached container session ended.
pub enum Finish {
    Exited(i32),
    Detached,
    Unknown,
}

/// Signal numbers by Docker's names (`SIGTERM`, `TERM`, `15`, `SIGRTMIN+3`): the
/// Dockerfile `STOPSIGNAL` parser, limited to the signals `kill` accepts.
pub fn parse_signal(s: &str) -> anyhow::Result<i32> {
    strata_dockerfile::instructions::parse_signal(s)
        .ok()
        .filter(|n| (1..=64).contains(n))
        .ok_or_else(|| anyhow!("invalid signal: {s}"))
}

/// Send `sig` to a running container's pid 1 (checked against pid reuse).
pub fn signal(cs: &Containers, c: &Container, sig: i32) -> anyhow::Result<()> {
    if !c.state.running() || !cs.monitor_alive(&c.config.id) {
        bail!("Container {} is not running", c.config.id);
    }
    let pid = c.state.pid;
    if pid <= 0 || strata_runtime::exec::start_time(pid) != Some(c.state.pid_start) {
        bail!("Container {} is not running", c.config.id);
    }
    // SAFETY: kill with integer arguments.
    if unsafe { libc::kill(pid, sig) } < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(e).with_context(|| format!("cannot signal container {}", c.config.id));
        }
    }
    Ok(())
}

/// Wait until the monitor of `id` is gone, at most `timeout` (`None`: forever). True when
/// it is gone.
pub fn wait_gone(cs: &Containers, id: &str, timeout: Option<Duration>) -> bool {
    let Some(t) = timeout else {
        return cs.wait_monitor(id).is_ok();
    };
    let start = Instant::now();
    let mut nap = Duration::from_millis(2);
    while cs.monitor_alive(id) {
        if start.elapsed() >= t {
            return false;
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(50));
    }
    true
}

/// Docker's stop: the stop signal, `timeout` seconds of grace, then SIGKILL.
pub fn stop(
    cs: &Containers,
    id: &str,
    timeout: Option<i64>,
    sig: Option<&str>,
) -> anyhow::Result<()> {
    let c = cs.load(id)?;
    if !c.state.running() {
        return Ok(());
    }
    let sig = parse_signal(sig.unwrap_or(&c.config.stop_signal))?;
    let grace = timeout.or(c.config.stop_timeout).unwrap_or(10).max(0) as u64;
    let _ = signal(cs, &c, sig);
    if wait_gone(cs, id, Some(Duration::from_secs(grace))) {
        return Ok(());
    }
    let _ = signal(cs, &c, libc::SIGKILL);
    if !wait_gone(cs, id, Some(Duration::from_secs(30))) {
        bail!("container {id} did not exit after SIGKILL");
    }
    Ok(())
}

/// Docker's `"cmd arg…"` COMMAND column: the daemon puts an argument containing a space
/// in single quotes, the CLI truncates to 20 characters and quotes the whole as Go's
/// `strconv.Quote` does.
pub fn command_text(c: &Container, trunc: bool) -> String {
    let cmd = c
        .config
        .args
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let cmd = if trunc {
        crate::units::ellipsis(&cmd, 20)
    } else {
        cmd
    };
    strata_dockerfile::quote::go_quote(&cmd)
}

fn parse_ts(s: Option<&str>) -> Option<jiff::Timestamp> {
    s.and_then(|s| s.parse().ok())
}

fn ago(t: Option<jiff::Timestamp>) -> String {
    let Some(t) = t else {
        return String::new();
    };
    let secs = (jiff::Timestamp::now().as_second() - t.as_second()).max(0) as u64;
    crate::units::human_duration(Duration::from_secs(secs))
}

/// Docker's STATUS column: `Up 5 seconds`, `Exited (0) 3 minutes ago`, `Created`.
pub fn status_text(c: &Container) -> String {
    match c.state.status {
        Status::Running => format!("Up {}", ago(parse_ts(c.state.started_at.as_deref()))),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            c.state.exit_code,
            ago(parse_ts(c.state.finished_at.as_deref()))
        ),
        Status::Created | Status::Starting => "Created".into(),
    }
}

/// Docker's PORTS column: `0.0.0.0:5000->5000/tcp, 80/tcp`.
pub fn ports_text(c: &Container) -> String {
    let mut parts = Vec::new();
    if c.state.running() {
        for p in &c.state.ports {
            parts.push(format!(
                "{}:{}->{}/{}",
                p.host_ip,
                p.host_port,
                p.container_port,
                p.proto.as_str()
            ));
        }
    }
    for e in &c.config.exposed_ports {
        let published = c.state.running()
            && c.state
                .ports
                .iter()
                .any(|p| format!("{}/{}", p.container_port, p.proto.as_str()) == *e);
        if !published {
            parts.push(e.clone());
        }
    }
    parts.join(", ")
}

/// Docker's container inspect object.
pub fn inspect_value(c: &Container) -> Value {
    let cfg = &c.config;
    let st = &c.state;
    let zero = "0001-01-01T00:00:00Z";
    let mut ports = serde_json::Map::new();
    for e in &cfg.exposed_ports {
        ports.insert(e.clone(), Value::Null);
    }
    if st.running() {
        for p in &st.ports {
            let key = format!("{}/{}", p.container_port, p.proto.as_str());
            let entry = ports.entry(key).or_insert_with(|| json!([]));
            if !entry.is_array() {
                *entry = json!([]);
            }
            if let Some(a) = entry.as_array_mut() {
                a.push(
                    json!({"HostIp": p.host_ip.to_string(), "HostPort": p.host_port.to_string()}),
                );
            }
        }
    }
    let ip = st.ip_address.clone().unwrap_or_default();
    let bridge = cfg.network == "bridge" && !ip.is_empty();
    let gateway = if bridge {
        strata_runtime::network::GATEWAY.to_string()
    } else {
        String::new()
    };
    // Docker's bridge driver derives the MAC from the address; so does Strata's.
    let mac = ip
        .parse::<std::net::Ipv4Addr>()
        .ok()
        .filter(|_| bridge)
        .map(strata_runtime::network::mac_text)
        .unwrap_or_default();
    let prefix = if bridge {
        strata_runtime::network::PREFIX
    } else {
        0
    };
    let mounts: Vec<Value> = cfg
        .mounts
        .iter()
        .map(|m| {
            json!({
                "Type": m.kind,
                "Name": if m.kind == "volume" { m.name.clone() } else { String::new() },
                "Source": m.source.display().to_string(),
                "Destination": m.destination,
                "Mode": "",
                "RW": m.rw,
                "Propagation": if m.kind == "bind" { "rprivate" } else { "" },
            })
        })
        .collect();
    let binds: Vec<String> = cfg
        .mounts
        .iter()
        .filter(|m| m.kind != "tmpfs" && !m.anonymous)
        .map(|m| {
            let src = if m.kind == "volume" {
                m.name.clone()
            } else {
                m.source.display().to_string()
            };
            format!("{src}:{}{}", m.destination, if m.rw { "" } else { ":ro" })
        })
        .collect();
    let caps: Vec<String> = cfg
        .capabilities
        .iter()
        .map(|c| strata_runtime::caps::name(*c))
        .collect();
    json!({
        "Id": cfg.id,
        "Created": cfg.created,
        "Path": cfg.args.first().cloned().unwrap_or_default(),
        "Args": cfg.args.iter().skip(1).collect::<Vec<_>>(),
        "State": {
            "Status": st.status.as_str(),
            "Running": st.running(),
            "Paused": false,
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": st.pid,
            "ExitCode": st.exit_code,
            "Error": st.error,
            "StartedAt": st.started_at.clone().unwrap_or_else(|| zero.into()),
            "FinishedAt": st.finished_at.clone().unwrap_or_else(|| zero.into()),
        },
        "Image": cfg.image_id,
        "ResolvConfPath": c.dir.join("run/resolv.conf").display().to_string(),
        "HostnamePath": c.dir.join("run/hostname").display().to_string(),
        "HostsPath": c.dir.join("run/hosts").display().to_string(),
        "LogPath": c.log_path().display().to_string(),
        "Name": format!("/{}", cfg.name),
        "RestartCount": st.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {
            "Binds": if binds.is_empty() { Value::Null } else { json!(binds) },
            "NetworkMode": cfg.network,
            "PortBindings": cfg.ports.iter().map(|p| (format!("{}/{}", p.container_port, p.proto.as_str()), json!([{"HostIp": if p.host_ip.is_unspecified() { String::new() } else { p.host_ip.to_string() }, "HostPort": if p.host_port == 0 { String::new() } else { p.host_port.to_string() }}]))).collect::<serde_json::Map<_, _>>(),
            "RestartPolicy": {"Name": cfg.restart, "MaximumRetryCount": 0},
            "AutoRemove": cfg.auto_remove,
            "CapAdd": Value::Null,
            "CapDrop": Value::Null,
            "Privileged": cfg.privileged,
            "ReadonlyRootfs": cfg.read_only,
            "Init": cfg.init,
            "Memory": cfg.limits.memory.unwrap_or(0),
            "NanoCpus": cfg.limits.nano_cpus.unwrap_or(0),
            "PidsLimit": cfg.limits.pids,
            "SecurityOpt": if cfg.seccomp { Value::Null } else { json!(["seccomp=unconfined"]) },
            "UsernsMode": if cfg.userns.is_some() { "private" } else { "" },
            "Tmpfs": cfg.mounts.iter().filter(|m| m.kind == "tmpfs").map(|m| (m.destination.clone(), json!(m.options))).collect::<serde_json::Map<_, _>>(),
        },
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "LowerDir": cfg.lower.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":"),
                "UpperDir": c.dir.join("upper").display().to_string(),
                "WorkDir": c.dir.join("work").display().to_string(),
                "MergedDir": c.dir.join("merged").display().to_string(),
            }
        },
        "Mounts": mounts,
        "Config": {
            "Hostname": cfg.hostname,
            "User": cfg.user,
            "AttachStdin": false,
            "Tty": cfg.tty,
            "OpenStdin": cfg.open_stdin,
            "ExposedPorts": if cfg.exposed_ports.is_empty() { Value::Null } else { Value::Object(cfg.exposed_ports.iter().map(|e| (e.clone(), json!({}))).collect()) },
            "Env": cfg.env,
            "Cmd": if cfg.cmd.is_empty() { Value::Null } else { json!(cfg.cmd) },
            "Image": cfg.image,
            "WorkingDir": cfg.working_dir,
            "Entrypoint": if cfg.entrypoint.is_empty() { Value::Null } else { json!(cfg.entrypoint) },
            "Labels": cfg.labels,
            "StopSignal": cfg.stop_signal,
            "StopTimeout": cfg.stop_timeout,
        },
        "NetworkSettings": {
            "Ports": ports,
            "Gateway": gateway,
            "IPAddress": ip,
            "IPPrefixLen": prefix,
            "MacAddress": mac,
            "Networks": if cfg.network == "none" { json!({}) } else { json!({ cfg.network.clone(): {
                "Gateway": gateway, "IPAddress": ip, "IPPrefixLen": prefix, "MacAddress": mac,
            }}) },
        },
        "Capabilities": caps,
    })
}

/// Run `f` on each named container, printing what Docker prints (the name as given) on
/// success and `Error response …` lines on failure; exit status 1 if any failed.
pub fn for_each(
    names: &[String],
    mut f: impl FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for_each_print(names, |n| f(n).map(|()| n.to_string()))
}

/// Like [`for_each`], printing what `f` returns on success instead of the name.
pub fn for_each_print<T: std::fmt::Display>(
    names: &[String],
    mut f: impl FnMut(&str) -> anyhow::Result<T>,
) -> anyhow::Result<()> {
    let mut failed = false;
    for n in names {
        match f(n) {
            Ok(out) => println!("{out}"),
            Err(e) if e.downcast_ref::<CliError>().is_some() => {
                failed = true;
                eprintln!("Error: {e}");
            }
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

/// Report `err` as Docker's CLI reports a daemon's refusal (`Error response from daemon:
/// …`, exit status 1).
pub fn daemon_err(err: anyhow::Error) -> anyhow::Error {
    eprintln!("Error response from daemon: {}", crate::render_error(&err));
    crate::Exit(1).into()
}

/// An error Docker's CLI reports itself (`Error: …`), not as the daemon's answer.
#[derive(Debug)]
pub struct CliError(pub String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for CliError {}

/// Bytes in the files under `p` (not following symlinks).
pub fn tree_size(p: &std::path::Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| tree_size(&e.path())).sum())
        .unwrap_or(0)
}

/// Remove stopped container `c`: leftover cgroups (a killed monitor cannot remove them),
/// its directory, with `volumes` its anonymous volumes, and its hold on its image's blobs.
pub fn remove_stopped(
    cs: &Containers,
    store: Option<&strata_store::Store>,
    c: &Container,
    volumes: bool,
) -> anyhow::Result<()> {
    let id = &c.config.id;
    for d in &c.state.cgroups {
        let _ = std::fs::remove_dir(d);
    }
    if volumes {
        strata_runtime::monitor::remove_with_volumes(cs, c);
    } else {
        cs.remove(id)?;
    }
    if let Some(s) = store {
        let _ = s.remove_root(&format!("container-{id}"));
    }
    Ok(())
}

/// Error unless `c` is not running (for commands that need a stopped container), in
/// Docker 20.10's words.
pub fn ensure_stopped(cs: &Containers, c: &Container) -> anyhow::Result<()> {
    if c.state.running() && cs.monitor_alive(&c.config.id) {
        return Err(anyhow!(
            "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
            c.config.id
        ));
    }
    Ok(())
}

/// Docker's CLI looks a container up before acting on it and reports a missing one as
/// `Error: No such container: NAME` (`rm`, `exec`), where the daemon's answer would be
/// prefixed `Error response from daemon:`. True when `err` is that lookup's failure.
pub fn is_missing(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<strata_runtime::state::StateError>(),
        Some(strata_runtime::state::StateError::NoSuchContainer(_))
    )
}

#[cfg(test)]
mod tests {
    use super::parse_signal;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("kill").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert_eq!(parse_signal("SIGRTMIN+3").unwrap(), 37);
        for bad in ["0", "65", "-1", "SIGNOPE", ""] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }
}
