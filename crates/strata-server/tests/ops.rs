//! Operations: gc, the web page, metrics and health, graceful shutdown, TLS, limits,
//! upload expiry, concurrent uploads of one blob.

mod common;

use std::time::Duration;

use common::*;
use strata_oci::Digest;
use strata_server::{Config, StorageConfig, TlsConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_sweeps_unreferenced_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(fs_config(dir.path())).await;
    let c = client();
    let keep = push_image(&c, &srv.base, "gc/app", "keep", &[b"kept layer"]).await;
    let drop = push_image(&c, &srv.base, "gc/app", "drop", &[b"dropped layer"]).await;
    let orphan = push_blob(&c, &srv.base, "gc/app", b"never referenced").await;
    let r = c
        .delete(format!("{}/v2/gc/app/manifests/{drop}", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);

    let mut cfg = fs_config(dir.path());
    // Within the grace period nothing is collected.
    let report = strata_server::gc(&cfg, false).await.unwrap();
    assert!(report.blobs_deleted.is_empty());
    assert_eq!(report.blobs_kept_young, 4); // manifest, config, layer, orphan
    cfg.gc.grace_period_secs = 0;
    // Blob mtimes have one-second resolution on some filesystems.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let dry = strata_server::gc(&cfg, true).await.unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.blobs_deleted.len(), 4);
    assert!(dry.blobs_deleted.contains(&orphan));
    assert!(dry.blobs_deleted.contains(&drop));
    // Dry run deleted nothing.
    assert_eq!(
        c.head(format!("{}/v2/gc/app/blobs/{orphan}", srv.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let report = strata_server::gc(&cfg, false).await.unwrap();
    assert_eq!(report.blobs_deleted, dry.blobs_deleted);
    assert!(report.bytes_freed > 0);
    assert_eq!(report.links_removed, 3); // orphan, config and layer of `drop`
    assert_eq!(
        c.head(format!("{}/v2/gc/app/blobs/{orphan}", srv.base))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // The kept image is intact.
    let r = c
        .get(format!("{}/v2/gc/app/manifests/keep", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["docker-content-digest"], keep.to_string());
    let d = Digest::sha256(b"kept layer");
    let r = c
        .get(format!("{}/v2/gc/app/blobs/{d}", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), b"kept layer".to_vec());
    // A second run finds nothing.
    assert!(
        strata_server::gc(&cfg, false)
            .await
            .unwrap()
            .blobs_deleted
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_page_lists_repositories_tags_and_layers() {
    let srv = start(Config::new(StorageConfig::Memory)).await;
    let c = client();
    push_image(&c, &srv.base, "web/app", "v1", &[b"first layer", b"second"]).await;
    let home = c.get(format!("{}/", srv.base)).send().await.unwrap();
    assert_eq!(home.headers()["content-type"], "text/html; charset=utf-8");
    let home = home.text().await.unwrap();
    assert!(
        home.contains("<a href=\"/ui/web/app\">web/app</a>"),
        "{home}"
    );
    let tags = c
        .get(format!("{}/ui/web/app", srv.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(tags.contains("href=\"/ui/web/app/v1\""), "{tags}");
    let image = c
        .get(format!("{}/ui/web/app/v1", srv.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(image.contains(Digest::sha256(b"first layer").as_str()));
    assert!(image.contains(Digest::sha256(b"second").as_str()));
    assert!(!image.contains("<script"));
    let r = c
        .get(format!("{}/ui/nope/x", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics() {
    let srv = start(Config::new(StorageConfig::Memory)).await;
    let c = client();
    let r = c.get(format!("{}/healthz", srv.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    push_blob(&c, &srv.base, "m/x", b"counted").await;
    let text = c
        .get(format!("{}/metrics", srv.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "strata_http_requests_total{method=\"POST\",route=\"upload\",status=\"201\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("strata_blob_bytes_received_total 7"),
        "{text}"
    );
    assert!(text.contains("strata_http_request_duration_seconds_count{route=\"upload\"} 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(fs_config(dir.path())).await;
    let c = client();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let d = Digest::sha256(&data);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let url = format!("{}/v2/shut/down/blobs/uploads/?digest={d}", srv.base);
    let upload = tokio::spawn({
        let c = c.clone();
        async move { c.post(url).body(body).send().await.unwrap().status() }
    });
    tx.send(Ok(data[..100_000].to_vec())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Ask the server to stop while the upload is half done.
    let stopping = tokio::spawn(srv.stop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    tx.send(Ok(data[100_000..].to_vec())).await.unwrap();
    drop(tx);
    assert_eq!(upload.await.unwrap(), 201);
    stopping.await.unwrap().unwrap();
    // The blob made it to disk, verified.
    let srv = start(fs_config(dir.path())).await;
    let r = c
        .get(format!("{}/v2/shut/down/blobs/{d}", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_rustls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if !matches!(ok, Ok(s) if s.success()) {
        eprintln!("skipping the TLS test: openssl is not available");
        return;
    }
    let mut cfg = Config::new(StorageConfig::Memory);
    cfg.tls = Some(TlsConfig { cert, key });
    let srv = start(cfg).await;
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["-sk", "-o", "/dev/null", "-w", "%{http_code} %{scheme}"])
            .arg(format!("https://{}/v2/", srv.addr))
            .output()
    })
    .await
    .unwrap();
    match out {
        Ok(o) => assert_eq!(String::from_utf8_lossy(&o.stdout), "200 HTTPS"),
        Err(e) => eprintln!("skipping the TLS request: curl is not available ({e})"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_tls_material_is_refused_at_bind() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "not a certificate").unwrap();
    let mut cfg = Config::new(StorageConfig::Memory);
    cfg.tls = Some(TlsConfig {
        cert: cert.clone(),
        key: cert,
    });
    let err = strata_server::Server::bind(cfg).await.err().unwrap();
    assert!(err.to_string().contains("cert.pem"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_size_limit() {
    let mut cfg = Config::new(StorageConfig::Memory);
    cfg.limits.max_manifest_bytes = 100;
    let srv = start(cfg).await;
    let c = client();
    let config = b"{}".to_vec();
    push_blob(&c, &srv.base, "lim/x", &config).await;
    let m = manifest(&config, &[]);
    assert!(m.len() > 100);
    let r = c
        .put(format!("{}/v2/lim/x/manifests/v1", srv.base))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(m)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_upload_sessions_expire() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fs_config(dir.path());
    cfg.limits.upload_expiry_secs = 1;
    let srv = start(cfg).await;
    let c = client();
    let r = c
        .post(format!("{}/v2/exp/x/blobs/uploads/", srv.base))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    c.patch(format!("{}{loc}", srv.base))
        .body(b"half an upload".to_vec())
        .send()
        .await
        .unwrap();
    let mut gone = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if c.get(format!("{}{loc}", srv.base))
            .send()
            .await
            .unwrap()
            .status()
            == 404
        {
            gone = true;
            break;
        }
    }
    assert!(gone, "session was not expired");
    assert_eq!(
        std::fs::read_dir(dir.path().join("uploads"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_of_the_same_blob() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(fs_config(dir.path())).await;
    let c = client();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 256) as u8).collect();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (c, base, data) = (c.clone(), srv.base.clone(), data.clone());
        tasks.push(tokio::spawn(async move {
            push_blob(&c, &base, &format!("same/r{}", i % 2), &data).await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let d = Digest::sha256(&data);
    for repo in ["same/r0", "same/r1"] {
        let r = c
            .get(format!("{}/v2/{repo}/blobs/{d}", srv.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.bytes().await.unwrap().to_vec(), data);
    }
    // No temporary files or sessions were left behind.
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("uploads"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_mid_upload_leaves_nothing_visible() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(fs_config(dir.path())).await;
    let c = client();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 241) as u8).collect();
    let d = Digest::sha256(&data);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let url = format!("{}/v2/cut/off/blobs/uploads/?digest={d}", srv.base);
    let upload = tokio::spawn({
        let c = c.clone();
        async move { c.post(url).body(body).send().await }
    });
    tx.send(Ok(data[..50_000].to_vec())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The client dies mid-body.
    tx.send(Err(std::io::Error::other("client crashed")))
        .await
        .unwrap();
    drop(tx);
    let _ = upload.await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = c
        .head(format!("{}/v2/cut/off/blobs/{d}", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The monolithic session was cleaned up with the failed request.
    assert_eq!(
        std::fs::read_dir(dir.path().join("uploads"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("blobs")).unwrap().count(),
        0
    );
}
