//! Containers on disk: `$STRATA_ROOT/containers/<id>/` holds everything about one container,
//! and nothing else holds any state — there is no daemon.
//!
//! ```text
//! containers/<id>/
//!   config.json    what to run (immutable once created)
//!   state.json     status, pids, exit code, timestamps, leased address, published ports
//!   monitor.lock   flock'd exclusively by the live monitor process for its whole life
//!   upper/ work/   the copy-on-write layer (overlay upper and work directories)
//!   merged/        the overlay mount point (mounted only inside the container's namespace)
//!   run/           generated /etc/hosts, /etc/hostname, /etc/resolv.conf
//!   container.log  output as JSON lines, as Docker's json-file log driver writes it
//! ```
//!
//! ## Consistency without a daemon
//! - A container directory appears by renaming a complete `.tmp-<id>` directory into place
//!   and disappears by renaming it to `.rm-<id>` before deleting, so a reader never sees
//!   half of one; leftovers of killed commands are swept by [`Containers::list`].
//! - Every file is replaced by writing a temporary file and renaming it over the old one.
//! - Whether a container runs is decided by the monitor's lock, not by the recorded status:
//!   the kernel drops an `flock` when its holder dies, however it dies. A status of
//!   `running` with no lock holder means the monitor was killed — and with it the container
//!   (its processes die with their parent, see [`crate::spawn_with`]); [`Containers::load`]
//!   reports that as exited with 137 and an error saying why.
//! - Mounts exist only inside each container's private mount namespace, and the network
//!   namespace is held by descriptors: the kernel tears both down when the last process
//!   goes, so a crash leaves no mount and no interface behind.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::proxy::PortMapping;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error(
        "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
    )]
    NameInUse { name: String, id: String },
    #[error("multiple containers found with provided prefix: {0}")]
    Ambiguous(String),
    #[error("cannot {what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid {path}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// A mount as configured (`-v`, `--tmpfs`, image volumes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountConfig {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Host path (bind), volume name (volume), empty (tmpfs).
    #[serde(rename = "Name", default)]
    pub name: String,
    /// Host directory actually mounted (bind source or the volume's data directory).
    #[serde(rename = "Source", default)]
    pub source: PathBuf,
    #[serde(rename = "Destination")]
    pub destination: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    /// An anonymous volume (removed with `rm -v` and `--rm`).
    #[serde(rename = "Anonymous", default)]
    pub anonymous: bool,
    /// A tmpfs's options as given (`--tmpfs PATH:OPTIONS`, [`crate::tmpfs::parse`]);
    /// empty for Docker's defaults and in state written before options were kept.
    #[serde(rename = "Options", default, skip_serializing_if = "String::is_empty")]
    pub options: String,
}

/// Resource limits as configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LimitsConfig {
    #[serde(rename = "Memory", default)]
    pub memory: Option<u64>,
    #[serde(rename = "NanoCpus", default)]
    pub nano_cpus: Option<u64>,
    #[serde(rename = "PidsLimit", default)]
    pub pids: Option<i64>,
}

impl LimitsConfig {
    pub fn to_limits(&self) -> crate::cgroup::Limits {
        crate::cgroup::Limits {
            memory: self.memory,
            cpus: self.nano_cpus.map(|n| n as f64 / 1e9),
            pids: self.pids,
        }
    }
}

/// What to run: fixed when the container is created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    pub id: String,
    pub name: String,
    /// RFC 3339.
    pub created: String,
    /// The image as the user named it, and its ID (config digest).
    pub image: String,
    pub image_id: String,
    /// Overlay lower directories, topmost first.
    pub lower: Vec<PathBuf>,
    /// The resolved command line (entrypoint + command).
    pub args: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// The process's environment, as started.
    pub env: Vec<String>,
    /// Docker's `Config.Env`: the image's environment with `-e`/`--env-file` merged in,
    /// without what is added when a process starts (PATH's default, HOSTNAME, TERM, HOME).
    /// `exec` and `commit` start from it. `None` for containers made before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_env: Option<Vec<String>>,
    /// The user as given (`-u` or the image's), and what it resolved to.
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub working_dir: String,
    pub hostname: String,
    /// `bridge`, `host` or `none`.
    pub network: String,
    pub ports: Vec<PortMapping>,
    pub exposed_ports: Vec<String>,
    pub mounts: Vec<MountConfig>,
    /// Bounding set.
    pub capabilities: Vec<u32>,
    pub privileged: bool,
    pub read_only: bool,
    pub init: bool,
    pub tty: bool,
    pub open_stdin: bool,
    pub seccomp: bool,
    pub stop_signal: String,
    pub stop_timeout: Option<i64>,
    pub auto_remove: bool,
    pub restart: String,
    pub limits: LimitsConfig,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// `--userns`/`--uidmap`/`--gidmap`: run in a user namespace with this mapping (none:
    /// the host's user namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userns: Option<crate::userns::Mapping>,
}

