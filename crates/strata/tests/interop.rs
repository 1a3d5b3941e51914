//! Interop with Debian's skopeo and umoci: they read Strata's store as an OCI layout, read
//! archives Strata writes, and write archives Strata loads with the same image ID.
//! Each test prints why it skips when the tool is missing (`scripts/deps.sh test` installs them).

mod common;
use std::process::Command;

use common::{Env, have, run_tool};

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn skip(tool: &str) -> bool {
    if have(tool) {
        false
    } else {
        eprintln!("SKIP: {tool} is not installed (scripts/deps.sh test installs it)");
        true
    }
}

#[test]
fn skopeo_reads_the_store_directly() {
    if skip("skopeo") {
        return;
    }
    let env = Env::new();
    env.busybox("bb:1");
    env.busybox("127.0.0.1:5000/app:2.0");
    let manifest_digest = env.ok(&["inspect", "-f", "{{.Descriptor.digest}}", "bb:1"]);
    let layout = format!(
        "oci:{}:docker.io/library/bb:1",
        env.root().join("oci").display()
    );
    let out = run_tool(Command::new("skopeo").args(["inspect", &layout]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Digest"], manifest_digest.trim());
    assert_eq!(v["Os"], "linux");

    // A name with a registry port works too.
    let layout2 = format!(
        "oci:{}:127.0.0.1:5000/app:2.0",
        env.root().join("oci").display()
    );
    run_tool(Command::new("skopeo").args(["inspect", &layout2]));

    // skopeo copy out of the store.
    let dest = env.path("copy");
    run_tool(Command::new("skopeo").args(["copy", &layout, &format!("dir:{}", dest.display())]));
    assert!(dest.join("manifest.json").exists());
}

#[test]
fn umoci_unpacks_from_the_store() {
    if skip("umoci") {
        return;
    }
    let env = Env::new();
    env.busybox("bb:1");
    let image = format!(
        "{}:docker.io/library/bb:1",
        env.root().join("oci").display()
    );
    let bundle = env.path("bundle");
    let mut cmd = Command::new("umoci");
    cmd.args(["unpack", "--image", &image, bundle.to_str().unwrap()]);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        cmd.arg("--rootless");
    }
    run_tool(&mut cmd);
    assert!(bundle.join("rootfs/bin/busybox").is_file());
    assert!(bundle.join("config.json").is_file());
}

#[test]
fn skopeo_reads_strata_archives() {
    if skip("skopeo") {
        return;
    }
    let env = Env::new();
    let id = env.busybox("bb:1");
    let tar = env.path("bb.tar");
    env.ok(&["save", "-o", tar.to_str().unwrap(), "bb:1"]);
    let out = run_tool(Command::new("skopeo").args([
        "inspect",
        "--config",
        "--raw",
        &format!("docker-archive:{}", tar.display()),
    ]));
    assert_eq!(
        format!("sha256:{}", sha256_hex(&out.stdout)),
        id,
        "same config bytes"
    );
    let dest = env.path("out");
    run_tool(Command::new("skopeo").args([
        "copy",
        &format!("docker-archive:{}", tar.display()),
        &format!("dir:{}", dest.display()),
    ]));

    let oci = env.path("bb-oci.tar");
    env.ok(&[
        "save",
        "--format",
        "oci",
        "-o",
        oci.to_str().unwrap(),
        "bb:1",
    ]);
    let out = run_tool(Command::new("skopeo").args([
        "inspect",
        "--config",
        "--raw",
        &format!("oci-archive:{}:docker.io/library/bb:1", oci.display()),
    ]));
    assert_eq!(format!("sha256:{}", sha256_hex(&out.stdout)), id);
}

#[test]
fn archives_written_by_skopeo_load_with_the_same_image_id() {
    if skip("skopeo") {
        return;
    }
    let env = Env::new();
    env.busybox("bb:1");
    let layout = format!(
        "oci:{}:docker.io/library/bb:1",
        env.root().join("oci").display()
    );

    for (kind, dest) in [
        (
            "docker-archive",
            format!("docker-archive:{}:sk/docker:1", env.path("d.tar").display()),
        ),
        (
            "oci-archive",
            format!(
                "oci-archive:{}:docker.io/sk/oci:1",
                env.path("o.tar").display()
            ),
        ),
    ] {
        run_tool(Command::new("skopeo").args(["copy", &layout, &dest]));
        let cfg = run_tool(Command::new("skopeo").args(["inspect", "--config", "--raw", &dest]));
        let expected = format!("sha256:{}", sha256_hex(&cfg.stdout));
        let file = if kind == "docker-archive" {
            env.path("d.tar")
        } else {
            env.path("o.tar")
        };
        let other = Env::new();
        let out = other.ok(&["load", "-i", file.to_str().unwrap()]);
        assert!(out.starts_with("Loaded image"), "{kind}: {out}");
        let ids = other.ok(&["images", "-q", "--no-trunc"]);
        assert_eq!(ids.trim(), expected, "{kind}: image ID kept");
        other.check_clean();
    }
}
