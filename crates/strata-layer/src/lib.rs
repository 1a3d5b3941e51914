//! # strata-layer — filesystem layers as tar streams
//!
//! A layer is an ordered tar stream of filesystem changes (the OCI image-spec
//! "changeset", <https://github.com/opencontainers/image-spec/blob/main/layer.md>),
//! usually compressed. This crate owns everything Strata does with one:
//!
//! - [`compression`]: detect gzip / zstd / plain tar by magic bytes, decompress, and
//!   compress (a parallel gzip writer over rayon, multithreaded zstd).
//! - [`pipeline`]: one pass over an uncompressed tar that computes the diffID (sha256 of
//!   the tar), compresses, and computes the blob digest and size — [`LayerWriter`]; and
//!   chainIDs ([`chain_ids`], [`chain_id_of`]).
//! - [`validate()`]: stream-check a layer without extracting it (what `strata import` and
//!   `strata load` run before committing a blob).
//! - [`create()`]: a deterministic tar from a directory, optionally converting overlayfs
//!   whiteouts of an upperdir into OCI whiteouts.
//! - [`apply()`]: safe extraction into a directory, with OCI whiteouts applied as
//!   deletions or recorded as overlayfs whiteouts.
//!
//! ## Identity of a layer
//! The **diffID** is the sha256 of the *uncompressed* stream, every byte of it including
//! the end-of-archive blocks and anything after them (as Docker computes it while applying);
//! the **digest** is the sha256 of the blob as stored. [`validate()`] and [`apply()`] return
//! the diffID they saw, so a blob's `rootfs.diff_ids` entry can be checked for free.
//!
//! ## Why a tar reader of our own
//! Writing uses the `tar` crate's builder and header encoder. Reading is ours (block
//! framing, header fields, PAX and GNU long-name headers, end of archive), because the
//! crate's reader (0.4.46) reads extension headers of any declared size into memory (a
//! hostile layer can make it allocate gigabytes), accepts entries whose data is cut short,
//! and refuses NUL-filled numeric fields that Go reads as zero. Framing follows Go's `archive/tar`, the reader behind
//! Docker and containerd, so Strata accepts exactly the streams they accept: an archive may
//! end without its two zero blocks, but not in the middle of a header or of entry data;
//! header-only entry types (links, directories, devices) carry no data whatever their size
//! field says; extension headers are limited to 1 MiB.

pub mod apply;
pub mod compression;
pub mod create;
mod error;
pub mod pipeline;
mod read;
mod resolve;
pub mod validate;

pub use apply::{ApplyOptions, WhiteoutMode, apply};
pub use compression::{
    ChunkMemo, CompressOptions, Compressor, Decompressor, ParallelGzEncoder, decompress, detect,
};
pub use create::{CreateOptions, CreateSummary, EntryMeta, EntryWriter, create};
pub use error::{EntryProblem, LayerError};
pub use pipeline::{LayerInfo, LayerWriter, chain_id_of, chain_ids, write_layer};
pub use strata_oci::media_type::Compression;
pub use validate::{LayerSummary, ValidateOptions, validate};

/// Prefix of an OCI whiteout file: `.wh.NAME` deletes `NAME` from lower layers.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The opaque whiteout: its directory hides everything lower layers put in it.
pub const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";
/// Prefix of aufs metadata entries (`.wh..wh.plnk`, `.wh..wh.aufs`), skipped on apply.
pub const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
