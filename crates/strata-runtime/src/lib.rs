//! # strata-runtime — run a process in an isolated root filesystem
//!
//! One entry point, [`spawn`]: "run this [`ProcessSpec`] in this [`Rootfs`] with these
//! [`Mount`]s and namespaces". `strata build` uses it for `RUN` (overlayfs over the parent
//! snapshots, a fresh upper directory); `strata run` uses [`spawn_with`] (see below).
//!
//! ## Model
//! The container is set up between `fork` and `exec` of a child process:
//!
//! 1. The parent prepares everything that allocates: the list of [`Step`]s with every path
//!    and option already encoded as a C string, `O_PATH` descriptors for host files that are
//!    bind-mounted in (device nodes, `/etc/resolv.conf`, the generated `/etc/hosts`).
//! 2. The first child `unshare`s new mount, pid, ipc and uts namespaces (and a network
//!    namespace for [`Network::None`]) and forks again, so that the second child is pid 1 of
//!    the new pid namespace. The first child closes its descriptors and waits, then exits
//!    with the second child's status, so the caller sees one ordinary child process.
//! 3. The second child executes the steps: mount propagation private, overlay mount,
//!    `pivot_root` into it and detach the host root, `/proc`, a minimal `/dev` (tmpfs with
//!    bind mounts of the host's null, zero, full, random, urandom and tty), `/dev/pts`,
//!    `/dev/shm`, masked and read-only `/proc` paths as Docker sets them, the extra mounts,
//!    hostname, (with `--userns`, joining the prepared user namespace), Docker's default
//!    capability bounding set, no-new-privileges, then groups/gid/uid and the working
//!    directory; with `-t` the process then allocates its terminal ([`console`]), the
//!    seccomp filter goes last, and `std::process::Command` `exec`s. The signal mask is
//!    emptied first (the caller's blocked signals would otherwise be inherited).
//!
//! Every mount is made *before* `pivot_root`, while host paths (device nodes, the host's
//! `/etc/resolv.conf`, bind sources) are still reachable; each mount point inside the
//! rootfs is checked component by component with `lstat` and created when missing, and a
//! symlink on the way fails the setup. So a symlink planted in the image (say
//! `/etc -> /host`) can never redirect a mount onto a host path. (Docker resolves such
//! symlinks inside the root; refusing them is the simpler safe choice.)
//!
//! Both children only make raw system calls on buffers prepared before the fork, which is
//! what is async-signal-safe after forking a multithreaded process. That gives the
//! guarantees a re-exec'd helper process would, without a hidden entry point in the binary
//! and without the cost of loading it again. DESIGN.md names libcontainer (youki) for
//! isolation; this hand-written runtime (7 ms per container here, no dependency) covers
//! what `RUN` and `strata run` need, and every setup system call goes through the
//! [`Syscall`] trait so the step sequence can be checked with a recording fake.
//!
//! ## `strata run`
//! [`spawn_with`] adds [`Options`] to a spec (kept apart so `RUN`'s spec is unchanged):
//! joining a prepared network namespace, a capability bounding set (`--cap-add/--cap-drop`,
//! [`caps`]), `--privileged`, a read-only root, a minimal init as pid 1 (`--init`), a
//! terminal allocated on the container's own devpts ([`console`]), cgroup limits ([`cgroup`]) and a seccomp filter ([`seccomp`]:
//! classic BPF assembled here, no libseccomp). Around it: [`state`] (containers on disk,
//! truthful after crashes), [`monitor`] (the per-container process that owns a running
//! container), [`network`] (bridge, veth, address leases), [`proxy`] (published ports),
//! [`exec`] (joining a running container) and [`copy`] (`cp` without symlink escapes).
//! User-namespace remapping (`--userns`, [`userns`]): the setup runs as host root, then
//! the process joins a prepared user namespace; the rootfs is built on idmapped mounts.
//!
//! `PR_SET_PDEATHSIG` ties both children to their parent: if the builder is killed, the
//! container's pid 1 dies and the kernel kills the rest of its pid namespace.

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub mod caps;
pub mod cgroup;
pub mod console;
pub mod copy;
pub mod exec;
pub mod monitor;
pub mod network;
pub mod proxy;
pub mod seccomp;
pub mod state;
pub mod tmpfs;
pub mod userns;

/// Errors preparing or starting a container.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("invalid container spec: {reason}")]
    InvalidSpec { reason: String },
    #[error("failed to start {program:?} in the container")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The root filesystem of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rootfs {
    /// An overlay mounted at `target`: `lower` directories (topmost first, at least one),
    /// a writable `upper` directory and overlayfs' `work` directory (same filesystem as
    /// `upper`). After the process exits, `upper` holds exactly its changes.
    Overlay {
        lower: Vec<PathBuf>,
        upper: PathBuf,
        work: PathBuf,
        target: PathBuf,
    },
    /// An existing directory used as it is (bind-mounted onto itself).
    Dir(PathBuf),
}

/// An extra mount inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// Bind a host file or directory at `destination`.
    Bind {
        source: PathBuf,
        destination: String,
        readonly: bool,
    },
    /// A fresh tmpfs at `destination`, with Docker's `--tmpfs` defaults (`noexec`,
    /// `nosuid`, `nodev`).
    Tmpfs { destination: String },
    /// A fresh tmpfs at `destination` with these options (`--tmpfs PATH:OPTIONS`).
    TmpfsWith {
        destination: String,
        options: tmpfs::TmpfsOptions,
    },
}

/// Network isolation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// Share the host's network namespace (Docker's build default, so package managers work);
    /// the host's `/etc/resolv.conf` is mounted in.
    #[default]
    Host,
    /// A new network namespace with only the loopback interface, up. The host's
    /// `/etc/resolv.conf` is still mounted in unless [`Options::resolv_conf`] says
    /// otherwise, as BuildKit's `RUN --network=none` has it.
    None,
}

/// The process to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    /// `argv`; `args[0]` is looked up in `PATH` from `env` inside the container when it
    /// has no slash.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries, the whole environment.
    pub env: Vec<String>,
    /// Absolute working directory inside the container.
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

/// Everything [`spawn`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub rootfs: Rootfs,
    pub process: ProcessSpec,
    pub hostname: String,
    pub network: Network,
    pub mounts: Vec<Mount>,
    /// Directory for files the runtime generates (`/etc/hosts`); must exist.
    pub state_dir: PathBuf,
}

/// Container paths the runtime mounts over. When the image lacks one, an empty stub is
/// created in the rootfs to mount on; a caller that turns the upper directory into a layer
/// removes those stubs (see [`remove_mount_stubs`]).
pub const MOUNT_POINTS: [&str; 5] = ["/proc", "/dev", "/sys", "/etc/resolv.conf", "/etc/hosts"];

/// Docker's default capability set (moby `oci/caps/defaults.go`): capability numbers kept in
/// the bounding set.
pub const DEFAULT_CAPS: [u32; 14] = [
    0,  // CAP_CHOWN
    1,  // CAP_DAC_OVERRIDE
    3,  // CAP_FOWNER
    4,  // CAP_FSETID
    5,  // CAP_KILL
    6,  // CAP_SETGID
    7,  // CAP_SETUID
    8,  // CAP_SETPCAP
    10, // CAP_NET_BIND_SERVICE
    13, // CAP_NET_RAW
    18, // CAP_SYS_CHROOT
    27, // CAP_MKNOD
    29, // CAP_AUDIT_WRITE
    31, // CAP_SETFCAP
];

/// `/proc` files Docker hides behind `/dev/null` (moby `oci/defaults.go`).
const MASKED_FILES: [&str; 7] = [
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/interrupts",
];
/// `/proc` directories Docker hides behind an empty read-only tmpfs.
const MASKED_DIRS: [&str; 3] = ["/proc/acpi", "/proc/scsi", "/sys/firmware"];
/// `/proc` paths Docker makes read-only.
const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Host device nodes bind-mounted into the container's `/dev`.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// What `lstat` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    Symlink,
    Other,
}

