//! Safe extraction of a layer into a directory.
//!
//! Every entry is first checked by the same rules as [`crate::validate()`] (so a layer that
//! fails validation fails here at the same entry), then created relative to a directory
//! fd resolved inside the root (see `resolve.rs`): no symlink, from this layer or a lower
//! one, can lead a write outside the destination.
//!
//! Semantics follow Docker's layer extraction:
//! - an existing entry is replaced (removed, recursively for a directory), except that a
//!   directory entry over an existing directory merges into it and updates its metadata;
//! - missing parent directories are created with mode 0755;
//! - ownership is set only when [`ApplyOptions::chown`] (meaningful as root); modes always;
//!   extended attributes where the filesystem allows (`ENOTSUP`/`EPERM` are ignored, as
//!   Docker does; xattrs of symlinks and devices are skipped); access and modification
//!   times with nanoseconds, on directories only after all their contents were written;
//! - hardlinks link to the earlier entry; devices and FIFOs only with
//!   [`ApplyOptions::allow_devices`].
//!
//! Whiteouts ([`WhiteoutMode`]):
//! - [`WhiteoutMode::Delete`] — for a flat root filesystem where layers are applied one
//!   over another into the same directory (the copy snapshotter, `strata export`, rootless
//!   set-ups without overlayfs): `.wh.NAME` deletes `NAME`; `.wh..wh..opq` deletes everything
//!   in its directory that this layer did not itself put there.
//! - [`WhiteoutMode::Overlay`] — when each layer is unpacked into its own empty snapshot
//!   directory that later serves as an overlayfs lowerdir: deletions cannot be carried
//!   out (the lower content lives in another directory), so they are recorded the way
//!   overlayfs reads them: a character device 0/0 named `NAME`, and the xattr
//!   `trusted.overlay.opaque=y` (or `user.overlay.opaque=y` for `userxattr` mounts in a
//!   user namespace) on an opaque directory.
//!
//! A failed apply leaves a partial tree: callers extract into a fresh directory and
//! rename it into place on success.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid, XattrFlags};
use rustix::io::Errno;

use crate::error::LayerError;
use crate::read::{LayerStream, Time};
use crate::resolve::{Root, remove_all};
use crate::validate::{Checker, Entry, Kind, LayerSummary, split_last};

/// How whiteouts are applied; see the module docs for when each is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhiteoutMode {
    /// Delete the whited-out paths (flat root filesystems).
    #[default]
    Delete,
    /// Record overlayfs whiteouts (per-layer snapshot directories used as lowerdirs).
    Overlay {
        /// Use `user.overlay.*` xattrs (overlayfs `userxattr`, rootless) instead of
        /// `trusted.overlay.*`.
        user_xattr: bool,
    },
}

/// Options of [`apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApplyOptions {
    /// Create character/block devices and FIFOs (and accept them at all).
    pub allow_devices: bool,
    /// Set the owner recorded in the layer (needs root or CAP_CHOWN).
    pub chown: bool,
    pub whiteouts: WhiteoutMode,
}

impl ApplyOptions {
    /// Devices and ownership when running as root, neither otherwise; deleting whiteouts.
    pub fn for_current_user() -> Self {
        let root = rustix::process::geteuid().is_root();
        ApplyOptions {
            allow_devices: root,
            chown: root,
            whiteouts: WhiteoutMode::Delete,
        }
    }
}

/// Directory metadata applied after all entries (writing into a directory changes its
/// mtime, and a read-only mode would stop its own extraction).
struct DeferredDir {
    path: Vec<u8>,
    mode: u32,
    mtime: Time,
    atime: Option<Time>,
}

struct Extractor<'o> {
    root: Root,
    options: &'o ApplyOptions,
    /// Paths this layer created: an opaque whiteout keeps them.
    unpacked: HashSet<Vec<u8>>,
    dirs: Vec<DeferredDir>,
    buf: Vec<u8>,
}

/// Extract a layer (any supported compression) into the existing directory `dest`.
pub fn apply<R: Read>(
    r: R,
    dest: &std::path::Path,
    options: &ApplyOptions,
) -> Result<LayerSummary, LayerError> {
    let root = Root::open(dest).map_err(|e| LayerError::io("open", dest, e))?;
    apply_in(r, root, options)
}

