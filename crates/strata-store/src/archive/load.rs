//! Reading docker-archives and OCI archives into the store (see the module docs of
//! [`super`]).

use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, BufReader, Read, Write};

use serde::Deserialize;
use strata_oci::media_type::{self, Compression, Kind};
use strata_oci::{
    ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, Algorithm, Descriptor, Digest, Digester, Document,
    Index, Manifest, Parsed,
};

use super::{ArchiveError, Result, decompressor, sniff_compression};
use crate::ingest::{BlobVerifier, Ingested, Pending};
use crate::{ANNOTATION_REFERENCE_TYPE, Error, Lease, Store};

/// Members up to this size are kept in memory (manifests, configs, small layers) ...
const SMALL_MEMBER: u64 = 1 << 20;
/// ... as long as all of them together stay under this.
const MEMORY_CAP: u64 = 64 << 20;
/// Link chains longer than this are refused.
const MAX_LINK_DEPTH: usize = 16;
/// Indexes nested deeper than this are refused (real images nest one or two levels).
const MAX_NESTING: usize = 8;

/// How to load.
pub struct LoadOptions<'a> {
    /// Checks every layer before it is committed (the CLI passes layer validation).
    pub verifier: &'a dyn BlobVerifier,
    /// Turns a name found in the archive (`busybox:latest`) into the store's normalised
    /// form (`docker.io/library/busybox:latest`), or explains why it is invalid.
    pub normalize: &'a dyn Fn(&str) -> Result<String, String>,
}

/// One image the archive held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// The image in the store's index (manifest or index descriptor, without names).
    pub descriptor: Descriptor,
    /// The config digest (Docker's image ID) of the image, or of the host platform's
    /// manifest for an index.
    pub image_id: Option<Digest>,
    /// The names it was tagged with (normalised); empty if it was loaded untagged.
    pub names: Vec<String>,
}

/// What [`load`] did.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub images: Vec<LoadedImage>,
}

enum Body<'s> {
    Memory(Vec<u8>),
    Spool(Pending<'s>),
}

struct FileMember<'s> {
    digest: Digest,
    size: u64,
    body: Body<'s>,
}

enum Member<'s> {
    File(FileMember<'s>),
    Link(String),
}

struct Members<'s> {
    map: HashMap<String, Member<'s>>,
}

impl<'s> Members<'s> {
    fn contains(&self, path: &str) -> bool {
        self.map.contains_key(path)
    }

    /// Follow links to the file member `path` names.
    fn resolve(&self, path: &str, needed_by: &str) -> Result<String> {
        let mut p = normalize_path(path).ok_or_else(|| ArchiveError::UnsafePath {
            member: path.to_string(),
        })?;
        for _ in 0..MAX_LINK_DEPTH {
            match self.map.get(&p) {
                Some(Member::File(_)) => return Ok(p),
                Some(Member::Link(target)) => p = target.clone(),
                None => {
                    return Err(ArchiveError::MissingMember {
                        member: p,
                        needed_by: needed_by.to_string(),
                    });
                }
            }
        }
        Err(ArchiveError::BadLink {
            member: path.to_string(),
        })
    }

    fn file(&self, resolved: &str) -> Result<&FileMember<'s>> {
        match self.map.get(resolved) {
            Some(Member::File(f)) => Ok(f),
            _ => Err(ArchiveError::BadLink {
                member: resolved.to_string(),
            }),
        }
    }

    fn read(&self, resolved: &str) -> Result<Vec<u8>> {
        match &self.file(resolved)?.body {
            Body::Memory(b) => Ok(b.clone()),
            Body::Spool(p) => Ok(p.read()?),
        }
    }

    /// A reader over the member's content.
    fn open(&self, resolved: &str) -> Result<Box<dyn BufRead + '_>> {
        match &self.file(resolved)?.body {
            Body::Memory(b) => Ok(Box::new(&b[..])),
            Body::Spool(p) => Ok(Box::new(BufReader::with_capacity(256 * 1024, p.open()?))),
        }
    }

    fn head(&self, resolved: &str) -> Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(8);
        self.open(resolved)?
            .take(8)
            .read_to_end(&mut buf)
            .map_err(|e| spool_err(resolved, e))?;
        Ok(buf)
    }
}

