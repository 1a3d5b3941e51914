//! Bridge networking: each container gets a network namespace with one end of a veth pair
//! (`eth0`), the other end attached to the host bridge `strata0`; the bridge holds the
//! gateway address of a private subnet used only between this machine's namespaces, and
//! outgoing traffic is masqueraded (when `iptables` is present).
//!
//! ## Model
//! - The namespace is created by the caller (the per-container monitor) with
//!   [`new_netns_with_socket`] and held as a descriptor: no `/run/netns` bind mount, so
//!   nothing is left mounted if the monitor is killed. When the last holder (monitor, container) goes, the
//!   kernel destroys the namespace and both veth ends with it.
//! - Addresses are leased by *lock*, not by bookkeeping: an address is taken while a
//!   process holds an exclusive `flock` on `/run/strata/ipam/<address>`; a crashed holder
//!   releases it automatically, so there is no stale state to clean up. A released address
//!   is reused at once, so a container's MAC is derived from its address (as Docker's
//!   bridge driver does) and the host's neighbour entry for the address is dropped when
//!   the container is attached: a `FAILED` entry left by a look-up in between would make
//!   the new container unreachable from the host for seconds.
//! - Per container, one rtnetlink request creates the veth pair (host end up on the
//!   bridge, `eth0` created directly inside the namespace) and ioctls on a socket opened
//!   inside the namespace set its address, links and default route ([`attach_direct`]):
//!   no process is started. iproute2's `ip -batch`, behind the [`Ip`] trait, creates the
//!   bridge once per boot and is the fallback path ([`attach`]).

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
    for op in ["-C", "-A"] {
        let mut args = vec![rule[0], rule[1], op];
        args.extend(&rule[2..]);
        // Checked first; appended when missing.
        if iptables(&args) {
            break;
        }
    }
    drop(lock);
    Ok(())
}

/// Let the bridge's traffic through the `FORWARD` chain: containers to each other and out,
/// and replies back in.
///
/// Docker sets the chain's policy to `DROP` when it starts (and loads `br_netfilter`, which
/// makes even bridged traffic between two containers pass that chain), allowing only its
/// own `docker0`; on a machine that also runs Docker — possibly started after the bridge
/// was made — containers would lose each other and the outside world. So every container
/// start on the bridge checks the first rule (one `iptables -C`, a few ms, run while the
/// rest of the network is set up) and inserts both at the top when it is missing, under a
/// lock so that concurrent starts do not insert them twice. Without `iptables` there is
/// nothing to check.
pub fn ensure_forward() {
    let from_bridge = ["FORWARD", "-i", BRIDGE, "-j", "ACCEPT"];
    let check = [&["-C"][..], &from_bridge[..]].concat();
    if iptables(&check) {
        return;
    }
    let _ = fs::create_dir_all(RUN_DIR);
    let lock = File::create(Path::new(RUN_DIR).join("forward.lock"));
    if let Ok(l) = &lock {
        // SAFETY: flock on an open descriptor (blocking; released when `lock` closes).
        unsafe { libc::flock(l.as_raw_fd(), libc::LOCK_EX) };
    }
    let replies = [
        "FORWARD",
        "-o",
        BRIDGE,
        "-m",
        "conntrack",
        "--ctstate",
        "RELATED,ESTABLISHED",
        "-j",
        "ACCEPT",
    ];
    for rule in [&replies[..], &from_bridge[..]] {
        let check = [&["-C"][..], rule].concat();
        if !iptables(&check) {
            iptables(&[&["-I"][..], rule].concat());
        }
    }
}

/// Run `iptables` with `args`; whether it succeeded (a missing `iptables` is a failure).
fn iptables(args: &[&str]) -> bool {
    Command::new("iptables")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
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
            "link add {host} type veth peer name eth0 address {} netns {ns_path}\nlink set {host} master {BRIDGE} up\n",
            mac_text(addr)
        ),
    )?;
    forget_neighbour(addr);
    ip.batch(
        Some(netns),
        &format!(
            "addr add {addr}/{PREFIX} dev eth0\nlink set eth0 up\nlink set lo up\nroute add default via {GATEWAY}\n"
        ),
    )
}

/// [`mac_of`] as text (`02:42:0a:59:00:02`), as `ip` and `docker inspect` write it.
pub fn mac_text(addr: Ipv4Addr) -> String {
    let m = mac_of(addr);
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
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

/// Create a new network namespace and return a descriptor for it, leaving the calling
/// thread in the namespace it was in, and an `AF_INET` datagram socket that lives in it
/// (for the configuration ioctls of [`attach_direct`]).
pub fn new_netns_with_socket() -> Result<(OwnedFd, OwnedFd), NetworkError> {
    let open = |p: &str| -> Result<OwnedFd, NetworkError> {
        let f = File::open(p).map_err(io_err(format!("open {p}")))?;
        Ok(OwnedFd::from(f))
    };
    let host = open("/proc/thread-self/ns/net")?;
    // SAFETY: unshare/socket/setns on this thread only, with valid descriptors.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNET) < 0 {
            return Err(io_err("create a network namespace")(
                io::Error::last_os_error(),
            ));
        }
    }
    let ns = open("/proc/thread-self/ns/net");
    // SAFETY: a socket call; the descriptor is owned below.
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    let sock_err = io::Error::last_os_error();
    // SAFETY: as above.
    let back = unsafe { libc::setns(host.as_raw_fd(), libc::CLONE_NEWNET) };
    if back < 0 {
        return Err(io_err("return to the host network namespace")(
            io::Error::last_os_error(),
        ));
    }
    if sock < 0 {
        return Err(io_err("open a socket in the container namespace")(sock_err));
    }
    // SAFETY: a fresh descriptor we own.
    let sock = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(sock) };
    Ok((ns?, sock))
}

