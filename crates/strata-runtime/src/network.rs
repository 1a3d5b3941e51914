//! Bridge networking: each container gets a network namespace with one end of a veth pair
//! (`eth0`), the other end attached to the host bridge `strata0`; the bridge holds the
//! gateway address of a private subnet used only between this machine's namespaces, and
//! outgoing traffic is masqueraded (when `iptables` is present).
//!
//! ## Model
//! - The namespace is created by the caller (the per-container monitor) with
//!   [`new_netns`] and held as a descriptor: no `/run/netns` bind mount, so nothing is left
//!   mounted if the monitor is killed. When the last holder (monitor, container) goes, the
//!   kernel destroys the namespace and both veth ends with it.
//! - Addresses are leased by *lock*, not by bookkeeping: an address is taken while a
//!   process holds an exclusive `flock` on `/run/strata/ipam/<address>`; a crashed holder
//!   releases it automatically, so there is no stale state to clean up.
//! - Links and addresses are configured with iproute2's `ip -batch` (two processes per
//!   container: one on the host, one inside the namespace), behind the [`Ip`] trait.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The host bridge.
pub const BRIDGE: &str = "strata0";
/// Gateway (bridge) address and prefix of the container subnet.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 1);
pub const PREFIX: u8 = 16;
const RUN_DIR: &str = "/run/strata";

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("cannot {what}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("`ip {batch}` failed: {stderr}")]
    Ip { batch: String, stderr: String },
    #[error("no free address left in {GATEWAY}/{PREFIX}")]
    Exhausted,
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> NetworkError {
    let what = what.into();
    move |source| NetworkError::Io { what, source }
}

/// Runs iproute2 command batches, on the host or inside a namespace.
pub trait Ip {
    fn batch(&self, netns: Option<RawFd>, commands: &str) -> Result<(), NetworkError>;
}

/// The `ip` program.
#[derive(Debug, Default, Clone, Copy)]
pub struct IpCommand;

impl Ip for IpCommand {
    fn batch(&self, netns: Option<RawFd>, commands: &str) -> Result<(), NetworkError> {
        let mut cmd = Command::new("ip");
        cmd.args(["-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(fd) = netns {
            // SAFETY: setns on a descriptor that stays open across the fork.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setns(fd, libc::CLONE_NEWNET) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd
            .spawn()
            .map_err(io_err("run ip (is iproute2 installed?)"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(commands.as_bytes())
                .map_err(io_err("write to ip"))?;
        }
        let out = child.wait_with_output().map_err(io_err("run ip"))?;
        if !out.status.success() {
            return Err(NetworkError::Ip {
                batch: commands.trim().replace('\n', "; "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(())
    }
}

/// Create a new network namespace and return a descriptor for it, leaving the calling
/// thread in the namespace it was in.
pub fn new_netns() -> Result<OwnedFd, NetworkError> {
    let open = |p: &str| -> Result<OwnedFd, NetworkError> {
        let f = File::open(p).map_err(io_err(format!("open {p}")))?;
        Ok(OwnedFd::from(f))
    };
    let host = open("/proc/thread-self/ns/net")?;
    // SAFETY: unshare and setns on this thread only, with valid descriptors.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNET) < 0 {
            return Err(io_err("create a network namespace")(
                io::Error::last_os_error(),
            ));
        }
    }
    let ns = open("/proc/thread-self/ns/net");
    // SAFETY: as above.
    let back = unsafe { libc::setns(host.as_raw_fd(), libc::CLONE_NEWNET) };
    if back < 0 {
        return Err(io_err("return to the host network namespace")(
            io::Error::last_os_error(),
        ));
    }
    ns
}

/// An address held for one container (released when dropped or when the process dies).
#[derive(Debug)]
pub struct Lease {
    pub addr: Ipv4Addr,
    _lock: File,
    path: PathBuf,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn try_lock(f: &File) -> bool {
    // SAFETY: flock on an open descriptor.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Lease the lowest free address of the subnet; `owner` is written into the lease file
/// (for people reading `/run/strata/ipam`).
pub fn lease(owner: &str) -> Result<Lease, NetworkError> {
    let dir = Path::new(RUN_DIR).join("ipam");
    fs::create_dir_all(&dir).map_err(io_err(format!("create {}", dir.display())))?;
    let base = u32::from(GATEWAY);
    let size = 1u32 << (32 - PREFIX);
    for n in 2..size - 1 {
        let addr = Ipv4Addr::from(base - 1 + n);
        let path = dir.join(addr.to_string());
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(format!("open {}", path.display())))?;
        if try_lock(&f) {
            // The file may have been unlinked by a releasing holder between our open and
            // lock; only a lock on the linked file counts.
            let same = fs::metadata(&path).ok().map(|m| {
                use std::os::unix::fs::MetadataExt;
                m.ino()
            }) == f.metadata().ok().map(|m| {
                use std::os::unix::fs::MetadataExt;
                m.ino()
            });
            if !same {
                continue;
            }
            let _ = f.set_len(0);
            let _ = (&f).write_all(owner.as_bytes());
            return Ok(Lease {
                addr,
                _lock: f,
                path,
            });
        }
    }
    Err(NetworkError::Exhausted)
}

/// Create the bridge once per boot (serialised by a lock file), with NAT for outgoing
/// traffic where `iptables` exists.
pub fn ensure_bridge(ip: &dyn Ip) -> Result<(), NetworkError> {
    if Path::new("/sys/class/net").join(BRIDGE).exists() {
        return Ok(());
    }
    fs::create_dir_all(RUN_DIR).map_err(io_err(format!("create {RUN_DIR}")))?;
    let lock_path = Path::new(RUN_DIR).join("network.lock");
    let lock = File::create(&lock_path).map_err(io_err(format!("open {}", lock_path.display())))?;
    // SAFETY: flock on an open descriptor (blocking; released when `lock` closes).
    unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    if Path::new("/sys/class/net").join(BRIDGE).exists() {
        return Ok(());
    }
    ip.batch(
        None,
        &format!(
            "link add {BRIDGE} type bridge\naddr add {GATEWAY}/{PREFIX} dev {BRIDGE}\nlink set {BRIDGE} up\n"
        ),
    )?;
    // Outgoing traffic: forwarding and masquerading, as Docker sets up for docker0.
    let _ = fs::write("/proc/sys/net/ipv4/ip_forward", "1");
    let subnet = format!("{}/{PREFIX}", Ipv4Addr::from(u32::from(GATEWAY) - 1));
    let rule = [
        "-t",
        "nat",
        "POSTROUTING",
        "-s",
        &subnet,
        "!",
        "-o",
        BRIDGE,
        "-j",
        "MASQUERADE",
    ];
    let iptables = |op: &str| {
        let mut args = vec![rule[0], rule[1], op];
        args.extend(&rule[2..]);
        Command::new("iptables")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !iptables("-C") {
        iptables("-A");
    }
    drop(lock);
    Ok(())
}

/// The host-side veth name of container `id`.
pub fn host_veth(id: &str) -> String {
    format!("vs{}", &id[..id.len().min(12)])
}

/// Attach namespace `netns` (a descriptor of this process) to the bridge (see
/// [`ensure_bridge`]) with address `addr`: a veth pair whose container end is `eth0`, a
/// default route via the bridge.
pub fn attach(ip: &dyn Ip, netns: RawFd, id: &str, addr: Ipv4Addr) -> Result<(), NetworkError> {
    let host = host_veth(id);
    let ns_path = format!("/proc/{}/fd/{netns}", std::process::id());
    ip.batch(
        None,
        &format!(
            "link add {host} type veth peer name eth0 netns {ns_path}\nlink set {host} master {BRIDGE} up\n"
        ),
    )?;
    ip.batch(
        Some(netns),
        &format!(
            "addr add {addr}/{PREFIX} dev eth0\nlink set eth0 up\nlink set lo up\nroute add default via {GATEWAY}\n"
        ),
    )
}

/// A descriptor for the network namespace of process `pid`.
pub fn netns_of(pid: i32) -> io::Result<OwnedFd> {
    let f = File::open(format!("/proc/{pid}/ns/net"))?;
    Ok(OwnedFd::from(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[derive(Default)]
    struct Rec(RefCell<Vec<(bool, String)>>);
    impl Ip for Rec {
        fn batch(&self, netns: Option<RawFd>, commands: &str) -> Result<(), NetworkError> {
            self.0
                .borrow_mut()
                .push((netns.is_some(), commands.to_string()));
            Ok(())
        }
    }

    #[test]
    fn attach_configures_host_then_namespace() {
        let rec = Rec::default();
        attach(&rec, 7, "0123456789abcdef", Ipv4Addr::new(10, 89, 0, 9)).unwrap();
        let calls = rec.0.into_inner();
        assert_eq!(calls.len(), 2);
        assert!(
            calls[0]
                .1
                .contains("link add vs0123456789ab type veth peer name eth0")
        );
        assert!(!calls[0].0);
        assert!(calls[1].0);
        assert!(calls[1].1.contains("addr add 10.89.0.9/16 dev eth0"));
        assert!(calls[1].1.contains("route add default via 10.89.0.1"));
    }
}
