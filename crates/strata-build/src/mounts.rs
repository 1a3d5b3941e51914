//! `RUN --mount`: what each mount type contributes to the cache key, and how it is made
//! available to the container.
//!
//! | type | source | cache key | after the RUN |
//! |---|---|---|---|
//! | `bind` | the context (filtered by `.dockerignore`), a stage or an image, at `source` | the content hash of exactly the bound paths (context) or the stage's key | read-only by default; with `rw` writes go to a scratch copy that is discarded |
//! | `cache` | `$STRATA_ROOT/cache-mounts/<id>/`, created with `uid`/`gid`/`mode` | id and target only: its content never enters a key | kept for the next build; never in a layer; `builder prune` removes it |
//! | `tmpfs` | a fresh tmpfs | target | gone |
//! | `secret` | `--secret id=…,src=FILE` or `env=VAR`: a 0400 file on a private scratch directory, or an environment variable (`env=`) | id and target, never the value | gone; never in a layer, key, history or log |
//! | `ssh` | `--ssh ID[=SOCKET]` (default: `$SSH_AUTH_SOCK`): the agent socket bound at `target` (default `/run/buildkit/ssh_agent.N`), `SSH_AUTH_SOCK` set | id and target | gone |
//!
//! Cache sharing follows BuildKit: `shared` (the default) lets concurrent builds use the
//! directory together, `locked` waits for exclusive use, `private` takes a fresh scratch
//! directory when another build holds the cache. Locks are `flock`s on
//! `cache-mounts/<id>.lock`, so a killed build never leaves one behind.
//!
//! The runtime creates missing mount points inside the container's root (on the overlay's
//! upper directory); `remove_stubs` deletes those empty stubs afterwards, so a mount never
//! leaves a trace in the layer.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_dockerfile::instructions::CacheSharing;
use strata_runtime::Mount;

use crate::context::Context;
use crate::fsutil::{self, CopyMeta, View};
use crate::snapshot::{Snapshots, TempDir};
use crate::{BuildError, Result, io_err};

/// Where a `--secret` value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file on the host.
    File(PathBuf),
    /// An environment variable of the `strata` process.
    Env(String),
}

impl SecretSource {
    /// Parse Docker's `--secret` value: `id=ID[,src=PATH|,source=PATH|,env=VAR][,type=file|env]`.
    /// Without `src`/`env`, the value of the environment variable named `id` is used when
    /// set, else the file named `id`, as BuildKit does.
    pub fn parse(value: &str) -> Result<(String, SecretSource)> {
        let bad = |reason: &str| BuildError::BuildArg {
            arg: format!("--secret {value}"),
            reason: reason.to_string(),
        };
        let mut id = None;
        let mut src = None;
        let mut env = None;
        let mut kind = None;
        for field in value.split(',') {
            let (k, v) = field
                .split_once('=')
                .ok_or_else(|| bad("fields must be key=value"))?;
            match k.trim().to_lowercase().as_str() {
                "id" => id = Some(v.to_string()),
                "src" | "source" => src = Some(v.to_string()),
                "env" => env = Some(v.to_string()),
                "type" => kind = Some(v.to_string()),
                other => return Err(bad(&format!("unexpected key {other:?}"))),
            }
        }
        let id = id
            .or_else(|| src.clone())
            .or_else(|| env.clone())
            .ok_or_else(|| bad("the id is missing"))?;
        let source = match (kind.as_deref(), src, env) {
            (Some("env"), Some(s), _) | (_, None, Some(s)) => SecretSource::Env(s),
            (Some("env"), None, None) => SecretSource::Env(id.clone()),
            (_, Some(s), _) => SecretSource::File(PathBuf::from(s)),
            (_, None, None) => {
                if std::env::var_os(&id).is_some() {
                    SecretSource::Env(id.clone())
                } else {
                    SecretSource::File(PathBuf::from(&id))
                }
            }
        };
        Ok((id, source))
    }

    fn read(&self, id: &str) -> Result<Vec<u8>> {
        match self {
            SecretSource::File(p) => fs::read(p).map_err(io_err("read secret file", p)),
            SecretSource::Env(v) => std::env::var_os(v)
                .map(|v| v.into_encoded_bytes())
                .ok_or_else(|| BuildError::Secret {
                    id: id.to_string(),
                    reason: format!("environment variable {v} is not set"),
                }),
        }
    }
}

