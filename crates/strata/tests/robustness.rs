//! The store under stress through the binary: parallel processes, SIGKILL at random points,
//! and hostile input that must be refused with nothing written.

mod common;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Env;

/// A small deterministic generator (no external randomness in tests).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn eight_processes_import_tag_and_remove_at_once() {
    let env = Env::new();
    env.tiny("seed:1", "seed");
    let threads: Vec<_> = (0..8)
        .map(|w| {
            let root = env.root();
            let dir = env.path(&format!("w{w}"));
            std::thread::spawn(move || {
                std::fs::create_dir_all(dir.join("d")).unwrap();
                let run = |args: &[&str]| {
                    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
                        .env("STRATA_ROOT", &root)
                        .args(args)
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "worker {w}: strata {args:?}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                };
                for i in 0..4 {
                    std::fs::write(dir.join("d/file"), format!("{w}-{i}")).unwrap();
                    let name = format!("w{w}/img:{i}");
                    run(&["import", dir.join("d").to_str().unwrap(), &name]);
                    run(&["tag", &name, &format!("w{w}/alias:{i}")]);
                    run(&["tag", "seed:1", &format!("w{w}/seed:{i}")]);
                    if i % 2 == 1 {
                        run(&["rmi", &format!("w{w}/alias:{i}")]);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("worker panicked");
    }
    let names = env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    for w in 0..8 {
        for i in 0..4 {
            for expected in [format!("w{w}/img:{i}"), format!("w{w}/seed:{i}")] {
                assert!(
                    names.lines().any(|l| l == expected),
                    "lost tag {expected}:\n{names}"
                );
            }
            let alias = format!("w{w}/alias:{i}");
            assert_eq!(names.lines().any(|l| l == alias), i % 2 == 0, "{alias}");
        }
    }
    env.check_clean();
}

#[test]
fn sigkill_during_import_and_load_leaves_a_consistent_store() {
    let env = Env::new();
    // Inputs big enough that a kill often lands mid-write: a busybox rootfs with a few MB
    // of incompressible data, imported from a directory, and an archive of it.
    let rootfs = env.busybox_rootfs();
    let mut rng = Lcg(0x5eed);
    let mut junk = vec![0u8; 6 << 20];
    for b in junk.iter_mut() {
        *b = rng.next() as u8;
    }
    std::fs::write(rootfs.join("junk.bin"), &junk).unwrap();
    env.ok(&["import", rootfs.to_str().unwrap(), "base:1"]);
    let archive = env.path("base.tar");
    env.ok(&["save", "-o", archive.to_str().unwrap(), "base:1"]);
    env.ok(&["rmi", "base:1"]);
    // Kills are spread over how long each command takes here (how long a run takes
    // changes with the machine and with Strata's speed), so most land mid-run.
    let timed = |args: &[&str]| {
        let start = std::time::Instant::now();
        env.ok(args);
        (start.elapsed().as_millis() as u64).max(5)
    };
    let import_ms = timed(&["import", rootfs.to_str().unwrap(), "timed:1"]);
    let load_ms = timed(&["load", "-q", "-i", archive.to_str().unwrap()]);
    env.ok(&["rmi", "timed:1", "base:1"]);

    let mut killed_mid_run = 0;
    for round in 0..50 {
        let load = round % 2 == 1;
        let mut cmd = env.cmd();
        if load {
            cmd.args(["load", "-q", "-i", archive.to_str().unwrap()]);
        } else {
            cmd.args([
                "import",
                rootfs.to_str().unwrap(),
                &format!("crash:{round}"),
            ]);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let span = if load { load_ms } else { import_ms };
        std::thread::sleep(Duration::from_millis(rng.next() % span));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        env.check_clean();
        // No partial blob is visible under its digest: check_clean re-hashes every blob.
    }
    assert!(
        killed_mid_run >= 10,
        "only {killed_mid_run} of 50 kills landed mid-run"
    );
    // A retry succeeds after all that.
    env.ok(&["load", "-i", archive.to_str().unwrap()]);
    env.ok(&["import", rootfs.to_str().unwrap(), "crash:final"]);
    env.check_clean();
    env.ok(&["system", "gc"]);
    env.check_clean();
}

/// Write a tar with arbitrary (hostile) entries using Python's tarfile, which, unlike Rust's
/// tar builder, lets us write any name.
fn hostile_tar(path: &std::path::Path, script: &str) {
    let py = format!(
        "import tarfile, io, sys\nt = tarfile.open(sys.argv[1], 'w')\n\
def f(name, data=b'x', **kw):\n    i = tarfile.TarInfo(name); i.size = len(data)\n    \
for k, v in kw.items(): setattr(i, k, v)\n    t.addfile(i, io.BytesIO(data))\n\
def l(name, target, kind):\n    i = tarfile.TarInfo(name); i.type = kind; i.linkname = target; t.addfile(i)\n\
{script}\nt.close()\n"
    );
    let st = Command::new("python3")
        .arg("-c")
        .arg(py)
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "python3 tarfile");
}

fn assert_nothing_written(env: &Env) {
    assert_eq!(env.ok(&["images", "-q"]), "");
    let blobs = env.root().join("oci/blobs/sha256");
    let n = std::fs::read_dir(&blobs).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "no blob may be visible after a refused import");
    env.check_clean();
}

#[test]
fn hostile_rootfs_tars_are_refused_with_nothing_written() {
    if !common::have("python3") {
        eprintln!("SKIP: python3 is needed to write hostile tars");
        return;
    }
    let cases: &[(&str, &str, &str)] = &[
        ("dotdot", "f('../escape')", "../escape"),
        ("absolute", "f('/etc/passwd')", "/etc/passwd"),
        (
            "symlink-escape",
            "l('up', '../../..', tarfile.SYMTYPE)",
            "up",
        ),
        (
            "hardlink-escape",
            "l('h', '../outside', tarfile.LNKTYPE)",
            "h",
        ),
        (
            "through-symlink",
            "l('s', '/etc', tarfile.SYMTYPE)\nf('s/passwd')",
            "s/passwd",
        ),
    ];
    for (label, script, entry) in cases {
        let env = Env::new();
        let tar = env.path(&format!("{label}.tar"));
        hostile_tar(&tar, script);
        let err = env.fails(&["import", tar.to_str().unwrap(), "bad:1"]);
        assert!(
            err.contains(entry),
            "{label}: the error names the entry {entry:?}: {err}"
        );
        assert_nothing_written(&env);
    }

    // Truncated and corrupt archives.
    let env = Env::new();
    let good = env.path("good.tar");
    hostile_tar(&good, "f('a', b'y' * 5000)");
    let bytes = std::fs::read(&good).unwrap();
    let truncated = env.path("trunc.tar");
    std::fs::write(&truncated, &bytes[..1500]).unwrap();
    let err = env.fails(&["import", truncated.to_str().unwrap(), "bad:1"]);
    assert!(err.contains("trunc"), "{err}");
    let garbage = env.path("garbage.tar");
    std::fs::write(
        &garbage,
        b"this is not a tar archive at all, not even close........",
    )
    .unwrap();
    env.fails(&["import", garbage.to_str().unwrap(), "bad:1"]);
    assert_nothing_written(&env);
    // The same refusals hold for load.
    env.fails(&["load", "-i", truncated.to_str().unwrap()]);
    env.fails(&["load", "-i", garbage.to_str().unwrap()]);
    assert_nothing_written(&env);
}

#[test]
fn device_nodes_are_refused_when_unprivileged() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !common::have("setpriv") || !common::have("python3") {
        eprintln!("SKIP: needs root (to switch to an unprivileged user) and setpriv");
        return;
    }
    let env = Env::new();
    let tar = env.path("dev.tar");
    hostile_tar(
        &tar,
        "i = tarfile.TarInfo('dev/null'); i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 3; t.addfile(i)",
    );
    std::fs::create_dir_all(env.root()).unwrap();
    let chown = |p: &std::path::Path| {
        Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(p)
            .status()
            .unwrap();
    };
    chown(env.dir.path());
    // tempdirs are 0700: let the unprivileged user reach its files.
    Command::new("chmod")
        .arg("755")
        .arg(env.dir.path())
        .status()
        .unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "--",
        ])
        .arg(env!("CARGO_BIN_EXE_strata"))
        .env("STRATA_ROOT", env.root())
        .args(["import", tar.to_str().unwrap(), "dev:1"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "unprivileged import of a device node must fail"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dev/null"), "{err}");
    // As root the same archive imports (Docker does the same).
    env.ok(&["import", tar.to_str().unwrap(), "dev:1"]);
}
