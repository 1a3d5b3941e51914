//! An image as insight sees it: the platform manifest, the config, and per layer its blob
//! digest, diffID, stored size and the history entry that created it.
//!
//! History entries are matched to layers the way Docker's `history` does: entries with
//! `empty_layer: true` (ENV, LABEL, …) own no layer, every other entry owns the next layer
//! in order. When the counts disagree (hand-made images, squashed images) the layers
//! without an entry get an empty `created_by`.

use strata_oci::config::ImageConfig;
use strata_oci::{Descriptor, Digest, Document, Manifest, Platform, media_type};
use strata_store::Store;

use crate::error::{InsightError, Result};

/// One layer of an image, bottom first.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Digest of the stored (usually compressed) blob.
    pub digest: Digest,
    /// Digest of the uncompressed tar, from the config (`None` if the config lists fewer).
    pub diff_id: Option<Digest>,
    /// Size of the stored blob in bytes.
    pub compressed_size: u64,
    /// The instruction that created the layer (`history[].created_by`), or empty.
    pub created_by: String,
    /// When the layer was created (`history[].created`), if recorded.
    pub created: Option<String>,
}

/// A stored image, ready to be read layer by layer.
#[derive(Debug, Clone)]
pub struct Image {
    /// The name the user gave (or the digest), for reports.
    pub name: String,
    /// Digest of the platform manifest.
    pub manifest_digest: Digest,
    /// Digest of the config: Docker's image ID.
    pub config_digest: Digest,
    pub config: ImageConfig,
    pub layers: Vec<Layer>,
}

impl Image {
    /// Load the image `desc` (a manifest, or an index from which the host's platform, else
    /// the first manifest present in the store, is taken). `name` is only for reports.
    pub fn load(store: &Store, name: &str, desc: &Descriptor) -> Result<Image> {
        let store_err = |source| InsightError::Store {
            image: name.to_string(),
            source,
        };
        let doc = store.read_document(desc).map_err(store_err)?;
        let (manifest_digest, manifest) = match doc.value {
            Document::Manifest(m) => (desc.digest.clone(), m),
            Document::Index(ix) => {
                let host = Platform::host();
                let present: Vec<&Descriptor> = ix
                    .manifests
                    .iter()
                    .filter(|d| media_type::kind(&d.media_type) == media_type::Kind::Manifest)
                    .filter(|d| store.has_blob(&d.digest))
                    .collect();
                let chosen = present
                    .iter()
                    .find(|d| d.platform.as_ref().is_some_and(|p| p.matches(&host)))
                    .or_else(|| present.first())
                    .ok_or_else(|| InsightError::NoManifest {
                        image: name.to_string(),
                    })?;
                match store.read_document(chosen).map_err(store_err)?.value {
                    Document::Manifest(m) => (chosen.digest.clone(), m),
                    Document::Index(_) => {
                        return Err(InsightError::NoManifest {
                            image: name.to_string(),
                        });
                    }
                }
            }
        };
        Image::from_manifest(store, name, manifest_digest, &manifest)
    }

    /// Build the view from a manifest already read.
    pub fn from_manifest(
        store: &Store,
        name: &str,
        manifest_digest: Digest,
        manifest: &Manifest,
    ) -> Result<Image> {
        let config_digest = manifest.config.digest.clone();
        let bytes = store
            .read_blob(&config_digest)
            .map_err(|source| InsightError::Store {
                image: name.to_string(),
                source,
            })?;
        let config = ImageConfig::parse_with_digest(&bytes, &config_digest).map_err(|source| {
            InsightError::Config {
                digest: config_digest.clone(),
                source,
            }
        })?;
        let owners: Vec<_> = config.history.iter().filter(|h| !h.empty_layer).collect();
        let layers = manifest
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| Layer {
                digest: l.digest.clone(),
                diff_id: config.rootfs.diff_ids.get(i).cloned(),
                compressed_size: u64::try_from(l.size).unwrap_or(0),
                created_by: owners
                    .get(i)
                    .map(|h| h.created_by.clone())
                    .unwrap_or_default(),
                created: owners.get(i).and_then(|h| h.created.clone()),
            })
            .collect();
        Ok(Image {
            name: name.to_string(),
            manifest_digest,
            config_digest,
            config,
            layers,
        })
    }
}
