//! `strata run` and `strata create` — Docker's `docker run`/`docker create`: a container from
//! an image's snapshot chain plus a fresh copy-on-write layer, configured the way Docker
//! combines the image config with the flags, then started by its own monitor process.
//!
//! Docker's rules implemented here: `--entrypoint` replaces the image's entrypoint and drops
//! its CMD; arguments after the image replace CMD; `-e KEY` without a value copies our
//! environment's value (and is dropped when unset); PATH is added when missing, HOSTNAME
//! always, TERM with `-t`, HOME from the user's passwd entry; `-u`, `-w` and
//! `--stop-signal` override the image's USER, WORKDIR and STOPSIGNAL; `-P` publishes every
//! EXPOSEd port on an ephemeral host port. Exit status: the process's own; 125 when Strata
//! fails, 126 when the command cannot be executed, 127 when it is not found.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use clap::{ArgAction, Args};
use strata_runtime::state::{Config, Containers, LimitsConfig, MountConfig};

use crate::Ctx;
use crate::cmd::container::{self, Finish, StartReport};
use crate::cmd::volume;
use crate::image;

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Mount a tmpfs directory
    #[arg(long, value_name = "PATH")]
    pub tmpfs: Vec<String>,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<i64>,
    /// Restart policy to apply when a container exits (Strata supports "no")
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Bind mount a volume (HOST:CONTAINER[:ro], NAME:CONTAINER[:ro] or CONTAINER)
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Override the key sequence for detaching a container (default ctrl-p,ctrl-q)
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// Connect a container to a network (bridge, host, none)
    #[arg(long, alias = "net", default_value = "bridge")]
    pub network: String,
    /// Publish a container's port(s) to the host
    #[arg(
        short = 'p',
        long = "publish",
        value_name = "[IP:]HOST:CONTAINER[/PROTO]"
    )]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    pub expose: Vec<String>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Security options (seccomp=unconfined)
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// User namespace: host (default) or auto (root in the container is an unprivileged
    /// host id range: root's /etc/subuid entry, else 100000-165535)
    #[arg(long, value_name = "host|auto")]
    pub userns: Option<String>,
    /// UID mapping for a user namespace (CONTAINER_UID:HOST_UID:AMOUNT, repeatable)
    #[arg(long, value_name = "CONTAINER_UID:HOST_UID:AMOUNT")]
    pub uidmap: Vec<String>,
    /// GID mapping for a user namespace (default: the UID mapping)
    #[arg(long, value_name = "CONTAINER_GID:HOST_GID:AMOUNT")]
    pub gidmap: Vec<String>,
    /// Pull image before running ("always"|"missing"|"never")
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Print help
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    #[arg(value_name = "IMAGE")]
    pub image: String,
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

/// An error of Strata itself in `run`: exit status 125, as Docker.
fn strata_err(e: anyhow::Error) -> anyhow::Error {
    eprintln!("strata: {}", crate::render_error(&e));
    crate::Exit(125).into()
}

/// An error found while creating the container: Docker's CLI follows the daemon's answer
/// to its create request with a pointer to the help (`verb`: run or create); errors of
/// the start (an unknown user is one: runc resolves it) have none.
fn create_err(verb: &'static str) -> impl Fn(anyhow::Error) -> anyhow::Error {
    move |e| {
        if e.downcast_ref::<StartPhase>().is_some() {
            return strata_err(e);
        }
        eprintln!(
            "strata: {}\nSee 'strata {verb} --help'.",
            crate::render_error(&e)
        );
        crate::Exit(125).into()
    }
}

/// A `create` error that Docker only meets when the container starts.
#[derive(Debug)]
struct StartPhase(String);

impl std::fmt::Display for StartPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for StartPhase {}

/// `run`/`create` of an image not in the store that is not pulled (`--pull never`, or a
/// reference that names no repository): the daemon's words, the name as Docker shows it.
#[derive(Debug)]
struct NoSuchImage(String);

