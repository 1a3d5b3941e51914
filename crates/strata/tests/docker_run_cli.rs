//! Differential test of Strata's container commands against the Docker CLI (Docker 20.10,
//! a private `dockerd` with no bridge: containers use `--network none`). The same command
//! line runs through both, from the same busybox image, and stdout, stderr and the exit
//! status are compared.
//!
//! What is normalised, and only that: container IDs (64 and 12 hex digits) and the times
//! in `ps` statuses (`3 seconds`, `Less than a second`). Messages: Strata has no daemon,
//! so Docker's `docker: Error response from daemon: MSG.` is compared as `strata: MSG`
//! (its meaningful part), `See 'docker run --help'.` as `See 'strata run --help'.`, and
//! the client's `time="…" level=error …` log lines are dropped. Where the two print the
//! same meaning in different words (runc's `failed to create shim task: OCI runtime create
//! failed: …` around the reason), the case compares the reason only ([`Check::Reason`]).
//!
//! Decisions, case by case:
//! - `run`: usage errors exit 125 (`unknown flag`), a missing command 127, one that cannot
//!   be executed 126, each with Docker's reason; errors found creating the container are
//!   followed by `See 'strata run --help'.` as Docker's, errors found starting it (an
//!   unknown user) are not.
//! - `exec` follows Docker 20.10: 126 for every process that cannot start, its reason on
//!   stdout (the daemon writes it into the exec's stream, CRLF included).
//! - `diff`: the test's dockerd uses vfs, whose diff order is a Go map's (random); the
//!   lines are compared as sets, and Strata's order is checked to be the overlay driver's
//!   (depth first, names in byte order).
//! - `rm` of a running container: Docker 20.10's words.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{Dockerd, Env, have};

const BASE: &str = "strata-cli/busybox:1";

fn skip_reason() -> Option<String> {
    common::docker_skip_reason(&["runc"], true)
}

/// One tool's answer.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    code: i32,
    stdout: String,
    stderr: String,
}

