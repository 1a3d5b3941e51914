//! Images and tags: `oci/index.json` plus per-image metadata in `meta/images.json`.
//!
//! Each tag is one descriptor in `index.json` whose `io.containerd.image.name` and
//! `org.opencontainers.image.ref.name` annotations hold the full name (opaque to the store;
//! the CLI normalises names before calling). A descriptor without a name is a dangling
//! image. Moving a tag to another image leaves the old one dangling unless something
//! else names it, as Docker does.
//!
//! Per-image metadata ([`ImageMeta`]) is keyed by manifest digest and kept in one file,
//! `meta/images.json`, rather than as annotations: it is per image, not per tag, and keeping
//! it out of `index.json` leaves the layout clean for other tools. It also caches an
//! [`ImageSummary`] (config digest, created time, content size, platform), so `images`
//! needs exactly two small file reads — no blob reads and no directory scans.
//!
//! Both files are replaced atomically inside [`crate::Store::update`], which holds the
//! store lock and re-reads `index.json` first. The metadata file is written before the
//! index: after a crash between the two it may describe an image the index does not (yet)
//! hold, which is harmless and pruned on the next update.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use strata_oci::media_type::{self, Kind};
use strata_oci::{
    ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, Descriptor, Digest, Document, Index, Platform,
};

use crate::error::{Error, Result};
use crate::{Store, fsutil};

/// Strata's metadata about one image (keyed by manifest digest).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageMeta {
    /// When a tag was last applied (RFC 3339, nanoseconds), Docker's `Metadata.LastTagTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tag_time: Option<String>,
    /// `name@digest` strings of registries this image was pulled from or pushed to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repo_digests: Vec<String>,
    /// Facts derived from the blobs, cached for fast listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<ImageSummary>,
    /// Free-form values higher layers cache per image (e.g. unpacked size).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub extra: IndexMap<String, serde_json::Value>,
}

/// Facts about an image derived from its manifest and config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSummary {
    /// The platform manifest described (the image digest itself unless it is an index).
    pub manifest: Digest,
    /// The config descriptor; its digest is Docker's image ID.
    pub config: Descriptor,
    /// `created` from the config, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Bytes of manifest, config and layers as stored (compressed).
    pub content_size: u64,
    /// Number of layers.
    pub layers: usize,
    /// OS/architecture/variant from the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

#[derive(Deserialize)]
struct ConfigProbe {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    variant: Option<String>,
}

/// The name of an index entry: `io.containerd.image.name`, else `ref.name`.
pub fn entry_name(desc: &Descriptor) -> Option<&str> {
    desc.annotation(ANNOTATION_IMAGE_NAME)
        .or_else(|| desc.annotation(ANNOTATION_REF_NAME))
}

/// A consistent view of the index and metadata.
#[derive(Debug, Clone)]
pub struct Images {
    index: Index,
    meta: BTreeMap<Digest, ImageMeta>,
}

impl Images {
    /// Every entry of `index.json` in order: one per tag, plus dangling images.
    pub fn entries(&self) -> &[Descriptor] {
        &self.index.manifests
    }

    /// The entry named `name`.
    pub fn resolve(&self, name: &str) -> Option<&Descriptor> {
        self.index
            .manifests
            .iter()
            .find(|d| d.annotation(ANNOTATION_IMAGE_NAME) == Some(name))
            .or_else(|| {
                self.index
                    .manifests
                    .iter()
                    .find(|d| d.annotation(ANNOTATION_REF_NAME) == Some(name))
            })
    }

    /// The first entry for the image `digest`.
    pub fn by_digest(&self, digest: &Digest) -> Option<&Descriptor> {
        self.index.manifests.iter().find(|d| d.digest == *digest)
    }

    /// All names of the image `digest`, in index order.
    pub fn names_of(&self, digest: &Digest) -> Vec<&str> {
        self.index
            .manifests
            .iter()
            .filter(|d| d.digest == *digest)
            .filter_map(entry_name)
            .collect()
    }

