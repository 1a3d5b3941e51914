//! # strata-oci — the data model of images
//!
//! Pure data, no I/O: content [`Digest`]s, [`Descriptor`]s and [`Platform`]s, media types
//! (OCI and Docker v2 schema 2), [`Manifest`]s and [`Index`]es, the image configuration
//! with every field Docker writes, and image references (`[HOST[:PORT]/]PATH[:TAG][@DIGEST]`)
//! with Docker's normalisation rules.
//!
//! Two rules shape every type here:
//! - **Stable bytes.** Maps are [`indexmap::IndexMap`]s, so a document Strata writes
//!   serialises to the same bytes on every run (and hence the same digest).
//! - **Raw bytes win.** A document that came from elsewhere is carried as
//!   [`Parsed`]: the typed value for reading, the original bytes for storing, pushing and
//!   digesting. Nothing is re-serialised on the way through.
//!
//! We use our own serde types rather than `oci-spec`'s: its image types use `HashMap`s
//! (unstable serialisation) and drop Docker's HEALTHCHECK/ONBUILD/SHELL fields.

pub mod config;
pub mod descriptor;
pub mod digest;
pub mod layout;
pub mod manifest;
pub mod media_type;
pub mod reference;
pub mod semver;

pub use config::{ConfigError, ContainerConfig, HealthConfig, History, ImageConfig, RootFs};
pub use descriptor::{Annotations, Descriptor, Platform};
pub use digest::{Algorithm, Digest, DigestError, Digester, PipedDigester};
pub use layout::OciLayout;
pub use manifest::{Document, DocumentError, Index, Manifest, Parsed};
pub use reference::{AnyReference, Reference, ReferenceError, ReferenceErrorKind};

/// Annotation key OCI image layouts use to name a tagged manifest in `index.json`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation containerd and Docker use to record the full image name in `index.json`.
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// Annotation for the creation time of an image.
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
