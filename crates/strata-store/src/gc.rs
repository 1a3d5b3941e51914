//! Garbage collection: mark and sweep.
//!
//! **Mark** starts from every descriptor in `index.json`, every digest in a live lease
//! and every digest in a registered root (`meta/roots/<name>`), and follows manifests
//! (config, layers, subject) and indexes (manifests, subject) recursively. Digests from
//! leases and roots come without a media type, so a blob that looks like JSON is sniffed:
//! if it parses as a manifest or index, its references are live too (a process that
//! leased an existing manifest must keep its layers).
//!
//! **Sweep** deletes every blob not marked, every lease file whose lock is free (its
//! owner died), and every ingest file whose lock is free (an interrupted write).
//!
//! Safety against concurrent writers: GC holds the store lock (no index transaction runs,
//! so the index it marks from is the one that stays) and the GC lock exclusively (no blob
//! commit is between recording its lease entry and its rename). Ingest and lease files are
//! created under the shared GC lock and locked by their owner before it is released.

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use strata_oci::{Algorithm, Descriptor, Digest, Document, Parsed, media_type};

use crate::error::{Result, io_err};
use crate::{Store, fsutil, lease};

/// Largest blob that reachability sniffing parses as a possible document.
const SNIFF_LIMIT: u64 = 4 << 20;

/// Options for [`Store::gc`].
#[derive(Debug, Clone, Default)]
pub struct GcOptions {
    /// Report what would be removed without removing anything.
    pub dry_run: bool,
}

/// A blob GC removed (or would remove).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedBlob {
    pub digest: Digest,
    pub size: u64,
}

/// What a collection removed.
#[derive(Debug, Clone, Default)]
pub struct GcReport {
    pub dry_run: bool,
    /// Unreferenced blobs.
    pub blobs: Vec<RemovedBlob>,
    /// Abandoned ingest files.
    pub ingest_files: Vec<PathBuf>,
    /// Leases of processes that died.
    pub stale_leases: Vec<String>,
    /// Bytes freed (blobs and ingest files).
    pub bytes_reclaimed: u64,
}

impl Store {
    /// Collect garbage; see the module docs.
    pub fn gc(&self, opts: &GcOptions) -> Result<GcReport> {
        let _lock = self.lock_exclusive()?;
        let _gc = self.gc_exclusive()?;
        let mut report = GcReport {
            dry_run: opts.dry_run,
            ..GcReport::default()
        };
        let mut marker = Marker::new(self);

        for (path, name) in list_dir(&self.leases_dir())? {
            match fsutil::is_abandoned(&path)? {
                Some(true) => {
                    if !opts.dry_run {
                        remove_if_present(&path)?;
                    }
                    report.stale_leases.push(name);
                }
                Some(false) => {
                    for d in lease::read_lease(&path)? {
                        marker.push_digest(d);
                    }
                }
                None => {}
            }
        }
        for (_, digests) in self.roots()? {
            for d in digests {
                marker.push_digest(d);
            }
        }
        for desc in self.read_index()?.manifests {
            marker.push(&desc);
        }
        let live = marker.run();

        for (digest, path) in self.list_blobs()? {
            if live.contains(&digest) {
                continue;
            }
            let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if !opts.dry_run {
                remove_if_present(&path)?;
            }
            report.bytes_reclaimed += size;
            report.blobs.push(RemovedBlob { digest, size });
        }
        if !opts.dry_run && !report.blobs.is_empty() {
            for alg in [Algorithm::Sha256, Algorithm::Sha512] {
                let dir = self.blobs_alg_dir(alg);
                if dir.exists() {
                    fsutil::fsync_dir(&dir)?;
                }
            }
        }

        for (path, _) in list_dir(&self.ingest_dir())? {
            if fsutil::is_abandoned(&path)? == Some(true) {
                let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                if !opts.dry_run {
                    remove_if_present(&path)?;
                }
                report.bytes_reclaimed += size;
                report.ingest_files.push(path);
            }
        }
        report.blobs.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(report)
    }

    /// Every blob file with a valid digest name: `(digest, path)`.
    pub(crate) fn list_blobs(&self) -> Result<Vec<(Digest, PathBuf)>> {
        let mut out = Vec::new();
        for (alg_dir, alg) in list_dir(&self.blobs_dir())? {
            if Algorithm::from_name(&alg).is_none() {
                continue;
            }
            for (path, name) in list_dir(&alg_dir)? {
                if let Ok(d) = Digest::parse(&format!("{alg}:{name}")) {
                    out.push((d, path));
                }
            }
        }
        Ok(out)
    }

    /// Every digest reachable from `roots` (see the module docs for how references are
    /// followed). Missing or unreadable blobs end the walk on their branch.
    pub fn reachable(&self, roots: &[Descriptor]) -> HashSet<Digest> {
        let mut m = Marker::new(self);
        for r in roots {
            m.push(r);
        }
        m.run()
    }
}

/// A worklist walk over the reference graph (no recursion: depth is attacker-controlled).
struct Marker<'a> {
    store: &'a Store,
    live: HashSet<Digest>,
    work: Vec<(Digest, Option<String>)>,
}

impl<'a> Marker<'a> {
    fn new(store: &'a Store) -> Self {
        Marker {
            store,
            live: HashSet::new(),
            work: Vec::new(),
        }
    }

    fn push(&mut self, desc: &Descriptor) {
        self.work
            .push((desc.digest.clone(), Some(desc.media_type.clone())));
    }

    fn push_digest(&mut self, digest: Digest) {
        self.work.push((digest, None));
    }

    fn run(mut self) -> HashSet<Digest> {
        while let Some((digest, mt)) = self.work.pop() {
            if !self.live.insert(digest.clone()) {
                continue;
            }
            let doc = match mt {
                Some(mt) if media_type::is_manifest_like(&mt) => {
                    let desc = Descriptor::new(mt, digest, 0);
                    self.store.read_document(&desc).ok()
                }
                Some(_) => None,
                None => sniff_document(self.store, &digest),
            };
            match doc.map(|d| d.value) {
                Some(Document::Manifest(m)) => {
                    for r in m.references() {
                        self.push(r);
                    }
                }
                Some(Document::Index(ix)) => {
                    for r in ix.manifests.iter().chain(ix.subject.iter()) {
                        self.push(r);
                    }
                }
                None => {}
            }
        }
        self.live
    }
}

/// Parse the blob as a manifest or index if it looks like one (small, starts with `{`).
fn sniff_document(store: &Store, digest: &Digest) -> Option<Parsed<Document>> {
    let mut f = store.open_blob(digest).ok()?;
    let len = f.metadata().ok()?.len();
    if len > SNIFF_LIMIT {
        return None;
    }
    let mut first = [0u8; 1];
    f.read_exact(&mut first).ok()?;
    if first[0] != b'{' {
        return None;
    }
    let mut bytes = first.to_vec();
    f.read_to_end(&mut bytes).ok()?;
    if !digest.verify(&bytes) {
        return None;
    }
    Parsed::parse_with_digest(bytes, digest.clone(), None).ok()
}

/// `(path, file name)` of a directory's entries; empty if it does not exist.
pub(crate) fn list_dir(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("read directory", dir)(e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(io_err("read directory", dir))?;
        if let Some(name) = entry.file_name().to_str() {
            out.push((entry.path(), name.to_string()));
        }
    }
    Ok(out)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove", path)(e)),
    }
}
