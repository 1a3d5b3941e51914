//! The distribution API, end to end over HTTP, against every storage backend: the
//! filesystem, the in-memory object store, and S3 (moto) when `moto_server` exists.

mod common;

use std::sync::Arc;

use common::*;
use strata_oci::{Algorithm, Digest};
use strata_server::storage::ObjectStorage;
use strata_server::{Config, StorageConfig};

async fn error_code(r: reqwest::Response) -> String {
    let v: serde_json::Value = r.json().await.unwrap();
    v["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Everything the spec asks, in one pass over a fresh registry at `base`.
async fn api_suite(base: &str) {
    let c = client();
    let repo = "conformance/repo1";
    let repo2 = "conformance/repo2";

    // Ping.
    let r = c.get(format!("{base}/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );

    // Empty repository: tags 404 NAME_UNKNOWN, referrers 200 empty.
    let r = c
        .get(format!("{base}/v2/{repo}/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");
    let subject = Digest::sha256(b"nothing");
    let r = c
        .get(format!("{base}/v2/{repo}/referrers/{subject}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.oci.image.index.v1+json"
    );

    // Missing blob.
    let r = c
        .get(format!("{base}/v2/{repo}/blobs/{subject}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");

    // Monolithic POST.
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let cd = push_blob(&c, base, repo, &config).await;
    let r = c
        .head(format!("{base}/v2/{repo}/blobs/{cd}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], config.len().to_string());
    assert_eq!(r.headers()["docker-content-digest"], cd.to_string());
    let r = c
        .get(format!("{base}/v2/{repo}/blobs/{cd}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), config);

    // POST then PUT with body.
    let layer: Vec<u8> = (0..2048u32).map(|i| (i % 251) as u8).collect();
    let ld = Digest::sha256(&layer);
    let r = c
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(r.headers().contains_key("docker-upload-uuid"));
    let sep = if loc.contains('?') { '&' } else { '?' };
    let r = c
        .put(format!("{base}{loc}{sep}digest={ld}"))
        .header("Content-Type", "application/octet-stream")
        .body(layer.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["docker-content-digest"], ld.to_string());
    let blob_loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = c.get(format!("{base}{blob_loc}")).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), layer);

    // Ranges.
    let get_range = |range: &'static str| {
        let c = c.clone();
        let url = format!("{base}/v2/{repo}/blobs/{ld}");
        async move { c.get(url).header("Range", range).send().await.unwrap() }
    };
    let r = get_range("bytes=500-1499").await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 500-1499/2048");
    assert_eq!(r.headers()["content-length"], "1000");
    assert_eq!(r.bytes().await.unwrap().to_vec(), layer[500..1500].to_vec());
    let r = get_range("bytes=-500").await;
    assert_eq!(r.bytes().await.unwrap().to_vec(), layer[1548..].to_vec());
    let r = get_range("bytes=2000-5000").await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().len(), 48);
    assert_eq!(get_range("bytes=500-0").await.status(), 416);
    assert_eq!(get_range("bytes=5000-10000").await.status(), 416);

    // Chunked, with an out-of-order chunk refused with 416 and the status GET.
    let big: Vec<u8> = (0..3000u32).map(|i| (i * 13 % 256) as u8).collect();
    let bd = Digest::sha256(&big);
    let r = c
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    let mut loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = c
        .patch(format!("{base}{loc}"))
        .header("Content-Type", "application/octet-stream")
        .header("Content-Range", "1024-2047")
        .body(big[1024..2048].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert!(r.headers().contains_key("location"));
    let r = c.get(format!("{base}{loc}")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["range"], "0-0");
    for (start, end) in [(0usize, 1023usize), (1024, 2047)] {
        let r = c
            .patch(format!("{base}{loc}"))
            .header("Content-Type", "application/octet-stream")
            .header("Content-Range", format!("{start}-{end}"))
            .body(big[start..=end].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        assert_eq!(r.headers()["range"], format!("0-{end}"));
        loc = r.headers()["location"].to_str().unwrap().to_string();
    }
    // Re-sending an old chunk is out of order too.
    let r = c
        .patch(format!("{base}{loc}"))
        .header("Content-Range", "0-1023")
        .body(big[..1024].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    let r = c.get(format!("{base}{loc}")).send().await.unwrap();
    assert_eq!(r.headers()["range"], "0-2047");
    // The final chunk in the PUT.
    let sep = if loc.contains('?') { '&' } else { '?' };
    let r = c
        .put(format!("{base}{loc}{sep}digest={bd}"))
        .header("Content-Range", "2048-2999")
        .header("Content-Type", "application/octet-stream")
        .body(big[2048..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .get(format!("{base}/v2/{repo}/blobs/{bd}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), big);
    // The session is gone.
    assert_eq!(
        c.get(format!("{base}{loc}")).send().await.unwrap().status(),
        404
    );

    // Streamed PATCH without Content-Range, then PUT with no body; wrong digest → 400
    // and nothing visible.
    let r = c
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = c
        .patch(format!("{base}{loc}"))
        .body(b"streamed!".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let wrong = Digest::sha256(b"something else");
    let r = c
        .put(format!("{base}{loc}?digest={wrong}"))
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    assert_eq!(
        c.head(format!("{base}/v2/{repo}/blobs/{wrong}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Monolithic POST with a wrong digest.
    let r = c
        .post(format!("{base}/v2/{repo}/blobs/uploads/?digest={wrong}"))
        .body(b"not it".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Cancel.
    let r = c
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        c.delete(format!("{base}{loc}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        c.get(format!("{base}{loc}")).send().await.unwrap().status(),
        404
    );

    // sha512 blob.
    let s5 = b"sha512 content".to_vec();
    let d5 = Digest::of(Algorithm::Sha512, &s5);
    let r = c
        .post(format!("{base}/v2/{repo}/blobs/uploads/?digest={d5}"))
        .body(s5.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .get(format!("{base}/v2/{repo}/blobs/{d5}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["docker-content-digest"], d5.to_string());
    assert_eq!(r.bytes().await.unwrap().to_vec(), s5);

    // Cross-repository mount: from a repo that has it → 201; missing → 202 session.
    let r = c
        .post(format!(
            "{base}/v2/{repo2}/blobs/uploads/?mount={ld}&from={repo}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], format!("/v2/{repo2}/blobs/{ld}"));
    assert_eq!(
        c.head(format!("{base}/v2/{repo2}/blobs/{ld}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = c
        .post(format!(
            "{base}/v2/{repo2}/blobs/uploads/?mount={wrong}&from={repo}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/blobs/uploads/")
    );
    // Blob delete is per repository.
    assert_eq!(
        c.delete(format!("{base}/v2/{repo2}/blobs/{ld}"))
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    assert_eq!(
        c.head(format!("{base}/v2/{repo2}/blobs/{ld}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.head(format!("{base}/v2/{repo}/blobs/{ld}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Manifests: a missing blob is refused.
    let missing = manifest(&config, &[b"never pushed"]);
    let r = c
        .put(format!("{base}/v2/{repo}/manifests/bad"))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(missing)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");

    // By tag.
    let m = manifest(&config, &[&layer, &big]);
    let md = Digest::sha256(&m);
    let r = c
        .put(format!("{base}/v2/{repo}/manifests/v1"))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(m.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["docker-content-digest"], md.to_string());
    assert_eq!(
        r.headers()["location"],
        format!("/v2/{repo}/manifests/{md}")
    );
    for reference in ["v1".to_string(), md.to_string()] {
        let r = c
            .get(format!("{base}/v2/{repo}/manifests/{reference}"))
            .header("Accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-type"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(r.headers()["docker-content-digest"], md.to_string());
        assert_eq!(r.bytes().await.unwrap().to_vec(), m);
        let r = c
            .head(format!("{base}/v2/{repo}/manifests/{reference}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-length"], m.len().to_string());
    }
    // By digest, with a body that does not match: 400.
    let r = c
        .put(format!("{base}/v2/{repo}/manifests/{md}"))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body([m.clone(), b"  ".to_vec()].concat())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        c.put(format!("{base}/v2/{repo}/manifests/sha256:baddigeststring"))
            .body(m.clone())
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    // Unknown tag, unknown digest.
    let r = c
        .get(format!("{base}/v2/{repo}/manifests/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");

    // Docker media types: a v2s2 manifest and a manifest list by digest, `?tag=` params.
    let docker = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": cd.to_string()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": layer.len(), "digest": ld.to_string()}],
    }))
    .unwrap();
    let dd = Digest::sha256(&docker);
    let r = c
        .put(format!(
            "{base}/v2/{repo}/manifests/{dd}?tag=docker1&tag=docker2"
        ))
        .header(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .body(docker.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["oci-tag"], "docker1, docker2");
    let list = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": docker.len(), "digest": dd.to_string(), "platform": {"architecture": "amd64", "os": "linux"}}],
    }))
    .unwrap();
    let r = c
        .put(format!("{base}/v2/{repo}/manifests/multi"))
        .header(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        )
        .body(list.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .get(format!("{base}/v2/{repo}/manifests/multi"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );

    // A sha512 manifest by digest.
    let m512 = manifest(&config, &[&layer]);
    let d512 = Digest::of(Algorithm::Sha512, &m512);
    let r = c
        .put(format!("{base}/v2/{repo}/manifests/{d512}"))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(m512.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .get(format!("{base}/v2/{repo}/manifests/{d512}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["docker-content-digest"], d512.to_string());

    // Referrers: two artifacts with a subject, one pushed before any subject exists.
    let empty = b"{}".to_vec();
    push_blob(&c, base, repo, &empty).await;
    let mut referrer_digests = Vec::new();
    for (i, at) in [
        "application/vnd.example.sbom",
        "application/vnd.example.sig",
    ]
    .iter()
    .enumerate()
    {
        let art = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": at,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "digest": Digest::sha256(&empty).to_string()},
            "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "digest": Digest::sha256(&empty).to_string()}],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": m.len(), "digest": md.to_string()},
            "annotations": {"n": i.to_string()},
        }))
        .unwrap();
        let ad = Digest::sha256(&art);
        let r = c
            .put(format!("{base}/v2/{repo}/manifests/{ad}"))
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            .body(art)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["oci-subject"], md.to_string());
        referrer_digests.push(ad);
    }
    let r = c
        .get(format!("{base}/v2/{repo}/referrers/{md}"))
        .send()
        .await
        .unwrap();
    let idx: serde_json::Value = r.json().await.unwrap();
    assert_eq!(idx["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(idx["manifests"].as_array().unwrap().len(), 2);
    let r = c
        .get(format!(
            "{base}/v2/{repo}/referrers/{md}?artifactType=application/vnd.example.sig"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["oci-filters-applied"], "artifactType");
    let idx: serde_json::Value = r.json().await.unwrap();
    let ms = idx["manifests"].as_array().unwrap();
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0]["artifactType"], "application/vnd.example.sig");
    assert_eq!(ms[0]["annotations"]["n"], "1");
    assert_eq!(ms[0]["digest"], referrer_digests[1].to_string());
    // Deleting a referrer removes it from the list.
    assert_eq!(
        c.delete(format!(
            "{base}/v2/{repo}/manifests/{}",
            referrer_digests[1]
        ))
        .send()
        .await
        .unwrap()
        .status(),
        202
    );
    let idx: serde_json::Value = c
        .get(format!("{base}/v2/{repo}/referrers/{md}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(idx["manifests"].as_array().unwrap().len(), 1);

    // Tags: list, `n`/`last` pagination and Link.
    for t in ["a", "b", "c"] {
        let r = c
            .put(format!("{base}/v2/{repo}/manifests/{t}"))
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            .body(m.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let all: serde_json::Value = c
        .get(format!("{base}/v2/{repo}/tags/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        all["tags"],
        serde_json::json!(["a", "b", "c", "docker1", "docker2", "multi", "v1"])
    );
    assert_eq!(all["name"], repo);
    let r = c
        .get(format!("{base}/v2/{repo}/tags/list?n=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["link"],
        format!("</v2/{repo}/tags/list?n=2&last=b>; rel=\"next\"")
    );
    let page: serde_json::Value = r.json().await.unwrap();
    assert_eq!(page["tags"], serde_json::json!(["a", "b"]));
    let r = c
        .get(format!("{base}/v2/{repo}/tags/list?n=10&last=docker2"))
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("link"));
    let page: serde_json::Value = r.json().await.unwrap();
    assert_eq!(page["tags"], serde_json::json!(["multi", "v1"]));

    // Catalog with pagination.
    let cat: serde_json::Value = c
        .get(format!("{base}/v2/_catalog"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cat["repositories"], serde_json::json!([repo, repo2]));
    let r = c
        .get(format!("{base}/v2/_catalog?n=1"))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["link"]
            .to_str()
            .unwrap()
            .contains("last=conformance%2Frepo1")
    );

    // Delete a tag: the manifest stays.
    assert_eq!(
        c.delete(format!("{base}/v2/{repo}/manifests/a"))
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    assert_eq!(
        c.head(format!("{base}/v2/{repo}/manifests/a"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.head(format!("{base}/v2/{repo}/manifests/{md}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.delete(format!("{base}/v2/{repo}/manifests/a"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // Delete by digest: the manifest and its tags go.
    assert_eq!(
        c.delete(format!("{base}/v2/{repo}/manifests/{md}"))
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    assert_eq!(
        c.get(format!("{base}/v2/{repo}/manifests/v1"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let tags: serde_json::Value = c
        .get(format!("{base}/v2/{repo}/tags/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        tags["tags"],
        serde_json::json!(["docker1", "docker2", "multi"])
    );

    // Invalid names and path tricks.
    for bad in ["UPPER/x", "a/../b", "a//b", "_x/y"] {
        let r = c
            .get(format!("{base}/v2/{bad}/tags/list"))
            .send()
            .await
            .unwrap();
        assert!(
            r.status() == 400 || r.status() == 404,
            "{bad}: {}",
            r.status()
        );
    }
    let r = c
        .get(format!("{base}/v2/UPPER/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "NAME_INVALID");
    // Upload ids are ours only.
    let r = c
        .get(format!("{base}/v2/{repo}/blobs/uploads/..%2F..%2Fetc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_on_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(fs_config(dir.path())).await;
    api_suite(&srv.base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_on_memory_object_store() {
    let srv = start(Config::new(StorageConfig::Memory)).await;
    api_suite(&srv.base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_on_s3_moto() {
    let moto = match Moto::start().await {
        Ok(m) => m,
        Err(reason) => {
            eprintln!("skipping the S3 API run: {reason}");
            return;
        }
    };
    let cfg = moto.bucket("api").await;
    let srv = start(Config::new(StorageConfig::S3(cfg))).await;
    api_suite(&srv.base).await;
}

/// Two servers over one store: a push through one is visible through the other.
async fn replicas(storage_for: impl Fn() -> Config, shared: Option<Arc<ObjectStorage>>) {
    let (a, b) = match shared {
        Some(s) => (
            start_with(storage_for(), s.clone()).await,
            start_with(storage_for(), s).await,
        ),
        None => (start(storage_for()).await, start(storage_for()).await),
    };
    let c = client();
    let d = push_image(&c, &a.base, "team/app", "1.0", &[b"layer one"]).await;
    let r = c
        .get(format!("{}/v2/team/app/manifests/1.0", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-content-digest"], d.to_string());
    // A chunked upload started on one replica and finished on the other.
    let data = b"split across replicas".to_vec();
    let dd = Digest::sha256(&data);
    let r = c
        .post(format!("{}/v2/team/app/blobs/uploads/", a.base))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = c
        .patch(format!("{}{loc}", a.base))
        .header("Content-Range", "0-9")
        .body(data[..10].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = c
        .patch(format!("{}{loc}", b.base))
        .header("Content-Range", format!("10-{}", data.len() - 1))
        .body(data[10..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = c
        .put(format!("{}{loc}?digest={dd}", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .get(format!("{}/v2/team/app/blobs/{dd}", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);
    let cat: serde_json::Value = c
        .get(format!("{}/v2/_catalog", b.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cat["repositories"], serde_json::json!(["team/app"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_memory_store() {
    let shared = Arc::new(ObjectStorage::memory());
    replicas(|| Config::new(StorageConfig::Memory), Some(shared)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_s3_bucket() {
    let moto = match Moto::start().await {
        Ok(m) => m,
        Err(reason) => {
            eprintln!("skipping the S3 replica test: {reason}");
            return;
        }
    };
    let cfg = moto.bucket("replicas").await;
    replicas(move || Config::new(StorageConfig::S3(cfg.clone())), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_directory() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().to_path_buf();
    replicas(move || fs_config(&p), None).await;
}