impl std::fmt::Display for NoSuchImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "No such image: {}", self.0)
    }
}
impl std::error::Error for NoSuchImage {}

/// The image of `run`/`create` from the store, pulled as Docker's CLI does: first with
/// `--pull always`; when it is missing with `--pull missing` (the default), after Docker's
/// `Unable to find image 'NAME:TAG' locally`. Pull progress and the digest and status
/// lines go to stderr (stdout carries only the container's output or ID). Docker 20.10
/// treats any other `--pull` value as `never`, and so does Strata: the missing image is
/// then an error. Only a name is pulled; an image ID is looked up locally alone.
fn resolve_image(
    store: &strata_store::Store,
    args: &RunArgs,
) -> anyhow::Result<(strata_store::Images, strata_oci::Descriptor)> {
    // Go's ParseAnyReference, then TagNameOnly: what the CLI pulls and names.
    let named = strata_oci::reference::AnyReference::parse(&args.image)
        .ok()
        .and_then(|a| a.as_named().cloned())
        .map(strata_oci::Reference::tag_name_only);
    if args.pull == "always"
        && let Some(r) = &named
    {
        crate::cmd::pull::pull_for_run(store, r)?;
    }
    let images = store.images()?;
    match image::resolve(store, &images, &args.image) {
        Ok(desc) => Ok((images, desc)),
        Err(e) => {
            let Some(missing) = e.downcast_ref::<image::NoSuchImage>() else {
                return Err(e);
            };
            let Some(r) = named.filter(|_| args.pull == "missing") else {
                return Err(NoSuchImage(missing.shown.clone()).into());
            };
            eprintln!("Unable to find image '{}' locally", r.familiar_string());
            crate::cmd::pull::pull_for_run(store, &r)?;
            let images = store.images()?;
            let desc = image::resolve(store, &images, &args.image)?;
            Ok((images, desc))
        }
    }
}

/// Docker refuses `-it` when our input is not a terminal (the raw-mode relay would make
/// no sense), before creating anything.
pub fn check_input_tty(tty: bool, interactive: bool) -> anyhow::Result<()> {
    // SAFETY: isatty has no preconditions.
    if tty && interactive && unsafe { libc::isatty(0) } != 1 {
        eprintln!("the input device is not a TTY");
        return Err(crate::Exit(1).into());
    }
    Ok(())
}

pub fn run(ctx: &Ctx, args: RunArgs) -> anyhow::Result<()> {
    if !args.detach {
        check_input_tty(args.tty, args.interactive)?;
    }
    let (detach, auto_remove) = (args.detach, args.rm);
    let (cs, id) = create(ctx, &args).map_err(create_err("run"))?;
    start_created(
        ctx,
        &cs,
        &id,
        !detach,
        auto_remove,
        args.detach_keys.as_deref(),
    )
}

/// `strata create`: the container, not started; prints its ID.
pub fn create_cmd(ctx: &Ctx, args: RunArgs) -> anyhow::Result<()> {
    let (_, id) = create(ctx, &args).map_err(create_err("create"))?;
    println!("{id}");
    Ok(())
}

