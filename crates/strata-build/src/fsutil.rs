//! File-system helpers of the worker: looking paths up through a stack of snapshot
//! directories, resolving users and groups from the image's `/etc/passwd` and
//! `/etc/group`, copying entries with Docker's COPY metadata rules, and a read-only overlay
//! view of a stage for `COPY --from`.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::{BuildError, Result, io_err};

/// Look `rel` (relative, slash-separated) up in snapshot directories given topmost first:
/// the first layer that has it wins; an overlay whiteout (char device 0/0) hides it.
pub fn lookup(lowers_top_first: &[PathBuf], rel: &str) -> Option<(PathBuf, fs::Metadata)> {
    let rel = rel.trim_start_matches('/');
    for dir in lowers_top_first {
        let p = if rel.is_empty() {
            dir.clone()
        } else {
            dir.join(rel)
        };
        if let Ok(m) = fs::symlink_metadata(&p) {
            if m.file_type().is_char_device() && m.rdev() == 0 {
                return None;
            }
            return Some((p, m));
        }
    }
    None
}

/// The uid, gid and supplementary gids for a Docker `USER`/`--chown` value (`user`,
/// `uid`, `user:group`, `uid:gid`), resolved against the image's passwd and group files.
pub fn resolve_user(lowers_top_first: &[PathBuf], spec: &str) -> Result<(u32, u32, Vec<u32>)> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = lookup(lowers_top_first, "etc/passwd")
        .and_then(|(p, _)| fs::read_to_string(p).ok())
        .unwrap_or_default();
    let groups = lookup(lowers_top_first, "etc/group")
        .and_then(|(p, _)| fs::read_to_string(p).ok())
        .unwrap_or_default();
    let entry = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && (f[0] == user || f[2] == user)).then(|| {
            (
                f[0].to_string(),
                f[2].parse::<u32>().ok(),
                f[3].parse::<u32>().ok(),
            )
        })
    });
    let (name, uid, gid) = match (entry, user.parse::<u32>()) {
        (Some((n, Some(u), Some(g))), _) => (Some(n), u, g),
        (_, Ok(u)) => (None, u, 0),
        _ => {
            return Err(BuildError::UnknownUser {
                user: user.to_string(),
            });
        }
    };
    let gid = match group {
        None => gid,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups
                .lines()
                .find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() >= 3 && f[0] == g)
                        .then(|| f[2].parse::<u32>().ok())
                        .flatten()
                })
                .ok_or_else(|| BuildError::UnknownGroup {
                    group: g.to_string(),
                })?,
        },
    };
    let mut extra = Vec::new();
    if group.is_none()
        && let Some(name) = &name
    {
        for l in groups.lines() {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() >= 4
                && f[3].split(',').any(|m| m == name)
                && let Ok(g) = f[2].parse::<u32>()
                && g != gid
            {
                extra.push(g);
            }
        }
    }
    Ok((uid, gid, extra))
}

/// The home directory a process of `uid` gets when its environment has no `HOME`: the
/// passwd entry's, or `/` without one (what runc, and so BuildKit's RUN, sets).
pub fn home_of(lowers_top_first: &[PathBuf], uid: u32) -> String {
    lookup(lowers_top_first, "etc/passwd")
        .and_then(|(p, _)| fs::read_to_string(p).ok())
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid) && !f[5].is_empty())
                .then(|| f[5].to_string())
        })
        .unwrap_or_else(|| "/".to_string())
}

