//! Garbage collection: mark and sweep of blobs no manifest references.
//!
//! **Mark**: every manifest revision of every repository, plus everything those
//! manifests reference (config, layers, index children). **Sweep**: every other blob
//! older than the grace period is deleted, and repository links to deleted or missing
//! blobs are removed. Expired upload sessions go too.
//!
//! It is safe while serving: blobs younger than the grace period are kept, since they
//! may belong to a push whose manifest has not arrived yet; and just before sweeping,
//! the revisions are marked a second time, so a manifest pushed during the first pass
//! (referencing an old, otherwise unreferenced blob) protects its blobs. What remains is
//! a window of one storage round trip between that second mark and the delete.

use std::collections::HashSet;

use strata_oci::{Digest, Document, Parsed};

use crate::registry::Registry;
use crate::storage::{StorageError, now_secs};

/// What a collection did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub dry_run: bool,
    pub repositories: usize,
    pub manifests: usize,
    pub blobs_marked: usize,
    /// Unreferenced blobs kept because they are younger than the grace period.
    pub blobs_kept_young: usize,
    pub blobs_deleted: Vec<Digest>,
    pub bytes_freed: u64,
    pub links_removed: usize,
    pub uploads_expired: usize,
}

async fn mark(
    reg: &Registry,
    marked: &mut HashSet<Digest>,
) -> Result<(usize, usize), StorageError> {
    let repos = reg.catalog().await?;
    let mut manifests = 0;
    for repo in &repos {
        for rev in reg.revisions(repo).await? {
            manifests += 1;
            if !marked.insert(rev.clone()) {
                continue;
            }
            let Some(m) = reg
                .manifest(repo, &crate::names::Reference::Digest(rev.clone()))
                .await?
            else {
                continue;
            };
            let Ok(p) = Parsed::parse_with_digest(m.bytes.to_vec(), rev, Some(&m.media_type))
            else {
                continue;
            };
            match p.value {
                Document::Manifest(im) => {
                    marked.insert(im.config.digest);
                    marked.extend(im.layers.into_iter().map(|l| l.digest));
                }
                Document::Index(ix) => {
                    marked.extend(ix.manifests.into_iter().map(|c| c.digest));
                }
            }
        }
    }
    Ok((repos.len(), manifests))
}

/// Run a collection over `reg`.
pub async fn collect(
    reg: &Registry,
    grace_secs: u64,
    upload_expiry_secs: u64,
    dry_run: bool,
) -> Result<GcReport, StorageError> {
    let mut report = GcReport {
        dry_run,
        ..GcReport::default()
    };
    let mut marked = HashSet::new();
    let (repos, manifests) = mark(reg, &mut marked).await?;
    report.repositories = repos;
    report.manifests = manifests;
    let cutoff = now_secs() - grace_secs as i64;
    let mut candidates = Vec::new();
    for (d, info) in reg.storage().blob_list().await? {
        if marked.contains(&d) {
            continue;
        }
        if info.modified > cutoff {
            report.blobs_kept_young += 1;
        } else {
            candidates.push((d, info.size));
        }
    }
    // Second mark: manifests pushed while we were listing protect their blobs.
    mark(reg, &mut marked).await?;
    report.blobs_marked = marked.len();
    let mut deleted = HashSet::new();
    for (d, size) in candidates {
        if marked.contains(&d) {
            continue;
        }
        if !dry_run {
            reg.storage().blob_delete(&d).await?;
        }
        report.bytes_freed += size;
        deleted.insert(d.clone());
        report.blobs_deleted.push(d);
    }
    for repo in reg.catalog().await? {
        for link in reg.blob_links(&repo).await? {
            let gone = deleted.contains(&link)
                || (!dry_run && reg.storage().blob_stat(&link).await?.is_none());
            if gone {
                if !dry_run {
                    reg.delete_blob(&repo, &link).await?;
                }
                report.links_removed += 1;
            }
        }
    }
    if !dry_run {
        report.uploads_expired = reg.expire_uploads(upload_expiry_secs as i64).await?;
    }
    Ok(report)
}