/// Start container `id`; attached, relay its output and exit with its status.
pub fn start_created(
    ctx: &Ctx,
    cs: &Containers,
    id: &str,
    attach: bool,
    auto_remove: bool,
    detach_keys: Option<&str>,
) -> anyhow::Result<()> {
    if let Some(k) = detach_keys {
        strata_runtime::monitor::parse_detach_keys(k).map_err(|e| strata_err(anyhow!(e)))?;
    }
    let (tty, stdin) = cs
        .load(id)
        .map(|c| (c.config.tty, c.config.open_stdin))
        .unwrap_or((false, false));
    // As Docker: raw mode when our input goes to the container's terminal (`-it`), so
    // every key, Ctrl-C included, reaches it; with `-t` alone our terminal stays cooked
    // and Ctrl-C is forwarded as a signal. Entered before the container starts, so its
    // first output is not translated twice.
    let mut raw = (attach && tty && stdin).then(RawTerminal::enter).flatten();
    let mut launched = match container::launch(ctx, id, attach, detach_keys) {
        Ok(l) => l,
        Err(e) => {
            raw.take();
            return Err(strata_err(e));
        }
    };
    let report = launched.started();
    if report.is_err() {
        raw.take();
    }
    let pid = match report.map_err(strata_err)? {
        StartReport::Started(pid) => pid,
        StartReport::Failed(code, msg) => {
            let _ = launched.child.wait();
            raw.take();
            eprintln!("strata: Error response from daemon: failed to start container {id}: {msg}");
            if auto_remove {
                let _ = cs.remove(id);
            }
            return Err(crate::Exit(code.clamp(0, 255) as u8).into());
        }
    };
    if !attach {
        println!("{id}");
        return Ok(());
    }
    forward_signals(pid, tty.then(|| launched.child.id() as i32));
    let finish = launched.finished();
    drop(raw);
    let code = match finish {
        Finish::Exited(c) => {
            let _ = launched.child.wait();
            c
        }
        // The container runs on with its monitor; we leave both.
        Finish::Detached => return Ok(()),
        Finish::Unknown => {
            let _ = launched.child.wait();
            // The monitor died without a report: what the store says is the truth.
            match cs.load(id) {
                Ok(c) => c.state.exit_code,
                Err(_) => 125,
            }
        }
    };
    Err(crate::Exit(code.clamp(0, 255) as u8).into())
}

/// Our terminal in raw mode while a `-t` container is attached (keys, Ctrl-C included, go
/// to the container's terminal as Docker does); restored on drop.
pub struct RawTerminal(libc::termios);

impl RawTerminal {
    pub fn enter() -> Option<RawTerminal> {
        // SAFETY: termios calls on stdin with a zeroed buffer filled by tcgetattr.
        unsafe {
            if libc::isatty(0) != 1 {
                return None;
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return None;
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(0, libc::TCSANOW, &t);
            Some(RawTerminal(saved))
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: restoring the attributes read in `enter`.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.0) };
    }
}

/// Docker's `--sig-proxy`: signals we receive go to the container's pid 1; with a
/// terminal, window-size changes go to the monitor, which resizes the container's.
fn forward_signals(pid: i32, monitor: Option<i32>) {
    const SIGNALS: [i32; 7] = [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
    ];
    // SAFETY: blocking signals on this (main) thread before any other thread exists; the
    // forwarding thread waits for them synchronously.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in SIGNALS {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        std::thread::spawn(move || {
            loop {
                let mut sig = 0;
                if libc::sigwait(&set, &mut sig) == 0 {
                    match (sig, monitor) {
                        (libc::SIGWINCH, Some(m)) => libc::kill(m, sig),
                        (libc::SIGWINCH, None) => 0,
                        _ => libc::kill(pid, sig),
                    };
                }
            }
        });
    }
}

/// Random hex ID (64 characters, as Docker's; also anonymous volume names).
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Docker-style generated names: `adjective_noun`.
fn generated_name(id: &str) -> String {
    const ADJ: [&str; 16] = [
        "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
        "nimble", "proud", "quiet", "sharp", "tender", "vivid",
    ];
    const NOUN: [&str; 16] = [
        "babbage", "curie", "darwin", "euler", "fermi", "gauss", "hopper", "kepler", "lovelace",
        "meitner", "noether", "pascal", "ritchie", "shannon", "turing", "wozniak",
    ];
    let b = u8::from_str_radix(&id[..2], 16).unwrap_or(0);
    let c = u8::from_str_radix(&id[2..4], 16).unwrap_or(0);
    format!(
        "{}_{}_{}",
        ADJ[(b & 15) as usize],
        NOUN[(c & 15) as usize],
        &id[4..8]
    )
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Docker's memory sizes: `512m`, `1g`, `1048576`, `64k`.
pub fn parse_bytes(s: &str) -> anyhow::Result<u64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mul) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow!("invalid size: {s:?} (e.g. 512m, 1g)"))?;
    if n < 0.0 {
        bail!("invalid size: {s:?}");
    }
    Ok((n * mul as f64) as u64)
}

