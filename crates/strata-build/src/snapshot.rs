//! Snapshots: each committed layer unpacked once into `snapshots/<chainID>/` (overlayfs
//! whiteout format, so the directories stack as overlay lower directories).
//!
//! A snapshot appears only by renaming a fully written directory into place, so a build
//! killed mid-unpack leaves a `snapshots/tmp/…` directory (removed by the next build) and
//! never a half-filled snapshot. A layer the build itself produced is not unpacked at all:
//! the RUN upper directory or the COPY directory it was made from is renamed into place.
//!
//! Snapshots are a cache of unpacked layers: [`Snapshots::prune`] removes those no image of
//! the store and no container (whose overlay uses them as lower directories) needs; they
//! are unpacked again from their blobs when asked for. Whoever is about to use snapshots
//! whose image may not be in the store yet (a build, an unpack, a container being created)
//! holds [`Snapshots::hold`], a shared lock on `snapshots/.lock`; pruning takes it
//! exclusively and, rather than wait for a long build, skips its work when it is held. A
//! snapshot is first renamed out of place and then deleted, so an interrupted prune never
//! leaves a partial snapshot where a lower directory is looked for.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use strata_layer::{ApplyOptions, WhiteoutMode};
use strata_oci::{Descriptor, Digest, Document, ImageConfig};
use strata_store::Store;

use crate::cache::LayerRecord;
use crate::{Result, io_err};

/// The snapshot directory of one store.
#[derive(Debug, Clone)]
pub struct Snapshots {
    dir: PathBuf,
}

/// A scratch directory under `snapshots/tmp/`, removed on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A shared hold on the snapshots: no prune removes any while it lives.
#[derive(Debug)]
pub struct SnapshotHold {
    _file: fs::File,
}

/// What [`Snapshots::prune`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SnapshotPrune {
    /// Chain IDs of the snapshots removed.
    pub removed: Vec<String>,
    /// Disk space they used (allocated blocks).
    pub bytes: u64,
    /// Builds or container starts held the snapshots: nothing was removed.
    pub busy: bool,
}

/// Allocated size of the tree at `p` (not following links).
pub(crate) fn dir_size(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(p)
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.blocks() * 512)
        .sum()
}

/// The chain IDs of every layer stack of the images in `store` (each prefix of each
/// image's layers, for every platform manifest of an index that the store has).
pub fn image_chains(store: &Store) -> Result<HashSet<String>> {
    let mut keep = HashSet::new();
    let images = store.images()?;
    let mut todo: Vec<Descriptor> = images
        .digests()
        .into_iter()
        .filter_map(|d| images.by_digest(d).cloned())
        .collect();
    let mut seen = HashSet::new();
    while let Some(desc) = todo.pop() {
        if !seen.insert(desc.digest.clone()) || !store.has_blob(&desc.digest) {
            continue;
        }
        let Ok(doc) = store.read_document(&desc) else {
            continue;
        };
        match &doc.value {
            Document::Index(index) => todo.extend(index.manifests.iter().cloned()),
            Document::Manifest(m) => {
                let Ok(bytes) = store.read_blob(&m.config.digest) else {
                    continue;
                };
                let Ok(config) = ImageConfig::parse_with_digest(&bytes, &m.config.digest) else {
                    continue;
                };
                for c in strata_layer::chain_ids(&config.rootfs.diff_ids) {
                    keep.insert(c.hex().to_string());
                }
            }
        }
    }
    Ok(keep)
}

impl Snapshots {
    pub fn new(store: &Store) -> Result<Snapshots> {
        let dir = store.root().join("snapshots");
        fs::create_dir_all(dir.join("tmp")).map_err(io_err("create directory", &dir))?;
        Ok(Snapshots { dir })
    }

    /// A fresh temporary directory on the snapshot filesystem (so it can be renamed in).
    pub fn temp(&self) -> Result<TempDir> {
        let path = self
            .dir
            .join("tmp")
            .join(format!("{:016x}", rand::random::<u64>()));
        fs::create_dir_all(&path).map_err(io_err("create directory", &path))?;
        Ok(TempDir { path })
    }

