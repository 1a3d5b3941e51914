//! `strata diff` — Docker's `docker diff`: what a container changed, read straight from
//! its copy-on-write layer (the overlay upper directory): `A` added, `C` changed, `D`
//! deleted (an overlay whiteout). Mount points the runtime had to create because the image
//! lacked them (`/etc/hosts`, `/proc`, …) are not changes and are left out, as Docker does.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use clap::Args;

use crate::Ctx;
use crate::cmd::container;

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// Paths the runtime creates as mount points when the image lacks them.
pub const STUBS: [&str; 6] = [
    "/proc",
    "/dev",
    "/sys",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/hostname",
];

/// One change: kind (`A`, `C`, `D`) and container path.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Vec<(char, String)> {
    let mut out = Vec::new();
    walk(upper, "", lowers, &mut out);
    // Docker's order (its overlay driver walks the upper directory with `filepath.Walk`):
    // depth first, names in byte order — `/a`, `/a/b`, then `/a-b`.
    out.sort_by(|a, b| a.1.split('/').cmp(b.1.split('/')));
    out
}

/// Appends the changes under `rel`; returns whether anything under it was kept.
fn walk(upper: &Path, rel: &str, lowers: &[PathBuf], out: &mut Vec<(char, String)>) -> bool {
    let Ok(rd) = fs::read_dir(upper.join(rel.trim_start_matches('/'))) else {
        return false;
    };
    let mut names: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut kept_any = false;
    for name in names {
        let path = format!("{rel}/{name}");
        let host = upper.join(path.trim_start_matches('/'));
        let Ok(m) = fs::symlink_metadata(&host) else {
            continue;
        };
        let below = strata_build::fsutil::lookup(lowers, &path).is_some();
        if m.file_type().is_char_device() && m.rdev() == 0 {
            out.push(('D', path));
            kept_any = true;
            continue;
        }
        if STUBS.contains(&path.as_str()) && !below {
            let empty = if m.is_dir() {
                fs::read_dir(&host).is_ok_and(|mut d| d.next().is_none())
            } else {
                m.len() == 0
            };
            if empty || path == "/proc" || path == "/dev" || path == "/sys" {
                continue;
            }
        }
        if m.is_dir() {
            let had_children = fs::read_dir(&host).is_ok_and(|mut d| d.next().is_some());
            let idx = out.len();
            let inner = walk(upper, &path, lowers, out);
            // A directory copied up only to hold mount-point stubs did not change.
            if below && had_children && !inner {
                continue;
            }
            out.insert(idx, (if below { 'C' } else { 'A' }, path));
            kept_any = true;
        } else {
            out.push((if below { 'C' } else { 'A' }, path));
            kept_any = true;
        }
    }
    kept_any
}

pub fn run(ctx: &Ctx, args: DiffArgs) -> anyhow::Result<()> {
    let cs = container::containers(ctx)?;
    let id = container::resolve(&cs, &args.container).map_err(container::daemon_err)?;
    let c = cs.load(&id)?;
    for (k, p) in changes(&c.upper(), &c.config.lower) {
        println!("{k} {p}");
    }
    Ok(())
}