/// The owner a `--chown` value gives: as [`resolve_user`], except that a numeric user
/// without a group is also the group (`--chown=1234` is 1234:1234, as BuildKit's
/// `UserOpt_ByID` gives), even when the image's passwd has that uid.
pub fn resolve_chown(lowers_top_first: &[PathBuf], spec: &str) -> Result<(u32, u32)> {
    if let Ok(uid) = spec.parse::<u32>() {
        return Ok((uid, uid));
    }
    // An empty part is id 0: `:group` is root with that group, `user:` the user with
    // group 0 (BuildKit's rules).
    match spec.split_once(':') {
        Some(("", "")) => return Ok((0, 0)),
        Some(("", group)) => {
            let (_, gid, _) = resolve_user(lowers_top_first, &format!("0:{group}"))?;
            return Ok((0, gid));
        }
        Some((user, "")) => {
            let (uid, _) = resolve_chown(lowers_top_first, user)?;
            return Ok((uid, 0));
        }
        _ => {}
    }
    if let Some((user, group)) = spec.split_once(':')
        && let Ok(uid) = user.parse::<u32>()
    {
        // A numeric user is taken as it is; only the group may need the group file.
        let (_, gid, _) = resolve_user(lowers_top_first, &format!("{uid}:{group}"))?;
        return Ok((uid, gid));
    }
    let (uid, gid, _) = resolve_user(lowers_top_first, spec)?;
    Ok((uid, gid))
}

/// Resolve container path `path` (absolute, clean) through the symlinks the image has on
/// the way, the last component included, never leaving the image's root: where a COPY
/// into `path` writes, as BuildKit resolves its destination (`fs.RootPath`). A COPY to
/// `/bin/sh`, a link to `busybox`, replaces `/bin/busybox`.
pub fn resolve_dest(lowers_top_first: &[PathBuf], path: &str) -> String {
    let parts = resolve_links(path, true, |rel| {
        let (host, m) = lookup(lowers_top_first, rel)?;
        if !m.file_type().is_symlink() {
            return None;
        }
        fs::read_link(host).ok()
    });
    format!("/{}", parts.join("/"))
}

/// Walk `path` component by component, replacing each symlink `read_link` reports (given
/// the path so far, relative to the root) by its target: an absolute target restarts at the
/// root, `..` never goes above it, at most 40 links are followed, and the last component
/// only with `follow_last`. The components of the resolved path.
fn resolve_links(
    path: &str,
    follow_last: bool,
    read_link: impl Fn(&str) -> Option<PathBuf>,
) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    let components = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty())
            .rev()
            .map(str::to_string)
            .collect()
    };
    let mut pending = components(path);
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "." => continue,
            ".." => {
                parts.pop();
                continue;
            }
            _ => {}
        }
        let rel = if parts.is_empty() {
            part.clone()
        } else {
            format!("{}/{part}", parts.join("/"))
        };
        if (follow_last || !pending.is_empty())
            && hops < 40
            && let Some(target) = read_link(&rel)
        {
            hops += 1;
            let t = target.to_string_lossy().into_owned();
            if t.starts_with('/') {
                parts.clear();
            }
            pending.extend(components(&t));
            continue;
        }
        parts.push(part);
    }
    parts
}

/// How copied entries are owned and moded.
#[derive(Debug, Clone, Default)]
pub struct CopyMeta {
    /// Owner of copied entries (Docker's COPY default is 0:0).
    pub owner: (u32, u32),
    /// `--chmod` (octal) for files and directories.
    pub chmod: Option<u32>,
    /// `--chmod` (symbolic, `u+x,go-w`), applied to each entry's own mode.
    pub symbolic: Option<String>,
}

impl CopyMeta {
    /// The mode of a directory the copy creates without a source (a missing parent or
    /// destination): 0755 whatever `--chmod` says. BuildKit creates them with
    /// `MkdirAll(dir, 0755, chown)`; `--chmod` applies to the copied entries only.
    pub fn new_dir_mode(&self) -> u32 {
        0o755
    }

    /// The mode a copied entry gets, from its source mode.
    pub fn mode_for(&self, source_mode: u32, is_dir: bool) -> u32 {
        if let Some(m) = self.chmod {
            return m;
        }
        match &self.symbolic {
            Some(s) => apply_symbolic(s, source_mode & 0o7777, is_dir),
            None => source_mode & 0o7777,
        }
    }
}

