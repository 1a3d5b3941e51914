//! Shared helpers for the CLI tests: a private store per test and a busybox base image made
//! from Debian's busybox-static.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
        c.env("STRATA_ROOT", self.root());
        c.env_remove("STRATA_LOG");
        c
    }

    /// Run strata; return the output whatever the status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run strata")
    }

    /// Run strata, require success, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "strata {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Run strata, require failure, return stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "strata {args:?} unexpectedly succeeded:\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).expect("utf-8 stderr")
    }

    /// A busybox rootfs directory (made once per test env).
    pub fn busybox_rootfs(&self) -> PathBuf {
        let dir = self.path("busybox-rootfs");
        if !dir.exists() {
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-busybox-rootfs.sh");
            let st = Command::new("bash")
                .arg(script)
                .arg(&dir)
                .output()
                .expect("run make-busybox-rootfs.sh");
            assert!(
                st.status.success(),
                "make-busybox-rootfs.sh failed (is busybox-static installed? scripts/deps.sh installs it): {}",
                String::from_utf8_lossy(&st.stderr)
            );
        }
        dir
    }

    /// Import the busybox rootfs as `name`; returns the image ID.
    pub fn busybox(&self, name: &str) -> String {
        let rootfs = self.busybox_rootfs();
        self.ok(&[
            "import",
            "-c",
            "CMD [\"sh\"]",
            rootfs.to_str().unwrap(),
            name,
        ])
        .trim()
        .to_string()
    }

    /// A tiny image from a directory with one file; returns the image ID.
    pub fn tiny(&self, name: &str, content: &str) -> String {
        let dir = self.path(&format!("tiny-{}", name.replace(['/', ':'], "_")));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/content"), content).unwrap();
        self.ok(&["import", dir.to_str().unwrap(), name])
            .trim()
            .to_string()
    }

    /// Import `rootfs` as image `name` with the config of Docker Hub's busybox (its CMD and
    /// PATH), and save it as a docker-archive for a peer to load; returns the archive.
    pub fn import_base(&self, rootfs: &Path, name: &str) -> PathBuf {
        self.ok(&[
            "import",
            "-c",
            "CMD [\"/bin/sh\"]",
            "-c",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            rootfs.to_str().unwrap(),
            name,
        ]);
        let tar = self.path("base.tar");
        self.ok(&["save", "-o", tar.to_str().unwrap(), name]);
        tar
    }

    pub fn check_clean(&self) {
        let out = self.run(&["system", "check"]);
        assert!(
            out.status.success(),
            "system check found problems:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Why tests that compare with a private dockerd cannot run here, if they cannot: they
/// need root, `tools` (besides dockerd and the docker client), busybox-static and, with
/// `overlay`, the kernel's overlayfs.
pub fn docker_skip_reason(tools: &[&str], overlay: bool) -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root (dockerd and containers need it)".into());
    }
    if overlay && !std::fs::read_to_string("/proc/filesystems").is_ok_and(|f| f.contains("overlay"))
    {
        return Some("the kernel has no overlayfs".into());
    }
    for tool in ["dockerd"].iter().chain(tools) {
        if !have(tool) {
            return Some(format!(
                "{tool} is not installed (scripts/deps.sh test installs it)"
            ));
        }
    }
    if !Path::new("/usr/bin/docker").exists() && !have("docker") {
        return Some(
            "the docker client is not installed (scripts/deps.sh test installs it)".into(),
        );
    }
    if !Path::new("/bin/busybox").exists() {
        return Some("busybox-static is not installed (scripts/deps.sh test installs it)".into());
    }
    None
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

pub fn run_tool(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A free TCP port on 127.0.0.1: bound, then released for the caller to bind right away.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// Unmount, lazily and deepest first, whatever is still mounted under `dir`: what a daemon
/// that died without its clean shutdown leaves behind (overlay mounts, bind mounts of its
/// data root).
pub fn unmount_under(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    // Field 5 is the mount point, with spaces and the like escaped as octal (\040).
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| p.replace("\\040", " "))
        .filter(|p| Path::new(p).starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        if let Ok(c) = std::ffi::CString::new(p) {
            // SAFETY: a valid NUL-terminated path; umount2 has no other preconditions.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// Debian's `docker-registry` (distribution 2.8) serving plain HTTP on a free 127.0.0.1 port,
/// storing under its own temporary directory; killed on drop.
pub struct Registry {
    child: std::process::Child,
    /// `127.0.0.1:PORT`
    pub host: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().expect("tempdir");
        // Another process may take the port between free_port and the registry's bind: retry.
        for _ in 0..5 {
            let port = free_port();
            let config = format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: strata-test\n",
                dir.path().join("data").display()
            );
            let cfg = dir.path().join("config.yml");
            std::fs::write(&cfg, config).expect("write registry config");
            let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&cfg)
                .stdin(std::process::Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .expect("start docker-registry (scripts/deps.sh test installs it)");
            let host = format!("127.0.0.1:{port}");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if std::net::TcpStream::connect(&host).is_ok() {
                    return Registry {
                        child,
                        host,
                        _dir: dir,
                    };
                }
                if std::time::Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        panic!(
            "docker-registry did not start: {}",
            std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default()
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private `dockerd`: its own data root, exec root (and so its own containerd) and socket;
/// no bridge, no iptables rules, no IP forwarding or masquerading, so the host's networking
/// is left as it was; vfs storage so nothing stays mounted. Stopped on drop.
pub struct Dockerd {
    child: std::process::Child,
    sock: String,
    dir: tempfile::TempDir,
}

impl Dockerd {
    pub fn start() -> Result<Dockerd, String> {
        use std::process::Stdio;
        use std::time::{Duration, Instant};
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
                "--ip-forward=false",
                "--ip-masq=false",
                "--storage-driver=vfs",
            ])
            .args(["--containerd-namespace", "strata-test"])
            .args(["--containerd-plugins-namespace", "strata-test-plugins"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start dockerd: {e}"))?;
        let mut d = Dockerd { child, sock, dir };
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
                return Err(format!("dockerd exited ({status}): {}", d.log()));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!("dockerd did not answer within 60 s: {}", d.log()))
    }

    /// What dockerd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// A client command for this daemon.
    pub fn cmd(&self) -> Command {
        // Debian's client matches the daemon's version (and has BuildKit built in).
        let client = if Path::new("/usr/bin/docker").exists() {
            "/usr/bin/docker"
        } else {
            "docker"
        };
        let mut c = Command::new(client);
        c.args(["-H", &self.sock])
            .env("DOCKER_CONFIG", self.dir.path().join("client"));
        c
    }

    /// Run the client, require success, return its trimmed stdout.
    /// `docker load` the archive `tar`, which holds image `name`.
    pub fn load(&self, tar: &Path, name: &str) {
        let loaded = self.run(&["load", "-i", tar.to_str().unwrap()]);
        assert!(loaded.contains(name), "docker load: {loaded}");
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = run_tool(self.cmd().args(args));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        use std::time::{Duration, Instant};
        // SIGTERM first: dockerd stops its containerd and unmounts on a clean shutdown.
        // SAFETY: kill(2) on the PID of our own child, which we have not reaped yet.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut stopped = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                stopped = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
            // Its containerd (a child of dockerd, recorded in the exec root) would outlive it.
            let pidfile = self.dir.path().join("x/containerd/containerd.pid");
            if let Some(pid) = std::fs::read_to_string(pidfile)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                // SAFETY: kill(2) has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        unmount_under(self.dir.path());
    }
}

/// Podman with private configuration, storage and run root under `dir` (nothing of the
/// system's), runc with cgroupfs, container rlimits within the host's hard limits, and one
/// insecure (plain HTTP) registry. Its storage is reset on drop.
pub struct Podman {
    dir: PathBuf,
}

impl Podman {
    /// vfs storage: no overlay mounts left behind by a failing test.
    pub fn new(dir: &Path, registry: &str) -> Podman {
        Podman::with_driver(dir, registry, "vfs")
    }

    /// `driver`: a containers-storage driver (`vfs`, `overlay`).
    pub fn with_driver(dir: &Path, registry: &str, driver: &str) -> Podman {
        let etc = dir.join("etc");
        std::fs::create_dir_all(&etc).expect("podman config dir");
        std::fs::create_dir_all(dir.join("xdg")).expect("podman XDG_RUNTIME_DIR");
        std::fs::write(
            etc.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"{driver}\"\nrunroot = \"{0}/run\"\ngraphroot = \"{0}/storage\"\n",
                dir.display()
            ),
        )
        .expect("write storage.conf");
        // runc: crun refuses hybrid cgroup layouts. The default rlimits (nofile 1048576) can
        // exceed the host's hard limits when CAP_SYS_RESOURCE is missing.
        std::fs::write(
            etc.join("containers.conf"),
            format!(
                "[containers]\nlog_driver = \"k8s-file\"\n\
                 default_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
                 [engine]\ncgroup_manager = \"cgroupfs\"\nruntime = \"runc\"\nevents_logger = \"file\"\n\
                 events_logfile_path = \"{0}/events.log\"\ntmp_dir = \"{0}/tmp\"\n\
                 [network]\nnetwork_config_dir = \"{0}/networks\"\n",
                dir.display()
            ),
        )
        .expect("write containers.conf");
        std::fs::write(
            etc.join("registries.conf"),
            format!(
                "unqualified-search-registries = []\n[[registry]]\nlocation = \"{registry}\"\ninsecure = true\n"
            ),
        )
        .expect("write registries.conf");
        Podman {
            dir: dir.to_path_buf(),
        }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        let etc = self.dir.join("etc");
        c.env("CONTAINERS_STORAGE_CONF", etc.join("storage.conf"))
            .env("CONTAINERS_CONF", etc.join("containers.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", etc.join("registries.conf"))
            .env("XDG_RUNTIME_DIR", self.dir.join("xdg"));
        c
    }

    /// Run podman, require success, return its trimmed stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = run_tool(self.cmd().args(args));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self
            .cmd()
            .args(["system", "reset", "--force"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        unmount_under(&self.dir);
    }
}
