//! Push and pull against an in-process `strata-server` on 127.0.0.1.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use strata_oci::reference::Reference;
use strata_oci::{Manifest, Platform};
use strata_registry::{Client, Event, LayerHandler, NoProgress, PullOptions};
use strata_store::Store;

fn reference(s: &str) -> Reference {
    Reference::parse_normalized(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_pull_round_trip_mount_and_up_to_date() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start_fs_server(&tmp.path().join("reg")).await;
    let src = Store::open(tmp.path().join("src")).unwrap();
    let image = make_image(
        &src,
        "local/app:1",
        &[noise(300_000, 1), noise(1000, 2), b"small".to_vec()],
    );
    let client = Client::new(options()).unwrap();
    let dest = reference(&format!("{}/test/app:1", server.host()));
    let events = Mutex::new(Vec::new());
    let record = |e: Event| events.lock().unwrap().push(e);
    let pushed = client.push(&src, &image, &dest, &record).await.unwrap();
    assert_eq!(pushed.digest, image.digest);
    assert_eq!(pushed.uploaded, 4);
    assert_eq!(
        pushed.docker_line(),
        format!("1: digest: {} size: {}", image.digest, image.size)
    );
    assert!(matches!(events.lock().unwrap()[0], Event::PushStart { .. }));
    // The pushed digest is recorded.
    let meta = src.images().unwrap().meta(&image.digest).cloned().unwrap();
    assert_eq!(
        meta.repo_digests,
        vec![format!("{}/test/app@{}", server.host(), image.digest)]
    );

    // Pushing again: everything exists.
    let again = client.push(&src, &image, &dest, &NoProgress).await.unwrap();
    assert_eq!((again.uploaded, again.existed), (0, 4));

    // Pushing to another repository of the same registry mounts every blob.
    let other = reference(&format!("{}/other/app:2", server.host()));
    let mounted = client
        .push(&src, &image, &other, &NoProgress)
        .await
        .unwrap();
    assert_eq!((mounted.uploaded, mounted.mounted), (0, 4));

    // Pull into an empty store.
    let dst = Store::open(tmp.path().join("dst")).unwrap();
    let pulled = client
        .pull(&dst, &dest, &PullOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(pulled.descriptor.digest, image.digest);
    assert_eq!(pulled.downloaded, 4);
    assert!(!pulled.up_to_date);
    let name = dest.to_string();
    assert_eq!(dst.resolve(&name).unwrap().unwrap().digest, image.digest);
    let manifest: Manifest =
        serde_json::from_slice(&src.read_blob(&image.digest).unwrap()).unwrap();
    for d in manifest
        .references()
        .map(|d| &d.digest)
        .chain([&image.digest])
    {
        assert_eq!(dst.read_blob(d).unwrap(), src.read_blob(d).unwrap());
    }
    assert!(dst.check().unwrap().problems.is_empty());
    let meta = dst.images().unwrap().meta(&image.digest).cloned().unwrap();
    assert_eq!(
        meta.repo_digests,
        vec![format!("{}/test/app@{}", server.host(), image.digest)]
    );

    // A second pull is a no-op.
    let t = std::time::Instant::now();
    let second = client
        .pull(&dst, &dest, &PullOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert!(second.up_to_date);
    assert_eq!(second.downloaded, 0);
    assert!(t.elapsed() < std::time::Duration::from_secs(1));

    // By digest: added untagged.
    let by_digest = reference(&format!("{}/test/app@{}", server.host(), image.digest));
    let dst2 = Store::open(tmp.path().join("dst2")).unwrap();
    client
        .pull(&dst2, &by_digest, &PullOptions::default(), &NoProgress)
        .await
        .unwrap();
    let images = dst2.images().unwrap();
    assert_eq!(images.entries().len(), 1);
    assert!(strata_store::entry_name(&images.entries()[0]).is_none());

    // Tags.
    let mut tags = client
        .list_tags(&reference(&format!("{}/test/app", server.host())))
        .await
        .unwrap();
    tags.sort();
    assert_eq!(tags, vec!["1"]);

    // Search falls back to the catalog.
    let found = client.search(&server.host(), "app", 25).await.unwrap();
    let names: Vec<_> = found.iter().map(|r| r.name.clone()).collect();
    assert_eq!(
        names,
        vec![
            format!("{}/other/app", server.host()),
            format!("{}/test/app", server.host())
        ]
    );
    let limited = client.search(&server.host(), "app", 1).await.unwrap();
    assert_eq!(limited.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_upload_of_large_blobs() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start_fs_server(&tmp.path().join("reg")).await;
    let src = Store::open(tmp.path().join("src")).unwrap();
    let image = make_image(&src, "local/big:1", &[noise(700_000, 7)]);
    let mut opts = options();
    opts.monolithic_limit = 1000;
    opts.chunk_size = 100_000;
    let client = Client::new(opts).unwrap();
    let dest = reference(&format!("{}/big:1", server.host()));
    let pushed = client.push(&src, &image, &dest, &NoProgress).await.unwrap();
    assert_eq!(pushed.digest, image.digest);
    let dst = Store::open(tmp.path().join("dst")).unwrap();
    let pulled = Client::new(options())
        .unwrap()
        .pull(&dst, &dest, &PullOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(pulled.descriptor.digest, image.digest);
}

struct Recorder(Mutex<Vec<usize>>);

impl LayerHandler for Recorder {
    fn layer_ready(
        &self,
        store: &Store,
        manifest: &Manifest,
        index: usize,
    ) -> Result<(), strata_registry::HandlerError> {
        // Every layer up to this one is in the store when called.
        for l in &manifest.layers[..=index] {
            assert!(store.has_blob(&l.digest));
        }
        self.0.lock().unwrap().push(index);
        Ok(())
    }
}

/// Push a six-layer image and pull it with `handler`.
async fn pull_six_layers(handler: Arc<dyn LayerHandler>) {
    let tmp = tempfile::tempdir().unwrap();
    let server = start_fs_server(&tmp.path().join("reg")).await;
    let src = Store::open(tmp.path().join("src")).unwrap();
    let layers: Vec<Vec<u8>> = (0..6).map(|i| noise(50_000 * (6 - i), i as u64)).collect();
    let image = make_image(&src, "local/l:1", &layers);
    let client = Client::new(options()).unwrap();
    let dest = reference(&format!("{}/l:1", server.host()));
    client.push(&src, &image, &dest, &NoProgress).await.unwrap();
    let dst = Store::open(tmp.path().join("dst")).unwrap();
    let opts = PullOptions {
        layer_handler: Some(handler),
        ..Default::default()
    };
    client.pull(&dst, &dest, &opts, &NoProgress).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_handler_sees_layers_in_order() {
    let rec = Arc::new(Recorder(Mutex::new(Vec::new())));
    pull_six_layers(rec.clone()).await;
    assert_eq!(*rec.0.lock().unwrap(), vec![0, 1, 2, 3, 4, 5]);
}

/// A handler that takes layers as they come: each one is in the store when it is handed on.
struct Concurrent(Mutex<Vec<usize>>);

impl LayerHandler for Concurrent {
    fn concurrent(&self) -> bool {
        true
    }

    fn layer_ready(
        &self,
        store: &Store,
        manifest: &Manifest,
        index: usize,
    ) -> Result<(), strata_registry::HandlerError> {
        assert!(store.has_blob(&manifest.layers[index].digest));
        self.0.lock().unwrap().push(index);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_layer_handler_sees_every_layer_once() {
    let rec = Arc::new(Concurrent(Mutex::new(Vec::new())));
    pull_six_layers(rec.clone()).await;
    let mut seen = rec.0.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, vec![0, 1, 2, 3, 4, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_platform_mismatch_and_unknown_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start_fs_server(&tmp.path().join("reg")).await;
    let src = Store::open(tmp.path().join("src")).unwrap();
    let other = Platform::parse("linux/s390x").unwrap();
    let image = make_image_for(&src, "local/p:1", &[b"x".to_vec()], &other);
    let client = Client::new(options()).unwrap();
    let dest = reference(&format!("{}/p:1", server.host()));
    client.push(&src, &image, &dest, &NoProgress).await.unwrap();
    let dst = Store::open(tmp.path().join("dst")).unwrap();
    let opts = PullOptions {
        platform: Platform::parse("linux/arm64").unwrap(),
        platform_explicit: true,
        layer_handler: None,
    };
    let err = client
        .pull(&dst, &dest, &opts, &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not match the specified platform: wanted linux/arm64"),
        "{err}"
    );
    let missing = reference(&format!("{}/p:nope", server.host()));
    let err = client
        .pull(&dst, &missing, &PullOptions::default(), &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("manifest for {}/p:nope not found", server.host())),
        "{err}"
    );
}

#[test]
fn resolver_pulls_once_then_uses_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(start_fs_server(&tmp.path().join("reg")));
    let src = Store::open(tmp.path().join("src")).unwrap();
    let image = make_image(&src, "local/base:1", &[b"base".to_vec()]);
    let dest = reference(&format!("{}/base:1", server.host()));
    let client = Client::new(options()).unwrap();
    rt.block_on(client.push(&src, &image, &dest, &NoProgress))
        .unwrap();
    let dst = Store::open(tmp.path().join("dst")).unwrap();
    let host = Platform::host();
    let d = strata_registry::pull_image(&dst, &dest, &host, &options()).unwrap();
    assert_eq!(d.digest, image.digest);
    // With the server gone, the resolver answers from the store.
    drop(server);
    drop(rt);
    let d2 = strata_registry::pull_image(&dst, &dest, &host, &options()).unwrap();
    assert_eq!(d2, d);
}
