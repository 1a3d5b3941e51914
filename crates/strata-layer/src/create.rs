//! Deterministic layer tars from a directory (`strata import DIR`, build diffs).
//!
//! The same tree gives the same bytes, every time and on every machine:
//! - entries in walk order with each directory's children sorted by name (bytewise), the
//!   root itself not included (like Docker's and BuildKit's layers);
//! - ustar headers with only what the tree determines: name (directories end in `/`),
//!   mode (permission and set-id/sticky bits), uid, gid, size, mtime in whole seconds
//!   (clamped to [`CreateOptions::clamp_mtime`], i.e. `SOURCE_DATE_EPOCH`, when set), link
//!   target, device numbers; no user/group names, no atime/ctime;
//! - a PAX header, only when needed, for names or link targets that do not fit ustar, ids or
//!   sizes too large for it, and extended attributes (`SCHILY.xattr.*`, sorted by name;
//!   `security.capability` included, `security.selinux` and overlayfs' own
//!   `trusted.overlay.*`/`user.overlay.*` left out as properties of the host);
//! - a second path to an inode already written (nlink > 1) becomes a hardlink entry to the
//!   first path; sockets are skipped (tar cannot hold them; counted in the summary).
//!
//! With [`CreateOptions::overlay_upper`] the directory is read as an overlayfs upperdir
//! and its whiteouts become OCI ones: a character device 0/0 `NAME` becomes an empty file
//! `.wh.NAME`, and a directory with `trusted.overlay.opaque=y` (or `user.overlay.opaque=y`)
//! is followed by a `.wh..wh..opq` entry. (Upper dirs written with `redirect_dir` or
//! `metacopy` are not supported: Strata mounts overlay without them.)

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use tar::{EntryType, Header};

use crate::error::LayerError;
use crate::{WHITEOUT_OPAQUE, WHITEOUT_PREFIX};

/// Options of [`create`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CreateOptions {
    /// Clamp modification times to at most this many seconds since the epoch
    /// (`SOURCE_DATE_EPOCH`).
    pub clamp_mtime: Option<i64>,
    /// Read the directory as an overlayfs upperdir and convert its whiteouts.
    pub overlay_upper: bool,
}

/// What [`create`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CreateSummary {
    /// Entries written (including whiteouts, excluding PAX headers).
    pub entries: u64,
    /// Sockets found and left out.
    pub skipped_sockets: u64,
}

/// Largest value of a 7-digit octal ustar field (uid, gid).
const USTAR_ID_MAX: u64 = 0o7_777_777;
/// Largest value of the 11-digit octal ustar size field.
const USTAR_SIZE_MAX: u64 = 0o77_777_777_777;

