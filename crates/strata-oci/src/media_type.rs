//! Media types Strata reads and writes: OCI image-spec v1 and Docker image manifest v2
//! schema 2 (including Docker manifest lists). Media types are kept as strings in the data
//! types (unknown ones must survive a round trip); the helpers here classify them.

pub const OCI_LAYOUT_VERSION: &str = "1.0.0";

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_LAYER_NONDIST_TAR: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
pub const OCI_LAYER_NONDIST_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
pub const OCI_LAYER_NONDIST_ZSTD: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_LAYER_FOREIGN_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// Compression of a layer blob, derived from its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// What kind of document or blob a media type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An image manifest (OCI or Docker v2s2).
    Manifest,
    /// An index / manifest list (OCI or Docker).
    Index,
    /// An image configuration.
    Config,
    /// A filesystem layer with the given compression.
    Layer(Compression),
    /// Anything else (artifacts, signatures, attestations): carried as opaque blobs.
    Other,
}

/// Classify a media type string.
pub fn kind(media_type: &str) -> Kind {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => Kind::Manifest,
        OCI_INDEX | DOCKER_MANIFEST_LIST => Kind::Index,
        OCI_CONFIG | DOCKER_CONFIG => Kind::Config,
        OCI_LAYER_TAR | OCI_LAYER_NONDIST_TAR | DOCKER_LAYER_TAR => Kind::Layer(Compression::None),
        OCI_LAYER_GZIP | OCI_LAYER_NONDIST_GZIP | DOCKER_LAYER_GZIP | DOCKER_LAYER_FOREIGN_GZIP => {
            Kind::Layer(Compression::Gzip)
        }
        OCI_LAYER_ZSTD | OCI_LAYER_NONDIST_ZSTD => Kind::Layer(Compression::Zstd),
        _ => Kind::Other,
    }
}

/// Whether the media type names a manifest or index (something that references other blobs).
pub fn is_manifest_like(media_type: &str) -> bool {
    matches!(kind(media_type), Kind::Manifest | Kind::Index)
}

/// Whether the media type is a layer Strata can unpack.
pub fn is_layer(media_type: &str) -> bool {
    matches!(kind(media_type), Kind::Layer(_))
}

/// The OCI layer media type for a compression.
pub fn oci_layer(compression: Compression) -> &'static str {
    match compression {
        Compression::None => OCI_LAYER_TAR,
        Compression::Gzip => OCI_LAYER_GZIP,
        Compression::Zstd => OCI_LAYER_ZSTD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(kind(DOCKER_MANIFEST), Kind::Manifest);
        assert_eq!(kind(DOCKER_MANIFEST_LIST), Kind::Index);
        assert_eq!(kind(OCI_LAYER_ZSTD), Kind::Layer(Compression::Zstd));
        assert_eq!(kind(DOCKER_LAYER_GZIP), Kind::Layer(Compression::Gzip));
        assert_eq!(kind("application/vnd.example+json"), Kind::Other);
        assert!(is_manifest_like(OCI_INDEX));
    }
}