/// A path must not contain `..` (Docker cleans it silently; refusing keeps `-v` from
/// meaning something other than what it says).
fn check_no_dotdot(p: &str, what: &str) -> anyhow::Result<()> {
    if Path::new(p).components().any(|c| c == Component::ParentDir) {
        bail!("invalid {what} {p:?}: paths with '..' are not allowed");
    }
    Ok(())
}

fn env_key(kv: &str) -> &str {
    kv.split_once('=').map_or(kv, |(k, _)| k)
}

/// `-e`/`--env-file` entries: `KEY=VALUE`, or `KEY` taking our own value when set.
fn user_env(args: &RunArgs) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut add = |raw: &str| -> anyhow::Result<()> {
        let raw = raw.trim_start();
        if raw.is_empty() || raw.starts_with('#') {
            return Ok(());
        }
        if env_key(raw).is_empty() {
            bail!("invalid environment variable: {raw}");
        }
        if raw.contains('=') {
            out.push(raw.to_string());
        } else if let Ok(v) = std::env::var(raw) {
            out.push(format!("{raw}={v}"));
        }
        Ok(())
    };
    for f in &args.env_file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("cannot read env file {}", f.display()))?;
        for line in text.lines() {
            add(line)?;
        }
    }
    for e in &args.env {
        add(e)?;
    }
    Ok(out)
}

/// PATH when neither the image nor `-e` sets one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Set `kv` in `env` where its key already is, else append it (Docker's
/// `ReplaceOrAppendEnvValues`: a variable keeps its place).
pub fn replace_or_append(env: &mut Vec<String>, kv: String) {
    let k = env_key(&kv).to_string();
    match env.iter_mut().find(|e| env_key(e) == k) {
        Some(slot) => *slot = kv,
        None => env.push(kv),
    }
}

/// The environment a container's process starts with, in Docker's order (a process that
/// lists its environment sees the same): PATH, HOSTNAME, TERM with a terminal, then the
/// configured variables (PATH keeps its first place when the image sets it), then HOME
/// from the user's passwd entry when nothing set it (runc's addition).
pub fn process_env(config_env: &[String], hostname: &str, tty: bool, home: &str) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if tty {
        env.push("TERM=xterm".into());
    }
    for e in config_env {
        replace_or_append(&mut env, e.clone());
    }
    if !env.iter().any(|e| env_key(e) == "HOME") {
        env.push(format!("HOME={home}"));
    }
    env
}

/// Who a container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the primary group, and with a user named alone the groups
    /// that list it as a member.
    pub groups: Vec<u32>,
    /// From the passwd entry; `/` without one.
    pub home: String,
}

