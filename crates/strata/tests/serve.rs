//! `strata serve` through the binary: startup line and port 0, skopeo round trips with
//! unchanged digests, htpasswd Basic and token auth, read-only mode, a config file under
//! flags, TLS, health and metrics, the web page, `serve gc`, and graceful shutdown on
//! SIGTERM finishing an in-flight upload.

mod serve_common;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serve_common::*;
use strata_oci::Digest;

fn fs_arg(dir: &Path) -> String {
    format!("fs:{}", dir.display())
}

fn strata() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
    c.env_remove("STRATA_LOG");
    c
}

#[test]
fn default_storage_is_under_the_store_root_and_the_address_is_printed() {
    let root = tempfile::tempdir().unwrap();
    let srv = Serve::start(root.path(), &[]);
    assert_ne!(srv.addr.port(), 0);
    let line = srv.stderr();
    assert!(
        line.starts_with(&format!("strata serve: listening on http://{}", srv.addr)),
        "{line}"
    );
    assert!(line.contains(&format!("fs:{}", root.path().join("registry").display())));
    let r = srv.http("GET", "/v2/", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!({}));
    push_image(srv.addr, "lib/app", "v1", &[b"layer"]);
    assert!(!published_blobs(&root.path().join("registry")).is_empty());
    // Health and metrics come with the registry.
    let r = srv.http("GET", "/healthz", &[], b"");
    assert_eq!(r.status, 200);
    let r = srv.http("GET", "/metrics", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("manifest"), "{}", r.text());
}

