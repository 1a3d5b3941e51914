//! `cp` between the host and a container without symlink escapes (the class of
//! CVE-2019-14271 and CVE-2018-15664): every path inside the container is resolved by the
//! kernel with `openat2(RESOLVE_IN_ROOT)` against a descriptor of the container's root, so
//! `..` and symlinks — absolute or relative — cannot leave it; below that, entries are
//! created and read relative to directory descriptors with `O_NOFOLLOW`, and a symlink is
//! copied as a symlink, never followed. Nothing is resolved by path string on the host side
//! of the container.
//!
//! The root is either a running container's (`/proc/<pid>/root`, which shows its mounts)
//! or, for a stopped container, its overlay mounted in a private mount namespace of a
//! forked child ([`with_stopped_root`]) that disappears with the child.

use std::ffi::{CStr, CString, OsStr};
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn cstr(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Open `path` (container path) under `root` with the kernel confining resolution to it.
/// `flags` as for `open`; the final component is followed only without `O_NOFOLLOW`.
pub fn open_in_root(root: RawFd, path: &str, flags: i32) -> io::Result<OwnedFd> {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    let c = cstr(rel.as_bytes())?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: valid descriptor, C string and open_how of the size we pass.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root,
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn fstatat(dir: RawFd, name: &CStr) -> io::Result<libc::stat> {
    // SAFETY: zeroed stat buffer filled by the call.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor, name and buffer.
    check(unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st)
}

fn openat(dir: RawFd, name: &CStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    // SAFETY: valid descriptor and name.
    let fd = check(unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC, mode) })?;
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn readlinkat(dir: RawFd, name: &CStr) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid descriptor, name and buffer.
    let n = unsafe { libc::readlinkat(dir, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// Names in a directory descriptor.
fn list(dir: RawFd) -> io::Result<Vec<CString>> {
    let fd = openat(dir, c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let mut out = Vec::new();
    for e in fs::read_dir(format!("/proc/self/fd/{}", fd.as_raw_fd()))? {
        out.push(cstr(e?.file_name().as_bytes())?);
    }
    Ok(out)
}

/// What a copy does with ownership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// New files belong to whoever copies (Docker's CLI extracting on the host).
    Copier,
    /// New files keep the source's owner (Docker's daemon extracting into a container, as
    /// root; a tar stream out carries the container's owners).
    Keep,
    /// New files belong to this uid and gid (`cp -a` into a container with a user).
    Set(u32, u32),
}

impl Owner {
    /// Give host path or container entry its owner; an id the user namespace the copy
    /// runs in cannot represent (`EINVAL`, or `EOVERFLOW` from an idmapped layer) leaves
    /// the copier's.
    fn apply(
        self,
        chown: impl FnOnce(u32, u32) -> io::Result<()>,
        uid: u32,
        gid: u32,
    ) -> io::Result<()> {
        let r = match self {
            Owner::Copier => return Ok(()),
            Owner::Keep => chown(uid, gid),
            Owner::Set(u, g) => chown(u, g),
        };
        match r {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EOVERFLOW)) => Ok(()),
            r => r,
        }
    }
}

fn lchown_host(p: &Path) -> impl FnOnce(u32, u32) -> io::Result<()> + '_ {
    move |u, g| std::os::unix::fs::lchown(p, Some(u), Some(g))
}

/// Copy entry `name` of container directory `dir` to host path `dst` (recursively).
fn out_entry(dir: RawFd, name: &CStr, dst: &Path, owner: Owner) -> io::Result<()> {
    let st = fstatat(dir, name)?;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            let sub = openat(
                dir,
                name,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
            )?;
            out_dir(&sub, &st, dst, owner)?;
        }
        libc::S_IFREG => {
            let src = openat(dir, name, libc::O_RDONLY | libc::O_NOFOLLOW, 0)?;
            out_file(src, &st, dst, owner)?;
        }
        libc::S_IFLNK => {
            let target = readlinkat(dir, name)?;
            let _ = fs::remove_file(dst);
            std::os::unix::fs::symlink(OsStr::from_bytes(&target), dst)?;
            owner.apply(lchown_host(dst), st.st_uid, st.st_gid)?;
        }
        // Devices, fifos and sockets are not copied out.
        _ => {}
    }
    Ok(())
}