/// Resolve `-u` (`user`, `uid`, `user:group`, `uid:gid`; empty = root) against the
/// container's `/etc/passwd` and `/etc/group`, as runc's `GetExecUser` does for Docker: a
/// numeric user needs no entry (HOME is then `/`, gid 0), a name does; an explicit group
/// replaces the entry's and the member groups are not added; the primary group is always
/// a supplementary one too (Docker 20.10.18 and later).
pub fn exec_user(dirs: &[PathBuf], spec: &str) -> anyhow::Result<ExecUser> {
    let read = |rel: &str| {
        strata_build::fsutil::lookup(dirs, rel)
            .and_then(|(p, _)| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    };
    let (user, group) = spec.split_once(':').unwrap_or((spec, ""));
    let mut out = ExecUser {
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        home: "/".into(),
    };
    let passwd = read("etc/passwd");
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 6)
        .find(|f| match (user.is_empty(), user.parse::<u32>()) {
            (true, _) => f[2] == "0",
            (false, Ok(n)) => f[2].parse::<u32>() == Ok(n),
            (false, Err(_)) => f[0] == user,
        });
    let mut matched_name = None;
    match (entry, user.parse::<u32>()) {
        (Some(f), _) => {
            matched_name = Some(f[0].to_string());
            out.uid = f[2].parse().unwrap_or(0);
            out.gid = f[3].parse().unwrap_or(0);
            out.home = f[5].to_string();
        }
        (None, Ok(n)) => out.uid = n,
        (None, Err(_)) if user.is_empty() => {}
        (None, Err(_)) => bail!("unable to find user {user}: no matching entries in passwd file"),
    }
    let groups_file = read("etc/group");
    let entries: Vec<Vec<&str>> = groups_file
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3)
        .collect();
    let mut member_of = Vec::new();
    if !group.is_empty() {
        let found = entries.iter().find(|f| match group.parse::<u32>() {
            Ok(n) => f[2].parse::<u32>() == Ok(n),
            Err(_) => f[0] == group,
        });
        out.gid = match (found, group.parse::<u32>()) {
            (Some(f), _) => f[2].parse().unwrap_or(0),
            (None, Ok(n)) => n,
            (None, Err(_)) => {
                bail!("unable to find group {group}: no matching entries in group file")
            }
        };
    } else if let Some(name) = &matched_name {
        for f in &entries {
            if f.get(3).is_some_and(|m| m.split(',').any(|m| m == name))
                && let Ok(g) = f[2].parse::<u32>()
            {
                member_of.push(g);
            }
        }
    }
    out.groups.push(out.gid);
    for g in member_of {
        if !out.groups.contains(&g) {
            out.groups.push(g);
        }
    }
    Ok(out)
}

/// The image's snapshot directories, topmost first (unpacking layers seen for the first
/// time).
pub fn image_lowers(
    store: &strata_store::Store,
    manifest: &strata_oci::Manifest,
    config: &strata_oci::ImageConfig,
) -> anyhow::Result<Vec<PathBuf>> {
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        bail!(
            "image config {} lists {} layers but the manifest {}",
            manifest.config.digest,
            diff_ids.len(),
            manifest.layers.len()
        );
    }
    let layers: Vec<strata_build::cache::LayerRecord> = manifest
        .layers
        .iter()
        .zip(diff_ids)
        .map(|(l, d)| strata_build::cache::LayerRecord {
            diff_id: d.clone(),
            digest: l.digest.clone(),
            size: u64::try_from(l.size).unwrap_or(0),
            media_type: l.media_type.clone(),
        })
        .collect();
    let snaps = strata_build::snapshot::Snapshots::new(store)?;
    let mut dirs = snaps.ensure(store, &layers)?;
    dirs.reverse();
    Ok(dirs)
}