/// Lifecycle status, as Docker names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    /// A monitor was launched and is starting the container.
    Starting,
    Running,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Starting => "created",
            Status::Running => "running",
            Status::Exited => "exited",
        }
    }
}

/// What happened: rewritten by the monitor (and by commands that find it dead).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    pub status: Status,
    /// Host pid of the container's pid 1, and its start time (to detect pid reuse).
    pub pid: i32,
    pub pid_start: u64,
    pub monitor_pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub ip_address: Option<String>,
    /// Published ports as bound (ephemeral ports filled in).
    pub ports: Vec<PortMapping>,
    pub cgroups: Vec<PathBuf>,
    pub restart_count: u32,
}

impl State {
    pub fn created() -> State {
        State {
            status: Status::Created,
            pid: 0,
            pid_start: 0,
            monitor_pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: None,
            finished_at: None,
            ip_address: None,
            ports: Vec::new(),
            cgroups: Vec::new(),
            restart_count: 0,
        }
    }

    pub fn running(&self) -> bool {
        self.status == Status::Running
    }
}

/// A container as read from disk, with its status made truthful.
#[derive(Debug, Clone)]
pub struct Container {
    pub config: Config,
    pub state: State,
    pub dir: PathBuf,
}

impl Container {
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("container.log")
    }
}

/// Write `bytes` to `path` atomically (temporary file, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes).map_err(io_err("write", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("replace", path))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, StateError> {
    let bytes = fs::read(path).map_err(io_err("read", path))?;
    serde_json::from_slice(&bytes).map_err(|source| StateError::Json {
        path: path.to_path_buf(),
        source,
    })
}

fn json_bytes<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising these plain structs cannot fail.
    serde_json::to_vec_pretty(v).unwrap_or_default()
}

/// The container directory of one store.
#[derive(Debug, Clone)]
pub struct Containers {
    dir: PathBuf,
}

/// An exclusive lock held while it lives.
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] File);

