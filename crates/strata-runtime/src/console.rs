//! The container's terminal (`run -t`, `exec -t`), allocated the way runc's console socket
//! does it.
//!
//! A container mounts its own devpts instance (`newinstance`) at `/dev/pts`, with
//! `/dev/ptmx` a symlink to `pts/ptmx`. A pty allocated on the host's devpts is invisible
//! there: `ttyname` finds no `/dev/pts/N` for it and `tty` says "not a tty". So the pty is
//! allocated *inside*: the container's process, after `pivot_root` (or, for `exec`, after
//! joining the container's mount namespace) and after taking its identity, opens
//! `/dev/ptmx`, unlocks it, opens the peer with `TIOCGPTPEER` (no path lookup), gives it
//! the initial window size, sends the master to the caller over a `SOCK_SEQPACKET`
//! socket with `SCM_RIGHTS`, then becomes a session leader, makes the slave its
//! controlling terminal (`TIOCSCTTY`) and its stdin, stdout and stderr. The caller relays
//! the master; resizing is `TIOCSWINSZ` on the master (the kernel sends `SIGWINCH` to the
//! terminal's foreground process group), and Ctrl-C typed into the master reaches that
//! group as `SIGINT` through the terminal's line discipline, as on a real terminal.
//!
//! The pty is opened after `setuid`, so its slave belongs to the container's user (what
//! runc achieves with a `fchown`), and before the seccomp filter is installed.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A terminal size in character cells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WinSize {
    pub rows: u16,
    pub cols: u16,
}

impl WinSize {
    /// The size of the terminal open on `fd`, when it is one.
    pub fn of(fd: RawFd) -> Option<WinSize> {
        // SAFETY: TIOCGWINSZ fills a zeroed winsize buffer.
        unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            (libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0).then_some(WinSize {
                rows: ws.ws_row,
                cols: ws.ws_col,
            })
        }
    }

    /// The size of our own terminal: stdin's, else stdout's (as Docker, which sizes the
    /// container's terminal from the output stream when stdin is not a terminal).
    pub fn of_stdio() -> Option<WinSize> {
        WinSize::of(0).or_else(|| WinSize::of(1))
    }

    /// Set the size of the terminal open on `fd` (a pty master or slave).
    pub fn apply(self, fd: RawFd) -> io::Result<()> {
        let ws = libc::winsize {
            ws_row: self.rows,
            ws_col: self.cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a valid winsize buffer.
        crate::check(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) })
    }
}

/// Give the terminal on `master` our own terminal's size on every `SIGWINCH`, forever (run
/// it on a thread of its own). `SIGWINCH` must be blocked in every thread, so that this
/// one takes it synchronously.
pub fn follow_resizes(master: &File) -> ! {
    // SAFETY: sigwait on a local set of a signal blocked in every thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGWINCH);
        loop {
            let mut sig = 0;
            if libc::sigwait(&set, &mut sig) == 0
                && let Some(size) = WinSize::of_stdio()
            {
                let _ = size.apply(master.as_raw_fd());
            }
        }
    }
}

/// Where and how the container's process allocates its terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Console {
    /// The process's end of a [`socketpair`]: the master is sent over it.
    pub socket: RawFd,
    /// The initial window size (none: the kernel's 0x0).
    pub size: Option<WinSize>,
}

/// A close-on-exec `SOCK_SEQPACKET` pair: (the caller's end, the container's end).
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: socketpair fills two descriptors we then own.
    crate::check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Space for one descriptor's control message (`CMSG_SPACE(sizeof(int))` on 64-bit Linux
/// is 24 bytes; 64 leaves room on every ABI), aligned for `cmsghdr`.
#[repr(C, align(8))]
struct CmsgBuf([u8; 64]);

