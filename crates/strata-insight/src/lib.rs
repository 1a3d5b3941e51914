//! # strata-insight — what is in an image, what is vulnerable, what is wasted
//!
//! Image insight works offline from the local store:
//!
//! 1. [`image::Image::from_manifest`] reads the config of a stored image's manifest;
//!    [`layers::Inventory::read`] streams every layer (in parallel) into a per-layer view
//!    of the files and the merged final filesystem, keeping package metadata and build
//!    information of executables as it goes.
//! 2. [`sbom::catalog`] turns that into a bill of materials (dpkg, apk, Python, Node, Rust,
//!    Go), each package with its purl and the layer that added it; [`sbom::spdx`] and
//!    [`sbom::cyclonedx`] render SPDX 2.3 and CycloneDX 1.5 JSON.
//! 3. [`osv::import`] loads OSV zip archives into an index under `$STRATA_ROOT/meta/osv`;
//!    [`scan::scan`] matches an SBOM against it with each ecosystem's version ordering
//!    ([`version`]).
//! 4. [`analyze::analyze`] reports per-layer sizes, bytes hidden by later layers, caches
//!    left behind, an efficiency score and suggestions.
//!
//! The library never prints; the `strata` binary renders tables and JSON.

pub mod analyze;
mod error;
pub mod image;
pub mod layers;
pub mod osv;
pub mod sbom;
pub mod scan;
pub mod version;

pub use error::{InsightError, Result};
pub use image::Image;
pub use layers::{Inventory, ReadOptions};