pub(crate) fn apply_in<R: Read>(
    r: R,
    root: Root,
    options: &ApplyOptions,
) -> Result<LayerSummary, LayerError> {
    let mut stream = LayerStream::open(r)?;
    let mut checker = Checker::new(options.allow_devices);
    let mut x = Extractor {
        root,
        options,
        unpacked: HashSet::new(),
        dirs: Vec::new(),
        buf: vec![0u8; 256 * 1024],
    };
    let mut entries = 0;
    while let Some(header) = stream.tar.next()? {
        let entry = checker.check(header)?;
        entries += 1;
        match entry.kind {
            Kind::Skip => {}
            Kind::Whiteout => x.whiteout(&entry)?,
            Kind::Opaque => x.opaque(&entry)?,
            _ => x.extract(&entry, &mut stream)?,
        }
    }
    x.finish_dirs()?;
    let compression = stream.compression;
    let (diff_id, uncompressed_size) = stream.finish()?;
    Ok(LayerSummary {
        entries,
        uncompressed_size,
        diff_id,
        compression,
    })
}

fn timespec(t: Time) -> Timespec {
    Timespec {
        tv_sec: t.secs,
        tv_nsec: i64::from(t.nanos),
    }
}

fn timestamps(mtime: Time, atime: Option<Time>) -> Timestamps {
    Timestamps {
        last_access: timespec(atime.unwrap_or(mtime)),
        last_modification: timespec(mtime),
    }
}

/// Extended-attribute errors that mean "not here", not "failed": ignored like Docker does.
fn xattr_unsupported(e: Errno) -> bool {
    matches!(e, Errno::NOTSUP | Errno::PERM)
}