/// Send descriptor `fd` over `sock` (one byte of data carries the control message).
pub fn send_fd(sock: RawFd, fd: RawFd) -> io::Result<()> {
    // SAFETY: a msghdr over local buffers, filled with the CMSG macros as sendmsg(2)
    // documents; no allocation (this runs in a forked child).
    unsafe {
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut buf = CmsgBuf([0; 64]);
        let space = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = buf.0.as_mut_ptr().cast();
        msg.msg_controllen = space;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        loop {
            let r = libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL);
            if r >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// Receive the descriptor sent with [`send_fd`] (close-on-exec). Fails with
/// `UnexpectedEof` when every sender closed its end without sending one.
pub fn receive_fd(sock: &OwnedFd) -> io::Result<File> {
    // SAFETY: recvmsg into local buffers; the received descriptor is then owned by us.
    unsafe {
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut buf = CmsgBuf([0; 64]);
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = buf.0.as_mut_ptr().cast();
        msg.msg_controllen = buf.0.len();
        let n = loop {
            let r = libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
            if r >= 0 {
                break r;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        };
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if n == 0 || cmsg.is_null() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the container's process sent no terminal",
            ));
        }
        if (*cmsg).cmsg_level != libc::SOL_SOCKET || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "unexpected control message instead of a terminal",
            ));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
        Ok(File::from_raw_fd(fd))
    }
}

/// In the container's process, before exec: allocate the terminal on the container's
/// devpts, send its master over `console.socket`, and make its slave the controlling
/// terminal and the standard streams. Only raw system calls (runs after fork).
pub(crate) fn attach_in_child(console: &Console) -> io::Result<()> {
    let r = allocate(console);
    if r.is_err() {
        let msg = b"strata-runtime: container setup failed: allocate a terminal on /dev/pts\n";
        // SAFETY: writing a static buffer to fd 2 (best effort).
        unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
    }
    r
}

fn allocate(console: &Console) -> io::Result<()> {
    // SAFETY: (whole body) raw system calls on integers and local buffers.
    unsafe {
        let master = libc::open(
            c"/dev/ptmx".as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if master < 0 {
            return Err(io::Error::last_os_error());
        }
        let unlock: libc::c_int = 0;
        let slave = if libc::ioctl(master, libc::TIOCSPTLCK, &unlock) < 0 {
            -1
        } else {
            libc::ioctl(master, libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY)
        };
        if slave < 0 {
            let e = io::Error::last_os_error();
            libc::close(master);
            return Err(e);
        }
        if let Some(size) = console.size {
            // A 0x0 terminal is what the kernel gives: a failure here changes nothing.
            let _ = size.apply(slave);
        }
        let sent = send_fd(console.socket, master);
        libc::close(master);
        libc::close(console.socket);
        sent?;
        if libc::setsid() < 0 {
            return Err(io::Error::last_os_error());
        }
        crate::check(libc::ioctl(slave, libc::TIOCSCTTY, 0))?;
        for fd in 0..3 {
            crate::check(libc::dup2(slave, fd))?;
        }
        if slave > 2 {
            libc::close(slave);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_descriptor_crosses_the_socket() {
        let (parent, child) = socketpair().unwrap();
        let (master, _slave) = crate::monitor::openpty().unwrap();
        send_fd(child.as_raw_fd(), master.as_raw_fd()).unwrap();
        let got = receive_fd(&parent).unwrap();
        // The same open terminal: a size set on one is read back from the other.
        WinSize { rows: 31, cols: 97 }
            .apply(got.as_raw_fd())
            .unwrap();
        assert_eq!(
            WinSize::of(master.as_raw_fd()),
            Some(WinSize { rows: 31, cols: 97 })
        );
        // SAFETY: F_GETFD on a descriptor we own.
        let flags = unsafe { libc::fcntl(got.as_raw_fd(), libc::F_GETFD) };
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
    }

    #[test]
    fn no_descriptor_is_an_eof_error() {
        let (parent, child) = socketpair().unwrap();
        drop(child);
        let err = receive_fd(&parent).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