/// Parse Docker's `--ssh` value: `default` or `ID=SOCKET` (one socket; key files are not
/// supported: an agent holds them).
pub fn parse_ssh(value: &str) -> Result<(String, Option<PathBuf>)> {
    match value.split_once('=') {
        None => Ok((value.to_string(), None)),
        Some((id, paths)) => {
            if paths.contains(',') {
                return Err(BuildError::BuildArg {
                    arg: format!("--ssh {value}"),
                    reason: "only one agent socket per id is supported".into(),
                });
            }
            Ok((id.to_string(), Some(PathBuf::from(paths))))
        }
    }
}

/// Where a bind mount's files come from.
#[derive(Debug, Clone)]
pub(crate) enum BindSource {
    /// A path in the build context (relative, cleaned).
    Context { ctx: Arc<Context>, rel: String },
    /// A path in a stage or image, given by its snapshot directories (topmost first).
    Layers { lowers: Vec<PathBuf>, rel: String },
}

/// One `--mount` of a RUN, resolved.
#[derive(Debug, Clone)]
pub(crate) enum MountPlan {
    Bind {
        source: BindSource,
        target: String,
        rw: bool,
    },
    Cache {
        id: String,
        target: String,
        sharing: CacheSharing,
        uid: u32,
        gid: u32,
        mode: u32,
    },
    Tmpfs {
        target: String,
    },
    Secret {
        id: String,
        target: Option<String>,
        env: Option<String>,
        required: bool,
        uid: u32,
        gid: u32,
        mode: u32,
    },
    Ssh {
        id: String,
        target: String,
        required: bool,
    },
    /// A RUN that is one heredoc starting with `#!`: its body as an executable file at
    /// `target` (read-only), which the RUN runs so the kernel honours the interpreter line.
    Script {
        target: String,
        data: String,
    },
}

impl MountPlan {
    /// The container path this mount occupies, if any.
    pub(crate) fn target(&self) -> Option<&str> {
        match self {
            MountPlan::Bind { target, .. }
            | MountPlan::Cache { target, .. }
            | MountPlan::Tmpfs { target }
            | MountPlan::Ssh { target, .. }
            | MountPlan::Script { target, .. } => Some(target),
            MountPlan::Secret { target, .. } => target.as_deref(),
        }
    }
}

/// What keeps a mount's source alive until the RUN ends.
#[derive(Debug)]
#[allow(dead_code)] // Held for their Drop.
enum Guard {
    View(View),
    Temp(TempDir),
    Lock(fs::File),
}

/// The runtime mounts and extra environment of one RUN.
#[derive(Debug, Default)]
pub(crate) struct Materialized {
    pub mounts: Vec<Mount>,
    pub env: Vec<(String, String)>,
    guards: Vec<Guard>,
}

/// Options of the build that mounts need.
pub(crate) struct MountEnv<'a> {
    pub store_root: &'a Path,
    pub snapshots: &'a Snapshots,
    pub secrets: &'a BTreeMap<String, SecretSource>,
    pub ssh: &'a BTreeMap<String, Option<PathBuf>>,
}

/// The directory of cache mounts in a store.
pub fn cache_mount_dir(store_root: &Path) -> PathBuf {
    store_root.join("cache-mounts")
}

/// The lock file of cache mount `name` in `base` (created when missing), and its path. A
/// build holds it (shared or exclusive) while it uses the mount; `builder prune` skips a
/// mount it cannot lock.
pub(crate) fn cache_mount_lock(base: &Path, name: &str) -> Result<(fs::File, PathBuf)> {
    let path = base.join(format!("{name}.lock"));
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err("open", &path))?;
    Ok((lock, path))
}

fn cache_name(id: &str) -> String {
    strata_oci::Digest::sha256(id.as_bytes()).hex()[..32].to_string()
}

