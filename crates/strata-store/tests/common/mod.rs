//! Helpers shared by the store's tests and its `store_worker` example: build small but
//! real images (tar layers, Docker-style configs, OCI manifests) straight into a store.
#![allow(dead_code)]

use std::io::Write;

use strata_oci::{Descriptor, Digest, Manifest, Parsed, Platform, media_type};
use strata_store::{Lease, Store};

/// An uncompressed layer tar holding `files` (path, content).
pub fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

/// What [`import`] stored.
pub struct Imported {
    pub manifest: Descriptor,
    pub config: Digest,
    pub layers: Vec<Descriptor>,
}

/// Layer compression for [`import`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Comp {
    None,
    Gzip,
    Zstd,
}

/// Store an image made of `layers` (each a list of files) and return its descriptors.
pub fn import(
    store: &Store,
    lease: &Lease,
    layers: &[Vec<(&str, Vec<u8>)>],
    comp: Comp,
    seed: &str,
) -> Imported {
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for files in layers {
        let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, d)| (*p, d.as_slice())).collect();
        let tar = layer_tar(&refs);
        diff_ids.push(Digest::sha256(&tar).to_string());
        let (blob, mt) = match comp {
            Comp::None => (tar, media_type::OCI_LAYER_TAR),
            Comp::Gzip => (gzip(&tar), media_type::OCI_LAYER_GZIP),
            Comp::Zstd => (zstd(&tar), media_type::OCI_LAYER_ZSTD),
        };
        descs.push(store.write_blob(lease, &blob, mt).unwrap());
    }
    let host = Platform::host();
    let config = serde_json::json!({
        "architecture": host.architecture,
        "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "config": {"Cmd": ["/bin/sh"], "Labels": {"seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-01-02T03:04:05Z", "created_by": "test"}],
    });
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_desc = store
        .write_blob(lease, &config_bytes, media_type::OCI_CONFIG)
        .unwrap();
    let manifest = Parsed::from_value(
        Manifest::new_oci(config_desc.clone(), descs.clone()),
        media_type::OCI_MANIFEST,
    );
    let manifest_desc = store
        .write_blob(lease, &manifest.bytes, media_type::OCI_MANIFEST)
        .unwrap();
    Imported {
        manifest: manifest_desc,
        config: config_desc.digest,
        layers: descs,
    }
}

/// A one-layer image whose content depends on `seed`, with a layer shared by all seeds.
pub fn simple(store: &Store, lease: &Lease, seed: &str, comp: Comp) -> Imported {
    import(
        store,
        lease,
        &[
            vec![("shared.txt", b"shared by every test image\n".to_vec())],
            vec![("hello.txt", format!("hello {seed}\n").into_bytes())],
        ],
        comp,
        seed,
    )
}

/// Normalisation used by tests: Docker's rules for the simple names tests use.
pub fn normalize(name: &str) -> Result<String, String> {
    let (repo, tag) = match name.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
        _ => (name.to_string(), "latest".to_string()),
    };
    let first = repo.split('/').next().unwrap_or_default();
    let has_host =
        repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let full = if has_host {
        repo
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    };
    Ok(format!("{full}:{tag}"))
}
