//! Leases: protection from garbage collection for blobs a live process has written (or
//! found already present) but not yet referenced from `index.json`.
//!
//! A lease is a file `meta/leases/<id>` that its owner keeps locked (`flock`) for as long
//! as the [`Lease`] value lives; it lists one digest per line, appended *before* the blob
//! becomes visible under its digest (and under the shared GC lock, so a collection never
//! runs between the two). GC reads every lease whose lock it cannot take; a lease whose
//! lock it *can* take belongs to a process that died, and GC deletes it. Dropping a
//! `Lease` deletes its file: the blobs it protected are then live only if something
//! references them.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use strata_oci::Digest;

use crate::error::{Result, io_err};

/// A live lease. Methods take `&self`, so one lease can serve several threads.
#[derive(Debug)]
pub struct Lease {
    path: PathBuf,
    file: File,
    recorded: Mutex<HashSet<Digest>>,
}

impl Lease {
    pub(crate) fn from_parts(path: PathBuf, file: File) -> Lease {
        Lease {
            path,
            file,
            recorded: Mutex::new(HashSet::new()),
        }
    }

    /// The lease's identifier (its file name).
    pub fn id(&self) -> &str {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
    }

    /// Whether this lease already protects `digest`.
    pub fn protects(&self, digest: &Digest) -> bool {
        self.recorded
            .lock()
            .map(|set| set.contains(digest))
            .unwrap_or(false)
    }

    /// Record `digest` in the lease file. The caller holds the shared GC lock.
    pub(crate) fn record(&self, digest: &Digest) -> Result<()> {
        let mut set = match self.recorded.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if set.contains(digest) {
            return Ok(());
        }
        // No fsync: a lease only matters while its owner is alive, and a live owner's
        // writes are visible to every reader of the file at once.
        (&self.file)
            .write_all(format!("{digest}\n").as_bytes())
            .map_err(io_err("append to lease", &self.path))?;
        set.insert(digest.clone());
        Ok(())
    }

    /// End the lease now (same as dropping it, but reports errors).
    pub fn release(mut self) -> Result<()> {
        let path = std::mem::take(&mut self.path);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove lease", path)(e)),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Remove the file while still holding its lock; the lock goes with the descriptor.
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Parse a lease file's content: one digest per line. Unparseable lines are skipped: GC
/// reads leases under the exclusive GC lock while appends happen under the shared one, so
/// a live lease never shows a torn line, and a dead owner's lease is not read at all.
pub(crate) fn parse_lease(bytes: &[u8]) -> Vec<Digest> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| Digest::parse(l.trim()).ok())
        .collect()
}

/// Read the digests a lease file lists.
pub(crate) fn read_lease(path: &Path) -> Result<Vec<Digest>> {
    match fs::read(path) {
        Ok(b) => Ok(parse_lease(&b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err("read lease", path)(e)),
    }
}