/// Copy the open container directory `sub` (described by `st`) to host path `dst`.
fn out_dir(sub: &OwnedFd, st: &libc::stat, dst: &Path, owner: Owner) -> io::Result<()> {
    if !dst.is_dir() {
        fs::create_dir(dst)?;
    }
    for n in list(sub.as_raw_fd())? {
        out_entry(
            sub.as_raw_fd(),
            &n,
            &dst.join(OsStr::from_bytes(n.as_bytes())),
            owner,
        )?;
    }
    owner.apply(lchown_host(dst), st.st_uid, st.st_gid)?;
    fs::set_permissions(dst, fs::Permissions::from_mode(st.st_mode & 0o7777))
}

/// Copy the open container file `src` (described by `st`) to host path `dst`.
fn out_file(src: OwnedFd, st: &libc::stat, dst: &Path, owner: Owner) -> io::Result<()> {
    if fs::symlink_metadata(dst).is_ok_and(|m| m.file_type().is_symlink()) {
        fs::remove_file(dst)?;
    }
    let mut out = File::create(dst)?;
    io::copy(&mut File::from(src), &mut out)?;
    owner.apply(lchown_host(dst), st.st_uid, st.st_gid)?;
    out.set_permissions(fs::Permissions::from_mode(st.st_mode & 0o7777))
}

/// How [`copy_out_with`] reads its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOptions {
    /// Follow a final symlink (`cp -L`): its target is copied under the link's name.
    pub follow: bool,
    pub owner: Owner,
}

/// Copy container path `src` (under `root`) to host path `dst`, as `docker cp` does: into
/// `dst` when it is an existing directory, else as `dst`; a final symlink copied as a
/// symlink, new files the copier's.
pub fn copy_out(root: RawFd, src: &str, dst: &Path) -> io::Result<()> {
    copy_out_with(
        root,
        src,
        dst,
        OutOptions {
            follow: false,
            owner: Owner::Copier,
        },
    )
}

/// [`copy_out`] with options. As Docker's daemon reads the source: `dir/.` copies the
/// directory's contents; a trailing slash must name a directory (`ENOTDIR` otherwise) and
/// follows a final symlink to it, as the kernel resolves such a path.
pub fn copy_out_with(root: RawFd, src: &str, dst: &Path, opts: OutOptions) -> io::Result<()> {
    let trailing = src.len() > 1 && src.ends_with('/');
    let trimmed = src.trim_end_matches('/');
    let (parent, base) = match trimmed.rsplit_once('/') {
        Some((p, b)) => (if p.is_empty() { "/" } else { p }, b),
        None => ("/", trimmed),
    };
    if base.is_empty() || base == "." || base == ".." {
        // The whole root (or a directory named by dots): copy its contents.
        let dirfd = open_in_root(root, trimmed, libc::O_RDONLY | libc::O_DIRECTORY)?;
        // SAFETY: zeroed stat buffer filled by fstat on our descriptor.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid descriptor and buffer.
        check(unsafe { libc::fstat(dirfd.as_raw_fd(), &mut st) })?;
        fs::create_dir_all(dst)?;
        return out_dir(&dirfd, &st, dst, opts.owner);
    }
    let dest = if dst.is_dir() {
        dst.join(base)
    } else {
        dst.to_path_buf()
    };
    if opts.follow || trailing {
        // The kernel follows the final symlink inside the root, and refuses a
        // non-directory before a trailing slash.
        let path = open_in_root(root, src, libc::O_PATH)?;
        // SAFETY: zeroed stat buffer filled by fstat on our descriptor.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid descriptor and buffer.
        check(unsafe { libc::fstat(path.as_raw_fd(), &mut st) })?;
        return match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                let sub = openat(
                    path.as_raw_fd(),
                    c".",
                    libc::O_RDONLY | libc::O_DIRECTORY,
                    0,
                )?;
                out_dir(&sub, &st, &dest, opts.owner)
            }
            libc::S_IFREG => {
                // Reopened through the descriptor: no second path resolution.
                let file = File::open(format!("/proc/self/fd/{}", path.as_raw_fd()))?;
                out_file(OwnedFd::from(file), &st, &dest, opts.owner)
            }
            _ => Ok(()),
        };
    }
    let dirfd = open_in_root(root, parent, libc::O_PATH | libc::O_DIRECTORY)?;
    let name = cstr(base.as_bytes())?;
    out_entry(dirfd.as_raw_fd(), &name, &dest, opts.owner)
}