/// Apply a symbolic mode (`chmod(1)` syntax, already validated: `[ugoa]*[-+=][rwxXst]*|[ugo]`
/// clauses, comma-separated) to `mode`. Without `ugoa`, the clause applies to all (the
/// umask is not consulted, as BuildKit does).
pub fn apply_symbolic(spec: &str, mut mode: u32, is_dir: bool) -> u32 {
    for clause in spec.split(',') {
        let who_end = clause
            .find(|c| !matches!(c, 'u' | 'g' | 'o' | 'a'))
            .unwrap_or(clause.len());
        let who = &clause[..who_end];
        let mut mask = 0u32;
        for c in who.chars() {
            mask |= match c {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                _ => 0o7777,
            };
        }
        if who.is_empty() {
            mask = 0o7777;
        }
        let rest: Vec<char> = clause[who_end..].chars().collect();
        let mut i = 0;
        while i < rest.len() {
            let op = rest[i];
            i += 1;
            let mut bits = 0u32;
            // A copy of another class's permissions (`g=u`).
            if i < rest.len() && matches!(rest[i], 'u' | 'g' | 'o') {
                let src = match rest[i] {
                    'u' => (mode >> 6) & 7,
                    'g' => (mode >> 3) & 7,
                    _ => mode & 7,
                };
                bits = src | (src << 3) | (src << 6);
                i += 1;
            } else {
                let had_x = mode & 0o111 != 0;
                while i < rest.len() && !matches!(rest[i], '+' | '-' | '=') {
                    bits |= match rest[i] {
                        'r' => 0o444,
                        'w' => 0o222,
                        'x' => 0o111,
                        'X' if is_dir || had_x => 0o111,
                        's' => 0o6000,
                        't' => 0o1000,
                        _ => 0,
                    };
                    i += 1;
                }
            }
            let bits = bits & mask;
            match op {
                '+' => mode |= bits,
                '-' => mode &= !bits,
                _ => mode = (mode & !mask) | bits,
            }
        }
    }
    mode & 0o7777
}

fn lchown(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(io_err("chown", path))
}

fn set_times(path: &Path, meta: &fs::Metadata) -> Result<()> {
    let mtime = filetime::FileTime::from_last_modification_time(meta);
    filetime::set_symlink_file_times(path, mtime, mtime).map_err(io_err("set times of", path))
}

/// Copy one non-directory entry (regular file or symlink; other types are skipped) to
/// `dst`, replacing what is there.
pub fn copy_leaf(src: &Path, meta: &fs::Metadata, dst: &Path, cm: &CopyMeta) -> Result<()> {
    if let Ok(m) = fs::symlink_metadata(dst) {
        if m.is_dir() {
            fs::remove_dir_all(dst).map_err(io_err("remove", dst))?;
        } else {
            fs::remove_file(dst).map_err(io_err("remove", dst))?;
        }
    }
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = fs::read_link(src).map_err(io_err("read link", src))?;
        std::os::unix::fs::symlink(&target, dst).map_err(io_err("create symlink", dst))?;
        lchown(dst, cm.owner.0, cm.owner.1)?;
        return set_times(dst, meta);
    }
    if !ft.is_file() {
        return Ok(());
    }
    fs::copy(src, dst).map_err(io_err("copy", src))?;
    lchown(dst, cm.owner.0, cm.owner.1)?;
    let mode = cm.mode_for(meta.mode(), false);
    fs::set_permissions(dst, fs::Permissions::from_mode(mode)).map_err(io_err("chmod", dst))?;
    set_times(dst, meta)
}

