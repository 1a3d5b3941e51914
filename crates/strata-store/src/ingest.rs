//! Verified ingest: every blob is written into `ingest/` under a unique name while being
//! hashed, then committed — fsynced, checked against the expected digest and size, shown
//! to an optional [`BlobVerifier`], recorded in the writer's [`Lease`], and renamed to
//! `oci/blobs/<alg>/<hex>`. A blob is therefore visible under its digest only once it is
//! complete, durable and verified; a writer killed half way leaves only an ingest file,
//! which garbage collection removes once its lock is free.
//!
//! A large blob's data is handed to the kernel for writeback as it is written, so the
//! fsync at commit mostly finds it on disk already.
//!
//! Committing a blob that already exists is a cheap no-op (the ingest file is deleted),
//! which is how a layer shared by many images is stored once.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use strata_oci::{Algorithm, Digest, PipedDigester};

use crate::Store;
use crate::error::{Error, Result, VerifyError, io_err};
use crate::lease::Lease;

/// A complete blob in the ingest area, shown to a [`BlobVerifier`] before it is committed.
#[derive(Debug, Clone, Copy)]
pub struct Ingested<'a> {
    /// The ingest file; open it to read the content.
    pub path: &'a Path,
    /// Its digest (computed while writing).
    pub digest: &'a Digest,
    /// Its size in bytes.
    pub size: u64,
    /// The media type the caller expects the blob to have, if it said.
    pub media_type: Option<&'a str>,
}

