//! Writing docker-archives and OCI archives (see the module docs of [`super`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufReader, Read, Write};

use indexmap::IndexMap;
use serde::Serialize;
use strata_oci::media_type::{self, Compression, Kind};
use strata_oci::{
    ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, Descriptor, Digest, Document, Index, Manifest,
    Parsed, Platform,
};

use super::{ArchiveError, Result, decompressor, repo_of, tag_of};
use crate::{Error, Lease, Store};

/// An image to save: its descriptor in the store and the names to record for it.
#[derive(Debug, Clone)]
pub struct SaveImage {
    pub descriptor: Descriptor,
    /// Full names (`docker.io/library/busybox:latest`); empty for an untagged image.
    pub names: Vec<String>,
}

#[derive(Serialize)]
struct ManifestJsonEntry<'a> {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags")]
    repo_tags: Option<&'a [String]>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// A tar stream with deterministic headers (root-owned, mtime 0) that writes each
/// directory entry before the first file in it.
struct TarOut<W: Write> {
    b: tar::Builder<W>,
    dirs: BTreeSet<String>,
    files: BTreeSet<String>,
}

impl<W: Write> TarOut<W> {
    fn new(w: W) -> Self {
        let mut b = tar::Builder::new(w);
        b.mode(tar::HeaderMode::Deterministic);
        TarOut {
            b,
            dirs: BTreeSet::new(),
            files: BTreeSet::new(),
        }
    }

    fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    fn parents(&mut self, path: &str) -> Result<()> {
        let mut acc = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            acc.push_str(part);
            acc.push('/');
            if self.dirs.insert(acc.clone()) {
                let mut h = Self::header(tar::EntryType::Directory, 0, 0o755);
                self.b
                    .append_data(&mut h, &acc, std::io::empty())
                    .map_err(|source| ArchiveError::Write { source })?;
            }
        }
        Ok(())
    }

    /// Add a file unless one with that path was already written.
    fn file(&mut self, path: &str, size: u64, data: impl Read) -> Result<()> {
        if !self.files.insert(path.to_string()) {
            return Ok(());
        }
        self.parents(path)?;
        let mut h = Self::header(tar::EntryType::Regular, size, 0o644);
        self.b
            .append_data(&mut h, path, data)
            .map_err(|source| ArchiveError::Write { source })
    }

    fn bytes(&mut self, path: &str, data: &[u8]) -> Result<()> {
        self.file(path, data.len() as u64, data)
    }

    fn has(&self, path: &str) -> bool {
        self.files.contains(path)
    }

    fn blob(&mut self, store: &Store, digest: &Digest) -> Result<()> {
        let path = blob_member(digest);
        if self.has(&path) {
            return Ok(());
        }
        let size = store.blob_size(digest)?;
        let f = store.open_blob(digest)?;
        self.file(&path, size, f)
    }

    fn finish(self) -> Result<()> {
        let mut w = self
            .b
            .into_inner()
            .map_err(|source| ArchiveError::Write { source })?;
        w.flush().map_err(|source| ArchiveError::Write { source })
    }
}

fn blob_member(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm(), d.hex())
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    // Plain data with string keys: serialisation cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

/// Protect `digest` for the duration of the save, failing if it is missing.
fn hold(store: &Store, lease: &Lease, digest: &Digest) -> Result<()> {
    if store.lease_existing(lease, digest)? {
        Ok(())
    } else {
        Err(Error::BlobNotFound {
            digest: digest.clone(),
        }
        .into())
    }
}

/// The single-platform manifest for `desc`: itself, or the child of an index that
/// matches `platform` (default: the host) and is present.
fn platform_manifest(
    store: &Store,
    lease: &Lease,
    desc: &Descriptor,
    platform: Option<&Platform>,
) -> Result<Manifest> {
    hold(store, lease, &desc.digest)?;
    match store.read_document(desc)?.value {
        Document::Manifest(m) => Ok(m),
        Document::Index(ix) => {
            let want = platform.cloned().unwrap_or_else(Platform::host);
            for child in &ix.manifests {
                if media_type::kind(&child.media_type) == Kind::Manifest
                    && child.platform.as_ref().is_some_and(|p| p.matches(&want))
                    && store.lease_existing(lease, &child.digest)?
                    && let Document::Manifest(m) = store.read_document(child)?.value
                {
                    return Ok(m);
                }
            }
            Err(Error::NoMatchingPlatform {
                digest: desc.digest.clone(),
                platform: want.to_slash_string(),
            }
            .into())
        }
    }
}