    /// Distinct image digests in index order.
    pub fn digests(&self) -> Vec<&Digest> {
        let mut seen = std::collections::HashSet::new();
        self.index
            .manifests
            .iter()
            .map(|d| &d.digest)
            .filter(|d| seen.insert(*d))
            .collect()
    }

    /// Metadata of the image `digest`.
    pub fn meta(&self, digest: &Digest) -> Option<&ImageMeta> {
        self.meta.get(digest)
    }
}

/// An index transaction, see [`Store::update`].
pub struct Txn<'a> {
    store: &'a Store,
    images: Images,
    changed: bool,
}

impl Txn<'_> {
    /// The state as of this transaction (including its own changes).
    pub fn images(&self) -> &Images {
        &self.images
    }

    /// The entry named `name`.
    pub fn resolve(&self, name: &str) -> Option<&Descriptor> {
        self.images.resolve(name)
    }

    /// Point `name` at the image `desc` (a manifest or index present in the store).
    /// Returns the descriptor the name pointed to before, if any. The previous image
    /// becomes dangling if nothing else names it.
    pub fn tag(&mut self, name: &str, desc: &Descriptor) -> Result<Option<Descriptor>> {
        validate_name(name)?;
        self.check_image(desc)?;
        let entries = &mut self.images.index.manifests;
        let mut previous: Option<Descriptor> = None;
        let mut position: Option<usize> = None;
        let mut kept = Vec::with_capacity(entries.len() + 1);
        for e in entries.drain(..) {
            if entry_name(&e) == Some(name) {
                if previous.is_none() {
                    position = Some(kept.len());
                    previous = Some(e);
                }
                continue;
            }
            // The image gets a name, so its dangling entry goes.
            if entry_name(&e).is_none() && e.digest == desc.digest {
                continue;
            }
            kept.push(e);
        }
        *entries = kept;
        let entry = named(desc, name);
        match position {
            // Keep the tag where it was, so `images` order is stable across re-tagging.
            Some(p) => entries.insert(p, entry),
            None => entries.push(entry),
        }
        if let Some(prev) = &previous
            && prev.digest != desc.digest
            && !entries.iter().any(|e| e.digest == prev.digest)
        {
            entries.push(unnamed(prev));
        }
        self.changed = true;
        let now = jiff::Timestamp::now().to_string();
        let summary_missing = self
            .images
            .meta
            .get(&desc.digest)
            .is_none_or(|m| m.summary.is_none());
        let summary = if summary_missing {
            self.store.image_summary(desc)?
        } else {
            None
        };
        let meta = self.images.meta.entry(desc.digest.clone()).or_default();
        meta.last_tag_time = Some(now);
        if summary.is_some() {
            meta.summary = summary;
        }
        Ok(previous.map(|p| unnamed(&p)))
    }

    /// Remove the name; returns the descriptor it pointed to. The image stays in the
    /// index only if another entry (a name or a dangling entry) holds it.
    pub fn untag(&mut self, name: &str) -> Option<Descriptor> {
        let entries = &mut self.images.index.manifests;
        let before = entries.len();
        let first = entries
            .iter()
            .find(|e| entry_name(e) == Some(name))
            .map(unnamed);
        entries.retain(|e| entry_name(e) != Some(name));
        if entries.len() != before {
            self.changed = true;
        }
        first
    }

    /// Add `desc` as a dangling (untagged) image unless the image is already present.
    /// Returns whether an entry was added.
    pub fn add_dangling(&mut self, desc: &Descriptor) -> Result<bool> {
        self.check_image(desc)?;
        if self.images.by_digest(&desc.digest).is_some() {
            return Ok(false);
        }
        let summary_missing = self
            .images
            .meta
            .get(&desc.digest)
            .is_none_or(|m| m.summary.is_none());
        if summary_missing {
            let summary = self.store.image_summary(desc)?;
            self.images
                .meta
                .entry(desc.digest.clone())
                .or_default()
                .summary = summary;
        }
        self.images.index.manifests.push(unnamed(desc));
        self.changed = true;
        Ok(true)
    }

    /// Remove every entry (names and dangling) of the image `digest`; returns them.
    pub fn remove(&mut self, digest: &Digest) -> Vec<Descriptor> {
        let (removed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.images.index.manifests)
            .into_iter()
            .partition(|e| e.digest == *digest);
        self.images.index.manifests = kept;
        if !removed.is_empty() {
            self.changed = true;
        }
        removed
    }

    /// Metadata of the image `digest`.
    pub fn meta(&self, digest: &Digest) -> Option<&ImageMeta> {
        self.images.meta.get(digest)
    }

    /// Mutable metadata of the image `digest` (created empty if missing). Metadata of
    /// images not in the index when the transaction ends is dropped.
    pub fn meta_mut(&mut self, digest: &Digest) -> &mut ImageMeta {
        self.changed = true;
        self.images.meta.entry(digest.clone()).or_default()
    }

    fn check_image(&self, desc: &Descriptor) -> Result<()> {
        if !media_type::is_manifest_like(&desc.media_type) {
            return Err(Error::NotADocument {
                digest: desc.digest.clone(),
                media_type: desc.media_type.clone(),
            });
        }
        // Under the store lock GC cannot run, so a present blob stays present until the
        // new index is written.
        if !self.store.has_blob(&desc.digest) {
            return Err(Error::BlobNotFound {
                digest: desc.digest.clone(),
            });
        }
        Ok(())
    }
}