fn spool_err(member: &str, source: io::Error) -> ArchiveError {
    Error::Io {
        op: "read spooled member",
        path: member.into(),
        source,
    }
    .into()
}

/// Normalise an archive path: strip `./` and trailing `/`, resolve `.` and `..`;
/// `None` for absolute paths or paths that leave the archive root.
fn normalize_path(p: &str) -> Option<String> {
    if p.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

/// The algorithm a `blobs/<alg>/<hex>` member is named with.
fn blob_name(path: &str) -> Option<Digest> {
    let rest = path.strip_prefix("blobs/")?;
    let (alg, hex) = rest.split_once('/')?;
    Digest::parse(&format!("{alg}:{hex}")).ok()
}

/// Read every member of the tar stream into memory or the ingest area.
fn read_members<'s>(store: &'s Store, lease: &'s Lease, input: impl Read) -> Result<Members<'s>> {
    // Sniff the first bytes for gzip/zstd. Read them explicitly (a pipe may deliver
    // fewer bytes per read than a magic number needs), then put them back in front.
    let mut input = input;
    let mut head = Vec::with_capacity(4);
    while head.len() < 4 {
        let mut b = [0u8; 4];
        let want = 4 - head.len();
        match input.read(&mut b[..want]) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&b[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(ArchiveError::Corrupt {
                    after: None,
                    source,
                });
            }
        }
    }
    let compression = sniff_compression(&head);
    let reader = BufReader::with_capacity(1 << 20, io::Cursor::new(head).chain(input));
    let stream = decompressor(compression, reader).map_err(|source| ArchiveError::Corrupt {
        after: None,
        source,
    })?;
    let mut archive = tar::Archive::new(stream);
    let mut members = Members {
        map: HashMap::new(),
    };
    let mut memory_used = 0u64;
    let mut last: Option<String> = None;
    let entries = archive.entries().map_err(|source| ArchiveError::Corrupt {
        after: None,
        source,
    })?;
    for entry in entries {
        let mut entry = entry.map_err(|source| ArchiveError::Corrupt {
            after: last.clone(),
            source,
        })?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let path = normalize_path(&raw).ok_or(ArchiveError::UnsafePath {
            member: raw.clone(),
        })?;
        match kind {
            tar::EntryType::Directory => {}
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.size();
                let file = spool(store, lease, &mut entry, &path, size, &mut memory_used)?;
                members.map.insert(path.clone(), Member::File(file));
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                // Symlinks are relative to the link's directory, hard links to the root.
                let joined = if kind == tar::EntryType::Symlink {
                    match path.rsplit_once('/') {
                        Some((dir, _)) => format!("{dir}/{target}"),
                        None => target.clone(),
                    }
                } else {
                    target.clone()
                };
                let resolved = normalize_path(&joined).ok_or(ArchiveError::UnsafePath {
                    member: format!("{path} -> {target}"),
                })?;
                members.map.insert(path.clone(), Member::Link(resolved));
            }
            other => {
                return Err(ArchiveError::UnsupportedEntry {
                    member: path,
                    kind: format!("{other:?}"),
                });
            }
        }
        last = Some(path);
    }
    Ok(members)
}

