//! Measures the store's read path on 100 images: what `strata images` (one `images()`),
//! `inspect` (resolve + manifest + config) and `history` (resolve + config) cost.
//!
//! `cargo run --release -p strata-store --example read_path [ROOT]` — without ROOT a
//! temporary store is filled with 100 small images first.

use std::time::{Duration, Instant};

use strata_oci::{Descriptor, Digest, Manifest, Parsed, media_type};
use strata_store::Store;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn fill(store: &Store) -> Result<(), Box<dyn std::error::Error>> {
    let lease = store.lease()?;
    for i in 0..100 {
        let layer = store.write_blob(
            &lease,
            format!("layer {i}").as_bytes(),
            media_type::OCI_LAYER_TAR,
        )?;
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{}"]}},"history":[{{"created_by":"x"}}]}}"#,
            layer.digest
        );
        let config = store.write_blob(&lease, config.as_bytes(), media_type::OCI_CONFIG)?;
        let manifest = Parsed::from_value(
            Manifest::new_oci(config, vec![layer]),
            media_type::OCI_MANIFEST,
        );
        let desc = store.write_blob(&lease, &manifest.bytes, media_type::OCI_MANIFEST)?;
        store.update(|t| {
            t.tag(&format!("docker.io/library/image{i}:latest"), &desc)
                .map(|_| ())
        })?;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut tmp = None;
    let store = match std::env::args().nth(1) {
        Some(root) => Store::open(root)?,
        None => {
            let dir = std::env::temp_dir().join(format!("strata-read-path-{}", std::process::id()));
            let s = Store::open(&dir)?;
            tmp = Some(dir);
            fill(&s)?;
            s
        }
    };
    let runs = 200;
    let mut images = Vec::new();
    let mut inspect = Vec::new();
    let mut history = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let s = Store::open(store.root())?;
        let list = s.images()?;
        let mut n = 0;
        for d in list.digests() {
            n += list
                .meta(d)
                .and_then(|m| m.summary.as_ref())
                .map_or(0, |s| s.layers);
        }
        std::hint::black_box(n);
        images.push(t.elapsed());

        let t = Instant::now();
        let s = Store::open(store.root())?;
        let d: Descriptor = s
            .resolve("docker.io/library/image50:latest")?
            .ok_or("missing")?;
        let doc = s.read_document(&d)?;
        if let strata_oci::Document::Manifest(m) = doc.value {
            let cfg = s.read_blob(&m.config.digest)?;
            std::hint::black_box(Digest::sha256(&cfg));
        }
        inspect.push(t.elapsed());

        let t = Instant::now();
        let s = Store::open(store.root())?;
        let list = s.images()?;
        let d = list
            .resolve("docker.io/library/image50:latest")
            .ok_or("missing")?;
        let cfg = list
            .meta(&d.digest)
            .and_then(|m| m.summary.as_ref())
            .ok_or("no summary")?;
        std::hint::black_box(s.read_blob(&cfg.config.digest)?);
        history.push(t.elapsed());
    }
    println!("images  (100 images): median {:?}", median(images));
    println!("inspect (one image):  median {:?}", median(inspect));
    println!("history (one image):  median {:?}", median(history));
    if let Some(dir) = tmp {
        std::fs::remove_dir_all(dir)?;
    }
    Ok(())
}
