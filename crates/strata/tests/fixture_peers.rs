//! Acceptance of `strata build` against BuildKit on the peers' benchmark fixture
//! (`../shared/peers/fixture`: two stages, a ~2400-file context with a `.dockerignore`,
//! `COPY --from`, `COPY --chown`, LABEL/ENV/WORKDIR/USER/EXPOSE/CMD).
//!
//! Strata and BuildKit (a private `dockerd`) build the fixture from the same busybox base
//! image; Strata's image goes into Debian's `docker-registry` with skopeo, BuildKit's with
//! `docker push`; Podman pulls both and runs them. Both must print the same line (the md5 of
//! the bundle the builder stage made), carry the same runtime config and the same number of
//! layers. Every daemon runs on 127.0.0.1 or a private socket, with its state under a
//! temporary directory, and is stopped when the test ends, also when it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Dockerd, Env, Podman, Registry, have, run_tool};

/// The base image's name in both Strata's store and dockerd.
const BASE: &str = "strata-fixture/busybox:1";

fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root (RUN needs namespaces and overlayfs)".into());
    }
    if !std::fs::read_to_string("/proc/filesystems").is_ok_and(|f| f.contains("overlay")) {
        return Some("the kernel has no overlayfs".into());
    }
    for tool in [
        "dockerd",
        "docker",
        "podman",
        "skopeo",
        "docker-registry",
        "runc",
        "python3",
    ] {
        if !have(tool) {
            return Some(format!(
                "{tool} is not installed (scripts/deps.sh test installs it)"
            ));
        }
    }
    if !Path::new("/bin/busybox").exists() {
        return Some("busybox-static is not installed (scripts/deps.sh test installs it)".into());
    }
    None
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peers/fixture")
}

/// The fixture's build context, generated (deterministically) by the fixture's own script,
/// which also puts its Dockerfile and .dockerignore in it.
fn fixture_context(dest: &Path) {
    run_tool(
        Command::new("bash")
            .arg(fixture_dir().join("gen-context.sh"))
            .arg(dest),
    );
    assert!(
        dest.join("Dockerfile").is_file() && dest.join(".dockerignore").is_file(),
        "gen-context.sh left no Dockerfile/.dockerignore in {}",
        dest.display()
    );
}

/// The busybox base the fixture expects: busybox-static plus the `app` user (uid 1000) its
/// `USER app` names, with a home directory.
fn base_rootfs(env: &Env) -> PathBuf {
    let rootfs = env.busybox_rootfs();
    let append = |file: &str, line: &str| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(rootfs.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        f.write_all(line.as_bytes()).unwrap();
    };
    append("etc/passwd", "app:x:1000:1000:app:/home/app:/bin/sh\n");
    append("etc/group", "app:x:1000:\n");
    let home = rootfs.join("home/app");
    std::fs::create_dir_all(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(1000), Some(1000)).unwrap();
    rootfs
}

/// The image config as the registry serves it.
fn registry_config(reference: &str) -> serde_json::Value {
    let out = run_tool(Command::new("skopeo").args([
        "inspect",
        "--tls-verify=false",
        "--config",
        &format!("docker://{reference}"),
    ]));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("skopeo inspect --config {reference}: {e}"))
}

/// The number of layers of the manifest the registry serves.
fn registry_layer_count(reference: &str) -> usize {
    let out = run_tool(Command::new("skopeo").args([
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://{reference}"),
    ]));
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("manifest of {reference}: {e}"));
    manifest["layers"]
        .as_array()
        .unwrap_or_else(|| panic!("manifest of {reference} has no layers: {manifest}"))
        .len()
}

/// `<32 lowercase hex>  out/app.bundle`: md5sum's line for the fixture's bundle.
fn is_bundle_md5_line(line: &str) -> bool {
    line.split_once("  ").is_some_and(|(sum, name)| {
        sum.len() == 32
            && sum
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && name == "out/app.bundle"
    })
}

