//! Shared harness of the build corpus: a template store holding `busybox:latest` (Debian's
//! busybox-static, see `scripts/make-busybox-rootfs.sh`) made once per test binary and
//! copied per test, so every test has its own store and cache; helpers to build and to look
//! at the resulting image (config, layers, the whole filesystem).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use strata_build::{BuildOptions, BuildOutput, Event, Reporter};
use strata_layer::{ApplyOptions, CompressOptions, CreateOptions, LayerWriter, WhiteoutMode};
use strata_oci::{ImageConfig, Manifest, Parsed, Platform, media_type};
use strata_store::Store;

/// Why the privileged tests cannot run here, if they cannot.
pub fn skip_reason() -> Option<&'static str> {
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

static TEMPLATE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();

/// Import a rootfs directory as image `name` into the store at `root`.
pub fn import_dir(root: &Path, rootfs: &Path, name: &str) {
    let store = Store::open(root).unwrap();
    let lease = store.lease().unwrap();
    let sink = store.writer(&lease).unwrap();
    let mut w = LayerWriter::new(sink, &CompressOptions::default()).unwrap();
    strata_layer::create(rootfs, &mut w, &CreateOptions::default()).unwrap();
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
    let full = strata_oci::Reference::parse_docker(name)
        .unwrap()
        .to_string();
    store
        .update(|t| -> Result<(), strata_store::Error> {
            t.tag(&full, &mdesc)?;
            Ok(())
        })
        .unwrap();
}

fn template() -> &'static Path {
    &TEMPLATE
        .get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            let rootfs = tmp.path().join("rootfs");
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-busybox-rootfs.sh");
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
            import_dir(&root, &rootfs, "busybox");
            (tmp, root)
        })
        .1
}

pub struct Env {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub ctx: PathBuf,
}

/// Records events in BuildKit's plain format.
#[derive(Default)]
pub struct Log(pub std::sync::Mutex<String>);

impl Reporter for Log {
    fn event(&self, e: Event) {
        use Event::*;
        let line = match e {
            Start { id, name } => format!("#{id} {name}"),
            Cached { id } => format!("#{id} CACHED"),
            Log { id, line, .. } => format!("#{id} {line}"),
            Done { id, .. } => format!("#{id} DONE"),
            Error { id, message, .. } => format!("#{id} ERROR {message}"),
            CacheKey { id, key, preimage } => format!("#{id} key {key}\n{preimage}"),
        };
        let mut s = self.0.lock().unwrap();
        s.push_str(&line);
        s.push('\n');
    }
}

pub struct Built {
    pub out: BuildOutput,
    pub log: String,
}

impl Built {
    pub fn cached(&self) -> usize {
        self.log.matches(" CACHED\n").count()
    }
}

/// A test environment: a fresh store (copy of the template) and a context directory with
/// `files` (a name ending in `/` is a directory). `None` (with the reason printed) where the
/// kernel or user cannot run builds.
pub fn env(files: &[(&str, &str)]) -> Option<Env> {
    if let Some(r) = skip_reason() {
        eprintln!("skipping: {r}");
        return None;
    }
    let tmpl = template();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    assert!(
        Command::new("cp")
            .arg("-a")
            .arg(tmpl)
            .arg(&root)
            .status()
            .unwrap()
            .success()
    );
    let ctx = tmp.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let e = Env { tmp, root, ctx };
    e.write(files);
    Some(e)
}