#[test]
fn bad_flags_are_refused_before_binding() {
    let root = tempfile::tempdir().unwrap();
    let out = strata()
        .args(["serve", "--storage", "gs://bucket", "--addr", "127.0.0.1:0"])
        .env("STRATA_ROOT", root.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid --storage \"gs://bucket\""), "{err}");

    let out = strata()
        .args(["serve", "--s3-region", "eu", "--addr", "127.0.0.1:0"])
        .env("STRATA_ROOT", root.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("need S3 storage"));

    // A missing htpasswd file is named.
    let out = strata()
        .args([
            "serve",
            "--htpasswd",
            "/nonexistent/htpasswd",
            "--addr",
            "127.0.0.1:0",
        ])
        .env("STRATA_ROOT", root.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/htpasswd"));

    // The subcommand and the server's flags do not mix.
    let out = strata()
        .args(["serve", "--read-only", "gc"])
        .env("STRATA_ROOT", root.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn skopeo_round_trip_keeps_digests() {
    let Some(skopeo) = skopeo() else {
        eprintln!("skipping: skopeo is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("reg");
    let srv = Serve::start(dir.path(), &["--storage", &fs_arg(&reg)]);
    let src = dir.path().join("src");
    let back = dir.path().join("back");
    let md = make_layout(&src, 3 << 20);
    let image = format!("docker://{}/interop/app:v1", srv.addr);
    run_ok(Command::new(skopeo).args([
        "--insecure-policy",
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", src.display()),
        &image,
    ]));
    run_ok(Command::new(skopeo).args([
        "--insecure-policy",
        "copy",
        "--src-tls-verify=false",
        &image,
        &format!("oci:{}:v1", back.display()),
    ]));
    assert_eq!(layout_digest(&back), md.to_string());
    for entry in std::fs::read_dir(src.join("blobs/sha256")).unwrap() {
        let e = entry.unwrap();
        let other = back.join("blobs/sha256").join(e.file_name());
        assert_eq!(
            std::fs::read(e.path()).unwrap(),
            std::fs::read(&other).unwrap(),
            "{}",
            other.display()
        );
    }
    // skopeo sees the same digest in the registry.
    let out = run_ok(Command::new(skopeo).args(["inspect", "--tls-verify=false", &image]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Digest"], md.to_string());
}

#[test]
fn htpasswd_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    std::fs::write(&htpasswd, HTPASSWD).unwrap();
    let srv = Serve::start(
        dir.path(),
        &[
            "--storage",
            "memory",
            "--htpasswd",
            htpasswd.to_str().unwrap(),
        ],
    );
    assert!(srv.stderr().contains("basic auth"), "{}", srv.stderr());
    let r = srv.http("GET", "/v2/", &[], b"");
    assert_eq!(r.status, 401);
    let challenge = r.header("www-authenticate").unwrap_or_default().to_string();
    assert!(challenge.starts_with("Basic realm="), "{challenge}");
    assert_eq!(r.error_code(), "UNAUTHORIZED");
    // "ci:secret" and "ci:wrong".
    let good = ("Authorization", "Basic Y2k6c2VjcmV0");
    let bad = ("Authorization", "Basic Y2k6d3Jvbmc=");
    assert_eq!(srv.http("GET", "/v2/", &[bad], b"").status, 401);
    assert_eq!(srv.http("GET", "/v2/", &[good], b"").status, 200);
    let data = b"authenticated blob";
    let d = Digest::sha256(data);
    let path = format!("/v2/team/app/blobs/uploads/?digest={d}");
    assert_eq!(srv.http("POST", &path, &[], data).status, 401);
    assert_eq!(push_blob(srv.addr, "team/app", data, &[good]), d);
    let r = srv.http("GET", &format!("/v2/team/app/blobs/{d}"), &[good], b"");
    assert_eq!(r.body, data);

    if let Some(skopeo) = skopeo() {
        let src = dir.path().join("src");
        let md = make_layout(&src, 64 << 10);
        let image = format!("docker://{}/team/app:v1", srv.addr);
        let layout = format!("oci:{}:v1", src.display());
        let denied = Command::new(skopeo)
            .args(["--insecure-policy", "copy", "--dest-tls-verify=false"])
            .args(["--dest-creds", "ci:wrong", &layout, &image])
            .output()
            .unwrap();
        assert!(!denied.status.success());
        run_ok(Command::new(skopeo).args([
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            "ci:secret",
            &layout,
            &image,
        ]));
        let out = run_ok(Command::new(skopeo).args([
            "inspect",
            "--tls-verify=false",
            "--creds",
            "ci:secret",
            &image,
        ]));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["Digest"], md.to_string());
    }
}

#[test]
fn token_auth_issues_scoped_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    std::fs::write(&htpasswd, HTPASSWD).unwrap();
    let secret = dir.path().join("token.key");
    std::fs::write(&secret, "a shared secret for every replica").unwrap();
    let srv = Serve::start(
        dir.path(),
        &[
            "--storage",
            "memory",
            "--htpasswd",
            htpasswd.to_str().unwrap(),
            "--token-secret-file",
            secret.to_str().unwrap(),
        ],
    );
    assert!(srv.stderr().contains("token auth"), "{}", srv.stderr());
    let r = srv.http("GET", "/v2/", &[], b"");
    assert_eq!(r.status, 401);
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with(&format!("Bearer realm=\"http://{}/token\"", srv.addr)),
        "{challenge}"
    );
    let r = srv.http(
        "GET",
        "/token?service=strata&scope=repository:team/app:pull,push",
        &[("Authorization", "Basic Y2k6c2VjcmV0")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {token}");
    let auth = ("Authorization", bearer.as_str());
    push_blob(srv.addr, "team/app", b"with a token", &[auth]);
    // The token is scoped: another repository is out of reach.
    let d = Digest::sha256(b"elsewhere");
    let r = srv.http(
        "POST",
        &format!("/v2/other/app/blobs/uploads/?digest={d}"),
        &[auth],
        b"elsewhere",
    );
    assert_eq!(r.status, 401, "{}", r.text());
}

#[test]
fn read_only_serves_but_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("reg");
    let storage = fs_arg(&reg);
    let md = {
        let srv = Serve::start(dir.path(), &["--storage", &storage]);
        push_image(srv.addr, "ro/app", "v1", &[b"read only layer"])
    };
    let srv = Serve::start(dir.path(), &["--storage", &storage, "--read-only"]);
    assert!(srv.stderr().contains("read-only"));
    let r = srv.http(
        "GET",
        "/v2/ro/app/manifests/v1",
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("docker-content-digest"), Some(md.as_str()));
    let d = Digest::sha256(b"new");
    for (method, path) in [
        ("POST", format!("/v2/ro/app/blobs/uploads/?digest={d}")),
        ("POST", "/v2/ro/app/blobs/uploads/".to_string()),
        ("PUT", "/v2/ro/app/manifests/v2".to_string()),
        ("DELETE", format!("/v2/ro/app/manifests/{md}")),
    ] {
        let r = srv.http(method, &path, &[], b"new");
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.error_code(), "UNSUPPORTED");
    }
    // Nothing changed.
    let r = srv.http("GET", "/v2/ro/app/tags/list", &[], b"");
    assert_eq!(r.json()["tags"], serde_json::json!(["v1"]));
}

#[test]
fn a_config_file_under_flags() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("from-file");
    let file = dir.path().join("serve.yaml");
    std::fs::write(
        &file,
        format!(
            "addr: 127.0.0.1:1\nread_only: true\nstorage:\n  type: fs\n  root: {}\nlimits:\n  max_manifest_bytes: 100\n",
            reg.display()
        ),
    )
    .unwrap();
    // The file says read-only and port 1; --addr (added by the helper) wins over the
    // port, and the storage is the file's.
    let srv = Serve::start(dir.path(), &["--config", file.to_str().unwrap()]);
    assert!(srv.stderr().contains(&format!("fs:{}", reg.display())));
    let r = srv.http("POST", "/v2/cfg/app/blobs/uploads/", &[], b"");
    assert_eq!(r.status, 405);
    drop(srv);

    // A flag replaces the file's storage; the file's limits stay.
    let other = dir.path().join("from-flag");
    std::fs::write(&file, "limits:\n  max_manifest_bytes: 100\n").unwrap();
    let srv = Serve::start(
        dir.path(),
        &[
            "--config",
            file.to_str().unwrap(),
            "--storage",
            &fs_arg(&other),
        ],
    );
    assert!(srv.stderr().contains(&format!("fs:{}", other.display())));
    let big = vec![b' '; 200];
    let r = srv.http(
        "PUT",
        "/v2/cfg/app/manifests/v1",
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &big,
    );
    assert_eq!(r.status, 413, "{}", r.text());
    drop(srv);

    // A file without storage puts the registry under the store root.
    let srv = Serve::start(dir.path(), &["--config", file.to_str().unwrap()]);
    assert!(
        srv.stderr()
            .contains(&format!("fs:{}", dir.path().join("registry").display())),
        "{}",
        srv.stderr()
    );
}

#[test]
fn tls_with_a_certificate_and_key() {
    let (Ok(_), Ok(_)) = (
        Command::new("openssl").arg("version").output(),
        Command::new("curl").arg("--version").output(),
    ) else {
        eprintln!("skipping: openssl and curl are needed to make and use a certificate");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    run_ok(Command::new("openssl").args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]));
    let srv = Serve::start(
        dir.path(),
        &[
            "--storage",
            "memory",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        srv.stderr()
            .contains(&format!("listening on https://{}", srv.addr))
    );
    let out = run_ok(Command::new("curl").args([
        "-sS",
        "--cacert",
        cert.to_str().unwrap(),
        &format!("https://{}/v2/", srv.addr),
    ]));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{}");
    // --tls-cert alone is a usage error.
    let out = strata()
        .args(["serve", "--tls-cert", cert.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_web_page_lists_repositories_tags_and_layers() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Serve::start(dir.path(), &["--storage", "memory"]);
    let layer = b"a layer for the web page";
    let md = push_image(srv.addr, "web/site", "v1.2", &[layer]);
    let ld = Digest::sha256(layer);
    let index = srv.http("GET", "/", &[], b"");
    assert_eq!(index.status, 200);
    assert!(
        index
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    let html = index.text();
    assert!(html.contains("href=\"/ui/web/site\""), "{html}");
    assert!(!html.contains("<script"), "no scripts: {html}");
    let repo = srv.http("GET", "/ui/web/site", &[], b"").text();
    assert!(repo.contains("v1.2"), "{repo}");
    assert!(repo.contains(&md.hex()[..12]), "{repo}");
    let image = srv.http("GET", "/ui/web/site/v1.2", &[], b"").text();
    assert!(image.contains(ld.as_str()), "{image}");

    // In a real browser when one is installed.
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok());
    let Some(browser) = browser else {
        eprintln!(
            "skipping the headless browser check: chromium is not installed (apt-get install chromium)"
        );
        return;
    };
    let shot = dir.path().join("page.png");
    let url = format!("http://{}/ui/web/site", srv.addr);
    // No background networking: this machine has no network beyond loopback.
    let headless = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1024,768",
    ];
    run_ok(
        Command::new(browser)
            .args(headless)
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .arg(format!("--screenshot={}", shot.display()))
            .arg(&url),
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    assert!(png.len() > 2000, "a non-blank screenshot");
    let dom = run_ok(
        Command::new(browser)
            .args(headless)
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .arg("--dump-dom")
            .arg(&url),
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("v1.2"), "{dom}");
}

#[test]
fn gc_dry_run_then_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("reg");
    let storage = fs_arg(&reg);
    let (md, orphan, kept) = {
        let srv = Serve::start(dir.path(), &["--storage", &storage]);
        let kept: &[u8] = b"referenced layer";
        let md = push_image(srv.addr, "gc/app", "v1", &[kept]);
        let orphan = push_blob(srv.addr, "gc/app", b"nobody references me", &[]);
        (md, orphan, Digest::sha256(kept))
    };
    let gc = |extra: &[&str]| {
        let out = strata()
            .args(["serve", "gc", "--storage", &storage])
            .args(extra)
            .env("STRATA_ROOT", dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Within the grace period nothing goes.
    let (stdout, stderr) = gc(&["--dry-run"]);
    assert_eq!(stdout, "");
    assert!(stderr.contains("would delete 0 blobs"), "{stderr}");
    assert!(stderr.contains("kept 1 unreferenced"), "{stderr}");
    // A dry run names the orphan and deletes nothing.
    let (stdout, stderr) = gc(&["--dry-run", "--grace-period", "0"]);
    assert_eq!(stdout, format!("{orphan}\n"));
    assert!(stderr.contains("would delete 1 blobs"), "{stderr}");
    let on_disk = |d: &Digest| published_blobs(&reg).iter().any(|(b, _)| b == d);
    assert!(on_disk(&orphan));
    // The sweep deletes it, and only it.
    let (stdout, stderr) = gc(&["--grace-period", "0s"]);
    assert_eq!(stdout, format!("{orphan}\n"));
    assert!(stderr.contains("deleted 1 blobs"), "{stderr}");
    assert!(!on_disk(&orphan));
    assert!(on_disk(&kept));
    let srv = Serve::start(dir.path(), &["--storage", &storage]);
    let r = srv.http(
        "GET",
        "/v2/gc/app/manifests/v1",
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    );
    assert_eq!(r.header("docker-content-digest"), Some(md.as_str()));
    assert_eq!(
        srv.http("GET", &format!("/v2/gc/app/blobs/{kept}"), &[], b"")
            .status,
        200
    );
    assert_eq!(
        srv.http("HEAD", &format!("/v2/gc/app/blobs/{orphan}"), &[], b"")
            .status,
        404
    );
    // Safe while serving: a collection with the server up keeps what is referenced.
    let (stdout, _) = gc(&["--grace-period", "0"]);
    assert_eq!(stdout, "");
}

#[test]
fn sigterm_finishes_an_in_flight_upload() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("reg");
    let storage = fs_arg(&reg);
    let mut srv = Serve::start(dir.path(), &["--storage", &storage]);
    let data = noise(42, 8 << 20);
    let d = Digest::sha256(&data);
    let mut s = connect(srv.addr).unwrap();
    write_head(
        &mut s,
        srv.addr,
        "POST",
        &format!("/v2/slow/app/blobs/uploads/?digest={d}"),
        &[("Content-Type", "application/octet-stream")],
        data.len() as u64,
    )
    .unwrap();
    let half = data.len() / 2;
    s.write_all(&data[..half]).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    srv.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(500));
    // Still finishing the upload: not gone yet, and no longer taking connections.
    assert!(srv.child.try_wait().unwrap().is_none(), "exited too early");
    assert!(
        try_http(srv.addr, "GET", "/v2/", &[], b"").is_err(),
        "new requests are not served while draining"
    );
    s.write_all(&data[half..]).unwrap();
    let (status, _) = read_response(&mut s, false, |_| {}).unwrap();
    assert_eq!(status, 201);
    let st = srv
        .wait_exit(Duration::from_secs(20))
        .expect("exits after the upload");
    assert!(st.success(), "{st:?}: {}", srv.stderr());
    assert!(
        srv.stderr().ends_with("strata serve: stopped\n"),
        "{}",
        srv.stderr()
    );
    // The blob survived, whole.
    let blob = published_blobs(&reg)
        .into_iter()
        .find(|(b, _)| *b == d)
        .expect("published");
    assert_eq!(hash_file(&blob.1, d.algorithm()), d);
    let srv = Serve::start(dir.path(), &["--storage", &storage]);
    let r = srv.http("HEAD", &format!("/v2/slow/app/blobs/{d}"), &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(data.len().to_string().as_str())
    );
}

#[test]
fn sigint_stops_an_idle_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Serve::start(dir.path(), &["--storage", "memory"]);
    srv.signal(libc::SIGINT);
    let st = srv.wait_exit(Duration::from_secs(10)).expect("exits");
    assert!(st.success());
}