fn spool<'s>(
    store: &'s Store,
    lease: &'s Lease,
    entry: &mut impl Read,
    path: &str,
    expected: u64,
    memory_used: &mut u64,
) -> Result<FileMember<'s>> {
    let alg = blob_name(path)
        .map(|d| d.algorithm())
        .unwrap_or(Algorithm::Sha256);
    let corrupt = |source| ArchiveError::Corrupt {
        after: Some(path.to_string()),
        source,
    };
    let truncated = |actual| ArchiveError::Truncated {
        member: path.to_string(),
        expected,
        actual,
    };
    if expected <= SMALL_MEMBER && *memory_used + expected <= MEMORY_CAP {
        let size = expected;
        let mut buf = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut buf).map_err(corrupt)?;
        if buf.len() as u64 != size {
            return Err(truncated(buf.len() as u64));
        }
        *memory_used += size;
        return Ok(FileMember {
            digest: Digest::of(alg, &buf),
            size,
            body: Body::Memory(buf),
        });
    }
    let mut w = store.writer_with(lease, alg)?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(e)),
        };
        w.write_all(&buf[..n]).map_err(|source| Error::Io {
            op: "write",
            path: w.path().to_path_buf(),
            source,
        })?;
    }
    let pending = w.finish()?;
    if pending.size() != expected {
        return Err(truncated(pending.size()));
    }
    Ok(FileMember {
        digest: pending.digest().clone(),
        size: pending.size(),
        body: Body::Spool(pending),
    })
}

/// A member to commit into the store.
struct Commit {
    member: String,
    digest: Digest,
    size: u64,
    /// Set for filesystem layers: they go through the verifier.
    layer_media_type: Option<String>,
}

/// What the archive holds, checked, before anything is committed.
#[derive(Default)]
struct Plan {
    commits: Vec<Commit>,
    committed: HashSet<Digest>,
    /// Documents and configs to store from memory: (bytes, media type).
    generated: Vec<(Vec<u8>, String)>,
    images: Vec<(Descriptor, Vec<String>)>,
}

impl Plan {
    fn commit(&mut self, c: Commit) {
        if self.committed.insert(c.digest.clone()) {
            self.commits.push(c);
        }
    }

    fn image(&mut self, desc: Descriptor, names: Vec<String>) {
        match self
            .images
            .iter_mut()
            .find(|(d, _)| d.digest == desc.digest)
        {
            Some((_, existing)) => {
                for n in names {
                    if !existing.contains(&n) {
                        existing.push(n);
                    }
                }
            }
            None => self.images.push((desc, names)),
        }
    }
}

/// Load an archive (see the module docs of [`super`]).
pub fn load(store: &Store, input: impl Read, opts: &LoadOptions<'_>) -> Result<LoadReport> {
    let lease = store.lease()?;
    let mut members = read_members(store, &lease, input)?;
    let plan = if members.contains("manifest.json") {
        plan_docker(&members, opts)?
    } else if members.contains("index.json") {
        plan_oci(&members, opts)?
    } else {
        return Err(ArchiveError::NotAnArchive);
    };

    // Move every blob to commit into the ingest area and verify the layers, all before
    // the first commit.
    let mut ready: Vec<(Commit, Pending<'_>)> = Vec::new();
    for c in plan.commits {
        let Some(Member::File(file)) = members.map.remove(&c.member) else {
            return Err(ArchiveError::BadLink { member: c.member });
        };
        let pending = match file.body {
            Body::Spool(p) => p,
            Body::Memory(bytes) => {
                let mut w = store.writer_with(&lease, c.digest.algorithm())?;
                w.write_all(&bytes).map_err(|source| Error::Io {
                    op: "write",
                    path: w.path().to_path_buf(),
                    source,
                })?;
                w.finish()?
            }
        };
        if let Some(mt) = &c.layer_media_type {
            opts.verifier
                .verify(&Ingested {
                    path: pending.path(),
                    digest: pending.digest(),
                    size: pending.size(),
                    media_type: Some(mt),
                })
                .map_err(|source| ArchiveError::LayerRefused {
                    member: c.member.clone(),
                    digest: c.digest.clone(),
                    source,
                })?;
        }
        ready.push((c, pending));
    }
    drop(members);
    for (c, pending) in ready {
        pending.commit(Some(&c.digest), Some(c.size))?;
    }
    for (bytes, mt) in &plan.generated {
        store.write_blob(&lease, bytes, mt)?;
    }

    let images = plan.images;
    store.update(|txn| -> Result<()> {
        for (desc, names) in &images {
            if names.is_empty() {
                txn.add_dangling(desc)?;
            }
            for n in names {
                txn.tag(n, desc)?;
            }
        }
        Ok(())
    })?;
    let mut report = LoadReport::default();
    for (desc, names) in images {
        let image_id = store.image_summary(&desc)?.map(|s| s.config.digest);
        report.images.push(LoadedImage {
            descriptor: desc,
            image_id,
            names,
        });
    }
    drop(lease);
    Ok(report)
}

fn normalize_names(
    names: impl IntoIterator<Item = String>,
    member: &str,
    opts: &LoadOptions<'_>,
) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let full = (opts.normalize)(&n).map_err(|reason| ArchiveError::InvalidName {
            name: n.clone(),
            member: member.to_string(),
            reason,
        })?;
        crate::images::validate_name(&full).map_err(|e| ArchiveError::InvalidName {
            name: n.clone(),
            member: member.to_string(),
            reason: e.to_string(),
        })?;
        if !out.contains(&full) {
            out.push(full);
        }
    }
    Ok(out)
}

