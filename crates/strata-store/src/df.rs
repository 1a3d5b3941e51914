//! Disk usage (`system df`): what each image occupies, what images share, and what
//! garbage collection or pruning would give back.
//!
//! An image's size is the sum of every blob reachable from it (manifest(s), config,
//! layers, as stored). A blob reachable from more than one image is *shared*; its bytes
//! count in each image's `size` and `shared_size` but only once in the totals.
//! *Reclaimable* is what `image prune` followed by GC would free: blobs nothing references
//! today plus the bytes only dangling images use.

use std::collections::{BTreeSet, HashMap};
use std::fs;

use strata_oci::Digest;

use crate::Store;
use crate::error::Result;
use crate::gc::list_dir;
use crate::images::entry_name;

/// Usage of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUsage {
    pub digest: Digest,
    pub names: Vec<String>,
    pub dangling: bool,
    /// Bytes of every blob the image references.
    pub size: u64,
    /// Bytes of those blobs that another image references too.
    pub shared_size: u64,
    /// Bytes only this image references.
    pub unique_size: u64,
}

/// Usage of the whole store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskUsage {
    pub images: Vec<ImageUsage>,
    /// Every blob on disk.
    pub total_bytes: u64,
    /// Blobs referenced by at least one image (counted once).
    pub referenced_bytes: u64,
    /// Blobs referenced by two or more images (counted once).
    pub shared_bytes: u64,
    /// Blobs no image references (collectable unless leased or rooted).
    pub unreferenced_bytes: u64,
    /// Bytes referenced only by dangling images.
    pub dangling_bytes: u64,
    /// `unreferenced_bytes + dangling_bytes`.
    pub reclaimable_bytes: u64,
    /// Files in the ingest area (in-progress or interrupted writes).
    pub ingest_bytes: u64,
}

impl Store {
    /// Compute disk usage (reads documents and stats blobs; no lock).
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let images = self.images()?;
        let mut sizes: HashMap<Digest, u64> = HashMap::new();
        for (d, p) in self.list_blobs()? {
            sizes.insert(d, fs::metadata(&p).map(|m| m.len()).unwrap_or(0));
        }
        let mut usage = DiskUsage {
            total_bytes: sizes.values().sum(),
            ..DiskUsage::default()
        };
        let mut per_image: Vec<(ImageUsage, BTreeSet<Digest>)> = Vec::new();
        let mut refcount: HashMap<Digest, usize> = HashMap::new();
        for digest in images.digests() {
            let entries: Vec<_> = images
                .entries()
                .iter()
                .filter(|e| e.digest == *digest)
                .cloned()
                .collect();
            let names: Vec<String> = entries
                .iter()
                .filter_map(|e| entry_name(e).map(str::to_string))
                .collect();
            let blobs: BTreeSet<Digest> = self
                .reachable(&entries)
                .into_iter()
                .filter(|d| sizes.contains_key(d))
                .collect();
            for b in &blobs {
                *refcount.entry(b.clone()).or_default() += 1;
            }
            per_image.push((
                ImageUsage {
                    digest: digest.clone(),
                    dangling: names.is_empty(),
                    names,
                    size: blobs.iter().map(|b| sizes[b]).sum(),
                    shared_size: 0,
                    unique_size: 0,
                },
                blobs,
            ));
        }
        let mut dangling_only: HashMap<&Digest, bool> = HashMap::new();
        for (img, blobs) in &mut per_image {
            for b in blobs.iter() {
                if refcount[b] > 1 {
                    img.shared_size += sizes[b];
                } else {
                    img.unique_size += sizes[b];
                }
                let e = dangling_only.entry(b).or_insert(true);
                *e &= img.dangling;
            }
        }
        for (b, n) in &refcount {
            usage.referenced_bytes += sizes[b];
            if *n > 1 {
                usage.shared_bytes += sizes[b];
            }
        }
        usage.dangling_bytes = dangling_only
            .iter()
            .filter(|(_, only)| **only)
            .map(|(b, _)| sizes[*b])
            .sum();
        usage.unreferenced_bytes = usage.total_bytes - usage.referenced_bytes;
        usage.reclaimable_bytes = usage.unreferenced_bytes + usage.dangling_bytes;
        for (p, _) in list_dir(&self.ingest_dir())? {
            usage.ingest_bytes += fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        }
        usage.images = per_image.into_iter().map(|(i, _)| i).collect();
        Ok(usage)
    }
}
