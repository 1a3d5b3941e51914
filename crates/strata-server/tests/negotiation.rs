//! `Accept` negotiation on manifest GET and HEAD: manifests are served byte for byte, so
//! a client that negotiates without listing the stored type gets the reference
//! registry's answers (404 for OCI documents, the linux/amd64 image for a Docker list
//! fetched by tag), and a client that does not negotiate gets the manifest.

mod common;

use common::*;
use strata_oci::Digest;
use strata_server::{Config, StorageConfig};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

async fn put_manifest(c: &reqwest::Client, base: &str, reference: &str, mt: &str, body: &[u8]) {
    let r = c
        .put(format!("{base}/v2/neg/app/manifests/{reference}"))
        .header("Content-Type", mt)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

/// A Docker schema 2 image for `arch`; returns its bytes.
async fn docker_image(c: &reqwest::Client, base: &str, arch: &str) -> Vec<u8> {
    let config = format!("{{\"architecture\":\"{arch}\",\"os\":\"linux\"}}");
    let layer = format!("layer for {arch}");
    let cd = push_blob(c, base, "neg/app", config.as_bytes()).await;
    let ld = push_blob(c, base, "neg/app", layer.as_bytes()).await;
    let m = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cd.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": ld.to_string(), "size": layer.len()}],
    }))
    .unwrap();
    put_manifest(
        c,
        base,
        &Digest::sha256(&m).to_string(),
        DOCKER_MANIFEST,
        &m,
    )
    .await;
    m
}

fn list(mt: &str, children: &[(&[u8], &str, &str)]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": mt,
        "manifests": children.iter().map(|(b, cmt, arch)| serde_json::json!({
            "mediaType": cmt, "digest": Digest::sha256(b).to_string(), "size": b.len(),
            "platform": {"architecture": arch, "os": "linux"},
        })).collect::<Vec<_>>(),
    }))
    .unwrap()
}

async fn get(
    c: &reqwest::Client,
    base: &str,
    reference: &str,
    accept: &[&str],
    head: bool,
) -> reqwest::Response {
    let url = format!("{base}/v2/neg/app/manifests/{reference}");
    let mut req = if head { c.head(url) } else { c.get(url) };
    for a in accept {
        req = req.header("Accept", *a);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_are_negotiated_like_the_reference_registry() {
    let srv = start(Config::new(StorageConfig::Memory)).await;
    let (c, base) = (client(), srv.base.clone());

    // An OCI image manifest.
    let oci = push_image(&c, &base, "neg/app", "oci", &[b"oci layer"]).await;
    for accept in [
        &[][..],
        &["*/*"],
        &["application/json"],
        &[OCI_MANIFEST],
        &[DOCKER_MANIFEST, OCI_MANIFEST],
        &[
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json;q=0.9",
        ],
        &[DOCKER_MANIFEST, "*/*;q=0.1"],
    ] {
        for head in [false, true] {
            let r = get(&c, &base, "oci", accept, head).await;
            assert_eq!(r.status(), 200, "{accept:?} head={head}");
            assert_eq!(r.headers()["content-type"], OCI_MANIFEST);
            assert_eq!(r.headers()["docker-content-digest"], oci.to_string());
        }
    }
    for accept in [
        &[DOCKER_MANIFEST][..],
        &[DOCKER_MANIFEST, DOCKER_LIST],
        &[OCI_INDEX],
        &["application/vnd.oci.image.manifest.v1+json;q=0"],
    ] {
        for reference in ["oci".to_string(), oci.to_string()] {
            let r = get(&c, &base, &reference, accept, false).await;
            assert_eq!(r.status(), 404, "{accept:?} {reference}");
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["errors"][0]["code"], "MANIFEST_UNKNOWN");
            assert_eq!(
                body["errors"][0]["message"],
                "OCI manifest found, but accept header does not support OCI manifests"
            );
            assert_eq!(get(&c, &base, &reference, accept, true).await.status(), 404);
        }
    }

    // Docker images, a Docker list over them, and an OCI index over the same.
    let amd64 = docker_image(&c, &base, "amd64").await;
    let arm64 = docker_image(&c, &base, "arm64").await;
    let children: [(&[u8], &str, &str); 2] = [
        (&arm64, DOCKER_MANIFEST, "arm64"),
        (&amd64, DOCKER_MANIFEST, "amd64"),
    ];
    let dlist = list(DOCKER_LIST, &children);
    put_manifest(&c, &base, "dlist", DOCKER_LIST, &dlist).await;
    let oindex = list(OCI_INDEX, &children);
    put_manifest(&c, &base, "oindex", OCI_INDEX, &oindex).await;

    // A Docker image manifest is served whatever the client lists.
    let amd64_digest = Digest::sha256(&amd64).to_string();
    let r = get(&c, &base, &amd64_digest, &[OCI_MANIFEST], false).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], DOCKER_MANIFEST);

    // A list-unaware client asking for a Docker list by tag gets the linux/amd64 image.
    for head in [false, true] {
        let r = get(&c, &base, "dlist", &[DOCKER_MANIFEST], head).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], DOCKER_MANIFEST);
        assert_eq!(r.headers()["docker-content-digest"], amd64_digest);
        assert_eq!(r.headers()["content-length"], amd64.len().to_string());
        if !head {
            assert_eq!(r.bytes().await.unwrap().to_vec(), amd64);
        }
    }
    // By digest the bytes must match the digest: the list itself.
    let dlist_digest = Digest::sha256(&dlist).to_string();
    let r = get(&c, &base, &dlist_digest, &[DOCKER_MANIFEST], false).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], DOCKER_LIST);
    assert_eq!(r.bytes().await.unwrap().to_vec(), dlist);
    // A list-aware client gets the list.
    let r = get(&c, &base, "dlist", &[DOCKER_MANIFEST, DOCKER_LIST], false).await;
    assert_eq!(r.headers()["docker-content-digest"], dlist_digest);

    // An OCI index is unknown to a client that only reads images.
    let r = get(&c, &base, "oindex", &[OCI_MANIFEST, DOCKER_MANIFEST], false).await;
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["message"],
        "OCI index found, but accept header does not support OCI indexes"
    );
    let r = get(&c, &base, "oindex", &[OCI_INDEX], false).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), oindex);

    // A Docker list without a linux/amd64 entry has nothing to offer such a client.
    let arm_only = list(DOCKER_LIST, &[(&arm64, DOCKER_MANIFEST, "arm64")]);
    put_manifest(&c, &base, "armonly", DOCKER_LIST, &arm_only).await;
    let r = get(&c, &base, "armonly", &[DOCKER_MANIFEST], false).await;
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "MANIFEST_UNKNOWN");
}
