//! Stream validation of a layer: every rule [`crate::apply()`] relies on, checked without
//! touching the filesystem and without buffering file contents.
//!
//! Rules (each refusal is an [`EntryProblem`] naming the entry as written in the archive):
//! - names are relative and have no `..` component (`./` prefixes and `.` components are
//!   fine); the root (`.` or `./`) may only be a directory;
//! - a symlink's relative target must not climb above the root, counted from the symlink's
//!   directory as Docker does (absolute targets are fine: they resolve inside the root);
//! - a hardlink's target must be relative, without `..`, and an earlier non-directory entry
//!   of the same layer (the OCI changeset rule; Docker's and BuildKit's differs write a
//!   file's first occurrence in full);
//! - no entry (or hardlink target) may have a path through a symlink that this layer
//!   defined earlier: that is how a layer writes outside the root on a naive extractor;
//! - devices and FIFOs only when [`ValidateOptions::allow_devices`];
//! - regular files, hardlinks, symlinks, directories, character/block devices and FIFOs
//!   are the supported types (contiguous files count as regular); PAX and GNU long-name
//!   headers are understood; GNU sparse files and volume headers are refused;
//! - whiteouts: `.wh.NAME` deletes `NAME`, `.wh..wh..opq` makes its directory opaque,
//!   other `.wh..wh.*` names are aufs metadata and ignored.

use std::collections::HashSet;
use std::io::Read;

use strata_oci::Digest;

use crate::compression::Compression;
use crate::error::{EntryProblem, LayerError};
use crate::read::{Header, LayerStream, Time};
use crate::{WHITEOUT_META_PREFIX, WHITEOUT_OPAQUE, WHITEOUT_PREFIX};

/// What may appear in a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValidateOptions {
    /// Accept character and block devices and FIFOs (only a privileged caller can create
    /// them). Defaults to `false`.
    pub allow_devices: bool,
}

/// What a validated (or applied) layer contained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSummary {
    /// Filesystem entries, including whiteouts (extension headers are not counted).
    pub entries: u64,
    /// Bytes of the uncompressed stream.
    pub uncompressed_size: u64,
    /// sha256 of the uncompressed stream.
    pub diff_id: Digest,
    /// Compression detected on the input.
    pub compression: Compression,
}

/// Read a whole layer (any supported compression) and check every entry.
pub fn validate<R: Read>(r: R, options: &ValidateOptions) -> Result<LayerSummary, LayerError> {
    let mut stream = LayerStream::open(r)?;
    let mut checker = Checker::new(options.allow_devices);
    let mut entries = 0;
    while let Some(header) = stream.tar.next()? {
        checker.check(header)?;
        entries += 1;
    }
    let compression = stream.compression;
    let (diff_id, uncompressed_size) = stream.finish()?;
    Ok(LayerSummary {
        entries,
        uncompressed_size,
        diff_id,
        compression,
    })
}

/// A checked entry, ready to apply.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Normalised relative path (`a/b`, no `./`, no trailing slash; empty for the root).
    /// For a whiteout, the path to delete; for an opaque marker, the directory.
    pub path: Vec<u8>,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: Time,
    pub atime: Option<Time>,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink(Vec<u8>),
    /// Normalised path of the target.
    Hardlink(Vec<u8>),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
    Whiteout,
    Opaque,
    /// aufs metadata: nothing to do.
    Skip,
}

