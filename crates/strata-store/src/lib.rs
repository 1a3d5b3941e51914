//! # strata-store — the local content store
//!
//! Everything Strata keeps about images lives under one root (`$STRATA_ROOT`, see
//! [`Store::default_root`]):
//!
//! ```text
//! oci/               a real OCI image layout: oci-layout, index.json, blobs/<alg>/<hex>
//! ingest/            blobs being written, temporary files of atomic replacements
//! meta/images.json   per-image metadata Docker shows (LastTagTime, RepoDigests) + a summary cache
//! meta/leases/<id>   digests protected by a live process (flock-held), see [`lease`]
//! meta/roots/<name>  digests registered as GC roots by higher layers (build cache)
//! meta/gc.lock       shared by blob commits, exclusive for garbage collection
//! lock               exclusive for index/metadata transactions and GC
//! ```
//!
//! **The layout is the database.** Tags are descriptors in `oci/index.json` annotated with
//! `org.opencontainers.image.ref.name` and `io.containerd.image.name`, both holding the full
//! normalised name (`docker.io/library/busybox:latest`, `127.0.0.1:5000/app:1.0`); an
//! untagged (dangling) image is a descriptor without those annotations. So
//! `skopeo inspect oci:$ROOT/oci:NAME` and `umoci unpack --image $ROOT/oci:NAME` work on
//! the store as it is ([`Store::layout_ref`]).
//!
//! **Writes are atomic, reads take no lock.** Blobs appear under their digest only by a
//! rename after hashing, size check, verification and fsync ([`ingest`]). `index.json` and
//! `meta/images.json` are only ever replaced by rename, inside [`Store::update`], which
//! holds `lock` exclusively and re-reads the index first, so concurrent processes never
//! lose each other's tags. Reading the image list is two file reads and no directory scan.
//!
//! **Garbage collection** ([`gc`]) marks from the index (recursively through indexes and
//! manifests), live leases and registered roots, and sweeps the rest, holding both locks;
//! blob commits hold `meta/gc.lock` shared while they record their lease entry and rename,
//! so a blob is never collected between its commit and its tagging.
//!
//! Archives (`docker save`/`docker load` and OCI archives) are in [`archive`]. We write
//! the layout, locking and GC by hand: no crate implements an OCI layout store with
//! cross-process locking; `tar`, `flate2` and `zstd` do the archive formats.

pub mod archive;
pub mod check;
pub mod df;
mod error;
mod fsutil;
pub mod gc;
pub mod images;
pub mod ingest;
pub mod lease;

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use strata_oci::media_type;
use strata_oci::{Algorithm, Descriptor, Digest, Document, Parsed};

pub use check::{CheckReport, Problem, ProblemKind};
pub use df::{DiskUsage, ImageUsage};
pub use error::{Error, Result, VerifyError};
pub use gc::{GcOptions, GcReport};
pub use images::{ImageMeta, ImageSummary, Images, Txn, entry_name};
pub use ingest::{AcceptAll, BlobVerifier, BlobWriter, Ingested, Pending};
pub use lease::Lease;

use error::io_err;

/// Annotation BuildKit puts on index entries of attestation manifests (artifacts whose
/// config and layers are not image configs and filesystem layers).
pub(crate) const ANNOTATION_REFERENCE_TYPE: &str = "vnd.docker.reference.type";

