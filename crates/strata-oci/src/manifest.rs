//! Image manifests and indexes (OCI image-spec v1.1 and Docker v2 schema 2 / manifest
//! lists, which share the same JSON shape apart from media types).
//!
//! Documents that come from outside (a registry, an archive, the store) are parsed with
//! [`Parsed`], which keeps the exact bytes next to the typed value: digests are always
//! computed over those bytes and they are what gets stored and pushed. Strata never
//! re-serialises a document it did not write.

use serde::{Deserialize, Serialize};

use crate::media_type::{self, Kind};
use crate::{Annotations, Descriptor, Digest};

/// An image manifest: one config plus an ordered list of layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
}

impl Manifest {
    /// A new OCI image manifest.
    pub fn new_oci(config: Descriptor, layers: Vec<Descriptor>) -> Manifest {
        Manifest {
            schema_version: 2,
            media_type: Some(media_type::OCI_MANIFEST.to_string()),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations: None,
        }
    }

    /// Every descriptor this manifest references (config, layers, subject).
    pub fn references(&self) -> impl Iterator<Item = &Descriptor> {
        std::iter::once(&self.config)
            .chain(self.layers.iter())
            .chain(self.subject.iter())
    }
}

/// An image index (OCI) or manifest list (Docker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
}

impl Index {
    /// An empty OCI index.
    pub fn new_oci() -> Index {
        Index {
            schema_version: 2,
            media_type: Some(media_type::OCI_INDEX.to_string()),
            artifact_type: None,
            manifests: Vec::new(),
            subject: None,
            annotations: None,
        }
    }
}

/// Why a document was refused.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("malformed {what} {digest}: {source}")]
    Json {
        what: &'static str,
        digest: Digest,
        #[source]
        source: serde_json::Error,
    },
    #[error("unsupported schema version {version} in {digest} (expected 2)")]
    SchemaVersion { version: u32, digest: Digest },
    #[error("unknown manifest media type {media_type:?} for {digest}")]
    UnknownMediaType { media_type: String, digest: Digest },
    #[error(
        "media type mismatch for {digest}: descriptor says {descriptor:?}, document says {document:?}"
    )]
    MediaTypeMismatch {
        digest: Digest,
        descriptor: String,
        document: String,
    },
}

/// A manifest or index, typed.
// Documents are few and short-lived; boxing the larger variant would only add noise at
// every match site.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    Manifest(Manifest),
    Index(Index),
}

/// A document together with the exact bytes it was parsed from and their digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<T> {
    pub value: T,
    pub bytes: Vec<u8>,
    pub digest: Digest,
    /// The effective media type (from the document or, failing that, its descriptor).
    pub media_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

impl Parsed<Document> {
    /// Parse a manifest or index. `hint` is the media type from the descriptor or the
    /// `Content-Type` it came with, if any; when both it and the document carry one they
    /// must agree.
    pub fn parse(bytes: Vec<u8>, hint: Option<&str>) -> Result<Self, DocumentError> {
        let digest = Digest::sha256(&bytes);
        Self::parse_with_digest(bytes, digest, hint)
    }

    /// As [`Parsed::parse`], with the digest already known (e.g. a sha512 digest).
    pub fn parse_with_digest(
        bytes: Vec<u8>,
        digest: Digest,
        hint: Option<&str>,
    ) -> Result<Self, DocumentError> {
        let json_err = |what, source| DocumentError::Json {
            what,
            digest: digest.clone(),
            source,
        };
        let probe: Probe = serde_json::from_slice(&bytes).map_err(|e| json_err("manifest", e))?;
        if let Some(v) = probe.schema_version
            && v != 2
        {
            return Err(DocumentError::SchemaVersion { version: v, digest });
        }
        if let (Some(h), Some(d)) = (hint, probe.media_type.as_deref())
            && h != d
            && media_type::kind(h) != Kind::Other
        {
            return Err(DocumentError::MediaTypeMismatch {
                digest,
                descriptor: h.to_string(),
                document: d.to_string(),
            });
        }
        let effective = probe
            .media_type
            .clone()
            .or_else(|| hint.map(str::to_string))
            .or_else(|| {
                // OCI allows an absent mediaType; decide by shape.
                if probe.manifests.is_some() {
                    Some(media_type::OCI_INDEX.to_string())
                } else if probe.config.is_some() {
                    Some(media_type::OCI_MANIFEST.to_string())
                } else {
                    None
                }
            })
            .unwrap_or_default();
        let value = match media_type::kind(&effective) {
            Kind::Manifest => Document::Manifest(
                serde_json::from_slice(&bytes).map_err(|e| json_err("manifest", e))?,
            ),
            Kind::Index => {
                Document::Index(serde_json::from_slice(&bytes).map_err(|e| json_err("index", e))?)
            }
            _ => {
                return Err(DocumentError::UnknownMediaType {
                    media_type: effective,
                    digest,
                });
            }
        };
        Ok(Parsed {
            value,
            bytes,
            digest,
            media_type: effective,
        })
    }
}

impl<T: Serialize> Parsed<T> {
    /// Serialise a document Strata writes itself. The bytes produced here are final:
    /// they are what is stored and digested.
    pub fn from_value(value: T, media_type: &str) -> Parsed<T> {
        // Serialising our own plain data types cannot fail (string keys only).
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        let digest = Digest::sha256(&bytes);
        Parsed {
            value,
            bytes,
            digest,
            media_type: media_type.to_string(),
        }
    }

    /// A descriptor for this document.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            self.media_type.clone(),
            self.digest.clone(),
            self.bytes.len() as i64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_raw_bytes_and_digest() {
        // Odd whitespace and key order must survive: the digest is over these bytes.
        let raw = br#"{ "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                       "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
            "layers": [] }"#;
        let p = Parsed::parse(raw.to_vec(), None).unwrap();
        assert_eq!(p.bytes, raw.to_vec());
        assert_eq!(p.digest, Digest::sha256(raw));
        assert!(matches!(p.value, Document::Manifest(_)));
        assert_eq!(p.media_type, media_type::DOCKER_MANIFEST);
    }

    #[test]
    fn refuses_unknown_and_mismatched() {
        let raw = br#"{"schemaVersion":2,"mediaType":"text/plain"}"#;
        assert!(matches!(
            Parsed::parse(raw.to_vec(), None),
            Err(DocumentError::UnknownMediaType { .. })
        ));
        let raw = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        assert!(matches!(
            Parsed::parse(raw.to_vec(), Some(media_type::OCI_MANIFEST)),
            Err(DocumentError::MediaTypeMismatch { .. })
        ));
        let raw = br#"{"schemaVersion":1}"#;
        assert!(matches!(
            Parsed::parse(raw.to_vec(), None),
            Err(DocumentError::SchemaVersion { .. })
        ));
    }

    #[test]
    fn index_without_media_type_is_detected_by_shape() {
        let raw = br#"{"schemaVersion":2,"manifests":[]}"#;
        let p = Parsed::parse(raw.to_vec(), None).unwrap();
        assert!(matches!(p.value, Document::Index(_)));
    }
}
