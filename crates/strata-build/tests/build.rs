//! The build engine end to end: a busybox base imported into a temporary store, real RUNs in
//! overlayfs and namespaces (needs root; skips with a reason otherwise).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use strata_layer::{CompressOptions, CreateOptions, LayerWriter};
use strata_oci::{ImageConfig, Manifest, Parsed, Platform, media_type};
use strata_store::Store;

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

/// A store with `busybox:latest` imported from `scripts/make-busybox-rootfs.sh`.
fn store_with_busybox(dir: &Path) -> PathBuf {
    let root = dir.join("store");
    let rootfs = dir.join("rootfs");
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
    let store = Store::open(&root).unwrap();
    let lease = store.lease().unwrap();
    let sink = store.writer(&lease).unwrap();
    let mut w = LayerWriter::new(sink, &CompressOptions::default()).unwrap();
    strata_layer::create(&rootfs, &mut w, &CreateOptions::default()).unwrap();
    let (info, sink) = w.finish().unwrap();
    sink.commit(Some(&info.digest), Some(info.size)).unwrap();
    let mut config = ImageConfig::new(&Platform::host());
    config.rootfs.kind = "layers".into();
    config.rootfs.diff_ids = vec![info.diff_id.clone()];
    let mut cc = config.config_or_default();
    cc.env = Some(vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
    ]);
    cc.cmd = Some(vec!["sh".into()]);
    config.config = Some(cc);
    let cfg = Parsed::from_value(config, media_type::OCI_CONFIG);
    let cdesc = store
        .write_blob(&lease, &cfg.bytes, media_type::OCI_CONFIG)
        .unwrap();
    let layer = strata_oci::Descriptor::new(info.media_type, info.digest, info.size as i64);
    let m = Parsed::from_value(
        Manifest::new_oci(cdesc, vec![layer]),
        media_type::OCI_MANIFEST,
    );
    let mdesc = store
        .write_blob(&lease, &m.bytes, media_type::OCI_MANIFEST)
        .unwrap();
    store
        .update(|t| -> Result<(), strata_store::Error> {
            t.tag("docker.io/library/busybox:latest", &mdesc)?;
            Ok(())
        })
        .unwrap();
    root
}

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    ctx: PathBuf,
}

fn setup(files: &[(&str, &str)]) -> Option<Env> {
    if let Some(r) = skip_reason() {
        eprintln!("skipping: {r}");
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = store_with_busybox(tmp.path());
    let ctx = tmp.path().join("ctx");
    for (name, body) in files {
        let p = ctx.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    Some(Env {
        _tmp: tmp,
        root,
        ctx,
    })
}

/// Records events as BuildKit's plain progress would print them.
#[derive(Default)]
struct Log(std::sync::Mutex<String>);

impl strata_build::Reporter for Log {
    fn event(&self, e: strata_build::Event) {
        use strata_build::Event::*;
        let line = match e {
            Start { id, name } => format!("#{id} {name}"),
            Cached { id } => format!("#{id} CACHED"),
            Log { id, line, .. } => format!("#{id} {line}"),
            Done { id, .. } => format!("#{id} DONE"),
            Error { id, message, .. } => format!("#{id} ERROR {message}"),
            CacheKey { id, key, .. } => format!("#{id} key {key}"),
        };
        let mut s = self.0.lock().unwrap();
        s.push_str(&line);
        s.push('\n');
    }
}

fn build(env: &Env, tags: &[&str], target: Option<&str>) -> (bool, String, String) {
    let store = Store::open(&env.root).unwrap();
    let mut opts = strata_build::BuildOptions::new(
        env.ctx.clone(),
        std::fs::read_to_string(env.ctx.join("Dockerfile")).unwrap(),
    );
    opts.dockerfile_path = Some(env.ctx.join("Dockerfile"));
    opts.target = target.map(str::to_string);
    opts.tags = tags.iter().map(|s| s.to_string()).collect();
    let log = Log::default();
    match strata_build::build(&store, &opts, &log) {
        Ok(out) => (true, out.image_id.to_string(), log.0.into_inner().unwrap()),
        Err(e) => (
            false,
            String::new(),
            format!("{}{e}", log.0.into_inner().unwrap()),
        ),
    }
}

/// The image config and the files of the top layer of `name`.
fn image(env: &Env, name: &str) -> (serde_json::Value, Vec<String>) {
    let store = Store::open(&env.root).unwrap();
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
    let (ok, _, err) = build(&env, &["app:1"], None);
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
    let (ok, _, err) = build(&env, &["app:2"], None);
    assert!(ok, "{err}");
    assert_eq!(err.matches("CACHED").count(), 3, "{err}");
    // Editing a copied file rebuilds the COPY and what follows.
    std::fs::write(env.ctx.join("a.txt"), "B").unwrap();
    let (ok, _, err) = build(&env, &["app:3"], None);
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
    let (ok, _, err) = build(&env, &["multi"], None);
    assert!(ok, "{err}");
    let (cfg, top) = image(&env, "docker.io/library/multi:latest");
    assert_eq!(top, vec!["data/".to_string(), "data/x".to_string()]);
    assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
    let (ok, _, err) = build(&env, &[], Some("unused"));
    assert!(!ok);
    assert!(
        err.contains("did not complete successfully: exit code: 1"),
        "{err}"
    );
    assert!(err.contains("line 4"), "{err}");
}