/// Remove entry `name` of `dir` if it is not a directory (so a symlink planted there is
/// replaced, never followed).
fn unlink_nondir(dir: RawFd, name: &CStr) -> io::Result<()> {
    match fstatat(dir, name) {
        Ok(st) if st.st_mode & libc::S_IFMT != libc::S_IFDIR => {
            // SAFETY: valid descriptor and name.
            check(unsafe { libc::unlinkat(dir, name.as_ptr(), 0) })?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Give container entry `name` of `dir` its owner, not following a symlink.
fn chown_at(dir: RawFd, name: &CStr) -> impl FnOnce(u32, u32) -> io::Result<()> + '_ {
    move |u, g| {
        // SAFETY: valid descriptor and name.
        check(unsafe { libc::fchownat(dir, name.as_ptr(), u, g, libc::AT_SYMLINK_NOFOLLOW) })
            .map(|_| ())
    }
}

/// Copy host path `src` into container directory `dir` as `name` (recursively).
fn in_entry(src: &Path, dir: RawFd, name: &CStr, owner: Owner) -> io::Result<()> {
    let m = fs::symlink_metadata(src)?;
    let mode = m.mode() & 0o7777;
    if m.is_dir() {
        match fstatat(dir, name) {
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {}
            Ok(_) => {
                unlink_nondir(dir, name)?;
                // SAFETY: valid descriptor and name.
                check(unsafe { libc::mkdirat(dir, name.as_ptr(), mode) })?;
            }
            Err(_) => {
                // SAFETY: valid descriptor and name.
                check(unsafe { libc::mkdirat(dir, name.as_ptr(), mode) })?;
            }
        }
        let sub = openat(
            dir,
            name,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )?;
        for e in fs::read_dir(src)? {
            let e = e?;
            let n = cstr(e.file_name().as_bytes())?;
            in_entry(&e.path(), sub.as_raw_fd(), &n, owner)?;
        }
        owner.apply(chown_at(dir, name), m.uid(), m.gid())?;
        // SAFETY: valid descriptor.
        check(unsafe { libc::fchmod(sub.as_raw_fd(), mode) })?;
    } else if m.file_type().is_symlink() {
        let target = fs::read_link(src)?;
        unlink_nondir(dir, name)?;
        let t = cstr(target.as_os_str().as_bytes())?;
        // SAFETY: valid descriptor and strings.
        check(unsafe { libc::symlinkat(t.as_ptr(), dir, name.as_ptr()) })?;
        owner.apply(chown_at(dir, name), m.uid(), m.gid())?;
    } else if m.is_file() {
        unlink_nondir(dir, name)?;
        let out = openat(
            dir,
            name,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
            mode,
        )?;
        let mut out = File::from(out);
        io::copy(&mut File::open(src)?, &mut out)?;
        owner.apply(chown_at(dir, name), m.uid(), m.gid())?;
        out.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Copy host path `src` to container path `dst` (under `root`): into `dst` when it is an
/// existing directory in the container, else as `dst`; new files the copier's.
pub fn copy_in(src: &Path, root: RawFd, dst: &str) -> io::Result<()> {
    let base = src
        .file_name()
        .map(|b| b.as_bytes().to_vec())
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    copy_in_as(src, OsStr::from_bytes(&base), root, dst, Owner::Copier)
}

/// Copy host path `src` under the name `name` to container path `dst`: into `dst` as
/// `name` when `dst` is an existing directory, else as `dst`, whose parent must exist
/// (`ENOENT`); a `dst` with a trailing slash must be an existing directory (`ENOENT`).
/// `src` itself is not followed when it is a symlink (callers resolve `-L`).
pub fn copy_in_as(
    src: &Path,
    name: &OsStr,
    root: RawFd,
    dst: &str,
    owner: Owner,
) -> io::Result<()> {
    if let Ok(d) = open_in_root(root, dst, libc::O_PATH | libc::O_DIRECTORY) {
        return in_entry(src, d.as_raw_fd(), &cstr(name.as_bytes())?, owner);
    }
    if dst.len() > 1 && dst.ends_with('/') {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    let (parent, name) = match dst.rsplit_once('/') {
        Some((p, b)) => (if p.is_empty() { "/" } else { p }, b),
        None => ("/", dst),
    };
    if name.is_empty() || name == "." || name == ".." {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let d = open_in_root(root, parent, libc::O_PATH | libc::O_DIRECTORY)?;
    in_entry(src, d.as_raw_fd(), &cstr(name.as_bytes())?, owner)
}

/// A descriptor of a running container's root (`/proc/<pid>/root`).
pub fn running_root(pid: i32) -> io::Result<OwnedFd> {
    let f = File::open(format!("/proc/{pid}/root"))?;
    Ok(OwnedFd::from(f))
}

/// Run `f` with a descriptor of a stopped container's root: its overlay (`lower` topmost
/// first, `upper`, `work`) mounted at `target` in the private mount namespace of a forked
/// child, gone when the child exits. The caller must be single-threaded (it forks).
pub fn with_stopped_root(
    lower: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
    f: impl FnOnce(RawFd) -> io::Result<()>,
) -> io::Result<()> {
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":"),
        upper.display(),
        work.display()
    );
    let data = cstr(data.as_bytes())?;
    let tgt = cstr(target.as_os_str().as_bytes())?;
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: fresh descriptors we own.
    let (r, w) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    // SAFETY: fork of a single-threaded caller (documented); the child exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        drop(r);
        let result = (|| -> io::Result<()> {
            // SAFETY: mount-namespace setup on prepared C strings.
            unsafe {
                check(libc::unshare(libc::CLONE_NEWNS))?;
                check(libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ))?;
                check(libc::mount(
                    c"overlay".as_ptr(),
                    tgt.as_ptr(),
                    c"overlay".as_ptr(),
                    0,
                    data.as_ptr().cast(),
                ))?;
            }
            let root = File::open(target)?;
            f(root.as_raw_fd())
        })();
        let code = match result {
            Ok(()) => 0,
            Err(e) => {
                use std::io::Write;
                let mut w = w;
                let _ = w.write_all(&e.raw_os_error().unwrap_or(libc::EIO).to_ne_bytes());
                1
            }
        };
        // SAFETY: leave the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    drop(w);
    let mut st = 0;
    // SAFETY: waiting for our child.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    let mut buf = [0u8; 4];
    use std::io::Read;
    let mut r = r;
    if r.read_exact(&mut buf).is_ok() {
        return Err(io::Error::from_raw_os_error(i32::from_ne_bytes(buf)));
    }
    if !(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0) {
        return Err(io::Error::other("the copy process failed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_cannot_leave_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/passwd"), "inside\n").unwrap();
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../../../etc/passwd", root.join("rel")).unwrap();
        let rfd = File::open(&root).unwrap();
        // Reading through an absolute symlink stays inside.
        let out = t.path().join("out");
        copy_out(rfd.as_raw_fd(), "/escape/etc/passwd", &out).unwrap();
        assert_eq!(fs::read_to_string(&out).unwrap(), "inside\n");
        // A final symlink is copied as a symlink.
        let out2 = t.path().join("out2");
        copy_out(rfd.as_raw_fd(), "/rel", &out2).unwrap();
        assert!(
            fs::symlink_metadata(&out2)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // Writing through a symlinked directory lands inside the root.
        let src = t.path().join("payload");
        fs::write(&src, "x").unwrap();
        let outside = t.path().join("victim");
        fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        copy_in(&src, rfd.as_raw_fd(), "/link/payload").unwrap_or(());
        assert!(!outside.join("payload").exists());
        // A planted symlink at the destination name is replaced, not followed.
        std::os::unix::fs::symlink(outside.join("owned"), root.join("etc/target")).unwrap();
        copy_in(&src, rfd.as_raw_fd(), "/etc/target").unwrap();
        assert!(!outside.join("owned").exists());
        assert_eq!(fs::read_to_string(root.join("etc/target")).unwrap(), "x");
    }
}
