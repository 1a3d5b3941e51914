//! Authentication and authorisation: Basic with an ACL, the token flow with scopes,
//! catalog filtering, read-only mode.

mod common;

use base64::Engine as _;
use common::*;
use strata_server::{AuthConfig, Config, StorageConfig, TokenConfig};

fn write_auth_files(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let htpasswd = dir.join("htpasswd");
    let mut lines = String::new();
    for (u, p) in [("alice", "wonderland"), ("bob", "builder")] {
        lines.push_str(&format!("{u}:{}\n", bcrypt::hash(p, 4).unwrap()));
    }
    std::fs::write(&htpasswd, lines).unwrap();
    let acl = dir.join("acl.toml");
    std::fs::write(
        &acl,
        r#"
[[rules]]
account = "alice"
repository = "team/*"
actions = ["*"]
[[rules]]
account = "alice"
repository = "public/*"
actions = ["pull", "push"]
[[rules]]
account = "anonymous"
repository = "public/*"
actions = ["pull"]
"#,
    )
    .unwrap();
    (htpasswd, acl)
}

fn basic(u: &str, p: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_with_acl() {
    let dir = tempfile::tempdir().unwrap();
    let (htpasswd, acl) = write_auth_files(dir.path());
    let mut cfg = Config::new(StorageConfig::Memory);
    cfg.auth = AuthConfig {
        htpasswd: Some(htpasswd),
        acl: Some(acl),
        token: None,
    };
    let srv = start(cfg).await;
    let base = &srv.base;
    let c = client();

    // No credentials: 401 with a Basic challenge.
    let r = c.get(format!("{base}/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"strata\"");
    // Wrong password, unknown user: 401 as well.
    for (u, p) in [("alice", "nope"), ("mallory", "wonderland")] {
        let r = c
            .get(format!("{base}/v2/"))
            .header("Authorization", basic(u, p))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{u}");
    }
    let alice = basic("alice", "wonderland");
    let r = c
        .get(format!("{base}/v2/"))
        .header("Authorization", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Alice pushes into her grants.
    for repo in ["team/app", "public/lib"] {
        let r = c
            .post(format!(
                "{base}/v2/{repo}/blobs/uploads/?digest={}",
                strata_oci::Digest::sha256(b"x")
            ))
            .header("Authorization", &alice)
            .body(b"x".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{repo}");
    }
    // Outside her grants: 403 DENIED.
    let r = c
        .post(format!("{base}/v2/other/x/blobs/uploads/"))
        .header("Authorization", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Anonymous may pull public/*, not push, not read team/*.
    let d = strata_oci::Digest::sha256(b"x");
    assert_eq!(
        c.get(format!("{base}/v2/public/lib/blobs/{d}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.post(format!("{base}/v2/public/lib/blobs/uploads/"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(format!("{base}/v2/team/app/blobs/{d}"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Catalog: alice sees both; bob only what anonymous users may pull.
    let cat = |who: String| {
        let c = c.clone();
        let url = format!("{base}/v2/_catalog");
        async move {
            let v: serde_json::Value = c
                .get(url)
                .header("Authorization", who)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["repositories"].clone()
        }
    };
    assert_eq!(
        cat(alice.clone()).await,
        serde_json::json!(["public/lib", "team/app"])
    );
    assert_eq!(
        cat(basic("bob", "builder")).await,
        serde_json::json!(["public/lib"])
    );
}

async fn fetch_token(
    c: &reqwest::Client,
    base: &str,
    creds: Option<&str>,
    scopes: &[&str],
) -> reqwest::Response {
    let mut url = format!("{base}/token?service=strata");
    for s in scopes {
        url.push_str(&format!("&scope={}", s.replace('/', "%2F")));
    }
    let mut req = c.get(url);
    if let Some(cr) = creds {
        req = req.header("Authorization", cr);
    }
    req.send().await.unwrap()
}

async fn token_of(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["expires_in"].as_u64().unwrap() > 0);
    format!("Bearer {}", v["token"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_flow_with_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let (htpasswd, acl) = write_auth_files(dir.path());
    let mut cfg = Config::new(StorageConfig::Memory);
    cfg.auth = AuthConfig {
        htpasswd: Some(htpasswd),
        acl: Some(acl),
        token: Some(TokenConfig::default()),
    };
    let srv = start(cfg).await;
    let base = &srv.base;
    let c = client();

    // The challenge names realm, service and the scope needed.
    let r = c.get(format!("{base}/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        format!("Bearer realm=\"{base}/token\",service=\"strata\"")
    );
    let r = c
        .post(format!("{base}/v2/team/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["www-authenticate"],
        format!(
            "Bearer realm=\"{base}/token\",service=\"strata\",scope=\"repository:team/app:pull,push\""
        )
    );

    // Wrong password at the token endpoint.
    let r = fetch_token(&c, base, Some(&basic("alice", "x")), &[]).await;
    assert_eq!(r.status(), 401);

    // A push token works for pushing.
    let alice = basic("alice", "wonderland");
    let push =
        token_of(fetch_token(&c, base, Some(&alice), &["repository:team/app:pull,push"]).await)
            .await;
    let d = push_blob_auth(&c, base, "team/app", b"layer", &push).await;
    assert_eq!(d.status(), 201);
    // Ping with any valid token.
    assert_eq!(
        c.get(format!("{base}/v2/"))
            .header("Authorization", &push)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A pull-only token cannot push: 401 insufficient_scope.
    let pull =
        token_of(fetch_token(&c, base, Some(&alice), &["repository:team/app:pull"]).await).await;
    let r = push_blob_auth(&c, base, "team/app", b"other", &pull).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"insufficient_scope\"")
    );
    let digest = strata_oci::Digest::sha256(b"layer");
    assert_eq!(
        c.get(format!("{base}/v2/team/app/blobs/{digest}"))
            .header("Authorization", &pull)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The token is scoped to its repository.
    assert_eq!(
        c.get(format!("{base}/v2/team/other/blobs/{digest}"))
            .header("Authorization", &pull)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // Asking for more than the ACL allows yields a token without it.
    let bob = basic("bob", "builder");
    let t =
        token_of(fetch_token(&c, base, Some(&bob), &["repository:team/app:pull,push"]).await).await;
    assert_eq!(
        c.get(format!("{base}/v2/team/app/blobs/{digest}"))
            .header("Authorization", &t)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // Anonymous tokens: public pull only.
    let anon =
        token_of(fetch_token(&c, base, None, &["repository:public/lib:pull,push"]).await).await;
    assert_eq!(
        push_blob_auth(&c, base, "public/lib", b"anon", &anon)
            .await
            .status(),
        401
    );

    // A tampered token is refused.
    let tampered = format!("{}x", push);
    let r = c
        .get(format!("{base}/v2/"))
        .header("Authorization", tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    // Catalog needs the catalog scope and lists only pullable repositories.
    let r = c
        .get(format!("{base}/v2/_catalog"))
        .header("Authorization", &push)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let bob_cat = token_of(fetch_token(&c, base, Some(&bob), &["registry:catalog:*"]).await).await;
    let v: serde_json::Value = c
        .get(format!("{base}/v2/_catalog"))
        .header("Authorization", &bob_cat)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["repositories"], serde_json::json!([]));
    let alice_cat =
        token_of(fetch_token(&c, base, Some(&alice), &["registry:catalog:*"]).await).await;
    let v: serde_json::Value = c
        .get(format!("{base}/v2/_catalog"))
        .header("Authorization", &alice_cat)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["repositories"], serde_json::json!(["team/app"]));

    // The OAuth2 password grant (containerd's POST).
    let r = c
        .post(format!("{base}/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=password&username=alice&password=wonderland&service=strata&scope=repository%3Ateam%2Fapp%3Apull")
        .send()
        .await
        .unwrap();
    let t = token_of(r).await;
    assert_eq!(
        c.get(format!("{base}/v2/team/app/blobs/{digest}"))
            .header("Authorization", &t)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn push_blob_auth(
    c: &reqwest::Client,
    base: &str,
    repo: &str,
    data: &[u8],
    auth: &str,
) -> reqwest::Response {
    let d = strata_oci::Digest::sha256(data);
    c.post(format!("{base}/v2/{repo}/blobs/uploads/?digest={d}"))
        .header("Authorization", auth)
        .body(data.to_vec())
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_mode_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    // Fill the registry, then reopen it read-only.
    let srv = start(fs_config(dir.path())).await;
    let c = client();
    push_image(&c, &srv.base, "ro/app", "1", &[b"l1"]).await;
    srv.stop().await.unwrap();
    let mut cfg = fs_config(dir.path());
    cfg.read_only = true;
    let srv = start(cfg).await;
    let base = &srv.base;
    assert_eq!(
        c.get(format!("{base}/v2/ro/app/manifests/1"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = c
        .post(format!("{base}/v2/ro/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "UNSUPPORTED");
    assert_eq!(
        c.delete(format!("{base}/v2/ro/app/manifests/1"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
}
