//! `strata sbom` — the packages in an image (dpkg, apk, Python, Node, Rust, Go), each with
//! its package URL and the layer that added it, as a table, Strata's JSON, SPDX 2.3 JSON or
//! CycloneDX 1.5 JSON. Everything is read from the local store; nothing is run.
//!
//! The catalog of an image is cached under `$STRATA_ROOT/meta/insight/` by manifest digest
//! (a manifest names its layers by digest, so the same digest always has the same files):
//! the first look at an image reads its layers, later ones (and `scan`) reuse the result.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use serde_json::{Value, json};
use strata_insight::sbom::{self, Sbom};
use strata_insight::{Image, Inventory, ReadOptions};
use strata_oci::Descriptor;
use strata_store::Store;

use crate::Ctx;
use crate::image;

#[derive(Debug, clap::Args)]
pub struct SbomArgs {
    /// Output format: 'table', 'json' (Strata's own), 'spdx-json' (SPDX 2.3),
    /// 'cyclonedx-json' (CycloneDX 1.5), or a Go template applied to each package
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Write the document to FILE instead of STDOUT
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Read every layer again instead of using the cached catalog
    #[arg(long)]
    pub no_cache: bool,
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

const DEFAULT: &str = "table {{.Name}}\t{{.Version}}\t{{.Type}}\t{{.Layer}}";

pub fn run(ctx: &Ctx, args: SbomArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let img = load_image(&store, &args.image)?;
    let bom = catalog(&store, &img, !args.no_cache)?;
    let mut buf = Vec::new();
    render(&mut buf, &bom, &args.format)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &buf).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().lock().write_all(&buf)?,
    }
    Ok(())
}

/// Resolve what the user typed to a stored image, the way the image commands do.
pub(crate) fn load_image(store: &Store, reference: &str) -> anyhow::Result<Image> {
    let images = store.images()?;
    let desc = image::resolve(store, &images, reference)?;
    load(store, reference, &desc)
}

/// The stored image `desc` as insight sees it (for an index, the manifest the image
/// commands pick). `name` is only for reports.
pub(crate) fn load(store: &Store, name: &str, desc: &Descriptor) -> anyhow::Result<Image> {
    let (manifest_desc, manifest) = image::load_manifest(store, desc)?;
    Ok(Image::from_manifest(
        store,
        name,
        manifest_desc.digest,
        &manifest,
    )?)
}

/// The catalog of `img`, from the cache when allowed and present.
pub(crate) fn catalog(store: &Store, img: &Image, use_cache: bool) -> anyhow::Result<Sbom> {
    let cache = cache_path(store, img);
    if use_cache && let Some(mut bom) = read_cache(&cache) {
        // The cache is per manifest; the name is whatever the user typed this time.
        bom.image.clone_from(&img.name);
        return Ok(bom);
    }
    let inv = Inventory::read(store, img, ReadOptions::sbom())
        .with_context(|| format!("reading the layers of {}", img.name))?;
    let bom = sbom::catalog(img, &inv);
    write_cache(&cache, &bom);
    prune_cache(store, &cache);
    Ok(bom)
}

/// Bumped whenever the catalogers change what they find, so old caches are not reused.
const CACHE_VERSION: u32 = 1;

fn cache_path(store: &Store, img: &Image) -> PathBuf {
    store.root().join("meta").join("insight").join(format!(
        "sbom-v{CACHE_VERSION}-{}.json",
        img.manifest_digest.hex()
    ))
}

fn read_cache(path: &std::path::Path) -> Option<Sbom> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(bom) => Some(bom),
        Err(e) => {
            tracing::debug!("ignoring unreadable SBOM cache {}: {e}", path.display());
            None
        }
    }
}

/// Best effort: a cache that cannot be written only costs the next run a layer read.
fn write_cache(path: &std::path::Path, bom: &Sbom) {
    let write = || -> std::io::Result<()> {
        let dir = path
            .parent()
            .ok_or_else(|| std::io::Error::other("cache path has no parent"))?;
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".sbom.{}.tmp", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec(bom)?)?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        tracing::debug!("cannot write SBOM cache {}: {e}", path.display());
    }
}

/// Drop cached catalogs of images whose manifest left the store (after `rmi` and `gc`) and
/// those of older cache versions, so the cache never outgrows the images it describes. Runs
/// only when a catalog was just computed, which is rare next to the cache hits.
fn prune_cache(store: &Store, keep: &std::path::Path) {
    let Some(dir) = keep.parent() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let current = format!("sbom-v{CACHE_VERSION}-");
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("sbom-") else {
            continue;
        };
        let stale = match name
            .strip_prefix(&current)
            .and_then(|h| h.strip_suffix(".json"))
        {
            Some(hex) => strata_oci::Digest::parse(&format!("sha256:{hex}"))
                .map(|d| !store.has_blob(&d))
                .unwrap_or(true),
            // Another cache version (`sbom-v0-…`): written by an older Strata.
            None => rest.starts_with('v'),
        };
        if stale && e.path() != keep {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The document creation time: `SOURCE_DATE_EPOCH` when set (reproducible documents), else now.
pub(crate) fn created_time() -> jiff::Timestamp {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or_else(jiff::Timestamp::now)
}

fn render(out: &mut dyn Write, bom: &Sbom, format: &str) -> anyhow::Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let doc = match format.trim() {
        "spdx-json" | "spdx" => Some(sbom::spdx::to_json(bom, created_time(), version)),
        "cyclonedx-json" | "cyclonedx" => {
            Some(sbom::cyclonedx::to_json(bom, created_time(), version))
        }
        "json" => Some(serde_json::to_value(bom)?),
        _ => None,
    };
    if let Some(doc) = doc {
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        out.write_all(b"\n")?;
        return Ok(());
    }
    let rows: Vec<Value> = bom
        .packages
        .iter()
        .map(|p| {
            json!({
                "Name": p.name,
                "Version": p.version,
                "Type": p.kind.as_str(),
                "Layer": p.layer,
                "LayerDigest": bom.layers.get(p.layer).map(|l| l.digest.as_str()).unwrap_or(""),
                "Purl": p.purl,
                "Location": p.locations.first().map(|l| format!("/{l}")).unwrap_or_default(),
                "Source": p.source_name.as_deref().unwrap_or(""),
                "License": p.license.as_deref().unwrap_or(""),
            })
        })
        .collect();
    let headers = json!({
        "Name": "NAME", "Version": "VERSION", "Type": "TYPE", "Layer": "LAYER",
        "LayerDigest": "LAYER DIGEST", "Purl": "PURL", "Location": "LOCATION",
        "Source": "SOURCE", "License": "LICENSE",
    });
    crate::format::write_rows(out, Some(format), DEFAULT, &headers, &rows)
        .context("rendering the SBOM")
}