/// An open store. Cheap to open (a couple of `stat`s once the layout exists); holds no
/// locks or descriptors between calls, so any number of processes can use one root.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The default root: `$STRATA_ROOT`; else `/var/lib/strata` when running as root;
    /// else `$XDG_DATA_HOME/strata` or `~/.local/share/strata`.
    pub fn default_root() -> Result<PathBuf> {
        if let Some(r) = std::env::var_os("STRATA_ROOT").filter(|r| !r.is_empty()) {
            return Ok(PathBuf::from(r));
        }
        if is_root_user() {
            return Ok(PathBuf::from("/var/lib/strata"));
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
            return Ok(PathBuf::from(x).join("strata"));
        }
        match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(h) => Ok(PathBuf::from(h).join(".local/share/strata")),
            None => Err(Error::NoRoot),
        }
    }

    /// Open the store at `root`, creating the layout on first use.
    pub fn open(root: impl AsRef<Path>) -> Result<Store> {
        let store = Store {
            root: root.as_ref().to_path_buf(),
        };
        if !store.index_path().exists() || !store.ingest_dir().exists() {
            store.create_layout()?;
        }
        Ok(store)
    }

    fn create_layout(&self) -> Result<()> {
        for dir in [
            self.root.clone(),
            self.blobs_alg_dir(Algorithm::Sha256),
            self.ingest_dir(),
            self.leases_dir(),
            self.roots_dir(),
        ] {
            fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        }
        // Under the lock and only if still missing: two first-time openers must not
        // overwrite an index a third process already tagged into.
        let _lock = self.lock_exclusive()?;
        let layout = self.oci_dir().join("oci-layout");
        if !layout.exists() {
            let body = format!(
                "{{\"imageLayoutVersion\":\"{}\"}}",
                media_type::OCI_LAYOUT_VERSION
            );
            fsutil::atomic_write(&self.ingest_dir(), &layout, body.as_bytes())?;
        }
        if !self.index_path().exists() {
            let index = strata_oci::Index::new_oci();
            let bytes = serde_json::to_vec(&index).map_err(|source| Error::Json {
                path: self.index_path(),
                source,
            })?;
            fsutil::atomic_write(&self.ingest_dir(), &self.index_path(), &bytes)?;
        }
        Ok(())
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The OCI image layout directory (`$ROOT/oci`).
    pub fn oci_dir(&self) -> PathBuf {
        self.root.join("oci")
    }

    /// The string to pass to skopeo (`oci:` + this) or umoci (`--image` this) to address
    /// the image tagged `name`: `$ROOT/oci:NAME`. Both tools split at the first colon, so
    /// full names with a registry port (`127.0.0.1:5000/app:1.0`) work as they are; the
    /// root path itself must not contain a colon.
    pub fn layout_ref(&self, name: &str) -> String {
        format!("{}:{}", self.oci_dir().display(), name)
    }

    pub(crate) fn index_path(&self) -> PathBuf {
        self.root.join("oci/index.json")
    }
    pub(crate) fn meta_images_path(&self) -> PathBuf {
        self.root.join("meta/images.json")
    }
    pub(crate) fn blobs_dir(&self) -> PathBuf {
        self.root.join("oci/blobs")
    }
    pub(crate) fn blobs_alg_dir(&self, alg: Algorithm) -> PathBuf {
        self.blobs_dir().join(alg.as_str())
    }
    pub(crate) fn ingest_dir(&self) -> PathBuf {
        self.root.join("ingest")
    }
    pub(crate) fn leases_dir(&self) -> PathBuf {
        self.root.join("meta/leases")
    }
    pub(crate) fn roots_dir(&self) -> PathBuf {
        self.root.join("meta/roots")
    }

    pub(crate) fn lock_exclusive(&self) -> Result<fsutil::LockGuard> {
        fsutil::lock_exclusive(&self.root.join("lock"))
    }
    pub(crate) fn lock_shared(&self) -> Result<fsutil::LockGuard> {
        fsutil::lock_shared(&self.root.join("lock"))
    }
    pub(crate) fn gc_shared(&self) -> Result<fsutil::LockGuard> {
        fsutil::lock_shared(&self.root.join("meta/gc.lock"))
    }
    pub(crate) fn gc_exclusive(&self) -> Result<fsutil::LockGuard> {
        fsutil::lock_exclusive(&self.root.join("meta/gc.lock"))
    }

    // ---- leases and writing ----

    /// Start a lease: blobs committed through it (or protected with
    /// [`Store::lease_existing`]) survive garbage collection until it is dropped.
    pub fn lease(&self) -> Result<Lease> {
        let _gc = self.gc_shared()?;
        let (file, path) = fsutil::create_locked(&self.leases_dir(), "")?;
        Ok(Lease::from_parts(path, file))
    }

    /// A writer for a new sha256 blob.
    pub fn writer<'a>(&'a self, lease: &'a Lease) -> Result<BlobWriter<'a>> {
        BlobWriter::new(self, lease, Algorithm::Sha256)
    }

    /// A writer hashing with `algorithm` (to commit a blob whose expected digest uses it).
    pub fn writer_with<'a>(
        &'a self,
        lease: &'a Lease,
        algorithm: Algorithm,
    ) -> Result<BlobWriter<'a>> {
        BlobWriter::new(self, lease, algorithm)
    }

    /// If `digest` is present, protect it with `lease` and return true. Call before
    /// skipping a download or write because the blob "already exists".
    pub fn lease_existing(&self, lease: &Lease, digest: &Digest) -> Result<bool> {
        let _gc = self.gc_shared()?;
        if self.has_blob(digest) {
            lease.record(digest)?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Store `bytes` (sha256) and return its descriptor. Existing content is not rewritten.
    pub fn write_blob(&self, lease: &Lease, bytes: &[u8], media_type: &str) -> Result<Descriptor> {
        let digest = Digest::sha256(bytes);
        if !self.lease_existing(lease, &digest)? {
            let mut w = self.writer(lease)?;
            std::io::Write::write_all(&mut w, bytes).map_err(io_err("write", w.path()))?;
            w.commit(Some(&digest), Some(bytes.len() as u64))?;
        }
        Ok(Descriptor::new(media_type, digest, bytes.len() as i64))
    }

    // ---- reading blobs ----

    /// Where the blob `digest` lives (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs_alg_dir(digest.algorithm()).join(digest.hex())
    }

    /// Whether the blob is present.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Open a blob for reading.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(|e| not_found_or(e, digest, "open", &path))
    }

    /// Read a whole blob.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let mut f = self.open_blob(digest)?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(io_err("read", self.blob_path(digest)))?;
        Ok(buf)
    }

    /// A blob's size in bytes.
    pub fn blob_size(&self, digest: &Digest) -> Result<u64> {
        let path = self.blob_path(digest);
        fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|e| not_found_or(e, digest, "stat", &path))
    }

    /// Read and parse the manifest or index `desc` points to. The bytes are checked
    /// against the digest (documents are small, and this keeps a damaged store from
    /// being trusted).
    pub fn read_document(&self, desc: &Descriptor) -> Result<Parsed<Document>> {
        let bytes = self.read_blob(&desc.digest)?;
        let actual = Digest::of(desc.digest.algorithm(), &bytes);
        if actual != desc.digest {
            return Err(Error::DigestMismatch {
                expected: desc.digest.clone(),
                actual,
            });
        }
        if !media_type::is_manifest_like(&desc.media_type) {
            return Err(Error::NotADocument {
                digest: desc.digest.clone(),
                media_type: desc.media_type.clone(),
            });
        }
        Ok(Parsed::parse_with_digest(
            bytes,
            desc.digest.clone(),
            Some(&desc.media_type),
        )?)
    }

    /// Register a garbage-collection root: `digests` (and, for manifests and indexes,
    /// everything they reference) stay alive while `meta/roots/<name>` exists. Replaces
    /// an existing root of that name.
    pub fn set_root(&self, name: &str, digests: &[Digest]) -> Result<()> {
        check_root_name(name)?;
        let mut body = String::new();
        for d in digests {
            body.push_str(d.as_str());
            body.push('\n');
        }
        let _lock = self.lock_exclusive()?;
        fsutil::atomic_write(
            &self.ingest_dir(),
            &self.roots_dir().join(name),
            body.as_bytes(),
        )
    }

    /// Remove a garbage-collection root (no error if it does not exist).
    pub fn remove_root(&self, name: &str) -> Result<()> {
        check_root_name(name)?;
        let _lock = self.lock_exclusive()?;
        let path = self.roots_dir().join(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove", path)(e)),
        }
    }

    /// The registered roots and the digests each lists.
    pub fn roots(&self) -> Result<Vec<(String, Vec<Digest>)>> {
        let dir = self.roots_dir();
        let mut out = Vec::new();
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io_err("read directory", dir)(e)),
        };
        for entry in rd {
            let entry = entry.map_err(io_err("read directory", &dir))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let digests = lease::read_lease(&entry.path())?;
            out.push((name, digests));
        }
        out.sort();
        Ok(out)
    }
}

fn check_root_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidRootName {
            name: name.to_string(),
        })
    }
}

fn not_found_or(e: std::io::Error, digest: &Digest, op: &'static str, path: &Path) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::BlobNotFound {
            digest: digest.clone(),
        }
    } else {
        io_err(op, path)(e)
    }
}

fn is_root_user() -> bool {
    rustix::process::geteuid().is_root()
}
