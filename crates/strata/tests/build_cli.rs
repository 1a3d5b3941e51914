//! `strata build` from the command line: Dockerfile in the context or on stdin, the
//! instructions' effect on the image, multi-stage and `--target`, outputs, progress formats,
//! secrets, `builder prune`, failures, SIGKILL mid-build, concurrent builds and
//! reproducibility. The base image is Debian's busybox-static imported with `strata import`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn skip_reason() -> Option<&'static str> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root");
    }
    if !std::fs::read_to_string("/proc/filesystems").is_ok_and(|f| f.contains("overlay")) {
        return Some("overlayfs is not available");
    }
    if !Path::new("/bin/busybox").exists() {
        return Some("busybox-static is not installed");
    }
    None
}

struct Env {
    tmp: tempfile::TempDir,
    root: PathBuf,
    ctx: PathBuf,
}

fn strata_at(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap()
}

/// `strata --root ROOT build -f - EXTRA… CTX`, Dockerfile given as text on stdin.
fn build_stdin_at(root: &Path, ctx: &Path, dockerfile: &str, extra: &[&str]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("--root")
        .arg(root)
        .args(["build", "-f", "-"])
        .args(extra)
        .arg(ctx)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dockerfile.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn setup(files: &[(&str, &str)]) -> Option<Env> {
    if let Some(r) = skip_reason() {
        eprintln!("skipping: {r}");
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-busybox-rootfs.sh");
    assert!(
        Command::new("bash")
            .arg(script)
            .arg(&rootfs)
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
    );
    let root = tmp.path().join("store");
    let out = strata_at(
        &root,
        &[
            "import",
            "-c",
            "CMD [\"sh\"]",
            rootfs.to_str().unwrap(),
            "busybox",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ctx = tmp.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    for (name, body) in files {
        let p = ctx.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    Some(Env { tmp, root, ctx })
}

impl Env {
    fn strata(&self, args: &[&str]) -> Output {
        strata_at(&self.root, args)
    }

    /// `strata build EXTRA… CTX`, Dockerfile given as text on stdin.
    fn build_stdin(&self, dockerfile: &str, extra: &[&str]) -> Output {
        build_stdin_at(&self.root, &self.ctx, dockerfile, extra)
    }

    fn build(&self, dockerfile: &str, extra: &[&str]) -> (String, String) {
        let out = self.build_stdin(dockerfile, extra);
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(out.status.success(), "{e}");
        (o, e)
    }
}

/// `strata build --progress=plain EXTRA… CTX`, the Dockerfile read from the context.
fn build_ctx(env: &Env, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec!["build", "--progress=plain"];
    args.extend_from_slice(extra);
    let ctx = env.ctx.display().to_string();
    args.push(&ctx);
    let out = env.strata(&args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The image config and the files of the top layer of `name`.
fn image(env: &Env, name: &str) -> (serde_json::Value, Vec<String>) {
    let store = strata_store::Store::open(&env.root).unwrap();
    let desc = store.resolve(name).unwrap().expect("tagged");
    let doc = store.read_document(&desc).unwrap();
    let strata_oci::Document::Manifest(m) = doc.value else {
        panic!()
    };
    let cfg: serde_json::Value =
        serde_json::from_slice(&store.read_blob(&m.config.digest).unwrap()).unwrap();
    let top = m.layers.last().unwrap();
    let (_, mut r) = strata_layer::decompress(store.open_blob(&top.digest).unwrap()).unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut bytes).unwrap();
    let mut names = Vec::new();
    for e in tar::Archive::new(&bytes[..]).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    (cfg, names)
}

fn tar_names(path: &Path) -> Vec<String> {
    tar::Archive::new(std::fs::File::open(path).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

#[test]
fn dockerfile_on_stdin_and_plain_progress() {
    let Some(env) = setup(&[("a", "A")]) else {
        return;
    };
    let (_, err) = env.build(
        "FROM busybox\nCOPY a /a\nRUN cat /a\n",
        &["--progress=plain", "-t", "stdin:1"],
    );
    assert!(err.contains("[2/3] COPY a /a"), "{err}");
    assert!(
        err.contains("naming to docker.io/library/stdin:1 done"),
        "{err}"
    );
    let out = env.strata(&["inspect", "stdin:1"]);
    assert!(out.status.success());
}

#[test]
fn a_dockerfile_that_is_not_utf8_builds() {
    // BuildKit reads the Dockerfile as bytes: a Latin-1 comment is fine, and a Latin-1 byte
    // that reaches the config becomes U+FFFD (Go's JSON encoding), as here.
    let Some(env) = setup(&[]) else {
        return;
    };
    std::fs::write(
        env.ctx.join("Dockerfile"),
        b"FROM busybox\n# caf\xe9\nLABEL a=\"caf\xe9\"\n",
    )
    .unwrap();
    let (ok, _, err) = build_ctx(&env, &["-t", "latin1:1"]);
    assert!(ok, "{err}");
    let (cfg, _) = image(&env, "docker.io/library/latin1:1");
    assert_eq!(cfg["config"]["Labels"]["a"], "caf\u{fffd}");
}

#[test]
fn outputs_oci_docker_and_local() {
    let Some(env) = setup(&[("f", "F")]) else {
        return;
    };
    let oci = env.tmp.path().join("img-oci.tar");
    let docker = env.tmp.path().join("img-docker.tar");
    let local = env.tmp.path().join("rootfs-out");
    env.build(
        "FROM busybox\nCOPY f /f\n",
        &[
            "-t",
            "out:1",
            "--output",
            &format!("type=oci,dest={}", oci.display()),
            "--output",
            &format!("type=docker,dest={}", docker.display()),
            "-o",
            &format!("type=local,dest={}", local.display()),
        ],
    );
    let names = tar_names(&oci);
    assert!(names.contains(&"oci-layout".to_string()), "{names:?}");
    assert!(names.contains(&"index.json".to_string()));
    let names = tar_names(&docker);
    assert!(names.contains(&"manifest.json".to_string()), "{names:?}");
    assert_eq!(std::fs::read_to_string(local.join("f")).unwrap(), "F");
    assert!(local.join("bin/busybox").exists());
    // The docker archive loads into a fresh store.
    let other = env.tmp.path().join("other");
    let out = strata_at(&other, &["load", "-i", docker.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn json_progress_is_one_object_per_line() {
    let Some(env) = setup(&[]) else { return };
    let (_, err) = env.build("FROM busybox\nRUN echo hello-json\n", &["--progress=json"]);
    let mut saw_log = false;
    for line in err.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        if v["logs"][0]["data"] == "hello-json" {
            saw_log = true;
        }
    }
    assert!(saw_log, "{err}");
}

#[test]
fn quiet_prints_only_the_image_id() {
    let Some(env) = setup(&[]) else { return };
    let iid = env.tmp.path().join("iid");
    let (out, err) = env.build(
        "FROM busybox\nRUN true\n",
        &["-q", "--iidfile", iid.to_str().unwrap()],
    );
    assert!(
        out.trim().starts_with("sha256:") && err.is_empty(),
        "{out}{err}"
    );
    assert_eq!(std::fs::read_to_string(iid).unwrap(), out.trim());
}

#[test]
fn secret_flag_reaches_run_but_not_the_image() {
    let Some(env) = setup(&[]) else { return };
    let s = env.tmp.path().join("tok");
    std::fs::write(&s, "hunter2-secret").unwrap();
    let (_, err) = env.build(
        "FROM busybox\nRUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /n\n",
        &[
            "--progress=plain",
            "-t",
            "sec",
            "--secret",
            &format!("id=tok,src={}", s.display()),
        ],
    );
    assert!(!err.contains("hunter2"));
    let out = env.strata(&["save", "sec"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hunter2"));
}

#[test]
fn failing_run_exits_1_with_stage_line_and_output() {
    let Some(env) = setup(&[]) else { return };
    let out = env.build_stdin(
        "FROM busybox AS b\nRUN echo some output && false\n",
        &["--progress=plain"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("did not complete successfully: exit code: 1"),
        "{err}"
    );
    assert!(
        err.contains("[b] RUN echo some output && false (line 2)"),
        "{err}"
    );
    assert!(err.contains("some output"), "{err}");
}

#[test]
fn builder_prune_empties_the_cache() {
    let Some(env) = setup(&[("f", "x")]) else {
        return;
    };
    let df = "FROM busybox\nCOPY f /f\nRUN echo 1 > /one\n";
    env.build(df, &["-t", "p:1"]);
    let out = env.strata(&["builder", "prune", "-f"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Total:"), "{text}");
    let (_, err) = env.build(df, &["--progress=plain"]);
    assert!(!err.contains("CACHED"), "{err}");
}

#[test]
fn compression_level_is_checked_and_applied() {
    let text: String = (0..20_000)
        .map(|i| format!("line {i} of some text\n"))
        .collect();
    let Some(env) = setup(&[("t.txt", &text)]) else {
        return;
    };
    let df = "FROM busybox\nCOPY t.txt /t.txt\n";
    // As with BuildKit, a cached layer is reused whatever level it was compressed at.
    let size = |level: &str| {
        let tag = format!("l:{level}");
        env.build(
            df,
            &["--no-cache", "--compression-level", level, "-t", &tag],
        );
        // The stored (compressed) layer sizes, from the manifest: `inspect`'s Size is the
        // unpacked content, as Docker's, and does not depend on the compression.
        let out = env.strata(&["inspect", "-f", "{{.Descriptor.digest}}", &tag]);
        let digest = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let manifest = std::fs::read(
            env.root
                .join("oci/blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["size"].as_u64().unwrap())
            .sum::<u64>()
    };
    let (fast, best) = (size("1"), size("9"));
    assert!(best < fast, "level 9 gave {best} bytes, level 1 {fast}");
    let bad: [&[&str]; 2] = [
        &["--compression-level", "10"],
        &["--compression", "uncompressed", "--compression-level", "3"],
    ];
    for args in bad {
        let out = env.build_stdin(df, args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--compression-level") && !err.contains("#1"),
            "{err}"
        );
    }
}

/// Snapshot directories (chain IDs) under the store.
fn snapshot_dirs(root: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(root.join("snapshots"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 64)
        .collect()
}

#[test]
fn prune_removes_unpacked_layers_no_image_or_container_needs() {
    let Some(env) = setup(&[("f", "x")]) else {
        return;
    };
    // The builder stage's layers end up in no image.
    let df = "FROM busybox AS b\nRUN echo built > /b && echo x > /x\nRUN echo more > /c\n\
              FROM busybox\nCOPY --from=b /b /b\nRUN cat /b > /copy\n";
    env.build(df, &["-t", "app:1"]);
    let before = snapshot_dirs(&env.root);
    let out = env.strata(&["builder", "prune", "-f"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = snapshot_dirs(&env.root);
    // busybox + app:1's three layers stay as stacks; the builder's two are gone.
    assert_eq!(before.len(), after.len() + 2, "{before:?} -> {after:?}");
    assert!(after.is_subset(&before));
    // A container keeps the unpacked layers of its image even once the image is gone.
    let out = env.strata(&[
        "create",
        "--name",
        "c1",
        "--network",
        "none",
        "app:1",
        "cat",
        "/copy",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.strata(&["rmi", "-f", "app:1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.strata(&["image", "prune", "-f"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(snapshot_dirs(&env.root), after);
    let out = env.strata(&["start", "-a", "c1"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "built");
    // Without the container the dangling app:1 goes, and with it all but busybox's stack.
    assert!(env.strata(&["rm", "c1"]).status.success());
    let out = env.strata(&["image", "prune", "-f"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(snapshot_dirs(&env.root).len(), 1);
    // Anything pruned is unpacked again from its blobs when needed.
    env.build(df, &["-t", "app:2"]);
    let out = env.strata(&["run", "--rm", "--network", "none", "app:2", "cat", "/copy"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "built");
}

#[test]
fn kill_9_mid_build_then_the_next_build_succeeds_and_the_store_is_clean() {
    let Some(env) = setup(&[("big", &"x".repeat(2_000_000))]) else {
        return;
    };
    let df = env.ctx.join("Dockerfile");
    std::fs::write(
        &df,
        "FROM busybox\nCOPY big /big\nRUN head -c 3000000 /dev/urandom > /rand && sleep 0.05\nRUN cp /big /big2\n",
    )
    .unwrap();
    for i in 0..20u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
            .arg("--root")
            .arg(&env.root)
            .args(["build", "--no-cache", "-q", "-t", "k:1"])
            .arg(&env.ctx)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(40 + (i * 37) % 300));
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let _ = child.wait();
    }
    let out = env.strata(&["build", "-q", "-t", "k:1", env.ctx.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.strata(&["system", "check"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn two_concurrent_builds_share_the_base() {
    let Some(env) = setup(&[]) else { return };
    let e = &env;
    std::thread::scope(|s| {
        let a = s.spawn(|| e.build_stdin("FROM busybox\nRUN echo a > /a\n", &["-t", "c:a"]));
        let b = s.spawn(|| e.build_stdin("FROM busybox\nRUN echo b > /b\n", &["-t", "c:b"]));
        for h in [a, b] {
            let out = h.join().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
    let out = env.strata(&["system", "check"]);
    assert!(out.status.success());
}

#[test]
fn source_date_epoch_reproduces_the_image_id_in_another_directory() {
    let Some(first) = setup(&[("src/main.c", "int main(){}"), ("README", "r")]) else {
        return;
    };
    // A second cold store with the same base image, and a second context elsewhere whose
    // files have other times.
    let other = tempfile::tempdir().unwrap();
    let root2 = other.path().join("store2");
    assert!(
        Command::new("cp")
            .arg("-a")
            .arg(&first.root)
            .arg(&root2)
            .status()
            .unwrap()
            .success()
    );
    let ctx2 = other.path().join("elsewhere/ctx");
    std::fs::create_dir_all(ctx2.join("src")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(ctx2.join("src/main.c"), "int main(){}").unwrap();
    std::fs::write(ctx2.join("README"), "r").unwrap();
    let df =
        "FROM busybox\nCOPY . /src\nRUN mkdir /out && cp /src/src/main.c /out/\nWORKDIR /out\n";
    let mut ids = Vec::new();
    for (root, ctx) in [(&first.root, &first.ctx), (&root2, &ctx2)] {
        std::fs::write(ctx.join("Dockerfile"), df).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_strata"))
            .arg("--root")
            .arg(root)
            .args(["build", "-q"])
            .arg(ctx)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ids.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    assert_eq!(ids[0], ids[1]);
}

#[test]
fn from_pulls_a_missing_base_image_from_a_registry() {
    use std::io::{BufRead, BufReader};
    let Some(env) = setup(&[]) else { return };
    let reg_root = env.tmp.path().join("registry");
    let mut srv = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("STRATA_ROOT", &reg_root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(srv.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("serve exited").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let remote = format!("{addr}/base/busybox:1");
    let out = env.strata(&["push", "busybox", &remote]);
    let pushed = out.status.success();
    let msg = String::from_utf8_lossy(&out.stderr).into_owned();
    // A fresh store: the base is not there and comes from the registry.
    let fresh = env.tmp.path().join("fresh");
    let result = if pushed {
        Some(build_stdin_at(
            &fresh,
            &env.ctx,
            &format!("FROM {remote}\nRUN echo pulled > /p\n"),
            &["-q", "-t", "pulled"],
        ))
    } else {
        None
    };
    // SAFETY: stopping the registry we started, by pid.
    unsafe { libc::kill(srv.id() as i32, libc::SIGTERM) };
    let _ = srv.wait();
    assert!(pushed, "{msg}");
    let out = result.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = strata_at(&fresh, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let names = String::from_utf8_lossy(&out.stdout);
    assert!(names.contains(&format!("{addr}/base/busybox:1")), "{names}");
}

#[test]
fn tty_progress_redraws_steps_with_cached_and_finished() {
    let Some(env) = setup(&[("f", "x")]) else {
        return;
    };
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipping: script(1) is not installed (util-linux)");
        return;
    }
    std::fs::write(
        env.ctx.join("Dockerfile"),
        "FROM busybox\nCOPY f /f\nRUN sleep 0.3\n",
    )
    .unwrap();
    let cmd = format!(
        "{} --root {} build -t tty:1 {}",
        env!("CARGO_BIN_EXE_strata"),
        env.root.display(),
        env.ctx.display()
    );
    let run = || {
        let out = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = run();
    assert!(first.contains("[+] Building"), "{first}");
    assert!(first.contains("FINISHED"), "{first}");
    assert!(first.contains("=> [2/3] COPY f /f"), "{first}");
    let second = run();
    assert!(second.contains("=> CACHED [3/3] RUN sleep 0.3"), "{second}");
}

#[test]
fn run_copy_and_config_instructions() {
    let Some(env) = setup(&[
        (
            "Dockerfile",
            "FROM busybox\nARG GREETING=hello\nENV APP=/app\nWORKDIR $APP\nCOPY a.txt ./\nRUN echo $GREETING > out.txt && rm /bin/true\nLABEL b=2 a=1\nEXPOSE 8080/tcp\nUSER nobody\nCMD [\"sh\"]\n",
        ),
        ("a.txt", "A"),
        ("ignored.md", "x"),
        (".dockerignore", "*.md\n"),
    ]) else {
        return;
    };
    let (ok, _, err) = build_ctx(&env, &["-t", "app:1"]);
    assert!(ok, "{err}");
    assert!(err.contains("[3/4] COPY a.txt ./"), "{err}");
    let (cfg, top) = image(&env, "docker.io/library/app:1");
    assert!(top.contains(&"app/out.txt".to_string()), "{top:?}");
    assert!(top.contains(&"bin/.wh.true".to_string()), "{top:?}");
    let c = &cfg["config"];
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(c["User"], "nobody");
    assert_eq!(c["Labels"], serde_json::json!({"a": "1", "b": "2"}));
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    assert_eq!(c["Cmd"], serde_json::json!(["sh"]));
    assert!(
        c["Env"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("APP=/app"))
    );
    let hist: Vec<String> = cfg["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["created_by"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        hist.contains(
            &"RUN |1 GREETING=hello /bin/sh -c echo $GREETING > out.txt && rm /bin/true # buildkit"
                .to_string()
        ),
        "{hist:?}"
    );
    assert!(
        hist.contains(&"EXPOSE map[8080/tcp:{}]".to_string()),
        "{hist:?}"
    );
    assert!(hist.contains(&"CMD [\"sh\"]".to_string()), "{hist:?}");
    // Second build: everything cached; editing an ignored file changes nothing.
    std::fs::write(env.ctx.join("ignored.md"), "changed").unwrap();
    let (ok, _, err) = build_ctx(&env, &["-t", "app:2"]);
    assert!(ok, "{err}");
    assert_eq!(err.matches("CACHED").count(), 3, "{err}");
    // Editing a copied file rebuilds the COPY and what follows.
    std::fs::write(env.ctx.join("a.txt"), "B").unwrap();
    let (ok, _, err) = build_ctx(&env, &["-t", "app:3"]);
    assert!(ok, "{err}");
    assert_eq!(err.matches("CACHED").count(), 1, "{err}");
}

#[test]
fn multi_stage_copy_from_and_target() {
    let Some(env) = setup(&[(
        "Dockerfile",
        "FROM busybox AS builder\nRUN mkdir -p /out && echo built > /out/x\nFROM busybox AS unused\nRUN exit 1\nFROM scratch\nCOPY --from=builder /out/ /data/\n",
    )]) else {
        return;
    };
    let (ok, _, err) = build_ctx(&env, &["-t", "multi"]);
    assert!(ok, "{err}");
    let (cfg, top) = image(&env, "docker.io/library/multi:latest");
    assert_eq!(top, vec!["data/".to_string(), "data/x".to_string()]);
    assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
    let (ok, _, err) = build_ctx(&env, &["--target", "unused"]);
    assert!(!ok);
    assert!(
        err.contains("did not complete successfully: exit code: 1"),
        "{err}"
    );
    assert!(err.contains("line 4"), "{err}");
}
