//! `strata volume create|ls|rm|inspect` and the volume store: `$STRATA_ROOT/volumes/<name>/`
//! holds `_data/` (what is mounted) and `meta.json`, as Docker's local driver lays them out.
//!
//! A volume mounted where the image has content is populated from the image on first use
//! (Docker's "copy image data into an empty volume"): the image's layers are merged the
//! way overlayfs merges them — bottom layer first, whiteouts deleting, opaque directories
//! hiding what is below — and copied with owners, modes and symlinks kept. A path that
//! crosses a symlink in any layer is not followed (it could point anywhere on the host):
//! such a volume starts empty.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::Ctx;

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Volume name (generated when omitted)
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// The volume directory of one store.
pub struct Volumes {
    dir: PathBuf,
}

pub fn check_name(n: &str) -> anyhow::Result<()> {
    let mut chars = n.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        bail!(
            "\"{n}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed"
        );
    }
    Ok(())
}

impl Volumes {
    pub fn new(root: &Path) -> anyhow::Result<Volumes> {
        let dir = root.join("volumes");
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Volumes { dir })
    }

    /// The data directory of volume `name` (what a container mounts).
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("_data")
    }

    pub fn exists(&self, name: &str) -> bool {
        self.dir.join(name).join("_data").is_dir()
    }

    pub fn is_empty(&self, name: &str) -> bool {
        fs::read_dir(self.dir.join(name).join("_data")).is_ok_and(|mut d| d.next().is_none())
    }

    /// Create `name` when missing; returns its data directory.
    pub fn create(&self, name: &str, anonymous: bool) -> anyhow::Result<PathBuf> {
        check_name(name)?;
        let v = self.dir.join(name);
        let data = v.join("_data");
        if data.is_dir() {
            return Ok(data);
        }
        let tmp = self.dir.join(format!(".tmp-{name}"));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(tmp.join("_data"))
            .with_context(|| format!("cannot create volume {name}"))?;
        let meta = json!({
            "CreatedAt": jiff::Timestamp::now().to_string(),
            "Anonymous": anonymous,
        });
        fs::write(tmp.join("meta.json"), meta.to_string())?;
        if let Err(e) = fs::rename(&tmp, &v)
            && !data.is_dir()
        {
            return Err(e).with_context(|| format!("cannot create volume {name}"));
        }
        Ok(data)
    }

    pub fn names(&self) -> anyhow::Result<Vec<String>> {
        let mut out: Vec<String> = fs::read_dir(&self.dir)?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .filter(|n| self.exists(n))
            .collect();
        out.sort();
        Ok(out)
    }

    fn value(&self, name: &str) -> serde_json::Value {
        let v = self.dir.join(name);
        let meta: serde_json::Value = fs::read(v.join("meta.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        json!({
            "CreatedAt": meta.get("CreatedAt").cloned().unwrap_or_default(),
            "Driver": "local",
            "Labels": null,
            "Mountpoint": v.join("_data").display().to_string(),
            "Name": name,
            "Options": null,
            "Scope": "local",
        })
    }

    pub fn remove(&self, name: &str) -> anyhow::Result<()> {
        let v = self.dir.join(name);
        let gone = self.dir.join(format!(".rm-{name}"));
        fs::rename(&v, &gone).with_context(|| format!("cannot remove volume {name}"))?;
        fs::remove_dir_all(&gone).with_context(|| format!("cannot remove volume {name}"))
    }
}

/// Names of volumes used by any container.
fn in_use(ctx: &Ctx) -> anyhow::Result<Vec<(String, String)>> {
    let cs = crate::cmd::container::containers(ctx)?;
    let mut out = Vec::new();
    for c in cs.list()? {
        for m in &c.config.mounts {
            if m.kind == "volume" {
                out.push((m.name.clone(), c.config.id.clone()));
            }
        }
    }
    Ok(out)
}

pub fn run(ctx: &Ctx, cmd: VolumeCommand) -> anyhow::Result<()> {
    let vols = Volumes::new(&ctx.root()?)?;
    match cmd {
        VolumeCommand::Create(a) => {
            let name = a.name.unwrap_or_else(crate::cmd::run::new_id);
            vols.create(&name, false)?;
            println!("{name}");
            Ok(())
        }
        VolumeCommand::Ls(a) => {
            let names = vols.names()?;
            if a.quiet {
                for n in names {
                    println!("{n}");
                }
                return Ok(());
            }
            let rows: Vec<serde_json::Value> = names
                .iter()
                .map(|n| json!({"Driver": "local", "Name": n, "Mountpoint": vols.value(n)["Mountpoint"], "Scope": "local"}))
                .collect();
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            crate::format::write_rows(
                &mut out,
                a.format.as_deref(),
                "table {{.Driver}}\t{{.Name}}",
                &json!({"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Scope": "SCOPE"}),
                &rows,
            )
        }
        VolumeCommand::Rm(a) => {
            let used = in_use(ctx)?;
            crate::cmd::container::for_each(&a.names, |n| {
                if !vols.exists(n) {
                    if a.force {
                        return Ok(());
                    }
                    bail!("get {n}: no such volume");
                }
                if let Some((_, id)) = used.iter().find(|(v, _)| v == n) {
                    bail!("remove {n}: volume is in use - [{id}]");
                }
                vols.remove(n)
            })
        }
        VolumeCommand::Inspect(a) => {
            let mut found = Vec::new();
            let mut missing = false;
            for n in &a.names {
                if vols.exists(n) {
                    found.push(vols.value(n));
                } else {
                    eprintln!("Error: No such volume: {n}");
                    missing = true;
                }
            }
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            match &a.format {
                Some(f) => crate::format::write_template(&mut out, f, &found)?,
                None => {
                    use std::io::Write;
                    writeln!(
                        out,
                        "{}",
                        crate::format::go_json_indent(&serde_json::Value::Array(found))
                    )?
                }
            }
            if missing {
                return Err(crate::Exit(1).into());
            }
            Ok(())
        }
    }
}