/// Copy the regular file `src` (as seen through a read-only snapshot view; `real` is the
/// same file in its snapshot directory) to `dst` by making `dst` another name of `real`,
/// when that gives exactly what [`copy_leaf`] would write: same owner and mode after the
/// copy's `--chown`/`--chmod`, no extended attributes (the copy does not carry them).
/// Returns whether it linked; `false` leaves `dst` as it was, for [`copy_leaf`].
///
/// Snapshot directories are never written once committed (overlay mounts use them
/// read-only), so sharing their inodes is safe, and it spares `COPY --from` writing the
/// data of every file a second time. Never used for context files, which the user edits.
pub fn link_leaf(real: &Path, meta: &fs::Metadata, dst: &Path, cm: &CopyMeta) -> Result<bool> {
    if !meta.is_file()
        || (meta.uid(), meta.gid()) != cm.owner
        || cm.mode_for(meta.mode(), false) != meta.mode() & 0o7777
    {
        return Ok(false);
    }
    let Ok(rm) = fs::symlink_metadata(real) else {
        return Ok(false);
    };
    let same = rm.is_file()
        && rm.ino() == meta.ino()
        && rm.len() == meta.len()
        && rm.mtime() == meta.mtime()
        && rm.mtime_nsec() == meta.mtime_nsec()
        && rm.mode() == meta.mode();
    if !same || has_xattrs(real) {
        return Ok(false);
    }
    if let Ok(m) = fs::symlink_metadata(dst) {
        if m.is_dir() {
            fs::remove_dir_all(dst).map_err(io_err("remove", dst))?;
        } else {
            fs::remove_file(dst).map_err(io_err("remove", dst))?;
        }
    }
    // Another filesystem, too many links: copy instead.
    Ok(fs::hard_link(real, dst).is_ok())
}

/// Whether `path` (not followed) has extended attributes, or cannot say.
fn has_xattrs(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return true;
    };
    // SAFETY: a valid C string; a null buffer of size 0 asks only for the list's length.
    let n = unsafe { libc::llistxattr(c.as_ptr(), std::ptr::null_mut(), 0) };
    n != 0
}

/// Make `dst` another name of the file `first` (written earlier by the same copy),
/// replacing whatever is at `dst`.
pub fn hard_link(first: &Path, dst: &Path) -> Result<()> {
    if let Ok(m) = fs::symlink_metadata(dst) {
        if m.is_dir() {
            fs::remove_dir_all(dst).map_err(io_err("remove", dst))?;
        } else {
            fs::remove_file(dst).map_err(io_err("remove", dst))?;
        }
    }
    fs::hard_link(first, dst).map_err(io_err("hardlink", dst))
}

/// Create directory `dst` (or reuse it) with `meta`'s mode and times and the copy owner.
/// Times are set by [`finish_dir`] after the directory's contents are written.
pub fn make_dir(dst: &Path, meta: Option<&fs::Metadata>, cm: &CopyMeta) -> Result<()> {
    match fs::symlink_metadata(dst) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            fs::remove_file(dst).map_err(io_err("remove", dst))?;
            fs::create_dir(dst).map_err(io_err("create directory", dst))?;
        }
        Err(_) => fs::create_dir(dst).map_err(io_err("create directory", dst))?,
    }
    lchown(dst, cm.owner.0, cm.owner.1)?;
    let mode = cm.mode_for(meta.map_or(0o755, |m| m.mode()), true);
    fs::set_permissions(dst, fs::Permissions::from_mode(mode)).map_err(io_err("chmod", dst))
}

pub fn finish_dir(dst: &Path, meta: &fs::Metadata) -> Result<()> {
    set_times(dst, meta)
}

/// Every entry below `dir` with its `lstat` metadata (parents first, sorted by name), not
/// following links; errors name the path they are about.
pub(crate) fn walk(dir: &Path) -> impl Iterator<Item = Result<(walkdir::DirEntry, fs::Metadata)>> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
        .into_iter()
        .map(move |e| {
            let e = e.map_err(|e| BuildError::Copy {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })?;
            let m = e.metadata().map_err(|err| BuildError::Copy {
                path: e.path().display().to_string(),
                reason: err.to_string(),
            })?;
            Ok((e, m))
        })
}