/// The system calls container setup makes. [`LinuxSyscall`] makes them; tests record them.
/// Implementations called from [`spawn`]'s child must not allocate.
pub trait Syscall {
    fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: libc::c_ulong,
        data: Option<&CStr>,
    ) -> io::Result<()>;
    fn umount_detach(&self, target: &CStr) -> io::Result<()>;
    /// The type of `path` without following a final symlink; `None` when it is missing.
    fn lstat_kind(&self, path: &CStr) -> io::Result<Option<Kind>>;
    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> io::Result<()>;
    fn chdir(&self, path: &CStr) -> io::Result<()>;
    /// Create a directory; an existing one is fine.
    fn mkdir(&self, path: &CStr, mode: u32) -> io::Result<()>;
    /// Create an empty file (a mount point); an existing one is fine.
    fn create_file(&self, path: &CStr) -> io::Result<()>;
    /// Create a symlink; an existing one is fine.
    fn symlink(&self, target: &CStr, link: &CStr) -> io::Result<()>;
    fn sethostname(&self, name: &[u8]) -> io::Result<()>;
    fn loopback_up(&self) -> io::Result<()>;
    fn drop_bounding_cap(&self, cap: u32) -> io::Result<()>;
    fn no_new_privs(&self) -> io::Result<()>;
    fn setgroups(&self, gids: &[u32]) -> io::Result<()>;
    fn setgid(&self, gid: u32) -> io::Result<()>;
    fn setuid(&self, uid: u32) -> io::Result<()>;
    /// Mount a clone of `source` on `target`, idmapped with user namespace `userns`.
    fn idmap_mount(&self, source: &CStr, target: &CStr, userns: RawFd) -> io::Result<()>;
    /// Join user namespace `fd`.
    fn join_userns(&self, fd: RawFd) -> io::Result<()>;
    /// Set the filesystem uid and gid, keeping every permitted capability effective.
    fn set_fsids(&self, uid: u32, gid: u32) -> io::Result<()>;
    /// Write `data` to the existing file `path`.
    fn write_file(&self, path: &CStr, data: &[u8]) -> io::Result<()>;
    /// The permission bits (with setuid, setgid and sticky) of `path`, not following a
    /// final symlink.
    fn stat_mode(&self, path: &CStr) -> io::Result<u32>;
    fn chmod(&self, path: &CStr, mode: u32) -> io::Result<()>;
}

/// What a mount point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Dir,
    File,
}

/// One step of container setup, with everything pre-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
        /// Skip this mount when the target does not exist (masked paths).
        optional: bool,
    },
    /// `pivot_root` into the current directory and detach the old root.
    PivotRootHere,
    /// Ensure a mount point exists without following symlinks: each prefix path (host
    /// paths, root excluded) is created if missing (directories, the last one as `kind`);
    /// a symlink anywhere fails with `ELOOP`.
    SafeMountpoint {
        prefixes: Vec<CString>,
        kind: FileKind,
    },
    Chdir(CString),
    Mkdir(CString, u32),
    CreateFile(CString),
    Symlink {
        target: CString,
        link: CString,
    },
    SetHostname(CString),
    LoopbackUp,
    /// Drop these capabilities from the bounding set.
    DropCaps(Vec<u32>),
    NoNewPrivs,
    SetGroups(Vec<u32>),
    SetGid(u32),
    SetUid(u32),
    /// Mount an idmapped clone of `source` on `target` ([`userns`]).
    IdmapMount {
        source: CString,
        target: CString,
        userns: RawFd,
    },
    /// Mount a tmpfs at `target` (its mount point made as [`Step::SafeMountpoint`] does,
    /// from `prefixes`): when the mount point existed, the tmpfs takes its mode, as runc
    /// chmods it after the mount (so an existing directory's mode wins over `mode=`);
    /// `readonly` remounts it read-only after that.
    Tmpfs {
        prefixes: Vec<CString>,
        target: CString,
        flags: libc::c_ulong,
        data: Option<CString>,
        readonly: bool,
    },
    /// Join a user namespace (after every mount, before the bounding set is dropped: joining
    /// gives a full capability set in the namespace).
    JoinUserNs(RawFd),
    /// Write to an existing file (a sysctl under `/proc/sys`).
    WriteFile {
        path: CString,
        data: CString,
    },
    /// Act on files as `uid`/`gid` (capabilities kept), e.g. to mount an overlay whose
    /// layers are idmapped: overlayfs does its own work with the mounter's credentials,
    /// which must map into the layers' idmapping.
    SetFsIds(u32, u32),
}

impl Step {
    /// A short description for error messages (static, so the child can print it).
    fn what(&self) -> &'static [u8] {
        match self {
            Step::Mount { .. } => b"mount",
            Step::Tmpfs { .. } => b"mount tmpfs",
            Step::PivotRootHere => b"pivot_root",
            Step::SafeMountpoint { .. } => b"create mount point",
            Step::Chdir(_) => b"chdir",
            Step::Mkdir(..) => b"mkdir",
            Step::CreateFile(_) => b"create mount point",
            Step::Symlink { .. } => b"symlink",
            Step::SetHostname(_) => b"sethostname",
            Step::LoopbackUp => b"bring up loopback",
            Step::DropCaps(_) => b"drop capabilities",
            Step::NoNewPrivs => b"no_new_privs",
            Step::SetGroups(_) => b"setgroups",
            Step::SetGid(_) => b"setgid",
            Step::SetUid(_) => b"setuid",
            Step::IdmapMount { .. } => b"idmapped mount (mount_setattr MOUNT_ATTR_IDMAP) on",
            Step::JoinUserNs(_) => b"join the user namespace",
            Step::WriteFile { .. } => b"write",
            Step::SetFsIds(..) => b"set the filesystem ids",
        }
    }

    /// The path the step is about, for error messages.
    fn path(&self) -> Option<&CStr> {
        match self {
            Step::Mount { target, .. } => Some(target),
            Step::Chdir(p) | Step::Mkdir(p, _) | Step::CreateFile(p) => Some(p),
            Step::Symlink { link, .. } => Some(link),
            Step::IdmapMount { target, .. } => Some(target),
            Step::WriteFile { path, .. } => Some(path),
            Step::SafeMountpoint { prefixes, .. } => prefixes.last().map(CString::as_c_str),
            _ => None,
        }
    }
}

/// Run `steps` in order. On failure, a line naming the step is written to stderr (fd 2,
/// which is the container's output) and the error returned.
pub fn execute(steps: &[Step], sys: &dyn Syscall) -> io::Result<()> {
    for step in steps {
        let r = match step {
            Step::Mount {
                source,
                target,
                fstype,
                flags,
                data,
                optional,
            } => match sys.mount(
                source.as_deref(),
                target,
                fstype.as_deref(),
                *flags,
                data.as_deref(),
            ) {
                Err(e) if *optional && e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
                r => r,
            },
            Step::PivotRootHere => {
                let dot = c".";
                sys.pivot_root(dot, dot)
                    .and_then(|()| sys.umount_detach(dot))
                    .and_then(|()| sys.chdir(c"/"))
            }
            Step::SafeMountpoint { prefixes, kind } => {
                safe_mountpoint(sys, prefixes, *kind).map(|_| ())
            }
            Step::Tmpfs {
                prefixes,
                target,
                flags,
                data,
                readonly,
            } => mount_tmpfs(sys, prefixes, target, *flags, data.as_deref(), *readonly),
            Step::Chdir(p) => sys.chdir(p),
            Step::Mkdir(p, mode) => sys.mkdir(p, *mode),
            Step::CreateFile(p) => sys.create_file(p),
            Step::Symlink { target, link } => sys.symlink(target, link),
            Step::SetHostname(name) => sys.sethostname(name.as_bytes()),
            Step::LoopbackUp => sys.loopback_up(),
            Step::DropCaps(caps) => caps.iter().try_for_each(|c| sys.drop_bounding_cap(*c)),
            Step::NoNewPrivs => sys.no_new_privs(),
            Step::SetGroups(g) => sys.setgroups(g),
            Step::SetGid(g) => sys.setgid(*g),
            Step::SetUid(u) => sys.setuid(*u),
            Step::IdmapMount {
                source,
                target,
                userns,
            } => sys.idmap_mount(source, target, *userns),
            Step::JoinUserNs(fd) => sys.join_userns(*fd),
            Step::WriteFile { path, data } => sys.write_file(path, data.as_bytes()),
            Step::SetFsIds(u, g) => sys.set_fsids(*u, *g),
        };
        if let Err(e) = r {
            report_step_failure(step);
            return Err(e);
        }
    }
    Ok(())
}

/// Make the mount point; true when its last component existed already.
fn safe_mountpoint(sys: &dyn Syscall, prefixes: &[CString], kind: FileKind) -> io::Result<bool> {
    let last = prefixes.len().saturating_sub(1);
    let mut existed = false;
    for (i, p) in prefixes.iter().enumerate() {
        let want = if i == last { kind } else { FileKind::Dir };
        match sys.lstat_kind(p)? {
            Some(Kind::Symlink) => return Err(io::Error::from_raw_os_error(libc::ELOOP)),
            Some(_) => existed = i == last,
            None => match want {
                FileKind::Dir => sys.mkdir(p, 0o755)?,
                FileKind::File => sys.create_file(p)?,
            },
        }
    }
    Ok(existed)
}

