//! Path resolution confined to a root directory, and safe recursive removal.
//!
//! Extraction must never let a symlink (from this layer or a lower one) lead a write
//! outside the root. Every operation of [`crate::apply()`] works on a directory fd obtained
//! here plus one final path component, with `*at` syscalls that do not follow that last
//! component. Parent directories are resolved as if the root were `/` — symlinks inside the
//! root are followed the way a container (or Docker's chrooted extractor) sees them, and
//! `..` stops at the root:
//! - with `openat2(RESOLVE_IN_ROOT)` (Linux ≥ 5.6), one syscall per path, atomic;
//! - otherwise component by component with `O_NOFOLLOW`, resolving symlinks ourselves
//!   against the root fd (at most 40 links, as the kernel allows).
//!
//! The last resolved directory is cached: consecutive tar entries nearly always share it.
//! The cache is dropped whenever extraction removes something, since that is the only way
//! an already resolved path can change meaning.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

const MAX_LINKS: usize = 40;

pub(crate) struct Root {
    fd: OwnedFd,
    path: PathBuf,
    openat2: bool,
    cache: Option<(Vec<u8>, Rc<OwnedFd>)>,
}

fn dir_flags() -> OFlags {
    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC
}

impl Root {
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let openat2 = match rustix::fs::openat2(
            &fd,
            ".",
            dir_flags(),
            Mode::empty(),
            ResolveFlags::IN_ROOT,
        ) {
            Ok(_) => true,
            Err(Errno::NOSYS) | Err(Errno::PERM) => false,
            Err(e) => return Err(e.into()),
        };
        Ok(Root {
            fd,
            path: path.to_path_buf(),
            openat2,
            cache: None,
        })
    }

    /// Use component-wise resolution even where `openat2` exists (tests cover both).
    #[cfg(test)]
    pub(crate) fn force_manual(&mut self) {
        self.openat2 = false;
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Where a root-relative path is on the host, for messages only.
    pub fn host(&self, rel: &[u8]) -> PathBuf {
        if rel.is_empty() {
            self.path.clone()
        } else {
            self.path.join(OsStr::from_bytes(rel))
        }
    }

    /// Forget the cached directory (call after removing anything).
    pub fn invalidate(&mut self) {
        self.cache = None;
    }

    /// Resolve directory `dir` (a normalised relative path) inside the root. Missing
    /// directories are created with mode 0755 when `create`, else `Ok(None)`.
    pub fn dir(&mut self, dir: &[u8], create: bool) -> io::Result<Option<Rc<OwnedFd>>> {
        if let Some((path, fd)) = &self.cache
            && path == dir
        {
            return Ok(Some(Rc::clone(fd)));
        }
        let fd = match self.resolve(dir) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if create => self.create_dirs(dir)?,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let fd = Rc::new(fd);
        self.cache = Some((dir.to_vec(), Rc::clone(&fd)));
        Ok(Some(fd))
    }

    /// Create the missing directories of `dir`, one prefix at a time.
    fn create_dirs(&self, dir: &[u8]) -> io::Result<OwnedFd> {
        let mut current = rustix::fs::openat(&self.fd, ".", dir_flags(), Mode::empty())?;
        let mut end = 0;
        for comp in dir.split(|&c| c == b'/') {
            end += comp.len();
            let prefix = &dir[..end];
            end += 1;
            current = match self.resolve(prefix) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => {
                    match rustix::fs::mkdirat(&current, comp, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    self.resolve(prefix)?
                }
                Err(e) => return Err(e.into()),
            };
        }
        Ok(current)
    }

    /// Resolve without the cache.
    pub fn resolve(&self, dir: &[u8]) -> Result<OwnedFd, Errno> {
        if dir.is_empty() {
            return rustix::fs::openat(&self.fd, ".", dir_flags(), Mode::empty());
        }
        if self.openat2 {
            let flags = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
            // EAGAIN: a concurrent rename raced the `..` checks; the kernel asks to retry.
            let mut tries = 0;
            loop {
                match rustix::fs::openat2(&self.fd, dir, dir_flags(), Mode::empty(), flags) {
                    Err(Errno::AGAIN) if tries < 16 => tries += 1,
                    other => return other,
                }
            }
        }
        self.walk(dir)
    }

    /// Component-wise resolution with our own symlink handling, confined to the root.
    fn walk(&self, dir: &[u8]) -> Result<OwnedFd, Errno> {
        let mut stack: Vec<OwnedFd> = Vec::new();
        let mut todo: Vec<Vec<u8>> = dir
            .split(|&c| c == b'/')
            .rev()
            .map(<[u8]>::to_vec)
            .collect();
        let mut links = 0;
        while let Some(comp) = todo.pop() {
            match comp.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    // `..` of the root is the root.
                    stack.pop();
                    continue;
                }
                _ => {}
            }
            let cur = stack.last().map_or(self.fd.as_fd(), |f| f.as_fd());
            match rustix::fs::openat(
                cur,
                comp.as_slice(),
                dir_flags() | OFlags::NOFOLLOW,
                Mode::empty(),
            ) {
                Ok(fd) => stack.push(fd),
                Err(Errno::LOOP) | Err(Errno::NOTDIR) => {
                    let target = match rustix::fs::readlinkat(cur, comp.as_slice(), Vec::new()) {
                        Ok(t) => t.into_bytes(),
                        Err(_) => return Err(Errno::NOTDIR),
                    };
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(Errno::LOOP);
                    }
                    if target.first() == Some(&b'/') {
                        stack.clear();
                    }
                    todo.extend(target.split(|&c| c == b'/').rev().map(<[u8]>::to_vec));
                }
                Err(e) => return Err(e),
            }
        }
        match stack.pop() {
            Some(fd) => Ok(fd),
            None => rustix::fs::openat(&self.fd, ".", dir_flags(), Mode::empty()),
        }
    }
}

fn open_dir_nofollow(parent: BorrowedFd<'_>, name: &[u8]) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Remove `name` in `parent` and, for a directory, everything below it — without
/// following symlinks and without recursion (a hostile tree may be very deep).
pub(crate) fn remove_all(parent: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    match rustix::fs::unlinkat(parent, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR) => {}
        Err(e) => return Err(e.into()),
    }
    // Post-order walk with an explicit stack of open directories.
    let mut stack: Vec<(OwnedFd, Vec<u8>)> =
        vec![(open_dir_nofollow(parent, name)?, name.to_vec())];
    while let Some((dir, _)) = stack.last() {
        let mut descend = None;
        for entry in rustix::fs::Dir::read_from(dir)? {
            let entry = entry?;
            let child = entry.file_name().to_bytes();
            if child == b"." || child == b".." {
                continue;
            }
            match rustix::fs::unlinkat(dir, child, AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(Errno::ISDIR) => {
                    descend = Some(child.to_vec());
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        match descend {
            Some(child) => {
                let fd = open_dir_nofollow(dir.as_fd(), &child)?;
                stack.push((fd, child));
            }
            None => {
                let (_, done) = stack.pop().ok_or(Errno::INVAL)?;
                let up = stack.last().map_or(parent, |(fd, _)| fd.as_fd());
                match rustix::fs::unlinkat(up, done.as_slice(), AtFlags::REMOVEDIR) {
                    Ok(()) | Err(Errno::NOENT) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(())
}