/// A check a blob must pass before it becomes visible, e.g. layer validation by the CLI
/// (safe paths, no devices). Refusing deletes the ingest file.
pub trait BlobVerifier: Sync {
    fn verify(&self, blob: &Ingested<'_>) -> Result<(), VerifyError>;
}

impl<F> BlobVerifier for F
where
    F: Fn(&Ingested<'_>) -> Result<(), VerifyError> + Sync,
{
    fn verify(&self, blob: &Ingested<'_>) -> Result<(), VerifyError> {
        self(blob)
    }
}

/// A verifier that accepts everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptAll;

impl BlobVerifier for AcceptAll {
    fn verify(&self, _: &Ingested<'_>) -> Result<(), VerifyError> {
        Ok(())
    }
}

/// Streams a blob into the ingest area, hashing as it goes. `io::Write`.
pub struct BlobWriter<'a> {
    store: &'a Store,
    lease: &'a Lease,
    /// `None` once finished.
    out: Option<BufWriter<File>>,
    path: PathBuf,
    /// Hashes on its own thread for large blobs: writing stays on the caller's.
    digester: PipedDigester,
    size: u64,
    /// Bytes handed to the kernel for writeback so far (see [`WRITEBACK_STEP`]).
    written_back: u64,
}

/// Every this many bytes, a blob writer asks the kernel to start writing what it has out
/// (`sync_file_range`, without waiting): the fsync at commit then finds most of a large
/// blob on disk already instead of writing it all while the caller waits.
const WRITEBACK_STEP: u64 = 8 << 20;

impl<'a> BlobWriter<'a> {
    pub(crate) fn new(store: &'a Store, lease: &'a Lease, algorithm: Algorithm) -> Result<Self> {
        let (file, path) = {
            let _gc = store.gc_shared()?;
            crate::fsutil::create_locked(&store.ingest_dir(), "blob-")?
        };
        Ok(BlobWriter {
            store,
            lease,
            out: Some(BufWriter::with_capacity(256 * 1024, file)),
            path,
            digester: PipedDigester::new(algorithm),
            size: 0,
            written_back: 0,
        })
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digest of what was written so far (the writer hashes everything it is given,
    /// so a producer need not hash the same bytes a second time).
    /// `None` only if the hashing thread died (see [`PipedDigester::digest`]).
    pub fn digest(&mut self) -> Option<Digest> {
        self.digester.digest()
    }

    /// The ingest file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Finish writing without committing: the blob stays in `ingest/` with its digest
    /// known, to be committed (or dropped) later.
    pub fn finish(mut self) -> Result<Pending<'a>> {
        let file = match self.out.take() {
            Some(out) => out
                .into_inner()
                .map_err(|e| io_err("write", &self.path)(e.into_error()))?,
            None => File::open(&self.path).map_err(io_err("open", &self.path))?,
        };
        let digest = self.digester.digest().ok_or_else(|| {
            io_err("hash", &self.path)(io::Error::other("the hashing thread stopped"))
        })?;
        let path = std::mem::take(&mut self.path);
        Ok(Pending {
            store: self.store,
            lease: self.lease,
            file: Some(file),
            path,
            digest,
            size: self.size,
        })
    }

    /// Commit the blob: verify digest and size if given, fsync, rename into `blobs/`.
    pub fn commit(
        self,
        expected_digest: Option<&Digest>,
        expected_size: Option<u64>,
    ) -> Result<Digest> {
        self.finish()?.commit(expected_digest, expected_size)
    }

    /// As [`BlobWriter::commit`], after `verifier` accepted the content.
    pub fn commit_verified(
        self,
        expected_digest: Option<&Digest>,
        expected_size: Option<u64>,
        media_type: Option<&str>,
        verifier: &dyn BlobVerifier,
    ) -> Result<Digest> {
        self.finish()?
            .commit_verified(expected_digest, expected_size, media_type, verifier)
    }
}

impl Write for BlobWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let out = self.out.as_mut().ok_or(io::ErrorKind::BrokenPipe)?;
        let n = out.write(buf)?;
        self.digester.update(&buf[..n]);
        self.size += n as u64;
        // What the buffer has passed on to the file.
        let in_file = self.size - out.buffer().len() as u64;
        if in_file >= self.written_back + WRITEBACK_STEP {
            use std::os::fd::AsRawFd;
            let fd = out.get_ref().as_raw_fd();
            // SAFETY: an open descriptor and a byte range of it; the call only starts
            // writeback (no wait), and its failure changes nothing (commit fsyncs anyway).
            unsafe {
                libc::sync_file_range(
                    fd,
                    self.written_back as libc::off64_t,
                    (in_file - self.written_back) as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
            self.written_back = in_file;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter<'_> {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A fully written, hashed blob still in the ingest area. Dropping it deletes the file.
#[derive(Debug)]
pub struct Pending<'a> {
    store: &'a Store,
    lease: &'a Lease,
    file: Option<File>,
    path: PathBuf,
    digest: Digest,
    size: u64,
}

impl<'a> Pending<'a> {
    /// The digest of the content.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The size of the content.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The ingest file (read it to inspect the content before deciding).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open the content for reading.
    pub fn open(&self) -> Result<File> {
        File::open(&self.path).map_err(io_err("open", &self.path))
    }

    /// Read the whole content into memory (for small documents).
    pub fn read(&self) -> Result<Vec<u8>> {
        fs::read(&self.path).map_err(io_err("read", &self.path))
    }

    /// Commit: check the expected digest and size, fsync, rename into `blobs/`.
    pub fn commit(
        self,
        expected_digest: Option<&Digest>,
        expected_size: Option<u64>,
    ) -> Result<Digest> {
        self.commit_verified(expected_digest, expected_size, None, &AcceptAll)
    }

    /// As [`Pending::commit`], after `verifier` accepted the content.
    pub fn commit_verified(
        mut self,
        expected_digest: Option<&Digest>,
        expected_size: Option<u64>,
        media_type: Option<&str>,
        verifier: &dyn BlobVerifier,
    ) -> Result<Digest> {
        if let Some(expected) = expected_digest
            && *expected != self.digest
        {
            return Err(Error::DigestMismatch {
                expected: expected.clone(),
                actual: self.digest.clone(),
            });
        }
        if let Some(expected) = expected_size
            && expected != self.size
        {
            return Err(Error::SizeMismatch {
                digest: self.digest.clone(),
                expected,
                actual: self.size,
            });
        }
        verifier
            .verify(&Ingested {
                path: &self.path,
                digest: &self.digest,
                size: self.size,
                media_type,
            })
            .map_err(|source| Error::Refused {
                digest: self.digest.clone(),
                source,
            })?;
        if let Some(f) = &self.file {
            f.sync_all().map_err(io_err("fsync", &self.path))?;
        }
        let target = self.store.blob_path(&self.digest);
        {
            // Under the shared GC lock: record in the lease first, then make visible.
            let _gc = self.store.gc_shared()?;
            self.lease.record(&self.digest)?;
            if target.exists() {
                fs::remove_file(&self.path).map_err(io_err("remove", &self.path))?;
            } else {
                let dir = self.store.blobs_alg_dir(self.digest.algorithm());
                fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
                fs::rename(&self.path, &target).map_err(io_err("rename into place", &target))?;
                crate::fsutil::fsync_dir(&dir)?;
            }
        }
        self.path = PathBuf::new();
        self.file = None;
        Ok(self.digest.clone())
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}