/// [`Step::Tmpfs`].
fn mount_tmpfs(
    sys: &dyn Syscall,
    prefixes: &[CString],
    target: &CStr,
    flags: libc::c_ulong,
    data: Option<&CStr>,
    readonly: bool,
) -> io::Result<()> {
    // Read after the walk has refused symlinks on the way, before the tmpfs hides it.
    let kept_mode = if safe_mountpoint(sys, prefixes, FileKind::Dir)? {
        Some(sys.stat_mode(target)?)
    } else {
        None
    };
    sys.mount(Some(c"tmpfs"), target, Some(c"tmpfs"), flags, data)?;
    if let Some(mode) = kept_mode {
        sys.chmod(target, mode)?;
    }
    if readonly {
        sys.mount(
            None,
            target,
            None,
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | flags,
            None,
        )?;
    }
    Ok(())
}

fn report_step_failure(step: &Step) {
    let write = |b: &[u8]| {
        // SAFETY: writing a valid buffer to fd 2; the result is irrelevant (best effort).
        unsafe { libc::write(2, b.as_ptr().cast(), b.len()) };
    };
    write(b"strata-runtime: container setup failed: ");
    write(step.what());
    if let Some(p) = step.path() {
        write(b" ");
        write(p.to_bytes());
    }
    write(b"\n");
}

/// Makes the real system calls, without allocating.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinuxSyscall;

fn check(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn ok_if_exists(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        r => r,
    }
}

fn opt_ptr(s: Option<&CStr>) -> *const libc::c_char {
    s.map_or(std::ptr::null(), CStr::as_ptr)
}

impl Syscall for LinuxSyscall {
    fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: libc::c_ulong,
        data: Option<&CStr>,
    ) -> io::Result<()> {
        // SAFETY: all pointers are NUL-terminated strings or null, as mount(2) expects.
        check(unsafe {
            libc::mount(
                opt_ptr(source),
                target.as_ptr(),
                opt_ptr(fstype),
                flags,
                opt_ptr(data).cast(),
            )
        })
    }
    fn stat_mode(&self, path: &CStr) -> io::Result<u32> {
        // SAFETY: valid C string and a zeroed stat buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        check(unsafe { libc::lstat(path.as_ptr(), &mut st) })?;
        Ok(st.st_mode & 0o7777)
    }
    fn chmod(&self, path: &CStr, mode: u32) -> io::Result<()> {
        // SAFETY: valid C string.
        check(unsafe { libc::chmod(path.as_ptr(), mode) })
    }
    fn umount_detach(&self, target: &CStr) -> io::Result<()> {
        // SAFETY: valid C string.
        check(unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) })
    }
    fn lstat_kind(&self, path: &CStr) -> io::Result<Option<Kind>> {
        // SAFETY: valid C string and a zeroed stat buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::lstat(path.as_ptr(), &mut st) } < 0 {
            let e = io::Error::last_os_error();
            return if e.raw_os_error() == Some(libc::ENOENT) {
                Ok(None)
            } else {
                Err(e)
            };
        }
        Ok(Some(match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFLNK => Kind::Symlink,
            _ => Kind::Other,
        }))
    }
    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> io::Result<()> {
        // SAFETY: valid C strings; pivot_root has no libc wrapper.
        let r = unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) };
        check(r as libc::c_int)
    }
    fn chdir(&self, path: &CStr) -> io::Result<()> {
        // SAFETY: valid C string.
        check(unsafe { libc::chdir(path.as_ptr()) })
    }
    fn mkdir(&self, path: &CStr, mode: u32) -> io::Result<()> {
        // SAFETY: valid C string.
        ok_if_exists(check(unsafe { libc::mkdir(path.as_ptr(), mode) }))
    }
    fn create_file(&self, path: &CStr) -> io::Result<()> {
        // SAFETY: valid C string; the descriptor is closed right away.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                0o644,
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            // An existing non-regular file (a directory, a symlink) is a mount point too.
            if matches!(
                e.raw_os_error(),
                Some(libc::EISDIR | libc::ELOOP | libc::EEXIST)
            ) {
                return Ok(());
            }
            return Err(e);
        }
        // SAFETY: fd was just opened by us.
        unsafe { libc::close(fd) };
        Ok(())
    }
    fn symlink(&self, target: &CStr, link: &CStr) -> io::Result<()> {
        // SAFETY: valid C strings.
        ok_if_exists(check(unsafe {
            libc::symlink(target.as_ptr(), link.as_ptr())
        }))
    }
    fn sethostname(&self, name: &[u8]) -> io::Result<()> {
        // SAFETY: pointer and length of a valid buffer.
        check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) })
    }
    fn loopback_up(&self) -> io::Result<()> {
        // SAFETY: a datagram socket and two ioctls on a zeroed ifreq naming "lo".
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut req: libc::ifreq = std::mem::zeroed();
            req.ifr_name[0] = b'l' as libc::c_char;
            req.ifr_name[1] = b'o' as libc::c_char;
            let mut r = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req);
            if r == 0 {
                req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
                r = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
            }
            let e = io::Error::last_os_error();
            libc::close(fd);
            if r < 0 { Err(e) } else { Ok(()) }
        }
    }
    fn drop_bounding_cap(&self, cap: u32) -> io::Result<()> {
        // SAFETY: prctl with integer arguments.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        match check(r) {
            // Capabilities the running kernel does not know are not in any set.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
            r => r,
        }
    }
    fn no_new_privs(&self) -> io::Result<()> {
        // SAFETY: prctl with integer arguments.
        check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })
    }
    fn setgroups(&self, gids: &[u32]) -> io::Result<()> {
        // SAFETY: pointer and length of a valid gid buffer.
        check(unsafe { libc::setgroups(gids.len(), gids.as_ptr()) })
    }
    fn setgid(&self, gid: u32) -> io::Result<()> {
        // SAFETY: integer arguments.
        check(unsafe { libc::setresgid(gid, gid, gid) })
    }
    fn setuid(&self, uid: u32) -> io::Result<()> {
        // SAFETY: integer arguments.
        check(unsafe { libc::setresuid(uid, uid, uid) })
    }
    fn idmap_mount(&self, source: &CStr, target: &CStr, userns: RawFd) -> io::Result<()> {
        userns::idmap_mount(source, target, userns)
    }
    fn join_userns(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: setns on a descriptor the caller keeps open.
        check(unsafe { libc::setns(fd, libc::CLONE_NEWUSER) })
    }
    fn set_fsids(&self, uid: u32, gid: u32) -> io::Result<()> {
        #[repr(C)]
        struct CapHeader {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct CapData {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        const V3: u32 = 0x2008_0522;
        // SAFETY: setfs[ug]id on integers; capget/capset on local, correctly sized
        // structures (two data words for version 3).
        unsafe {
            libc::setfsgid(gid);
            libc::setfsuid(uid);
            // setfsuid(-1) changes nothing and returns the current value.
            if libc::setfsuid(u32::MAX) as u32 != uid || libc::setfsgid(u32::MAX) as u32 != gid {
                return Err(io::Error::from_raw_os_error(libc::EPERM));
            }
            // Leaving fsuid 0 clears the file capabilities from the effective set: raise
            // them again from the permitted set.
            let mut hdr = CapHeader {
                version: V3,
                pid: 0,
            };
            let mut data = [CapData {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            }; 2];
            check(libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) as libc::c_int)?;
            for d in &mut data {
                d.effective = d.permitted;
            }
            check(libc::syscall(libc::SYS_capset, &hdr, data.as_ptr()) as libc::c_int)
        }
    }
    fn write_file(&self, path: &CStr, data: &[u8]) -> io::Result<()> {
        // SAFETY: open/write/close on a valid C string and buffer.
        unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let r = libc::write(fd, data.as_ptr().cast(), data.len());
            let e = io::Error::last_os_error();
            libc::close(fd);
            if r < 0 { Err(e) } else { Ok(()) }
        }
    }
}

fn cstr(s: impl AsRef<OsStr>) -> Result<CString, RuntimeError> {
    CString::new(s.as_ref().as_bytes()).map_err(|_| RuntimeError::InvalidSpec {
        reason: format!("{:?} contains a NUL byte", s.as_ref()),
    })
}