fn flock(f: &File, op: libc::c_int) -> io::Result<()> {
    // SAFETY: flock on an open descriptor.
    if unsafe { libc::flock(f.as_raw_fd(), op) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Containers {
    /// `root` is the store root; the directory is created on first use.
    pub fn new(root: &Path) -> Result<Containers, StateError> {
        let dir = root.join("containers");
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        Ok(Containers { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// The store-wide lock for creating and naming containers.
    pub fn lock(&self) -> Result<Lock, StateError> {
        let p = self.dir.join(".lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io_err("open", &p))?;
        flock(&f, libc::LOCK_EX).map_err(io_err("lock", &p))?;
        Ok(Lock(f))
    }

    /// IDs of all containers (sweeping leftovers of killed commands).
    pub fn ids(&self) -> Result<Vec<String>, StateError> {
        let mut ids = Vec::new();
        let rd = fs::read_dir(&self.dir).map_err(io_err("read", &self.dir))?;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(rest) = name.strip_prefix(".rm-") {
                let _ = rest;
                let _ = fs::remove_dir_all(e.path());
            } else if name.starts_with(".tmp-") {
                let old = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|a| a.as_secs() > 600);
                if old {
                    let _ = fs::remove_dir_all(e.path());
                }
            } else if !name.starts_with('.') && e.path().join("config.json").exists() {
                ids.push(name);
            }
        }
        Ok(ids)
    }

    /// Create a container: directories and files appear at once. The caller holds
    /// [`Containers::lock`] (names are checked against the existing containers).
    pub fn create(&self, config: &Config) -> Result<Container, StateError> {
        if let Some(id) = self.id_named(&self.ids()?, &config.name) {
            return Err(StateError::NameInUse {
                name: config.name.clone(),
                id,
            });
        }
        let tmp = self.dir.join(format!(".tmp-{}", config.id));
        for d in ["upper", "work", "merged", "run"] {
            let p = tmp.join(d);
            fs::create_dir_all(&p).map_err(io_err("create", &p))?;
        }
        // Plain writes: the whole directory appears at once by the rename below.
        let cfg_path = tmp.join("config.json");
        fs::write(&cfg_path, json_bytes(config)).map_err(io_err("write", &cfg_path))?;
        let state = State::created();
        let state_path = tmp.join("state.json");
        fs::write(&state_path, json_bytes(&state)).map_err(io_err("write", &state_path))?;
        let dest = self.path(&config.id);
        fs::rename(&tmp, &dest).map_err(io_err("create", &dest))?;
        Ok(Container {
            config: config.clone(),
            state,
            dir: dest,
        })
    }

    /// The container among `ids` named `name` (unreadable configs skipped).
    fn id_named(&self, ids: &[String], name: &str) -> Option<String> {
        ids.iter()
            .find(|id| {
                read_json::<Config>(&self.path(id).join("config.json"))
                    .is_ok_and(|c| c.name == name)
            })
            .cloned()
    }

    /// Resolve a name, full ID or unique ID prefix, as Docker does.
    pub fn resolve(&self, input: &str) -> Result<String, StateError> {
        let name = input.strip_prefix('/').unwrap_or(input);
        let ids = self.ids()?;
        if ids.iter().any(|i| i == input) {
            return Ok(input.to_string());
        }
        if let Some(id) = self.id_named(&ids, name) {
            return Ok(id);
        }
        let hits: Vec<&String> = ids
            .iter()
            .filter(|i| !input.is_empty() && i.starts_with(input))
            .collect();
        match hits.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(StateError::NoSuchContainer(input.to_string())),
            _ => Err(StateError::Ambiguous(input.to_string())),
        }
    }

    /// Whether a monitor holds container `id`'s lock.
    pub fn monitor_alive(&self, id: &str) -> bool {
        let p = self.path(id).join("monitor.lock");
        let Ok(f) = OpenOptions::new().read(true).open(&p) else {
            return false;
        };
        flock(&f, libc::LOCK_SH | libc::LOCK_NB).is_err()
    }

    /// Take container `id`'s monitor lock (non-blocking): `None` when a monitor holds it.
    pub fn try_monitor_lock(&self, id: &str) -> Result<Option<Lock>, StateError> {
        let p = self.path(id).join("monitor.lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io_err("open", &p))?;
        match flock(&f, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => Ok(Some(Lock(f))),
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(None),
            Err(e) => Err(io_err("lock", &p)(e)),
        }
    }

    /// Block until no monitor holds container `id`'s lock.
    pub fn wait_monitor(&self, id: &str) -> Result<(), StateError> {
        let p = self.path(id).join("monitor.lock");
        let f = match OpenOptions::new().read(true).open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("open", &p)(e)),
        };
        loop {
            match flock(&f, libc::LOCK_SH) {
                Ok(()) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(io_err("lock", &p)(e)),
            }
        }
    }

    /// Read container `id`, with the status made truthful (see the module docs).
    pub fn load(&self, id: &str) -> Result<Container, StateError> {
        let dir = self.path(id);
        if !dir.join("config.json").exists() {
            return Err(StateError::NoSuchContainer(id.to_string()));
        }
        let config: Config = read_json(&dir.join("config.json"))?;
        let mut state: State = read_json(&dir.join("state.json"))?;
        if matches!(state.status, Status::Running | Status::Starting) && !self.monitor_alive(id) {
            // Re-read: the monitor may have recorded the exit just before releasing.
            state = read_json(&dir.join("state.json"))?;
            if matches!(state.status, Status::Running | Status::Starting) {
                let was_running = state.status == Status::Running;
                state.status = Status::Exited;
                state.exit_code = if was_running { 137 } else { 125 };
                state.error = format!(
                    "the monitor process (pid {}) died{}",
                    state.monitor_pid,
                    if was_running {
                        "; the container was killed with it"
                    } else {
                        " before the container started"
                    }
                );
                state.pid = 0;
                if state.finished_at.is_none() {
                    state.finished_at = Some(jiff::Timestamp::now().to_string());
                }
            }
        }
        Ok(Container { config, state, dir })
    }

    pub fn write_state(&self, id: &str, state: &State) -> Result<(), StateError> {
        write_atomic(&self.path(id).join("state.json"), &json_bytes(state))
    }

    /// Remove container `id`'s directory (renamed away first, so it vanishes at once).
    pub fn remove(&self, id: &str) -> Result<(), StateError> {
        let gone = self.detach(id)?;
        fs::remove_dir_all(&gone).map_err(io_err("remove", &gone))
    }

    /// The first half of [`Containers::remove`]: the container is gone for every reader
    /// once this returns; the returned directory is deleted by the caller (or swept by
    /// [`Containers::ids`] if the caller dies first).
    pub fn detach(&self, id: &str) -> Result<PathBuf, StateError> {
        let dir = self.path(id);
        let gone = self.dir.join(format!(".rm-{id}"));
        fs::rename(&dir, &gone).map_err(io_err("remove", &dir))?;
        Ok(gone)
    }

    /// All containers, newest first.
    pub fn list(&self) -> Result<Vec<Container>, StateError> {
        let mut out = Vec::new();
        for id in self.ids()? {
            match self.load(&id) {
                Ok(c) => out.push(c),
                Err(StateError::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| b.config.created.cmp(&a.config.created));
        Ok(out)
    }
}

/// One line of Docker's json-file log format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Appends records to `container.log` (shared by the stdout and stderr relays).
#[derive(Debug)]
pub struct LogWriter {
    file: std::sync::Mutex<File>,
}

impl LogWriter {
    pub fn open(path: &Path) -> Result<LogWriter, StateError> {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io_err("open", path))?;
        Ok(LogWriter {
            file: std::sync::Mutex::new(f),
        })
    }

    /// Record `chunk` as one record per line (a trailing partial line is a record too).
    pub fn write(&self, stream: &str, chunk: &[u8]) {
        let time = jiff::Timestamp::now().to_string();
        let mut buf = Vec::new();
        for line in chunk.split_inclusive(|b| *b == b'\n') {
            let rec = LogRecord {
                log: String::from_utf8_lossy(line).into_owned(),
                stream: stream.to_string(),
                time: time.clone(),
            };
            if serde_json::to_writer(&mut buf, &rec).is_ok() {
                buf.push(b'\n');
            }
        }
        if let Ok(mut f) = self.file.lock() {
            let _ = f.write_all(&buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_written_before_tmpfs_options_still_read() {
        let old = r#"{"Type":"tmpfs","Name":"","Source":"","Destination":"/t","RW":true}"#;
        let m: MountConfig = serde_json::from_str(old).unwrap();
        assert_eq!(m.options, "");
        assert_eq!(m.destination, "/t");
        // Options are written only when there are some, so old readers see no new key.
        let json = serde_json::to_string(&m).unwrap();
        assert!(!json.contains("Options"), "{json}");
        let with = MountConfig {
            options: "size=1m,exec".into(),
            ..m
        };
        let back: MountConfig =
            serde_json::from_str(&serde_json::to_string(&with).unwrap()).unwrap();
        assert_eq!(back, with);
    }

    fn config(id: &str, name: &str) -> Config {
        Config {
            id: id.into(),
            name: name.into(),
            created: jiff::Timestamp::now().to_string(),
            image: "busybox".into(),
            image_id: "sha256:00".into(),
            lower: vec![],
            args: vec!["true".into()],
            entrypoint: vec![],
            cmd: vec!["true".into()],
            env: vec![],
            user: String::new(),
            uid: 0,
            gid: 0,
            config_env: None,
            additional_gids: vec![],
            working_dir: "/".into(),
            hostname: "h".into(),
            network: "none".into(),
            ports: vec![],
            exposed_ports: vec![],
            mounts: vec![],
            capabilities: vec![],
            privileged: false,
            read_only: false,
            init: false,
            tty: false,
            open_stdin: false,
            seccomp: true,
            stop_signal: "SIGTERM".into(),
            stop_timeout: None,
            auto_remove: false,
            restart: "no".into(),
            limits: LimitsConfig::default(),
            labels: Default::default(),
            userns: None,
        }
    }

    #[test]
    fn create_resolve_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let cs = Containers::new(dir.path()).unwrap();
        let _l = cs.lock().unwrap();
        cs.create(&config("abcdef01", "one")).unwrap();
        cs.create(&config("abcdef02", "two")).unwrap();
        assert!(matches!(
            cs.create(&config("ffff", "one")),
            Err(StateError::NameInUse { .. })
        ));
        assert_eq!(cs.resolve("two").unwrap(), "abcdef02");
        assert_eq!(cs.resolve("abcdef01").unwrap(), "abcdef01");
        assert!(matches!(cs.resolve("abc"), Err(StateError::Ambiguous(_))));
        assert!(matches!(
            cs.resolve("zzz"),
            Err(StateError::NoSuchContainer(_))
        ));
        cs.remove("abcdef01").unwrap();
        assert_eq!(cs.ids().unwrap(), vec!["abcdef02".to_string()]);
    }

    #[test]
    fn running_without_a_monitor_is_reported_exited() {
        let dir = tempfile::tempdir().unwrap();
        let cs = Containers::new(dir.path()).unwrap();
        cs.create(&config("abc", "x")).unwrap();
        let mut s = State::created();
        s.status = Status::Running;
        s.monitor_pid = 42;
        cs.write_state("abc", &s).unwrap();
        let c = cs.load("abc").unwrap();
        assert_eq!(c.state.status, Status::Exited);
        assert_eq!(c.state.exit_code, 137);
        assert!(c.state.error.contains("monitor"));
        // With the lock held (as by a live monitor), it stays running.
        let lock = cs.try_monitor_lock("abc").unwrap().unwrap();
        assert!(cs.monitor_alive("abc"));
        assert_eq!(cs.load("abc").unwrap().state.status, Status::Running);
        drop(lock);
        assert!(!cs.monitor_alive("abc"));
    }
}