#[derive(serde::Deserialize)]
struct ConfigRootfs {
    #[serde(default)]
    rootfs: Option<Rootfs>,
}
#[derive(serde::Deserialize)]
struct Rootfs {
    #[serde(default)]
    diff_ids: Vec<Digest>,
}

/// Write a docker-archive (Docker ≥ 25 layout) of `images` to `out`. Index images are
/// saved as their manifest for `platform` (default: the host).
pub fn save_docker(
    store: &Store,
    images: &[SaveImage],
    platform: Option<&Platform>,
    out: impl Write,
) -> Result<()> {
    if images.is_empty() {
        return Err(ArchiveError::NothingToSave);
    }
    let lease = store.lease()?;
    let mut tar = TarOut::new(out);
    let mut manifest_json = Vec::new();
    let mut index = Index::new_oci();
    let mut repositories: IndexMap<String, IndexMap<String, String>> = IndexMap::new();
    // store layer digest -> (diffID, uncompressed size)
    let mut layers_done: HashMap<Digest, (Digest, u64)> = HashMap::new();

    for img in images {
        let manifest = platform_manifest(store, &lease, &img.descriptor, platform)?;
        let config = &manifest.config;
        hold(store, &lease, &config.digest)?;
        let config_bytes = store.read_blob(&config.digest)?;
        let diff_ids = serde_json::from_slice::<ConfigRootfs>(&config_bytes)
            .map_err(|source| ArchiveError::Json {
                member: config.digest.to_string(),
                source,
            })?
            .rootfs
            .map(|r| r.diff_ids)
            .unwrap_or_default();
        if diff_ids.len() != manifest.layers.len() {
            return Err(ArchiveError::LayerCount {
                config: config.digest.clone(),
                diff_ids: diff_ids.len(),
                layers: manifest.layers.len(),
            });
        }
        let mut archive_layers = Vec::new();
        for (layer, expected) in manifest.layers.iter().zip(&diff_ids) {
            let Kind::Layer(compression) = media_type::kind(&layer.media_type) else {
                return Err(ArchiveError::UnknownMediaType {
                    digest: layer.digest.clone(),
                    media_type: layer.media_type.clone(),
                    needed_by: config.digest.to_string(),
                    expected: "a layer",
                });
            };
            hold(store, &lease, &layer.digest)?;
            let (diff_id, size) = match layers_done.get(&layer.digest) {
                Some(done) => done.clone(),
                None => {
                    let done = write_uncompressed(store, &lease, &mut tar, layer, compression)?;
                    layers_done.insert(layer.digest.clone(), done.clone());
                    done
                }
            };
            if diff_id != *expected {
                return Err(ArchiveError::DiffIdMismatch {
                    member: layer.digest.to_string(),
                    config: config.digest.clone(),
                    expected: expected.clone(),
                    actual: diff_id,
                });
            }
            archive_layers.push(Descriptor::new(
                media_type::OCI_LAYER_TAR,
                diff_id,
                size as i64,
            ));
        }
        tar.bytes(&blob_member(&config.digest), &config_bytes)?;

        let layer_paths: Vec<String> = archive_layers
            .iter()
            .map(|l| blob_member(&l.digest))
            .collect();
        let top_layer = archive_layers.last().map(|l| l.digest.hex().to_string());
        let generated = Parsed::from_value(
            Manifest::new_oci(
                Descriptor::new(
                    media_type::OCI_CONFIG,
                    config.digest.clone(),
                    config_bytes.len() as i64,
                ),
                archive_layers,
            ),
            media_type::OCI_MANIFEST,
        );
        tar.bytes(&blob_member(&generated.digest), &generated.bytes)?;
        if img.names.is_empty() {
            index.manifests.push(generated.descriptor());
        }
        for name in &img.names {
            let mut d = generated.descriptor();
            let ann = d.annotations.get_or_insert_with(Default::default);
            ann.insert(ANNOTATION_IMAGE_NAME.to_string(), name.clone());
            if let Some(tag) = tag_of(name) {
                ann.insert(ANNOTATION_REF_NAME.to_string(), tag.to_string());
                if let Some(top) = &top_layer {
                    repositories
                        .entry(repo_of(name).to_string())
                        .or_default()
                        .insert(tag.to_string(), top.clone());
                }
            }
            index.manifests.push(d);
        }
        manifest_json.push(ManifestJsonEntry {
            config: blob_member(&config.digest),
            repo_tags: (!img.names.is_empty()).then_some(img.names.as_slice()),
            layers: layer_paths,
        });
    }

    tar.bytes("index.json", &to_json(&index))?;
    tar.bytes("manifest.json", &to_json(&manifest_json))?;
    tar.bytes("oci-layout", &oci_layout())?;
    if !repositories.is_empty() {
        tar.bytes("repositories", &to_json(&repositories))?;
    }
    tar.finish()?;
    drop(lease);
    Ok(())
}