fn create(ctx: &Ctx, args: &RunArgs) -> anyhow::Result<(Containers, String)> {
    if let Some(k) = &args.detach_keys {
        strata_runtime::monitor::parse_detach_keys(k).map_err(|e| anyhow!(e))?;
    }
    if args.restart != "no" {
        bail!(
            "invalid restart policy {:?}: Strata has no daemon to restart containers; only \"no\" is supported",
            args.restart
        );
    }
    if args.rm && args.restart != "no" {
        bail!("conflicting options: cannot specify both --restart and --rm");
    }
    let network = match args.network.as_str() {
        "bridge" | "default" => "bridge",
        "host" => "host",
        "none" => "none",
        other => bail!("network {other} not found (Strata knows bridge, host and none)"),
    };
    let mut seccomp = true;
    for o in &args.security_opt {
        match o.as_str() {
            "seccomp=unconfined" | "seccomp:unconfined" => seccomp = false,
            "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true" => {}
            other => bail!(
                "unsupported --security-opt {other:?} (Strata knows seccomp=unconfined and no-new-privileges)"
            ),
        }
    }
    let store = ctx.store()?;
    let (images, desc) = resolve_image(&store, args)?;
    let (_, manifest) = image::load_manifest(&store, &desc)?;
    let info = image::load_info(&store, &images, &desc)?;
    let ic = info.config.config_or_default();
    let lowers = image_lowers(&store, &manifest, &info.config)?;

    let id = new_id();
    let name = match &args.name {
        Some(n) => {
            let n = n.strip_prefix('/').unwrap_or(n);
            if !valid_name(n) {
                bail!("Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
            }
            n.to_string()
        }
        None => generated_name(&id),
    };
    let hostname = args
        .hostname
        .clone()
        .unwrap_or_else(|| id[..12].to_string());

    // Entrypoint and command, as Docker combines them.
    let (entrypoint, cmd) = match &args.entrypoint {
        Some(ep) if ep.is_empty() => (Vec::new(), args.command.clone()),
        Some(ep) => (vec![ep.clone()], args.command.clone()),
        None => (
            ic.entrypoint.clone().unwrap_or_default(),
            if args.command.is_empty() {
                ic.cmd.clone().unwrap_or_default()
            } else {
                args.command.clone()
            },
        ),
    };
    let argv: Vec<String> = entrypoint.iter().chain(&cmd).cloned().collect();
    if argv.is_empty() {
        bail!("No command specified");
    }

    let user = args.user.clone().unwrap_or_else(|| ic.user.clone());
    let ExecUser {
        uid,
        gid,
        groups: additional_gids,
        home,
    } = exec_user(&lowers, &user).map_err(|e| StartPhase(e.to_string()))?;
    let working_dir = match &args.workdir {
        Some(w) if !w.starts_with('/') => {
            bail!("the working directory '{w}' is invalid, it needs to be an absolute path")
        }
        Some(w) => w.clone(),
        None if ic.working_dir.is_empty() => "/".into(),
        None => ic.working_dir.clone(),
    };

    // Docker's Config.Env: the image's, with -e/--env-file replacing or appending.
    let mut config_env: Vec<String> = ic.env.iter().flatten().cloned().collect();
    for e in user_env(args)? {
        replace_or_append(&mut config_env, e);
    }
    let env = process_env(&config_env, &hostname, args.tty, &home);
    // Ports.
    let mut exposed: Vec<String> = ic
        .exposed_ports
        .as_ref()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for e in &args.expose {
        let k = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        if !exposed.contains(&k) {
            exposed.push(k);
        }
    }
    let mut ports = Vec::new();
    for p in &args.publish {
        for m in strata_runtime::proxy::parse(p)? {
            let k = format!("{}/{}", m.container_port, m.proto.as_str());
            if !exposed.contains(&k) {
                exposed.push(k);
            }
            ports.push(m);
        }
    }
    if args.publish_all {
        for e in &exposed {
            let already = ports
                .iter()
                .any(|m| format!("{}/{}", m.container_port, m.proto.as_str()) == *e);
            if !already {
                ports.extend(strata_runtime::proxy::parse(e)?);
            }
        }
    }
    if network != "bridge" && !ports.is_empty() {
        eprintln!("WARNING: Published ports are discarded when using {network} network mode");
        ports.clear();
    }

    // Mounts.
    let mut mounts: Vec<MountConfig> = Vec::new();
    let root = ctx.root()?;
    let vols = volume::Volumes::new(&root)?;
    for v in &args.volumes {
        mounts.push(parse_volume(v, &vols, &lowers)?);
    }
    for t in &args.tmpfs {
        let (dest, options) = t.split_once(':').unwrap_or((t, ""));
        check_no_dotdot(dest, "tmpfs path")?;
        if !dest.starts_with('/') {
            bail!("invalid tmpfs path {dest:?}: must be absolute");
        }
        // Docker's daemon refuses an unknown option when it starts the container.
        let parsed =
            strata_runtime::tmpfs::parse(options).map_err(|e| StartPhase(e.to_string()))?;
        mounts.push(MountConfig {
            kind: "tmpfs".into(),
            name: String::new(),
            source: PathBuf::new(),
            destination: dest.to_string(),
            rw: !parsed.readonly,
            anonymous: false,
            options: options.to_string(),
        });
    }
    // Image VOLUMEs not covered by a mount become anonymous volumes, as in Docker.
    for dest in ic.volumes.iter().flat_map(|v| v.keys()) {
        if mounts.iter().any(|m| m.destination == *dest) {
            continue;
        }
        check_no_dotdot(dest, "image volume")?;
        let name = new_id();
        let data = vols.create(&name, true)?;
        volume::populate(&lowers, dest, &data)?;
        mounts.push(MountConfig {
            kind: "volume".into(),
            name,
            source: data,
            destination: dest.clone(),
            rw: true,
            anonymous: true,
            options: String::new(),
        });
    }

    let userns = user_namespace(args)?;
    if let Some(m) = &userns {
        if args.privileged {
            bail!(
                "privileged mode is incompatible with user namespaces. You must run the container in the host namespace when running privileged mode"
            );
        }
        if m.host_uid(uid).is_none() {
            bail!("user {user:?} (uid {uid}) is not mapped in the user namespace (--uidmap)");
        }
        if let Some(g) = std::iter::once(&gid)
            .chain(&additional_gids)
            .find(|g| m.host_gid(**g).is_none())
        {
            bail!("gid {g} is not mapped in the user namespace (--gidmap)");
        }
    }
    let capabilities = strata_runtime::caps::bounding_set(&args.cap_add, &args.cap_drop)?;
    let limits = LimitsConfig {
        memory: args.memory.as_deref().map(parse_bytes).transpose()?,
        nano_cpus: match args.cpus {
            Some(c) if c.is_nan() || c <= 0.0 => bail!("invalid --cpus {c}: must be positive"),
            Some(c) => Some((c * 1e9) as u64),
            None => None,
        },
        pids: args.pids_limit,
    };
    let stop_signal = args
        .stop_signal
        .clone()
        .or_else(|| (!ic.stop_signal.is_empty()).then(|| ic.stop_signal.clone()))
        .unwrap_or_else(|| "SIGTERM".into());
    container::parse_signal(&stop_signal)?;
    let mut labels: BTreeMap<String, String> = ic
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for l in &args.labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), v.to_string());
    }

    let config = Config {
        id: id.clone(),
        name,
        created: jiff::Timestamp::now().to_string(),
        image: args.image.clone(),
        image_id: info.config_digest.to_string(),
        lower: lowers,
        args: argv,
        entrypoint,
        cmd,
        env,
        config_env: Some(config_env),
        user,
        uid,
        gid,
        additional_gids,
        working_dir,
        hostname,
        network: network.into(),
        ports,
        exposed_ports: exposed,
        mounts,
        capabilities,
        privileged: args.privileged,
        read_only: args.read_only,
        init: args.init,
        tty: args.tty,
        open_stdin: args.interactive,
        seccomp,
        stop_signal,
        stop_timeout: args.stop_timeout,
        auto_remove: args.rm,
        restart: args.restart.clone(),
        limits,
        labels,
        userns,
    };
    let cs = container::containers(ctx)?;
    {
        let _lock = cs.lock()?;
        cs.create(&config)?;
    }
    // Keep the image's blobs alive while the container exists.
    let _ = store.set_root(
        &format!("container-{id}"),
        std::slice::from_ref(&desc.digest),
    );
    Ok((cs, id))
}

