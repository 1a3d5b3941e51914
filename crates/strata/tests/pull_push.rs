//! `strata push` and `strata pull` through the binary against `strata serve` on 127.0.0.1:
//! an image keeps its ID and digest across the round trip, pulled layers are unpacked into
//! snapshots (the overlay lower directories `run` and `build` use), and a second pull of an
//! unchanged image is "up to date" and unpacks nothing again.

mod common;
mod serve_common;

use std::os::unix::fs::MetadataExt;

use common::Env;
use serve_common::Serve;

fn inspect(env: &Env, image: &str, template: &str) -> String {
    env.ok(&["inspect", "-f", template, image])
        .trim()
        .to_string()
}

#[test]
fn push_then_pull_into_another_store_unpacks_snapshots() {
    let reg_dir = tempfile::tempdir().unwrap();
    let srv = Serve::start(reg_dir.path(), &["--storage", "memory"]);
    let reg = srv.addr.to_string();

    let a = Env::new();
    let id = a.busybox("app:1");
    let remote = format!("{reg}/team/app:1");
    a.ok(&["tag", "app:1", &remote]);
    let out = a.run(&["push", &remote]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pushed = String::from_utf8_lossy(&out.stdout).to_string();
    // Docker's last line: "1: digest: sha256:… size: N"
    let digest = pushed
        .lines()
        .find_map(|l| l.split("digest: ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest in push output: {pushed}"))
        .to_string();

    let b = Env::new();
    let out = b.run(&["pull", &remote]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("Digest: {digest}")), "{stderr}");
    assert!(
        stderr.contains("Status: Downloaded newer image"),
        "{stderr}"
    );
    assert_eq!(inspect(&b, &remote, "{{.Id}}"), id);
    let repo_digests = inspect(&b, &remote, "{{json .RepoDigests}}");
    assert!(
        repo_digests.contains(&format!("{reg}/team/app@{digest}")),
        "{repo_digests}"
    );

    // The single layer's chainID is its diffID; its snapshot holds the unpacked files.
    let diff_id = inspect(&b, &remote, "{{index .RootFS.Layers 0}}");
    let hex = diff_id.strip_prefix("sha256:").expect("a sha256 diffID");
    let snap = b.root().join("snapshots").join(hex);
    assert!(
        snap.join("bin/busybox").is_file(),
        "pulled layer unpacked into {}",
        snap.display()
    );
    let before = std::fs::metadata(&snap).unwrap().ino();

    // A second pull changes nothing and unpacks nothing.
    let out = b.run(&["pull", &remote]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Status: Image is up to date"), "{stderr}");
    assert_eq!(std::fs::metadata(&snap).unwrap().ino(), before);

    // An image on top of it: its base layer is in b's store, and Docker's lines for such a
    // layer are `Already exists` alone, never `Pulling fs layer` first.
    let ctx = a.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("f"), "on top\n").unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM app:1\nCOPY f /f\n").unwrap();
    let remote2 = format!("{reg}/team/app:2");
    a.ok(&["build", "-q", "-t", &remote2, ctx.to_str().unwrap()]);
    a.ok(&["push", &remote2]);
    let out = b.run(&["pull", &remote2]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let existing: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_suffix(": Already exists"))
        .collect();
    assert_eq!(existing.len(), 1, "{stderr}");
    assert!(
        !stderr.contains(&format!("{}: Pulling fs layer", existing[0])),
        "{stderr}"
    );
    assert!(stderr.contains(": Pull complete"), "{stderr}");
    assert!(
        std::fs::read_dir(b.root().join("snapshots/tmp"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "no scratch directories left behind"
    );
    b.check_clean();
}

#[test]
fn pull_of_a_missing_tag_names_the_reference() {
    let reg_dir = tempfile::tempdir().unwrap();
    let srv = Serve::start(reg_dir.path(), &["--storage", "memory"]);
    let env = Env::new();
    let remote = format!("{}/nothing/here:1", srv.addr);
    let err = env.fails(&["pull", &remote]);
    assert!(err.contains("nothing/here"), "{err}");
    // As Docker: `Pulling from` only once the registry has a manifest to pull.
    assert!(!err.contains("Pulling from"), "{err}");
    // Nothing was written for the failed pull.
    assert_eq!(env.ok(&["images", "-q"]).trim(), "");
}

/// chainIDs of a layer stack: chain(0) = diffID(0), chain(n) = sha256(chain(n-1) + " " + diffID(n)).
fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    use sha2::Digest as _;
    let mut out: Vec<String> = Vec::new();
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(format!("{prev} {d}").as_bytes()))
            ),
        };
        out.push(next);
    }
    out
}