/// Split a tar name into normal components; refuse absolute paths and `..`.
pub(crate) fn normalise(name: &[u8]) -> Result<Vec<u8>, EntryProblem> {
    if name.is_empty() {
        return Err(EntryProblem::EmptyName);
    }
    if name[0] == b'/' {
        return Err(EntryProblem::Absolute);
    }
    let mut out = Vec::with_capacity(name.len());
    for comp in name.split(|&c| c == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => return Err(EntryProblem::DotDot),
            c => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Ok(out)
}

/// Directory part and last component of a normalised path.
pub(crate) fn split_last(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&c| c == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Per-layer state for the rules that look back at earlier entries.
pub(crate) struct Checker {
    allow_devices: bool,
    /// Non-directory entries so far: valid hardlink targets.
    files: HashSet<Vec<u8>>,
    /// Directories so far (to explain a hardlink to one).
    dirs: HashSet<Vec<u8>>,
    /// Symlinks so far: no later path may go through one.
    symlinks: HashSet<Vec<u8>>,
}

impl Checker {
    pub fn new(allow_devices: bool) -> Self {
        Checker {
            allow_devices,
            files: HashSet::new(),
            dirs: HashSet::new(),
            symlinks: HashSet::new(),
        }
    }

    /// The first proper ancestor of `path` that is a symlink of this layer.
    fn through_symlink(&self, path: &[u8]) -> Option<String> {
        if self.symlinks.is_empty() {
            return None;
        }
        path.iter()
            .enumerate()
            .filter(|&(_, &c)| c == b'/')
            .map(|(i, _)| &path[..i])
            .find(|prefix| self.symlinks.contains(*prefix))
            .map(lossy)
    }

    pub fn check(&mut self, h: Header) -> Result<Entry, LayerError> {
        let name = h.display_name();
        let fail = |problem| LayerError::Entry {
            entry: name.clone(),
            problem,
        };
        let mut kind = match h.typeflag {
            b'0' | 0 | b'7' => Kind::File,
            b'5' => Kind::Dir,
            b'2' => Kind::Symlink(h.link.clone()),
            b'1' => Kind::Hardlink(Vec::new()),
            b'3' => Kind::Char(h.dev_major, h.dev_minor),
            b'4' => Kind::Block(h.dev_major, h.dev_minor),
            b'6' => Kind::Fifo,
            typeflag => return Err(fail(EntryProblem::UnsupportedType { typeflag })),
        };
        let mut path = normalise(&h.name).map_err(fail)?;
        // Checked on the name as written: for `d/.wh..wh..opq` the directory `d` itself
        // must not be one of this layer's symlinks either.
        if let Some(symlink) = self.through_symlink(&path) {
            return Err(fail(EntryProblem::ThroughSymlink { symlink }));
        }

        let (dir, base) = split_last(&path);
        if base.starts_with(WHITEOUT_PREFIX.as_bytes()) {
            if base == WHITEOUT_OPAQUE.as_bytes() {
                kind = Kind::Opaque;
                path = dir.to_vec();
            } else if base.starts_with(WHITEOUT_META_PREFIX.as_bytes()) {
                kind = Kind::Skip;
            } else {
                let target = &base[WHITEOUT_PREFIX.len()..];
                if target.is_empty() || target == b"." || target == b".." {
                    return Err(fail(EntryProblem::InvalidWhiteout));
                }
                path = join(dir, target);
                kind = Kind::Whiteout;
            }
        }

        if path.is_empty() && !matches!(kind, Kind::Dir | Kind::Opaque | Kind::Skip) {
            return Err(fail(EntryProblem::RootNotDirectory));
        }

        match &mut kind {
            Kind::Symlink(target) => {
                if target.is_empty() {
                    return Err(fail(EntryProblem::EmptyLinkTarget));
                }
                if climbs_out(split_last(&path).0, target) {
                    return Err(fail(EntryProblem::SymlinkEscape {
                        target: lossy(target),
                    }));
                }
            }
            Kind::Hardlink(resolved) => {
                let target = lossy(&h.link);
                let normalised = match normalise(&h.link) {
                    Ok(p) => p,
                    Err(EntryProblem::EmptyName) => {
                        return Err(fail(EntryProblem::EmptyLinkTarget));
                    }
                    Err(EntryProblem::Absolute) => {
                        return Err(fail(EntryProblem::HardlinkAbsolute { target }));
                    }
                    Err(_) => return Err(fail(EntryProblem::HardlinkEscape { target })),
                };
                if let Some(symlink) = self.through_symlink(&normalised) {
                    return Err(fail(EntryProblem::ThroughSymlink { symlink }));
                }
                if !self.files.contains(&normalised) {
                    if self.dirs.contains(&normalised) || normalised.is_empty() {
                        return Err(fail(EntryProblem::HardlinkDirectory { target }));
                    }
                    return Err(fail(EntryProblem::HardlinkUnknown { target }));
                }
                *resolved = normalised;
            }
            Kind::Char(..) if !self.allow_devices => {
                return Err(fail(EntryProblem::Device {
                    kind: "character device",
                }));
            }
            Kind::Block(..) if !self.allow_devices => {
                return Err(fail(EntryProblem::Device {
                    kind: "block device",
                }));
            }
            Kind::Fifo if !self.allow_devices => {
                return Err(fail(EntryProblem::Device { kind: "fifo" }));
            }
            _ => {}
        }

        // Remember what this entry leaves at `path` for the rules of later entries.
        match &kind {
            Kind::Skip | Kind::Opaque => {}
            Kind::Whiteout => {
                self.files.remove(&path);
                self.dirs.remove(&path);
                self.symlinks.remove(&path);
            }
            Kind::Dir => {
                self.files.remove(&path);
                self.symlinks.remove(&path);
                self.dirs.insert(path.clone());
            }
            Kind::Symlink(_) => {
                self.dirs.remove(&path);
                self.symlinks.insert(path.clone());
                self.files.insert(path.clone());
            }
            _ => {
                self.dirs.remove(&path);
                self.symlinks.remove(&path);
                self.files.insert(path.clone());
            }
        }

        Ok(Entry {
            path,
            kind,
            mode: h.mode,
            uid: h.uid,
            gid: h.gid,
            mtime: h.mtime,
            atime: h.atime,
            xattrs: h.xattrs,
        })
    }
}

/// Whether a relative symlink `target` in directory `dir` resolves (lexically) above the
/// root. Absolute targets never do: they are resolved inside the root.
fn climbs_out(dir: &[u8], target: &[u8]) -> bool {
    if target.first() == Some(&b'/') {
        return false;
    }
    let mut depth: usize = dir.split(|&c| c == b'/').filter(|c| !c.is_empty()).count();
    for comp in target.split(|&c| c == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if depth == 0 {
                    return true;
                }
                depth -= 1;
            }
            _ => depth += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_names() {
        assert_eq!(normalise(b"./a//b/./c/").unwrap(), b"a/b/c");
        assert_eq!(normalise(b"./").unwrap(), b"");
        assert_eq!(normalise(b"/etc"), Err(EntryProblem::Absolute));
        assert_eq!(normalise(b"a/../b"), Err(EntryProblem::DotDot));
        assert_eq!(normalise(b""), Err(EntryProblem::EmptyName));
    }

    #[test]
    fn symlink_escape_is_lexical_from_the_link_dir() {
        assert!(!climbs_out(b"usr/bin", b"../lib/x"));
        assert!(!climbs_out(b"usr/bin", b"../../etc"));
        assert!(climbs_out(b"usr/bin", b"../../../etc"));
        assert!(climbs_out(b"", b".."));
        assert!(!climbs_out(b"", b"/../../etc"));
        assert!(climbs_out(b"a", b"b/../../.."));
    }
}