/// A member named `blobs/<alg>/<hex>` must hash to its name.
fn check_blob_name(member: &str, file: &FileMember<'_>) -> Result<()> {
    if let Some(named) = blob_name(member)
        && named != file.digest
    {
        return Err(ArchiveError::DigestMismatch {
            member: member.to_string(),
            expected: named,
            actual: file.digest.clone(),
        });
    }
    Ok(())
}

#[derive(Deserialize)]
struct DockerEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct ConfigRootfs {
    #[serde(default)]
    rootfs: Option<Rootfs>,
}
#[derive(Deserialize)]
struct Rootfs {
    #[serde(default)]
    diff_ids: Vec<Digest>,
}

fn plan_docker(members: &Members<'_>, opts: &LoadOptions<'_>) -> Result<Plan> {
    let mj = members.resolve("manifest.json", "the archive")?;
    let entries: Vec<DockerEntry> =
        serde_json::from_slice(&members.read(&mj)?).map_err(|source| ArchiveError::Json {
            member: "manifest.json".into(),
            source,
        })?;
    let mut plan = Plan::default();
    for entry in entries {
        let cfg_path = members.resolve(&entry.config, "manifest.json")?;
        check_blob_name(&cfg_path, members.file(&cfg_path)?)?;
        let config_bytes = members.read(&cfg_path)?;
        let config_digest = Digest::sha256(&config_bytes);
        // Old layout: `<id>.json`, where the id is the config's sha256.
        let stem = cfg_path
            .rsplit('/')
            .next()
            .unwrap_or(&cfg_path)
            .trim_end_matches(".json");
        if let Ok(named) = Digest::parse(&format!("sha256:{stem}"))
            && named != config_digest
        {
            return Err(ArchiveError::DigestMismatch {
                member: cfg_path,
                expected: named,
                actual: config_digest,
            });
        }
        let diff_ids = serde_json::from_slice::<ConfigRootfs>(&config_bytes)
            .map_err(|source| ArchiveError::Json {
                member: cfg_path.clone(),
                source,
            })?
            .rootfs
            .map(|r| r.diff_ids)
            .unwrap_or_default();
        if diff_ids.len() != entry.layers.len() {
            return Err(ArchiveError::LayerCount {
                config: config_digest,
                diff_ids: diff_ids.len(),
                layers: entry.layers.len(),
            });
        }
        let mut layers = Vec::new();
        for (layer_path, expected) in entry.layers.iter().zip(&diff_ids) {
            let path = members.resolve(layer_path, "manifest.json")?;
            let file = members.file(&path)?;
            check_blob_name(&path, file)?;
            let compression = sniff_compression(&members.head(&path)?);
            let diff_id = if compression == Compression::None
                && file.digest.algorithm() == expected.algorithm()
            {
                file.digest.clone()
            } else {
                let mut hasher = Digester::new(expected.algorithm());
                let mut dec = decompressor(compression, members.open(&path)?)
                    .map_err(|source| corrupt_layer(&path, source))?;
                io::copy(&mut dec, &mut hasher).map_err(|source| corrupt_layer(&path, source))?;
                hasher.finish()
            };
            if diff_id != *expected {
                return Err(ArchiveError::DiffIdMismatch {
                    member: path,
                    config: config_digest,
                    expected: expected.clone(),
                    actual: diff_id,
                });
            }
            let mt = media_type::oci_layer(compression);
            layers.push(Descriptor::new(mt, file.digest.clone(), file.size as i64));
            plan.commit(Commit {
                member: path,
                digest: file.digest.clone(),
                size: file.size,
                layer_media_type: Some(mt.to_string()),
            });
        }
        let manifest = Parsed::from_value(
            Manifest::new_oci(
                Descriptor::new(
                    media_type::OCI_CONFIG,
                    config_digest,
                    config_bytes.len() as i64,
                ),
                layers,
            ),
            media_type::OCI_MANIFEST,
        );
        plan.generated
            .push((config_bytes, media_type::OCI_CONFIG.to_string()));
        let desc = manifest.descriptor();
        plan.generated
            .push((manifest.bytes, media_type::OCI_MANIFEST.to_string()));
        let names = normalize_names(entry.repo_tags.unwrap_or_default(), "manifest.json", opts)?;
        plan.image(desc, names);
    }
    Ok(plan)
}