#[test]
fn every_layer_of_a_pulled_image_becomes_its_snapshot() {
    let reg_dir = tempfile::tempdir().unwrap();
    let srv = Serve::start(reg_dir.path(), &["--storage", "memory"]);
    let a = Env::new();
    a.busybox("base:1");
    let ctx = a.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM base:1\nRUN echo one > /one && mkdir /data && echo x > /data/x\nRUN rm -r /data && echo two > /two\nRUN echo three > /three\n",
    )
    .unwrap();
    a.ok(&["build", "-q", "-t", "layered:1", ctx.to_str().unwrap()]);
    let remote = format!("{}/team/layered:1", srv.addr);
    a.ok(&["push", "layered:1", &remote]);

    let b = Env::new();
    b.ok(&["pull", "-q", &remote]);
    let layers: Vec<String> =
        serde_json::from_str(&inspect(&b, &remote, "{{json .RootFS.Layers}}")).unwrap();
    assert_eq!(layers.len(), 4, "{layers:?}");
    let snaps = b.root().join("snapshots");
    let chain = chain_ids(&layers);
    for c in &chain {
        let dir = snaps.join(c.strip_prefix("sha256:").unwrap());
        assert!(dir.is_dir(), "snapshot {c} missing");
    }
    let top = |i: usize| snaps.join(chain[i].strip_prefix("sha256:").unwrap());
    assert_eq!(
        std::fs::read_to_string(top(1).join("one")).unwrap(),
        "one\n"
    );
    assert_eq!(
        std::fs::read_to_string(top(3).join("three")).unwrap(),
        "three\n"
    );
    // The deletion is an overlay whiteout (a 0/0 character device) in its layer's snapshot.
    use std::os::unix::fs::FileTypeExt;
    let wh = std::fs::symlink_metadata(top(2).join("data")).unwrap();
    assert!(wh.file_type().is_char_device(), "{wh:?}");
    b.check_clean();
}

#[test]
fn all_tags_round_trip_and_search_lists_the_repository() {
    let reg_dir = tempfile::tempdir().unwrap();
    let srv = Serve::start(reg_dir.path(), &["--storage", "memory"]);
    let reg = srv.addr.to_string();
    let a = Env::new();
    let one = a.tiny("tools:1", "one");
    let two = a.tiny("tools:2", "two");
    a.ok(&["tag", "tools:1", &format!("{reg}/team/tools:1")]);
    a.ok(&["tag", "tools:2", &format!("{reg}/team/tools:2")]);
    a.ok(&["push", "--all-tags", &format!("{reg}/team/tools")]);

    let b = Env::new();
    b.ok(&["pull", "--all-tags", &format!("{reg}/team/tools")]);
    assert_eq!(inspect(&b, &format!("{reg}/team/tools:1"), "{{.Id}}"), one);
    assert_eq!(inspect(&b, &format!("{reg}/team/tools:2"), "{{.Id}}"), two);

    // An OCI registry has no search API: the catalog, filtered by the term; names from a
    // registry other than Docker Hub carry its host, as Docker shows them.
    let found = b.ok(&["search", "--format", "{{.Name}}", &format!("{reg}/tools")]);
    assert_eq!(found.trim(), format!("{reg}/team/tools"), "{found}");
    let none = b.ok(&["search", "--format", "{{.Name}}", &format!("{reg}/nothing")]);
    assert_eq!(none.trim(), "");
}

/// `run`/`create` pull an image missing from the store, as Docker's CLI does, with the pull's
/// lines on stderr; `--pull never` and an unreachable registry fail with exit status 125.
#[test]
fn run_pulls_a_missing_image() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: not running as root (containers need namespaces and overlayfs)");
        return;
    }
    let reg_dir = tempfile::tempdir().unwrap();
    let srv = Serve::start(reg_dir.path(), &["--storage", "memory"]);
    let a = Env::new();
    let id = a.busybox("app:1");
    let remote = format!("{}/team/app", srv.addr);
    a.ok(&["push", "app:1", &format!("{remote}:latest")]);

    let b = Env::new();
    let out = b.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        &remote,
        "sh",
        "-c",
        "echo ran",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("Unable to find image '{remote}:latest' locally").as_str()),
        "{stderr}"
    );
    assert_eq!(
        lines.last().copied(),
        Some(format!("Status: Downloaded newer image for {remote}:latest").as_str()),
        "{stderr}"
    );
    assert_eq!(inspect(&b, &format!("{remote}:latest"), "{{.Id}}"), id);

    // Present now: no pull, nothing on stderr.
    let out = b.run(&["run", "--rm", "--network", "none", &remote, "true"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");

    // --pull always pulls first (up to date), create prints only the ID on stdout.
    let out = b.run(&[
        "create",
        "--pull",
        "always",
        "--network",
        "none",
        &remote,
        "true",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.ends_with(&format!(
            "Status: Image is up to date for {remote}:latest\n"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("Unable to find image"), "{stderr}");
    let cid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(cid.len(), 64, "{cid}");
    b.ok(&["rm", &cid]);

    // --pull never: Docker's daemon message and the help pointer.
    let out = b.run(&[
        "run",
        "--rm",
        "--pull",
        "never",
        &format!("{remote}:2"),
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("strata: No such image: {remote}:2\nSee 'strata run --help'.\n")
    );

    // A registry nobody listens on: 125, and the message names it.
    let gone = format!("127.0.0.1:{}", common::free_port());
    let out = b.run(&["run", "--rm", &format!("{gone}/team/app:1"), "true"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "Unable to find image '{gone}/team/app:1' locally\n"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("strata: failed to reach http://{gone}/v2/")),
        "{stderr}"
    );
    b.check_clean();
}