/// Make `plans` available: returns the runtime mounts, environment additions and the
/// guards that keep sources alive.
pub(crate) fn materialize(plans: &[MountPlan], env: &MountEnv<'_>) -> Result<Materialized> {
    let mut out = Materialized::default();
    let mut ssh_n = 0usize;
    for plan in plans {
        match plan {
            MountPlan::Bind { source, target, rw } => {
                let host = bind_source(source, *rw, env.snapshots, &mut out.guards)?;
                out.mounts.push(Mount::Bind {
                    source: host,
                    destination: target.clone(),
                    readonly: !rw,
                });
            }
            MountPlan::Cache {
                id,
                target,
                sharing,
                uid,
                gid,
                mode,
            } => {
                let base = cache_mount_dir(env.store_root);
                fs::create_dir_all(&base).map_err(io_err("create directory", &base))?;
                let name = cache_name(id);
                let (lock, lock_path) = cache_mount_lock(&base, &name)?;
                let mut dir = base.join(&name);
                match sharing {
                    CacheSharing::Shared => {
                        lock.lock_shared().map_err(io_err("lock", &lock_path))?;
                    }
                    CacheSharing::Locked => lock.lock().map_err(io_err("lock", &lock_path))?,
                    CacheSharing::Private => {
                        if lock.try_lock().is_err() {
                            // Held by another build: this one gets a scratch cache.
                            let tmp = env.snapshots.temp()?;
                            dir = tmp.path().join("cache");
                            out.guards.push(Guard::Temp(tmp));
                        }
                    }
                }
                out.guards.push(Guard::Lock(lock));
                if !dir.exists() {
                    // Created under a temporary name and renamed, so a concurrent shared
                    // user never sees it with the wrong owner or mode.
                    let tmp = base.join(format!(".new-{name}-{:016x}", rand::random::<u64>()));
                    fs::create_dir_all(&tmp).map_err(io_err("create directory", &tmp))?;
                    std::os::unix::fs::chown(&tmp, Some(*uid), Some(*gid))
                        .map_err(io_err("chown", &tmp))?;
                    fs::set_permissions(&tmp, fs::Permissions::from_mode(*mode))
                        .map_err(io_err("chmod", &tmp))?;
                    if fs::rename(&tmp, &dir).is_err() {
                        let _ = fs::remove_dir(&tmp);
                    }
                }
                out.mounts.push(Mount::Bind {
                    source: dir,
                    destination: target.clone(),
                    readonly: false,
                });
            }
            MountPlan::Tmpfs { target } => out.mounts.push(Mount::Tmpfs {
                destination: target.clone(),
            }),
            MountPlan::Script { target, data } => {
                let tmp = env.snapshots.temp()?;
                let file = tmp.path().join("script");
                fs::write(&file, data).map_err(io_err("write", &file))?;
                fs::set_permissions(&file, fs::Permissions::from_mode(0o755))
                    .map_err(io_err("chmod", &file))?;
                out.mounts.push(Mount::Bind {
                    source: file,
                    destination: target.clone(),
                    readonly: true,
                });
                out.guards.push(Guard::Temp(tmp));
            }
            MountPlan::Secret {
                id,
                target,
                env: env_name,
                required,
                uid,
                gid,
                mode,
            } => {
                let Some(src) = env.secrets.get(id) else {
                    if *required {
                        return Err(BuildError::Secret {
                            id: id.clone(),
                            reason: "not provided (use --secret id=…)".into(),
                        });
                    }
                    continue;
                };
                let value = src.read(id)?;
                if let Some(var) = env_name {
                    out.env
                        .push((var.clone(), String::from_utf8_lossy(&value).into_owned()));
                }
                if let Some(target) = target {
                    let tmp = env.snapshots.temp()?;
                    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o700))
                        .map_err(io_err("chmod", tmp.path()))?;
                    let file = tmp.path().join("secret");
                    write_private(&file, &value, *mode)?;
                    std::os::unix::fs::chown(&file, Some(*uid), Some(*gid))
                        .map_err(io_err("chown", &file))?;
                    out.mounts.push(Mount::Bind {
                        source: file,
                        destination: target.clone(),
                        readonly: true,
                    });
                    out.guards.push(Guard::Temp(tmp));
                }
            }
            MountPlan::Ssh {
                id,
                target,
                required,
            } => {
                let socket = match env.ssh.get(id) {
                    Some(Some(p)) => Some(p.clone()),
                    Some(None) => std::env::var_os("SSH_AUTH_SOCK")
                        .filter(|s| !s.is_empty())
                        .map(PathBuf::from),
                    None => None,
                };
                let Some(socket) = socket else {
                    if *required {
                        return Err(BuildError::Secret {
                            id: format!("ssh {id}"),
                            reason: "no SSH agent forwarded (use --ssh default)".into(),
                        });
                    }
                    continue;
                };
                if !fs::metadata(&socket).is_ok_and(|m| {
                    use std::os::unix::fs::FileTypeExt;
                    m.file_type().is_socket()
                }) {
                    return Err(BuildError::Secret {
                        id: format!("ssh {id}"),
                        reason: format!("{} is not a socket", socket.display()),
                    });
                }
                out.mounts.push(Mount::Bind {
                    source: socket,
                    destination: target.clone(),
                    readonly: false,
                });
                if ssh_n == 0 {
                    out.env.push(("SSH_AUTH_SOCK".into(), target.clone()));
                }
                ssh_n += 1;
            }
        }
    }
    Ok(out)
}