/// Copy the tree at `src` (whose metadata is `meta`) to `dst`, keeping owners, modes,
/// times and symlinks (never followed).
pub fn copy_tree(src: &Path, meta: &fs::Metadata, dst: &Path) -> Result<()> {
    let keep = |m: &fs::Metadata| CopyMeta {
        owner: (m.uid(), m.gid()),
        chmod: None,
        symbolic: None,
    };
    if !meta.is_dir() {
        return copy_leaf(src, meta, dst, &keep(meta));
    }
    make_dir(dst, Some(meta), &keep(meta))?;
    let mut dirs = Vec::new();
    for e in walk(src) {
        let (e, m) = e?;
        let rel = e.path().strip_prefix(src).unwrap_or(e.path());
        let d = dst.join(rel);
        if m.is_dir() {
            make_dir(&d, Some(&m), &keep(&m))?;
            dirs.push((d, m));
        } else {
            copy_leaf(e.path(), &m, &d, &keep(&m))?;
        }
    }
    for (d, m) in dirs.iter().rev() {
        finish_dir(d, m)?;
    }
    finish_dir(dst, meta)
}

/// Create the parents of container path `dest` inside the fresh layer directory `layer`,
/// taking each existing parent's metadata from the image (so the layer does not change
/// them); new ones are owned by the copy's owner (`--chown`) and get its octal `--chmod`
/// (else 0755), as BuildKit creates them.
pub fn make_parents(
    layer: &Path,
    lowers_top_first: &[PathBuf],
    dest: &str,
    cm: &CopyMeta,
) -> Result<()> {
    let mut rel = String::new();
    let parts: Vec<&str> = dest.split('/').filter(|p| !p.is_empty()).collect();
    for part in parts.iter().take(parts.len().saturating_sub(1)) {
        if !rel.is_empty() {
            rel.push('/');
        }
        rel.push_str(part);
        let p = layer.join(&rel);
        // Not `is_dir`: a symlink the copy wrote must not lead the next entries out of
        // the layer directory; creating the parent then fails on it.
        if fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        match lookup(lowers_top_first, &rel) {
            Some((_, m)) if m.is_dir() => {
                fs::create_dir(&p).map_err(io_err("create directory", &p))?;
                lchown(&p, m.uid(), m.gid())?;
                fs::set_permissions(&p, fs::Permissions::from_mode(m.mode() & 0o7777))
                    .map_err(io_err("chmod", &p))?;
                set_times(&p, &m)?;
            }
            _ => {
                fs::create_dir(&p).map_err(io_err("create directory", &p))?;
                lchown(&p, cm.owner.0, cm.owner.1)?;
                fs::set_permissions(&p, fs::Permissions::from_mode(cm.new_dir_mode()))
                    .map_err(io_err("chmod", &p))?;
            }
        }
    }
    Ok(())
}

/// A read-only overlay of snapshot directories, unmounted on drop. A single directory is
/// used as it is.
#[derive(Debug)]
pub struct View {
    path: PathBuf,
    mounted: bool,
    _tmp: Option<crate::snapshot::TempDir>,
}

