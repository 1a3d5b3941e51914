//! Real containers over overlayfs (needs root, overlayfs and namespaces; skips with a reason
//! otherwise).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use strata_runtime::{ContainerSpec, Mount, Network, ProcessSpec, Rootfs, spawn};

fn busybox_rootfs(dir: &Path) -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-busybox-rootfs.sh");
    let root = dir.join("rootfs");
    let ok = Command::new("bash")
        .arg(&script)
        .arg(&root)
        .stdout(Stdio::null())
        .status()
        .ok()?;
    ok.success().then_some(root)
}

fn skip_reason() -> Option<&'static str> {
    if !rustix_is_root() {
        return Some("not running as root");
    }
    if !std::fs::read_to_string("/proc/filesystems").is_ok_and(|f| f.contains("overlay")) {
        return Some("overlayfs is not available");
    }
    None
}

fn rustix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

struct Setup {
    _tmp: tempfile::TempDir,
    spec: ContainerSpec,
    upper: PathBuf,
}

fn setup(args: &[&str], network: Network) -> Option<Setup> {
    if let Some(reason) = skip_reason() {
        eprintln!("skipping: {reason}");
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(lower) = busybox_rootfs(tmp.path()) else {
        eprintln!("skipping: busybox-static is not installed");
        return None;
    };
    for d in ["upper", "work", "merged", "state"] {
        std::fs::create_dir(tmp.path().join(d)).unwrap();
    }
    let upper = tmp.path().join("upper");
    let spec = ContainerSpec {
        rootfs: Rootfs::Overlay {
            lower: vec![lower],
            upper: upper.clone(),
            work: tmp.path().join("work"),
            target: tmp.path().join("merged"),
        },
        process: ProcessSpec {
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec!["PATH=/usr/sbin:/usr/bin:/sbin:/bin".into()],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            additional_gids: vec![],
        },
        hostname: "strata-test".into(),
        network,
        mounts: vec![Mount::Tmpfs {
            destination: "/scratch".into(),
        }],
        state_dir: tmp.path().join("state"),
    };
    Some(Setup {
        _tmp: tmp,
        spec,
        upper,
    })
}

fn run(s: &Setup) -> (i32, String) {
    let child = spawn(&s.spec, Stdio::piped(), Stdio::piped()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn runs_as_pid_one_with_hostname_and_writes_to_upper() {
    let Some(s) = setup(
        &[
            "/bin/sh",
            "-c",
            "echo pid=$$; hostname; echo hi > /made; rm /bin/true; ls /dev; touch /scratch/x",
        ],
        Network::Host,
    ) else {
        return;
    };
    let (code, out) = run(&s);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("pid=1"), "{out}");
    assert!(out.contains("strata-test"), "{out}");
    assert!(out.contains("null") && out.contains("urandom"), "{out}");
    assert_eq!(
        std::fs::read_to_string(s.upper.join("made")).unwrap(),
        "hi\n"
    );
    // The deletion is an overlay whiteout (char 0/0) in the upper dir.
    use std::os::unix::fs::FileTypeExt;
    let wh = std::fs::symlink_metadata(s.upper.join("bin/true")).unwrap();
    assert!(wh.file_type().is_char_device());
    // The tmpfs mount kept its file out of the upper dir.
    assert!(!s.upper.join("scratch/x").exists());
}

#[test]
fn exit_status_and_user_are_passed_through() {
    let Some(mut s) = setup(&["/bin/sh", "-c", "id -u; id -g; exit 7"], Network::None) else {
        return;
    };
    s.spec.process.uid = 65534;
    s.spec.process.gid = 65534;
    let (code, out) = run(&s);
    assert_eq!(code, 7, "{out}");
    assert!(out.starts_with("65534\n65534\n"), "{out}");
}

#[test]
fn host_paths_are_not_visible() {
    let Some(s) = setup(
        &[
            "/bin/sh",
            "-c",
            "ls /work /root/.cargo 2>&1; cat /proc/1/cmdline; true",
        ],
        Network::Host,
    ) else {
        return;
    };
    let (_code, out) = run(&s);
    assert!(out.contains("No such file"), "{out}");
    assert!(out.contains("/bin/sh"), "{out}");
}

#[test]
fn missing_program_is_reported() {
    let Some(s) = setup(&["/no/such/program"], Network::Host) else {
        return;
    };
    let err = spawn(&s.spec, Stdio::piped(), Stdio::piped()).unwrap_err();
    assert!(err.to_string().contains("/no/such/program"), "{err}");
}
