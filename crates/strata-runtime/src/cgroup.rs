//! Resource limits (`--memory`, `--cpus`, `--pids-limit`) through cgroups.
//!
//! Hosts mount cgroups in one of two ways: the unified v2 hierarchy at `/sys/fs/cgroup`
//! (with `cgroup.controllers`), or v1 controllers each at `/sys/fs/cgroup/<controller>`
//! (possibly next to an empty v2 hierarchy — the "hybrid" layout). A container's cgroup is
//! created *below the cgroup the caller is in* (`strata-<id>`), so limits nest under
//! whatever confines Strata itself instead of escaping it, and only when a limit is asked
//! for. The container joins by writing to `cgroup.procs` before its first process runs (see
//! [`crate::Options::cgroup_procs`]). A controller that is missing is an error naming it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Limits for one container.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// Bytes of memory.
    pub memory: Option<u64>,
    /// CPUs (fractional): quota per 100 ms period.
    pub cpus: Option<f64>,
    /// Maximum number of processes.
    pub pids: Option<i64>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.memory.is_none() && self.cpus.is_none() && self.pids.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error(
        "cannot apply {flag}: the {controller} cgroup controller is not available on this host"
    )]
    Unavailable {
        flag: &'static str,
        controller: &'static str,
    },
    #[error("cannot set up cgroup {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The cgroup directories of one container (one per v1 controller, or one v2 directory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cgroup {
    pub dirs: Vec<PathBuf>,
}

const ROOT: &str = "/sys/fs/cgroup";
const PERIOD_US: u64 = 100_000;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The path of the calling process's cgroup for `controller` (v1) or the unified one (`""`).
fn own_path(controller: &str) -> String {
    let text = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => continue,
        };
        let hit = if controller.is_empty() {
            ctrls.is_empty()
        } else {
            ctrls.split(',').any(|c| c == controller)
        };
        if hit {
            return path.trim_start_matches('/').to_string();
        }
    }
    String::new()
}

fn unified() -> bool {
    Path::new(ROOT).join("cgroup.controllers").exists()
}

fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let p = dir.join(file);
    fs::write(&p, value).map_err(io_err(&p))
}

/// Create the cgroup `strata-<id>` with `limits` (nothing when `limits` is empty).
pub fn create(id: &str, limits: &Limits) -> Result<Cgroup, CgroupError> {
    if limits.is_empty() {
        return Ok(Cgroup::default());
    }
    let name = format!("strata-{id}");
    let mut cg = Cgroup::default();
    let result = if unified() {
        create_v2(&name, limits, &mut cg)
    } else {
        create_v1(&name, limits, &mut cg)
    };
    if let Err(e) = result {
        cg.remove();
        return Err(e);
    }
    Ok(cg)
}

fn create_v1(name: &str, limits: &Limits, cg: &mut Cgroup) -> Result<(), CgroupError> {
    let mut want: Vec<(&'static str, &'static str)> = Vec::new();
    if limits.memory.is_some() {
        want.push(("memory", "--memory"));
    }
    if limits.cpus.is_some() {
        want.push(("cpu", "--cpus"));
    }
    if limits.pids.is_some() {
        want.push(("pids", "--pids-limit"));
    }
    for (controller, flag) in want {
        let base = Path::new(ROOT).join(controller);
        if !base.join("cgroup.procs").exists() {
            return Err(CgroupError::Unavailable { flag, controller });
        }
        let dir = base.join(own_path(controller)).join(name);
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        cg.dirs.push(dir.clone());
        match controller {
            "memory" => {
                if let Some(m) = limits.memory {
                    write(&dir, "memory.limit_in_bytes", &m.to_string())?;
                }
            }
            "cpu" => {
                if let Some(c) = limits.cpus {
                    write(&dir, "cpu.cfs_period_us", &PERIOD_US.to_string())?;
                    let quota = ((c * PERIOD_US as f64).round() as u64).max(1000);
                    write(&dir, "cpu.cfs_quota_us", &quota.to_string())?;
                }
            }
            _ => {
                if let Some(p) = limits.pids {
                    let v = if p <= 0 { "max".into() } else { p.to_string() };
                    write(&dir, "pids.max", &v)?;
                }
            }
        }
    }
    Ok(())
}

fn create_v2(name: &str, limits: &Limits, cg: &mut Cgroup) -> Result<(), CgroupError> {
    let parent = Path::new(ROOT).join(own_path(""));
    let available = fs::read_to_string(parent.join("cgroup.controllers")).unwrap_or_default();
    let has = |c: &str| available.split_whitespace().any(|x| x == c);
    for (set, controller, flag) in [
        (limits.memory.is_some(), "memory", "--memory"),
        (limits.cpus.is_some(), "cpu", "--cpus"),
        (limits.pids.is_some(), "pids", "--pids-limit"),
    ] {
        if set && !has(controller) {
            return Err(CgroupError::Unavailable { flag, controller });
        }
        if set {
            // Enabling for children fails harmlessly when already enabled.
            let _ = fs::write(
                parent.join("cgroup.subtree_control"),
                format!("+{controller}"),
            );
        }
    }
    let dir = parent.join(name);
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    cg.dirs.push(dir.clone());
    if let Some(m) = limits.memory {
        write(&dir, "memory.max", &m.to_string())?;
    }
    if let Some(c) = limits.cpus {
        let quota = ((c * PERIOD_US as f64).round() as u64).max(1000);
        write(&dir, "cpu.max", &format!("{quota} {PERIOD_US}"))?;
    }
    if let Some(p) = limits.pids {
        let v = if p <= 0 { "max".into() } else { p.to_string() };
        write(&dir, "pids.max", &v)?;
    }
    Ok(())
}

impl Cgroup {
    /// The `cgroup.procs` files to join.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// Remove the (empty) directories; best effort, as a leftover empty cgroup is harmless.
    pub fn remove(&self) {
        for d in &self.dirs {
            let _ = fs::remove_dir(d);
        }
    }
}

/// Remove the cgroups of container `id` wherever they are (after a crash).
pub fn remove_all(id: &str) {
    let name = format!("strata-{id}");
    if unified() {
        let _ = fs::remove_dir(Path::new(ROOT).join(own_path("")).join(&name));
        return;
    }
    for c in ["memory", "cpu", "pids"] {
        let _ = fs::remove_dir(Path::new(ROOT).join(c).join(own_path(c)).join(&name));
    }
}
