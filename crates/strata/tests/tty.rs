//! `run -t`/`exec -t` under a real terminal: the test opens a pty, makes its slave the
//! controlling terminal and standard streams of `strata`, types into the master and reads
//! what the container prints. Checks that the container's terminal lives on its own devpts
//! (`tty` prints `/dev/pts/0`), starts with the size of ours, follows a resize, that Ctrl-C
//! typed with `-it` interrupts the foreground job through the terminal (the shell reports
//! 130), that `-t` alone works without input, and that Ctrl-P Ctrl-Q (or the sequence
//! `--detach-keys` names) detaches leaving the container running, then `exec -it` into it.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Env;
use strata_runtime::console::WinSize;

fn imported() -> Option<Env> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: terminal tests run containers and need root");
        return None;
    }
    if !common::have("ip") {
        eprintln!("SKIP: container tests need iproute2's `ip` (scripts/deps.sh installs it)");
        return None;
    }
    let env = Env::new();
    let rootfs = env.busybox_rootfs();
    env.ok(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        "-c",
        "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        rootfs.to_str().unwrap(),
        "bb",
    ]);
    Some(env)
}

/// `strata` running with a pty of ours as its controlling terminal.
struct Term {
    master: File,
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
    /// Where the next `expect` starts looking.
    seen: usize,
}