fn is_whiteout(m: &fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(p: &Path) -> bool {
    xattr_get(p, "trusted.overlay.opaque").is_some_and(|v| v == b"y")
}

fn xattr_get(p: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let cp = std::ffi::CString::new(p.as_os_str().as_bytes()).ok()?;
    let cn = std::ffi::CString::new(name).ok()?;
    let mut buf = [0u8; 16];
    // SAFETY: valid C strings and buffer.
    let n =
        unsafe { libc::lgetxattr(cp.as_ptr(), cn.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

/// Empty a directory.
fn clear_dir(d: &Path) -> std::io::Result<()> {
    for e in fs::read_dir(d)? {
        let p = e?.path();
        if fs::symlink_metadata(&p)?.is_dir() {
            fs::remove_dir_all(&p)?;
        } else {
            fs::remove_file(&p)?;
        }
    }
    Ok(())
}

fn remove_any(p: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(_) => Ok(()),
    }
}

/// Copy one non-directory entry, keeping owner and mode (device nodes and sockets are
/// skipped: a volume is data).
pub fn copy_leaf(src: &Path, m: &fs::Metadata, dst: &Path) -> std::io::Result<()> {
    let ft = m.file_type();
    if ft.is_symlink() {
        let target = fs::read_link(src)?;
        std::os::unix::fs::symlink(&target, dst)?;
    } else if ft.is_file() {
        fs::copy(src, dst)?;
        fs::set_permissions(dst, fs::Permissions::from_mode(m.mode() & 0o7777))?;
    } else {
        return Ok(());
    }
    std::os::unix::fs::lchown(dst, Some(m.uid()), Some(m.gid()))?;
    if ft.is_file() {
        // chown clears set-id bits; restore the mode.
        fs::set_permissions(dst, fs::Permissions::from_mode(m.mode() & 0o7777))?;
    }
    Ok(())
}

/// Merge directory `src` (one layer) onto `dst`.
fn merge_dir(src: &Path, dst: &Path) -> std::io::Result<()> {
    for e in fs::read_dir(src)? {
        let e = e?;
        let (s, d) = (e.path(), dst.join(e.file_name()));
        let m = fs::symlink_metadata(&s)?;
        if is_whiteout(&m) {
            remove_any(&d)?;
            continue;
        }
        if m.is_dir() {
            if fs::symlink_metadata(&d).is_ok_and(|dm| !dm.is_dir()) {
                remove_any(&d)?;
            }
            if !d.exists() {
                fs::create_dir(&d)?;
            } else if is_opaque(&s) {
                clear_dir(&d)?;
            }
            merge_dir(&s, &d)?;
            std::os::unix::fs::lchown(&d, Some(m.uid()), Some(m.gid()))?;
            fs::set_permissions(&d, fs::Permissions::from_mode(m.mode() & 0o7777))?;
        } else {
            remove_any(&d)?;
            copy_leaf(&s, &m, &d)?;
        }
    }
    Ok(())
}

/// Populate volume directory `data` with the image's content at container path `dest`.
pub fn populate(lowers_top_first: &[PathBuf], dest: &str, data: &Path) -> anyhow::Result<()> {
    let rel = dest.trim_start_matches('/');
    for lower in lowers_top_first.iter().rev() {
        // Refuse to cross symlinks: they would resolve on the host.
        let mut p = lower.clone();
        let mut crosses_link = false;
        for comp in Path::new(rel).components() {
            p.push(comp);
            if fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
                crosses_link = true;
                break;
            }
        }
        if crosses_link {
            return Ok(());
        }
        let Ok(m) = fs::symlink_metadata(&p) else {
            continue;
        };
        if is_whiteout(&m) || !m.is_dir() {
            clear_dir(data)?;
            continue;
        }
        if is_opaque(&p) {
            clear_dir(data)?;
        }
        merge_dir(&p, data).with_context(|| format!("populating volume from {}", p.display()))?;
        std::os::unix::fs::lchown(data, Some(m.uid()), Some(m.gid()))?;
        fs::set_permissions(data, fs::Permissions::from_mode(m.mode() & 0o7777))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn populate_merges_layers_with_whiteouts() {
        let t = tempfile::tempdir().unwrap();
        let (low, high, data) = (t.path().join("l"), t.path().join("h"), t.path().join("d"));
        fs::create_dir_all(low.join("app/sub")).unwrap();
        fs::write(low.join("app/a"), "a").unwrap();
        fs::write(low.join("app/sub/b"), "b").unwrap();
        fs::create_dir_all(high.join("app")).unwrap();
        fs::write(high.join("app/c"), "c").unwrap();
        fs::create_dir_all(&data).unwrap();
        populate(&[high.clone(), low.clone()], "/app", &data).unwrap();
        assert_eq!(fs::read_to_string(data.join("a")).unwrap(), "a");
        assert_eq!(fs::read_to_string(data.join("sub/b")).unwrap(), "b");
        assert_eq!(fs::read_to_string(data.join("c")).unwrap(), "c");
        // A symlinked path in a layer is never followed.
        let (l2, d2) = (t.path().join("l2"), t.path().join("d2"));
        fs::create_dir_all(&l2).unwrap();
        std::os::unix::fs::symlink("/etc", l2.join("app")).unwrap();
        fs::create_dir_all(&d2).unwrap();
        populate(&[l2], "/app", &d2).unwrap();
        assert!(fs::read_dir(&d2).unwrap().next().is_none());
    }
}