impl View {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn open(
        snapshots: &crate::snapshot::Snapshots,
        lowers_top_first: &[PathBuf],
    ) -> Result<View> {
        match lowers_top_first {
            [] => Ok(View {
                path: snapshots.empty()?,
                mounted: false,
                _tmp: None,
            }),
            [one] => Ok(View {
                path: one.clone(),
                mounted: false,
                _tmp: None,
            }),
            many => {
                let tmp = snapshots.temp()?;
                let lowers: Vec<String> = many.iter().map(|p| p.display().to_string()).collect();
                let data = format!("lowerdir={}", lowers.join(":"));
                let c = |s: &[u8]| {
                    CString::new(s).map_err(|_| BuildError::Copy {
                        path: String::from_utf8_lossy(s).into_owned(),
                        reason: "path contains a NUL byte".into(),
                    })
                };
                let target = c(tmp.path().as_os_str().as_bytes())?;
                let data_c = c(data.as_bytes())?;
                // SAFETY: valid C strings; a read-only overlay of our own snapshot dirs.
                let r = unsafe {
                    libc::mount(
                        c"overlay".as_ptr(),
                        target.as_ptr(),
                        c"overlay".as_ptr(),
                        libc::MS_RDONLY,
                        data_c.as_ptr().cast(),
                    )
                };
                if r != 0 {
                    return Err(io_err("mount a view of", tmp.path())(
                        std::io::Error::last_os_error(),
                    ));
                }
                Ok(View {
                    path: tmp.path().to_path_buf(),
                    mounted: true,
                    _tmp: Some(tmp),
                })
            }
        }
    }
}

impl Drop for View {
    fn drop(&mut self) {
        if self.mounted
            && let Ok(c) = CString::new(self.path.as_os_str().as_bytes())
        {
            // SAFETY: valid C string.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// Resolve container path `rel` inside `root` without ever leaving it: symlinks in the
/// path are followed relative to `root` (absolute targets restart at `root`, `..` stops at
/// it), as a container would see them.
pub fn resolve_in(root: &Path, rel: &str, follow_last: bool) -> PathBuf {
    let parts = resolve_links(rel, follow_last, |p| fs::read_link(root.join(p)).ok());
    root.join(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_respects_whiteouts_and_order() {
        let d = tempfile::tempdir().unwrap();
        let (top, bottom) = (d.path().join("top"), d.path().join("bottom"));
        fs::create_dir_all(top.join("etc")).unwrap();
        fs::create_dir_all(bottom.join("etc")).unwrap();
        fs::write(
            bottom.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/app:/bin/sh\n",
        )
        .unwrap();
        fs::write(
            bottom.join("etc/group"),
            "root:x:0:\napp:x:1001:\nextra:x:2000:app\n",
        )
        .unwrap();
        let lowers = vec![top.clone(), bottom.clone()];
        assert_eq!(
            resolve_user(&lowers, "app").unwrap(),
            (1000, 1001, vec![2000])
        );
        assert_eq!(
            resolve_user(&lowers, "app:extra").unwrap(),
            (1000, 2000, vec![])
        );
        assert_eq!(resolve_user(&lowers, "42").unwrap(), (42, 0, vec![]));
        assert_eq!(resolve_user(&lowers, "1000:7").unwrap(), (1000, 7, vec![]));
        assert!(matches!(
            resolve_user(&lowers, "ghost"),
            Err(BuildError::UnknownUser { .. })
        ));
        fs::write(top.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        assert!(resolve_user(&lowers, "app").is_err());
    }

    #[test]
    fn symbolic_modes() {
        assert_eq!(apply_symbolic("u+x", 0o644, false), 0o744);
        assert_eq!(apply_symbolic("go-r", 0o644, false), 0o600);
        assert_eq!(apply_symbolic("a=rX", 0o644, false), 0o444);
        assert_eq!(apply_symbolic("a=rX", 0o644, true), 0o555);
        assert_eq!(apply_symbolic("a+X", 0o744, false), 0o755);
        assert_eq!(apply_symbolic("u=rwx,g=u,o=", 0o000, false), 0o770);
        assert_eq!(apply_symbolic("+x", 0o600, false), 0o711);
        assert_eq!(apply_symbolic("u+s", 0o755, false), 0o4755);
    }

    #[test]
    fn resolve_in_never_leaves_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("a/abs")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("a/b/up")).unwrap();
        assert_eq!(
            resolve_in(root, "/a/abs/passwd", true),
            root.join("etc/passwd")
        );
        assert_eq!(resolve_in(root, "a/b/up/x", true), root.join("x"));
        assert_eq!(resolve_in(root, "a/abs", false), root.join("a/abs"));
    }
}