impl Term {
    fn start(env: &Env, args: &[&str], size: WinSize) -> Term {
        let (master, slave) = strata_runtime::monitor::openpty().unwrap();
        size.apply(master.as_raw_fd()).unwrap();
        let mut cmd = env.cmd();
        cmd.args(args)
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and an ioctl between fork and exec (async-signal-safe).
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let (mut from, sink) = (master.try_clone().unwrap(), out.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO when the last holder of the slave closes it.
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Term {
            master,
            child,
            out,
            seen: 0,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Wait until `needle` appears after what earlier calls matched.
    fn expect(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.text();
            if let Some(i) = text[self.seen.min(text.len())..].find(needle) {
                self.seen += i + needle.len();
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} never appeared; the terminal shows:\n{text:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&mut self, bytes: &str) {
        self.master.write_all(bytes.as_bytes()).unwrap();
    }

    /// The exit status of `strata`.
    fn wait(mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "strata did not exit; the terminal shows:\n{:?}",
                    self.text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A foreground job for Ctrl-C: prints `sleeping` (typed as `sl''eeping`, so the echo of
/// the typed line does not match) once it runs, then sleeps; SIGINT ends it with 130.
const SLEEP_JOB: &str = "sh -c 'echo sl''eeping; exec sleep 100'\n";

#[test]
fn run_it_is_a_real_terminal_with_size_resize_and_ctrl_c() {
    let Some(env) = imported() else { return };
    let mut t = Term::start(
        &env,
        &["run", "-it", "--rm", "bb", "sh"],
        WinSize { rows: 33, cols: 97 },
    );
    t.expect("# ");
    // `A$(...)B` in the typed line is echoed as typed; only the output has the expansion.
    t.send("echo A$(tty)B\n");
    t.expect("A/dev/pts/0B");
    t.send("echo A$(stty size)B\n");
    t.expect("A33 97B");
    // A resize of our terminal: SIGWINCH to strata, forwarded, applied to the container's.
    WinSize {
        rows: 40,
        cols: 120,
    }
    .apply(t.master.as_raw_fd())
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        t.send("echo A$(stty size)B\n");
        std::thread::sleep(Duration::from_millis(100));
        if t.text().contains("A40 120B") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "resize never seen:\n{}",
            t.text()
        );
    }
    // Ctrl-C goes through the container's terminal to its foreground job (which prints
    // a marker once it runs as that job, then becomes `sleep`).
    t.send(SLEEP_JOB);
    t.expect("sleeping");
    let typed = Instant::now();
    t.send("\x03");
    t.send("echo status=$?\n");
    t.expect("status=130");
    assert!(
        typed.elapsed() < Duration::from_secs(20),
        "^C did not interrupt sleep"
    );
    t.send("exit 7\n");
    assert_eq!(t.wait(), 7);
    assert_eq!(env.ok(&["ps", "-aq"]), "");
}

#[test]
fn run_t_without_i_has_a_terminal_and_no_input() {
    let Some(env) = imported() else { return };
    let mut t = Term::start(
        &env,
        &[
            "run",
            "-t",
            "--rm",
            "bb",
            "sh",
            "-c",
            "echo A$(tty)B; echo A$(stty size)B; test -t 0 && echo stdin-is-tty",
        ],
        WinSize { rows: 25, cols: 81 },
    );
    t.expect("A/dev/pts/0B");
    t.expect("A25 81B");
    t.expect("stdin-is-tty");
    assert_eq!(t.wait(), 0);
    // The logs hold the terminal's output too.
    let mut t = Term::start(
        &env,
        &[
            "run",
            "-t",
            "--name",
            "logged",
            "bb",
            "echo",
            "from-the-pty",
        ],
        WinSize { rows: 25, cols: 81 },
    );
    t.expect("from-the-pty");
    assert_eq!(t.wait(), 0);
    assert!(env.ok(&["logs", "logged"]).contains("from-the-pty"));
    // -it needs a terminal on our side, as Docker says; nothing is created.
    let out = env.run(&["run", "-it", "--rm", "bb", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "the input device is not a TTY\n"
    );
    let out = env.run(&["exec", "-it", "logged", "true"]);
    assert_eq!(out.status.code(), Some(1));
    env.ok(&["rm", "logged"]);
    assert_eq!(env.ok(&["ps", "-aq"]), "");
}

/// Removes a container when dropped, so a failed assertion leaves nothing running.
struct Remove<'a>(&'a Env, &'static str);

impl Drop for Remove<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["rm", "-f", self.1]);
    }
}

#[test]
fn detach_keys_then_exec_it() {
    let Some(env) = imported() else { return };
    let _cleanup = Remove(&env, "d");
    let mut t = Term::start(
        &env,
        &["run", "-it", "--name", "d", "bb", "sh"],
        WinSize { rows: 24, cols: 80 },
    );
    t.expect("# ");
    // A lone Ctrl-P is passed on (held until the next key shows it is not a detach): `read`
    // gets it, `od` shows it as octal 020 (the terminal's echo shows `^P`).
    t.send("read x; echo \"$x\" | od -An -c\n");
    t.send("A\x10B\n");
    t.expect("020");
    t.send("\x10\x11");
    assert_eq!(t.wait(), 0, "detaching exits 0");
    let ps = env.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("d Up"), "{ps}");

    // exec -it: its own terminal on the container's devpts, sized from ours.
    let mut e = Term::start(
        &env,
        &["exec", "-it", "d", "sh"],
        WinSize { rows: 20, cols: 70 },
    );
    e.expect("# ");
    e.send("echo A$(tty)B A$(stty size)B\n");
    e.expect("A/dev/pts/1B A20 70B");
    WinSize { rows: 21, cols: 71 }
        .apply(e.master.as_raw_fd())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        e.send("echo A$(stty size)B\n");
        std::thread::sleep(Duration::from_millis(100));
        if e.text().contains("A21 71B") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "resize never seen:\n{}",
            e.text()
        );
    }
    e.send(SLEEP_JOB);
    e.expect("sleeping");
    e.send("\x03");
    e.send("echo status=$?\n");
    e.expect("status=130");
    e.send("exit 3\n");
    assert_eq!(e.wait(), 3);

    assert_eq!(env.ok(&["ps", "-q"]).lines().count(), 1);
}

#[test]
fn detach_keys_can_be_chosen() {
    let Some(env) = imported() else { return };
    let _cleanup = Remove(&env, "d2");
    let mut t = Term::start(
        &env,
        &[
            "run",
            "-it",
            "--detach-keys",
            "ctrl-a,d",
            "--name",
            "d2",
            "bb",
            "sh",
        ],
        WinSize { rows: 24, cols: 80 },
    );
    t.expect("# ");
    // Docker's default sequence is ordinary input now.
    t.send("\x10\x11echo A$((1+2))B\n");
    t.expect("A3B");
    t.send("\x01d");
    assert_eq!(t.wait(), 0, "detaching exits 0");
    let ps = env.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("d2 Up"), "{ps}");
    let out = env.run(&["run", "--rm", "--detach-keys", "ctrl-1", "bb", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid detach keys"));
    assert_eq!(env.ok(&["ps", "-aq"]).lines().count(), 1);
}
