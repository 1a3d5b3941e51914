//! Finding images the way Docker does — by name (`busybox` → `docker.io/library/busybox:latest`),
//! by `name@digest`, by full or short image ID (the config digest) — and loading what the
//! image commands show about them, with Docker's sizes (the bytes of file content a layer
//! carries, as moby counts when it unpacks one, not the size of its tar stream) and Docker's
//! error texts.

use anyhow::{Context as _, anyhow, bail};
use strata_oci::config::ImageConfig;
use strata_oci::reference::{AnyReference, Reference};
use strata_oci::{Descriptor, Digest, Document, Manifest, Platform};
use strata_store::{ImageMeta, Images, Store};

/// Docker's "No such image" error, kept as a type so commands can tell it apart. It shows
/// the name as the daemon does (`x` → `x:latest`); `input` keeps what the user typed, which
/// the Docker CLI shows instead where it words the error itself (`rmi`, `inspect`).
#[derive(Debug, thiserror::Error)]
#[error("No such image: {shown}")]
pub struct NoSuchImage {
    pub shown: String,
    pub input: String,
}

/// Report `err` the way the Docker CLI reports an error the daemon returned
/// (`Error response from daemon: …`), and fail with exit status 1. Strata has no daemon,
/// but scripts match these lines as Docker prints them, so the text stays Docker's.
pub fn daemon_error(err: anyhow::Error) -> anyhow::Error {
    eprintln!("Error response from daemon: {}", crate::render_error(&err));
    crate::Exit(1).into()
}

/// Docker's text for a reference that does not parse: the distribution library's messages
/// (`invalid reference format`, `… must be lowercase`, `… more than 255 characters`).
pub fn reference_error_text(err: &str) -> String {
    if err.contains("must be lowercase") {
        "invalid reference format: repository name must be lowercase".into()
    } else if err.contains("more than 255") {
        "repository name must not be more than 255 characters".into()
    } else if err.starts_with("invalid reference format") || err.is_empty() {
        "invalid reference format".into()
    } else {
        err.to_string()
    }
}

/// Normalise a user-given name to the full form the store keys tags by
/// (`busybox` → `docker.io/library/busybox:latest`). Digest references are refused here:
/// tags cannot carry digests.
pub fn normalize_tag(input: &str) -> anyhow::Result<String> {
    let r = Reference::parse_normalized(input).map_err(|e| anyhow!("{e}"))?;
    if r.digest_str().is_some() {
        bail!("refusing to create a tag with a digest reference");
    }
    let r = r.tag_name_only();
    Ok(r.to_string())
}

/// The name Docker shows for a stored full name (`docker.io/library/busybox:latest` →
/// `busybox:latest`).
pub fn familiar(name: &str) -> String {
    Reference::parse(name)
        .map(|r| r.familiar_string())
        .unwrap_or_else(|_| name.to_string())
}