fn corrupt_layer(member: &str, source: io::Error) -> ArchiveError {
    ArchiveError::Corrupt {
        after: Some(format!("{member} (decompressing layer)")),
        source,
    }
}

/// Where a descriptor sits, which decides the media types allowed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Image,
    Config,
    Layer,
}

fn plan_oci(members: &Members<'_>, opts: &LoadOptions<'_>) -> Result<Plan> {
    if members.contains("oci-layout") {
        let p = members.resolve("oci-layout", "the archive")?;
        serde_json::from_slice::<serde_json::Value>(&members.read(&p)?).map_err(|source| {
            ArchiveError::Json {
                member: "oci-layout".into(),
                source,
            }
        })?;
    }
    let ix = members.resolve("index.json", "the archive")?;
    let index: Index =
        serde_json::from_slice(&members.read(&ix)?).map_err(|source| ArchiveError::Json {
            member: "index.json".into(),
            source,
        })?;
    let mut plan = Plan::default();
    let mut visited = HashSet::new();
    for desc in &index.manifests {
        let root = Walk {
            slot: Slot::Image,
            needed_by: "index.json",
            optional: false,
            artifact: false,
            depth: 0,
        };
        walk_oci(members, &mut plan, &mut visited, desc, root)?;
        let name = desc.annotation(ANNOTATION_IMAGE_NAME).or_else(|| {
            // A bare tag in ref.name (`latest`, as Docker and BuildKit write it) names
            // nothing by itself; a full reference does.
            desc.annotation(ANNOTATION_REF_NAME)
                .filter(|n| n.contains('/') || n.contains(':'))
        });
        let names = normalize_names(name.map(str::to_string), "index.json", opts)?;
        let mut image = desc.clone();
        if let Some(ann) = &mut image.annotations {
            ann.shift_remove(ANNOTATION_IMAGE_NAME);
            ann.shift_remove(ANNOTATION_REF_NAME);
            if ann.is_empty() {
                image.annotations = None;
            }
        }
        plan.image(image, names);
    }
    Ok(plan)
}

