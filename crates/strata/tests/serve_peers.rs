//! `strata serve` with the clients people already use: Podman and Docker push to it and pull
//! from it, and images keep their digests both ways (what the client reports after a push is
//! what the registry serves, and what it pulls back carries the same digest). Each client runs
//! with private configuration and storage under a temporary directory, against a server on
//! 127.0.0.1; the test prints why it skips when a client is not installed
//! (`scripts/deps.sh test` installs both).

mod serve_common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serve_common::*;

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
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

struct Podman {
    dir: PathBuf,
}

impl Podman {
    fn new(dir: &Path, registry: &str) -> Podman {
        let etc = dir.join("etc");
        std::fs::create_dir_all(&etc).unwrap();
        // vfs storage: no overlay mounts left behind by a failing test.
        std::fs::write(
            etc.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\nrunroot = \"{0}/run\"\ngraphroot = \"{0}/storage\"\n",
                dir.display()
            ),
        )
        .unwrap();
        std::fs::write(
            etc.join("containers.conf"),
            format!(
                "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 events_logfile_path = \"{0}/events.log\"\ntmp_dir = \"{0}/tmp\"\n",
                dir.display()
            ),
        )
        .unwrap();
        std::fs::write(
            etc.join("registries.conf"),
            format!(
                "unqualified-search-registries = []\n[[registry]]\nlocation = \"{registry}\"\ninsecure = true\n"
            ),
        )
        .unwrap();
        Podman {
            dir: dir.to_path_buf(),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        let etc = self.dir.join("etc");
        c.env("CONTAINERS_STORAGE_CONF", etc.join("storage.conf"))
            .env("CONTAINERS_CONF", etc.join("containers.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", etc.join("registries.conf"))
            .env("XDG_RUNTIME_DIR", self.dir.join("xdg"));
        c
    }

    fn run(&self, args: &[&str]) -> String {
        stdout(&run_ok(self.cmd().args(args)))
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self
            .cmd()
            .args(["system", "reset", "--force"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
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

/// A private `dockerd` (own data root, exec root and socket; no bridge, no iptables rules, vfs
/// storage so nothing stays mounted), stopped on drop.
struct Dockerd {
    child: Child,
    sock: String,
    _dir: tempfile::TempDir,
}

impl Dockerd {
    fn start() -> Result<Dockerd, String> {
        // The socket path must stay short (sockaddr_un), so not under a deep temp dir.
        let dir = tempfile::Builder::new()
            .prefix("sdk")
            .tempdir_in("/tmp")
            .map_err(|e| e.to_string())?;
        let p = dir.path();
        let sock = format!("unix://{}/d.sock", p.display());
        let log = std::fs::File::create(p.join("dockerd.log")).map_err(|e| e.to_string())?;
        let child = Command::new("dockerd")
            .args(["--data-root", &p.join("data").to_string_lossy()])
            .args(["--exec-root", &p.join("x").to_string_lossy()])
            .args(["--pidfile", &p.join("dockerd.pid").to_string_lossy()])
            .args(["-H", &sock])
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--storage-driver=vfs",
            ])
            .args(["--containerd-namespace", "strata-test"])
            .args(["--containerd-plugins-namespace", "strata-test-plugins"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start dockerd: {e}"))?;
        let mut d = Dockerd {
            child,
            sock,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if d.cmd()
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
            {
                return Ok(d);
            }
            if let Ok(Some(status)) = d.child.try_wait() {
                let log =
                    std::fs::read_to_string(d._dir.path().join("dockerd.log")).unwrap_or_default();
                return Err(format!("dockerd exited ({status}): {log}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err("dockerd did not answer within 60 s".into())
    }

    fn cmd(&self) -> Command {
        // Debian's client matches the daemon's version.
        let client = if Path::new("/usr/bin/docker").exists() {
            "/usr/bin/docker"
        } else {
            "docker"
        };
        let mut c = Command::new(client);
        c.args(["-H", &self.sock])
            .env("DOCKER_CONFIG", self._dir.path().join("client"));
        c
    }

    fn run(&self, args: &[&str]) -> String {
        stdout(&run_ok(self.cmd().args(args)))
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SIGTERM first: dockerd stops its containerd and unmounts on a clean shutdown.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
