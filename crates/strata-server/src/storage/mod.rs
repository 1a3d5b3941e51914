//! The storage interface under the registry, and its two backends.
//!
//! The registry keeps three kinds of state, and the [`Storage`] trait has one group of
//! operations for each:
//!
//! - **Blobs**: content-addressed, global to the registry (repositories only *link* to
//!   them). A blob becomes visible only after its digest was verified, and becoming
//!   visible is atomic: a rename on the filesystem, the completion of a multipart upload
//!   (or a server-side copy) on S3. Writing the same blob twice is harmless: both writers
//!   publish identical bytes.
//! - **Uploads**: staging areas for blob uploads, addressed by a session id. Chunks are
//!   appended at an explicit offset; the final commit verifies the digest over everything
//!   staged and publishes the blob. On the filesystem the stage is one file that grows;
//!   S3 has no append, so each chunk is its own object (`part-<offset>`) and the commit
//!   streams the parts, in order, into one multipart upload.
//! - **Metadata**: small documents under `/`-separated keys (repository links, manifest
//!   revisions, tags, referrers, upload sessions), written atomically and listed one
//!   level at a time.
//!
//! All state lives in the backend, none in the process, so several servers over one
//! bucket serve one registry. The one in-process optimisation (hashing upload chunks as
//! they stream through, see [`Committed`]) falls back to re-reading the stage whenever
//! the state is not local.
//!
//! Keys are built by the registry from validated names and digests only; backends still
//! refuse keys with empty, `.` or `..` components.

mod fs;
mod object;

#[cfg(test)]
pub(crate) mod conformance;

use std::io;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use strata_oci::Digest;

pub use fs::FsStorage;
pub use object::ObjectStorage;

/// A stream of bytes, as read from or written to storage.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// Size and age of a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    /// Last modification, in seconds since the Unix epoch (0 when the backend has none).
    pub modified: i64,
}

/// A digest the caller already computed over exactly `size` staged bytes, so the commit
/// can skip re-reading the stage (it still checks the size).
#[derive(Debug, Clone)]
pub struct Committed {
    pub digest: Digest,
    pub size: u64,
}

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("blob {digest} not found")]
    BlobNotFound { digest: Digest },
    #[error("upload {id} not found")]
    UploadNotFound { id: String },
    #[error("upload {id}: chunk starts at {offset} but {size} bytes are staged")]
    OffsetMismatch { id: String, offset: u64, size: u64 },
    #[error("upload {id}: content has digest {actual}, expected {expected}")]
    DigestMismatch {
        id: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("range {start}-{end} is outside blob {digest} of {size} bytes")]
    RangeInvalid {
        digest: Digest,
        start: u64,
        end: u64,
        size: u64,
    },
    #[error("invalid storage key {key:?}")]
    InvalidKey { key: String },
    #[error("i/o error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("object store error on {path}: {source}")]
    Object {
        path: String,
        #[source]
        source: object_store::Error,
    },
}

impl StorageError {
    pub(crate) fn io(path: impl std::fmt::Display, source: io::Error) -> StorageError {
        StorageError::Io {
            path: path.to_string(),
            source,
        }
    }
}

/// The storage interface of the registry (see the module docs for the model).
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// A short name for logs (`fs`, `s3`, `memory`).
    fn kind(&self) -> &'static str;

    /// Size and age of a blob, or `None` if absent.
    async fn blob_stat(&self, digest: &Digest) -> Result<Option<ObjectInfo>, StorageError>;
    /// Read a blob, or the byte range `range` (end exclusive, within the blob).
    async fn blob_read(
        &self,
        digest: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StorageError>;
    /// Store a small blob whose digest the caller verified (manifests).
    async fn blob_put(&self, digest: &Digest, data: Bytes) -> Result<(), StorageError>;
    /// Remove a blob; `false` if it was absent.
    async fn blob_delete(&self, digest: &Digest) -> Result<bool, StorageError>;
    /// Every blob with its size and age (for garbage collection).
    async fn blob_list(&self) -> Result<Vec<(Digest, ObjectInfo)>, StorageError>;

    /// Create an empty upload stage.
    async fn upload_create(&self, id: &str) -> Result<(), StorageError>;
    /// Bytes staged so far, or `None` if the upload does not exist.
    async fn upload_size(&self, id: &str) -> Result<Option<u64>, StorageError>;
    /// Append `body` at `offset`, which must equal the staged size. Returns the new size.
    async fn upload_append(
        &self,
        id: &str,
        offset: u64,
        body: ByteStream,
    ) -> Result<u64, StorageError>;
    /// Verify that the staged bytes have digest `expected` and publish them as that blob,
    /// then remove the stage. On a mismatch the stage is removed too and nothing becomes
    /// visible. Returns the blob's size.
    async fn upload_commit(
        &self,
        id: &str,
        expected: &Digest,
        known: Option<Committed>,
    ) -> Result<u64, StorageError>;
    /// Remove an upload stage; `false` if it was absent.
    async fn upload_delete(&self, id: &str) -> Result<bool, StorageError>;
    /// Every upload stage with its creation time (for expiry).
    async fn upload_list(&self) -> Result<Vec<(String, i64)>, StorageError>;

    /// Read a metadata document.
    async fn meta_get(&self, key: &str) -> Result<Option<Bytes>, StorageError>;
    /// Write a metadata document atomically (replacing any previous value).
    async fn meta_put(&self, key: &str, value: Bytes) -> Result<(), StorageError>;
    /// Remove a metadata document; `false` if it was absent.
    async fn meta_delete(&self, key: &str) -> Result<bool, StorageError>;
    /// The names directly under `prefix` (documents and sub-prefixes), sorted bytewise.
    async fn meta_list(&self, prefix: &str) -> Result<Vec<String>, StorageError>;
}

/// Refuse keys that could escape the layout: empty, `.` or `..` components, or
/// characters outside the set the registry ever uses.
pub(crate) fn check_key(key: &str) -> Result<(), StorageError> {
    let ok = !key.is_empty()
        && key
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/:~+=".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StorageError::InvalidKey {
            key: key.to_string(),
        })
    }
}

/// Upload ids are generated by the registry as hex; anything else is refused.
pub(crate) fn check_upload_id(id: &str) -> Result<(), StorageError> {
    if !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(StorageError::UploadNotFound { id: id.to_string() })
    }
}

/// Current time in seconds since the Unix epoch.
pub(crate) fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}
