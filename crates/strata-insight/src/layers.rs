//! The per-layer view of an image's files, read straight from the layer blobs.
//!
//! Each layer is decompressed ([`strata_layer::decompress`]) and its tar entries are read
//! in order; layers are read in parallel (one rayon task per layer). Every entry becomes a
//! [`Change`] — an added path, an OCI whiteout (`.wh.NAME`: delete `NAME` from lower
//! layers) or an opaque marker (`.wh..wh..opq`: hide everything lower layers put in the
//! directory). While the bytes stream past, the files insight needs are kept: package
//! databases and manifests (matched by path, see [`wanted_metadata`]) and what executables
//! say about how they were built ([`crate::sbom::binary`]).
//!
//! The changes are then applied bottom-up to a sorted map of paths ([`Inventory::tree`]),
//! which is the image's final filesystem with, per path, the layer that last wrote it.
//! Every file version that a later layer replaces or deletes is recorded in
//! [`Inventory::hidden`]: its bytes still ship inside the lower layer's blob, which is what
//! `analyze` reports as wasted.
//!
//! Entries are read with the `tar` crate. Its reader trusts extension-header sizes, which is
//! safe here because every layer in the store was checked by `strata_layer::validate`
//! (Go `archive/tar` framing, 1 MiB extension headers) before it was committed.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};

use rayon::prelude::*;
use strata_store::Store;

use crate::error::{InsightError, Result};
use crate::image::{Image, Layer};
use crate::sbom::binary::{self, BinaryFacts};

/// Largest metadata file kept in memory (a huge `status` file is still far below this).
const MAX_METADATA: u64 = 64 << 20;
/// Largest executable inspected for embedded build information.
const MAX_BINARY: u64 = 512 << 20;
/// Executables smaller than this cannot hold Go or Rust build information.
const MIN_BINARY: u64 = 1024;

/// What a path is in a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Other,
}

/// One entry a layer adds (or replaces).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path relative to the root, without a leading `/` or `./`.
    pub path: String,
    pub kind: Kind,
    /// Bytes of content (0 for everything but regular files).
    pub size: u64,
}

/// One change a layer makes.
#[derive(Debug, Clone)]
pub enum Change {
    Add(Entry),
    /// Delete this path (and everything below it) of lower layers.
    Whiteout(String),
    /// Hide everything lower layers put below this directory.
    Opaque(String),
}

/// Everything read from one layer.
#[derive(Debug, Clone, Default)]
pub struct LayerContents {
    pub changes: Vec<Change>,
    /// Regular files added.
    pub files: u64,
    /// Bytes of regular files added (the layer's unpacked content size).
    pub bytes: u64,
}

/// A metadata file kept for the catalogers.
#[derive(Debug, Clone)]
pub struct Captured {
    pub layer: usize,
    pub path: String,
    pub data: Vec<u8>,
}

/// An executable that carries build information.
#[derive(Debug, Clone)]
pub struct Binary {
    pub layer: usize,
    pub path: String,
    pub facts: BinaryFacts,
}

/// A path's state in the final filesystem.
#[derive(Debug, Clone, Copy)]
pub struct Node {
    /// The layer that last wrote the path.
    pub layer: usize,
    pub kind: Kind,
    pub size: u64,
}

/// A file version that ships in a layer but is not visible in the image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Hidden {
    pub path: String,
    pub size: u64,
    /// The layer that holds the bytes.
    pub added_in: usize,
    /// The layer that replaced or deleted it.
    pub removed_in: usize,
    /// Deleted (whiteout or opaque directory) rather than overwritten.
    pub deleted: bool,
}

/// What to keep while reading.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Keep package databases and manifests (for the SBOM).
    pub metadata: bool,
    /// Inspect executables for Go build info and `cargo auditable` data.
    pub binaries: bool,
}

impl ReadOptions {
    /// Everything the SBOM needs.
    pub fn sbom() -> ReadOptions {
        ReadOptions {
            metadata: true,
            binaries: true,
        }
    }
    /// Only the file list (for `analyze`).
    pub fn files_only() -> ReadOptions {
        ReadOptions {
            metadata: false,
            binaries: false,
        }
    }
}