fn mount_step(
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<Step, RuntimeError> {
    Ok(Step::Mount {
        source: source.map(cstr).transpose()?,
        target: cstr(target)?,
        fstype: fstype.map(cstr).transpose()?,
        flags,
        data: data.map(cstr).transpose()?,
        optional: false,
    })
}

const MS_BIND_REC: libc::c_ulong = libc::MS_BIND | libc::MS_REC;
const MS_RO_REMOUNT: libc::c_ulong =
    libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;

/// Builds the step list for one rootfs mounted at `root` (a host path).
struct Planner {
    root: PathBuf,
    steps: Vec<Step>,
}

impl Planner {
    /// The host path of container path `dest`.
    fn host(&self, dest: &str) -> PathBuf {
        self.root.join(dest.trim_start_matches('/'))
    }

    /// Make `dest` a mount point without following symlinks: every prefix inside the root
    /// is checked (created when missing) first.
    fn mountpoint(&mut self, dest: &str, kind: FileKind) -> Result<CString, RuntimeError> {
        let mut prefixes = Vec::new();
        let mut p = self.root.clone();
        for comp in Path::new(dest).components() {
            if let std::path::Component::Normal(c) = comp {
                p.push(c);
                prefixes.push(cstr(&p)?);
            }
        }
        let target = cstr(self.host(dest))?;
        if !prefixes.is_empty() {
            self.steps.push(Step::SafeMountpoint { prefixes, kind });
        }
        Ok(target)
    }

    // One flat call per mount reads like the mount table it builds.
    #[allow(clippy::too_many_arguments)]
    fn mount(
        &mut self,
        source: Option<&str>,
        dest: &str,
        kind: FileKind,
        fstype: Option<&str>,
        flags: libc::c_ulong,
        data: Option<&str>,
        optional: bool,
    ) -> Result<(), RuntimeError> {
        let target = if optional {
            cstr(self.host(dest))?
        } else {
            self.mountpoint(dest, kind)?
        };
        self.steps.push(Step::Mount {
            source: source.map(cstr).transpose()?,
            target,
            fstype: fstype.map(cstr).transpose()?,
            flags,
            data: data.map(cstr).transpose()?,
            optional,
        });
        Ok(())
    }
}

/// The steps that set up `spec`.
pub fn plan(spec: &ContainerSpec) -> Result<Vec<Step>, RuntimeError> {
    plan_with(spec, &Options::default())
}

/// The steps that set up `spec` with the container options of `strata run`.
pub fn plan_with(spec: &ContainerSpec, opts: &Options) -> Result<Vec<Step>, RuntimeError> {
    let invalid = |reason: &str| RuntimeError::InvalidSpec {
        reason: reason.to_string(),
    };
    if spec.process.args.is_empty() {
        return Err(invalid("the process has no arguments"));
    }
    if !spec.process.cwd.starts_with('/') {
        return Err(invalid("the working directory must be absolute"));
    }
    let mut steps = vec![mount_step(
        None,
        "/",
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )?];
    let root = match &spec.rootfs {
        Rootfs::Overlay {
            lower,
            upper,
            work,
            target,
        } => {
            if lower.is_empty() {
                return Err(invalid("an overlay needs at least one lower directory"));
            }
            for p in lower.iter().chain([upper, work, target]) {
                if p.as_os_str()
                    .as_bytes()
                    .iter()
                    .any(|b| matches!(b, b',' | b':'))
                {
                    return Err(RuntimeError::InvalidSpec {
                        reason: format!("overlay path {} contains ',' or ':'", p.display()),
                    });
                }
            }
            // Lower directories are usually siblings (snapshots/<chainID>): naming them
            // relative to their common parent keeps the option string under the one-page
            // limit of mount(2) for deep layer stacks.
            let parent = lower[0]
                .parent()
                .filter(|p| lower.iter().all(|l| l.parent() == Some(*p)));
            // With a user namespace the overlay is built on idmapped clones of the lower
            // layers' directory and of the directory holding upper and work (one mount
            // for both, as overlayfs requires).
            let mut upper = upper.clone();
            let mut work = work.clone();
            let mut parent = parent.map(Path::to_path_buf);
            if let Some(u) = &opts.userns {
                let (Some(lp), Some(up)) = (
                    parent.clone(),
                    upper.parent().filter(|p| work.parent() == Some(*p)),
                ) else {
                    return Err(invalid(
                        "with a user namespace the lower directories must share one parent, and upper and work another",
                    ));
                };
                let stage = spec.state_dir.join("idmap");
                let (l_at, u_at) = (stage.join("lower"), stage.join("upper"));
                for d in [&l_at, &u_at] {
                    std::fs::create_dir_all(d).map_err(|source| RuntimeError::Write {
                        path: d.clone(),
                        source,
                    })?;
                }
                for (src, at) in [(&lp, &l_at), (&up.to_path_buf(), &u_at)] {
                    steps.push(Step::IdmapMount {
                        source: cstr(src)?,
                        target: cstr(at)?,
                        userns: u.fd,
                    });
                }
                let rebase = |p: &Path| u_at.join(p.file_name().unwrap_or_default());
                upper = rebase(&upper);
                work = rebase(&work);
                parent = Some(l_at);
            }
            let lowers: Vec<String> = match parent {
                Some(_) => lower
                    .iter()
                    .map(|l| {
                        l.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    })
                    .collect(),
                None => lower.iter().map(|l| l.display().to_string()).collect(),
            };
            if let Some(parent) = &parent {
                steps.push(Step::Chdir(cstr(parent)?));
            }
            let data = format!(
                "lowerdir={},upperdir={},workdir={}",
                lowers.join(":"),
                upper.display(),
                work.display()
            );
            if data.len() >= 4000 {
                return Err(invalid("too many lower layers for one overlay mount"));
            }
            // Over idmapped layers, overlayfs must be mounted by the container's root (its
            // work directory and copy-ups are made with the mounter's credentials), and
            // the rest of the setup creates mount points in it as that root too: a file
            // made by host uid 0 has no on-disk owner through the idmapped upper layer
            // (EOVERFLOW). Capabilities stay; `setresuid` later sets the ids for good.
            let mounter = opts
                .userns
                .as_ref()
                .and_then(|u| Some((u.mapping.host_uid(0)?, u.mapping.host_gid(0)?)));
            if let Some((u, g)) = mounter {
                steps.push(Step::SetFsIds(u, g));
            }
            steps.push(Step::Mount {
                source: Some(cstr("overlay")?),
                target: cstr(target)?,
                fstype: Some(cstr("overlay")?),
                flags: 0,
                data: Some(cstr(data)?),
                optional: false,
            });
            target.clone()
        }
        Rootfs::Dir(dir) => {
            steps.push(match &opts.userns {
                Some(u) => Step::IdmapMount {
                    source: cstr(dir)?,
                    target: cstr(dir)?,
                    userns: u.fd,
                },
                None => Step::Mount {
                    source: Some(cstr(dir)?),
                    target: cstr(dir)?,
                    fstype: None,
                    flags: MS_BIND_REC,
                    data: None,
                    optional: false,
                },
            });
            dir.clone()
        }
    };
    let hosts_path = spec.state_dir.join("hosts");
    let hosts = match &opts.hosts {
        Some(h) => h.clone(),
        None => format!(
            "127.0.0.1\tlocalhost {h}\n::1\tlocalhost ip6-localhost ip6-loopback\n",
            h = spec.hostname
        ),
    };
    std::fs::write(&hosts_path, hosts).map_err(|source| RuntimeError::Write {
        path: hosts_path.clone(),
        source,
    })?;
    if let Some(m) = opts.userns.as_ref().map(|u| &u.mapping) {
        // The container's root may rewrite its /etc/hosts, as with Docker.
        std::os::unix::fs::chown(&hosts_path, m.host_uid(0), m.host_gid(0)).map_err(|source| {
            RuntimeError::Write {
                path: hosts_path.clone(),
                source,
            }
        })?;
    }

    // Every mount is made before pivot_root, while host paths are reachable; targets are
    // checked for symlinks so the image cannot redirect a mount onto the host.
    let mut p = Planner { root, steps };
    let nosuid_nodev_noexec = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    use FileKind::{Dir, File};
    // With a user namespace, tmpfs mounts belong to the container's root, and devpts
    // slaves to its `tty` group (gid 5) when those are mapped.
    let mapping = opts.userns.as_ref().map(|u| &u.mapping);
    let tmpfs_owner = match mapping.map(|m| (m.host_uid(0), m.host_gid(0))) {
        Some((Some(u), Some(g))) => format!(",uid={u},gid={g}"),
        _ => String::new(),
    };
    let tty_gid = match mapping {
        Some(m) => m.host_gid(5),
        None => Some(5),
    };
    p.mount(
        Some("proc"),
        "/proc",
        Dir,
        Some("proc"),
        nosuid_nodev_noexec,
        None,
        false,
    )?;
    if opts.userns.is_some() && spec.network == Network::None {
        // The network namespace belongs to the host's user namespace: without this, the
        // container's root could not bind ports below 1024 (see [`userns`]).
        p.steps.push(Step::WriteFile {
            path: cstr(p.host("/proc/sys/net/ipv4/ip_unprivileged_port_start"))?,
            data: cstr("0")?,
        });
    }
    p.mount(
        Some("tmpfs"),
        "/dev",
        Dir,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_STRICTATIME,
        Some(&format!("mode=755,size=65536k{tmpfs_owner}")),
        false,
    )?;
    for d in DEVICES {
        let dest = format!("/dev/{d}");
        p.mount(Some(&dest), &dest, File, None, libc::MS_BIND, None, false)?;
    }
    // runc's links; `/dev/core` only where the host has a /proc/kcore to point at.
    let kcore = Path::new("/proc/kcore").exists();
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
        ("/dev/core", "/proc/kcore"),
        ("/dev/ptmx", "pts/ptmx"),
    ] {
        if link == "/dev/core" && !kcore {
            continue;
        }
        let link = cstr(p.host(link))?;
        p.steps.push(Step::Symlink {
            target: cstr(target)?,
            link,
        });
    }
    p.mount(
        Some("devpts"),
        "/dev/pts",
        Dir,
        Some("devpts"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some(&match tty_gid {
            Some(g) => format!("newinstance,ptmxmode=0666,mode=0620,gid={g}"),
            None => "newinstance,ptmxmode=0666,mode=0620".to_string(),
        }),
        false,
    )?;
    p.mount(
        Some("shm"),
        "/dev/shm",
        Dir,
        Some("tmpfs"),
        nosuid_nodev_noexec,
        Some("mode=1777,size=65536k"),
        false,
    )?;
    if opts.userns.is_none() {
        // POSIX message queues of the container's own IPC namespace, as Docker and
        // BuildKit mount them.
        p.mount(
            Some("mqueue"),
            "/dev/mqueue",
            Dir,
            Some("mqueue"),
            nosuid_nodev_noexec,
            None,
            false,
        )?;
    }
    let sys_ro = if opts.privileged { 0 } else { libc::MS_RDONLY };
    p.mount(
        Some("sysfs"),
        "/sys",
        Dir,
        Some("sysfs"),
        nosuid_nodev_noexec | sys_ro,
        None,
        false,
    )?;
    let (masked_files, masked_dirs, readonly_paths): (&[&str], &[&str], &[&str]) =
        if opts.privileged {
            (&[], &[], &[])
        } else {
            (&MASKED_FILES, &MASKED_DIRS, &READONLY_PATHS)
        };
    for f in masked_files {
        p.mount(Some("/dev/null"), f, File, None, libc::MS_BIND, None, true)?;
    }
    for d in masked_dirs {
        p.mount(
            Some("tmpfs"),
            d,
            Dir,
            Some("tmpfs"),
            libc::MS_RDONLY,
            None,
            true,
        )?;
    }
    for d in readonly_paths {
        let src = p.host(d).display().to_string();
        p.mount(Some(&src), d, Dir, None, MS_BIND_REC, None, true)?;
        p.mount(None, d, Dir, None, MS_RO_REMOUNT, None, true)?;
    }
    let host_resolv = Path::new("/etc/resolv.conf");
    let resolv = opts.resolv_conf.as_deref().unwrap_or(host_resolv);
    if resolv.exists() {
        let src = resolv.display().to_string();
        p.mount(
            Some(&src),
            "/etc/resolv.conf",
            File,
            None,
            libc::MS_BIND,
            None,
            false,
        )?;
    }
    let hosts = hosts_path.display().to_string();
    p.mount(
        Some(&hosts),
        "/etc/hosts",
        File,
        None,
        libc::MS_BIND,
        None,
        false,
    )?;
    if let Some(h) = &opts.hostname_file {
        let src = h.display().to_string();
        p.mount(
            Some(&src),
            "/etc/hostname",
            File,
            None,
            libc::MS_BIND,
            None,
            false,
        )?;
    }
    for m in &spec.mounts {
        match m {
            Mount::Bind {
                source,
                destination,
                readonly,
            } => {
                let kind = if source.is_dir() { Dir } else { File };
                let src = source.display().to_string();
                match &opts.userns {
                    Some(u) if u.idmapped_binds.contains(destination) => {
                        let target = p.mountpoint(destination, kind)?;
                        p.steps.push(Step::IdmapMount {
                            source: cstr(&src)?,
                            target,
                            userns: u.fd,
                        });
                    }
                    _ => p.mount(
                        Some(&src),
                        destination,
                        kind,
                        None,
                        MS_BIND_REC,
                        None,
                        false,
                    )?,
                }
                if *readonly {
                    p.mount(None, destination, kind, None, MS_RO_REMOUNT, None, false)?;
                }
            }
            Mount::Tmpfs { destination } => {
                let owner = tmpfs_owner.trim_start_matches(',');
                p.mount(
                    Some("tmpfs"),
                    destination,
                    Dir,
                    Some("tmpfs"),
                    // Docker's `--tmpfs` defaults: noexec, nosuid, nodev.
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    (!owner.is_empty()).then_some(owner),
                    false,
                )?;
            }
            Mount::TmpfsWith {
                destination,
                options,
            } => {
                let mut options = options.clone();
                // In a user namespace the owner is given in the container's ids: the
                // kernel wants the host's. Without one, the container's root owns it.
                if let Some(m) = mapping {
                    let uid = match options.get("uid").map(str::parse::<u32>) {
                        Some(Ok(u)) => m.host_uid(u),
                        Some(Err(_)) => None,
                        None => m.host_uid(0),
                    };
                    let gid = match options.get("gid").map(str::parse::<u32>) {
                        Some(Ok(g)) => m.host_gid(g),
                        Some(Err(_)) => None,
                        None => m.host_gid(0),
                    };
                    if let Some(u) = uid {
                        options.set("uid", u.to_string());
                    }
                    if let Some(g) = gid {
                        options.set("gid", g.to_string());
                    }
                }
                let target = cstr(p.host(destination))?;
                let mut prefixes = Vec::new();
                let mut at = p.root.clone();
                for comp in Path::new(destination).components() {
                    if let std::path::Component::Normal(c) = comp {
                        at.push(c);
                        prefixes.push(cstr(&at)?);
                    }
                }
                let data = options.data_string();
                p.steps.push(Step::Tmpfs {
                    prefixes,
                    target,
                    flags: options.flags,
                    data: (!data.is_empty()).then(|| cstr(&data)).transpose()?,
                    readonly: options.readonly,
                });
            }
        }
    }
    // Docker cleans the working directory (an image may carry `/a/../b` as written) and
    // creates it when missing.
    let cwd = if opts.create_cwd {
        strata_patterns::clean_path(&spec.process.cwd)
    } else {
        spec.process.cwd.clone()
    };
    if opts.create_cwd && cwd != "/" {
        // Done before pivot_root with the same no-symlink walk as mount points, so it
        // cannot land outside the root.
        p.mountpoint(&cwd, Dir)?;
    }
    let root = cstr(&p.root)?;
    if opts.readonly_rootfs {
        // Per-mount read-only on the root only: the mounts made above stay writable.
        p.steps.push(Step::Mount {
            source: None,
            target: root.clone(),
            fstype: None,
            flags: libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
            data: None,
            optional: false,
        });
    }
    let mut steps = p.steps;
    steps.push(Step::Chdir(root));
    steps.push(Step::PivotRootHere);
    steps.push(Step::SetHostname(cstr(&spec.hostname)?));
    if spec.network == Network::None {
        steps.push(Step::LoopbackUp);
    }
    if let Some(u) = &opts.userns {
        steps.push(Step::JoinUserNs(u.fd));
    }
    if !opts.privileged {
        let keep: &[u32] = opts.capabilities.as_deref().unwrap_or(&DEFAULT_CAPS);
        steps.push(Step::DropCaps(
            (0..=63).filter(|c| !keep.contains(c)).collect(),
        ));
    }
    steps.push(Step::NoNewPrivs);
    steps.push(Step::SetGroups(spec.process.additional_gids.clone()));
    steps.push(Step::SetGid(spec.process.gid));
    steps.push(Step::SetUid(spec.process.uid));
    steps.push(Step::Chdir(cstr(&cwd)?));
    Ok(steps)
}

/// Start the container process. `stdout`/`stderr` are the container's; stdin is empty.
/// The returned child is the waiting first child: its exit status is the process's
/// (a process killed by a signal shows as killed by that signal). The process runs under
/// the default seccomp filter, as a BuildKit RUN does.
pub fn spawn(spec: &ContainerSpec, stdout: Stdio, stderr: Stdio) -> Result<Child, RuntimeError> {
    let steps = plan(spec)?;
    let filter = seccomp::default_filter();
    let mut flags =
        libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
    if spec.network == Network::None {
        flags |= libc::CLONE_NEWNET;
    }
    let mut cmd = Command::new(&spec.process.args[0]);
    cmd.args(&spec.process.args[1..])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    for kv in &spec.process.env {
        match kv.split_once('=') {
            Some((k, v)) => cmd.env(k, v),
            None => cmd.env(kv, ""),
        };
    }
    // SAFETY: the closure runs in the forked child and only makes raw system calls on
    // buffers allocated before the fork (see the module docs).
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            check(libc::unshare(flags))?;
            let pid = libc::fork();
            if pid < 0 {
                return Err(io::Error::last_os_error());
            }
            if pid == 0 {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                execute(&steps, &LinuxSyscall)?;
                return finish_process(None, Some(&filter));
            }
            // The first child: hold no descriptor (the parent waits for EOF on its
            // exec-status pipe and on the output pipes), wait, and mirror the status.
            close_and_mirror(pid);
        });
    }
    cmd.spawn().map_err(|source| RuntimeError::Spawn {
        program: spec.process.args[0].clone(),
        source,
    })
}