impl Extractor<'_> {
    fn err(&self, op: &'static str, path: &[u8], e: impl Into<std::io::Error>) -> LayerError {
        LayerError::io(op, self.root.host(path), e.into())
    }

    fn parent(
        &mut self,
        path: &[u8],
        create: bool,
    ) -> Result<Option<std::rc::Rc<OwnedFd>>, LayerError> {
        let (dir, _) = split_last(path);
        self.root
            .dir(dir, create)
            .map_err(|e| LayerError::io("resolve", self.root.host(dir), e))
    }

    fn owner(&self, e: &Entry) -> Result<(Option<Uid>, Option<Gid>), LayerError> {
        if !self.options.chown {
            return Ok((None, None));
        }
        let uid = u32::try_from(e.uid).map_err(|_| self.err("chown", &e.path, Errno::INVAL))?;
        let gid = u32::try_from(e.gid).map_err(|_| self.err("chown", &e.path, Errno::INVAL))?;
        Ok((Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid))))
    }

    fn set_xattrs(&self, fd: BorrowedFd<'_>, e: &Entry) -> Result<(), LayerError> {
        for (name, value) in &e.xattrs {
            match rustix::fs::fsetxattr(fd, name.as_slice(), value, XattrFlags::empty()) {
                Ok(()) => {}
                Err(err) if xattr_unsupported(err) => {}
                Err(err) => return Err(self.err("set extended attribute on", &e.path, err)),
            }
        }
        Ok(())
    }

    fn extract<R: Read>(
        &mut self,
        e: &Entry,
        stream: &mut LayerStream<R>,
    ) -> Result<(), LayerError> {
        if e.path.is_empty() {
            // The root entry: metadata only.
            let fd = rustix::fs::openat(
                self.root.fd(),
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|err| self.err("open", &e.path, err))?;
            self.dir_metadata(&fd, e)?;
            return Ok(());
        }
        // A hardlink's target is resolved first: the parent fd below is then borrowed.
        let link_source = match &e.kind {
            Kind::Hardlink(target) => {
                let (tdir, tname) = split_last(target);
                let fd = self
                    .root
                    .resolve(tdir)
                    .map_err(|err| self.err("resolve", tdir, err))?;
                Some((fd, tname.to_vec()))
            }
            _ => None,
        };
        let parent = self
            .parent(&e.path, true)?
            .ok_or_else(|| self.err("resolve", &e.path, Errno::NOENT))?;
        let parent = parent.as_fd();
        let (_, name) = split_last(&e.path);

        // Replace what is there, unless a directory meets a directory.
        let mut merge = false;
        match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => {
                let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
                if is_dir && e.kind == Kind::Dir {
                    merge = true;
                } else {
                    remove_all(parent, name).map_err(|err| self.err("remove", &e.path, err))?;
                    self.root.invalidate();
                }
            }
            Err(Errno::NOENT) => {}
            Err(err) => return Err(self.err("stat", &e.path, err)),
        }
        let (uid, gid) = self.owner(e)?;
        let perm = Mode::from_raw_mode(e.mode & 0o7777);
        let times = timestamps(e.mtime, e.atime);

        match &e.kind {
            Kind::Dir => {
                if !merge {
                    // Owner-writable while we fill it; the real mode comes at the end.
                    rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o700))
                        .map_err(|err| self.err("create directory", &e.path, err))?;
                }
                let fd = rustix::fs::openat(
                    parent,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|err| self.err("open", &e.path, err))?;
                self.dir_metadata(&fd, e)?;
            }
            Kind::File => {
                let fd = rustix::fs::openat(
                    parent,
                    name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|err| self.err("create", &e.path, err))?;
                let mut file = File::from(fd);
                loop {
                    let n = stream.tar.read_data(&mut self.buf)?;
                    if n == 0 {
                        break;
                    }
                    file.write_all(&self.buf[..n])
                        .map_err(|err| self.err("write", &e.path, err))?;
                }
                if uid.is_some() {
                    rustix::fs::fchown(&file, uid, gid)
                        .map_err(|err| self.err("chown", &e.path, err))?;
                }
                // After chown, which clears set-user-ID bits.
                rustix::fs::fchmod(&file, perm).map_err(|err| self.err("chmod", &e.path, err))?;
                self.set_xattrs(file.as_fd(), e)?;
                rustix::fs::futimens(&file, &times)
                    .map_err(|err| self.err("set times of", &e.path, err))?;
            }
            Kind::Symlink(target) => {
                rustix::fs::symlinkat(target.as_slice(), parent, name)
                    .map_err(|err| self.err("create symlink", &e.path, err))?;
                if uid.is_some() {
                    rustix::fs::chownat(parent, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
                        .map_err(|err| self.err("chown", &e.path, err))?;
                }
                rustix::fs::utimensat(parent, name, &times, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|err| self.err("set times of", &e.path, err))?;
            }
            Kind::Hardlink(target) => {
                let Some((tparent, tname)) = &link_source else {
                    return Err(self.err("link", &e.path, Errno::INVAL));
                };
                rustix::fs::linkat(tparent, tname.as_slice(), parent, name, AtFlags::empty())
                    .map_err(|err| LayerError::Io {
                        op: "hardlink",
                        path: self.root.host(&e.path),
                        source: std::io::Error::other(format!(
                            "to {}: {err}",
                            self.root.host(target).display()
                        )),
                    })?;
            }
            Kind::Char(major, minor) | Kind::Block(major, minor) => {
                let ft = if matches!(e.kind, Kind::Char(..)) {
                    FileType::CharacterDevice
                } else {
                    FileType::BlockDevice
                };
                let dev = rustix::fs::makedev(*major, *minor);
                self.special(parent, name, e, ft, dev, uid, gid, perm, &times)?;
            }
            Kind::Fifo => {
                self.special(parent, name, e, FileType::Fifo, 0, uid, gid, perm, &times)?;
            }
            Kind::Whiteout | Kind::Opaque | Kind::Skip => {}
        }
        self.unpacked.insert(e.path.clone());
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn special(
        &self,
        parent: BorrowedFd<'_>,
        name: &[u8],
        e: &Entry,
        ft: FileType,
        dev: u64,
        uid: Option<Uid>,
        gid: Option<Gid>,
        perm: Mode,
        times: &Timestamps,
    ) -> Result<(), LayerError> {
        rustix::fs::mknodat(parent, name, ft, perm, dev)
            .map_err(|err| self.err("create device", &e.path, err))?;
        if uid.is_some() {
            rustix::fs::chownat(parent, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|err| self.err("chown", &e.path, err))?;
        }
        // mknod applied the umask; the node is ours and cannot be a symlink.
        rustix::fs::chmodat(parent, name, perm, AtFlags::empty())
            .map_err(|err| self.err("chmod", &e.path, err))?;
        rustix::fs::utimensat(parent, name, times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|err| self.err("set times of", &e.path, err))?;
        Ok(())
    }

    /// Owner and xattrs now; mode and times deferred to [`Self::finish_dirs`].
    fn dir_metadata(&mut self, fd: &OwnedFd, e: &Entry) -> Result<(), LayerError> {
        let (uid, gid) = self.owner(e)?;
        if uid.is_some() {
            rustix::fs::fchown(fd, uid, gid).map_err(|err| self.err("chown", &e.path, err))?;
        }
        self.set_xattrs(fd.as_fd(), e)?;
        self.dirs.push(DeferredDir {
            path: e.path.clone(),
            mode: e.mode & 0o7777,
            mtime: e.mtime,
            atime: e.atime,
        });
        Ok(())
    }

    fn finish_dirs(&mut self) -> Result<(), LayerError> {
        // Deepest first, so a restrictive parent mode cannot block its children.
        let mut dirs = std::mem::take(&mut self.dirs);
        dirs.sort_by_key(|d| {
            std::cmp::Reverse(
                d.path.iter().filter(|&&c| c == b'/').count() + usize::from(!d.path.is_empty()),
            )
        });
        for d in dirs {
            let fd = if d.path.is_empty() {
                rustix::fs::openat(
                    self.root.fd(),
                    ".",
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
            } else {
                let Some(parent) = self.parent(&d.path, false)? else {
                    continue; // removed later in the layer
                };
                let (_, name) = split_last(&d.path);
                rustix::fs::openat(
                    &*parent,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
            };
            let fd = match fd {
                Ok(fd) => fd,
                // Replaced by a non-directory or removed by a later entry.
                Err(Errno::NOENT) | Err(Errno::NOTDIR) | Err(Errno::LOOP) => continue,
                Err(err) => return Err(self.err("open", &d.path, err)),
            };
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(d.mode))
                .map_err(|err| self.err("chmod", &d.path, err))?;
            rustix::fs::futimens(&fd, &timestamps(d.mtime, d.atime))
                .map_err(|err| self.err("set times of", &d.path, err))?;
        }
        Ok(())
    }

    fn whiteout(&mut self, e: &Entry) -> Result<(), LayerError> {
        let (_, name) = split_last(&e.path);
        match self.options.whiteouts {
            WhiteoutMode::Delete => {
                let Some(parent) = self.parent(&e.path, false)? else {
                    return Ok(()); // nothing below to delete
                };
                remove_all(parent.as_fd(), name).map_err(|err| self.err("remove", &e.path, err))?;
                self.root.invalidate();
            }
            WhiteoutMode::Overlay { .. } => {
                let parent = self
                    .parent(&e.path, true)?
                    .ok_or_else(|| self.err("resolve", &e.path, Errno::NOENT))?;
                remove_all(parent.as_fd(), name).map_err(|err| self.err("remove", &e.path, err))?;
                self.root.invalidate();
                rustix::fs::mknodat(
                    parent.as_fd(),
                    name,
                    FileType::CharacterDevice,
                    Mode::empty(),
                    rustix::fs::makedev(0, 0),
                )
                .map_err(|err| self.err("create whiteout", &e.path, err))?;
            }
        }
        Ok(())
    }

    fn opaque(&mut self, e: &Entry) -> Result<(), LayerError> {
        match self.options.whiteouts {
            WhiteoutMode::Delete => {
                // The directory itself is not followed if it is a (lower) symlink: there
                // is no directory of this path to clear then.
                let opened = if e.path.is_empty() {
                    rustix::fs::openat(
                        self.root.fd(),
                        ".",
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                } else {
                    let Some(parent) = self.parent(&e.path, false)? else {
                        return Ok(());
                    };
                    rustix::fs::openat(
                        &*parent,
                        split_last(&e.path).1,
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                };
                let dir = match opened {
                    Ok(fd) => fd,
                    Err(Errno::NOENT) | Err(Errno::NOTDIR) | Err(Errno::LOOP) => return Ok(()),
                    Err(err) => return Err(self.err("open", &e.path, err)),
                };
                self.clear_lower(dir, &e.path)?;
                self.root.invalidate();
            }
            WhiteoutMode::Overlay { user_xattr } => {
                let dir = self
                    .root
                    .dir(&e.path, true)
                    .map_err(|err| self.err("resolve", &e.path, err))?
                    .ok_or_else(|| self.err("resolve", &e.path, Errno::NOENT))?;
                let dir = rustix::fs::openat(
                    &*dir,
                    ".",
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|err| self.err("open", &e.path, err))?;
                let key = if user_xattr {
                    "user.overlay.opaque"
                } else {
                    "trusted.overlay.opaque"
                };
                rustix::fs::fsetxattr(&dir, key, b"y", XattrFlags::empty())
                    .map_err(|err| self.err("mark opaque", &e.path, err))?;
            }
        }
        Ok(())
    }

    /// Remove everything under `path` that this layer did not create (walking into the
    /// directories it did create), as Docker does for an opaque whiteout.
    fn clear_lower(&self, dir: OwnedFd, path: &[u8]) -> Result<(), LayerError> {
        let mut stack = vec![(dir, path.to_vec())];
        while let Some((fd, path)) = stack.pop() {
            let mut names = Vec::new();
            for entry in rustix::fs::Dir::read_from(&fd)
                .map_err(|err| self.err("read directory", &path, err))?
            {
                let entry = entry.map_err(|err| self.err("read directory", &path, err))?;
                let name = entry.file_name().to_bytes();
                if name != b"." && name != b".." {
                    names.push(name.to_vec());
                }
            }
            for name in names {
                let child = if path.is_empty() {
                    name.clone()
                } else {
                    [&path[..], b"/", &name].concat()
                };
                if !self.unpacked.contains(&child) {
                    remove_all(fd.as_fd(), &name).map_err(|err| self.err("remove", &child, err))?;
                    continue;
                }
                match rustix::fs::openat(
                    &fd,
                    name.as_slice(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(sub) => stack.push((sub, child)),
                    Err(Errno::NOTDIR) | Err(Errno::LOOP) => {}
                    Err(err) => return Err(self.err("open", &child, err)),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::create::{CreateOptions, create};
    use std::os::unix::fs::symlink;

    /// The component-wise resolver (kernels without `openat2`) extracts the same tree,
    /// including through symlinks of a lower layer.
    #[test]
    fn component_walk_matches_openat2() {
        let src = tempfile::tempdir().unwrap();
        let p = src.path();
        std::fs::create_dir_all(p.join("usr/lib/deep/er")).unwrap();
        std::fs::write(p.join("usr/lib/deep/er/f"), b"x").unwrap();
        symlink("usr/lib", p.join("lib")).unwrap();
        symlink("/usr/lib/deep", p.join("usr/shortcut")).unwrap();
        let mut layer = Vec::new();
        create(p, &mut layer, &CreateOptions::default()).unwrap();

        // A second layer writing through the lower symlinks, and one climbing with `..`.
        let mut upper = tar::Builder::new(Vec::new());
        for (name, data) in [("lib/via-link", &b"1"[..]), ("usr/shortcut/er/g", b"2")] {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            upper.append_data(&mut h, name, data).unwrap();
        }
        let upper = upper.into_inner().unwrap();

        let mut trees = Vec::new();
        for manual in [false, true] {
            let dest = tempfile::tempdir().unwrap();
            for l in [&layer, &upper] {
                let mut root = Root::open(dest.path()).unwrap();
                if manual {
                    root.force_manual();
                }
                apply_in(&l[..], root, &ApplyOptions::default()).unwrap();
            }
            assert_eq!(
                std::fs::read(dest.path().join("usr/lib/via-link")).unwrap(),
                b"1"
            );
            assert_eq!(
                std::fs::read(dest.path().join("usr/lib/deep/er/g")).unwrap(),
                b"2"
            );
            let mut out = Vec::new();
            create(dest.path(), &mut out, &CreateOptions::default()).unwrap();
            trees.push(out);
        }
        assert!(trees[0] == trees[1]);

        // Climbing symlinks stay inside the root with the manual walk too.
        let dest = tempfile::tempdir().unwrap();
        let root_dir = dest.path().join("r");
        std::fs::create_dir(&root_dir).unwrap();
        symlink("../../../../..", root_dir.join("up")).unwrap();
        let mut evil = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_cksum();
        evil.append_data(&mut h, "up/pwned", &b"x"[..]).unwrap();
        let evil = evil.into_inner().unwrap();
        let mut root = Root::open(&root_dir).unwrap();
        root.force_manual();
        apply_in(&evil[..], root, &ApplyOptions::default()).unwrap();
        assert!(root_dir.join("pwned").exists());
        assert!(!dest.path().join("pwned").exists());
    }
}