/// `--userns`, `--uidmap`, `--gidmap` (Podman's spelling): the mapping, or `None` for the
/// host's user namespace.
fn user_namespace(args: &RunArgs) -> anyhow::Result<Option<strata_runtime::userns::Mapping>> {
    use strata_runtime::userns;
    let explicit = !args.uidmap.is_empty() || !args.gidmap.is_empty();
    match args.userns.as_deref() {
        None | Some("") | Some("host") if !explicit => Ok(None),
        Some("host") => bail!("--userns=host cannot be combined with --uidmap/--gidmap"),
        Some("auto") if explicit => {
            bail!("--userns=auto cannot be combined with --uidmap/--gidmap")
        }
        Some("auto") => Ok(Some(userns::auto_mapping())),
        None | Some("") => {
            let parse = |v: &[String]| -> anyhow::Result<Vec<userns::IdMap>> {
                Ok(v.iter()
                    .map(|s| userns::parse_map(s))
                    .collect::<Result<_, _>>()?)
            };
            let uid_map = parse(&args.uidmap)?;
            let gid_map = if args.gidmap.is_empty() {
                uid_map.clone()
            } else {
                parse(&args.gidmap)?
            };
            if uid_map.is_empty() {
                bail!("--gidmap needs --uidmap too");
            }
            userns::validate(&uid_map, "--uidmap")?;
            userns::validate(&gid_map, "--gidmap")?;
            Ok(Some(userns::Mapping { uid_map, gid_map }))
        }
        Some(other) => bail!(
            "unsupported --userns {other:?} (Strata knows host and auto, and --uidmap/--gidmap)"
        ),
    }
}

