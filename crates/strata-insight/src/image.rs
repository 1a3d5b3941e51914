//! An image as insight sees it: the platform manifest, the config, and per layer its blob
//! digest, diffID, stored size and the history entry that created it.
//!
//! History entries are matched to layers the way Docker's `history` does: entries with
//! `empty_layer: true` (ENV, LABEL, …) own no layer, every other entry owns the next layer
//! in order. When the counts disagree (hand-made images, squashed images) the layers
//! without an entry get an empty `created_by`.

use strata_oci::config::ImageConfig;
use strata_oci::{Digest, Manifest};
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
    /// Build the view from a platform manifest already read (choosing one from an index is
    /// the caller's: the `strata` binary does it as its image commands do).
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
