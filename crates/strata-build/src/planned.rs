//! Planned layers: what a `COPY`/`ADD` writes into its fresh layer directory, kept as an
//! in-memory tree and written straight to the layer tar.
//!
//! A COPY whose result nothing in the build reads back as a directory — the last
//! filesystem step of a stage no other stage uses, typically `COPY . /app/` at the end of a
//! Dockerfile — does not need its files on disk: creating thousands of inodes only to tar
//! them again is most of the step's time. The solver then plans the copy here and streams
//! the sources into the tar; the snapshot directory of that layer is unpacked from its blob
//! the first time something needs it (a later build step on a cache hit, `strata run`), as
//! for any pulled layer.
//!
//! The plan mirrors, operation by operation, what the on-disk copy in `fsutil` does to a
//! fresh directory (`make_parents`, `make_dir`, `copy_leaf`, file data, `finish_dir`),
//! including its ordering effects: a later item replaces an earlier one at the same path,
//! a file replacing a directory removes its subtree, a directory whose entries change gets
//! the current time (so a parent taken over from the image with its time still ends up
//! with the build's), and the copied directories' own times are set last. The tar it
//! writes is byte for byte the one `strata_layer::create` writes for the directory the
//! on-disk copy produces (a test builds both and compares).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_layer::{CreateOptions, EntryMeta, EntryWriter};

use crate::fsutil::CopyMeta;
use crate::{Result, io_err};

/// What one planned path holds.
#[derive(Debug, Clone)]
enum Content {
    Dir,
    /// A regular file copied from `src` (`size` bytes, as stat'ed when planned). Files
    /// with the same `link` are one inode: the first in tar order is written as the file,
    /// the others as hardlinks to it (as `strata_layer::create` writes them).
    File {
        src: PathBuf,
        size: u64,
        link: Option<usize>,
    },
    Symlink(Vec<u8>),
    /// Bytes written as a file (heredoc, download).
    Data(Arc<Vec<u8>>),
}

#[derive(Debug, Clone)]
struct Node {
    content: Content,
    meta: EntryMeta,
}

/// Path components as the key: the map's order is then a depth-first walk with every
/// directory's children sorted bytewise, the order layer tars are written in.
type Key = Vec<Vec<u8>>;

fn key_of(dst: &str) -> Key {
    dst.split('/')
        .filter(|p| !p.is_empty())
        .map(|p| p.as_bytes().to_vec())
        .collect()
}

fn shown(key: &[Vec<u8>]) -> PathBuf {
    let mut p = PathBuf::from("/");
    for c in key {
        p.push(std::ffi::OsStr::from_bytes(c));
    }
    p
}

/// The tree a copy writes into a fresh layer directory.
#[derive(Debug)]
pub(crate) struct PlannedLayer {
    nodes: BTreeMap<Key, Node>,
    /// Directory times set after everything is in place (`finish_dir`), in call order.
    finish: Vec<(Key, i64)>,
    /// The time directories created or changed by the copy get.
    now: i64,
    /// Hardlink groups handed out so far.
    links: usize,
    /// Directories taken over from the image whose time is still the image's (no entry
    /// of theirs changed since): the only image times that reach the layer.
    image_times: std::collections::BTreeSet<Key>,
}

impl PlannedLayer {
    pub fn new(now: i64) -> PlannedLayer {
        PlannedLayer {
            nodes: BTreeMap::new(),
            finish: Vec::new(),
            now,
            links: 0,
            image_times: Default::default(),
        }
    }

    /// The paths (absolute) whose time in the layer is the image's, as planned so far
    /// and with the deferred directory times applied: what a copy needs of the image's
    /// times (see [`crate::solver`]'s speculation).
    pub fn times_from_image(&self) -> Vec<String> {
        self.image_times
            .iter()
            .filter(|k| !self.finish.iter().any(|(f, _)| f == *k))
            .map(|k| shown(k).to_string_lossy().into_owned())
            .collect()
    }

    fn is_dir(&self, key: &Key) -> Option<bool> {
        self.nodes
            .get(key)
            .map(|n| matches!(n.content, Content::Dir))
    }