/// What `strata run` adds to a [`ContainerSpec`] (kept apart so the spec stays as `RUN`
/// builds it). The default changes nothing: [`plan`] is [`plan_with`] the default.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Join this network namespace (an open descriptor the caller keeps) instead of the one
    /// `spec.network` chooses; set `spec.network` to [`Network::None`] so loopback comes up
    /// and the host's resolver file is not mounted.
    pub netns: Option<RawFd>,
    /// Capabilities kept in the bounding set (default: [`DEFAULT_CAPS`]).
    pub capabilities: Option<Vec<u32>>,
    /// `--privileged`: every capability, no masked or read-only `/proc` paths, writable
    /// `/sys`, no seccomp filter.
    pub privileged: bool,
    /// Remount the root read-only after every other mount is made.
    pub readonly_rootfs: bool,
    /// Install the default seccomp filter ([`seccomp::default_filter`]).
    pub seccomp: bool,
    /// Run a minimal init as pid 1 that forwards signals and reaps zombies.
    pub init: bool,
    /// Content of the container's `/etc/hosts` (default: localhost, and the hostname on the
    /// IPv4 line only, as in BuildKit's RUN).
    pub hosts: Option<String>,
    /// A file to mount at `/etc/resolv.conf` (default: the host's).
    pub resolv_conf: Option<PathBuf>,
    /// A file to mount at `/etc/hostname`.
    pub hostname_file: Option<PathBuf>,
    /// Create the working directory when the image lacks it, as Docker does.
    pub create_cwd: bool,
    /// `cgroup.procs` files the container joins before any of its processes run.
    pub cgroup_procs: Vec<PathBuf>,
    /// Give the process a terminal allocated on the container's own devpts (`-t`): see
    /// [`console`]. The master is sent over `console.socket`.
    pub console: Option<console::Console>,
    /// Run in a user namespace with idmapped mounts ([`userns`]).
    pub userns: Option<UserNsOptions>,
}