fn oci_layout() -> Vec<u8> {
    format!(
        "{{\"imageLayoutVersion\":\"{}\"}}",
        media_type::OCI_LAYOUT_VERSION
    )
    .into_bytes()
}

/// Add `layer` to the archive uncompressed, named by its diffID.
fn write_uncompressed<W: Write>(
    store: &Store,
    lease: &Lease,
    tar: &mut TarOut<W>,
    layer: &Descriptor,
    compression: Compression,
) -> Result<(Digest, u64)> {
    if compression == Compression::None {
        let size = store.blob_size(&layer.digest)?;
        tar.blob(store, &layer.digest)?;
        return Ok((layer.digest.clone(), size));
    }
    // The tar header needs the size first, so decompress into the ingest area (hashing
    // on the way), then copy. The spool file is never committed.
    let mut w = store.writer(lease)?;
    let src = BufReader::new(store.open_blob(&layer.digest)?);
    let corrupt = |source| ArchiveError::Corrupt {
        after: Some(format!("layer {}", layer.digest)),
        source,
    };
    let mut dec = decompressor(compression, src).map_err(corrupt)?;
    std::io::copy(&mut dec, &mut w).map_err(corrupt)?;
    let spooled = w.finish()?;
    let diff_id = spooled.digest().clone();
    let size = spooled.size();
    let path = blob_member(&diff_id);
    if !tar.has(&path) {
        tar.file(&path, size, spooled.open()?)?;
    }
    Ok((diff_id, size))
}

/// Write an OCI archive of `images`: every blob they reference, as stored, and an
/// `index.json` naming them. Missing children of an index are left out (as in the store);
/// any other missing blob is an error.
pub fn save_oci(store: &Store, images: &[SaveImage], out: impl Write) -> Result<()> {
    if images.is_empty() {
        return Err(ArchiveError::NothingToSave);
    }
    let lease = store.lease()?;
    let mut blobs: BTreeMap<Digest, ()> = BTreeMap::new();
    let mut index = Index::new_oci();
    for img in images {
        let mut work: Vec<(Descriptor, bool)> = vec![(img.descriptor.clone(), false)];
        while let Some((desc, optional)) = work.pop() {
            if blobs.contains_key(&desc.digest) {
                continue;
            }
            if !store.lease_existing(&lease, &desc.digest)? {
                if optional {
                    continue;
                }
                return Err(Error::BlobNotFound {
                    digest: desc.digest.clone(),
                }
                .into());
            }
            blobs.insert(desc.digest.clone(), ());
            if media_type::is_manifest_like(&desc.media_type) {
                match store.read_document(&desc)?.value {
                    Document::Manifest(m) => {
                        work.extend(m.references().map(|r| (r.clone(), false)));
                    }
                    Document::Index(ix) => {
                        work.extend(ix.manifests.iter().map(|r| (r.clone(), true)));
                        work.extend(ix.subject.iter().map(|r| (r.clone(), true)));
                    }
                }
            }
        }
        let base = {
            let mut d = img.descriptor.clone();
            if let Some(ann) = &mut d.annotations {
                ann.shift_remove(ANNOTATION_IMAGE_NAME);
                ann.shift_remove(ANNOTATION_REF_NAME);
                if ann.is_empty() {
                    d.annotations = None;
                }
            }
            d
        };
        if img.names.is_empty() {
            index.manifests.push(base.clone());
        }
        for name in &img.names {
            let mut d = base.clone();
            let ann = d.annotations.get_or_insert_with(Default::default);
            ann.insert(ANNOTATION_IMAGE_NAME.to_string(), name.clone());
            ann.insert(ANNOTATION_REF_NAME.to_string(), name.clone());
            index.manifests.push(d);
        }
    }
    let mut tar = TarOut::new(out);
    tar.bytes("oci-layout", &oci_layout())?;
    for digest in blobs.keys() {
        tar.blob(store, digest)?;
    }
    tar.bytes("index.json", &to_json(&index))?;
    tar.finish()?;
    drop(lease);
    Ok(())
}
