//! `strata serve` with the clients people already use: Podman and Docker push to it and pull
//! from it, and images keep their digests both ways (what the client reports after a push is
//! what the registry serves, and what it pulls back carries the same digest). Each client runs
//! with private configuration and storage under a temporary directory, against a server on
//! 127.0.0.1; the test prints why it skips when a client is not installed
//! (`scripts/deps.sh test` installs both).

mod common;
mod serve_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Dockerd, Podman};
use serve_common::*;

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The digest the registry serves for `repo:tag` (a HEAD with every manifest type accepted).
fn served_digest(srv: &Serve, repo: &str, tag: &str) -> String {
    let accept = "application/vnd.oci.image.manifest.v1+json, \
                  application/vnd.docker.distribution.manifest.v2+json, \
                  application/vnd.oci.image.index.v1+json, \
                  application/vnd.docker.distribution.manifest.list.v2+json";
    let r = srv.http(
        "HEAD",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Accept", accept)],
        b"",
    );
    assert_eq!(r.status, 200, "HEAD {repo}:{tag}");
    r.header("docker-content-digest")
        .expect("a Docker-Content-Digest header")
        .to_string()
}

/// A root filesystem tarball with a couple of files: enough for `import`.
fn rootfs_tar(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/hello"), b"hello from strata serve\n").unwrap();
    std::fs::write(root.join("data.bin"), noise(7, 256 << 10)).unwrap();
    let tar = dir.join("rootfs.tar");
    run_ok(Command::new("tar").args([
        "-C",
        root.to_str().unwrap(),
        "--numeric-owner",
        "-cf",
        tar.to_str().unwrap(),
        ".",
    ]));
    tar
}

/// Push an OCI layout's `v1` with skopeo (as published by any other tool) to `dest`.
fn skopeo_push(layout: &Path, dest: &str) {
    let skopeo = skopeo().expect("skopeo (scripts/deps.sh test installs it)");
    run_ok(Command::new(skopeo).args([
        "--insecure-policy",
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{dest}"),
    ]));
}

#[test]
fn podman_pushes_and_pulls_with_unchanged_digests() {
    if !installed("podman") {
        eprintln!("skipping: podman is not installed (scripts/deps.sh test installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let srv = Serve::start(dir.path(), &["--storage", "memory"]);
    let reg = srv.addr.to_string();
    let podman = Podman::new(&dir.path().join("podman"), &reg);

    // Podman pushes an image it made; the registry serves the digest Podman reported.
    let tar = rootfs_tar(dir.path());
    podman.run(&[
        "import",
        "--change",
        "CMD [\"/bin/true\"]",
        tar.to_str().unwrap(),
        "localhost/interop/podman:v1",
    ]);
    let digestfile = dir.path().join("pushed.digest");
    podman.run(&[
        "push",
        "--tls-verify=false",
        "--digestfile",
        digestfile.to_str().unwrap(),
        "localhost/interop/podman:v1",
        &format!("docker://{reg}/interop/podman:v1"),
    ]);
    let pushed = std::fs::read_to_string(&digestfile).unwrap();
    let pushed = pushed.trim();
    assert!(pushed.starts_with("sha256:"), "{pushed}");
    assert_eq!(served_digest(&srv, "interop/podman", "v1"), pushed);

    // Podman pulls it back (from an empty store) with the same digest.
    podman.run(&["rmi", "-a", "-f"]);
    podman.run(&[
        "pull",
        "--tls-verify=false",
        &format!("{reg}/interop/podman:v1"),
    ]);
    let pulled = podman.run(&[
        "image",
        "inspect",
        "--format",
        "{{.Digest}}",
        &format!("{reg}/interop/podman:v1"),
    ]);
    assert_eq!(pulled, pushed);
    let content = podman.run(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Cmd}}",
        &format!("{reg}/interop/podman:v1"),
    ]);
    assert_eq!(content, "[\"/bin/true\"]");

    // An OCI image published by another tool is pulled by Podman with its digest.
    let layout = dir.path().join("layout");
    let md = make_layout(&layout, 64 << 10);
    skopeo_push(&layout, &format!("{reg}/interop/oci:v1"));
    podman.run(&[
        "pull",
        "--tls-verify=false",
        &format!("{reg}/interop/oci:v1"),
    ]);
    let pulled = podman.run(&[
        "image",
        "inspect",
        "--format",
        "{{.Digest}}",
        &format!("{reg}/interop/oci:v1"),
    ]);
    assert_eq!(pulled, md.to_string());
}

#[test]
fn docker_pushes_and_pulls_with_unchanged_digests() {
    if !installed("dockerd") {
        eprintln!("skipping: dockerd is not installed (scripts/deps.sh test installs docker.io)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let srv = Serve::start(dir.path(), &["--storage", "memory"]);
    let reg = srv.addr.to_string();
    let docker = Dockerd::start().unwrap_or_else(|e| panic!("{e}"));

    // Docker pushes an image it made (127.0.0.0/8 registries are insecure by default).
    let tar = rootfs_tar(dir.path());
    let image = format!("{reg}/interop/docker:v1");
    docker.run(&[
        "import",
        "--change",
        "CMD [\"/bin/true\"]",
        tar.to_str().unwrap(),
        &image,
    ]);
    let out = docker.run(&["push", &image]);
    // "v1: digest: sha256:… size: N"
    let pushed = out
        .lines()
        .find_map(|l| l.split("digest: ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest in docker push output: {out}"))
        .to_string();
    assert_eq!(served_digest(&srv, "interop/docker", "v1"), pushed);

    // Docker pulls it back with the same digest.
    docker.run(&["rmi", "-f", &image]);
    docker.run(&["pull", &image]);
    let repo_digests = docker.run(&[
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        &image,
    ]);
    assert!(
        repo_digests.contains(&format!("{reg}/interop/docker@{pushed}")),
        "{repo_digests}"
    );

    // An OCI image published by another tool is pulled by Docker with its digest.
    let layout = dir.path().join("layout");
    let md = make_layout(&layout, 64 << 10);
    skopeo_push(&layout, &format!("{reg}/interop/oci:v1"));
    docker.run(&["pull", &format!("{reg}/interop/oci:v1")]);
    let repo_digests = docker.run(&[
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        &format!("{reg}/interop/oci:v1"),
    ]);
    assert!(
        repo_digests.contains(&format!("{reg}/interop/oci@{md}")),
        "{repo_digests}"
    );
}