/// Write a deterministic tar of the tree at `dir` to `out` (end-of-archive included).
pub fn create<W: Write>(
    dir: &Path,
    out: W,
    options: &CreateOptions,
) -> Result<CreateSummary, LayerError> {
    let mut w = TarWriter {
        builder: tar::Builder::new(out),
        summary: CreateSummary::default(),
        buf: Vec::new(),
    };
    // First path written for each multiply linked inode.
    let mut links: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1);
    for item in walk {
        let item = item.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            LayerError::io("read directory", path, e.into())
        })?;
        let path = item.path();
        let rel = path
            .strip_prefix(dir)
            .map_err(|_| LayerError::io("read", path, io::Error::other("path outside the tree")))?
            .as_os_str()
            .as_bytes();
        let md = item
            .metadata()
            .map_err(|e| LayerError::io("stat", path, e.into()))?;
        let ft = md.file_type();
        let mtime = match options.clamp_mtime {
            Some(epoch) => md.mtime().min(epoch),
            None => md.mtime(),
        };
        let mut h = Header::new_ustar();
        h.set_mode(md.mode() & 0o7777);
        h.set_mtime(mtime.max(0) as u64);
        h.set_size(0);
        let (uid, gid) = (u64::from(md.uid()), u64::from(md.gid()));

        if ft.is_socket() {
            w.summary.skipped_sockets += 1;
            continue;
        }
        if options.overlay_upper && ft.is_char_device() && md.rdev() == 0 {
            // An overlayfs whiteout: `.wh.NAME` in the same directory.
            let (parent, name) = match rel.iter().rposition(|&c| c == b'/') {
                Some(i) => (&rel[..=i], &rel[i + 1..]),
                None => (&b""[..], rel),
            };
            let wh = [parent, WHITEOUT_PREFIX.as_bytes(), name].concat();
            let mut h = Header::new_ustar();
            h.set_entry_type(EntryType::Regular);
            h.set_mode(0);
            h.set_mtime(mtime.max(0) as u64);
            h.set_size(0);
            w.append(&wh, h, 0, 0, None, &[], None)?;
            continue;
        }
        let xattrs = read_xattrs(path)?;
        if ft.is_dir() {
            h.set_entry_type(EntryType::Directory);
            let name = [rel, b"/"].concat();
            w.append(&name, h, uid, gid, None, &xattrs, None)?;
            if options.overlay_upper && is_opaque(path)? {
                let opq = [rel, b"/", WHITEOUT_OPAQUE.as_bytes()].concat();
                let mut h = Header::new_ustar();
                h.set_entry_type(EntryType::Regular);
                h.set_mode(0);
                h.set_mtime(mtime.max(0) as u64);
                h.set_size(0);
                w.append(&opq, h, 0, 0, None, &[], None)?;
            }
            continue;
        }
        if md.nlink() > 1 {
            let key = (md.dev(), md.ino());
            if let Some(first) = links.get(&key) {
                h.set_entry_type(EntryType::Link);
                let first = first.clone();
                w.append(rel, h, uid, gid, Some(&first), &xattrs, None)?;
                continue;
            }
            links.insert(key, rel.to_vec());
        }
        if ft.is_symlink() {
            let target =
                std::fs::read_link(path).map_err(|e| LayerError::io("read link", path, e))?;
            h.set_entry_type(EntryType::Symlink);
            w.append(
                rel,
                h,
                uid,
                gid,
                Some(target.as_os_str().as_bytes()),
                &xattrs,
                None,
            )?;
        } else if ft.is_file() {
            h.set_entry_type(EntryType::Regular);
            let file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                .open(path)
                .map_err(|e| LayerError::io("open", path, e))?;
            w.append(
                rel,
                h,
                uid,
                gid,
                None,
                &xattrs,
                Some((&mut { file }, md.len(), path)),
            )?;
        } else if ft.is_char_device() || ft.is_block_device() {
            h.set_entry_type(if ft.is_char_device() {
                EntryType::Char
            } else {
                EntryType::Block
            });
            let rdev = md.rdev();
            set_device(
                &mut h,
                rustix::fs::major(rdev),
                rustix::fs::minor(rdev),
                path,
            )?;
            w.append(rel, h, uid, gid, None, &xattrs, None)?;
        } else if ft.is_fifo() {
            h.set_entry_type(EntryType::Fifo);
            w.append(rel, h, uid, gid, None, &xattrs, None)?;
        }
    }
    w.builder
        .into_inner()
        .map_err(|e| LayerError::io("write layer tar of", dir, e))?;
    Ok(w.summary)
}

/// Ownership, permissions and time of one entry written by [`EntryWriter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EntryMeta {
    /// Permission and set-id/sticky bits (`0o7777` at most).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Seconds since the epoch (clamped by [`CreateOptions::clamp_mtime`]).
    pub mtime: i64,
}

/// A layer tar written entry by entry, for layers whose tree exists only as a plan (a
/// build's `COPY` whose result no later step reads as a directory): the caller gives
/// names in the order [`create`] would walk them (each directory followed by its children,
/// sorted bytewise), and gets the bytes [`create`] would write for the same tree, with
/// the same header conventions (ustar, PAX only where needed, mtime clamping).
pub struct EntryWriter<W: Write> {
    w: TarWriter<W>,
    clamp_mtime: Option<i64>,
}

impl<W: Write> EntryWriter<W> {
    /// Start a tar on `out`; only `clamp_mtime` of the options applies (there are no
    /// overlay whiteouts to convert).
    pub fn new(out: W, options: &CreateOptions) -> EntryWriter<W> {
        EntryWriter {
            w: TarWriter {
                builder: tar::Builder::new(out),
                summary: CreateSummary::default(),
                buf: Vec::new(),
            },
            clamp_mtime: options.clamp_mtime,
        }
    }

    fn header(&self, kind: EntryType, meta: &EntryMeta) -> Header {
        let mtime = match self.clamp_mtime {
            Some(epoch) => meta.mtime.min(epoch),
            None => meta.mtime,
        };
        let mut h = Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(meta.mode & 0o7777);
        h.set_mtime(mtime.max(0) as u64);
        h.set_size(0);
        h
    }

    /// A directory entry; `name` is relative, without the trailing `/`.
    pub fn dir(&mut self, name: &[u8], meta: &EntryMeta) -> Result<(), LayerError> {
        let name = [name, b"/"].concat();
        self.entry(EntryType::Directory, &name, meta, None, None)
    }

