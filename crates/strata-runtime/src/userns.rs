//! User-namespace remapping (`--userns=auto`, `--uidmap`, `--gidmap`): root in the container
//! is an unprivileged id range on the host.
//!
//! ## Model
//! The monitor creates the user namespace up front ([`create`]: a helper child `unshare`s
//! it, the monitor — root in the parent namespace — writes its `uid_map`/`gid_map`, keeps
//! `/proc/<child>/ns/user` open and lets the child go) and holds it by descriptor. That
//! one namespace serves twice:
//!
//! 1. **Idmapped mounts.** The container's filesystem stays owned by host root on disk
//!    (layers are shared by every container and image; `commit` and `diff` read the upper
//!    directory as it is). Before the overlay is mounted, the snapshot directory holding the
//!    lower layers and the container directory holding `upper/` and `work/` are cloned
//!    with `open_tree(OPEN_TREE_CLONE)`, given the namespace's mapping with
//!    `mount_setattr(MOUNT_ATTR_IDMAP)` and attached under `run/idmap/` inside the
//!    container's mount namespace; the overlay is built on those (overlayfs on idmapped
//!    layers, Linux 5.19+). On-disk uid 0 then reads as the mapped host uid (container
//!    root), and what the container writes lands in `upper/` owned by on-disk 0 again.
//!    Volumes are mounted the same way; host bind mounts (`-v /host:/ctr`) are not, so the
//!    host sees the mapped ids there, as with Docker's and Podman's remapping.
//! 2. **The container's credentials.** Every mount, `pivot_root`, the host name and the
//!    loopback are set up as host root (the mount, pid, ipc, uts and net namespaces belong
//!    to the initial user namespace, so the container cannot change its mounts even with
//!    `CAP_SYS_ADMIN` in its own namespace); then the process `setns`es into the user
//!    namespace, drops its bounding set and takes its uid/gid there. `exec` joins it last,
//!    after the mount namespace.
//!
//! Because the network namespace belongs to the host's user namespace, binding ports below
//! 1024 would need a host capability: with a network namespace of its own (bridge, none)
//! the container gets `net.ipv4.ip_unprivileged_port_start=0` in it, as rootless
//! runtimes do. With `--network host` it stays the host's setting.
//!
//! [`check_idmap`] probes idmapped-mount support on a directory before a start, so an
//! old kernel or a filesystem without it is named in a clear error rather than a failed
//! mount inside the container.

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read as _};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One line of a `uid_map`/`gid_map`: `size` ids from `container` map to `host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    #[serde(rename = "ContainerID")]
    pub container: u32,
    #[serde(rename = "HostID")]
    pub host: u32,
    #[serde(rename = "Size")]
    pub size: u32,
}

/// The range used by `--userns=auto` when `/etc/subuid` (`/etc/subgid`) has no entry for
/// root: container ids 0–65535 are host ids 100000–165535.
pub const DEFAULT_RANGE: IdMap = IdMap {
    container: 0,
    host: 100_000,
    size: 65_536,
};

/// Errors of user-namespace setup.
#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    #[error("invalid id mapping {spec:?}: {reason} (expected CONTAINER_ID:HOST_ID:AMOUNT)")]
    InvalidMap { spec: String, reason: String },
    #[error("failed to create a user namespace")]
    Create {
        #[source]
        source: io::Error,
    },
    #[error("failed to write {path}")]
    WriteMap {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "--userns needs idmapped mounts (mount_setattr with MOUNT_ATTR_IDMAP, Linux 5.12+, and a filesystem that supports them) for {path}, which this kernel refused"
    )]
    NoIdmap {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The id mappings of a container's user namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    #[serde(rename = "UIDMap")]
    pub uid_map: Vec<IdMap>,
    #[serde(rename = "GIDMap")]
    pub gid_map: Vec<IdMap>,
}

fn map_host(maps: &[IdMap], id: u32) -> Option<u32> {
    maps.iter().find_map(|m| {
        let off = id.checked_sub(m.container)?;
        (off < m.size).then(|| m.host + off)
    })
}

fn map_text(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container, m.host, m.size))
        .collect()
}

impl Mapping {
    /// The host uid of container uid `uid`, when it is mapped.
    pub fn host_uid(&self, uid: u32) -> Option<u32> {
        map_host(&self.uid_map, uid)
    }
    /// The host gid of container gid `gid`, when it is mapped.
    pub fn host_gid(&self, gid: u32) -> Option<u32> {
        map_host(&self.gid_map, gid)
    }
}

/// Parse Podman's `--uidmap`/`--gidmap` value `CONTAINER_ID:HOST_ID:AMOUNT`.
pub fn parse_map(spec: &str) -> Result<IdMap, UsernsError> {
    let bad = |reason: &str| UsernsError::InvalidMap {
        spec: spec.to_string(),
        reason: reason.to_string(),
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let [c, h, n] = parts.as_slice() else {
        return Err(bad("three fields are needed"));
    };
    let num = |s: &str| s.trim().parse::<u32>().map_err(|_| bad("not a number"));
    let m = IdMap {
        container: num(c)?,
        host: num(h)?,
        size: num(n)?,
    };
    if m.size == 0 {
        return Err(bad("the amount must be positive"));
    }
    if m.container.checked_add(m.size - 1).is_none() || m.host.checked_add(m.size - 1).is_none() {
        return Err(bad("the range exceeds 2^32"));
    }
    Ok(m)
}

/// Check a list of mappings the way the kernel will (at most 340 lines, no two container or
/// host ranges overlapping), with an error naming `what` (`--uidmap`).
pub fn validate(maps: &[IdMap], what: &str) -> Result<(), UsernsError> {
    let bad = |reason: String| UsernsError::InvalidMap {
        spec: what.to_string(),
        reason,
    };
    if maps.len() > 340 {
        return Err(bad("at most 340 ranges".into()));
    }
    for (i, a) in maps.iter().enumerate() {
        for b in &maps[i + 1..] {
            // In u64: a range may end at 2^32.
            let overlap = |x: u32, y: u32| {
                let (x, y) = (u64::from(x), u64::from(y));
                x < y + u64::from(b.size) && y < x + u64::from(a.size)
            };
            if overlap(a.container, b.container) || overlap(a.host, b.host) {
                return Err(bad(format!(
                    "ranges {}:{}:{} and {}:{}:{} overlap",
                    a.container, a.host, a.size, b.container, b.host, b.size
                )));
            }
        }
    }
    Ok(())
}

/// `--userns=auto`'s range for container ids 0.. from a subordinate-id file's text
/// (`/etc/subuid` format, `name:start:count` lines): root's first entry (by name `root` or
/// uid `0`), at most 65536 ids; [`DEFAULT_RANGE`] when there is none.
pub fn auto_range(subid_text: Option<&str>) -> IdMap {
    let entry = subid_text.and_then(|t| {
        t.lines().find_map(|l| {
            let f: Vec<&str> = l.trim().split(':').collect();
            match f.as_slice() {
                [name, start, count] if *name == "root" || *name == "0" => {
                    let (start, count) = (start.parse::<u32>().ok()?, count.parse::<u32>().ok()?);
                    (count > 0 && start > 0).then_some((start, count))
                }
                _ => None,
            }
        })
    });
    match entry {
        Some((start, count)) => IdMap {
            container: 0,
            host: start,
            size: count.min(65_536),
        },
        None => DEFAULT_RANGE,
    }
}

/// `--userns=auto` from this host's `/etc/subuid` and `/etc/subgid`.
pub fn auto_mapping() -> Mapping {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    Mapping {
        uid_map: vec![auto_range(read("/etc/subuid").as_deref())],
        gid_map: vec![auto_range(read("/etc/subgid").as_deref())],
    }
}

/// Run `f` on this thread acting on files as the container's root (`mapping`'s host ids
/// for container uid and gid 0), capabilities kept, then act as our own ids again. Files
/// made through a running container's root (`cp` into it) then get on-disk root
/// ownership in its idmapped layers: our own uid 0 has no mapping there (`EOVERFLOW`).
/// The filesystem ids and capabilities are per thread, so other threads are unaffected.
pub fn as_container_root<T>(mapping: &Mapping, f: impl FnOnce() -> T) -> io::Result<T> {
    use crate::Syscall as _;
    let (Some(uid), Some(gid)) = (mapping.host_uid(0), mapping.host_gid(0)) else {
        return Err(io::Error::other(
            "container root (uid and gid 0) is not mapped in the user namespace",
        ));
    };
    let sys = crate::LinuxSyscall;
    sys.set_fsids(uid, gid)?;
    let out = f();
    // SAFETY: geteuid/getegid have no preconditions.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    sys.set_fsids(euid, egid)?;
    Ok(out)
}

/// Create a user namespace with `mapping` and return a descriptor holding it.
pub fn create(mapping: &Mapping) -> Result<OwnedFd, UsernsError> {
    let create_err = |source: io::Error| UsernsError::Create { source };
    let (ready_r, ready_w) = crate::cloexec_pipe().map_err(create_err)?;
    let (done_r, done_w) = crate::cloexec_pipe().map_err(create_err)?;
    let (ready_w_fd, done_r_fd) = (ready_w.as_raw_fd(), done_r.as_raw_fd());
    let done_w_fd = done_w.as_raw_fd();
    // SAFETY: the child makes raw system calls only (unshare, write, read, _exit), which
    // is what is safe after forking a multithreaded process.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(create_err(io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: raw system calls on inherited descriptors and a local buffer.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            // Our copy of the parent's end, or the read below never sees EOF.
            libc::close(done_w_fd);
            let ok: &[u8] = if libc::unshare(libc::CLONE_NEWUSER) == 0 {
                b"k"
            } else {
                b"e"
            };
            libc::write(ready_w_fd, ok.as_ptr().cast(), 1);
            // Wait until the parent has the namespace (EOF when it closes its end).
            let mut b = [0u8; 1];
            libc::read(done_r_fd, b.as_mut_ptr().cast(), 1);
            libc::_exit(0);
        }
    }
    drop(ready_w);
    drop(done_r);
    let result = (|| {
        let mut b = [0u8; 1];
        File::from(ready_r).read_exact(&mut b).map_err(create_err)?;
        if b[0] != b'k' {
            return Err(create_err(io::Error::other(
                "unshare(CLONE_NEWUSER) failed in the helper process",
            )));
        }
        for (file, maps) in [("uid_map", &mapping.uid_map), ("gid_map", &mapping.gid_map)] {
            let path = PathBuf::from(format!("/proc/{pid}/{file}"));
            std::fs::write(&path, map_text(maps))
                .map_err(|source| UsernsError::WriteMap { path, source })?;
        }
        File::open(format!("/proc/{pid}/ns/user"))
            .map(OwnedFd::from)
            .map_err(create_err)
    })();
    drop(done_w);
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    result
}

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

/// A detached clone of the mount at `source`, idmapped with `userns`'s mapping. Raw system
/// calls only (runs in the container's setup after fork).
fn idmapped_clone(source: &CStr, userns: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: raw system calls with valid C strings and a local attribute struct; the
    // returned descriptor is ours.
    unsafe {
        let fd = libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            source.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        ) as RawFd;
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_IDMAP,
            attr_clr: 0,
            propagation: 0,
            userns_fd: userns as u64,
        };
        let r = libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        );
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(fd)
    }
}

/// Mount an idmapped clone of `source` on `target`.
pub(crate) fn idmap_mount(source: &CStr, target: &CStr, userns: RawFd) -> io::Result<()> {
    let fd = idmapped_clone(source, userns)?;
    // SAFETY: move_mount of our detached mount onto a valid path.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether this kernel can make an idmapped mount of `dir` with `userns` (the clone is
/// made and dropped, never attached).
pub fn check_idmap(dir: &Path, userns: RawFd) -> Result<(), UsernsError> {
    let no = |source: io::Error| UsernsError::NoIdmap {
        path: dir.to_path_buf(),
        source,
    };
    let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(dir.as_os_str()))
        .map_err(|_| no(io::Error::from_raw_os_error(libc::EINVAL)))?;
    idmapped_clone(&c, userns).map(drop).map_err(no)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_parse_validate_and_translate() {
        let m = parse_map("0:100000:65536").unwrap();
        assert_eq!(m, DEFAULT_RANGE);
        for bad in ["0:1", "a:1:2", "0:1:0", "1:4294967295:2", "0:1:2:3"] {
            assert!(parse_map(bad).is_err(), "{bad}");
        }
        let maps = vec![
            IdMap {
                container: 0,
                host: 1000,
                size: 1,
            },
            IdMap {
                container: 1,
                host: 200_000,
                size: 1000,
            },
        ];
        validate(&maps, "--uidmap").unwrap();
        let mapping = Mapping {
            uid_map: maps.clone(),
            gid_map: maps,
        };
        assert_eq!(mapping.host_uid(0), Some(1000));
        assert_eq!(mapping.host_uid(5), Some(200_004));
        assert_eq!(mapping.host_gid(1000), Some(200_999));
        assert_eq!(mapping.host_uid(1001), None);
        let top = [parse_map("4294967295:1:1").unwrap(), DEFAULT_RANGE];
        validate(&top, "--uidmap").unwrap();
        let overlapping = [DEFAULT_RANGE, parse_map("70000:150000:10").unwrap()];
        let err = validate(&overlapping, "--uidmap").unwrap_err().to_string();
        assert!(err.contains("overlap"), "{err}");
    }

    #[test]
    fn auto_range_reads_roots_subordinate_ids() {
        assert_eq!(auto_range(None), DEFAULT_RANGE);
        assert_eq!(auto_range(Some("alice:100000:65536\n")), DEFAULT_RANGE);
        let r = auto_range(Some("alice:100000:65536\nroot:231072:1000000\n"));
        assert_eq!(
            r,
            IdMap {
                container: 0,
                host: 231_072,
                size: 65_536
            }
        );
        assert_eq!(auto_range(Some("0:300000:1000")).size, 1000);
        assert_eq!(auto_range(Some("root:x:1")), DEFAULT_RANGE);
    }

    #[test]
    fn a_created_namespace_has_the_mapping() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIP: creating a mapped user namespace needs root");
            return;
        }
        let mapping = Mapping {
            uid_map: vec![DEFAULT_RANGE],
            gid_map: vec![DEFAULT_RANGE],
        };
        let fd = create(&mapping).unwrap();
        // The namespace is a user namespace other than ours.
        let ours = std::fs::metadata("/proc/self/ns/user").unwrap();
        let theirs = std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_ne!(ours.ino(), theirs.ino());
        // The kernel can idmap a directory with it (or names what it lacks).
        let dir = tempfile::tempdir().unwrap();
        match check_idmap(dir.path(), fd.as_raw_fd()) {
            Ok(()) => {}
            Err(e) => eprintln!("SKIP idmap probe: {e}"),
        }
    }
}
