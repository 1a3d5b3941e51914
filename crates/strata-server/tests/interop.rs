//! Interop with skopeo (when installed): copy an OCI layout into the registry and back,
//! anonymously and through the token flow; digests must survive unchanged.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use strata_oci::Digest;
use strata_server::{AuthConfig, Config, StorageConfig, TokenConfig};

fn skopeo() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin/skopeo");
    if p.exists() {
        return Some(p);
    }
    Command::new("skopeo")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| PathBuf::from("skopeo"))
}

fn write_blob(layout: &Path, data: &[u8]) -> Digest {
    let d = Digest::sha256(data);
    let p = layout.join("blobs/sha256").join(d.hex());
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
    d
}

/// An OCI layout with one image (gzip layer, config, manifest) tagged `v1`; returns the
/// manifest digest.
fn make_layout(layout: &Path) -> Digest {
    let mut tar = tar::Builder::new(Vec::new());
    let content = b"hello from strata\n";
    let mut h = tar::Header::new_gnu();
    h.set_path("hello.txt").unwrap();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    tar.append(&h, &content[..]).unwrap();
    let raw = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    let layer = gz.finish().unwrap();
    let ld = write_blob(layout, &layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": [Digest::sha256(&raw).to_string()]},
    }))
    .unwrap();
    let cd = write_blob(layout, &config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld.to_string(), "size": layer.len()}],
    }))
    .unwrap();
    let md = write_blob(layout, &manifest);
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md.to_string(), "size": manifest.len(),
                           "annotations": {"org.opencontainers.image.ref.name": "v1"}}],
        }))
        .unwrap(),
    )
    .unwrap();
    md
}

fn layout_digest(layout: &Path) -> String {
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    idx["manifests"][0]["digest"].as_str().unwrap().to_string()
}

async fn run_skopeo(bin: PathBuf, args: Vec<String>) {
    let out = tokio::task::spawn_blocking(move || Command::new(bin).args(&args).output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn round_trip(bin: PathBuf, addr: std::net::SocketAddr, creds: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let back = dir.path().join("back");
    let md = make_layout(&src);
    let image = format!("docker://{addr}/interop/hello:v1");
    let mut push = vec![
        "--insecure-policy".to_string(),
        "copy".into(),
        "--dest-tls-verify=false".into(),
    ];
    if let Some(c) = creds {
        push.extend(["--dest-creds".into(), c.into()]);
    }
    push.extend([format!("oci:{}:v1", src.display()), image.clone()]);
    run_skopeo(bin.clone(), push).await;
    let mut pull = vec![
        "--insecure-policy".to_string(),
        "copy".into(),
        "--src-tls-verify=false".into(),
    ];
    if let Some(c) = creds {
        pull.extend(["--src-creds".into(), c.into()]);
    }
    pull.extend([image, format!("oci:{}:v1", back.display())]);
    run_skopeo(bin, pull).await;
    assert_eq!(layout_digest(&back), md.to_string());
    // Every blob came back byte for byte.
    for entry in std::fs::read_dir(src.join("blobs/sha256")).unwrap() {
        let e = entry.unwrap();
        let other = back.join("blobs/sha256").join(e.file_name());
        assert_eq!(
            std::fs::read(e.path()).unwrap(),
            std::fs::read(other).unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_copies_in_and_out_unchanged() {
    let Some(bin) = skopeo() else {
        eprintln!("skipping the skopeo interop test: skopeo is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let srv = start(fs_config(dir.path())).await;
    round_trip(bin, srv.addr, None).await;
    // The registry holds the same manifest digest skopeo pushed.
    let tags: serde_json::Value = client()
        .get(format!("{}/v2/interop/hello/tags/list", srv.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tags["tags"], serde_json::json!(["v1"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_through_the_token_flow() {
    let Some(bin) = skopeo() else {
        eprintln!("skipping the skopeo token test: skopeo is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    std::fs::write(
        &htpasswd,
        format!("ci:{}\n", bcrypt::hash("secret", 4).unwrap()),
    )
    .unwrap();
    let mut cfg = Config::new(StorageConfig::Memory);
    cfg.auth = AuthConfig {
        htpasswd: Some(htpasswd),
        acl: None,
        token: Some(TokenConfig::default()),
    };
    let srv = start(cfg).await;
    round_trip(bin, srv.addr, Some("ci:secret")).await;
}
