//! File-system primitives the store is built from: unique temporary names, atomic
//! replacement (write a temporary file in `ingest/`, fsync it, rename it over the target,
//! fsync the directory) and advisory locks.
//!
//! Locks are `flock(2)` locks taken through `std::fs::File::lock`. They belong to an open
//! file description, so every acquisition opens the lock file anew: two threads of one
//! process exclude each other exactly like two processes, and a process that dies releases
//! its locks with its descriptors.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Result, io_err};

/// A name no other live writer uses: process id, time and a per-process counter.
pub(crate) fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}{}-{nanos:x}-{n}", std::process::id())
}

/// Make a directory's entries durable (after a rename or unlink inside it).
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    let f = File::open(dir).map_err(io_err("open directory", dir))?;
    f.sync_all().map_err(io_err("fsync directory", dir))
}

/// Create a new file in `dir` with a unique name, locked exclusively so garbage collection
/// knows its writer is alive. The caller must hold the GC lock shared while calling this,
/// so GC cannot see the file between its creation and its lock.
pub(crate) fn create_locked(dir: &Path, prefix: &str) -> Result<(File, PathBuf)> {
    let path = dir.join(unique_name(prefix));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io_err("create", &path))?;
    file.lock().map_err(io_err("lock", &path))?;
    Ok((file, path))
}

/// Replace `target` with `bytes` atomically: readers see the old or the new content,
/// never a mix, and after a crash the file is one or the other. The temporary file lives
/// in `tmp_dir` (same file system as `target`).
///
/// Callers hold the store lock: the temporary file is not flock-ed, and GC (which also
/// holds the store lock) treats every unlocked file in `ingest/` as abandoned.
pub(crate) fn atomic_write(tmp_dir: &Path, target: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_dir.join(unique_name(".atomic-"));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        f.write_all(bytes).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("fsync", &tmp))?;
        drop(f);
        fs::rename(&tmp, target).map_err(io_err("rename into place", target))?;
        if let Some(parent) = target.parent() {
            fsync_dir(parent)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// An advisory lock, released when dropped (the descriptor is closed).
#[derive(Debug)]
pub(crate) struct LockGuard {
    _file: File,
}

fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_err("open lock file", path))
}

/// Take `path`'s lock exclusively (blocking).
pub(crate) fn lock_exclusive(path: &Path) -> Result<LockGuard> {
    let file = open_lock_file(path)?;
    file.lock().map_err(io_err("lock", path))?;
    Ok(LockGuard { _file: file })
}

/// Take `path`'s lock shared (blocking).
pub(crate) fn lock_shared(path: &Path) -> Result<LockGuard> {
    let file = open_lock_file(path)?;
    file.lock_shared().map_err(io_err("lock", path))?;
    Ok(LockGuard { _file: file })
}

/// Whether nobody holds a lock on the existing file `path` (its owner died or finished).
/// `Ok(None)` when the file vanished meanwhile.
pub(crate) fn is_abandoned(path: &Path) -> Result<Option<bool>> {
    let file = match OpenOptions::new().read(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("open", path)(e)),
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(true)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(Some(false)),
        Err(std::fs::TryLockError::Error(e)) => Err(io_err("lock", path)(e)),
    }
}

/// Read a file that may be missing.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path)(e)),
    }
}
