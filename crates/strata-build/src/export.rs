//! Exporter: the final stage's config and layers → an OCI image in the store, tagged.
//!
//! The config gets `rootfs.diff_ids` from the layers and a creation time (now, or
//! `SOURCE_DATE_EPOCH`) on itself and on every history entry the build added, as BuildKit's
//! exporter does. Config and manifest are serialised once and stored as written; the image
//! ID is the config digest. Names are normalised Docker-style (`app` →
//! `docker.io/library/app:latest`); without a name the image is kept as a dangling entry.

use strata_oci::media_type;
use strata_oci::{Descriptor, ImageConfig, Manifest, Parsed, Reference};
use strata_store::{Lease, Store};

use crate::cache::LayerRecord;
use crate::solver::{BuildOptions, BuildOutput};
use crate::{BuildError, Result};

/// A built layer in the compression the image ships: layers of intermediate stages are
/// stored uncompressed (and cached that way), so one that ends up in the image, or one
/// cached under another `--compression`, is compressed here once; the result is remembered
/// in `meta/build-compressed/` by diffID.
fn shipped(
    store: &Store,
    lease: &Lease,
    layer: &LayerRecord,
    how: &strata_layer::CompressOptions,
) -> Result<LayerRecord> {
    let want = strata_oci::media_type::oci_layer(how.compression);
    if layer.media_type == want {
        return Ok(layer.clone());
    }
    let dir = store.root().join("meta/build-compressed");
    let memo = dir.join(format!(
        "{}-{}.json",
        layer.diff_id.hex(),
        want.rsplit('.').next().unwrap_or("tar")
    ));
    if let Some(rec) = std::fs::read(&memo)
        .ok()
        .and_then(|b| serde_json::from_slice::<LayerRecord>(&b).ok())
        .filter(|r| store.has_blob(&r.digest))
    {
        store.lease_existing(lease, &rec.digest)?;
        return Ok(rec);
    }
    let (_, mut tar) = strata_layer::decompress(store.open_blob(&layer.digest)?)?;
    let sink = store.writer(lease)?;
    let mut w = strata_layer::LayerWriter::new_digesting(sink, how).map_err(crate::io_err(
        "compress layer",
        store.blob_path(&layer.digest),
    ))?;
    std::io::copy(&mut tar, &mut w).map_err(crate::io_err(
        "compress layer",
        store.blob_path(&layer.digest),
    ))?;
    let (info, sink) = w.finish_with(|s| s.digest()).map_err(crate::io_err(
        "compress layer",
        store.blob_path(&layer.digest),
    ))?;
    sink.commit(Some(&info.digest), Some(info.size))?;
    let rec = LayerRecord {
        diff_id: info.diff_id,
        digest: info.digest,
        size: info.size,
        media_type: info.media_type.to_string(),
    };
    // Keep the compressed blob alive as long as the memo names it.
    store.set_root(
        &format!("build-compressed-{}", rec.diff_id.hex()),
        std::slice::from_ref(&rec.digest),
    )?;
    std::fs::create_dir_all(&dir).map_err(crate::io_err("create directory", &dir))?;
    write_memo(&dir, &memo, &rec);
    Ok(rec)
}