    /// A directory whose entries change gets the current time, as on disk.
    fn touch_parent(&mut self, key: &Key) {
        if key.len() > 1
            && let Some(parent) = self.nodes.get_mut(&key[..key.len() - 1])
        {
            parent.meta.mtime = self.now;
            self.image_times.remove(&key[..key.len() - 1]);
        }
    }

    /// Add `node` at `key` (which must be free), changing its parent directory.
    fn insert(&mut self, key: Key, node: Node) {
        self.touch_parent(&key);
        self.nodes.insert(key, node);
    }

    /// Remove `key` and, for a directory, everything below it.
    fn remove(&mut self, key: &Key) {
        if self.nodes.remove(key).is_none() {
            return;
        }
        self.image_times.remove(key);
        self.touch_parent(key);
        let below: Vec<Key> = self
            .nodes
            .range(key.clone()..)
            .take_while(|(k, _)| k.starts_with(key))
            .map(|(k, _)| k.clone())
            .collect();
        for k in below {
            self.nodes.remove(&k);
            self.image_times.remove(&k);
        }
    }

    /// `fsutil::make_parents`: the missing parents of `dest`, with the image's metadata
    /// where the image has them as directories, else owned and moded as the copy creates
    /// directories.
    /// `lookup` finds a path in the image below the copy.
    pub fn make_parents(
        &mut self,
        lookup: &dyn Fn(&str) -> Option<fs::Metadata>,
        dest: &str,
        cm: &CopyMeta,
    ) -> Result<()> {
        let parts = key_of(dest);
        for n in 1..parts.len() {
            let key: Key = parts[..n].to_vec();
            match self.is_dir(&key) {
                Some(true) => continue,
                Some(false) => {
                    let p = shown(&key);
                    return Err(io_err("create directory", &p)(std::io::Error::from(
                        std::io::ErrorKind::AlreadyExists,
                    )));
                }
                None => {}
            }
            let rel = shown(&key);
            let (meta, from_image) = match lookup(&rel.to_string_lossy()) {
                Some(m) if m.is_dir() => (
                    EntryMeta {
                        mode: m.mode() & 0o7777,
                        uid: m.uid(),
                        gid: m.gid(),
                        mtime: m.mtime(),
                    },
                    true,
                ),
                _ => (
                    EntryMeta {
                        mode: cm.new_dir_mode(),
                        uid: cm.owner.0,
                        gid: cm.owner.1,
                        mtime: self.now,
                    },
                    false,
                ),
            };
            self.insert(
                key.clone(),
                Node {
                    content: Content::Dir,
                    meta,
                },
            );
            if from_image {
                self.image_times.insert(key);
            }
        }
        Ok(())
    }

    /// `fsutil::make_dir`: a directory (kept with its contents if there is one) owned and
    /// moded as the copy says; its time is set by [`PlannedLayer::finish_dir`].
    pub fn make_dir(&mut self, dst: &str, meta: Option<&fs::Metadata>, cm: &CopyMeta) {
        let key = key_of(dst);
        let mode = cm.mode_for(meta.map_or(0o755, |m| m.mode()), true);
        let (uid, gid) = cm.owner;
        if self.is_dir(&key) == Some(false) {
            self.remove(&key);
        }
        match self.nodes.get_mut(&key) {
            Some(node) => {
                node.meta.mode = mode;
                node.meta.uid = uid;
                node.meta.gid = gid;
            }
            None => {
                let mtime = self.now;
                self.insert(
                    key,
                    Node {
                        content: Content::Dir,
                        meta: EntryMeta {
                            mode,
                            uid,
                            gid,
                            mtime,
                        },
                    },
                );
            }
        }
    }

    /// `fsutil::copy_leaf`: a file or symlink from `src` replaces whatever is at `dst`
    /// (other file types are skipped, as the on-disk copy skips them).
    pub fn copy_leaf(
        &mut self,
        src: &Path,
        meta: &fs::Metadata,
        dst: &str,
        cm: &CopyMeta,
    ) -> Result<()> {
        let key = key_of(dst);
        self.remove(&key);
        let ft = meta.file_type();
        let (uid, gid) = cm.owner;
        let content = if ft.is_symlink() {
            let target = fs::read_link(src).map_err(io_err("read link", src))?;
            Content::Symlink(target.as_os_str().as_bytes().to_vec())
        } else if ft.is_file() {
            Content::File {
                src: src.to_path_buf(),
                size: meta.len(),
                link: None,
            }
        } else {
            return Ok(());
        };
        let mode = if ft.is_symlink() {
            meta.mode() & 0o7777
        } else {
            cm.mode_for(meta.mode(), false)
        };
        self.insert(
            key,
            Node {
                content,
                meta: EntryMeta {
                    mode,
                    uid,
                    gid,
                    mtime: meta.mtime(),
                },
            },
        );
        Ok(())
    }