/// The stored full names of image `digest` in Docker's order (sorted by full name, as its
/// reference store lists `RepoTags`).
pub fn sorted_names(images: &Images, digest: &Digest) -> Vec<String> {
    let mut names: Vec<String> = images
        .names_of(digest)
        .into_iter()
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// Docker's layer IDs (chain IDs) that deleting image `gone` releases: those of its layers
/// that no image in `left` uses, top layer first, as `rmi` and `image prune` list them.
pub fn released_layers(
    store: &Store,
    left: &Images,
    gone: &ImageConfig,
) -> anyhow::Result<Vec<Digest>> {
    let mut used = std::collections::HashSet::new();
    for digest in left.digests() {
        let Some(desc) = left.by_digest(digest).map(strip) else {
            continue;
        };
        let info = load_info(store, left, &desc)?;
        used.extend(strata_layer::chain_ids(&info.config.rootfs.diff_ids));
    }
    let mut out: Vec<Digest> = strata_layer::chain_ids(&gone.rootfs.diff_ids)
        .into_iter()
        .filter(|c| !used.contains(c))
        .collect();
    out.reverse();
    Ok(out)
}

/// `(repository, tag)` columns for a stored full name.
pub fn repo_and_tag(name: &str) -> (String, String) {
    match Reference::parse(name) {
        Ok(r) => (
            r.familiar_name(),
            r.tag()
                .map(str::to_string)
                .unwrap_or_else(|| "<none>".into()),
        ),
        Err(_) => (name.to_string(), "<none>".into()),
    }
}

/// Docker's image ID of a stored image: the config digest (from the cached summary, else
/// from the blobs).
pub fn image_id(store: &Store, images: &Images, digest: &Digest) -> anyhow::Result<Digest> {
    if let Some(s) = images.meta(digest).and_then(|m| m.summary.as_ref()) {
        return Ok(s.config.digest.clone());
    }
    let desc = images
        .by_digest(digest)
        .cloned()
        .ok_or_else(|| anyhow!("image {digest} is not in the store"))?;
    Ok(load_manifest(store, &desc)?.1.config.digest)
}

/// Resolve what a user typed to one stored image (its index descriptor, annotations
/// stripped). Order as in Docker: a full ID, a name (with `:latest` added), `name@digest`,
/// then a unique ID prefix.
pub fn resolve(store: &Store, images: &Images, input: &str) -> anyhow::Result<Descriptor> {
    let not_found = || NoSuchImage {
        shown: display_for_error(input),
        input: input.to_string(),
    };
    let hex_part = input.strip_prefix("sha256:").unwrap_or(input);
    let is_hex = !hex_part.is_empty()
        && hex_part.len() <= 64
        && hex_part
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));

    if input.starts_with("sha256:") || (is_hex && hex_part.len() == 64) {
        if !is_hex {
            return Err(not_found().into());
        }
        return by_id_prefix(store, images, hex_part)?.ok_or_else(|| not_found().into());
    }
    let named = match AnyReference::parse(input) {
        Ok(any) => any.as_named().cloned(),
        Err(e) => {
            if is_hex {
                None
            } else {
                return Err(anyhow!("{}", reference_error_text(&e.to_string())));
            }
        }
    };
    if let Some(r) = named {
        if let Some(d) = r.digest_str() {
            let d = Digest::parse(d).map_err(|e| anyhow!("{input}: {e}"))?;
            let repo = r.name();
            for digest in images.digests() {
                let entry = images.by_digest(digest).map(strip);
                let Some(entry) = entry else { continue };
                if *digest == d {
                    return Ok(entry);
                }
                let repo_digest = format!("{repo}@{d}");
                if images
                    .meta(digest)
                    .is_some_and(|m: &ImageMeta| m.repo_digests.contains(&repo_digest))
                {
                    return Ok(entry);
                }
            }
        } else {
            let full = r.tag_name_only().to_string();
            if let Some(d) = images.resolve(&full) {
                return Ok(strip(d));
            }
        }
    }
    if is_hex && let Some(d) = by_id_prefix(store, images, hex_part)? {
        return Ok(d);
    }
    Err(not_found().into())
}

fn display_for_error(input: &str) -> String {
    match Reference::parse_normalized(input) {
        Ok(r) if r.digest_str().is_none() => r.tag_name_only().familiar_string(),
        _ => input.to_string(),
    }
}

fn by_id_prefix(
    store: &Store,
    images: &Images,
    prefix: &str,
) -> anyhow::Result<Option<Descriptor>> {
    let mut found: Option<Descriptor> = None;
    for digest in images.digests() {
        let id = image_id(store, images, digest)?;
        if id.hex().starts_with(prefix) || digest.hex().starts_with(prefix) {
            if let Some(f) = &found
                && f.digest != *digest
            {
                bail!("short ID {prefix} is ambiguous: it matches more than one image");
            }
            found = images.by_digest(digest).map(strip);
        }
    }
    Ok(found)
}

/// An index entry without its name annotations: the image itself.
pub fn strip(d: &Descriptor) -> Descriptor {
    let mut d = d.clone();
    if let Some(a) = &mut d.annotations {
        a.shift_remove(strata_oci::ANNOTATION_REF_NAME);
        a.shift_remove(strata_oci::ANNOTATION_IMAGE_NAME);
        if a.is_empty() {
            d.annotations = None;
        }
    }
    d
}

/// The platform manifest of an image (for an index: the host's platform, else the first
/// manifest present locally) and its descriptor.
pub fn load_manifest(store: &Store, desc: &Descriptor) -> anyhow::Result<(Descriptor, Manifest)> {
    let doc = store
        .read_document(desc)
        .with_context(|| format!("reading image {}", desc.digest))?;
    match doc.value {
        Document::Manifest(m) => Ok((desc.clone(), m)),
        Document::Index(ix) => {
            let chosen = store
                .platform_manifest(&ix, &Platform::host())
                .ok_or_else(|| anyhow!("image {} has no manifest in the store", desc.digest))?;
            let child = store.read_document(chosen)?;
            match child.value {
                Document::Manifest(m) => Ok((chosen.clone(), m)),
                Document::Index(_) => bail!("nested index {} is not supported", chosen.digest),
            }
        }
    }
}

/// Everything the image commands show about one image.
pub struct ImageInfo {
    pub config_digest: Digest,
    pub config: ImageConfig,
}

/// Keys under `ImageMeta.extra` where Strata caches unpacked sizes it knows.
pub const META_LAYER_SIZES: &str = "strata.layerSizes";

/// Key under `ImageMeta.extra` caching Docker's per-layer sizes (see [`docker_layer_sizes`]).
pub const META_CONTENT_SIZES: &str = "strata.contentSizes";