fn answer(out: Output) -> Answer {
    Answer {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run_with(mut cmd: Command, stdin: Option<&str>) -> Answer {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    if let Some(input) = stdin {
        let mut w = child.stdin.take().unwrap();
        w.write_all(input.as_bytes()).unwrap();
    }
    answer(child.wait_with_output().expect("wait"))
}

fn is_hex(w: &str) -> bool {
    w.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Replace runs of 64 or 12 lowercase hex digits (container IDs, hostnames) by markers.
fn mask_ids(s: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        match run.len() {
            64 if is_hex(run) => out.push_str("<ID>"),
            12 if is_hex(run) => out.push_str("<id>"),
            _ => out.push_str(run),
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// `ps` times: `1 second`, `3 seconds`, `Less than a second`, `About a minute` → `N
/// seconds`; then runs of spaces (table columns, whose widths follow those texts) → one.
fn mask_times(s: &str) -> String {
    let s = s
        .replace("Less than a second", "N seconds")
        .replace("About a minute", "N seconds");
    // Tokens: digit runs, letter runs, single other characters.
    let mut tokens: Vec<String> = Vec::new();
    for c in s.chars() {
        let kind = |x: char| (x.is_ascii_digit(), x.is_ascii_alphabetic());
        match tokens.last_mut() {
            Some(t) if c.is_ascii_alphanumeric() && kind(t.chars().last().unwrap()) == kind(c) => {
                t.push(c)
            }
            _ => tokens.push(c.to_string()),
        }
    }
    for i in 0..tokens.len() {
        let unit = tokens.get(i + 2).cloned().unwrap_or_default();
        if tokens[i].bytes().all(|b| b.is_ascii_digit())
            && tokens.get(i + 1).is_some_and(|t| t == " ")
            && matches!(unit.as_str(), "second" | "seconds" | "minute" | "minutes")
        {
            tokens[i] = "N".into();
            tokens[i + 2] = "seconds".into();
        }
    }
    let joined = tokens.concat();
    let mut out = String::new();
    for line in joined.split('\n') {
        let mut prev_space = false;
        let mut l = String::new();
        for c in line.chars() {
            if c == ' ' && prev_space {
                continue;
            }
            prev_space = c == ' ';
            l.push(c);
        }
        out.push_str(&l);
        out.push('\n');
    }
    out.pop();
    out
}

/// Docker's error lines in Strata's terms (see the module doc).
fn normalise_err(s: &str) -> String {
    let mut lines = Vec::new();
    for l in s.lines() {
        if l.starts_with("time=\"") {
            continue;
        }
        let mut l = l
            .replace("docker: Error response from daemon: ", "strata: ")
            .replace("See 'docker ", "See 'strata ");
        if l.starts_with("strata: ") && l.ends_with('.') {
            l.pop();
        }
        lines.push(l);
    }
    mask_ids(&lines.join("\n"))
}

/// How a case's answers are compared.
#[derive(Clone, Copy)]
enum Check<'a> {
    /// Same status, stdout and (normalised) stderr.
    Same,
    /// Same status and stdout; both stderrs carry this reason.
    Reason(&'a str),
    /// Same status; the first stderr line is the same.
    FirstLine,
    /// A pull before the container: same status and stdout, the same first stderr line
    /// (`Unable to find image …` or the pull's) and last two (`Digest:`, `Status:`). The
    /// per-layer lines between differ by design: Docker says `Already exists` for a layer
    /// it has unpacked, Strata for a blob in its store.
    Pulled,
    /// Same status, and stdout lines equal as sets (see the module doc on `diff`).
    LineSet,
    /// An environment listing: the same variables, the first `n` lines (PATH, HOSTNAME,
    /// TERM) and the last (HOME) in the same place. Docker 20.10 itself lists `-e`
    /// variables in varying order from one run to the next; Strata keeps the given order.
    Env(usize),
}

struct Parity {
    env: Env,
    docker: Dockerd,
    failures: Vec<String>,
    /// Host environment given to both clients (`-e NAME` reads it).
    host_env: Vec<(&'static str, &'static str)>,
}

impl Parity {
    fn strata(&self, args: &[&str]) -> Command {
        let mut c = self.env.cmd();
        c.args(args);
        for (k, v) in &self.host_env {
            c.env(k, v);
        }
        c
    }

    fn docker(&self, args: &[&str]) -> Command {
        let mut c = self.docker.cmd();
        c.args(args);
        for (k, v) in &self.host_env {
            c.env(k, v);
        }
        c
    }

    /// Run `args` through both side by side.
    fn both(&self, args: &[&str], stdin: Option<&str>) -> (Answer, Answer) {
        std::thread::scope(|s| {
            let d = s.spawn(|| run_with(self.docker(args), stdin));
            let st = run_with(self.strata(args), stdin);
            (st, d.join().unwrap())
        })
    }

    fn case(&mut self, name: &str, args: &[&str], stdin: Option<&str>, check: Check) {
        let (s, d) = self.both(args, stdin);
        self.compare(name, args, &s, &d, check);
    }

    fn compare(&mut self, name: &str, args: &[&str], s: &Answer, d: &Answer, check: Check) {
        let so = mask_times(&mask_ids(&s.stdout));
        let dout = mask_times(&mask_ids(&d.stdout));
        let (se, de) = (normalise_err(&s.stderr), normalise_err(&d.stderr));
        let ok = s.code == d.code
            && match check {
                Check::Same => so == dout && se == de,
                Check::Reason(r) => so == dout && s.stderr.contains(r) && d.stderr.contains(r),
                Check::FirstLine => se.lines().next() == de.lines().next(),
                Check::Pulled => {
                    let (a, b): (Vec<&str>, Vec<&str>) =
                        (se.lines().collect(), de.lines().collect());
                    so == dout
                        && a.len() >= 3
                        && b.len() >= 3
                        && a.first() == b.first()
                        && a[a.len() - 2..] == b[b.len() - 2..]
                }
                Check::Env(n) => {
                    let (a, b): (Vec<&str>, Vec<&str>) =
                        (so.lines().collect(), dout.lines().collect());
                    let (mut sa, mut sb) = (a.clone(), b.clone());
                    sa.sort();
                    sb.sort();
                    // HOME is last when Docker adds it; one given with -e is among the
                    // -e variables, whose order Docker 20.10 varies: then only the set
                    // and the first lines are compared.
                    let home_last = b.last().is_some_and(|l| l.starts_with("HOME="))
                        && !b[..b.len() - 1].iter().any(|l| l.starts_with("HOME="));
                    sa == sb
                        && a.iter().take(n).eq(b.iter().take(n))
                        && (!home_last || a.last() == b.last())
                }
                Check::LineSet => {
                    let mut a: Vec<&str> = so.lines().collect();
                    let mut b: Vec<&str> = dout.lines().collect();
                    a.sort();
                    b.sort();
                    a == b
                }
            };
        if !ok {
            self.failures.push(format!(
                "[{name}] {args:?}\n  strata: status {}\n    stdout: {so:?}\n    stderr: {se:?}\n  docker: status {}\n    stdout: {dout:?}\n    stderr: {de:?}",
                s.code, d.code
            ));
        }
    }

    fn check(&mut self, name: &str, ok: bool, detail: String) {
        if !ok {
            self.failures.push(format!("[{name}] {detail}"));
        }
    }
}

/// `run`/`create` of an image missing locally, from a registry on 127.0.0.1 that both
/// reach (Docker treats loopback registries as insecure, as Strata does).
fn pull_cases(p: &mut Parity) {
    let reg = common::Registry::start();
    let remote = |name: &str| format!("{}/strata-cli/{name}", reg.host);
    for name in ["pulled:1", "created:1"] {
        p.env.ok(&["push", BASE, &remote(name)]);
    }
    let (pulled, never, created, nope) = (
        remote("pulled:1"),
        remote("never:1"),
        remote("created:1"),
        remote("pulled:nope"),
    );
    let lacks = format!("manifest for {nope} not found: manifest unknown");
    let unreachable = format!("127.0.0.1:{}/strata-cli/x:1", common::free_port());
    let none = ["--rm", "--network", "none"];
    let cases: Vec<(&str, Vec<&str>, Check)> = vec![
        (
            "run pulls a missing image",
            [&["run"][..], &none, &[&pulled, "echo", "pulled"]].concat(),
            Check::Pulled,
        ),
        (
            "run --pull always",
            [&["run", "--pull", "always"][..], &none, &[&pulled, "true"]].concat(),
            Check::Pulled,
        ),
        (
            "run --pull never of a missing image",
            [&["run", "--pull", "never"][..], &none, &[&never, "true"]].concat(),
            Check::Same,
        ),
        (
            "run --pull with another value",
            [&["run", "--pull", "bogus"][..], &none, &[&never, "true"]].concat(),
            Check::Same,
        ),
        (
            "run --pull never of a present image",
            [
                &["run", "--pull", "never"][..],
                &none,
                &[&pulled, "echo", "ok"],
            ]
            .concat(),
            Check::Same,
        ),
        (
            "run of a tag the registry lacks",
            [&["run"][..], &none, &[&nope, "true"]].concat(),
            Check::Reason(&lacks),
        ),
        (
            "run with an unreachable registry",
            [&["run"][..], &none, &[&unreachable, "true"]].concat(),
            Check::FirstLine,
        ),
        (
            "create pulls a missing image",
            vec![
                "create",
                "--network",
                "none",
                "--name",
                "cli-pulled",
                &created,
            ],
            Check::Pulled,
        ),
    ];
    for (name, args, check) in &cases {
        p.case(name, args, None, *check);
    }
    // Strata's reason for the unreachable registry names it.
    let (s, _) = p.both(
        &["run", "--rm", "--network", "none", &unreachable, "true"],
        None,
    );
    p.check(
        "unreachable registry named",
        s.code == 125
            && s.stderr
                .contains(&unreachable[..unreachable.find('/').unwrap()]),
        format!("{s:?}"),
    );
    p.case(
        "rm the pulled container",
        &["rm", "cli-pulled"],
        None,
        Check::Same,
    );
}

/// Files under `root`: `path type uid:gid mode` lines, sorted (symlinks not followed).
fn tree(root: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut v = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let kind = if m.is_dir() {
                "d"
            } else if m.file_type().is_symlink() {
                "l"
            } else {
                "f"
            };
            v.push(format!(
                "{} {kind} {}:{} {:o}",
                p.strip_prefix(root).unwrap().display(),
                m.uid(),
                m.gid(),
                m.mode() & 0o7777
            ));
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    v.sort();
    v
}

/// A tar stream's entries: `name type uid:gid mode [-> target]`, sorted.
fn tar_entries(bytes: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = tar::Archive::new(bytes)
        .entries()
        .map(|es| {
            es.flatten()
                .map(|e| {
                    let h = e.header();
                    let link = e
                        .link_name()
                        .ok()
                        .flatten()
                        .map(|l| format!(" -> {}", l.display()))
                        .unwrap_or_default();
                    format!(
                        "{} {:?} {}:{} {:o}{link}",
                        e.path().unwrap().display(),
                        h.entry_type(),
                        h.uid().unwrap_or(0),
                        h.gid().unwrap_or(0),
                        h.mode().unwrap_or(0) & 0o7777
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `cp` both ways: the paths Docker's rules name (trailing slash, `dir/.`, `-L`, existing
/// and missing destinations), its messages and exit statuses, and the owners and modes of
/// what is copied.
fn cp_cases(p: &mut Parity) {
    let setup = "mkdir -p /d/sub && echo f > /d/f && echo g > /d/sub/g && ln -s /d/f /l && \
                 ln -s /d /dl && ln -s f /d/rel && chown -R 1000:100 /d && chmod 640 /d/f";
    let (s, d) = p.both(
        &[
            "run",
            "--network",
            "none",
            "--name",
            "cli-cp",
            BASE,
            "sh",
            "-c",
            setup,
        ],
        None,
    );
    p.check(
        "setup cli-cp",
        s.code == 0 && d.code == 0,
        format!("{s:?} / {d:?}"),
    );
    // Out of the container, into a fresh directory holding `exist/`.
    let out_cases: &[(&str, &[&str])] = &[
        ("cp a file with a trailing slash", &["cli-cp:/d/f/", "out"]),
        ("cp to a missing directory", &["cli-cp:/d/f", "out/"]),
        ("cp to a missing parent", &["cli-cp:/d/f", "nodir/out"]),
        ("cp a missing path", &["cli-cp:/nosuch", "out"]),
        ("cp below a missing path", &["cli-cp:/d/nosuch/x", "out"]),
        ("cp from a missing container", &["nosuch:/x", "out"]),
        ("cp a symlink", &["cli-cp:/l", "out"]),
        ("cp -L a symlink", &["-L", "cli-cp:/l", "out"]),
        ("cp -L a directory symlink", &["-L", "cli-cp:/dl", "out"]),
        (
            "cp a directory symlink with a slash",
            &["cli-cp:/dl/", "out"],
        ),
        ("cp a relative symlink", &["cli-cp:/d/rel", "out"]),
        ("cp contents into a directory", &["cli-cp:/d/.", "exist"]),
        ("cp a directory into a directory", &["cli-cp:/d", "exist"]),
        ("cp a file into a directory", &["cli-cp:/d/f", "exist"]),
        ("cp a directory onto a file", &["cli-cp:/d", "exist/file"]),
        ("cp -a out", &["-a", "cli-cp:/d", "out"]),
    ];
    for (name, args) in out_cases {
        let (ds, dd) = (p.env.path("cpo-s"), p.env.path("cpo-d"));
        for d in [&ds, &dd] {
            let _ = std::fs::remove_dir_all(d);
            std::fs::create_dir_all(d.join("exist")).unwrap();
            std::fs::write(d.join("exist/file"), "x").unwrap();
        }
        let argv: Vec<&str> = std::iter::once("cp").chain(args.iter().copied()).collect();
        let mut sc = p.strata(&argv);
        sc.current_dir(&ds);
        let mut dc = p.docker(&argv);
        dc.current_dir(&dd);
        let (s, d) = (run_with(sc, None), run_with(dc, None));
        // The daemon names its own storage path where Strata names the container path.
        let same_err = if d.stderr.contains("Error response from daemon: lstat") {
            s.stderr.ends_with(": not a directory\n") && d.stderr.ends_with(": not a directory\n")
        } else {
            // Each ran in its own directory, which messages name.
            s.stderr.replace(ds.to_str().unwrap(), "<dir>")
                == d.stderr.replace(dd.to_str().unwrap(), "<dir>")
        };
        p.check(
            name,
            s.code == d.code && same_err && tree(&ds) == tree(&dd),
            format!("{args:?}: {s:?} {:?} / {d:?} {:?}", tree(&ds), tree(&dd)),
        );
    }
    // Into a fresh container each time; what lands at /t is read back as a tar stream.
    let h = p.env.path("cp-host");
    let _ = std::fs::remove_dir_all(&h);
    std::fs::create_dir_all(h.join("dir/sub")).unwrap();
    std::fs::write(h.join("file"), "f\n").unwrap();
    std::fs::write(h.join("dir/x"), "x\n").unwrap();
    std::fs::write(h.join("dir/sub/g"), "g\n").unwrap();
    for f in ["file", "dir", "dir/x", "dir/sub", "dir/sub/g"] {
        std::os::unix::fs::lchown(h.join(f), Some(1234), Some(4321)).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(h.join("file"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("file", h.join("lnk")).unwrap();
    std::os::unix::fs::symlink("dir", h.join("dlnk")).unwrap();
    let in_tar = {
        let mut b = tar::Builder::new(Vec::new());
        b.append_dir_all(".", h.join("dir")).unwrap();
        b.into_inner().unwrap()
    };
    let in_cases: &[(&str, &[&str], &str)] = &[
        ("cp in a file", &["file", "cli-cpi:/t"], "/t"),
        (
            "cp in a file with a trailing slash",
            &["file/", "cli-cpi:/t"],
            "/t",
        ),
        ("cp -a in a file", &["-a", "file", "cli-cpi:/t"], "/t"),
        ("cp in a directory", &["dir", "cli-cpi:/t"], "/t"),
        (
            "cp in a directory's contents",
            &["dir/.", "cli-cpi:/tmp"],
            "/tmp",
        ),
        (
            "cp in a directory into a directory",
            &["dir", "cli-cpi:/tmp"],
            "/tmp",
        ),
        ("cp in a symlink", &["lnk", "cli-cpi:/t"], "/t"),
        ("cp -L in a symlink", &["-L", "lnk", "cli-cpi:/t"], "/t"),
        (
            "cp in a directory symlink with a slash",
            &["dlnk/", "cli-cpi:/t"],
            "/t",
        ),
        ("cp in a missing file", &["nosuch", "cli-cpi:/t"], "/t"),
        (
            "cp in to a missing directory",
            &["file", "cli-cpi:/t/"],
            "/t",
        ),
        (
            "cp in below a missing directory",
            &["file", "cli-cpi:/nodir/t"],
            "/nodir",
        ),
        (
            "cp in a tar stream to a missing path",
            &["-", "cli-cpi:/t"],
            "/t",
        ),
        ("cp in a tar stream", &["-", "cli-cpi:/tmp"], "/tmp"),
    ];
    for (name, args, check) in in_cases {
        for who in [
            p.strata(&[
                "create",
                "--network",
                "none",
                "--name",
                "cli-cpi",
                BASE,
                "true",
            ]),
            p.docker(&[
                "create",
                "--network",
                "none",
                "--name",
                "cli-cpi",
                BASE,
                "true",
            ]),
        ] {
            run_with(who, None);
        }
        let argv: Vec<&str> = std::iter::once("cp").chain(args.iter().copied()).collect();
        let stdin_tar = args.contains(&"-");
        let run_in = |mut c: Command| {
            c.current_dir(&h);
            if stdin_tar {
                c.stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                let mut child = c.spawn().unwrap();
                child.stdin.take().unwrap().write_all(&in_tar).unwrap();
                answer(child.wait_with_output().unwrap())
            } else {
                run_with(c, None)
            }
        };
        let (s, d) = (run_in(p.strata(&argv)), run_in(p.docker(&argv)));
        let from = format!("cli-cpi:{check}");
        let listing = |c: Command| -> Vec<String> {
            let mut c = c;
            let out = c.stdin(Stdio::null()).output().unwrap();
            tar_entries(&out.stdout)
        };
        let (ls, ld) = (
            listing(p.strata(&["cp", &from, "-"])),
            listing(p.docker(&["cp", &from, "-"])),
        );
        // Docker's tar names owners from the container's /etc/passwd too: numbers only.
        p.check(
            name,
            s.code == d.code && s.stderr == d.stderr && s.stdout == d.stdout && ls == ld,
            format!("{args:?}: {s:?} {ls:?} / {d:?} {ld:?}"),
        );
        let (s, d) = p.both(&["rm", "cli-cpi"], None);
        p.check(
            "rm cli-cpi",
            s.code == 0 && d.code == 0,
            format!("{s:?} / {d:?}"),
        );
    }
    // A tar stream out carries the container's owners and modes.
    let (ls, ld) = {
        let mut sc = p.strata(&["cp", "cli-cp:/d", "-"]);
        let mut dc = p.docker(&["cp", "cli-cp:/d", "-"]);
        (
            tar_entries(&sc.stdin(Stdio::null()).output().unwrap().stdout),
            tar_entries(&dc.stdin(Stdio::null()).output().unwrap().stdout),
        )
    };
    p.check(
        "cp a directory to a tar stream",
        !ls.is_empty() && ls == ld,
        format!("{ls:?} / {ld:?}"),
    );
    // -a into a container with a user: that user owns the copy (Strata alone: Docker
    // looks the user up in the host's passwd file).
    p.env.ok(&[
        "create",
        "--network",
        "none",
        "-u",
        "1000:100",
        "--name",
        "cli-cpu",
        BASE,
        "true",
    ]);
    let mut c = p.strata(&["cp", "-a", "file", "cli-cpu:/t"]);
    c.current_dir(&h);
    let s = run_with(c, None);
    let mut c = p.strata(&["cp", "cli-cpu:/t", "-"]);
    let ls = tar_entries(&c.stdin(Stdio::null()).output().unwrap().stdout);
    p.check(
        "cp -a into a container with a user",
        s.code == 0 && ls.len() == 1 && ls[0].contains(" 1000:100 600"),
        format!("{s:?} {ls:?}"),
    );
    p.env.ok(&["rm", "cli-cpu"]);
    p.case("rm cli-cp", &["rm", "cli-cp"], None, Check::Same);
}

/// The busybox rootfs with users and groups that exercise `-u`: a user in two groups by
/// membership, `nobody` listed in its own primary group too.
fn base_rootfs(env: &Env) -> std::path::PathBuf {
    let rootfs = env.busybox_rootfs();
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
         user:x:1000:1000::/home/user:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\nwheel:x:10:root,user\nusers:x:100:nobody,user\nnogroup:x:65534:nobody\nuser:x:1000:\n",
    )
    .unwrap();
    rootfs
}

#[test]
fn container_commands_match_docker() {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    let docker = match Dockerd::start() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    let env = Env::new();
    let rootfs = base_rootfs(&env);
    let tar = env.import_base(&rootfs, BASE);
    docker.load(&tar, BASE);
    let mut p = Parity {
        env,
        docker,
        failures: Vec::new(),
        host_env: vec![("FROM_HOST", "host value")],
    };
    let host_dir = p.env.path("host-dir");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("f"), "from the host\n").unwrap();
    let env_file = p.env.path("env-file");
    std::fs::write(
        &env_file,
        "X=1\n# a comment\nFROM_HOST\nSPACED=a b\n\nW= padded \n",
    )
    .unwrap();
    let (host_dir, env_file) = (
        host_dir.to_str().unwrap().to_string(),
        env_file.to_str().unwrap().to_string(),
    );
    let run = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["run", "--rm", "--network", "none"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let cases: Vec<(&str, Vec<String>, Option<&str>, Check)> = vec![
        // Exit statuses and streams.
        (
            "status passes through",
            run(&[BASE, "sh", "-c", "echo out; echo err >&2; exit 3"]),
            None,
            Check::Same,
        ),
        (
            "missing command",
            run(&[BASE, "nosuchcmd"]),
            None,
            Check::Reason("exec: \"nosuchcmd\": executable file not found in $PATH"),
        ),
        (
            "directory as command",
            run(&[BASE, "/etc"]),
            None,
            Check::Reason("exec: \"/etc\": permission denied"),
        ),
        (
            "non-executable file",
            run(&[BASE, "/etc/passwd"]),
            None,
            Check::Reason("exec: \"/etc/passwd\": permission denied"),
        ),
        ("unknown flag", run(&["--bogus", BASE]), None, Check::Same),
        (
            "unknown shorthand flag",
            run(&["-z", BASE]),
            None,
            Check::Same,
        ),
        (
            "no such image",
            run(&["strata-cli/nosuch:1", "true"]),
            None,
            Check::FirstLine,
        ),
        (
            "no command",
            run(&["--entrypoint", "", BASE]),
            None,
            Check::Same,
        ),
        (
            "bad container name",
            run(&["--name", "bad name", BASE, "true"]),
            None,
            Check::Same,
        ),
        // --tmpfs options over Docker's noexec,nosuid,nodev; an existing directory keeps
        // its mode (runc's chmod after the mount), whatever mode= says.
        (
            "--tmpfs options",
            run(&[
                "--tmpfs",
                "/t:size=64k,mode=700,uid=1000,gid=100,exec,size=128k",
                "--tmpfs",
                "/etc:mode=1777",
                "--tmpfs",
                "/ro:ro,suid,nr_inodes=100",
                "--tmpfs",
                "/plain",
                BASE,
                "sh",
                "-c",
                "grep -E ' /(t|etc|ro|plain) ' /proc/mounts | sort; stat -c '%n %a %u %g' /t /etc /ro /plain; touch /ro/x",
            ]),
            None,
            Check::Same,
        ),
        (
            "--tmpfs unknown option",
            run(&["--tmpfs", "/t:size=1m,bogus", BASE, "true"]),
            None,
            Check::Same,
        ),
        (
            "--tmpfs option without a value",
            run(&["--tmpfs", "/t:size", BASE, "true"]),
            None,
            Check::Same,
        ),
        // What the process sees.
        (
            "environment order",
            run(&["-e", "Z=1", "-e", "A=2", "-e", "HOME=/h", BASE, "env"]),
            None,
            Check::Env(2),
        ),
        (
            "PATH replaced in place",
            run(&["-e", "PATH=/usr/bin:/bin", "-e", "B=1", BASE, "env"]),
            None,
            Check::Env(2),
        ),
        (
            "-e from the host, --env-file",
            run(&[
                "--env-file",
                &env_file,
                "-e",
                "FROM_HOST",
                "-e",
                "UNSET_HERE",
                BASE,
                "env",
            ]),
            None,
            Check::Env(2),
        ),
        (
            "TERM with -t",
            run(&["-t", "-e", "B=2", BASE, "env"]),
            None,
            Check::Env(3),
        ),
        (
            "-w created",
            run(&[
                "-w",
                "/new/dir",
                BASE,
                "sh",
                "-c",
                "pwd; stat -c %U:%G:%a /new/dir",
            ]),
            None,
            Check::Same,
        ),
        (
            "root's groups",
            run(&[
                BASE,
                "sh",
                "-c",
                "id; grep ^Groups /proc/self/status; echo $HOME",
            ]),
            None,
            Check::Same,
        ),
        (
            "-u uid",
            run(&[
                "-u",
                "65534",
                BASE,
                "sh",
                "-c",
                "id; grep ^Groups /proc/self/status; echo $HOME",
            ]),
            None,
            Check::Same,
        ),
        (
            "-u uid:gid without entries",
            run(&["-u", "1234:55", BASE, "env"]),
            None,
            Check::Same,
        ),
        (
            "-u uid:gid groups",
            run(&[
                "-u",
                "1234:55",
                BASE,
                "sh",
                "-c",
                "id; grep ^Groups /proc/self/status",
            ]),
            None,
            Check::Same,
        ),
        (
            "-u name",
            run(&[
                "-u",
                "user",
                BASE,
                "sh",
                "-c",
                "id; grep ^Groups /proc/self/status; echo $HOME",
            ]),
            None,
            Check::Same,
        ),
        (
            "-u name:group",
            run(&[
                "-u",
                "user:users",
                BASE,
                "sh",
                "-c",
                "id; grep ^Groups /proc/self/status",
            ]),
            None,
            Check::Same,
        ),
        (
            "-u nobody",
            run(&[
                "-u",
                "nobody",
                BASE,
                "sh",
                "-c",
                "id; grep ^Groups /proc/self/status",
            ]),
            None,
            Check::Same,
        ),
        (
            "unknown user",
            run(&["-u", "nosuch", BASE, "id"]),
            None,
            Check::Same,
        ),
        (
            "unknown group",
            run(&["-u", "0:nosuchgrp", BASE, "id"]),
            None,
            Check::Same,
        ),
        (
            "--entrypoint \"\" with a command",
            run(&["--entrypoint", "", BASE, "echo", "hi"]),
            None,
            Check::Same,
        ),
        (
            "--entrypoint with arguments",
            run(&["--entrypoint", "echo", BASE, "a", "b"]),
            None,
            Check::Same,
        ),
        (
            "hostname files",
            run(&[
                "--hostname",
                "myhost",
                BASE,
                "sh",
                "-c",
                "hostname; cat /etc/hostname; echo $HOSTNAME; cat /etc/hosts",
            ]),
            None,
            Check::Same,
        ),
        (
            "/etc/hosts without a network",
            run(&[BASE, "cat", "/etc/hosts"]),
            None,
            Check::Same,
        ),
        (
            "--read-only with --tmpfs",
            run(&[
                "--read-only",
                "--tmpfs",
                "/tmp",
                BASE,
                "sh",
                "-c",
                "touch /x 2>/dev/null; echo $?; touch /tmp/y; echo $?; grep ' /tmp ' /proc/mounts",
            ]),
            None,
            Check::Same,
        ),
        (
            "-v host:ctr:ro",
            run(&[
                "-v",
                &format!("{host_dir}:/data:ro"),
                BASE,
                "sh",
                "-c",
                "cat /data/f; touch /data/g 2>/dev/null; echo $?",
            ]),
            None,
            Check::Same,
        ),
        (
            "named volume",
            run(&[
                "-v",
                "strata-cli-vol:/v",
                BASE,
                "sh",
                "-c",
                "echo kept > /v/f",
            ]),
            None,
            Check::Same,
        ),
        (
            "named volume kept",
            run(&["-v", "strata-cli-vol:/v", BASE, "cat", "/v/f"]),
            None,
            Check::Same,
        ),
        (
            "-i with stdin",
            run(&["-i", BASE, "cat"]),
            Some("piped in\n"),
            Check::Same,
        ),
        // Commands given a missing container.
        (
            "logs of nothing",
            vec!["logs".into(), "nosuch".into()],
            None,
            Check::Same,
        ),
        (
            "wait for nothing",
            vec!["wait".into(), "nosuch".into()],
            None,
            Check::Same,
        ),
        (
            "stop nothing",
            vec!["stop".into(), "nosuch".into()],
            None,
            Check::Same,
        ),
        (
            "kill nothing",
            vec!["kill".into(), "nosuch".into()],
            None,
            Check::Same,
        ),
        (
            "start nothing",
            vec!["start".into(), "nosuch".into()],
            None,
            Check::Same,
        ),
        (
            "restart nothing",
            vec!["restart".into(), "nosuch".into()],
            None,
            Check::Same,
        ),
        (
            "rm nothing",
            vec!["rm".into(), "nosuch".into()],
            None,
            Check::Same,
        ),
        (
            "exec in nothing",
            vec!["exec".into(), "nosuch".into(), "true".into()],
            None,
            Check::Same,
        ),
        (
            "diff of nothing",
            vec!["diff".into(), "nosuch".into()],
            None,
            Check::Same,
        ),
        (
            "commit of nothing",
            vec!["commit".into(), "nosuch".into()],
            None,
            Check::Same,
        ),
        (
            "ps with an unknown flag",
            vec!["ps".into(), "--bogus".into()],
            None,
            Check::Same,
        ),
    ];
    for (name, args, stdin, check) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        p.case(name, &args, *stdin, *check);
    }
    // The options as given, in inspect.
    let (s, d) = p.both(
        &[
            "create",
            "--network",
            "none",
            "--name",
            "cli-tmpfs",
            "--tmpfs",
            "/t:size=1m,exec",
            "--tmpfs",
            "/u",
            BASE,
            "true",
        ],
        None,
    );
    p.check(
        "create with --tmpfs",
        s.code == 0 && d.code == 0,
        format!("{s:?} / {d:?}"),
    );
    p.case(
        "inspect HostConfig.Tmpfs",
        &["inspect", "-f", "{{json .HostConfig.Tmpfs}}", "cli-tmpfs"],
        None,
        Check::Same,
    );
    p.case("rm cli-tmpfs", &["rm", "cli-tmpfs"], None, Check::Same);
    if have("docker-registry") {
        pull_cases(&mut p);
    } else {
        eprintln!(
            "pull cases skipped: docker-registry is not installed (scripts/deps.sh test installs it)"
        );
    }

    // Containers that stay for ps, logs, wait, exec, diff, commit and cp.
    let logs_script = "echo out; sleep 0.2; echo err >&2; sleep 0.2; echo out2";
    let changes = "mkdir -p /a/b /a-b; echo x > /a/b/f; echo y >> /etc/passwd; rm /bin/vi; \
                   rm -r /var; mkdir /tmp/t; touch /root/.r";
    for args in [
        vec![
            "run",
            "--network",
            "none",
            "--name",
            "cli-ex3",
            BASE,
            "sh",
            "-c",
            "exit 3",
        ],
        vec![
            "run",
            "--network",
            "none",
            "--name",
            "cli-logs",
            BASE,
            "sh",
            "-c",
            logs_script,
        ],
        vec![
            "run",
            "--network",
            "none",
            "--name",
            "cli-diff",
            BASE,
            "sh",
            "-c",
            changes,
        ],
        vec![
            "create",
            "--network",
            "none",
            "--name",
            "cli-created",
            BASE,
            "true",
        ],
    ] {
        let (s, d) = p.both(&args, None);
        let name = format!("setup {}", args[4]);
        p.check(&name, s.code == d.code, format!("{s:?} / {d:?}"));
    }
    // -d prints the full ID.
    let (s, d) = p.both(
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "cli-up",
            "-e",
            "R=1",
            BASE,
            "sleep",
            "300",
        ],
        None,
    );
    for (who, a) in [("strata", &s), ("docker", &d)] {
        let id = a.stdout.trim_end();
        p.check(
            "run -d prints the ID",
            a.code == 0 && id.len() == 64 && is_hex(id) && a.stdout.ends_with('\n'),
            format!("{who}: {a:?}"),
        );
    }
    let cases: Vec<(&str, Vec<&str>, Check)> = vec![
        (
            "name conflict",
            vec![
                "run",
                "-d",
                "--network",
                "none",
                "--name",
                "cli-up",
                BASE,
                "true",
            ],
            Check::Same,
        ),
        (
            "ps table",
            vec!["ps", "--filter", "name=cli-up"],
            Check::Same,
        ),
        (
            "ps -a table",
            vec!["ps", "-a", "--filter", "name=^cli-"],
            Check::Same,
        ),
        (
            "ps --format",
            vec![
                "ps",
                "-a",
                "--filter",
                "name=^cli-",
                "--format",
                "{{.Names}}|{{.Image}}|{{.Command}}|{{.Status}}|{{.Ports}}|{{.RunningFor}}",
            ],
            Check::Same,
        ),
        (
            "ps --no-trunc",
            vec![
                "ps",
                "-a",
                "--no-trunc",
                "--filter",
                "name=cli-diff",
                "--format",
                "{{.ID}} {{.Command}}",
            ],
            Check::Same,
        ),
        (
            "ps -q",
            vec!["ps", "-q", "--filter", "name=^cli-"],
            Check::Same,
        ),
        (
            "ps -aq --no-trunc",
            vec!["ps", "-aq", "--no-trunc", "--filter", "name=^cli-"],
            Check::Same,
        ),
        (
            "ps -l",
            vec!["ps", "-l", "--format", "{{.Names}}"],
            Check::Same,
        ),
        (
            "ps -n 2",
            vec!["ps", "-n", "2", "--format", "{{.Names}} {{.Status}}"],
            Check::Same,
        ),
        (
            "ps status=exited",
            vec!["ps", "--filter", "status=exited", "--format", "{{.Names}}"],
            Check::Same,
        ),
        (
            "ps status=created",
            vec!["ps", "--filter", "status=created", "--format", "{{.Names}}"],
            Check::Same,
        ),
        (
            "ps status=running",
            vec!["ps", "--filter", "status=running", "--format", "{{.Names}}"],
            Check::Same,
        ),
        (
            "ps two statuses",
            vec![
                "ps",
                "--filter",
                "status=created",
                "--filter",
                "status=running",
                "--format",
                "{{.Names}}",
            ],
            Check::Same,
        ),
        (
            "ps exited=3",
            vec!["ps", "-a", "--filter", "exited=3", "--format", "{{.Names}}"],
            Check::Same,
        ),
        (
            "ps exited without -a",
            vec!["ps", "--filter", "exited=3", "--format", "{{.Names}}"],
            Check::Same,
        ),
        (
            "ps name and status",
            vec![
                "ps",
                "-a",
                "--filter",
                "name=cli-",
                "--filter",
                "status=exited",
                "--format",
                "{{.Names}}",
            ],
            Check::Same,
        ),
        (
            "ps bad status",
            vec!["ps", "--filter", "status=nope"],
            Check::Same,
        ),
        ("logs", vec!["logs", "cli-logs"], Check::Same),
        (
            "logs --tail 1",
            vec!["logs", "--tail", "1", "cli-logs"],
            Check::Same,
        ),
        (
            "logs --tail 2",
            vec!["logs", "--tail", "2", "cli-logs"],
            Check::Same,
        ),
        (
            "logs --tail 0",
            vec!["logs", "--tail", "0", "cli-logs"],
            Check::Same,
        ),
        (
            "logs --tail -1",
            vec!["logs", "--tail", "-1", "cli-logs"],
            Check::Same,
        ),
        (
            "logs --tail x",
            vec!["logs", "--tail", "x", "cli-logs"],
            Check::Same,
        ),
        ("wait", vec!["wait", "cli-ex3"], Check::Same),
        ("wait two", vec!["wait", "cli-ex3", "cli-logs"], Check::Same),
        (
            "exec status",
            vec!["exec", "cli-up", "sh", "-c", "echo o; echo e >&2; exit 7"],
            Check::Same,
        ),
        (
            "exec environment",
            vec!["exec", "-e", "X=1", "cli-up", "env"],
            Check::Env(2),
        ),
        (
            "exec -u -w",
            vec![
                "exec",
                "-u",
                "user",
                "-w",
                "/tmp",
                "cli-up",
                "sh",
                "-c",
                "pwd; id; echo $HOME",
            ],
            Check::Same,
        ),
        (
            "exec missing command",
            vec!["exec", "cli-up", "nosuchcmd"],
            Check::Same,
        ),
        (
            "exec directory",
            vec!["exec", "cli-up", "/etc"],
            Check::Same,
        ),
        (
            "exec missing -w",
            vec!["exec", "-w", "/nonexist", "cli-up", "pwd"],
            Check::Same,
        ),
        (
            "exec unknown user",
            vec!["exec", "-u", "nosuch", "cli-up", "id"],
            Check::Same,
        ),
        (
            "exec in a stopped container",
            vec!["exec", "cli-ex3", "true"],
            Check::Same,
        ),
        ("diff", vec!["diff", "cli-diff"], Check::LineSet),
        ("rm a running container", vec!["rm", "cli-up"], Check::Same),
        (
            "kill a stopped container",
            vec!["kill", "cli-ex3"],
            Check::Same,
        ),
        (
            "rm one of two missing",
            vec!["rm", "cli-ex3", "nosuch"],
            Check::Same,
        ),
    ];
    for (name, args, check) in &cases {
        p.case(name, args, None, *check);
    }
    // `.CreatedAt` is Go's time.String(); the values differ, the shape must not.
    let (s, d) = p.both(
        &[
            "ps",
            "-a",
            "--filter",
            "name=cli-up",
            "--format",
            "{{.CreatedAt}}",
        ],
        None,
    );
    let shape = |t: &str| {
        let f: Vec<&str> = t.trim_end().split(' ').collect();
        f.len() == 4
            && f[0].len() == 10
            && f[1].len() == 8
            && (f[2].starts_with('+') || f[2].starts_with('-'))
            && f[2].len() == 5
    };
    p.check(
        "ps .CreatedAt",
        shape(&s.stdout) && shape(&d.stdout),
        format!("{s:?} / {d:?}"),
    );
    // Strata's diff order is the overlay driver's walk.
    let (s, _) = p.both(&["diff", "cli-diff"], None);
    let lines: Vec<&str> = s.stdout.lines().collect();
    let mut walk = lines.clone();
    walk.sort_by(|a, b| a[2..].split('/').cmp(b[2..].split('/')));
    p.check("diff order", lines == walk, format!("{lines:?}"));

    // commit: -c, -m, --author and the resulting config.
    let (s, d) = p.both(
        &[
            "commit",
            "-c",
            "CMD [\"echo\",\"committed\"]",
            "-c",
            "ENV FOO=bar",
            "-m",
            "a message",
            "--author",
            "Me <me@example.com>",
            "cli-diff",
            "strata-cli/committed:1",
        ],
        None,
    );
    p.check(
        "commit",
        s.code == 0 && d.code == 0,
        format!("{s:?} / {d:?}"),
    );
    p.case(
        "committed config",
        &["inspect", "-f", "{{json .Config.Cmd}} {{json .Config.Env}} {{json .Config.Entrypoint}} {{.Comment}} {{.Author}}", "strata-cli/committed:1"],
        None,
        Check::Same,
    );
    p.case(
        "committed history (created by the container's command alone)",
        &[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}|{{.Comment}}",
            "strata-cli/committed:1",
        ],
        None,
        Check::Same,
    );
    // A container with an entrypoint: its history line is still the command alone.
    let (s, d) = p.both(
        &[
            "run",
            "--name",
            "cli-ep",
            "--network",
            "none",
            "--entrypoint",
            "/bin/echo",
            BASE,
            "from",
            "the entrypoint",
        ],
        None,
    );
    p.check(
        "run with an entrypoint",
        s.code == 0 && d.code == 0,
        format!("{s:?} / {d:?}"),
    );
    let (s, d) = p.both(&["commit", "cli-ep", "strata-cli/ep:1"], None);
    p.check(
        "commit it",
        s.code == 0 && d.code == 0,
        format!("{s:?} / {d:?}"),
    );
    p.case(
        "history of a committed entrypoint container",
        &[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            "strata-cli/ep:1",
        ],
        None,
        Check::Same,
    );
    p.case(
        "run the committed image",
        &["run", "--rm", "--network", "none", "strata-cli/committed:1"],
        None,
        Check::Same,
    );

    // cp out of a stopped container: what lands where.
    for (name, src) in [
        ("cp a file", "cli-diff:/a/b/f"),
        ("cp a directory", "cli-diff:/a"),
        ("cp a directory's contents", "cli-diff:/a/."),
    ] {
        let (ds, dd) = (p.env.path("cp-s"), p.env.path("cp-d"));
        for d in [&ds, &dd] {
            let _ = std::fs::remove_dir_all(d);
            std::fs::create_dir_all(d).unwrap();
        }
        let mut sc = p.strata(&["cp", src, "out"]);
        sc.current_dir(&ds);
        let mut dc = p.docker(&["cp", src, "out"]);
        dc.current_dir(&dd);
        let (s, d) = (run_with(sc, None), run_with(dc, None));
        let list = |root: &Path| -> Vec<String> {
            let mut v = Vec::new();
            let mut stack = vec![root.to_path_buf()];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).unwrap().flatten() {
                    let p = e.path();
                    v.push(p.strip_prefix(root).unwrap().display().to_string());
                    if p.is_dir() {
                        stack.push(p);
                    }
                }
            }
            v.sort();
            v
        };
        p.check(
            name,
            s.code == d.code && list(&ds) == list(&dd),
            format!("{s:?} {:?} / {d:?} {:?}", list(&ds), list(&dd)),
        );
    }

    cp_cases(&mut p);

    // A container killed by a signal: the attached run exits 128+9, wait and ps say so.
    let mut attached = Vec::new();
    for mut c in [
        p.strata(&[
            "run",
            "--network",
            "none",
            "--name",
            "cli-sig",
            BASE,
            "sleep",
            "300",
        ]),
        p.docker(&[
            "run",
            "--network",
            "none",
            "--name",
            "cli-sig",
            BASE,
            "sleep",
            "300",
        ]),
    ] {
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        attached.push(c.spawn().expect("spawn run"));
    }
    for _ in 0..100 {
        let (s, d) = p.both(&["ps", "-q", "--filter", "name=cli-sig"], None);
        if !s.stdout.is_empty() && !d.stdout.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    p.case("kill", &["kill", "cli-sig"], None, Check::Same);
    let codes: Vec<Option<i32>> = attached
        .into_iter()
        .map(|c| c.wait_with_output().ok().and_then(|o| o.status.code()))
        .collect();
    p.check(
        "run killed by SIGKILL",
        codes == [Some(137), Some(137)],
        format!("{codes:?}"),
    );
    p.case("wait after a kill", &["wait", "cli-sig"], None, Check::Same);
    p.case(
        "ps after a kill",
        &[
            "ps",
            "-a",
            "--filter",
            "name=cli-sig",
            "--format",
            "{{.Status}}",
        ],
        None,
        Check::Same,
    );

    // rm -f, also of a --rm container (removed by its own exit meanwhile).
    let (s, d) = p.both(
        &[
            "run",
            "-d",
            "--rm",
            "--network",
            "none",
            "--name",
            "cli-rm",
            BASE,
            "sleep",
            "300",
        ],
        None,
    );
    p.check(
        "run -d --rm",
        s.code == 0 && d.code == 0,
        format!("{s:?} / {d:?}"),
    );
    p.case(
        "rm -f of a --rm container",
        &["rm", "-f", "cli-rm"],
        None,
        Check::Same,
    );
    p.case(
        "rm -f",
        &[
            "rm",
            "-f",
            "cli-up",
            "cli-ex3",
            "cli-logs",
            "cli-diff",
            "cli-created",
            "cli-sig",
        ],
        None,
        Check::Same,
    );

    p.env.check_clean();
    assert!(
        p.failures.is_empty(),
        "{} divergence(s) from docker:\n{}",
        p.failures.len(),
        p.failures.join("\n")
    );
}
