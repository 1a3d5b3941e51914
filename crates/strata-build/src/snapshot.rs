//! Snapshots: each committed layer unpacked once into `snapshots/<chainID>/` (overlayfs
//! whiteout format, so the directories stack as overlay lower directories).
//!
//! A snapshot appears only by renaming a fully written directory into place, so a build
//! killed mid-unpack leaves a `snapshots/tmp/…` directory (removed by the next build) and
//! never a half-filled snapshot. A layer the build itself produced is not unpacked at all:
//! the RUN upper directory or the COPY directory it was made from is renamed into place.

use std::fs;
use std::path::{Path, PathBuf};

use strata_layer::{ApplyOptions, WhiteoutMode};
use strata_oci::Digest;
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

    /// The snapshot directories of `layers` (bottom first), unpacking missing ones.
    pub fn ensure(&self, store: &Store, layers: &[LayerRecord]) -> Result<Vec<PathBuf>> {
        let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
        let chain = strata_layer::chain_ids(&diff_ids);
        let mut out = Vec::with_capacity(layers.len());
        for (layer, chain_id) in layers.iter().zip(&chain) {
            let dest = self.path(chain_id);
            if !dest.exists() {
                let tmp = self.temp()?;
                let blob = store.open_blob(&layer.digest)?;
                let opts = ApplyOptions {
                    allow_devices: true,
                    chown: true,
                    whiteouts: WhiteoutMode::Overlay { user_xattr: false },
                };
                strata_layer::apply(std::io::BufReader::new(blob), tmp.path(), &opts)?;
                self.commit(chain_id, tmp.path())?;
            }
            out.push(dest);
        }
        Ok(out)
    }
}