/// The files of an image, per layer and merged.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub layers: Vec<LayerContents>,
    /// The final filesystem: path → the layer that last wrote it.
    pub tree: BTreeMap<String, Node>,
    /// File versions that later layers replaced or deleted, in the order they were hidden.
    pub hidden: Vec<Hidden>,
    /// Metadata files, from every layer (also versions later hidden).
    pub captured: Vec<Captured>,
    /// Executables with build information, from every layer.
    pub binaries: Vec<Binary>,
}

impl Inventory {
    /// Read every layer of `image` from `store`.
    pub fn read(store: &Store, image: &Image, options: ReadOptions) -> Result<Inventory> {
        let per_layer: Vec<(LayerContents, Vec<Captured>, Vec<Binary>)> = image
            .layers
            .par_iter()
            .enumerate()
            .map(|(i, l)| read_layer(store, image, i, l, options))
            .collect::<Result<_>>()?;
        let mut inv = Inventory::default();
        for (i, (contents, captured, binaries)) in per_layer.into_iter().enumerate() {
            inv.apply(i, &contents.changes);
            inv.layers.push(contents);
            inv.captured.extend(captured);
            inv.binaries.extend(binaries);
        }
        Ok(inv)
    }

    /// Build an inventory from changes already known (tests, other readers).
    pub fn from_layers(layers: Vec<LayerContents>) -> Inventory {
        let mut inv = Inventory::default();
        for (i, l) in layers.into_iter().enumerate() {
            inv.apply(i, &l.changes);
            inv.layers.push(l);
        }
        inv
    }

    /// Whether the version of `path` written by `layer` is the one the image shows.
    pub fn is_visible(&self, layer: usize, path: &str) -> bool {
        self.tree.get(path).is_some_and(|n| n.layer == layer)
    }

    /// Captured files whose version is visible in the final filesystem.
    pub fn visible_captured(&self) -> impl Iterator<Item = &Captured> {
        self.captured
            .iter()
            .filter(|c| self.is_visible(c.layer, &c.path))
    }

    /// The visible version of the captured file `path`.
    pub fn visible_file(&self, path: &str) -> Option<&Captured> {
        self.captured
            .iter()
            .rev()
            .find(|c| c.path == path && self.is_visible(c.layer, &c.path))
    }

    fn apply(&mut self, layer: usize, changes: &[Change]) {
        for change in changes {
            match change {
                Change::Whiteout(path) => {
                    self.remove_lower(path, true, layer);
                    self.remove_lower_below(path, layer);
                }
                Change::Opaque(dir) => self.remove_lower_below(dir, layer),
                Change::Add(e) => {
                    if let Some(old) = self.tree.get(&e.path).copied() {
                        if old.kind == Kind::Dir && e.kind != Kind::Dir {
                            // A file replacing a directory hides the directory's content.
                            self.remove_lower_below(&e.path, layer);
                        }
                        if old.kind != Kind::Dir && old.size > 0 {
                            self.hidden.push(Hidden {
                                path: e.path.clone(),
                                size: old.size,
                                added_in: old.layer,
                                removed_in: layer,
                                deleted: false,
                            });
                        }
                    }
                    self.tree.insert(
                        e.path.clone(),
                        Node {
                            layer,
                            kind: e.kind,
                            size: e.size,
                        },
                    );
                }
            }
        }
    }

    /// Remove `path` itself if a lower layer wrote it.
    fn remove_lower(&mut self, path: &str, deleted: bool, layer: usize) {
        if let Some(n) = self.tree.get(path).copied()
            && n.layer < layer
        {
            self.tree.remove(path);
            self.note_hidden(path.to_string(), n, layer, deleted);
        }
    }

    /// Remove everything below `dir` that lower layers wrote.
    fn remove_lower_below(&mut self, dir: &str, layer: usize) {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let doomed: Vec<(String, Node)> = self
            .tree
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, n)| n.layer < layer)
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        for (k, n) in doomed {
            self.tree.remove(&k);
            self.note_hidden(k, n, layer, true);
        }
    }

    fn note_hidden(&mut self, path: String, n: Node, layer: usize, deleted: bool) {
        if n.kind != Kind::Dir && n.size > 0 {
            self.hidden.push(Hidden {
                path,
                size: n.size,
                added_in: n.layer,
                removed_in: layer,
                deleted,
            });
        }
    }
}

