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