#[test]
fn fixture_built_by_strata_runs_in_podman_like_buildkits() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipping: {reason}");
        return;
    }
    let env = Env::new();
    let ctx = env.path("ctx");
    fixture_context(&ctx);
    let build_arg = format!("BASE={BASE}");

    // The base image, in Strata's store and (through `strata save`) in dockerd: the same image.
    let rootfs = base_rootfs(&env);
    let base_tar = env.import_base(&rootfs, BASE);

    // Strata's build.
    env.ok(&[
        "build",
        "--progress=plain",
        "--network=none",
        "--build-arg",
        &build_arg,
        "-t",
        "fixture:strata",
        ctx.to_str().unwrap(),
    ]);

    // BuildKit's build, in a private dockerd.
    let docker = Dockerd::start().unwrap_or_else(|e| panic!("{e}"));
    docker.load(&base_tar, BASE);
    let registry = Registry::start();
    let reg = registry.host.as_str();
    let strata_ref = format!("{reg}/fixture:strata");
    let buildkit_ref = format!("{reg}/fixture:buildkit");
    run_tool(
        docker
            .cmd()
            .env("DOCKER_BUILDKIT", "1")
            .args(["build", "--progress=plain", "--network=none"])
            .args(["--build-arg", &build_arg, "-t", &buildkit_ref])
            .arg(&ctx),
    );

    // Into the registry: Strata's image as an OCI archive copied by skopeo, BuildKit's pushed
    // by docker (127.0.0.0/8 registries are plain HTTP for it by default).
    let archive = env.path("fixture-oci.tar");
    env.ok(&[
        "save",
        "--format",
        "oci",
        "-o",
        archive.to_str().unwrap(),
        "fixture:strata",
    ]);
    run_tool(Command::new("skopeo").args([
        "--insecure-policy",
        "copy",
        "-q",
        "--dest-tls-verify=false",
        &format!("oci-archive:{}", archive.display()),
        &format!("docker://{strata_ref}"),
    ]));
    docker.run(&["push", &buildkit_ref]);

    // Podman pulls and runs both.
    let podman = Podman::with_driver(&env.path("podman"), reg, "overlay");
    let mut printed = Vec::new();
    for reference in [&strata_ref, &buildkit_ref] {
        podman.run(&["pull", "-q", "--tls-verify=false", reference]);
        printed.push(podman.run(&["run", "--rm", "--network=none", reference]));
    }
    // And the same file tree under /app: names, owners, modes, types and file sizes.
    let tree = |reference: &str| {
        podman.run(&[
            "run",
            "--rm",
            "--network=none",
            "--user=0",
            reference,
            "sh",
            "-c",
            "find /app | sort | while read -r p; do \
             if [ -d \"$p\" ]; then stat -c '%n %u:%g %a %F' \"$p\"; \
             else stat -c '%n %u:%g %a %F %s' \"$p\"; fi; done",
        ])
    };
    let (strata_tree, buildkit_tree) = (tree(&strata_ref), tree(&buildkit_ref));
    assert!(strata_tree.lines().count() > 2000, "{strata_tree}");
    if strata_tree != buildkit_tree {
        let theirs: std::collections::BTreeSet<&str> = buildkit_tree.lines().collect();
        let ours: std::collections::BTreeSet<&str> = strata_tree.lines().collect();
        panic!(
            "the trees under /app differ:\nonly in Strata's image: {:?}\nonly in BuildKit's: {:?}",
            ours.difference(&theirs).take(20).collect::<Vec<_>>(),
            theirs.difference(&ours).take(20).collect::<Vec<_>>()
        );
    }
    let (strata_out, buildkit_out) = (&printed[0], &printed[1]);
    assert!(
        is_bundle_md5_line(buildkit_out),
        "BuildKit's image printed {buildkit_out:?}, not `<md5>  out/app.bundle`"
    );
    assert_eq!(
        strata_out, buildkit_out,
        "Strata's image and BuildKit's print different lines"
    );

    // The same runtime config and layer count, as the registry serves them.
    let strata_config = registry_config(&strata_ref);
    let buildkit_config = registry_config(&buildkit_ref);
    for key in [
        "Cmd",
        "Entrypoint",
        "User",
        "ExposedPorts",
        "Env",
        "WorkingDir",
        "Labels",
        "Volumes",
        "StopSignal",
    ] {
        assert_eq!(
            strata_config["config"][key], buildkit_config["config"][key],
            "config.{key} differs: Strata {} vs BuildKit {}",
            strata_config["config"][key], buildkit_config["config"][key]
        );
    }
    // The fixture's final stage sets these; both images must have them (not merely agree on
    // leaving them out).
    assert_eq!(strata_config["config"]["Cmd"], serde_json::json!(["app"]));
    assert_eq!(strata_config["config"]["User"], "app");
    assert_eq!(strata_config["config"]["WorkingDir"], "/app");
    assert!(
        strata_config["config"]["ExposedPorts"]
            .get("8080/tcp")
            .is_some(),
        "{}",
        strata_config["config"]
    );
    let diff_ids = |c: &serde_json::Value| {
        c["rootfs"]["diff_ids"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("config without rootfs.diff_ids: {c}"))
    };
    let (strata_layers, buildkit_layers) = (diff_ids(&strata_config), diff_ids(&buildkit_config));
    assert_eq!(
        strata_layers.len(),
        buildkit_layers.len(),
        "layer count differs: Strata {strata_layers:?} vs BuildKit {buildkit_layers:?}"
    );
    // Both start from the same base image, so from the same first layer.
    assert_eq!(strata_layers[0], buildkit_layers[0]);
    assert_eq!(
        registry_layer_count(&strata_ref),
        registry_layer_count(&buildkit_ref)
    );
    assert_eq!(registry_layer_count(&strata_ref), strata_layers.len());
}