/// Normalise a tar name: no leading `./` or `/`, no trailing `/`, no empty or `.` parts.
pub fn normalize_path(raw: &str) -> String {
    raw.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect::<Vec<_>>()
        .join("/")
}

fn split_last(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

/// Whether the catalogers need this file's content.
pub fn wanted_metadata(path: &str) -> bool {
    let (dir, base) = split_last(path);
    match path {
        "var/lib/dpkg/status"
        | "lib/apk/db/installed"
        | "usr/lib/apk/db/installed"
        | "etc/os-release"
        | "usr/lib/os-release"
        | "etc/alpine-release"
        | "etc/debian_version" => return true,
        _ => {}
    }
    if dir == "var/lib/dpkg/status.d" {
        return !base.ends_with(".md5sums");
    }
    if path.ends_with(".dist-info/METADATA")
        || path.ends_with(".egg-info/PKG-INFO")
        || base.ends_with(".egg-info")
    {
        return true;
    }
    if base == "package.json" {
        return is_node_module_dir(dir);
    }
    if base == "package-lock.json" || base == "yarn.lock" {
        // Lockfiles inside node_modules belong to installed packages, not to the app.
        return !path.split('/').any(|p| p == "node_modules");
    }
    base == "Cargo.lock"
}

/// `…/node_modules/NAME` or `…/node_modules/@SCOPE/NAME`.
fn is_node_module_dir(dir: &str) -> bool {
    let (parent, name) = split_last(dir);
    if name.is_empty() || name.starts_with('.') {
        return false;
    }
    let (grand, parent_name) = split_last(parent);
    if parent_name == "node_modules" {
        return !name.starts_with('@');
    }
    parent_name.starts_with('@') && split_last(grand).1 == "node_modules"
}

fn read_layer(
    store: &Store,
    image: &Image,
    index: usize,
    layer: &Layer,
    options: ReadOptions,
) -> Result<(LayerContents, Vec<Captured>, Vec<Binary>)> {
    let file = store
        .open_blob(&layer.digest)
        .map_err(|source| InsightError::Store {
            image: image.name.clone(),
            source,
        })?;
    let (_, plain) =
        strata_layer::decompress(BufReader::with_capacity(256 << 10, file)).map_err(|source| {
            InsightError::Layer {
                digest: layer.digest.clone(),
                source,
            }
        })?;
    let tar_err = |entry: &str| {
        let digest = layer.digest.clone();
        let entry = entry.to_string();
        move |source| InsightError::LayerTar {
            digest,
            entry,
            source,
        }
    };
    let mut archive = tar::Archive::new(plain);
    let mut contents = LayerContents::default();
    let mut captured = Vec::new();
    let mut binaries = Vec::new();
    let mut last = String::new();
    for entry in archive.entries().map_err(tar_err(""))? {
        let mut entry = entry.map_err(tar_err(&last))?;
        let path = normalize_path(&String::from_utf8_lossy(&entry.path_bytes()));
        if path.is_empty() {
            continue;
        }
        last.clone_from(&path);
        let (dir, base) = split_last(&path);
        if base == strata_layer::WHITEOUT_OPAQUE {
            contents.changes.push(Change::Opaque(dir.to_string()));
            continue;
        }
        if base.starts_with(strata_layer::WHITEOUT_META_PREFIX) {
            continue;
        }
        if let Some(target) = base.strip_prefix(strata_layer::WHITEOUT_PREFIX) {
            let target = if dir.is_empty() {
                target.to_string()
            } else {
                format!("{dir}/{target}")
            };
            contents.changes.push(Change::Whiteout(target));
            continue;
        }
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink,
            tar::EntryType::Link => Kind::Hardlink,
            _ => Kind::Other,
        };
        let size = if kind == Kind::File { entry.size() } else { 0 };
        let mode = header.mode().unwrap_or(0);
        if kind == Kind::File {
            contents.files += 1;
            contents.bytes += size;
            if options.metadata && size <= MAX_METADATA && wanted_metadata(&path) {
                let mut data = Vec::with_capacity(size as usize);
                entry.read_to_end(&mut data).map_err(tar_err(&path))?;
                captured.push(Captured {
                    layer: index,
                    path: path.clone(),
                    data,
                });
            } else if options.binaries
                && mode & 0o111 != 0
                && (MIN_BINARY..=MAX_BINARY).contains(&size)
            {
                let mut magic = [0u8; 4];
                entry.read_exact(&mut magic).map_err(tar_err(&path))?;
                if binary::is_executable_magic(&magic) {
                    let mut data = Vec::with_capacity(size as usize);
                    data.extend_from_slice(&magic);
                    entry.read_to_end(&mut data).map_err(tar_err(&path))?;
                    if let Some(facts) = binary::inspect(&data) {
                        binaries.push(Binary {
                            layer: index,
                            path: path.clone(),
                            facts,
                        });
                    }
                }
            }
        }
        contents
            .changes
            .push(Change::Add(Entry { path, kind, size }));
    }
    Ok((contents, captured, binaries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(path: &str, size: u64) -> Change {
        Change::Add(Entry {
            path: path.into(),
            kind: Kind::File,
            size,
        })
    }
    fn dir(path: &str) -> Change {
        Change::Add(Entry {
            path: path.into(),
            kind: Kind::Dir,
            size: 0,
        })
    }
    fn layer(changes: Vec<Change>) -> LayerContents {
        LayerContents {
            changes,
            ..Default::default()
        }
    }

    #[test]
    fn whiteouts_overwrites_and_opaque_dirs_hide_lower_files() {
        let inv = Inventory::from_layers(vec![
            layer(vec![
                dir("a"),
                add("a/big", 100),
                add("a/keep", 5),
                dir("a/b"),
                add("a/b/x", 7),
                add("a/b-c", 3),
                dir("o"),
                add("o/old", 11),
            ]),
            layer(vec![
                Change::Whiteout("a/big".into()),
                Change::Whiteout("a/b".into()),
                add("a/keep", 6),
                Change::Opaque("o".into()),
                add("o/new", 1),
            ]),
        ]);
        let mut hidden: Vec<_> = inv
            .hidden
            .iter()
            .map(|h| (h.path.as_str(), h.size, h.deleted))
            .collect();
        hidden.sort();
        assert_eq!(
            hidden,
            vec![
                ("a/b/x", 7, true),
                ("a/big", 100, true),
                ("a/keep", 5, false),
                ("o/old", 11, true)
            ]
        );
        assert!(
            inv.tree.contains_key("a/b-c"),
            "sibling with a common prefix survives"
        );
        assert!(!inv.tree.contains_key("a/b"));
        assert_eq!(inv.tree["a/keep"].layer, 1);
        assert!(inv.tree.contains_key("o/new"));
        assert!(inv.is_visible(0, "a/b-c"));
        assert!(!inv.is_visible(0, "a/keep"));
    }

    #[test]
    fn a_whiteout_does_not_delete_what_its_own_layer_adds() {
        let inv = Inventory::from_layers(vec![
            layer(vec![add("f", 1)]),
            layer(vec![Change::Opaque(String::new()), add("g", 2)]),
        ]);
        assert!(inv.tree.contains_key("g"));
        assert!(!inv.tree.contains_key("f"));
    }

    #[test]
    fn metadata_paths() {
        for p in [
            "var/lib/dpkg/status",
            "var/lib/dpkg/status.d/base-files",
            "usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
            "usr/lib/python3/dist-packages/six-1.16.0.egg-info",
            "app/node_modules/left-pad/package.json",
            "app/node_modules/@babel/core/package.json",
            "app/node_modules/a/node_modules/b/package.json",
            "app/package-lock.json",
            "app/yarn.lock",
            "src/Cargo.lock",
            "lib/apk/db/installed",
        ] {
            assert!(wanted_metadata(p), "{p}");
        }
        for p in [
            "var/lib/dpkg/status.d/base-files.md5sums",
            "app/package.json",
            "app/node_modules/a/lib/package.json",
            "app/node_modules/@babel/package.json",
            "app/node_modules/.package-lock.json",
            "app/node_modules/x/package-lock.json",
            "etc/passwd",
        ] {
            assert!(!wanted_metadata(p), "{p}");
        }
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(normalize_path("./usr//bin/"), "usr/bin");
        assert_eq!(normalize_path("/etc/os-release"), "etc/os-release");
        assert_eq!(normalize_path("./"), "");
    }
}