fn ifreq(name: &str) -> libc::ifreq {
    // SAFETY: ifreq is plain data; zero is a valid value.
    let mut r: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in name.bytes().take(libc::IFNAMSIZ - 1).enumerate() {
        r.ifr_name[i] = b as libc::c_char;
    }
    r
}

fn sockaddr_in(a: Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(a).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size; this is how the ioctls take it.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

fn ioctl_ok(r: libc::c_int, what: &str) -> Result<(), NetworkError> {
    if r < 0 {
        return Err(io_err(what.to_string())(io::Error::last_os_error()));
    }
    Ok(())
}

fn link_up(sock: RawFd, name: &str) -> Result<(), NetworkError> {
    let mut r = ifreq(name);
    // SAFETY: ioctls on a valid socket with an initialised ifreq.
    unsafe {
        ioctl_ok(
            libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut r),
            &format!("read flags of {name}"),
        )?;
        r.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        ioctl_ok(
            libc::ioctl(sock, libc::SIOCSIFFLAGS, &r),
            &format!("bring {name} up"),
        )
    }
}

/// Append one netlink attribute (header, payload, padding to 4 bytes).
fn nla(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(payload);
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// A nested attribute whose payload `f` writes.
fn nla_nested(buf: &mut Vec<u8>, kind: u16, f: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(&(kind | libc::NLA_F_NESTED as u16).to_ne_bytes());
    f(buf);
    let len = (buf.len() - start) as u16;
    buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
}

fn ifinfomsg(flags: u32, change: u32) -> Vec<u8> {
    // struct ifinfomsg: family(1) pad(1) type(2) index(4) flags(4) change(4)
    let mut v = vec![libc::AF_UNSPEC as u8, 0, 0, 0];
    v.extend_from_slice(&0i32.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&change.to_ne_bytes());
    v
}

fn cname(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// The RTM_NEWLINK request creating the veth pair: `host` (up, on bridge `master`) and
/// its peer `eth0` created directly in namespace `netns`.
pub fn veth_request(host: &str, master: u32, netns: RawFd, seq: u32) -> Vec<u8> {
    const IFLA_IFNAME: u16 = 3;
    const IFLA_MASTER: u16 = 10;
    const IFLA_LINKINFO: u16 = 18;
    const IFLA_NET_NS_FD: u16 = 28;
    const IFLA_INFO_KIND: u16 = 1;
    const IFLA_INFO_DATA: u16 = 2;
    const VETH_INFO_PEER: u16 = 1;
    let up = libc::IFF_UP as u32;
    let mut body = ifinfomsg(up, up);
    nla(&mut body, IFLA_IFNAME, &cname(host));
    nla(&mut body, IFLA_MASTER, &master.to_ne_bytes());
    nla_nested(&mut body, IFLA_LINKINFO, |b| {
        nla(b, IFLA_INFO_KIND, b"veth\0");
        nla_nested(b, IFLA_INFO_DATA, |b| {
            nla_nested(b, VETH_INFO_PEER, |b| {
                b.extend_from_slice(&ifinfomsg(0, 0));
                nla(b, IFLA_IFNAME, b"eth0\0");
                nla(b, IFLA_NET_NS_FD, &netns.to_ne_bytes());
            });
        });
    });
    let mut msg = Vec::with_capacity(16 + body.len());
    let len = (16 + body.len()) as u32;
    msg.extend_from_slice(&len.to_ne_bytes());
    msg.extend_from_slice(&libc::RTM_NEWLINK.to_ne_bytes());
    let flags =
        (libc::NLM_F_REQUEST | libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
    msg.extend_from_slice(&flags.to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&body);
    msg
}

/// Send one rtnetlink request and read its acknowledgement.
fn netlink(request: &[u8]) -> Result<(), NetworkError> {
    // SAFETY: socket/sendto/recv on buffers we own; the descriptor is closed on drop.
    unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        );
        if fd < 0 {
            return Err(io_err("open a netlink socket")(io::Error::last_os_error()));
        }
        let fd = <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd);
        let mut sa: libc::sockaddr_nl = std::mem::zeroed();
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let sent = libc::sendto(
            fd.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        );
        if sent < 0 {
            return Err(io_err("send a netlink request")(io::Error::last_os_error()));
        }
        let mut buf = [0u8; 4096];
        let n = libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0);
        if n < 20 {
            return Err(io_err("read the netlink answer")(io::Error::last_os_error()));
        }
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        if kind == libc::NLMSG_ERROR as u16 {
            let err = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
            if err != 0 {
                return Err(io_err("create the veth pair")(
                    io::Error::from_raw_os_error(-err),
                ));
            }
        }
    }
    Ok(())
}