/// Where a descriptor was found, which decides what it may be.
#[derive(Clone, Copy)]
struct Walk<'a> {
    slot: Slot,
    needed_by: &'a str,
    /// Index children and subjects may be absent (partial multi-platform images).
    optional: bool,
    /// Inside an attestation manifest: config and layers may have any media type.
    artifact: bool,
    depth: usize,
}

/// Check `desc` and everything below it, adding commits children first.
fn walk_oci(
    members: &Members<'_>,
    plan: &mut Plan,
    visited: &mut HashSet<Digest>,
    desc: &Descriptor,
    at: Walk<'_>,
) -> Result<()> {
    let Walk {
        slot,
        needed_by,
        optional,
        artifact,
        depth,
    } = at;
    if depth > MAX_NESTING {
        return Err(ArchiveError::TooDeep {
            digest: desc.digest.clone(),
        });
    }
    let kind = media_type::kind(&desc.media_type);
    let (ok, expected) = match slot {
        Slot::Image => (
            matches!(kind, Kind::Manifest | Kind::Index),
            "a manifest or index",
        ),
        Slot::Config => (kind == Kind::Config || artifact, "an image config"),
        Slot::Layer => (matches!(kind, Kind::Layer(_)) || artifact, "a layer"),
    };
    if !ok {
        return Err(ArchiveError::UnknownMediaType {
            digest: desc.digest.clone(),
            media_type: desc.media_type.clone(),
            needed_by: needed_by.to_string(),
            expected,
        });
    }
    if !visited.insert(desc.digest.clone()) {
        return Ok(());
    }
    let member = format!("blobs/{}/{}", desc.digest.algorithm(), desc.digest.hex());
    let path = match members.resolve(&member, needed_by) {
        Ok(p) => p,
        Err(ArchiveError::MissingMember { .. }) if optional => return Ok(()),
        Err(e) => return Err(e),
    };
    let file = members.file(&path)?;
    if file.digest != desc.digest {
        return Err(ArchiveError::DigestMismatch {
            member: path,
            expected: desc.digest.clone(),
            actual: file.digest.clone(),
        });
    }
    if u64::try_from(desc.size).ok() != Some(file.size) {
        return Err(ArchiveError::SizeMismatch {
            member: path,
            needed_by: needed_by.to_string(),
            expected: u64::try_from(desc.size).unwrap_or(0),
            actual: file.size,
        });
    }
    if slot == Slot::Image {
        let doc = Parsed::parse_with_digest(
            members.read(&path)?,
            desc.digest.clone(),
            Some(&desc.media_type),
        )
        .map_err(Error::from)?;
        let me = desc.digest.to_string();
        let child = |slot, optional, artifact| Walk {
            slot,
            needed_by: &me,
            optional,
            artifact,
            depth: depth + 1,
        };
        match doc.value {
            Document::Manifest(m) => {
                let (config, layer) = (
                    child(Slot::Config, false, artifact),
                    child(Slot::Layer, false, artifact),
                );
                walk_oci(members, plan, visited, &m.config, config)?;
                for l in &m.layers {
                    walk_oci(members, plan, visited, l, layer)?;
                }
                if let Some(s) = &m.subject {
                    walk_oci(members, plan, visited, s, child(Slot::Image, true, false))?;
                }
            }
            Document::Index(ix) => {
                for c in &ix.manifests {
                    let is_artifact = c.annotation(ANNOTATION_REFERENCE_TYPE).is_some();
                    walk_oci(
                        members,
                        plan,
                        visited,
                        c,
                        child(Slot::Image, true, is_artifact),
                    )?;
                }
                if let Some(s) = &ix.subject {
                    walk_oci(members, plan, visited, s, child(Slot::Image, true, false))?;
                }
            }
        }
    }
    plan.commit(Commit {
        member: path,
        digest: desc.digest.clone(),
        size: file.size,
        layer_media_type: (slot == Slot::Layer && matches!(kind, Kind::Layer(_)))
            .then(|| desc.media_type.clone()),
    });
    Ok(())
}