    /// `std::fs::hard_link(first, dst)` after `fsutil::copy_leaf` wrote `first`: `dst`
    /// replaces whatever is there and becomes another name of `first`'s file.
    pub fn hardlink(&mut self, first: &str, dst: &str) -> Result<()> {
        let first_key = key_of(first);
        let node = match self.nodes.get_mut(&first_key) {
            Some(n) => n,
            None => {
                return Err(io_err("hardlink to", &shown(&first_key))(
                    std::io::Error::from(std::io::ErrorKind::NotFound),
                ));
            }
        };
        let next = self.links;
        let link = match &mut node.content {
            Content::File { link, .. } => *link.get_or_insert(next),
            _ => {
                return Err(io_err("hardlink to", &shown(&first_key))(
                    std::io::Error::from(std::io::ErrorKind::InvalidInput),
                ));
            }
        };
        if link == next {
            self.links += 1;
        }
        let node = node.clone();
        let key = key_of(dst);
        self.remove(&key);
        self.insert(key, node);
        Ok(())
    }

    /// Bytes written as a file at `dst` with `mode` (before `--chmod`) and time `mtime`.
    pub fn write_data(
        &mut self,
        dst: &str,
        bytes: Arc<Vec<u8>>,
        mode: u32,
        mtime: i64,
        cm: &CopyMeta,
    ) {
        let key = key_of(dst);
        self.remove(&key);
        self.insert(
            key,
            Node {
                content: Content::Data(bytes),
                meta: EntryMeta {
                    mode: cm.mode_for(mode, false),
                    uid: cm.owner.0,
                    gid: cm.owner.1,
                    mtime,
                },
            },
        );
    }

    /// `fsutil::finish_dir`, deferred: `dst` gets `meta`'s time once everything is written.
    pub fn finish_dir(&mut self, dst: &str, meta: &fs::Metadata) {
        self.finish.push((key_of(dst), meta.mtime()));
    }

    /// Write the layer tar (end of archive included) to `out`; `origin` names the layer in
    /// errors.
    pub fn write<W: Write>(mut self, out: W, options: &CreateOptions, origin: &Path) -> Result<W> {
        for (key, mtime) in std::mem::take(&mut self.finish) {
            match self.nodes.get_mut(&key) {
                Some(n) => n.meta.mtime = mtime,
                None => {
                    return Err(io_err("set times of", &shown(&key))(std::io::Error::from(
                        std::io::ErrorKind::NotFound,
                    )));
                }
            }
        }
        let mut w = EntryWriter::new(out, options);
        // The first name written of each hardlink group.
        let mut first: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
        for (key, node) in &self.nodes {
            let name = key.join(&b'/');
            if let Content::File {
                link: Some(link), ..
            } = &node.content
            {
                if let Some(target) = first.get(link) {
                    w.hardlink(&name, &node.meta, target)?;
                    continue;
                }
                first.insert(*link, name.clone());
            }
            match &node.content {
                Content::Dir => w.dir(&name, &node.meta)?,
                Content::Symlink(target) => w.symlink(&name, &node.meta, target)?,
                Content::Data(bytes) => {
                    w.file(
                        &name,
                        &node.meta,
                        &mut bytes.as_slice(),
                        bytes.len() as u64,
                        &shown(key),
                    )?;
                }
                Content::File { src, size, .. } => {
                    let mut f = fs::OpenOptions::new()
                        .read(true)
                        .custom_flags(libc::O_NOFOLLOW)
                        .open(src)
                        .map_err(io_err("open", src))?;
                    w.file(&name, &node.meta, &mut f, *size, src)?;
                }
            }
        }
        let (out, _) = w.finish(origin)?;
        Ok(out)
    }
}
