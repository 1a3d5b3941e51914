//! `strata run` and the container lifecycle, end to end, as root with real overlayfs and
//! namespaces: the seed scenario (busybox httpd with a published port answering on
//! 127.0.0.1), copy-on-write, `diff`/`commit`, escapes refused, exit statuses, `exec`,
//! `logs`, `wait`, crash safety (monitor and CLI killed with SIGKILL, then `ps` is
//! truthful and `rm` leaves no mount, directory or interface behind), images kept while
//! containers use them (`rmi`, `image prune`, `system prune`), and user namespaces
//! (`--userns=auto`, `--uidmap`). Terminals (`-t`) are in `tty.rs`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Env;

/// Privileged tests need root, overlayfs and iproute2; say why when they skip.
fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: container tests need root (overlayfs, namespaces)");
        return false;
    }
    if !common::have("ip") {
        eprintln!("SKIP: container tests need iproute2's `ip` (scripts/deps.sh installs it)");
        return false;
    }
    true
}

/// A fresh environment with the busybox image `bb`, or `None` (test skipped) when
/// containers cannot run here.
fn imported() -> Option<Env> {
    if !can_run() {
        return None;
    }
    let env = Env::new();
    image(&env);
    Some(env)
}

fn image(env: &Env) {
    let rootfs = env.busybox_rootfs();
    env.ok(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        "-c",
        "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        "-c",
        "EXPOSE 80",
        rootfs.to_str().unwrap(),
        "bb",
    ]);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// No mount of this store's root is left in our mount table.
fn assert_no_mounts(env: &Env) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = env.root().display().to_string();
    assert!(
        !info.lines().any(|l| l.contains(&root)),
        "mount leaked under {root}:\n{info}"
    );
}