fn write_private(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err("create", path))?;
    f.write_all(bytes).map_err(io_err("write", path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err("chmod", path))
}

/// The host path to bind for `source`; a scratch copy when writes must be discarded or when
/// `.dockerignore` hides part of the context directory.
fn bind_source(
    source: &BindSource,
    rw: bool,
    snapshots: &Snapshots,
    guards: &mut Vec<Guard>,
) -> Result<PathBuf> {
    match source {
        BindSource::Context { ctx, rel } => {
            let host = fsutil::resolve_in(&ctx.root, rel, true);
            let meta = fs::symlink_metadata(&host).map_err(|_| BuildError::SourceNotFound {
                path: format!("/{rel}"),
            })?;
            let under = host
                .strip_prefix(&ctx.root)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !ctx.contains(&under) {
                return Err(BuildError::SourceNotFound {
                    path: format!("/{rel}"),
                });
            }
            if !rw && !ctx.excluded_any {
                return Ok(host);
            }
            let tmp = snapshots.temp()?;
            let dst = tmp.path().join("bind");
            if meta.is_dir() {
                let cm = keep_owner(&meta);
                fsutil::make_dir(&dst, Some(&meta), &cm)?;
                let mut dirs = Vec::new();
                for (k, e) in ctx.below(&under) {
                    let r = k[under.len()..].trim_start_matches('/');
                    let d = dst.join(r);
                    let cm = keep_owner(&e.meta);
                    if e.meta.is_dir() {
                        fsutil::make_dir(&d, Some(&e.meta), &cm)?;
                        dirs.push((d, e.meta.clone()));
                    } else {
                        fsutil::copy_leaf(&ctx.root.join(k), &e.meta, &d, &cm)?;
                    }
                }
                for (d, m) in dirs.iter().rev() {
                    fsutil::finish_dir(d, m)?;
                }
            } else {
                fsutil::copy_leaf(&host, &meta, &dst, &keep_owner(&meta))?;
            }
            guards.push(Guard::Temp(tmp));
            Ok(dst)
        }
        BindSource::Layers { lowers, rel } => {
            let view = View::open(snapshots, lowers)?;
            let host = fsutil::resolve_in(view.path(), rel, true);
            let meta = fs::symlink_metadata(&host).map_err(|_| BuildError::SourceNotFound {
                path: format!("/{rel}"),
            })?;
            if !rw {
                guards.push(Guard::View(view));
                return Ok(host);
            }
            let tmp = snapshots.temp()?;
            let dst = tmp.path().join("bind");
            fsutil::copy_tree(&host, &meta, &dst)?;
            guards.push(Guard::Temp(tmp));
            drop(view);
            Ok(dst)
        }
    }
}

fn keep_owner(meta: &fs::Metadata) -> CopyMeta {
    CopyMeta {
        owner: (meta.uid(), meta.gid()),
        chmod: None,
        symbolic: None,
    }
}

/// Remove the empty mount points the runtime created in `upper` for `targets` where the
/// image (`lowers`, topmost first) has nothing, and the directories created only to hold
/// them.
pub(crate) fn remove_stubs(upper: &Path, lowers: &[PathBuf], targets: &[String]) {
    for t in targets {
        let rel = t.trim_start_matches('/');
        if rel.is_empty() || fsutil::lookup(lowers, rel).is_some() {
            continue;
        }
        let host = upper.join(rel);
        let removed = match fs::symlink_metadata(&host) {
            Ok(m) if m.is_dir() => fs::remove_dir(&host).is_ok(),
            Ok(m) if m.is_file() && m.len() == 0 => fs::remove_file(&host).is_ok(),
            _ => false,
        };
        if !removed {
            continue;
        }
        // Parents: remove while empty. A parent the image has was only copied up to hold
        // the stub (unless the RUN made it opaque); one it lacks was created for it.
        let mut p = Path::new(rel).parent();
        while let Some(parent) = p.filter(|p| !p.as_os_str().is_empty()) {
            let hp = upper.join(parent);
            let empty = fs::read_dir(&hp).is_ok_and(|mut d| d.next().is_none());
            let opaque = xattr::get(&hp, "trusted.overlay.opaque")
                .ok()
                .flatten()
                .is_some();
            if !empty || opaque || fs::remove_dir(&hp).is_err() {
                break;
            }
            p = parent.parent();
        }
    }
}
