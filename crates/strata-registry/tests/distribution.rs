//! Against Debian's `docker-registry` (distribution 2.8) on 127.0.0.1: no auth, htpasswd Basic
//! auth, and token auth with a token server in the test. Round trips with skopeo: what Strata
//! pushes, skopeo reads with identical digests, and the reverse.

mod common;

use std::process::Command;
use std::sync::atomic::Ordering;

use common::distribution::*;
use common::*;
use strata_oci::reference::Reference;
use strata_registry::{AuthEntry, Client, DockerConfig, NoProgress, PullOptions};
use strata_store::Store;

fn reference(s: &str) -> Reference {
    Reference::parse_normalized(s).unwrap()
}

fn options_with_auth(
    dir: &std::path::Path,
    host: &str,
    entry: &AuthEntry,
) -> strata_registry::ClientOptions {
    let path = dir.join("docker/config.json");
    let mut cfg = DockerConfig::load(&path).unwrap();
    cfg.store(host, entry).unwrap();
    strata_registry::ClientOptions {
        docker_config: Some(path),
        ..options()
    }
}

fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auth_round_trips_and_skopeo_interop() {
    if !registry_available("no_auth_round_trips_and_skopeo_interop") {
        return;
    }
    let reg = Distribution::start(Auth::None);
    let tmp = tempfile::tempdir().unwrap();
    let src = Store::open(tmp.path().join("src")).unwrap();
    let image = make_image(
        &src,
        "local/app:1",
        &[noise(400_000, 3), b"two".to_vec(), noise(10, 4)],
    );
    // Monolithic for small blobs, PATCH chunks for the large one.
    let mut opts = options();
    opts.monolithic_limit = 100_000;
    opts.chunk_size = 150_000;
    let client = Client::new(opts).unwrap();
    let dest = reference(&format!("{}/strata/app:1", reg.host));
    let pushed = client.push(&src, &image, &dest, &NoProgress).await.unwrap();
    assert_eq!(pushed.digest, image.digest);
    assert_eq!(pushed.uploaded, 4);
    // Distribution ignores single-POST bodies: the small blobs went up through sessions,
    // all completed. Pushing again finds every blob and opens no session.
    let again = client.push(&src, &image, &dest, &NoProgress).await.unwrap();
    assert_eq!((again.existed, again.uploaded), (4, 0));
    let uploads = reg
        .data_dir()
        .join("docker/registry/v2/repositories/strata/app/_uploads");
    // (Distribution's cancel keeps the session's hash state file; a live session is one
    // that still has its `startedat`.)
    let live: Vec<_> = std::fs::read_dir(&uploads)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("startedat").exists())
                .collect()
        })
        .unwrap_or_default();
    assert!(live.is_empty(), "upload sessions left open: {live:?}");
    // Cross-repository mount on distribution.
    let other = reference(&format!("{}/strata/other:1", reg.host));
    let m = client
        .push(&src, &image, &other, &NoProgress)
        .await
        .unwrap();
    assert_eq!((m.mounted, m.uploaded), (4, 0));

    // Pull back into an empty store.
    let dst = Store::open(tmp.path().join("dst")).unwrap();
    let pulled = client
        .pull(&dst, &dest, &PullOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(pulled.descriptor.digest, image.digest);
    assert!(dst.check().unwrap().problems.is_empty());
    let again = client
        .pull(&dst, &dest, &PullOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert!(again.up_to_date);

    if !have("skopeo") {
        eprintln!("skipping the skopeo half: skopeo is not installed");
        return;
    }
    // skopeo sees exactly what Strata pushed.
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}/strata/app:1", reg.host),
    ]);
    assert_eq!(raw.as_bytes(), src.read_blob(&image.digest).unwrap());
    let out = tmp.path().join("sk-oci");
    skopeo(&[
        "copy",
        "-q",
        "--src-tls-verify=false",
        &format!("docker://{}/strata/app:1", reg.host),
        &format!("oci:{}:x", out.display()),
    ]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], image.digest.to_string());

    // The reverse: skopeo pushes (from Strata's own OCI layout), Strata pulls.
    let img2 = make_image(&src, "local/sk:2", &[noise(5000, 9)]);
    skopeo(&[
        "copy",
        "-q",
        "--preserve-digests",
        "--dest-tls-verify=false",
        &format!("oci:{}", src.layout_ref("local/sk:2")),
        &format!("docker://{}/skopeo/img:2", reg.host),
    ]);
    let dst3 = Store::open(tmp.path().join("dst3")).unwrap();
    let p = client
        .pull(
            &dst3,
            &reference(&format!("{}/skopeo/img:2", reg.host)),
            &PullOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(p.descriptor.digest, img2.digest);
    assert_eq!(p.digest, img2.digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htpasswd_basic_auth() {
    if !registry_available("htpasswd_basic_auth") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = htpasswd(tmp.path(), "bob", "pa55:word");
    let reg = Distribution::start(Auth::Htpasswd(&file));
    let src = Store::open(tmp.path().join("src")).unwrap();
    let image = make_image(&src, "local/app:1", &[b"basic".to_vec()]);
    let dest = reference(&format!("{}/basic/app:1", reg.host));

    // Anonymous: refused with a clear error.
    let anon = Client::new(options()).unwrap();
    let err = anon
        .push(&src, &image, &dest, &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("unauthorized"), "{err}");
    // Wrong password: refused, and the password is not in the message.
    let bad = options_with_auth(
        tmp.path(),
        &reg.host,
        &AuthEntry::basic("bob", "wrong-secret"),
    );
    let err = Client::new(bad)
        .unwrap()
        .push(&src, &image, &dest, &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unauthorized") && !err.contains("wrong-secret"),
        "{err}"
    );
    let login = Client::new(options())
        .unwrap()
        .registry_with(&reg.host, Some(AuthEntry::basic("bob", "wrong-secret")))
        .unwrap();
    assert!(login.verify_login().await.is_err());

    let good = options_with_auth(tmp.path(), &reg.host, &AuthEntry::basic("bob", "pa55:word"));
    let client = Client::new(good).unwrap();
    let login = client
        .registry_with(&reg.host, Some(AuthEntry::basic("bob", "pa55:word")))
        .unwrap();
    assert_eq!(login.verify_login().await.unwrap(), None);
    client.push(&src, &image, &dest, &NoProgress).await.unwrap();
    let dst = Store::open(tmp.path().join("dst")).unwrap();
    let p = client
        .pull(&dst, &dest, &PullOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(p.descriptor.digest, image.digest);

    // skopeo reads the credentials file Strata wrote.
    if have("skopeo") {
        let out = skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--authfile",
            tmp.path().join("docker/config.json").to_str().unwrap(),
            &format!("docker://{}/basic/app:1", reg.host),
        ]);
        assert_eq!(out.as_bytes(), src.read_blob(&image.digest).unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_auth_scopes_mounts_cache_and_refresh_tokens() {
    if !registry_available("token_auth_scopes_mounts_cache_and_refresh_tokens") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let signer = Signer::new(tmp.path());
    let cert = signer.cert_path.clone();
    let tokens = TokenServer::start(signer).await;
    let reg = Distribution::start(Auth::Token {
        realm: &tokens.realm,
        cert: &cert,
    });
    let src = Store::open(tmp.path().join("src")).unwrap();
    let image = make_image(
        &src,
        "local/app:1",
        &[noise(100_000, 1), noise(2000, 2), noise(30, 3)],
    );
    let private = reference(&format!("{}/private/app:1", reg.host));

    // Anonymous push is refused.
    let err = Client::new(options())
        .unwrap()
        .push(&src, &image, &private, &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unauthorized") || err.contains("denied"),
        "{err}"
    );

    let alice = options_with_auth(tmp.path(), &reg.host, &AuthEntry::basic("alice", "secret"));
    let client = Client::new(alice.clone()).unwrap();
    let before = tokens.requests.load(Ordering::SeqCst);
    let pushed = client
        .push(&src, &image, &private, &NoProgress)
        .await
        .unwrap();
    assert_eq!(pushed.digest, image.digest);
    // One token serves every blob and the manifest of the push.
    let used = tokens.requests.load(Ordering::SeqCst) - before;
    assert!(used <= 2, "{used} token requests for one push");

    // Cross-repository mount: the token must also carry pull on the source.
    let public = reference(&format!("{}/public/app:1", reg.host));
    let m = client
        .push(&src, &image, &public, &NoProgress)
        .await
        .unwrap();
    assert_eq!((m.mounted, m.uploaded), (4, 0));

    // Anonymous pull works where the policy allows it, and not elsewhere.
    let dst = Store::open(tmp.path().join("dst")).unwrap();
    let anon = Client::new(options()).unwrap();
    let p = anon
        .pull(&dst, &public, &PullOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(p.descriptor.digest, image.digest);
    let err = anon
        .pull(&dst, &private, &PullOptions::default(), &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unauthorized") || err.contains("denied"),
        "{err}"
    );

    // Login returns the refresh token; a client holding only that can pull.
    let login = client
        .registry_with(&reg.host, Some(AuthEntry::basic("alice", "secret")))
        .unwrap();
    let refresh = login.verify_login().await.unwrap();
    assert_eq!(refresh.as_deref(), Some(REFRESH_TOKEN));
    let bad = client
        .registry_with(&reg.host, Some(AuthEntry::basic("alice", "nope")))
        .unwrap();
    let err = bad.verify_login().await.unwrap_err().to_string();
    assert!(
        err.contains("unauthorized") && !err.contains("nope"),
        "{err}"
    );
    let only_refresh = AuthEntry {
        username: "alice".into(),
        identity_token: Some(REFRESH_TOKEN.into()),
        ..Default::default()
    };
    let tmp2 = tempfile::tempdir().unwrap();
    let c2 = Client::new(options_with_auth(tmp2.path(), &reg.host, &only_refresh)).unwrap();
    let dst2 = Store::open(tmp.path().join("dst2")).unwrap();
    let p = c2
        .pull(&dst2, &private, &PullOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(p.descriptor.digest, image.digest);

    if have("skopeo") {
        // skopeo through the same token flow with the credentials Strata stored.
        let out = skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--authfile",
            tmp.path().join("docker/config.json").to_str().unwrap(),
            &format!("docker://{}/private/app:1", reg.host),
        ]);
        assert_eq!(out.as_bytes(), src.read_blob(&image.digest).unwrap());
    }
}