/// `-v` forms: `HOST:CONTAINER[:ro|rw]` (absolute host path), `NAME:CONTAINER[:ro|rw]`
/// (named volume, created and populated from the image on first use), `CONTAINER`
/// (anonymous volume).
fn parse_volume(
    spec: &str,
    vols: &volume::Volumes,
    lowers: &[PathBuf],
) -> anyhow::Result<MountConfig> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dest, mode) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => bail!("invalid volume specification: '{spec}'"),
    };
    let rw = match mode {
        "" | "rw" => true,
        "ro" => false,
        m => bail!("invalid mode: {m} in volume specification '{spec}'"),
    };
    if !dest.starts_with('/') {
        bail!("invalid volume specification: '{spec}': the container path must be absolute");
    }
    check_no_dotdot(dest, "container path")?;
    if dest == "/" {
        bail!("invalid volume specification: '{spec}': cannot mount over /");
    }
    if src.starts_with('/') {
        check_no_dotdot(src, "host path")?;
        let source = PathBuf::from(src);
        if !source.exists() {
            std::fs::create_dir_all(&source)
                .with_context(|| format!("cannot create host directory {src}"))?;
        }
        return Ok(MountConfig {
            kind: "bind".into(),
            name: String::new(),
            source,
            destination: dest.to_string(),
            rw,
            anonymous: false,
            options: String::new(),
        });
    }
    if src.contains('/') || src.starts_with('.') {
        bail!(
            "invalid volume specification: '{spec}': a host path must be absolute, a volume name has no '/'"
        );
    }
    let (name, anonymous) = if src.is_empty() {
        (new_id(), true)
    } else {
        volume::check_name(src)?;
        (src.to_string(), false)
    };
    let fresh = !vols.exists(&name);
    let data = vols.create(&name, anonymous)?;
    if fresh || vols.is_empty(&name) {
        volume::populate(lowers, dest, &data)?;
    }
    Ok(MountConfig {
        kind: "volume".into(),
        name,
        source: data,
        destination: dest.to_string(),
        rw,
        anonymous,
        options: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_names() {
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert!(parse_bytes("x").is_err());
        assert!(valid_name("web-1.a_b"));
        assert!(!valid_name("-x"));
        assert!(check_no_dotdot("/a/../b", "p").is_err());
        assert!(check_no_dotdot("/a/b..c", "p").is_ok());
        let mut env = vec!["A=1".to_string(), "B=2".to_string()];
        replace_or_append(&mut env, "A=3".into());
        assert_eq!(env, vec!["A=3".to_string(), "B=2".to_string()]);
        let image = vec!["A=1".to_string(), "PATH=/x".to_string()];
        assert_eq!(
            process_env(&image, "h", true, "/root"),
            ["PATH=/x", "HOSTNAME=h", "TERM=xterm", "A=1", "HOME=/root"]
        );
    }
}