    fn lock_file(&self) -> Result<fs::File> {
        let path = self.dir.join(".lock");
        fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err("open", &path))
    }

    /// Hold the snapshots (shared): a concurrent prune removes none while the hold lives.
    pub fn hold(&self) -> Result<SnapshotHold> {
        let file = self.lock_file()?;
        let path = self.dir.join(".lock");
        file.lock_shared().map_err(io_err("lock", &path))?;
        Ok(SnapshotHold { _file: file })
    }

    /// Remove every snapshot whose chain ID is neither a layer stack of an image in
    /// `store` nor in `in_use` (the lower directories of containers), and leftover scratch
    /// directories. Does nothing, and says so, while another process holds the snapshots.
    pub fn prune(&self, store: &Store, in_use: &HashSet<String>) -> Result<SnapshotPrune> {
        let mut report = SnapshotPrune::default();
        let file = self.lock_file()?;
        if file.try_lock().is_err() {
            report.busy = true;
            return Ok(report);
        }
        let keep = image_chains(store)?;
        let rd = fs::read_dir(&self.dir).map_err(io_err("read directory", &self.dir))?;
        let mut doomed = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let is_chain = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if is_chain && !keep.contains(&name) && !in_use.contains(&name) {
                doomed.push(name);
            }
        }
        for name in doomed {
            let from = self.dir.join(&name);
            let to = self
                .dir
                .join("tmp")
                .join(format!("pruned-{:016x}", rand::random::<u64>()));
            fs::rename(&from, &to).map_err(io_err("rename", &from))?;
            report.bytes += dir_size(&to);
            fs::remove_dir_all(&to).map_err(io_err("remove", &to))?;
            report.removed.push(name);
        }
        // With the lock held exclusively no build is running: every scratch directory is
        // a leftover.
        let tmp = self.dir.join("tmp");
        if let Ok(rd) = fs::read_dir(&tmp) {
            for e in rd.flatten() {
                report.bytes += dir_size(&e.path());
                let _ = fs::remove_dir_all(e.path());
            }
        }
        Ok(report)
    }

    /// Remove temporary directories older than an hour (left by killed builds).
    pub fn clean_stale(&self) {
        let Ok(rd) = fs::read_dir(self.dir.join("tmp")) else {
            return;
        };
        for e in rd.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 3600);
            if old {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }

    pub fn path(&self, chain_id: &Digest) -> PathBuf {
        self.dir.join(chain_id.hex())
    }

    /// An always-empty directory (the lower of an overlay over no layers).
    pub fn empty(&self) -> Result<PathBuf> {
        let p = self.dir.join("empty");
        fs::create_dir_all(&p).map_err(io_err("create directory", &p))?;
        Ok(p)
    }

    /// Move `dir` into place as the snapshot `chain_id` (a concurrent builder may have won).
    pub fn commit(&self, chain_id: &Digest, dir: &Path) -> Result<PathBuf> {
        let dest = self.path(chain_id);
        if dest.exists() {
            return Ok(dest);
        }
        if let Err(e) = fs::rename(dir, &dest)
            && !dest.exists()
        {
            return Err(io_err("rename", &dest)(e));
        }
        Ok(dest)
    }

    /// Unpack the layer blob `digest` into a fresh scratch directory, in the snapshot
    /// format (devices, owners, overlay whiteouts), for [`Snapshots::commit`]; returns the
    /// directory and the layer's diffID as read. The caller holds the snapshots.
    pub fn unpack(&self, store: &Store, digest: &Digest) -> Result<(TempDir, Digest)> {
        let tmp = self.temp()?;
        let blob = store.open_blob(digest)?;
        let opts = ApplyOptions {
            allow_devices: true,
            chown: true,
            whiteouts: WhiteoutMode::Overlay { user_xattr: false },
        };
        let summary = strata_layer::apply(std::io::BufReader::new(blob), tmp.path(), &opts)?;
        Ok((tmp, summary.diff_id))
    }

    /// The snapshot directories of `layers` (bottom first), unpacking missing ones.
    pub fn ensure(&self, store: &Store, layers: &[LayerRecord]) -> Result<Vec<PathBuf>> {
        let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
        let chain = strata_layer::chain_ids(&diff_ids);
        let mut out = Vec::with_capacity(layers.len());
        // Unpacking must not race a prune (see the module doc).
        let mut hold = None;
        for (layer, chain_id) in layers.iter().zip(&chain) {
            let dest = self.path(chain_id);
            if !dest.exists() {
                if hold.is_none() {
                    hold = Some(self.hold()?);
                }
                let (tmp, _) = self.unpack(store, &layer.digest)?;
                self.commit(chain_id, tmp.path())?;
            }
            out.push(dest);
        }
        Ok(out)
    }
}
