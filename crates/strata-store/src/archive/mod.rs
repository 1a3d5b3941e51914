//! Image archives: `docker save`/`docker load` tarballs and OCI archives.
//!
//! **Saving** ([`save_docker`], [`save_oci`]):
//! - *docker-archive* in Docker ≥ 25's layout: `blobs/sha256/<hex>` (config bytes as
//!   stored; layers **uncompressed**, named by diffID, as Docker writes them), a
//!   `manifest.json` (`Config`/`RepoTags`/`Layers`), `repositories`, `oci-layout` and an
//!   `index.json` pointing at an OCI manifest generated for the archive's own blobs (the
//!   store's manifest describes compressed layers, so it cannot be reused). `docker load`
//!   reads `manifest.json`; skopeo reads `manifest.json`; containerd reads `index.json`.
//! - *OCI archive*: a tar of an OCI image layout holding the store's blobs exactly as
//!   stored, with every name as both `org.opencontainers.image.ref.name` and
//!   `io.containerd.image.name` (full names, so many repositories fit in one archive).
//!
//! **Loading** ([`load`]) accepts docker-archives in the old layout (`<id>/layer.tar`,
//! `<id>.json`, symlinked layers), the new layout, OCI archives, and any of them gzip- or
//! zstd-compressed. Members may come in any order: each is spooled into the ingest area as
//! it is read (hashing on the way), and only then are `manifest.json` / `index.json`
//! interpreted. Everything is checked before anything is committed — member digests and
//! sizes, media types, diffIDs against the config, and the caller's verifier on every
//! layer — and the images are tagged in one index transaction at the end. A refused
//! archive leaves no tag and no index change; blobs committed before a late failure are
//! unreferenced and leased until the load ends, then garbage.
//!
//! Docker-archive images get an OCI manifest generated deterministically from the config
//! and layers, so loading the same archive twice yields the same image digest; the config
//! bytes (and hence the image ID) are kept exactly.

mod load;
mod save;

use std::io::{self, BufRead, Read};

use strata_oci::Digest;
use strata_oci::media_type::Compression;

pub use load::{LoadOptions, LoadReport, LoadedImage, load};
pub use save::{SaveImage, save_docker, save_oci};

/// Errors reading or writing archives. Member names are archive paths.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] crate::Error),
    #[error("failed to write archive: {source}")]
    Write {
        #[source]
        source: io::Error,
    },
    #[error("corrupt archive{}: {source}", after.as_ref().map(|m| format!(" (after member {m})")).unwrap_or_default())]
    Corrupt {
        after: Option<String>,
        #[source]
        source: io::Error,
    },
    #[error("archive member {member} is truncated (expected {expected} bytes, got {actual})")]
    Truncated {
        member: String,
        expected: u64,
        actual: u64,
    },
    #[error("archive member {member:?} has an unsafe path")]
    UnsafePath { member: String },
    #[error("archive member {member} has an unsupported entry type ({kind})")]
    UnsupportedEntry { member: String, kind: String },
    #[error("archive member {member} is a link that does not resolve to a file")]
    BadLink { member: String },
    #[error("archive is missing {member} (needed by {needed_by})")]
    MissingMember { member: String, needed_by: String },
    #[error("archive member {member} does not match its digest: expected {expected}, got {actual}")]
    DigestMismatch {
        member: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("archive member {member} has size {actual}, but {needed_by} says {expected}")]
    SizeMismatch {
        member: String,
        needed_by: String,
        expected: u64,
        actual: u64,
    },
    #[error("malformed {member}: {source}")]
    Json {
        member: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{needed_by} references {digest} with unknown media type {media_type:?} (expected {expected})"
    )]
    UnknownMediaType {
        digest: Digest,
        media_type: String,
        needed_by: String,
        expected: &'static str,
    },
    #[error("layer {member} has diffID {actual}, but config {config} says {expected}")]
    DiffIdMismatch {
        member: String,
        config: Digest,
        expected: Digest,
        actual: Digest,
    },
    #[error(
        "config {config} lists {diff_ids} layers (rootfs.diff_ids), but manifest.json gives {layers}"
    )]
    LayerCount {
        config: Digest,
        diff_ids: usize,
        layers: usize,
    },
    #[error("layer {member} ({digest}) is refused: {source}")]
    LayerRefused {
        member: String,
        digest: Digest,
        #[source]
        source: crate::VerifyError,
    },
    #[error("invalid image name {name:?} in {member}: {reason}")]
    InvalidName {
        name: String,
        member: String,
        reason: String,
    },
    #[error("image {digest} nests indexes too deeply")]
    TooDeep { digest: Digest },
    #[error("not an image archive: it has neither manifest.json nor index.json")]
    NotAnArchive,
    #[error("nothing to save: no images given")]
    NothingToSave,
}

/// Result alias for archive operations.
pub type Result<T, E = ArchiveError> = std::result::Result<T, E>;

/// Recognise a compressed stream by its magic bytes.
pub(crate) fn sniff_compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Wrap `r` in the decompressor for `c`.
pub(crate) fn decompressor<'a>(
    c: Compression,
    r: impl BufRead + 'a,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match c {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
    })
}

/// The tag part of a full name (`docker.io/library/busybox:latest` → `latest`), if any.
pub(crate) fn tag_of(name: &str) -> Option<&str> {
    if name.contains('@') {
        return None;
    }
    let last = name.rsplit('/').next()?;
    last.rsplit_once(':').map(|(_, t)| t)
}

/// The repository part of a full name (without tag or digest).
pub(crate) fn repo_of(name: &str) -> &str {
    let no_digest = name.split('@').next().unwrap_or(name);
    match tag_of(no_digest) {
        Some(t) => &no_digest[..no_digest.len() - t.len() - 1],
        None => no_digest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names() {
        assert_eq!(tag_of("docker.io/library/busybox:latest"), Some("latest"));
        assert_eq!(tag_of("127.0.0.1:5000/app:1.0"), Some("1.0"));
        assert_eq!(tag_of("127.0.0.1:5000/app"), None);
        assert_eq!(repo_of("127.0.0.1:5000/app:1.0"), "127.0.0.1:5000/app");
        assert_eq!(repo_of("a/b@sha256:00"), "a/b");
    }
}