    /// A symbolic link to `target`.
    pub fn symlink(
        &mut self,
        name: &[u8],
        meta: &EntryMeta,
        target: &[u8],
    ) -> Result<(), LayerError> {
        self.entry(EntryType::Symlink, name, meta, Some(target), None)
    }

    /// A hardlink to `target`, an earlier regular-file entry of this tar: a second path
    /// of one inode, written as [`create`] writes it (`meta` is the inode's).
    pub fn hardlink(
        &mut self,
        name: &[u8],
        meta: &EntryMeta,
        target: &[u8],
    ) -> Result<(), LayerError> {
        self.entry(EntryType::Link, name, meta, Some(target), None)
    }

    /// A regular file whose `size` bytes are read from `data`; `source` names where they
    /// come from in errors (a reader that ends early fails the entry).
    pub fn file(
        &mut self,
        name: &[u8],
        meta: &EntryMeta,
        data: &mut dyn Read,
        size: u64,
        source: &Path,
    ) -> Result<(), LayerError> {
        self.entry(
            EntryType::Regular,
            name,
            meta,
            None,
            Some((data, size, source)),
        )
    }

    fn entry(
        &mut self,
        kind: EntryType,
        name: &[u8],
        meta: &EntryMeta,
        link: Option<&[u8]>,
        data: Option<(&mut dyn Read, u64, &Path)>,
    ) -> Result<(), LayerError> {
        let h = self.header(kind, meta);
        self.w.append(
            name,
            h,
            u64::from(meta.uid),
            u64::from(meta.gid),
            link,
            &[],
            data,
        )
    }

    /// End the archive and return the writer; `origin` (what the layer is made from) names
    /// the layer in an error.
    pub fn finish(self, origin: &Path) -> Result<(W, CreateSummary), LayerError> {
        let summary = self.w.summary;
        let out = self
            .w
            .builder
            .into_inner()
            .map_err(|e| LayerError::io("write layer tar of", origin, e))?;
        Ok((out, summary))
    }
}

fn set_device(h: &mut Header, major: u32, minor: u32, path: &Path) -> Result<(), LayerError> {
    h.set_device_major(major)
        .and_then(|()| h.set_device_minor(minor))
        .map_err(|e| LayerError::io("archive device", path, e))
}

/// Extended attributes as (name, value) pairs.
type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

/// Extended attributes worth carrying into an image, sorted by name.
fn read_xattrs(path: &Path) -> Result<Xattrs, LayerError> {
    let names = match xattr::list(path) {
        Ok(names) => names,
        Err(e) if is_unsupported(&e) => return Ok(Vec::new()),
        Err(e) => return Err(LayerError::io("list extended attributes of", path, e)),
    };
    let mut out = Vec::new();
    for name in names {
        let bytes = name.as_bytes();
        if bytes == b"security.selinux"
            || bytes.starts_with(b"trusted.overlay.")
            || bytes.starts_with(b"user.overlay.")
        {
            continue;
        }
        match xattr::get(path, &name) {
            Ok(Some(value)) => out.push((bytes.to_vec(), value)),
            Ok(None) => {}
            Err(e) if is_unsupported(&e) => {}
            Err(e) => return Err(LayerError::io("read extended attributes of", path, e)),
        }
    }
    out.sort();
    Ok(out)
}

fn is_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(code) if code == rustix::io::Errno::NOTSUP.raw_os_error()
    )
}

fn is_opaque(path: &Path) -> Result<bool, LayerError> {
    for key in ["trusted.overlay.opaque", "user.overlay.opaque"] {
        match xattr::get(path, key) {
            Ok(Some(v)) if v == b"y" => return Ok(true),
            Ok(_) => {}
            Err(e) if is_unsupported(&e) => {}
            Err(e) => return Err(LayerError::io("read extended attributes of", path, e)),
        }
    }
    Ok(false)
}

/// Reads exactly `remaining` bytes or fails: a file that shrank while being archived must
/// not produce a tar whose framing is off.
struct Exact<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = self.remaining.min(buf.len() as u64) as usize;
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while it was being archived",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

struct TarWriter<W: Write> {
    builder: tar::Builder<W>,
    summary: CreateSummary,
    /// File data passes through this buffer: large reads and writes rather than
    /// `io::copy`'s 8 KiB ones (each write also feeds a hasher and the compressor).
    buf: Vec<u8>,
}

/// Largest chunk of file data read at once.
const DATA_CHUNK: usize = 256 * 1024;

/// Put `value` into a fixed header field if it fits (NUL-padded).
fn put(field: &mut [u8], value: &[u8]) -> bool {
    if value.len() > field.len() {
        return false;
    }
    field.fill(0);
    field[..value.len()].copy_from_slice(value);
    true
}