/// A user namespace for [`Options::userns`].
#[derive(Debug, Clone)]
pub struct UserNsOptions {
    /// The namespace ([`userns::create`]), kept open by the caller.
    pub fd: RawFd,
    /// Its mapping (for tmpfs owners and the devpts group).
    pub mapping: userns::Mapping,
    /// Destinations of [`Mount::Bind`]s mounted idmapped too (volumes, which Strata owns
    /// and keeps owned by on-disk root); other binds show the host's ownership.
    pub idmapped_binds: Vec<String>,
}

/// The standard streams of a container process.
#[derive(Debug)]
pub struct Stdio3 {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

/// A started container: `child` is the waiting first child (its exit status is the
/// process's), `pid` the host pid of the container's pid 1 (for signals and `exec`).
#[derive(Debug)]
pub struct Started {
    pub child: Child,
    pub pid: i32,
}

fn cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Write "0" (the writing process) into each pre-opened `cgroup.procs` file.
fn join_cgroups(fds: &[RawFd]) -> io::Result<()> {
    for fd in fds {
        // SAFETY: a valid descriptor and a static buffer.
        let r = unsafe { libc::write(*fd, b"0".as_ptr().cast(), 1) };
        if r < 0 {
            let write = |b: &[u8]| {
                // SAFETY: writing a valid buffer to fd 2 (best effort).
                unsafe { libc::write(2, b.as_ptr().cast(), b.len()) };
            };
            write(b"strata-runtime: container setup failed: join cgroup\n");
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Empty this thread's signal mask. The caller (the monitor, `exec`) blocks the signals
/// it waits for synchronously, and a forked child inherits the mask across `exec`: without
/// this the container's processes would start with `SIGINT`, `SIGHUP` and `SIGWINCH`
/// blocked, and Ctrl-C on their terminal would do nothing.
pub(crate) fn unblock_all_signals() {
    // SAFETY: signal-mask calls on a local set (async-signal-safe).
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

unsafe extern "C" {
    /// The C library's environment, which `execvp` passes on and searches PATH in.
    static mut environ: *const *const libc::c_char;
}

/// A process environment in its given order. `std::process::Command` keeps variables
/// sorted by name; Docker's processes see them in the order they were configured (PATH,
/// HOSTNAME, …, HOME), which `env` shows. Made before the fork, installed in the child.
pub(crate) struct OrderedEnv {
    _vars: Vec<CString>,
    /// Addresses of `_vars`' strings, then 0 (`usize` so the closure holding it is `Send`).
    ptrs: Vec<usize>,
}

impl OrderedEnv {
    pub(crate) fn new(env: &[String]) -> Result<OrderedEnv, RuntimeError> {
        let vars: Vec<CString> = env.iter().map(cstr).collect::<Result<_, _>>()?;
        let mut ptrs: Vec<usize> = vars.iter().map(|v| v.as_ptr() as usize).collect();
        ptrs.push(0);
        Ok(OrderedEnv { _vars: vars, ptrs })
    }

    /// Make this the environment the coming `execvp` uses (and looks PATH up in); the
    /// `Command` must have been given no environment of its own.
    ///
    /// # Safety
    /// Only in a forked child about to exec: the pointer outlives nothing else.
    pub(crate) unsafe fn install(&self) {
        // SAFETY: the strings live as long as `self`, which the closure keeps until exec.
        unsafe { environ = self.ptrs.as_ptr().cast() };
    }
}

/// The steps of the final process after the shared setup: its terminal, then the seccomp
/// filter (last, so setup itself is not filtered).
fn finish_process(
    console: Option<&console::Console>,
    filter: Option<&seccomp::Filter>,
) -> io::Result<()> {
    if let Some(c) = console {
        console::attach_in_child(c)?;
    }
    if let Some(f) = filter {
        f.install()?;
    }
    Ok(())
}

/// The first child after its fork: hold no descriptor of the caller's (the parent waits for
/// EOF on its pipes), wait for `pid`, and exit as it did — re-raising a fatal signal so the
/// parent sees the same status. Exits 125 when waiting fails. Never returns.
///
/// # Safety
/// Runs in a forked child; only raw system calls.
unsafe fn close_and_mirror(pid: libc::pid_t) -> ! {
    // SAFETY: (whole body) raw system calls on integers and a local status word.
    unsafe {
        let status = close_and_wait(pid);
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0);
            libc::signal(sig, libc::SIG_DFL);
            libc::kill(libc::getpid(), sig);
            libc::_exit(128 + sig);
        }
        libc::_exit(libc::WEXITSTATUS(status))
    }
}

/// Close every descriptor above stderr, then wait for `pid` (retrying on `EINTR`) and return
/// its wait status; exits 125 when waiting fails.
///
/// # Safety
/// Runs in a forked child; only raw system calls.
pub(crate) unsafe fn close_and_wait(pid: libc::pid_t) -> libc::c_int {
    // SAFETY: (whole body) raw system calls on integers and a local status word.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        let mut status = 0;
        loop {
            let r = libc::waitpid(pid, &mut status, 0);
            if r == pid {
                return status;
            }
            if r < 0 && *libc::__errno_location() != libc::EINTR {
                libc::_exit(125);
            }
        }
    }
}

/// Pid 1 with `--init`: forward every catchable signal to `child`, reap everything, and
/// exit with `child`'s status (128 + signal when it was killed). Never returns.
///
/// # Safety
/// Runs in a forked child; only raw system calls.
unsafe fn init_loop(child: libc::pid_t, all: &libc::sigset_t) -> ! {
    // SAFETY: (whole body) raw system calls on valid local buffers.
    unsafe {
        loop {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let sig = libc::sigwaitinfo(all, &mut info);
            if sig == libc::SIGCHLD {
                loop {
                    let mut st = 0;
                    let r = libc::waitpid(-1, &mut st, libc::WNOHANG);
                    if r <= 0 {
                        break;
                    }
                    if r == child {
                        if libc::WIFSIGNALED(st) {
                            libc::_exit(128 + libc::WTERMSIG(st));
                        }
                        libc::_exit(libc::WEXITSTATUS(st));
                    }
                }
            } else if sig > 0 {
                libc::kill(child, sig);
            }
        }
    }
}

/// Start a container with `opts` (see [`Options`]); like [`spawn`] otherwise.
pub fn spawn_with(
    spec: &ContainerSpec,
    opts: &Options,
    stdio: Stdio3,
) -> Result<Started, RuntimeError> {
    let steps = plan_with(spec, opts)?;
    let program = spec.process.args[0].clone();
    let fail = |source: io::Error| RuntimeError::Spawn {
        program: program.clone(),
        source,
    };
    let mut flags =
        libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
    if spec.network == Network::None && opts.netns.is_none() {
        flags |= libc::CLONE_NEWNET;
    }
    let netns = opts.netns.unwrap_or(-1);
    let mut cgroup_files = Vec::new();
    for p in &opts.cgroup_procs {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .map_err(|source| RuntimeError::Write {
                path: p.clone(),
                source,
            })?;
        cgroup_files.push(f);
    }
    let cgroup_fds: Vec<RawFd> = cgroup_files.iter().map(|f| f.as_raw_fd()).collect();
    let filter = (opts.seccomp && !opts.privileged).then(seccomp::default_filter);
    let (init, console) = (opts.init, opts.console);
    let (pid_read, pid_write) = cloexec_pipe().map_err(fail)?;
    let pid_write_fd = pid_write.as_raw_fd();
    let ordered_env = OrderedEnv::new(&spec.process.env)?;

    // No environment is given to `Command`: it would pass its sorted copy; the child
    // installs `ordered_env` instead.
    let mut cmd = Command::new(&spec.process.args[0]);
    cmd.args(&spec.process.args[1..])
        .stdin(stdio.stdin)
        .stdout(stdio.stdout)
        .stderr(stdio.stderr);
    // SAFETY: the closure runs in the forked child and only makes raw system calls on
    // buffers allocated before the fork (see the module docs).
    unsafe {
        cmd.pre_exec(move || {
            ordered_env.install();
            unblock_all_signals();
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            join_cgroups(&cgroup_fds)?;
            if netns >= 0 {
                check(libc::setns(netns, libc::CLONE_NEWNET))?;
            }
            check(libc::unshare(flags))?;
            let pid = libc::fork();
            if pid < 0 {
                return Err(io::Error::last_os_error());
            }
            if pid == 0 {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                execute(&steps, &LinuxSyscall)?;
                if !init {
                    return finish_process(console.as_ref(), filter.as_ref());
                }
                // Pid 1 is a small init; the command runs as its child.
                let mut all: libc::sigset_t = std::mem::zeroed();
                libc::sigfillset(&mut all);
                libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
                let child = libc::fork();
                if child < 0 {
                    return Err(io::Error::last_os_error());
                }
                if child == 0 {
                    let mut none: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut none);
                    libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                    return finish_process(console.as_ref(), filter.as_ref());
                }
                // Hold no descriptor of the caller's (status pipes, locks).
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
                init_loop(child, &all);
            }
            // The first child: report pid 1's host pid, hold no descriptor, wait, mirror.
            let bytes = pid.to_ne_bytes();
            libc::write(pid_write_fd, bytes.as_ptr().cast(), bytes.len());
            close_and_mirror(pid);
        });
    }
    let child = cmd.spawn().map_err(fail)?;
    drop(cgroup_files);
    drop(pid_write);
    let mut buf = [0u8; 4];
    let mut r = std::fs::File::from(pid_read);
    use std::io::Read as _;
    let pid = match r.read_exact(&mut buf) {
        Ok(()) => i32::from_ne_bytes(buf),
        Err(source) => return Err(fail(source)),
    };
    Ok(Started { child, pid })
}

/// After a run over an overlay: remove from `upper` the empty stubs created for
/// [`MOUNT_POINTS`] that `exists_below` says the lower layers do not have, and parent
/// directories copied up only to hold such a stub. Returns the removed container paths.
pub fn remove_mount_stubs(upper: &Path, exists_below: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut removed = Vec::new();
    for mp in MOUNT_POINTS {
        if exists_below(mp) {
            continue;
        }
        let host = upper.join(mp.trim_start_matches('/'));
        let Ok(meta) = std::fs::symlink_metadata(&host) else {
            continue;
        };
        let gone = if meta.is_dir() {
            std::fs::remove_dir(&host).is_ok()
        } else if meta.is_file() && meta.len() == 0 {
            std::fs::remove_file(&host).is_ok()
        } else {
            false
        };
        if gone {
            removed.push(mp.to_string());
            // `/etc` copied up only to hold the stub: drop it if now empty and present below
            // (its only change was the stub's entry).
            if let Some(parent) = Path::new(mp).parent().filter(|p| *p != Path::new("/")) {
                let p = parent.to_string_lossy();
                let host_parent = upper.join(p.trim_start_matches('/'));
                let opaque = xattr_opaque(&host_parent);
                if exists_below(&p)
                    && !opaque
                    && std::fs::read_dir(&host_parent).is_ok_and(|mut d| d.next().is_none())
                    && std::fs::remove_dir(&host_parent).is_ok()
                {
                    removed.push(p.into_owned());
                }
            }
        }
    }
    removed
}

fn xattr_opaque(path: &Path) -> bool {
    let Ok(p) = cstr(path) else { return false };
    let mut buf = [0u8; 4];
    // SAFETY: valid C strings and buffer.
    let n = unsafe {
        libc::lgetxattr(
            p.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    n > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Records every call by name and first path.
    #[derive(Default)]
    struct Recorder {
        calls: RefCell<Vec<String>>,
        fail_on: Option<&'static str>,
        links: Vec<String>,
        /// Paths that exist as directories (everything else is missing).
        dirs: Vec<String>,
    }

    impl Recorder {
        fn rec(&self, what: &str, path: &CStr) -> io::Result<()> {
            let entry = format!("{what} {}", path.to_string_lossy());
            self.calls.borrow_mut().push(entry.clone());
            match self.fail_on {
                Some(f) if entry.starts_with(f) => Err(io::Error::from_raw_os_error(libc::EPERM)),
                _ => Ok(()),
            }
        }
    }

    impl Syscall for Recorder {
        fn mount(
            &self,
            _: Option<&CStr>,
            target: &CStr,
            fstype: Option<&CStr>,
            _: libc::c_ulong,
            _: Option<&CStr>,
        ) -> io::Result<()> {
            let what = format!(
                "mount:{}",
                fstype.map_or("bind".into(), |f| f.to_string_lossy())
            );
            self.rec(&what, target)
        }
        fn umount_detach(&self, t: &CStr) -> io::Result<()> {
            self.rec("umount", t)
        }
        fn stat_mode(&self, _: &CStr) -> io::Result<u32> {
            Ok(0o750)
        }
        fn chmod(&self, p: &CStr, mode: u32) -> io::Result<()> {
            self.rec(&format!("chmod:{mode:o}"), p)
        }
        fn lstat_kind(&self, p: &CStr) -> io::Result<Option<Kind>> {
            let p = p.to_string_lossy().into_owned();
            Ok(if self.links.contains(&p) {
                Some(Kind::Symlink)
            } else {
                self.dirs.contains(&p).then_some(Kind::Dir)
            })
        }
        fn pivot_root(&self, n: &CStr, _: &CStr) -> io::Result<()> {
            self.rec("pivot_root", n)
        }
        fn chdir(&self, p: &CStr) -> io::Result<()> {
            self.rec("chdir", p)
        }
        fn mkdir(&self, p: &CStr, _: u32) -> io::Result<()> {
            self.rec("mkdir", p)
        }
        fn create_file(&self, p: &CStr) -> io::Result<()> {
            self.rec("create", p)
        }
        fn symlink(&self, _: &CStr, l: &CStr) -> io::Result<()> {
            self.rec("symlink", l)
        }
        fn sethostname(&self, _: &[u8]) -> io::Result<()> {
            self.rec("sethostname", c"")
        }
        fn loopback_up(&self) -> io::Result<()> {
            self.rec("loopback", c"")
        }
        fn drop_bounding_cap(&self, _: u32) -> io::Result<()> {
            Ok(())
        }
        fn no_new_privs(&self) -> io::Result<()> {
            self.rec("nnp", c"")
        }
        fn setgroups(&self, _: &[u32]) -> io::Result<()> {
            self.rec("setgroups", c"")
        }
        fn setgid(&self, _: u32) -> io::Result<()> {
            self.rec("setgid", c"")
        }
        fn setuid(&self, _: u32) -> io::Result<()> {
            self.rec("setuid", c"")
        }
        fn idmap_mount(&self, _: &CStr, t: &CStr, _: RawFd) -> io::Result<()> {
            self.rec("idmap", t)
        }
        fn join_userns(&self, _: RawFd) -> io::Result<()> {
            self.rec("userns", c"")
        }
        fn write_file(&self, p: &CStr, _: &[u8]) -> io::Result<()> {
            self.rec("write", p)
        }
        fn set_fsids(&self, _: u32, _: u32) -> io::Result<()> {
            self.rec("fsids", c"")
        }
    }

    fn spec(state: &Path, network: Network) -> ContainerSpec {
        ContainerSpec {
            rootfs: Rootfs::Overlay {
                lower: vec!["/s/snapshots/b".into(), "/s/snapshots/a".into()],
                upper: "/s/up/u".into(),
                work: "/s/up/w".into(),
                target: "/s/up/m".into(),
            },
            process: ProcessSpec {
                args: vec!["/bin/sh".into(), "-c".into(), "true".into()],
                env: vec!["PATH=/bin".into()],
                cwd: "/work".into(),
                uid: 1000,
                gid: 1000,
                additional_gids: vec![],
            },
            hostname: "strata".into(),
            network,
            mounts: vec![Mount::Tmpfs {
                destination: "/cache".into(),
            }],
            state_dir: state.to_path_buf(),
        }
    }

    #[test]
    fn plan_orders_mounts_pivot_and_identity() {
        let dir = tempfile::tempdir().unwrap();
        let steps = plan(&spec(dir.path(), Network::Host)).unwrap();
        let rec = Recorder::default();
        execute(&steps, &rec).unwrap();
        let calls = rec.calls.into_inner();
        let pos = |p: &str| calls.iter().position(|c| c.starts_with(p)).unwrap();
        assert_eq!(calls[0], "mount:bind /");
        // Lower dirs named relative to their common parent.
        assert!(calls.contains(&"chdir /s/snapshots".to_string()));
        assert!(pos("mount:overlay /s/up/m") < pos("mount:proc /s/up/m/proc"));
        assert!(pos("mount:tmpfs /s/up/m/dev") < pos("mount:bind /s/up/m/dev/null"));
        assert!(pos("mount:tmpfs /s/up/m/cache") < pos("pivot_root"));
        assert!(pos("pivot_root") < pos("setuid"));
        assert!(pos("setgid") < pos("setuid"));
        assert_eq!(calls.last().unwrap(), "chdir /work");
        assert!(!calls.iter().any(|c| c.starts_with("loopback")));
        match &steps[2] {
            Step::Mount { data: Some(d), .. } => {
                assert_eq!(
                    d.to_str().unwrap(),
                    "lowerdir=b:a,upperdir=/s/up/u,workdir=/s/up/w"
                )
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn tmpfs_options_and_the_covered_directory_mode() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(dir.path(), Network::Host);
        s.mounts = vec![
            Mount::TmpfsWith {
                destination: "/etc".into(),
                options: tmpfs::parse("exec,mode=1777,size=1m,ro").unwrap(),
            },
            Mount::TmpfsWith {
                destination: "/new".into(),
                options: tmpfs::parse("mode=700").unwrap(),
            },
        ];
        let steps = plan(&s).unwrap();
        let etc = steps
            .iter()
            .find(|st| matches!(st, Step::Tmpfs { target, .. } if target.as_bytes() == b"/s/up/m/etc"))
            .unwrap();
        match etc {
            Step::Tmpfs {
                flags,
                data,
                readonly,
                ..
            } => {
                assert_eq!(*flags, libc::MS_NOSUID | libc::MS_NODEV);
                assert_eq!(data.as_deref(), Some(c"mode=1777,size=1m"));
                assert!(*readonly);
            }
            _ => unreachable!(),
        }
        // /etc exists: its mode is put back after the mount, then it is made read-only;
        // /new does not: created, mounted with mode=700, not chmodded.
        let rec = Recorder {
            dirs: vec!["/s/up/m/etc".into()],
            ..Recorder::default()
        };
        execute(&steps, &rec).unwrap();
        let calls = rec.calls.into_inner();
        let pos = |p: &str| calls.iter().position(|c| c == p).unwrap_or(usize::MAX);
        assert!(pos("mount:tmpfs /s/up/m/etc") < pos("chmod:750 /s/up/m/etc"));
        assert!(pos("chmod:750 /s/up/m/etc") < pos("mount:bind /s/up/m/etc"));
        assert!(pos("mkdir /s/up/m/new") < pos("mount:tmpfs /s/up/m/new"));
        assert!(!calls.iter().any(|c| c == "chmod:750 /s/up/m/new"));
        assert!(pos("mount:bind /s/up/m/etc") < pos("pivot_root ."));
    }

    #[test]
    fn network_none_brings_loopback_up() {
        let dir = tempfile::tempdir().unwrap();
        let steps = plan(&spec(dir.path(), Network::None)).unwrap();
        assert!(steps.contains(&Step::LoopbackUp));
        assert!(!steps.iter().any(
            |s| matches!(s, Step::Mount { target, .. } if target.as_bytes() == b"/etc/resolv.conf")
        ));
    }

    #[test]
    fn symlinked_mount_points_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let steps = plan(&spec(dir.path(), Network::Host)).unwrap();
        let rec = Recorder {
            links: vec!["/s/up/m/etc".into()],
            ..Recorder::default()
        };
        let err = execute(&steps, &rec).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
        assert!(
            !rec.calls
                .into_inner()
                .iter()
                .any(|c| c.contains("/etc/hosts"))
        );
    }

    #[test]
    fn execution_stops_at_the_first_failure() {
        let dir = tempfile::tempdir().unwrap();
        let steps = plan(&spec(dir.path(), Network::Host)).unwrap();
        let rec = Recorder {
            fail_on: Some("pivot_root"),
            ..Recorder::default()
        };
        assert!(execute(&steps, &rec).is_err());
        assert_eq!(rec.calls.into_inner().last().unwrap(), "pivot_root .");
    }

    #[test]
    fn bad_specs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(dir.path(), Network::Host);
        s.process.cwd = "relative".into();
        assert!(matches!(plan(&s), Err(RuntimeError::InvalidSpec { .. })));
        let mut s = spec(dir.path(), Network::Host);
        s.rootfs = Rootfs::Overlay {
            lower: vec!["/a:b".into()],
            upper: "/u".into(),
            work: "/w".into(),
            target: "/t".into(),
        };
        assert!(matches!(plan(&s), Err(RuntimeError::InvalidSpec { .. })));
    }

    #[test]
    fn stubs_are_removed_only_when_absent_below() {
        let dir = tempfile::tempdir().unwrap();
        let up = dir.path();
        std::fs::create_dir_all(up.join("etc")).unwrap();
        std::fs::write(up.join("etc/resolv.conf"), "").unwrap();
        std::fs::write(up.join("etc/hosts"), "").unwrap();
        std::fs::create_dir(up.join("proc")).unwrap();
        let below = |p: &str| p == "/etc" || p == "/etc/hosts";
        let removed = remove_mount_stubs(up, &below);
        assert_eq!(
            removed,
            vec!["/proc".to_string(), "/etc/resolv.conf".to_string()]
        );
        assert!(up.join("etc/hosts").exists());
    }
}