fn named(desc: &Descriptor, name: &str) -> Descriptor {
    let mut d = unnamed(desc);
    let ann = d.annotations.get_or_insert_with(Default::default);
    ann.insert(ANNOTATION_IMAGE_NAME.to_string(), name.to_string());
    ann.insert(ANNOTATION_REF_NAME.to_string(), name.to_string());
    d
}

fn unnamed(desc: &Descriptor) -> Descriptor {
    let mut d = desc.clone();
    if let Some(ann) = &mut d.annotations {
        ann.shift_remove(ANNOTATION_IMAGE_NAME);
        ann.shift_remove(ANNOTATION_REF_NAME);
        if ann.is_empty() {
            d.annotations = None;
        }
    }
    d
}

/// Check `name` against the OCI `ref.name` grammar (what skopeo and umoci accept):
/// components of alphanumerics joined by one of `-._:@+` or `--`, separated by `/`.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty name");
    }
    for component in name.split('/') {
        let bytes = component.as_bytes();
        if bytes.is_empty() {
            return bad("empty path component");
        }
        if !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
            return bad("components must start and end with a letter or digit");
        }
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && !bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let sep = &component[start..i];
            if !(sep == "--" || (sep.len() == 1 && "-._:@+".contains(sep))) {
                return bad("invalid separator (allowed: one of -._:@+ or --)");
            }
        }
    }
    Ok(())
}

impl Store {
    /// The index and metadata, read without locking (both files are only ever replaced
    /// by rename): two file reads. The index is read first and the metadata is written
    /// first, so the metadata is never older than the index it is paired with. A
    /// malformed metadata file reads as empty (it is a cache plus tag times; `check`
    /// reports it, and the next transaction rewrites it).
    pub fn images(&self) -> Result<Images> {
        Ok(Images {
            index: self.read_index()?,
            meta: self.read_meta()?,
        })
    }

    /// The descriptor tagged `name` (one file read).
    pub fn resolve(&self, name: &str) -> Result<Option<Descriptor>> {
        let images = Images {
            index: self.read_index()?,
            meta: BTreeMap::new(),
        };
        Ok(images.resolve(name).cloned())
    }