/// Store a name in ustar's name (100) + prefix (155) fields, split at a `/`.
fn put_name(h: &mut Header, name: &[u8]) -> bool {
    let Some(ustar) = h.as_ustar_mut() else {
        return false;
    };
    if name.len() <= 100 {
        ustar.prefix.fill(0);
        return put(&mut ustar.name, name);
    }
    // The first split point that leaves at most 100 bytes for the name field.
    let from = name.len().saturating_sub(101);
    for i in from..name.len().min(156) {
        if name[i] == b'/' && i + 1 < name.len() && name.len() - i - 1 <= 100 {
            return put(&mut ustar.prefix, &name[..i]) && put(&mut ustar.name, &name[i + 1..]);
        }
    }
    false
}

/// One PAX record: `"<len> <key>=<value>\n"`, where `<len>` counts the whole record.
fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len.to_string().len() + rest > len {
        len += 1;
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

impl<W: Write> TarWriter<W> {
    #[allow(clippy::too_many_arguments)]
    fn append(
        &mut self,
        name: &[u8],
        mut h: Header,
        uid: u64,
        gid: u64,
        link: Option<&[u8]>,
        xattrs: &[(Vec<u8>, Vec<u8>)],
        data: Option<(&mut dyn Read, u64, &Path)>,
    ) -> Result<(), LayerError> {
        let mut pax: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        if !put_name(&mut h, name) {
            pax.insert(b"path".to_vec(), name.to_vec());
            // A readable stand-in for tools without PAX support: the tail of the name.
            let tail = &name[name.len().saturating_sub(99)..];
            put_name(&mut h, tail);
        }
        if let Some(link) = link
            && let Some(ustar) = h.as_ustar_mut()
            && !put(&mut ustar.linkname, link)
        {
            pax.insert(b"linkpath".to_vec(), link.to_vec());
            put(&mut ustar.linkname, &link[..100]);
        }
        for (key, value, max) in [
            (&b"uid"[..], uid, USTAR_ID_MAX),
            (&b"gid"[..], gid, USTAR_ID_MAX),
        ] {
            if value > max {
                pax.insert(key.to_vec(), value.to_string().into_bytes());
            }
        }
        h.set_uid(if uid > USTAR_ID_MAX { 0 } else { uid });
        h.set_gid(if gid > USTAR_ID_MAX { 0 } else { gid });
        let size = data.as_ref().map_or(0, |d| d.1);
        if size > USTAR_SIZE_MAX {
            pax.insert(b"size".to_vec(), size.to_string().into_bytes());
            h.set_size(0);
        } else {
            h.set_size(size);
        }
        for (key, value) in xattrs {
            pax.insert([&b"SCHILY.xattr."[..], key].concat(), value.clone());
        }
        let err = |e| {
            LayerError::io(
                "write layer tar entry",
                std::path::PathBuf::from(std::ffi::OsStr::from_bytes(name)),
                e,
            )
        };
        if !pax.is_empty() {
            let mut records = Vec::new();
            for (k, v) in &pax {
                pax_record(&mut records, k, v);
            }
            let mut ph = Header::new_ustar();
            let base = name
                .split(|&c| c == b'/')
                .rfind(|c| !c.is_empty())
                .unwrap_or(b"entry");
            let pax_name = [&b"PaxHeaders/"[..], &base[..base.len().min(80)]].concat();
            put_name(&mut ph, &pax_name);
            ph.set_entry_type(EntryType::XHeader);
            ph.set_mode(0o644);
            ph.set_size(records.len() as u64);
            ph.set_cksum();
            self.builder.append(&ph, &records[..]).map_err(err)?;
        }
        h.set_cksum();
        match data {
            Some((inner, size, path)) => {
                // What `tar::Builder::append` writes (header, data, zero padding to the
                // next 512-byte block), with the data moved in large chunks.
                let mut reader = Exact {
                    inner,
                    remaining: size,
                };
                let chunk = (size as usize).clamp(1, DATA_CHUNK);
                if self.buf.len() < chunk {
                    self.buf.resize(chunk, 0);
                }
                let out = self.builder.get_mut();
                let io = |e| LayerError::io("archive", path, e);
                out.write_all(h.as_bytes()).map_err(io)?;
                loop {
                    let n = match reader.read(&mut self.buf[..chunk]) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(io(e)),
                    };
                    out.write_all(&self.buf[..n]).map_err(io)?;
                }
                let pad = (512 - (size % 512) as usize) % 512;
                out.write_all(&[0u8; 512][..pad]).map_err(io)?;
            }
            None => self.builder.append(&h, io::empty()).map_err(err)?,
        }
        self.summary.entries += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_lengths_count_themselves() {
        let mut out = Vec::new();
        pax_record(&mut out, b"path", b"a/b/c/d");
        assert_eq!(out, b"16 path=a/b/c/d\n");
        out.clear();
        // 9 bytes plus one digit would be 10, which needs two digits: 11.
        pax_record(&mut out, b"p", b"xxxxx");
        assert_eq!(out, b"11 p=xxxxx\n");
    }

    #[test]
    fn ustar_name_split() {
        let mut h = Header::new_ustar();
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(90));
        assert!(put_name(&mut h, long.as_bytes()));
        assert_eq!(&*h.path_bytes(), long.as_bytes());
        assert!(!put_name(&mut h, "x".repeat(300).as_bytes()));
    }

    #[test]
    fn entry_writer_writes_what_create_writes_for_the_same_tree() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let long = "n".repeat(120);
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join(&long)).unwrap();
        std::fs::write(root.join("a/b/f.txt"), b"hello").unwrap();
        std::fs::write(root.join("a-c"), b"x").unwrap();
        std::fs::write(root.join(long.clone() + "/" + &long), b"long").unwrap();
        std::os::unix::fs::symlink("../a-c", root.join("a/link")).unwrap();
        std::fs::set_permissions(
            root.join("a/b/f.txt"),
            std::fs::Permissions::from_mode(0o4750),
        )
        .unwrap();
        let opts = CreateOptions {
            clamp_mtime: Some(1_000_000),
            overlay_upper: false,
        };
        let mut want = Vec::new();
        create(root, &mut want, &opts).unwrap();

        let mut w = EntryWriter::new(Vec::new(), &opts);
        for e in walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .min_depth(1)
            .into_iter()
        {
            let e = e.unwrap();
            let md = e.metadata().unwrap();
            let name = e.path().strip_prefix(root).unwrap().as_os_str().as_bytes();
            let meta = EntryMeta {
                mode: md.mode(),
                uid: md.uid(),
                gid: md.gid(),
                mtime: md.mtime(),
            };
            if md.is_dir() {
                w.dir(name, &meta).unwrap();
            } else if md.file_type().is_symlink() {
                let t = std::fs::read_link(e.path()).unwrap();
                w.symlink(name, &meta, t.as_os_str().as_bytes()).unwrap();
            } else {
                let mut f = std::fs::File::open(e.path()).unwrap();
                w.file(name, &meta, &mut f, md.len(), e.path()).unwrap();
            }
        }
        let (got, summary) = w.finish(root).unwrap();
        assert_eq!(summary.entries, 7);
        assert!(got == want, "EntryWriter and create differ");
    }

    /// File data of every size around the block and chunk boundaries is framed as the tar
    /// format says: header, data, zeros to the next 512 bytes.
    #[test]
    fn file_data_is_framed_at_every_size() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [
            0,
            1,
            511,
            512,
            513,
            DATA_CHUNK - 1,
            DATA_CHUNK,
            DATA_CHUNK + 1,
            3 * DATA_CHUNK + 7,
        ];
        for (i, n) in sizes.iter().enumerate() {
            let data: Vec<u8> = (0..*n).map(|b| (b * 7 + i) as u8).collect();
            std::fs::write(dir.path().join(format!("f{i:02}")), data).unwrap();
        }
        let mut out = Vec::new();
        create(dir.path(), &mut out, &CreateOptions::default()).unwrap();
        let blocks: usize = sizes.iter().map(|n| 512 + n.div_ceil(512) * 512).sum();
        assert_eq!(out.len(), blocks + 1024);
        let mut a = tar::Archive::new(&out[..]);
        for (i, e) in a.entries().unwrap().enumerate() {
            let mut e = e.unwrap();
            let mut got = Vec::new();
            e.read_to_end(&mut got).unwrap();
            let want: Vec<u8> = (0..sizes[i]).map(|b| (b * 7 + i) as u8).collect();
            assert_eq!(got, want, "f{i:02}");
        }
    }

    #[test]
    fn entry_writer_refuses_a_short_reader() {
        let mut w = EntryWriter::new(Vec::new(), &CreateOptions::default());
        let err = w
            .file(
                b"f",
                &EntryMeta::default(),
                &mut &b"abc"[..],
                10,
                Path::new("/src/f"),
            )
            .unwrap_err();
        assert!(err.to_string().contains("/src/f"), "{err}");
    }
}