impl Env {
    pub fn write(&self, files: &[(&str, &str)]) {
        for (name, body) in files {
            let p = self.ctx.join(name);
            if name.ends_with('/') {
                std::fs::create_dir_all(&p).unwrap();
                continue;
            }
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
    }

    pub fn store(&self) -> Store {
        Store::open(&self.root).unwrap()
    }

    pub fn opts(&self, dockerfile: &str) -> BuildOptions {
        let mut o = BuildOptions::new(&self.ctx, dockerfile);
        o.tags = vec!["test".into()];
        o
    }

    /// Build `dockerfile`, tagged `test`, after `tweak` adjusted the options.
    pub fn try_build_with(
        &self,
        dockerfile: &str,
        tweak: impl FnOnce(&mut BuildOptions),
    ) -> Result<Built, String> {
        let mut o = self.opts(dockerfile);
        tweak(&mut o);
        let log = Log::default();
        match strata_build::build(&self.store(), &o, &log) {
            Ok(out) => Ok(Built {
                out,
                log: log.0.into_inner().unwrap(),
            }),
            Err(e) => Err(format!("{}\nerror: {e}", log.0.into_inner().unwrap())),
        }
    }

    pub fn build_with(&self, dockerfile: &str, tweak: impl FnOnce(&mut BuildOptions)) -> Built {
        self.try_build_with(dockerfile, tweak)
            .unwrap_or_else(|e| panic!("build failed:\n{e}"))
    }

    pub fn build(&self, dockerfile: &str) -> Built {
        self.build_with(dockerfile, |_| {})
    }

    pub fn try_build(&self, dockerfile: &str) -> Result<Built, String> {
        self.try_build_with(dockerfile, |_| {})
    }

    fn manifest(&self, name: &str) -> Manifest {
        let store = self.store();
        let full = strata_oci::Reference::parse_docker(name)
            .unwrap()
            .to_string();
        let desc = store.resolve(&full).unwrap().expect("tagged");
        let doc = store.read_document(&desc).unwrap();
        let strata_oci::Document::Manifest(m) = doc.value else {
            panic!("not a manifest")
        };
        m
    }

    /// The image config of `name` as JSON.
    pub fn config(&self, name: &str) -> serde_json::Value {
        let m = self.manifest(name);
        serde_json::from_slice(&self.store().read_blob(&m.config.digest).unwrap()).unwrap()
    }

    /// The `config` object (Env, Cmd, …) of `name`.
    pub fn cc(&self, name: &str) -> serde_json::Value {
        self.config(name)["config"].clone()
    }

    /// History `created_by` lines of `name`.
    pub fn history(&self, name: &str) -> Vec<String> {
        self.config(name)["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["created_by"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// Media types of the layers of `name`.
    pub fn layer_media_types(&self, name: &str) -> Vec<String> {
        self.manifest(name)
            .layers
            .iter()
            .map(|l| l.media_type.clone())
            .collect()
    }

    pub fn layer_count(&self, name: &str) -> usize {
        self.manifest(name).layers.len()
    }

    /// Entry names of layer `idx` (negative counts from the top) of `name`.
    pub fn layer(&self, name: &str, idx: isize) -> Vec<String> {
        let m = self.manifest(name);
        let i = if idx < 0 {
            (m.layers.len() as isize + idx) as usize
        } else {
            idx as usize
        };
        let (_, mut r) =
            strata_layer::decompress(self.store().open_blob(&m.layers[i].digest).unwrap()).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut r, &mut bytes).unwrap();
        tar::Archive::new(&bytes[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    }

    /// The image's whole filesystem, unpacked into a fresh directory.
    pub fn rootfs(&self, name: &str) -> PathBuf {
        let m = self.manifest(name);
        let dir = self.tmp.path().join(format!("rootfs-{:x}", rand_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        for l in &m.layers {
            strata_layer::apply(
                self.store().open_blob(&l.digest).unwrap(),
                &dir,
                &ApplyOptions {
                    allow_devices: true,
                    chown: true,
                    whiteouts: WhiteoutMode::Delete,
                },
            )
            .unwrap();
        }
        dir
    }

    /// The content of `path` in image `name`.
    pub fn read(&self, name: &str, path: &str) -> String {
        let root = self.rootfs(name);
        std::fs::read_to_string(root.join(path.trim_start_matches('/')))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Mode bits of `p` (no symlink following).
pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

/// Owner of `p`.
pub fn owner(p: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(p).unwrap();
    (m.uid(), m.gid())
}
