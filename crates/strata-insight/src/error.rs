//! Errors of image insight: every variant names the object it concerns (image, layer
//! digest, file path, archive entry) so a message stands on its own.

use std::io;
use std::path::PathBuf;

use strata_oci::Digest;

/// Anything that can go wrong reading an image, building its SBOM, importing or
/// querying vulnerability data, or analysing its layers.
#[derive(Debug, thiserror::Error)]
pub enum InsightError {
    /// The store could not give us a document or blob of the image.
    #[error("failed to read image {image}")]
    Store {
        image: String,
        #[source]
        source: strata_store::Error,
    },
    /// The image's configuration blob is not a valid image config.
    #[error("image config {digest} is invalid")]
    Config {
        digest: Digest,
        #[source]
        source: strata_oci::ConfigError,
    },
    /// A layer blob could not be decompressed.
    #[error("failed to read layer {digest}")]
    Layer {
        digest: Digest,
        #[source]
        source: strata_layer::LayerError,
    },
    /// Reading the tar stream of a layer failed (truncated or corrupt data).
    #[error("failed to read layer {digest} at entry {entry:?}")]
    LayerTar {
        digest: Digest,
        entry: String,
        #[source]
        source: io::Error,
    },
    /// A filesystem operation on the vulnerability database or an input file failed.
    #[error("failed to {op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An OSV archive is not a readable zip file.
    #[error("failed to read OSV archive {path}")]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    /// A record inside an OSV archive is not valid OSV JSON.
    #[error("invalid OSV record {entry} in {path}")]
    OsvRecord {
        path: PathBuf,
        entry: String,
        #[source]
        source: serde_json::Error,
    },
    /// An archive holds no OSV record at all (probably the wrong file).
    #[error("{path} holds no OSV records")]
    EmptyArchive { path: PathBuf },
    /// The local vulnerability index is damaged (truncated write, foreign file).
    #[error("vulnerability index {path} is damaged: {reason}")]
    IndexCorrupt { path: PathBuf, reason: String },
    /// The source list of the vulnerability index is not valid JSON.
    #[error("vulnerability index list {path} is invalid")]
    SourcesCorrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl InsightError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| InsightError::Io { op, path, source }
    }
}

/// Result of this crate.
pub type Result<T, E = InsightError> = std::result::Result<T, E>;