pub fn load_info(store: &Store, _images: &Images, desc: &Descriptor) -> anyhow::Result<ImageInfo> {
    let (_, manifest) = load_manifest(store, desc)?;
    let config_digest = manifest.config.digest.clone();
    let bytes = store
        .read_blob(&config_digest)
        .with_context(|| format!("reading image config {config_digest}"))?;
    let config = ImageConfig::parse_with_digest(&bytes, &config_digest)?;
    Ok(ImageInfo {
        config_digest,
        config,
    })
}

/// Docker's size of one layer: the sum of its tar entries' sizes, i.e. the bytes of file
/// content (what moby's `archive.UnpackLayer` returns and Docker shows in `images`,
/// `history` and `inspect`), not the tar stream with its headers and padding.
pub fn layer_content_size(store: &Store, digest: &Digest) -> anyhow::Result<u64> {
    let blob = store.open_blob(digest)?;
    let (_, plain) = strata_layer::decompress(std::io::BufReader::new(blob))
        .with_context(|| format!("reading layer {digest}"))?;
    let mut archive = tar::Archive::new(plain);
    let mut total = 0u64;
    for entry in archive
        .entries()
        .with_context(|| format!("reading layer {digest}"))?
    {
        total += entry
            .with_context(|| format!("reading layer {digest}"))?
            .size();
    }
    Ok(total)
}

/// Docker's per-layer sizes of the stored image `digest`, bottom first: cached in its
/// metadata, else computed from the layer blobs (a missing blob counts its stored size).
/// The second value says whether they were computed, so the caller can
/// [`remember_layer_sizes`] them.
pub fn docker_layer_sizes(
    store: &Store,
    images: &Images,
    digest: &Digest,
) -> anyhow::Result<(Vec<u64>, bool)> {
    let desc = images
        .by_digest(digest)
        .map(strip)
        .ok_or_else(|| anyhow!("image {digest} is not in the store"))?;
    let (_, manifest) = load_manifest(store, &desc)?;
    let cached: Option<Vec<u64>> = images
        .meta(digest)
        .and_then(|m| m.extra.get(META_CONTENT_SIZES))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .filter(|v: &Vec<u64>| v.len() == manifest.layers.len());
    if let Some(sizes) = cached {
        return Ok((sizes, false));
    }
    let mut sizes = Vec::with_capacity(manifest.layers.len());
    for layer in &manifest.layers {
        sizes.push(if store.has_blob(&layer.digest) {
            layer_content_size(store, &layer.digest)?
        } else {
            u64::try_from(layer.size).unwrap_or(0)
        });
    }
    Ok((sizes, true))
}

/// Cache computed [`docker_layer_sizes`] in the images' metadata. Best effort: a listing
/// must not fail because the store is busy, so errors only mean the sizes are computed
/// again next time.
pub fn remember_layer_sizes(store: &Store, computed: &[(Digest, Vec<u64>)]) {
    if computed.is_empty() {
        return;
    }
    let _ = store.update(|txn| -> anyhow::Result<()> {
        for (digest, sizes) in computed {
            if txn.images().by_digest(digest).is_some() {
                txn.meta_mut(digest)
                    .extra
                    .insert(META_CONTENT_SIZES.into(), serde_json::json!(sizes));
            }
        }
        Ok(())
    });
}

/// Unpacked layer sizes when known (recorded at import/build time), else the stored sizes.
pub fn layer_sizes(meta: Option<&ImageMeta>, manifest: &Manifest) -> Vec<u64> {
    let known: Option<Vec<u64>> = meta
        .and_then(|m| m.extra.get(META_LAYER_SIZES))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .filter(|v: &Vec<u64>| v.len() == manifest.layers.len());
    known.unwrap_or_else(|| {
        manifest
            .layers
            .iter()
            .map(|l| u64::try_from(l.size).unwrap_or(0))
            .collect()
    })
}

/// Parse an RFC 3339 time as written in configs.
pub fn parse_time(s: Option<&str>) -> Option<jiff::Timestamp> {
    s.and_then(|s| s.parse::<jiff::Timestamp>().ok())
}

/// `X ago`, as Docker prints creation times.
pub fn since(t: Option<jiff::Timestamp>) -> String {
    match t {
        Some(t) => {
            let now = jiff::Timestamp::now();
            let secs = (now.as_nanosecond() - t.as_nanosecond()).max(0) as u128;
            let d = std::time::Duration::from_nanos(secs.min(u64::MAX as u128) as u64);
            format!("{} ago", crate::units::human_duration(d))
        }
        None => "N/A".to_string(),
    }
}

/// Go's `time.Time.String()` in UTC: `2006-01-02 15:04:05 +0000 UTC`.
pub fn go_time_string(t: Option<jiff::Timestamp>) -> String {
    match t {
        Some(t) => t.strftime("%Y-%m-%d %H:%M:%S +0000 UTC").to_string(),
        None => "0001-01-01 00:00:00 +0000 UTC".into(),
    }
}
