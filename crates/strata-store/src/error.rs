//! The store's error type. Every variant names the object it is about (path, digest or
//! image name) so the CLI can print it as is.

use std::io;
use std::path::PathBuf;

use strata_oci::{Digest, DocumentError};

/// What a [`crate::BlobVerifier`] returns when it refuses a blob.
pub type VerifyError = Box<dyn std::error::Error + Send + Sync>;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to commit blob {expected}: digest mismatch (got {actual})")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("failed to commit blob {digest}: size mismatch (expected {expected}, got {actual})")]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("blob {digest} refused: {source}")]
    Refused {
        digest: Digest,
        #[source]
        source: VerifyError,
    },
    #[error("blob {digest} not found in the store")]
    BlobNotFound { digest: Digest },
    #[error("malformed {path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("blob {digest} is not a document Strata can read: media type {media_type:?}")]
    NotADocument { digest: Digest, media_type: String },
    #[error("invalid image name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("invalid root name {name:?}: only letters, digits, '.', '_' and '-' are allowed")]
    InvalidRootName { name: String },
    #[error("image {digest} has no manifest for platform {platform}")]
    NoMatchingPlatform { digest: Digest, platform: String },
    #[error("no home directory: set STRATA_ROOT, XDG_DATA_HOME or HOME")]
    NoRoot,
}

/// Result alias for store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `map_err` helper: wrap an `io::Error` with the operation and path.
pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}