    /// Run an index transaction: takes the store lock, re-reads `index.json` and the
    /// metadata, runs `f`, and — if `f` succeeded and changed something — writes the
    /// metadata and then the index atomically. If `f` fails nothing is written.
    ///
    /// Do not call `update`, [`Store::gc`], [`Store::check`], [`Store::set_root`] or
    /// [`Store::remove_root`] from inside `f` (the lock is not reentrant); committing
    /// blobs and leasing inside `f` is fine.
    pub fn update<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&mut Txn<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let _lock = self.lock_exclusive()?;
        let original_meta = self.read_meta()?;
        let mut txn = Txn {
            store: self,
            images: Images {
                index: self.read_index()?,
                meta: original_meta.clone(),
            },
            changed: false,
        };
        let out = f(&mut txn)?;
        if txn.changed {
            let Images { index, mut meta } = txn.images;
            meta.retain(|d, _| index.manifests.iter().any(|e| e.digest == *d));
            if meta != original_meta {
                self.write_json(&self.meta_images_path(), &meta)?;
            }
            self.write_json(&self.index_path(), &index)?;
        }
        Ok(out)
    }

    /// The manifest of `index` for `platform` among those the store has, else the first
    /// one it has: how every command picks what an index means on this machine.
    pub fn platform_manifest<'a>(
        &self,
        index: &'a Index,
        platform: &Platform,
    ) -> Option<&'a Descriptor> {
        let present: Vec<&Descriptor> = index
            .manifests
            .iter()
            .filter(|d| media_type::kind(&d.media_type) == Kind::Manifest)
            .filter(|d| self.has_blob(&d.digest))
            .collect();
        present
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| p.matches(platform)))
            .or_else(|| present.first())
            .copied()
    }

    /// Derive the [`ImageSummary`] of an image from its blobs. For an index, the
    /// manifest for the host platform (else the first one present) is described; `None`
    /// when no child manifest is present locally.
    pub fn image_summary(&self, desc: &Descriptor) -> Result<Option<ImageSummary>> {
        let doc = self.read_document(desc)?;
        let (manifest_digest, manifest_size, manifest) = match doc.value {
            Document::Manifest(m) => (desc.digest.clone(), doc.bytes.len() as u64, m),
            Document::Index(ix) => {
                let Some(chosen) = self.platform_manifest(&ix, &Platform::host()) else {
                    return Ok(None);
                };
                let child = self.read_document(chosen)?;
                let Document::Manifest(m) = child.value else {
                    return Ok(None);
                };
                (chosen.digest.clone(), child.bytes.len() as u64, m)
            }
        };
        let config_bytes = self.read_blob(&manifest.config.digest)?;
        let probe: Option<ConfigProbe> = serde_json::from_slice(&config_bytes).ok();
        let layer_bytes: u64 = manifest
            .layers
            .iter()
            .map(|l| u64::try_from(l.size).unwrap_or(0))
            .sum();
        let platform = probe.as_ref().and_then(|p| {
            Some(Platform {
                architecture: p.architecture.clone()?,
                os: p.os.clone()?,
                os_version: None,
                os_features: None,
                variant: p.variant.clone(),
                features: None,
            })
        });
        Ok(Some(ImageSummary {
            manifest: manifest_digest,
            config: manifest.config.clone(),
            created: probe.and_then(|p| p.created),
            content_size: manifest_size + config_bytes.len() as u64 + layer_bytes,
            layers: manifest.layers.len(),
            platform,
        }))
    }

    pub(crate) fn read_index(&self) -> Result<Index> {
        let path = self.index_path();
        match fsutil::read_optional(&path)? {
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| Error::Json { path, source })
            }
            None => Ok(Index::new_oci()),
        }
    }

    fn read_meta(&self) -> Result<BTreeMap<Digest, ImageMeta>> {
        match self.read_meta_strict() {
            Err(Error::Json { .. }) => Ok(BTreeMap::new()),
            other => other,
        }
    }

    pub(crate) fn read_meta_strict(&self) -> Result<BTreeMap<Digest, ImageMeta>> {
        let path = self.meta_images_path();
        match fsutil::read_optional(&path)? {
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| Error::Json { path, source })
            }
            None => Ok(BTreeMap::new()),
        }
    }

    fn write_json<T: Serialize>(&self, path: &std::path::Path, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        fsutil::atomic_write(&self.ingest_dir(), path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_ref_name_grammar() {
        for ok in [
            "docker.io/library/busybox:latest",
            "127.0.0.1:5000/app:1.0",
            "a--b/c",
            "x@sha256:abc",
        ] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a//b", "-a", "a:", "a---b", "a b", "a/-b", "a.-b"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
