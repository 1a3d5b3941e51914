//! Shared helpers: test images built straight into a store, and an in-process
//! `strata-server` on 127.0.0.1.

#![allow(dead_code)]

pub mod distribution;

use std::io::Write;

use strata_oci::{Descriptor, Digest, Manifest, Platform, media_type};
use strata_store::Store;
use tokio::sync::oneshot;

/// A gzip layer holding `files` (path, content); returns (blob, diffID).
pub fn layer(files: &[(&str, &[u8])]) -> (Vec<u8>, Digest) {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, *content).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let diff_id = Digest::sha256(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    (gz.finish().unwrap(), diff_id)
}

/// Build an image from `layers` into `store`, tag it `name`, return its manifest descriptor.
pub fn make_image(store: &Store, name: &str, layers: &[Vec<u8>]) -> Descriptor {
    make_image_for(store, name, layers, &Platform::host())
}

pub fn make_image_for(
    store: &Store,
    name: &str,
    layers: &[Vec<u8>],
    platform: &Platform,
) -> Descriptor {
    let lease = store.lease().unwrap();
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for (i, content) in layers.iter().enumerate() {
        let (blob, diff_id) = layer(&[(&format!("file{i}"), content.as_slice())]);
        descs.push(
            store
                .write_blob(&lease, &blob, media_type::OCI_LAYER_GZIP)
                .unwrap(),
        );
        diff_ids.push(diff_id.to_string());
    }
    let config = serde_json::json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [],
    });
    let config = serde_json::to_vec(&config).unwrap();
    let config_desc = store
        .write_blob(&lease, &config, media_type::OCI_CONFIG)
        .unwrap();
    let manifest = Manifest::new_oci(config_desc, descs);
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let desc = store
        .write_blob(&lease, &bytes, media_type::OCI_MANIFEST)
        .unwrap();
    store
        .update(|txn| txn.tag(name, &desc).map(|_| ()))
        .unwrap();
    desc
}

/// Random-ish incompressible bytes of `len`.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A running in-process strata-server, stopped on drop.
pub struct Running {
    pub addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Running {
    /// `127.0.0.1:PORT`, the registry domain for references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub async fn start_server(mut config: strata_server::Config) -> Running {
    config.addr = "127.0.0.1:0".parse().unwrap();
    let server = strata_server::Server::bind(config).await.unwrap();
    let addr = server.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Running {
        addr,
        stop: Some(tx),
    }
}

pub async fn start_fs_server(dir: &std::path::Path) -> Running {
    start_server(strata_server::Config::new(
        strata_server::StorageConfig::Fs {
            root: dir.to_path_buf(),
        },
    ))
    .await
}

/// Client options for tests: no credentials file, quick retries.
pub fn options() -> strata_registry::ClientOptions {
    strata_registry::ClientOptions {
        docker_config: None,
        certs_dirs: Vec::new(),
        backoff: std::time::Duration::from_millis(10),
        max_backoff: std::time::Duration::from_millis(50),
        retries: 3,
        ..Default::default()
    }
}

/// Serve `app` (a test's own hand-written registry) on a free 127.0.0.1 port until the
/// returned sender is dropped or fired; returns `host:port`.
pub async fn serve_router(app: axum::Router) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    (addr.to_string(), tx)
}