/// [`attach`] without running `ip`: one netlink request creates the veth pair (host end
/// up on the bridge, `eth0` in the namespace), then ioctls on `ns_sock` (a socket inside
/// the namespace) set the address, bring `eth0` and `lo` up and add the default route.
pub fn attach_direct(
    netns: RawFd,
    ns_sock: RawFd,
    id: &str,
    addr: Ipv4Addr,
) -> Result<(), NetworkError> {
    let master: u32 = fs::read_to_string(Path::new("/sys/class/net").join(BRIDGE).join("ifindex"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| {
            io_err(format!("find bridge {BRIDGE}"))(io::Error::from_raw_os_error(libc::ENODEV))
        })?;
    netlink(&veth_request(&host_veth(id), master, netns, 1))?;
    let mask = Ipv4Addr::from(u32::MAX << (32 - PREFIX));
    // SAFETY: ioctls on a valid socket with initialised ifreq/rtentry structures.
    unsafe {
        let mut r = ifreq("eth0");
        r.ifr_ifru.ifru_hwaddr = hwaddr(mac_of(addr));
        ioctl_ok(
            libc::ioctl(ns_sock, libc::SIOCSIFHWADDR, &r),
            "set the hardware address of eth0",
        )?;
        let mut r = ifreq("eth0");
        r.ifr_ifru.ifru_addr = sockaddr_in(addr);
        ioctl_ok(
            libc::ioctl(ns_sock, libc::SIOCSIFADDR, &r),
            "set the address of eth0",
        )?;
        let mut r = ifreq("eth0");
        r.ifr_ifru.ifru_netmask = sockaddr_in(mask);
        ioctl_ok(
            libc::ioctl(ns_sock, libc::SIOCSIFNETMASK, &r),
            "set the netmask of eth0",
        )?;
    }
    link_up(ns_sock, "eth0")?;
    link_up(ns_sock, "lo")?;
    // SAFETY: as above.
    unsafe {
        let mut rt: libc::rtentry = std::mem::zeroed();
        rt.rt_dst = sockaddr_in(Ipv4Addr::UNSPECIFIED);
        rt.rt_genmask = sockaddr_in(Ipv4Addr::UNSPECIFIED);
        rt.rt_gateway = sockaddr_in(GATEWAY);
        rt.rt_flags = libc::RTF_UP | libc::RTF_GATEWAY;
        ioctl_ok(
            libc::ioctl(ns_sock, libc::SIOCADDRT, &rt),
            "add the default route",
        )?;
    }
    forget_neighbour(addr);
    Ok(())
}

/// The container's MAC address, derived from its IPv4 address as Docker's bridge driver
/// does (`02:42` and the four octets). An address is leased again as soon as its container
/// is gone, and the host's neighbour cache may still hold the old container's entry: with
/// the same MAC for the same address that entry stays right.
pub fn mac_of(addr: Ipv4Addr) -> [u8; 6] {
    let o = addr.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

fn hwaddr(mac: [u8; 6]) -> libc::sockaddr {
    // SAFETY: sockaddr is plain data; zero is a valid value.
    let mut sa: libc::sockaddr = unsafe { std::mem::zeroed() };
    sa.sa_family = libc::ARPHRD_ETHER;
    for (d, b) in sa.sa_data.iter_mut().zip(mac) {
        *d = b as libc::c_char;
    }
    sa
}

/// Drop the host's neighbour entry for `addr` on the bridge, if any. A lookup that failed
/// while the address was unused leaves a `FAILED` entry, and the kernel answers "no route"
/// from it for seconds: a new container on that address would be unreachable from the
/// host (its published ports included) until the entry expires. Best effort.
fn forget_neighbour(addr: Ipv4Addr) {
    // SAFETY: a fresh socket, closed below; arpreq is plain data, zero-initialised and
    // filled with the address and the bridge's name.
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            return;
        }
        let mut req: libc::arpreq = std::mem::zeroed();
        req.arp_pa = sockaddr_in(addr);
        for (i, b) in BRIDGE.bytes().take(req.arp_dev.len() - 1).enumerate() {
            req.arp_dev[i] = b as libc::c_char;
        }
        // ENXIO when there is no entry: nothing to do.
        libc::ioctl(sock, libc::SIOCDARP, &req);
        libc::close(sock);
    }
}

#[cfg(test)]
mod direct_tests {
    use super::*;

    #[test]
    fn veth_request_is_well_formed() {
        let m = veth_request("vsabc", 7, 5, 1);
        assert_eq!(
            u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize,
            m.len()
        );
        assert_eq!(m.len() % 4, 0);
        let s = String::from_utf8_lossy(&m);
        assert!(s.contains("vsabc") && s.contains("veth") && s.contains("eth0"));
    }
}