/// Best effort: write `value` as JSON to `path` (in `dir`) through a temporary file and a
/// rename, so a reader sees the whole memo or none; a failure only costs a later rebuild.
fn write_memo(dir: &std::path::Path, path: &std::path::Path, value: &impl serde::Serialize) {
    let tmp = dir.join(format!(".tmp-{:016x}", rand::random::<u64>()));
    let written = serde_json::to_vec(value)
        .ok()
        .is_some_and(|bytes| std::fs::write(&tmp, bytes).is_ok())
        && std::fs::rename(&tmp, path).is_ok();
    if !written {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Normalise a `-t` value the way Docker does.
pub fn normalize_tag(name: &str) -> Result<String> {
    let r = Reference::parse_normalized(name).map_err(|e| BuildError::Tag {
        name: name.to_string(),
        reason: e.to_string(),
    })?;
    if r.digest_str().is_some() {
        return Err(BuildError::Tag {
            name: name.to_string(),
            reason: "a tag cannot contain a digest".into(),
        });
    }
    Ok(r.tag_name_only().to_string())
}

pub(crate) fn export(
    store: &Store,
    lease: &Lease,
    opts: &BuildOptions,
    mut config: ImageConfig,
    layers: &[LayerRecord],
    base_layers: usize,
    base_history: usize,
) -> Result<BuildOutput> {
    let layers: Vec<LayerRecord> = layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i < base_layers {
                Ok(l.clone())
            } else {
                shipped(store, lease, l, &opts.compression)
            }
        })
        .collect::<Result<_>>()?;
    let tags: Vec<String> = opts
        .tags
        .iter()
        .map(|t| normalize_tag(t))
        .collect::<Result<_>>()?;
    // The same config (before times) over the same layers was exported before: reuse that
    // image, as BuildKit does for a fully cached build (same image ID, no store writes).
    let export_key = crate::cache::KeyBuilder::new("strata.export.v1")
        .field(
            "config",
            &String::from_utf8_lossy(&serde_json::to_vec(&config).unwrap_or_default()),
        )
        .list(
            "layer",
            &layers
                .iter()
                .map(|l| l.digest.to_string())
                .collect::<Vec<_>>(),
        )
        .field(
            "epoch",
            &opts
                .source_date_epoch
                .map(|e| e.to_string())
                .unwrap_or_default(),
        )
        .finish();
    let memo_dir = store.root().join("meta/build-export");
    let memo_path = memo_dir.join(format!("{}.json", export_key.hex()));
    if let Some(prev) = std::fs::read(&memo_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Exported>(&b).ok())
        .filter(|p| store.has_blob(&p.manifest.digest) && store.has_blob(&p.config))
    {
        store.lease_existing(lease, &prev.manifest.digest)?;
        let mut tagged = !tags.is_empty();
        for t in &tags {
            tagged &= store
                .resolve(t)?
                .is_some_and(|d| d.digest == prev.manifest.digest);
        }
        if !tagged {
            store.update(|txn| -> Result<()> {
                if tags.is_empty() {
                    txn.add_dangling(&prev.manifest)?;
                }
                for t in &tags {
                    txn.tag(t, &prev.manifest)?;
                }
                Ok(())
            })?;
        }
        return Ok(BuildOutput {
            manifest: prev.manifest,
            image_id: prev.config,
            tags,
            prepared_ahead: 0,
            chunks_prepared_ahead: 0,
        });
    }
    let created = match opts.source_date_epoch {
        Some(t) => jiff::Timestamp::from_second(t)
            .map(|ts| ts.to_string())
            .unwrap_or_else(|_| jiff::Timestamp::UNIX_EPOCH.to_string()),
        None => jiff::Timestamp::now().to_string(),
    };
    for h in config.history.iter_mut().skip(base_history) {
        if h.created.is_none() {
            h.created = Some(created.clone());
        }
    }
    config.created = Some(created);
    config.rootfs.kind = "layers".into();
    config.rootfs.diff_ids = layers.iter().map(|l| l.diff_id.clone()).collect();
    let layers = &layers;
    let config_doc = Parsed::from_value(config, media_type::OCI_CONFIG);
    let config_desc = store.write_blob(lease, &config_doc.bytes, media_type::OCI_CONFIG)?;
    let layer_descs: Vec<Descriptor> = layers
        .iter()
        .map(|l| Descriptor::new(l.media_type.clone(), l.digest.clone(), l.size as i64))
        .collect();
    let manifest = Parsed::from_value(
        Manifest::new_oci(config_desc.clone(), layer_descs),
        media_type::OCI_MANIFEST,
    );
    let manifest_desc = store.write_blob(lease, &manifest.bytes, media_type::OCI_MANIFEST)?;
    store.update(|txn| -> Result<()> {
        if tags.is_empty() {
            txn.add_dangling(&manifest_desc)?;
        }
        for t in &tags {
            txn.tag(t, &manifest_desc)?;
        }
        Ok(())
    })?;
    let _ = std::fs::create_dir_all(&memo_dir);
    let rec = Exported {
        manifest: manifest_desc.clone(),
        config: config_desc.digest.clone(),
    };
    write_memo(&memo_dir, &memo_path, &rec);
    Ok(BuildOutput {
        manifest: manifest_desc,
        image_id: config_desc.digest,
        tags,
        prepared_ahead: 0,
        chunks_prepared_ahead: 0,
    })
}

/// What an export produced, remembered by its inputs.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Exported {
    manifest: Descriptor,
    config: strata_oci::Digest,
}

/// `--output type=local,dest=DIR`: the image's filesystem, its layers applied in order
/// (whiteouts delete), into `dest` (created when missing).
pub fn export_local(store: &Store, manifest: &Descriptor, dest: &std::path::Path) -> Result<()> {
    let doc = store.read_document(manifest)?;
    let strata_oci::Document::Manifest(m) = doc.value else {
        return Err(BuildError::Image {
            reference: manifest.digest.to_string(),
            reason: "not an image manifest".into(),
        });
    };
    std::fs::create_dir_all(dest).map_err(crate::io_err("create directory", dest))?;
    let opts = strata_layer::ApplyOptions::for_current_user();
    for l in &m.layers {
        let blob = store.open_blob(&l.digest)?;
        strata_layer::apply(std::io::BufReader::new(blob), dest, &opts)?;
    }
    Ok(())
}