fn state_field(env: &Env, id: &str, field: &str) -> serde_json::Value {
    let p = env.root().join("containers").join(id).join("state.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    v[field].clone()
}

fn alive(pid: i64) -> bool {
    // SAFETY: signal 0 only checks existence.
    pid > 0 && unsafe { libc::kill(pid as i32, 0) } == 0
}

#[test]
fn seed_scenario_httpd_with_published_port() {
    let Some(env) = imported() else { return };
    let www = env.path("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "hello from strata\n").unwrap();
    let port = free_port();
    let id = env
        .ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "-p",
            &format!("{port}:80"),
            "-v",
            &format!("{}:/www:ro", www.display()),
            "bb",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    let deadline = Instant::now() + Duration::from_secs(5);
    let body = loop {
        if let Some(b) = http_get(port).filter(|b| b.contains("200")) {
            break b;
        }
        assert!(Instant::now() < deadline, "httpd never answered on {port}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(body.contains("hello from strata"), "{body}");
    let ps = env.ok(&["ps"]);
    assert!(ps.starts_with("CONTAINER ID   IMAGE"), "{ps}");
    assert!(ps.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");
    assert!(ps.contains("web") && ps.contains("Up "), "{ps}");
    let fmt = env.ok(&["inspect", "--format", "{{.State.Status}} {{.Name}}", "web"]);
    assert_eq!(fmt.trim(), "running /web");
    // The read-only bind mount is read-only inside.
    let out = env.run(&["exec", "web", "sh", "-c", "echo x > /www/index.html"]);
    assert_ne!(code(&out), 0);
    assert_eq!(env.ok(&["stop", "-t", "1", "web"]).trim(), "web");
    assert!(http_get(port).is_none_or(|b| !b.contains("hello")));
    let ps = env.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("web Exited (137)"), "{ps}");
    assert_eq!(env.ok(&["rm", "web"]).trim(), "web");
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    assert!(!env.root().join("containers").join(&id).exists());
    assert_no_mounts(&env);
}

#[test]
fn exit_statuses_follow_docker() {
    let Some(env) = imported() else { return };
    assert_eq!(
        code(&env.run(&["run", "--rm", "bb", "sh", "-c", "exit 3"])),
        3
    );
    assert_eq!(code(&env.run(&["run", "--rm", "bb", "nosuchcommand"])), 127);
    assert_eq!(code(&env.run(&["run", "--rm", "bb", "/etc/passwd"])), 126);
    let out = env.run(&["run", "--rm", "nosuchimage"]);
    assert_eq!(code(&out), 125);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unable to find image"));
    // --rm removed every one of them.
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    // Docker's combination of image config and flags.
    let out = env.ok(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "-w",
        "/tmp/work",
        "-u",
        "nobody",
        "--hostname",
        "box",
        "bb",
        "sh",
        "-c",
        "echo $A $(id -u) $(pwd) $(hostname) $HOME",
    ]);
    assert_eq!(out.trim(), "1 65534 /tmp/work box /nonexistent");
    let out = env.ok(&["run", "--rm", "--entrypoint", "echo", "bb", "a", "b"]);
    assert_eq!(out.trim(), "a b");
}

#[test]
fn copy_on_write_diff_and_commit() {
    let Some(env) = imported() else { return };
    env.ok(&[
        "run",
        "--name",
        "c1",
        "bb",
        "sh",
        "-c",
        "echo changed > /etc/passwd && echo new > /root/new && rm /bin/vi \
         && dd if=/dev/zero of=/root/zeros bs=1000 count=1000 2>/dev/null",
    ]);
    // The image and a second container of it are unchanged.
    let other = env.ok(&[
        "run",
        "--rm",
        "bb",
        "sh",
        "-c",
        "head -1 /etc/passwd; ls /bin/vi",
    ]);
    assert_eq!(other, "root:x:0:0:root:/root:/bin/sh\n/bin/vi\n");
    let diff = env.ok(&["diff", "c1"]);
    for line in ["C /etc/passwd", "A /root/new", "D /bin/vi"] {
        assert!(
            diff.lines().any(|l| l == line),
            "{line} missing in:\n{diff}"
        );
    }
    assert!(!diff.contains("/etc/hosts"), "{diff}");
    let id = env.ok(&["commit", "-m", "cow", "c1", "cow:1"]);
    assert!(id.starts_with("sha256:"));
    let out = env.ok(&[
        "run",
        "--rm",
        "cow:1",
        "sh",
        "-c",
        "cat /etc/passwd /root/new; test -e /bin/vi || echo gone",
    ]);
    assert_eq!(out, "changed\nnew\ngone\n");
    let hist = env.ok(&["history", "--format", "{{.Comment}}", "cow:1"]);
    assert!(hist.starts_with("cow\n"), "{hist}");
    // The committed layer's size is its unpacked content, as Docker counts it (a megabyte
    // of zeros compresses to about a kilobyte), and the base layers keep the sizes the base
    // image shows.
    let hist = env.ok(&["history", "--format", "{{.Size}}", "cow:1"]);
    let top = hist.lines().next().unwrap_or_default();
    assert_eq!(top, "1MB", "{hist}");
    let size = |r: &str| -> u64 {
        env.ok(&["inspect", "--format", "{{.Size}}", r])
            .trim()
            .parse()
            .unwrap()
    };
    let grown = size("cow:1") - size("bb");
    assert!((1_000_000..1_100_000).contains(&grown), "{grown}");
    env.ok(&["rm", "c1"]);
    assert_no_mounts(&env);
}

#[test]
fn escapes_are_refused() {
    let Some(env) = imported() else { return };
    let host = env.path("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    let out = env.run(&[
        "run",
        "--rm",
        "-v",
        &format!("{}/../x:/x", host.display()),
        "bb",
        "true",
    ]);
    assert_eq!(code(&out), 125);
    assert!(String::from_utf8_lossy(&out.stderr).contains(".."));
    let out = env.run(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/a/../etc", host.display()),
        "bb",
        "true",
    ]);
    assert_eq!(code(&out), 125);
    // No mounting, no module loading (capabilities and seccomp), no host processes.
    let out = env.run(&[
        "run",
        "--rm",
        "bb",
        "sh",
        "-c",
        "mkdir -p /m && mount -t tmpfs none /m",
    ]);
    assert_ne!(code(&out), 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("denied"),
        "{out:?}"
    );
    let out = env.run(&[
        "run",
        "--rm",
        "bb",
        "sh",
        "-c",
        "echo junk > /tmp/m.ko; insmod /tmp/m.ko",
    ]);
    assert_ne!(code(&out), 0);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("not permitted"), "{err}");
    let procs = env.ok(&[
        "run",
        "--rm",
        "bb",
        "sh",
        "-c",
        "ls /proc | grep -c '^[0-9]'",
    ]);
    let n: u32 = procs.trim().parse().unwrap();
    assert!(n <= 3, "the container sees {n} processes");
    // Even --cap-add SYS_ADMIN does not lift the seccomp filter on mount.
    let out = env.run(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "bb",
        "sh",
        "-c",
        "mkdir -p /m && mount -t tmpfs none /m",
    ]);
    assert_ne!(code(&out), 0);
    // --privileged does.
    let out = env.run(&[
        "run",
        "--rm",
        "--privileged",
        "bb",
        "sh",
        "-c",
        "mkdir -p /m && mount -t tmpfs none /m",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    // A read-only root stays read-only; tmpfs and volumes stay writable.
    let out = env.run(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch",
        "bb",
        "sh",
        "-c",
        "touch /scratch/a && ! touch /etc/a",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_no_mounts(&env);
}

#[test]
fn exec_logs_wait_and_volumes() {
    let Some(env) = imported() else { return };
    env.ok(&["volume", "create", "data"]);
    env.ok(&[
        "run",
        "-d",
        "--init",
        "--name",
        "app",
        "-v",
        "data:/data",
        "bb",
        "sh",
        "-c",
        "echo started; echo oops >&2; echo kept > /data/f; exec sleep 60",
    ]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !env.ok(&["logs", "app"]).contains("started") {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = env.run(&["logs", "--tail", "2", "app"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "started\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    let ts = env.ok(&["logs", "-t", "--tail", "1", "app"]);
    assert!(ts.is_empty() || ts.starts_with("20"), "{ts}");
    assert_eq!(
        env.ok(&[
            "exec",
            "-u",
            "nobody",
            "-e",
            "X=y",
            "app",
            "sh",
            "-c",
            "echo $X $(id -u)"
        ]),
        "y 65534\n"
    );
    assert_eq!(code(&env.run(&["exec", "app", "sh", "-c", "exit 7"])), 7);
    // --init forwards SIGTERM to the command: stop finishes without the grace period.
    let t = Instant::now();
    env.ok(&["stop", "app"]);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(env.ok(&["wait", "app"]).trim(), "143");
    // The named volume outlives the container and is in use until it is removed.
    let err = env.fails(&["volume", "rm", "data"]);
    assert!(err.contains("in use"), "{err}");
    env.ok(&["rm", "app"]);
    assert_eq!(
        env.ok(&["run", "--rm", "-v", "data:/d", "bb", "cat", "/d/f"]),
        "kept\n"
    );
    env.ok(&["volume", "rm", "data"]);
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "");
    assert_no_mounts(&env);
}

/// Start `name`, a detached busybox httpd on the bridge serving `body` as its index page;
/// returns its address.
fn serve_on_bridge(env: &Env, name: &str, body: &str) -> String {
    let www = env.path(&format!("www-{name}"));
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), body).unwrap();
    env.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "-v",
        &format!("{}:/www", www.display()),
        "bb",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    let ip = env.ok(&[
        "inspect",
        "--format",
        "{{.NetworkSettings.IPAddress}}",
        name,
    ]);
    ip.trim().to_string()
}

/// What another container on the bridge fetches from `http://ip/`, retried a few times
/// until it is `want` (the server may still be starting).
fn fetch_from_bridge(env: &Env, ip: &str, want: &str) -> String {
    let mut got = String::new();
    for _ in 0..30 {
        let out = env.run(&[
            "run",
            "--rm",
            "bb",
            // busybox's own wget -T crashes (1.35): bound the wait with timeout(1).
            "timeout",
            "3",
            "wget",
            "-q",
            "-O",
            "-",
            &format!("http://{ip}/"),
        ]);
        got = String::from_utf8_lossy(&out.stdout).into_owned();
        if got == want {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    got
}

#[test]
fn containers_on_the_bridge_reach_each_other() {
    let Some(env) = imported() else { return };
    let ip = serve_on_bridge(&env, "srv", "peer\n");
    assert!(ip.starts_with("10.89."), "{ip}");
    assert_eq!(fetch_from_bridge(&env, &ip, "peer\n"), "peer\n");
    // --network none has only loopback.
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "bb",
        "sh",
        "-c",
        "ls /sys/class/net",
    ]);
    assert_eq!(out.trim(), "lo");
    env.ok(&["rm", "-f", "srv"]);
    assert_no_mounts(&env);
}

#[test]
fn crash_safety_sigkill_of_monitor_and_cli() {
    let Some(env) = imported() else { return };
    // The monitor killed: the container dies with it and `ps` says so.
    let id = env
        .ok(&["run", "-d", "--name", "victim", "bb", "sleep", "60"])
        .trim()
        .to_string();
    let monitor = state_field(&env, &id, "MonitorPid").as_i64().unwrap();
    let pid = state_field(&env, &id, "Pid").as_i64().unwrap();
    assert!(alive(monitor) && alive(pid));
    // SAFETY: signalling the monitor we started.
    unsafe { libc::kill(monitor as i32, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) {
        assert!(Instant::now() < deadline, "container outlived its monitor");
        std::thread::sleep(Duration::from_millis(10));
    }
    let ps = env.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Status}}"]);
    assert!(ps.starts_with("victim exited Exited (137)"), "{ps}");
    assert_eq!(env.ok(&["ps", "-q"]), "");
    let veth = format!("vs{}", &id[..12]);
    assert!(!Path::new("/sys/class/net").join(&veth).exists());
    env.ok(&["rm", "victim"]);

    // The CLI killed at random moments of `run`: every container is either running with
    // a live monitor or reported stopped; `rm -f` cleans all of it.
    let mut seed = std::process::id() as u64;
    for _ in 0..6 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis((seed >> 33) % 60);
        let mut child = env
            .cmd()
            .args(["run", "bb", "sleep", "30"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // Give monitors already launched time to start their container or fail.
    std::thread::sleep(Duration::from_millis(300));
    let ps = env.ok(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.State}}"]);
    for line in ps.lines() {
        let (id, state) = line.split_once(' ').unwrap();
        let monitor = state_field(&env, id, "MonitorPid").as_i64().unwrap_or(0);
        if state == "running" {
            assert!(alive(monitor), "{id} shown running without a monitor");
        }
        // Then kill every monitor to simulate a crash at an arbitrary point.
        if alive(monitor) {
            // SAFETY: signalling a monitor this test started.
            unsafe { libc::kill(monitor as i32, libc::SIGKILL) };
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let ps = env.ok(&["ps", "-q"]);
    assert_eq!(ps, "", "running containers after their monitors died");
    let all: Vec<String> = env.ok(&["ps", "-aq"]).lines().map(str::to_string).collect();
    if !all.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(all.iter().map(String::as_str));
        env.ok(&args);
    }
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    let left: Vec<_> = std::fs::read_dir(env.root().join("containers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(".lock") && !n.starts_with(".tmp-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_no_mounts(&env);
    let _ = Command::new("true").status();
}

#[test]
fn cp_never_follows_symlinks_out_of_the_container() {
    let Some(env) = imported() else { return };
    env.ok(&[
        "run",
        "--name",
        "c",
        "bb",
        "sh",
        "-c",
        "ln -s / /escape && ln -s /etc/shadow /leak && echo inside > /etc/marker",
    ]);
    // Out of a stopped container, through a symlink to its root: the container's file.
    let out = env.path("out");
    env.ok(&["cp", "c:/escape/etc/marker", out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "inside\n");
    // A symlink is copied as a symlink, never read through.
    let leak = env.path("leak");
    env.ok(&["cp", "c:/leak", leak.to_str().unwrap()]);
    assert!(
        std::fs::symlink_metadata(&leak)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // Into the container through a symlinked directory: lands inside.
    let host_target = env.path("hostside");
    std::fs::create_dir_all(&host_target).unwrap();
    let payload = env.path("payload");
    std::fs::write(&payload, "p\n").unwrap();
    let cdest = format!("c:/escape{}/", host_target.display());
    let _ = env.run(&["cp", payload.to_str().unwrap(), &cdest]);
    assert!(
        !host_target.join("payload").exists(),
        "cp wrote to the host"
    );
    env.ok(&["cp", payload.to_str().unwrap(), "c:/escape/tmp/"]);
    assert!(
        env.ok(&["diff", "c"])
            .lines()
            .any(|l| l == "A /tmp/payload")
    );
    // And into a running one.
    env.ok(&["run", "-d", "--name", "r", "bb", "sleep", "30"]);
    env.ok(&["cp", payload.to_str().unwrap(), "r:/root/"]);
    assert_eq!(env.ok(&["exec", "r", "cat", "/root/payload"]), "p\n");
    env.ok(&["rm", "-f", "c", "r"]);
    assert_no_mounts(&env);
}

#[test]
fn cp_streams_tar_archives_on_stdin_and_stdout() {
    use std::io::Write;
    let Some(env) = imported() else { return };
    env.ok(&["create", "--name", "t", "bb", "true"]);
    // In: a tar on stdin is extracted into the container directory.
    let src = env.path("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("d/x"), "deep\n").unwrap();
    std::fs::write(src.join("h.txt"), "hello\n").unwrap();
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&src)
        .args(["-cf", "-", "h.txt", "d"])
        .output()
        .unwrap();
    assert!(tar.status.success());
    let mut child = env
        .cmd()
        .args(["cp", "-", "t:/tmp"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
    assert!(child.wait().unwrap().success());
    let diff = env.ok(&["diff", "t"]);
    assert!(diff.lines().any(|l| l == "A /tmp/d/x"), "{diff}");
    // Out: the path as a tar on stdout, under its own name.
    let out = env.run(&["cp", "t:/tmp", "-"]);
    assert!(out.status.success());
    let list = Command::new("tar")
        .args(["-tf", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(&out.stdout)?;
            c.wait_with_output()
        })
        .unwrap();
    let names = String::from_utf8_lossy(&list.stdout).into_owned();
    assert_eq!(names, "tmp/\ntmp/d/\ntmp/d/x\ntmp/h.txt\n");
    // A stream needs a directory to land in; garbage is refused.
    let mut child = env
        .cmd()
        .args(["cp", "-", "t:/etc/passwd"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    // Docker's words.
    assert_eq!(err, "destination \"t:/etc/passwd\" must be a directory\n");
    env.ok(&["rm", "t"]);
    assert_no_mounts(&env);
}

#[test]
fn resource_limits_use_cgroups() {
    if !can_run() {
        return;
    }
    let has = |c: &str| {
        Path::new("/sys/fs/cgroup")
            .join(c)
            .join("cgroup.procs")
            .exists()
    };
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let v1 = has("pids") && has("memory");
    if !(v1 || v2) {
        eprintln!("SKIP: no pids/memory cgroup controller on this host");
        return;
    }
    let env = Env::new();
    image(&env);
    let out = env.run(&[
        "run",
        "--rm",
        "--pids-limit",
        "6",
        "--memory",
        "64m",
        "bb",
        "sh",
        "-c",
        "cat /proc/self/cgroup; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1 & done; wait",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("can't fork"),
        "the pids limit did not apply: {err}"
    );
    let cg = String::from_utf8_lossy(&out.stdout);
    assert!(cg.contains("strata-"), "{cg}");
    // The cgroups are removed with the container: every `strata-` cgroup it was in (v1:
    // one per controller, nested below the caller's; v2: one), not only the pids one.
    for l in cg.lines().filter(|l| l.contains("strata-")) {
        let mut f = l.splitn(3, ':');
        let (ctrl, path) = (f.nth(1).unwrap(), f.next().unwrap());
        let mounts: &[&str] = if ctrl.is_empty() {
            &["", "unified"]
        } else {
            &[ctrl]
        };
        for m in mounts {
            let p = Path::new("/sys/fs/cgroup")
                .join(m)
                .join(path.trim_start_matches('/'));
            assert!(!p.exists(), "{} outlived its container", p.display());
        }
    }
    let err = env.fails(&["run", "--rm", "--memory", "lots", "bb", "true"]);
    assert!(err.contains("invalid size"), "{err}");
}

#[test]
fn images_in_use_by_containers_are_kept() {
    let Some(env) = imported() else { return };
    let image = env.ok(&["images", "-q", "bb"]).trim().to_string();
    assert_eq!(image.len(), 12);
    env.ok(&["run", "--name", "stopped", "bb", "true"]);
    let stopped = env.ok(&["inspect", "--format", "{{.Id}}", "stopped"]);
    let err = env.fails(&["rmi", "bb"]);
    assert_eq!(
        err,
        format!(
            "Error response from daemon: conflict: unable to remove repository reference \"bb\" (must force) - container {} is using its referenced image {image}\n",
            &stopped[..12]
        )
    );
    let err = env.fails(&["rmi", &image]);
    assert!(
        err.contains(&format!(
            "conflict: unable to delete {image} (must be forced) - image is being used by stopped container {}",
            &stopped[..12]
        )),
        "{err}"
    );
    // Another name of the image can go: the image keeps one.
    env.ok(&["tag", "bb", "bb:two"]);
    assert_eq!(env.ok(&["rmi", "bb:two"]), "Untagged: bb:two\n");
    // Pruning never takes an image a container uses.
    env.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(env.ok(&["images", "-q"]).trim(), image);

    let running = env.ok(&["run", "-d", "--name", "running", "bb", "sleep", "100"]);
    let err = env.fails(&["rmi", "-f", &image]);
    assert!(
        err.contains(&format!(
            "conflict: unable to delete {image} (cannot be forced) - image is being used by running container {}",
            &running[..12]
        )),
        "{err}"
    );
    // system df counts them: two containers, one running; the image has two users.
    let df = env.ok(&["system", "df"]);
    assert!(
        df.lines()
            .any(|l| l.starts_with("Containers      2         1 ")),
        "{df}"
    );
    let df = env.ok(&["system", "df", "-v"]);
    assert!(
        df.lines()
            .any(|l| l.contains(&image) && l.trim_end().ends_with(" 2")),
        "{df}"
    );
    // -f on the tag: the name goes, the image stays (dangling) with its content.
    assert_eq!(env.ok(&["rmi", "-f", "bb"]), "Untagged: bb:latest\n");
    let listed = env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert_eq!(listed, format!("<none>:<none> {image}\n"));
    env.ok(&["image", "prune", "-f"]);
    env.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(env.ok(&["images", "-q"]).trim(), image);
    env.ok(&["system", "gc"]);
    let out = env.run(&["start", "-a", "stopped"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let out = env.ok(&["exec", "running", "cat", "/etc/hostname"]);
    assert_eq!(out.trim(), &running[..12]);

    // system prune: the stopped container goes, the image the running one uses stays.
    let out = env.ok(&["system", "prune", "-a", "-f"]);
    assert!(
        out.starts_with(&format!("Deleted Containers:\n{}\n\n", stopped.trim())),
        "{out}"
    );
    assert!(!out.contains("Deleted Images"), "{out}");
    assert_eq!(env.ok(&["images", "-q"]).trim(), image);
    assert_eq!(env.ok(&["ps", "-aq"]).trim(), &running[..12]);
    // Once no container uses it, it is an ordinary dangling image.
    env.ok(&["rm", "-f", "running"]);
    let out = env.ok(&["system", "prune", "-f"]);
    assert!(out.contains(&format!("deleted: sha256:{image}")), "{out}");
    assert_eq!(env.ok(&["images", "-q"]), "");
    env.check_clean();
}

#[test]
fn user_namespace_maps_root_to_an_unprivileged_range() {
    let Some(env) = imported() else { return };
    let open = env.path("open");
    std::fs::create_dir_all(&open).unwrap();
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let rootfile = env.path("rootfile");
    std::fs::write(&rootfile, "secret\n").unwrap();
    let out = env.run(&[
        "run",
        "--rm",
        "--userns=auto",
        "-v",
        &format!("{}:/open", open.display()),
        "-v",
        &format!("{}:/rootfile", rootfile.display()),
        "bb",
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; touch /open/made; echo x >> /rootfile && echo WROTE; ls -ln /etc/passwd",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    if code(&out) == 125 && err.contains("needs idmapped mounts") {
        eprintln!("SKIP: this kernel cannot idmap the store's directories: {err}");
        return;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&"0"), "{text}\n{err}");
    let map: Vec<u32> = lines[1]
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    assert_eq!(map[0], 0, "{text}");
    let host_root = map[1];
    assert!(host_root > 0 && map[2] > 0, "{text}");
    // A file made in a host directory belongs to the mapped host uid.
    use std::os::unix::fs::MetadataExt;
    let made = std::fs::metadata(open.join("made")).unwrap();
    assert_eq!((made.uid(), made.gid()), (host_root, host_root));
    // Root in the container is not root on the host: a root-owned host file is not its.
    assert!(!text.contains("WROTE"), "{text}");
    assert!(err.contains("Permission denied"), "{err}");
    assert_eq!(std::fs::read_to_string(&rootfile).unwrap(), "secret\n");
    // The image's files are root's inside (idmapped layers).
    assert!(lines[2].contains(" 0        0 "), "{text}");
    // Without remapping, root in the container can write that file.
    env.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/rootfile", rootfile.display()),
        "bb",
        "sh",
        "-c",
        "echo x >> /rootfile",
    ]);
    assert_eq!(std::fs::read_to_string(&rootfile).unwrap(), "secret\nx\n");

    // Changes land in the upper layer owned by on-disk root, so diff/commit are unchanged.
    env.ok(&[
        "run",
        "--name",
        "u",
        "--userns=auto",
        "bb",
        "sh",
        "-c",
        "echo changed > /etc/passwd",
    ]);
    assert!(env.ok(&["diff", "u"]).lines().any(|l| l == "C /etc/passwd"));
    let id = env.ok(&["inspect", "--format", "{{.Id}}", "u"]);
    let upper = env.root().join("containers").join(id.trim()).join("upper");
    assert_eq!(
        std::fs::metadata(upper.join("etc/passwd")).unwrap().uid(),
        0
    );
    env.ok(&["rm", "u"]);

    // A published port below 1024 is bound by the container's root; exec joins the
    // container's user namespace.
    let port = free_port();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--userns=auto",
        "-p",
        &format!("{port}:80"),
        "bb",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !http_get(port).is_some_and(|b| b.contains("HTTP/1")) {
        assert!(Instant::now() < deadline, "httpd never answered on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ex = env.ok(&["exec", "web", "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    assert_eq!(ex.lines().next(), Some("0"));
    assert_eq!(ex.lines().nth(1), Some(lines[1]), "{ex}");
    // cp into it: the new file is the container root's.
    let cpin = env.path("cpin");
    std::fs::write(&cpin, "copied\n").unwrap();
    env.ok(&["cp", cpin.to_str().unwrap(), "web:/root/cpin"]);
    let ls = env.ok(&[
        "exec",
        "web",
        "sh",
        "-c",
        "ls -ln /root/cpin; cat /root/cpin",
    ]);
    assert!(
        ls.contains(" 0        0 ") && ls.ends_with("copied\n"),
        "{ls}"
    );
    env.ok(&["rm", "-f", "web"]);

    // Podman's explicit mappings; the gid map defaults to the uid map.
    let out = env.ok(&[
        "run",
        "--rm",
        "--uidmap",
        "0:200000:1000",
        "bb",
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map",
    ]);
    let norm: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(norm, ["0 200000 1000", "0 200000 1000"]);
    let err = env.fails(&[
        "run",
        "--rm",
        "--uidmap",
        "0:200000:10",
        "-u",
        "100",
        "bb",
        "true",
    ]);
    assert!(err.contains("not mapped"), "{err}");
    let err = env.fails(&["run", "--rm", "--privileged", "--userns=auto", "bb", "true"]);
    assert!(
        err.contains("privileged mode is incompatible with user namespaces"),
        "{err}"
    );
    let err = env.fails(&["run", "--rm", "--userns=keep-id", "bb", "true"]);
    assert!(err.contains("unsupported --userns"), "{err}");
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    assert_no_mounts(&env);
}

/// Docker sets the `FORWARD` chain's policy to `DROP` (and makes bridged traffic pass that
/// chain) when it starts, possibly after Strata's bridge was made: container starts put the
/// bridge's `ACCEPT` rules back, so containers still reach each other.
#[test]
fn bridge_traffic_passes_a_forward_drop_policy() {
    let Some(env) = imported() else { return };
    if !common::have("iptables") {
        eprintln!("skipping: iptables is not installed");
        return;
    }
    let ipt = |args: &[&str]| {
        Command::new("iptables")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    let policy = Command::new("iptables")
        .args(["-S", "FORWARD"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let was = if policy.contains("-P FORWARD DROP") {
        "DROP"
    } else {
        "ACCEPT"
    };
    // As if Docker started after the bridge was made: policy DROP, Strata's rules gone.
    let ip = serve_on_bridge(&env, "srv-drop", "through\n");
    assert!(
        ipt(&["-P", "FORWARD", "DROP"]),
        "cannot set the FORWARD policy"
    );
    while ipt(&["-D", "FORWARD", "-i", "strata0", "-j", "ACCEPT"]) {}
    let got = fetch_from_bridge(&env, &ip, "through\n");
    ipt(&["-P", "FORWARD", was]);
    env.ok(&["rm", "-f", "srv-drop"]);
    assert_eq!(got, "through\n");
}

/// An address is leased again as soon as its container is gone. A look-up of it in
/// between (a client still trying the old container) leaves a `FAILED` entry in the host's
/// neighbour cache, from which the kernel answered "no route" for seconds: the next
/// container on that address, and its published ports, were unreachable meanwhile. Its
/// MAC is now the one Docker derives from the address, and the stale entry is dropped.
#[test]
fn a_container_on_a_reused_address_is_reachable_at_once() {
    let Some(env) = imported() else { return };
    let start = |name: &str| -> (String, String) {
        let id = env
            .ok(&[
                "run", "-d", "--name", name, "bb", "httpd", "-f", "-p", "80", "-h", "/etc",
            ])
            .trim()
            .to_string();
        let ip = env
            .ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", &id])
            .trim()
            .to_string();
        (id, ip)
    };
    let (first, old_ip) = start("first");
    let mac = env.ok(&["inspect", "-f", "{{.NetworkSettings.MacAddress}}", &first]);
    let octets: Vec<String> = old_ip
        .split('.')
        .map(|o| format!("{:02x}", o.parse::<u8>().unwrap()))
        .collect();
    assert_eq!(mac.trim(), format!("02:42:{}", octets.join(":")));
    let inside = env.ok(&["exec", &first, "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(inside.trim(), mac.trim());
    env.ok(&["rm", "-f", &first]);
    // The host looks the now unused address up, and fails.
    let addr: std::net::SocketAddr = format!("{old_ip}:80").parse().unwrap();
    let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(1500));
    let (second, new_ip) = start("second");
    let addr: std::net::SocketAddr = format!("{new_ip}:80").parse().unwrap();
    // httpd needs a moment to listen; a neighbour entry would block for seconds.
    let deadline = Instant::now() + Duration::from_millis(1500);
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(_) => break,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "{new_ip}:80 (the old address was {old_ip}) unreachable: {e}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    env.ok(&["rm", "-f", &second]);
}
